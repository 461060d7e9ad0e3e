//! W5, the Hessian-vector product: `H·v` of W2's loss with a tanh hidden layer (784-256-10,
//! batch 128, mean softmax cross-entropy, f64) with respect to all four parameters, along a
//! fixed random direction; next to the plain gradient of the same loss. tanh, not ReLU: ReLU's
//! second derivative vanishes and would hide the work.
//!
//! - `w5_hvp/gradient`: records the loss on a cleared tape and runs `backward()`;
//! - `w5_hvp/hvp`: records the loss, its gradient with `Var::grad` (the backward pass recorded
//!   on the tape), the scalar `Σ ⟨∇L, v⟩`, and runs `backward()` from it: reverse over reverse.
//!
//! Two modes:
//!
//! - `cargo bench -p tapegrad-benches --bench w5_hvp`: criterion times both;
//! - `PAIRED=50 cargo bench -p tapegrad-benches --bench w5_hvp`: the gradient and then the HVP,
//!   back to back, 50 times, and the median of the ratios HVP / gradient; it also prints
//!   `vᵀHv`, which PyTorch and JAX (benches/compare/compare.py) must match.

mod common;

use common::mlp::{BATCH, Batch, he_init, random_batch};
use common::{criterion_or_paired, normal_tensor, paired, rng};
use criterion::{Criterion, criterion_group};
use tapegrad::{Tape, Tensor, Var};

/// The mean cross-entropy of `tanh(X·W1 + b1)·W2 + b2` against the one-hot targets.
fn cross_entropy<'t>(tape: &'t Tape, params: &[Var<'t>], batch: &Batch) -> Var<'t> {
    let [w1, b1, w2, b2] = params else {
        panic!("expected [W1, b1, W2, b2]");
    };
    let x = tape.constant(batch.x.clone());
    let onehot = tape.constant(batch.onehot.clone());
    let logits = (x.matmul(*w1) + *b1).tanh().matmul(*w2) + *b2;
    -(onehot * logits.log_softmax(1)).sum() / BATCH as f64
}

/// The data, the weights and a direction for each weight.
struct Problem {
    batch: Batch,
    params: Vec<Tensor>,
    direction: Vec<Tensor>,
}

impl Problem {
    fn new() -> Problem {
        let mut rng = rng();
        let batch = random_batch(&mut rng);
        let params = he_init(&mut rng);
        let direction = params
            .iter()
            .map(|p| normal_tensor(&mut rng, p.shape()))
            .collect();
        Problem {
            batch,
            params,
            direction,
        }
    }

    /// `∇L` by `backward()`.
    fn gradient(&self, tape: &mut Tape) -> Vec<Tensor> {
        tape.clear();
        let p: Vec<Var<'_>> = self.params.iter().map(|w| tape.param(w.clone())).collect();
        let grads = cross_entropy(tape, &p, &self.batch).backward();
        p.iter().map(|&w| grads[w].clone()).collect()
    }

    /// `H·v`, reverse over reverse.
    fn hvp(&self, tape: &mut Tape) -> Vec<Tensor> {
        tape.clear();
        let p: Vec<Var<'_>> = self.params.iter().map(|w| tape.param(w.clone())).collect();
        let gradient = cross_entropy(tape, &p, &self.batch).grad(&p);
        let along = gradient
            .iter()
            .zip(&self.direction)
            .map(|(&g, v)| (g * tape.constant(v.clone())).sum())
            .reduce(|sum, term| sum + term)
            .expect("four parameters");
        let grads = along.backward();
        p.iter().map(|&w| grads[w].clone()).collect()
    }
}

fn gradient_and_hvp(c: &mut Criterion) {
    let problem = Problem::new();
    let mut tape = Tape::new();
    c.bench_function("w5_hvp/gradient", |b| {
        b.iter(|| problem.gradient(&mut tape))
    });
    c.bench_function("w5_hvp/hvp", |b| b.iter(|| problem.hvp(&mut tape)));
}

criterion_group!(benches, gradient_and_hvp);

/// Times the gradient and then the HVP, `pairs` times back to back, and prints their medians,
/// the median ratio, and `vᵀHv`.
fn paired_ratio(pairs: usize) {
    let problem = Problem::new();
    let (mut first, mut second) = (Tape::new(), Tape::new());
    let hv = problem.hvp(&mut second);
    let curvature: f64 = hv
        .iter()
        .zip(&problem.direction)
        .map(|(hv, v)| (hv * v).sum())
        .sum();
    let (gradient, hvp, ratio) = paired(
        pairs,
        || problem.gradient(&mut first),
        || problem.hvp(&mut second),
    );
    println!(
        "w5_hvp: gradient {gradient:.4} ms, hvp {hvp:.4} ms, median of {pairs} paired ratios \
         {ratio:.3}; vᵀHv = {curvature:.15e}"
    );
}

fn main() {
    criterion_or_paired(benches, paired_ratio);
}
