//! A one-block transformer learns to reverse sequences: token and position embeddings looked up
//! by `index_select`, multi-head causal self-attention through batched `matmul` and a mask
//! applied with `where_`, layer norm, an MLP, residual connections, and the loss through
//! `cross_entropy`, trained with Adam.
//!
//! Run it with `cargo run --example attention` (add `--out PATH` to choose where the loss
//! curve goes; the default is `attention.svg`). Each example is `L` random digits, a separator
//! and the digits reversed, read left to right as a language model reads text: the model sees
//! the prefix and predicts the next token, and is scored on the reversed half only. Causal
//! attention cannot see ahead, so to write the reversal it must look back at the right digit
//! of the first half: position `L + j` has to attend to position `L − 1 − j`. It reaches 100%
//! accuracy on sequences it never saw within `STEPS` steps, in a few seconds on two cores.

use plotters::prelude::*;
use rand::RngExt;
use tapegrad::nn::seeded_rng;
use tapegrad::optim::Adam;
use tapegrad::{ParamId, ParamStore, Params, Tape, Tensor, Var, loss};

/// Digits per sequence; the model reads `2·L` tokens and predicts the last `L`.
pub const L: usize = 6;
/// Tokens: the digits `0..DIGITS` and the separator.
const DIGITS: usize = 8;
const SEPARATOR: usize = DIGITS;
const VOCABULARY: usize = DIGITS + 1;
/// Positions the model reads: the digits, the separator, the reversal but its last token.
const T: usize = 2 * L;
/// Width of the model, attention heads, width of the MLP.
const WIDTH: usize = 32;
const HEADS: usize = 4;
const HIDDEN: usize = 64;
/// Sequences per step, and steps of Adam.
const BATCH: usize = 32;
pub const STEPS: usize = 400;

/// The model's weights, by name in a `ParamStore`.
pub struct Transformer {
    tokens: ParamId,
    positions: ParamId,
    query: ParamId,
    key: ParamId,
    value: ParamId,
    out: ParamId,
    norm1: (ParamId, ParamId),
    up: (ParamId, ParamId),
    down: (ParamId, ParamId),
    norm2: (ParamId, ParamId),
    unembed: ParamId,
}

impl Transformer {
    /// Weights drawn from N(0, 1/fan_in) (embeddings from N(0, 1)), layer norms at (1, 0).
    pub fn new(store: &mut ParamStore, seed: u64) -> Transformer {
        let mut next_seed = seed;
        let mut normal = |shape: &[usize], scale: f64| {
            next_seed += 1;
            Tensor::randn(shape, next_seed) * scale
        };
        let matrix = |fan_in: usize| 1.0 / (fan_in as f64).sqrt();
        let (w, h) = (WIDTH, HIDDEN);
        let norm = |store: &mut ParamStore, name: &str| {
            (
                store.insert(format!("{name}.weight"), Tensor::ones(&[w])),
                store.insert(format!("{name}.bias"), Tensor::zeros(&[w])),
            )
        };
        Transformer {
            tokens: store.insert("tokens", normal(&[VOCABULARY, w], 1.0)),
            positions: store.insert("positions", normal(&[T, w], 1.0)),
            query: store.insert("attention.query", normal(&[w, w], matrix(w))),
            key: store.insert("attention.key", normal(&[w, w], matrix(w))),
            value: store.insert("attention.value", normal(&[w, w], matrix(w))),
            out: store.insert("attention.out", normal(&[w, w], matrix(w))),
            norm1: norm(store, "norm1"),
            up: (
                store.insert("mlp.up.weight", normal(&[w, h], matrix(w))),
                store.insert("mlp.up.bias", Tensor::zeros(&[h])),
            ),
            down: (
                store.insert("mlp.down.weight", normal(&[h, w], matrix(h))),
                store.insert("mlp.down.bias", Tensor::zeros(&[w])),
            ),
            norm2: norm(store, "norm2"),
            unembed: store.insert("unembed", normal(&[w, VOCABULARY], matrix(w))),
        }
    }

    /// The logits `[batch, T, VOCABULARY]` of the next token at each position of `tokens`
    /// (`batch · T` token ids, row by row).
    pub fn forward<'t>(&self, p: &Params<'_, 't>, tokens: &[usize]) -> Var<'t> {
        let batch = tokens.len() / T;
        let tape = p[self.tokens].tape();
        let embedded = p[self.tokens]
            .index_select(0, tokens)
            .reshape(&[batch, T, WIDTH]);
        let x = embedded + p[self.positions]; // [T, WIDTH] broadcasts over the batch
        let x = layer_norm(
            x + self.attention(p, x, tape),
            p[self.norm1.0],
            p[self.norm1.1],
        );
        let hidden = (x.matmul(p[self.up.0]) + p[self.up.1]).relu();
        let x = layer_norm(
            x + hidden.matmul(p[self.down.0]) + p[self.down.1],
            p[self.norm2.0],
            p[self.norm2.1],
        );
        x.matmul(p[self.unembed])
    }

