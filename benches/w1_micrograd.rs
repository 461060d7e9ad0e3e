//! W1, the micrograd step: one SGD step of micrograd's demo, an MLP 2-16-16-1 (ReLU hidden
//! layers, linear output) trained on 100 two-moons points with the hinge loss
//! `mean(relu(1 − y·score)) + 1e-4·Σp²` and learning rate 0.05.
//!
//! The same step is built two ways, on the same data and initial weights:
//!
//! - `scalar`: every weight and activation is a scalar `Var`, exactly as micrograd builds its
//!   graph (65,612 nodes a step);
//! - `batched`: the data is one `[100, 2]` matrix and each layer a matrix product (a few dozen
//!   nodes);
//! - `batched_torch_layout`: the same, each weight stored `[neurons, inputs]` as PyTorch's (and
//!   `nn::Linear`'s) and applied as `X·Wᵀ` through a transposed view (`matmul_t`): what
//!   `nn::Mlp` runs. It should cost what `batched` costs.
//!
//! Each is measured on one tape cleared every step (`reused_tape`) and on a new tape per step
//! (`new_tape`). A step records the forward pass, runs the backward pass and updates the
//! parameters, which live outside the tape.
//!
//! Run with `cargo bench -p tapegrad-benches --bench w1_micrograd`; it prints the node count of each graph first.

mod common;

use common::{normal, rng, sgd_step};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;
use tapegrad::{Tape, Tensor, Var};

/// The layer widths, input first.
const SIZES: [usize; 4] = [2, 16, 16, 1];
/// Points on each half circle.
const POINTS_PER_MOON: usize = 50;
/// The standard deviation of the noise added to the points.
const NOISE: f64 = 0.1;
/// The weight of the L2 regularisation term.
const ALPHA: f64 = 1e-4;
const LEARNING_RATE: f64 = 0.05;

/// The two-moons data set: the points, `[100, 2]`, and their labels, ±1, `[100, 1]`.
struct Moons {
    x: Tensor,
    y: Tensor,
}

/// scikit-learn's `make_moons` (unshuffled): an outer half circle labelled −1 and an inner one,
/// shifted, labelled +1, with gaussian noise on every coordinate.
fn two_moons(rng: &mut ChaCha8Rng) -> Moons {
    let angle = |i: usize| PI * i as f64 / (POINTS_PER_MOON - 1) as f64;
    let outer = (0..POINTS_PER_MOON).map(|i| ([angle(i).cos(), angle(i).sin()], -1.0));
    let inner = (0..POINTS_PER_MOON).map(|i| ([1.0 - angle(i).cos(), 0.5 - angle(i).sin()], 1.0));
    let (points, labels): (Vec<[f64; 2]>, Vec<f64>) = outer.chain(inner).unzip();
    let n = labels.len();
    let noisy = points.iter().flatten().map(|&x| x + NOISE * normal(rng));
    Moons {
        x: Tensor::from_vec(noisy.collect(), &[n, 2]).expect("two coordinates per point"),
        y: Tensor::from_vec(labels, &[n, 1]).expect("one label per point"),
    }
}

/// Micrograd's initialisation, in micrograd's parameter order: layer by layer, neuron by neuron,
/// the neuron's input weights uniform in [−1, 1), then its bias, 0.
fn micrograd_init(rng: &mut ChaCha8Rng) -> Vec<f64> {
    let mut params = Vec::new();
    for layer in SIZES.windows(2) {
        let [inputs, neurons] = [layer[0], layer[1]];
        for _ in 0..neurons {
            params.extend((0..inputs).map(|_| rng.random_range(-1.0..1.0)));
            params.push(0.0);
        }
    }
    params
}

/// The scalar model's parameters: one scalar tensor per weight.
fn scalar_params(init: &[f64]) -> Vec<Tensor> {
    init.iter().map(|&w| Tensor::scalar(w)).collect()
}

/// The batched model's parameters, `[W1, b1, W2, b2, W3, b3]`, with `W` of shape
/// `[inputs, neurons]`: the same numbers as [`micrograd_init`] gives, regrouped.
fn batched_params(init: &[f64]) -> Vec<Tensor> {
    let mut params = Vec::new();
    let mut offset = 0;
    for layer in SIZES.windows(2) {
        let [inputs, neurons] = [layer[0], layer[1]];
        let neuron = |j: usize| &init[offset + j * (inputs + 1)..][..inputs + 1];
        params.push(Tensor::from_fn(&[inputs, neurons], |k| {
            neuron(k % neurons)[k / neurons]
        }));
        params.push(Tensor::from_fn(&[neurons], |j| neuron(j)[inputs]));
        offset += neurons * (inputs + 1);
    }
    params
}

/// The batched parameters with every weight transposed to PyTorch's `[neurons, inputs]`.
fn torch_layout_params(init: &[f64]) -> Vec<Tensor> {
    batched_params(init)
        .into_iter()
        .map(|p| if p.ndim() == 2 { p.transpose() } else { p })
        .collect()
}

/// Micrograd's `MLP.__call__` on one input: each neuron computes `b + Σ wᵢ·xᵢ`, left to right,
/// then a ReLU in the hidden layers.
fn scalar_mlp<'t>(params: &[Var<'t>], mut x: Vec<Var<'t>>) -> Vec<Var<'t>> {
    let mut params = params.iter().copied();
    for (depth, layer) in SIZES.windows(2).enumerate() {
        let hidden = depth + 2 < SIZES.len();
        x = (0..layer[1])
            .map(|_| {
                let weights: Vec<Var> = params.by_ref().take(layer[0]).collect();
                let bias = params.next().expect("one bias per neuron");
                let act = weights
                    .iter()
                    .zip(&x)
                    .fold(bias, |acc, (&w, &xi)| acc + w * xi);
                if hidden { act.relu() } else { act }
            })
            .collect();
    }
    x
}

