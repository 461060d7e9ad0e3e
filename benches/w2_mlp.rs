//! W2, the MLP step: one SGD step (learning rate 0.01) of a 784-256-10 MLP with a ReLU hidden
//! layer, on a batch of 128 normally distributed inputs with random labels, under the mean
//! softmax cross-entropy `−Σ(onehot ⊙ log_softmax(logits)) / 128`. All in `f64`.
//!
//! A step records the forward pass on a cleared tape, runs the backward pass and updates the
//! parameters, which live outside the tape.
//!
//! `w2_mlp/large_products_alone` times the step's two large matrix products by themselves.
//!
//! Run with `cargo bench --bench w2_mlp`.

mod common;

use common::{normal_tensor, rng, sgd_step, uniform_tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use tapegrad::{Tape, Tensor, Var};

const BATCH: usize = 128;
const INPUTS: usize = 784;
const HIDDEN: usize = 256;
const CLASSES: usize = 10;
const LEARNING_RATE: f64 = 0.01;

/// The inputs, `[BATCH, INPUTS]`, and the one-hot targets, `[BATCH, CLASSES]`.
struct Batch {
    x: Tensor,
    onehot: Tensor,
}

/// Standard normal inputs and uniformly random labels.
fn random_batch(rng: &mut ChaCha8Rng) -> Batch {
    let x = normal_tensor(rng, &[BATCH, INPUTS]);
    let labels: Vec<usize> = (0..BATCH).map(|_| rng.random_range(0..CLASSES)).collect();
    let onehot = Tensor::from_fn(&[BATCH, CLASSES], |k| {
        f64::from(labels[k / CLASSES] == k % CLASSES)
    });
    Batch { x, onehot }
}

/// `[W1, b1, W2, b2]`: He-uniform weights (bound √(6 / fan-in)), zero biases.
fn he_init(rng: &mut ChaCha8Rng) -> Vec<Tensor> {
    let mut layer = |inputs: usize, outputs: usize| {
        let bound = (6.0 / inputs as f64).sqrt();
        [
            uniform_tensor(rng, &[inputs, outputs], bound),
            Tensor::zeros(&[outputs]),
        ]
    };
    let [w1, b1] = layer(INPUTS, HIDDEN);
    let [w2, b2] = layer(HIDDEN, CLASSES);
    vec![w1, b1, w2, b2]
}

/// The mean cross-entropy of `relu(X·W1 + b1)·W2 + b2` against the one-hot targets.
fn cross_entropy<'t>(tape: &'t Tape, params: &[Var<'t>], batch: &Batch) -> Var<'t> {
    let [w1, b1, w2, b2] = params else {
        panic!("expected [W1, b1, W2, b2]");
    };
    let x = tape.constant(batch.x.clone());
    let onehot = tape.constant(batch.onehot.clone());
    let logits = (x.matmul(*w1) + *b1).relu().matmul(*w2) + *b2;
    -(onehot * logits.log_softmax(1)).sum() / BATCH as f64
}

fn mlp_step(c: &mut Criterion) {
    let mut rng = rng();
    let batch = random_batch(&mut rng);
    let mut params = he_init(&mut rng);
    let mut tape = Tape::new();
    c.bench_function("w2_mlp/step", |b| {
        b.iter(|| {
            sgd_step(&mut tape, &mut params, LEARNING_RATE, |tape, p| {
                cross_entropy(tape, p, &batch)
            })
        });
    });
}

/// The step's two large products alone, `X·W1` (128×784×256) and the weight gradient
/// `Xᵀ·G1` (784×128×256, here with Xᵀ made contiguous beforehand), through the same GEMM path:
/// the floor that the whole step is compared with in docs/performance.md.
fn large_products(c: &mut Criterion) {
    let mut rng = rng();
    let batch = random_batch(&mut rng);
    let params = he_init(&mut rng);
    let x_t = batch.x.transpose();
    let g1 = Tensor::ones(&[BATCH, HIDDEN]);
    c.bench_function("w2_mlp/large_products_alone", |b| {
        b.iter(|| (batch.x.matmul(&params[0]), x_t.matmul(&g1)));
    });
}

criterion_group!(benches, mlp_step, large_products);
criterion_main!(benches);
