//! micrograd's demo on tapegrad: an MLP 2-16-16-1 learns to separate two interleaved half moons.
//!
//! Run it with `cargo run --example moons` (add `--out PATH` to choose where the
//! picture goes; the default is `moons.svg`). It trains exactly as micrograd's `demo.ipynb`
//! does — 100 noisy two-moons points labelled ±1, ReLU hidden layers, weights uniform in
//! [−1, 1), the max-margin loss `mean(relu(1 − y·score)) + 1e-4·Σp²`, 100 full-batch SGD steps
//! with the learning rate falling from 1.0 to 0.1 — prints the loss and accuracy every 10 steps,
//! reaches 100% training accuracy, and draws the decision boundary and the points as an SVG.

use plotters::prelude::*;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::f64::consts::{PI, TAU};
use tapegrad::nn::{self, Activation, Init, Mlp};
use tapegrad::optim::{Optimizer, Sgd};
use tapegrad::{ParamStore, Tape, Tensor, Var, loss};

/// The weight of the L2 term.
const ALPHA: f64 = 1e-4;
/// Steps of SGD.
const STEPS: usize = 100;

/// scikit-learn's `make_moons(100, noise=0.1)`, unshuffled: an outer half circle labelled −1 and
/// an inner, shifted one labelled +1, with gaussian noise of deviation 0.1 on each coordinate.
/// Returns the points `[100, 2]` and the labels `[100, 1]`.
pub fn two_moons(rng: &mut ChaCha8Rng) -> (Tensor, Tensor) {
    let n = 50;
    let angle = |i: usize| PI * i as f64 / (n - 1) as f64;
    let outer = (0..n).map(|i| ([angle(i).cos(), angle(i).sin()], -1.0));
    let inner = (0..n).map(|i| ([1.0 - angle(i).cos(), 0.5 - angle(i).sin()], 1.0));
    let (points, labels): (Vec<[f64; 2]>, Vec<f64>) = outer.chain(inner).unzip();
    let mut normal = || {
        // Box–Muller: two uniform numbers give one standard normal one.
        let (u1, u2) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
        (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    };
    let noisy: Vec<f64> = points
        .iter()
        .flatten()
        .map(|&x| x + 0.1 * normal())
        .collect();
    let count = labels.len();
    (
        Tensor::from_vec(noisy, &[count, 2]).expect("two coordinates per point"),
        Tensor::from_vec(labels, &[count, 1]).expect("one label per point"),
    )
}

/// micrograd's loss: the max-margin loss plus `ALPHA·Σp²` over every parameter.
fn total_loss<'t>(scores: Var<'t>, labels: Var<'t>, params: &tapegrad::Params<'_, 't>) -> Var<'t> {
    let l2 = params
        .iter()
        .map(|(_, p)| (p * p).sum())
        .reduce(|a, b| a + b);
    loss::hinge(scores, labels) + ALPHA * l2.expect("the model has parameters")
}

/// The fraction of points whose score has the sign of their label.
fn accuracy(scores: &Tensor, labels: &Tensor) -> f64 {
    let right = scores
        .data()
        .iter()
        .zip(labels.data())
        .filter(|&(s, y)| (*s > 0.0) == (*y > 0.0));
    right.count() as f64 / labels.len() as f64
}

/// What a run produced: the data, the model and its weights, and (loss, accuracy) per step.
pub struct Run {
    pub x: Tensor,
    pub y: Tensor,
    pub mlp: Mlp,
    pub store: ParamStore,
    pub history: Vec<(f64, f64)>,
}

/// Trains micrograd's demo model from data and weights drawn with `seed`.
pub fn train(seed: u64) -> Run {
    let mut rng = nn::seeded_rng(seed);
    let (x, y) = two_moons(&mut rng);
    let mut store = ParamStore::new();
    let sizes = [2, 16, 16, 1];
    let mlp = Mlp::with_init(
        &mut store,
        "mlp",
        &sizes,
        Activation::Relu,
        Init::Uniform(1.0),
        &mut rng,
    );
    let mut sgd = Sgd::new(1.0);
    let mut tape = Tape::new();
    let mut history = Vec::with_capacity(STEPS);
    for step in 0..STEPS {
        sgd.lr = 1.0 - 0.9 * step as f64 / STEPS as f64; // micrograd's schedule
        let mut correct = 0.0;
        let loss = sgd.minimize(&mut store, &mut tape, |p| {
            let scores = mlp.forward(p, p.tape().constant(x.clone()));
            correct = accuracy(&scores.value(), &y);
            total_loss(scores, p.tape().constant(y.clone()), p)
        });
        history.push((loss, correct));
    }
    Run {
        x,
        y,
        mlp,
        store,
        history,
    }
}

/// The model's scores at `points` (`[n, 2]`).
pub fn scores(run: &Run, points: Tensor) -> Tensor {
    let tape = Tape::new();
    let p = run.store.on_tape(&tape);
    run.mlp.forward(&p, tape.constant(points)).value()
}

/// Draws the decision regions (the sign of the score on a grid) and the points as an SVG.
fn draw(run: &Run, path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (x_range, y_range) = ((-1.75, 2.75), (-1.25, 1.75));
    let cells = 120;
    let (dx, dy) = (
        (x_range.1 - x_range.0) / cells as f64,
        (y_range.1 - y_range.0) / cells as f64,
    );
    let grid = Tensor::from_fn(&[cells * cells, 2], |i| {
        let (cell, coordinate) = (i / 2, i % 2);
        if coordinate == 0 {
            x_range.0 + (cell % cells) as f64 * dx + dx / 2.0
        } else {
            y_range.0 + (cell / cells) as f64 * dy + dy / 2.0
        }
    });
    let grid_scores = scores(run, grid.clone());

    let root = SVGBackend::new(path, (640, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "MLP 2-16-16-1 on two moons: red = −1, blue = +1",
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(30)
        .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)?;
    chart.configure_mesh().disable_mesh().draw()?;
    // One rectangle per run of same-signed cells in a grid row keeps the file small.
    let (negative, positive) = (RGBColor(255, 214, 214), RGBColor(204, 224, 255));
    let mut regions = Vec::new();
    for (row, row_scores) in grid_scores.data().chunks(cells).enumerate() {
        let mut start = 0;
        for end in 1..=cells {
            if end == cells || (row_scores[end] > 0.0) != (row_scores[start] > 0.0) {
                let color = if row_scores[start] > 0.0 {
                    positive
                } else {
                    negative
                };
                let y = y_range.0 + row as f64 * dy;
                let (x0, x1) = (x_range.0 + start as f64 * dx, x_range.0 + end as f64 * dx);
                regions.push(Rectangle::new([(x0, y), (x1, y + dy)], color.filled()));
                start = end;
            }
        }
    }
    chart.draw_series(regions)?;
    chart.draw_series(run.x.data().chunks(2).zip(run.y.data()).map(|(p, &label)| {
        let color = if label > 0.0 { BLUE } else { RED };
        Circle::new((p[0], p[1]), 4, color.filled())
    }))?;
    root.present()?;
    Ok(())
}

#[allow(dead_code)] // the integration test includes this file and does not call main
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = match args.iter().position(|a| a == "--out") {
        Some(i) => args.get(i + 1).ok_or("--out needs a path")?.clone(),
        None => "moons.svg".to_string(),
    };
    let run = train(1337);
    print!("{}", run.store.summary());
    for (step, (loss, accuracy)) in run.history.iter().enumerate() {
        if step % 10 == 0 || step == STEPS - 1 {
            println!(
                "step {step:3}: loss {loss:.6}, accuracy {:.0}%",
                100.0 * accuracy
            );
        }
    }
    let final_accuracy = accuracy(&scores(&run, run.x.clone()), &run.y);
    println!("final training accuracy: {:.0}%", 100.0 * final_accuracy);
    draw(&run, &out)?;
    println!("wrote {out}");
    Ok(())
}