/// Micrograd's demo loss, one scalar node at a time: the data loss
/// `Σ relu(1 + −yᵢ·scoreᵢ) / n` plus the regularisation `α · Σ p·p`.
fn scalar_loss<'t>(tape: &'t Tape, params: &[Var<'t>], moons: &Moons) -> Var<'t> {
    let points = moons.x.data().chunks(2);
    let losses = points.zip(moons.y.data()).map(|(point, &y)| {
        let input = point.iter().map(|&x| tape.constant(x)).collect();
        let score = scalar_mlp(params, input)[0];
        (1.0 + -y * score).relu()
    });
    let data_loss = sum(losses) / moons.y.len() as f64;
    let reg_loss = ALPHA * sum(params.iter().map(|&p| p * p));
    data_loss + reg_loss
}

/// The same loss with one node per layer operation: `X·W + b` for each layer.
fn batched_loss<'t>(tape: &'t Tape, params: &[Var<'t>], moons: &Moons) -> Var<'t> {
    let y = tape.constant(moons.y.clone());
    let layers = params.len() / 2;
    let mut h = tape.constant(moons.x.clone());
    for (depth, wb) in params.chunks(2).enumerate() {
        h = h.matmul(wb[0]) + wb[1];
        if depth + 1 < layers {
            h = h.relu();
        }
    }
    let data_loss = (1.0 - y * h).relu().mean();
    let reg_loss = ALPHA * sum(params.iter().map(|&p| (p * p).sum()));
    data_loss + reg_loss
}

/// [`batched_loss`] with PyTorch's layout: `X·Wᵀ + b` for each layer, `W` read through a
/// transposed view.
fn torch_layout_loss<'t>(tape: &'t Tape, params: &[Var<'t>], moons: &Moons) -> Var<'t> {
    let y = tape.constant(moons.y.clone());
    let layers = params.len() / 2;
    let mut h = tape.constant(moons.x.clone());
    for (depth, wb) in params.chunks(2).enumerate() {
        h = h.matmul_t(wb[0]) + wb[1];
        if depth + 1 < layers {
            h = h.relu();
        }
    }
    let data_loss = (1.0 - y * h).relu().mean();
    let reg_loss = ALPHA * sum(params.iter().map(|&p| (p * p).sum()));
    data_loss + reg_loss
}

/// The sum of `terms`, left to right, as Python's `sum` adds them.
fn sum<'t>(terms: impl Iterator<Item = Var<'t>>) -> Var<'t> {
    terms
        .reduce(|acc, term| acc + term)
        .expect("at least one term")
}

/// Records each model's loss once on the initial weights: prints its node count, and checks
/// that both models compute the same loss, so that the benchmarks compare like with like.
fn report_graphs(init: &[f64], moons: &Moons) {
    let scalar = loss_and_nodes(scalar_params(init), |tape, p| scalar_loss(tape, p, moons));
    let batched = loss_and_nodes(batched_params(init), |tape, p| batched_loss(tape, p, moons));
    eprintln!("w1 scalar graph: {} nodes, loss {}", scalar.1, scalar.0);
    let torch = loss_and_nodes(torch_layout_params(init), |tape, p| {
        torch_layout_loss(tape, p, moons)
    });
    eprintln!("w1 batched graph: {} nodes, loss {}", batched.1, batched.0);
    eprintln!(
        "w1 batched graph, PyTorch's layout: {} nodes, loss {}",
        torch.1, torch.0
    );
    assert!(
        (scalar.0 - batched.0).abs() < 1e-12 && (torch.0 - batched.0).abs() < 1e-12,
        "the scalar, batched and PyTorch-layout models disagree"
    );
    assert_eq!(torch.1, batched.1, "PyTorch's layout records no more nodes");
}

/// The loss `forward` computes on `params`, and the number of nodes the step records.
fn loss_and_nodes(
    params: Vec<Tensor>,
    forward: impl for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
) -> (f64, usize) {
    let tape = Tape::new();
    let vars: Vec<Var> = params.into_iter().map(|p| tape.param(p)).collect();
    let loss = forward(&tape, &vars).value().item();
    (loss, tape.len())
}

/// Benchmarks training steps of one model, on a reused tape and on a new tape per step.
fn bench_model(
    c: &mut Criterion,
    name: &str,
    mut params: Vec<Tensor>,
    forward: impl for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>,
) {
    let mut group = c.benchmark_group(format!("w1_micrograd/{name}"));
    let mut tape = Tape::new();
    group.bench_function("reused_tape", |b| {
        b.iter(|| sgd_step(&mut tape, &mut params, LEARNING_RATE, &forward));
    });
    group.bench_function("new_tape", |b| {
        b.iter(|| sgd_step(&mut Tape::new(), &mut params, LEARNING_RATE, &forward));
    });
    group.finish();
}

fn micrograd_step(c: &mut Criterion) {
    let mut rng = rng();
    let moons = two_moons(&mut rng);
    let init = micrograd_init(&mut rng);
    report_graphs(&init, &moons);
    bench_model(c, "scalar", scalar_params(&init), |tape, p| {
        scalar_loss(tape, p, &moons)
    });
    bench_model(c, "batched", batched_params(&init), |tape, p| {
        batched_loss(tape, p, &moons)
    });
    bench_model(
        c,
        "batched_torch_layout",
        torch_layout_params(&init),
        |tape, p| torch_layout_loss(tape, p, &moons),
    );
}

criterion_group!(benches, micrograd_step);
criterion_main!(benches);
