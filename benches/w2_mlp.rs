//! W2, the MLP step: one SGD step (learning rate 0.01) of a 784-256-10 MLP with a ReLU hidden
//! layer, on a batch of 128 normally distributed inputs with random labels, under the mean
//! softmax cross-entropy `−Σ(onehot ⊙ log_softmax(logits)) / 128`. All in `f64`.
//!
//! A step records the forward pass on a cleared tape, runs the backward pass and updates the
//! parameters, which live outside the tape.
//!
//! `w2_mlp/products_alone` times the step's five matrix products by themselves, and
//! `w2_mlp/step_torch_layout` the step with each weight stored `[out, in]`, as PyTorch's and
//! `nn::Linear`'s, applied as `X·Wᵀ` through a transposed view (`matmul_t`): it should cost what
//! `w2_mlp/step` costs.
//!
//! Two modes:
//!
//! - `cargo bench -p tapegrad-benches --bench w2_mlp`: criterion times the step and the products;
//! - `PAIRED=100 cargo bench -p tapegrad-benches --bench w2_mlp`: times the products and then the step, back to back,
//!   100 times, and prints the median of the 100 ratios step / products (`common::paired` says
//!   why).

mod common;

use common::mlp::{BATCH, Batch, CLASSES, HIDDEN, he_init, random_batch};
use common::{criterion_or_paired, normal_tensor, paired, rng, sgd_step, uniform_tensor};

const LEARNING_RATE: f64 = 0.01;

use criterion::{Criterion, criterion_group};
use rand_chacha::ChaCha8Rng;
use tapegrad::{Tape, Tensor, Var};

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

/// [`cross_entropy`] with the weights `[out, in]`: `relu(X·W1ᵀ + b1)·W2ᵀ + b2`.
fn cross_entropy_torch_layout<'t>(tape: &'t Tape, params: &[Var<'t>], batch: &Batch) -> Var<'t> {
    let [w1, b1, w2, b2] = params else {
        panic!("expected [W1, b1, W2, b2]");
    };
    let x = tape.constant(batch.x.clone());
    let onehot = tape.constant(batch.onehot.clone());
    let logits = (x.matmul_t(*w1) + *b1).relu().matmul_t(*w2) + *b2;
    -(onehot * logits.log_softmax(1)).sum() / BATCH as f64
}

fn mlp_step(c: &mut Criterion) {
    let mut rng = rng();
    let batch = random_batch(&mut rng);
    let mut params = he_init(&mut rng);
    // The same initial weights, transposed (a copy: the step owns and updates its buffers).
    let mut transposed: Vec<Tensor> = params
        .iter()
        .map(|p| {
            if p.ndim() == 2 {
                p.transpose()
            } else {
                p.to_vec().into()
            }
        })
        .collect();
    let mut tape = Tape::new();
    c.bench_function("w2_mlp/step", |b| {
        b.iter(|| {
            sgd_step(&mut tape, &mut params, LEARNING_RATE, |tape, p| {
                cross_entropy(tape, p, &batch)
            })
        });
    });
    c.bench_function("w2_mlp/step_torch_layout", |b| {
        b.iter(|| {
            sgd_step(&mut tape, &mut transposed, LEARNING_RATE, |tape, p| {
                cross_entropy_torch_layout(tape, p, &batch)
            })
        });
    });
}

/// The step's five matrix products alone, each in the layout the step runs it in: the floor
/// that the whole step is compared with in docs/performance.md ("within 1.2× of the time its
/// GEMMs alone take").
///
/// They are recorded on a tape of their own, because that is how a product gets a transposed
/// operand as strides rather than a copy, as the step's backward pass does:
///
/// - `X·W1` (128×784×256) and its weight gradient `Xᵀ·G1` (784×128×256; `X` is a constant, so
///   no `G1·W1ᵀ`);
/// - `H·W2` (128×256×10) and its two gradients, `G2·W2ᵀ` and `Hᵀ·G2`.
///
/// The two graphs' other work (six nodes, two seeds) is under a microsecond.
struct Products {
    x: Tensor,
    w1: Tensor,
    g1: Tensor,
    h: Tensor,
    w2: Tensor,
    g2: Tensor,
    tape: Tape,
}

impl Products {
    /// The operands: the batch and the initial weights (copied, so that the step still owns
    /// its parameters' buffers and updates them in place); the hidden activations and the
    /// upstream gradients are random, of the step's shapes.
    fn new(batch: &Batch, params: &[Tensor], rng: &mut ChaCha8Rng) -> Products {
        let copy = |t: &Tensor| Tensor::from_vec(t.to_vec(), t.shape()).expect("same shape");
        Products {
            x: batch.x.clone(),
            w1: copy(&params[0]),
            g1: normal_tensor(rng, &[BATCH, HIDDEN]),
            h: uniform_tensor(rng, &[BATCH, HIDDEN], 1.0),
            w2: copy(&params[2]),
            g2: normal_tensor(rng, &[BATCH, CLASSES]),
            tape: Tape::new(),
        }
    }

    /// Runs the five products; returns the three gradients.
    fn run(&mut self) -> [Tensor; 3] {
        self.tape.clear();
        let tape = &self.tape;
        let (x, w1) = (tape.constant(self.x.clone()), tape.param(self.w1.clone()));
        let first = x.matmul(w1).backward_with(self.g1.clone());
        let (h, w2) = (tape.param(self.h.clone()), tape.param(self.w2.clone()));
        let second = h.matmul(w2).backward_with(self.g2.clone());
        [first[w1].clone(), second[h].clone(), second[w2].clone()]
    }
}

fn products(c: &mut Criterion) {
    let mut rng = rng();
    let batch = random_batch(&mut rng);
    let mut products = Products::new(&batch, &he_init(&mut rng), &mut rng);
    c.bench_function("w2_mlp/products_alone", |b| b.iter(|| products.run()));
}

criterion_group!(benches, mlp_step, products);

/// Times the products alone and then the step, `pairs` times back to back, and prints their
/// medians and the median of the ratios step / products.
fn paired_ratio(pairs: usize) {
    let mut rng = rng();
    let batch = random_batch(&mut rng);
    let mut params = he_init(&mut rng);
    let mut products = Products::new(&batch, &params, &mut rng);
    let mut tape = Tape::new();
    let (alone, step, ratio) = paired(
        pairs,
        || products.run(),
        || {
            sgd_step(&mut tape, &mut params, LEARNING_RATE, |tape, p| {
                cross_entropy(tape, p, &batch)
            })
        },
    );
    println!(
        "w2_mlp: products alone {alone:.4} ms, step {step:.4} ms, \
         median of {pairs} paired ratios {ratio:.3}"
    );
}

fn main() {
    criterion_or_paired(benches, paired_ratio);
}