    /// Multi-head causal self-attention of `x` (`[batch, T, WIDTH]`).
    fn attention<'t>(&self, p: &Params<'_, 't>, x: Var<'t>, tape: &'t Tape) -> Var<'t> {
        let batch = x.shape()[0];
        let size = WIDTH / HEADS;
        // [batch, T, WIDTH] → [batch, HEADS, T, size]: one matrix per sequence and head.
        let heads = |w: ParamId| {
            x.matmul(p[w])
                .reshape(&[batch, T, HEADS, size])
                .permute(&[0, 2, 1, 3])
        };
        let (q, k, v) = (heads(self.query), heads(self.key), heads(self.value));
        let scores = q.matmul(k.swap_axes(-1, -2)) / (size as f64).sqrt(); // [b, h, T, T]
        let causal = tape.constant(Tensor::from_fn(&[T, T], |i| f64::from(i % T <= i / T)));
        let masked = causal.where_(scores, tape.constant(f64::NEG_INFINITY));
        let mixed = masked.softmax(-1).matmul(v); // [b, h, T, size]
        let joined = mixed.permute(&[0, 2, 1, 3]).reshape(&[batch, T, WIDTH]);
        joined.matmul(p[self.out])
    }
}

/// Each position normalised over the last axis to mean 0 and variance 1, then scaled and
/// shifted (PyTorch's `LayerNorm`, with its ε and its biased variance).
fn layer_norm<'t>(x: Var<'t>, weight: Var<'t>, bias: Var<'t>) -> Var<'t> {
    let centred = x - x.mean_axis_keepdim(-1);
    let variance = x.var(-1, 0.0).unsqueeze(-1);
    centred / (variance + 1e-5).sqrt() * weight + bias
}

/// `count` examples drawn with `rng`: the model's input tokens (`count · T`) and the targets of
/// the scored positions (`count · L`, the reversed digits).
pub fn examples(count: usize, rng: &mut impl RngExt) -> (Vec<usize>, Vec<usize>) {
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    for _ in 0..count {
        let digits: Vec<usize> = (0..L).map(|_| rng.random_range(0..DIGITS)).collect();
        let reversed: Vec<usize> = digits.iter().rev().copied().collect();
        inputs.extend(&digits);
        inputs.push(SEPARATOR);
        inputs.extend(&reversed[..L - 1]);
        targets.extend(&reversed);
    }
    (inputs, targets)
}

/// The scored logits: positions `L ..` (the separator and the reversal so far) predict the
/// reversed digits; as `[batch · L, VOCABULARY]`.
fn scored<'t>(logits: Var<'t>) -> Var<'t> {
    let batch = logits.shape()[0];
    logits.narrow(1, L, L).reshape(&[batch * L, VOCABULARY])
}

/// The fraction of scored tokens whose largest logit is the target.
pub fn accuracy(
    model: &Transformer,
    store: &ParamStore,
    inputs: &[usize],
    targets: &[usize],
) -> f64 {
    let tape = Tape::new();
    let p = store.on_tape(&tape);
    let predicted = scored(model.forward(&p, inputs)).value().argmax(-1);
    let right = predicted
        .data()
        .iter()
        .zip(targets)
        .filter(|&(&p, &t)| p == t as f64);
    right.count() as f64 / targets.len() as f64
}

/// What a run produced: the model, its weights, and the loss and accuracy after each step.
pub struct Run {
    pub model: Transformer,
    pub store: ParamStore,
    pub losses: Vec<f64>,
    /// Accuracy on 256 sequences never trained on.
    pub held_out: f64,
}

/// Trains the model from weights and data drawn with `seed`.
pub fn train(seed: u64, steps: usize) -> Run {
    let mut store = ParamStore::new();
    let model = Transformer::new(&mut store, seed);
    let mut rng = seeded_rng(seed);
    let mut adam = Adam::new(3e-3);
    let mut tape = Tape::new();
    let mut losses = Vec::with_capacity(steps);
    for _ in 0..steps {
        let (inputs, targets) = examples(BATCH, &mut rng);
        let grads = {
            let p = store.on_tape(&tape);
            let l = loss::cross_entropy(scored(model.forward(&p, &inputs)), &targets);
            losses.push(l.value().item());
            p.grads(&l.backward())
        };
        tape.clear();
        adam.step(&mut store, &grads);
    }
    let (inputs, targets) = examples(256, &mut seeded_rng(seed + 1_000_000));
    let held_out = accuracy(&model, &store, &inputs, &targets);
    Run {
        model,
        store,
        losses,
        held_out,
    }
}

/// Draws the training loss per step as an SVG.
fn draw(losses: &[f64], path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (640, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let top = losses.iter().copied().fold(0.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "One-block transformer reversing sequences: training loss",
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0..losses.len(), 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("cross-entropy")
        .draw()?;
    chart.draw_series(LineSeries::new(losses.iter().copied().enumerate(), &BLUE))?;
    root.present()?;
    Ok(())
}

#[allow(dead_code)] // the integration test includes this file and does not call main
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = match args.iter().position(|a| a == "--out") {
        Some(i) => args.get(i + 1).ok_or("--out needs a path")?.clone(),
        None => "attention.svg".to_string(),
    };
    let run = train(7, STEPS);
    println!("{} parameters", run.store.num_elements());
    for (step, l) in run.losses.iter().enumerate() {
        if step % 50 == 0 || step == STEPS - 1 {
            println!("step {step:4}: loss {l:.4}");
        }
    }
    println!(
        "accuracy on 256 sequences never seen: {:.1}%",
        100.0 * run.held_out
    );
    draw(&run.losses, &out)?;
    println!("wrote {out}");
    Ok(())
}
