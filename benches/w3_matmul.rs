//! W3, matmul: `loss = sum(A·B)` for two `n × n` parameters, n = 64, 256 and 1024. For each n,
//! `w3_matmul/n/forward` records the product and the sum on a cleared tape, and
//! `w3_matmul/n/forward_backward` also runs the backward pass (two more products, `G·Bᵀ` and
//! `Aᵀ·G`).
//!
//! Two modes:
//!
//! - `cargo bench -p tapegrad-benches --bench w3_matmul`: criterion times both, for each n. For n = 1024 it takes
//!   only 10 samples, so that the whole run stays short.
//! - `PAIRED=15 cargo bench -p tapegrad-benches --bench w3_matmul`: runs the forward pass and then the forward and
//!   backward passes, back to back, 15 times for each n, and prints the median of the 15 ratios
//!   (`common::paired` says why).

mod common;

use common::{criterion_or_paired, normal_tensor, paired, rng};
use criterion::{Criterion, SamplingMode, criterion_group};
use tapegrad::{Tape, Tensor, Var};

const SIZES: [usize; 3] = [64, 256, 1024];
/// From this size on, take the fewest samples criterion allows (10), in flat sampling mode.
const LARGE: usize = 1024;

/// Records `sum(A·B)` on `tape`.
fn record<'t>(tape: &'t Tape, a: &Tensor, b: &Tensor) -> Var<'t> {
    tape.param(a.clone()).matmul(tape.param(b.clone())).sum()
}

/// Benchmarks, for each size, the forward pass and then the forward and backward passes, each
/// on a cleared tape and two seeded random matrices of that size. The two are timed one right
/// after the other, because this machine's speed drifts over minutes and the ratio of the two is
/// what the workload reports.
fn matmul(c: &mut Criterion) {
    let mut rng = rng();
    let mut tape = Tape::new();
    for n in SIZES {
        let a = normal_tensor(&mut rng, &[n, n]);
        let b = normal_tensor(&mut rng, &[n, n]);
        let mut group = c.benchmark_group(format!("w3_matmul/{n}"));
        if n >= LARGE {
            group.sample_size(10).sampling_mode(SamplingMode::Flat);
        }
        group.bench_function("forward", |bencher| {
            bencher.iter(|| {
                tape.clear();
                record(&tape, &a, &b).value().item()
            });
        });
        group.bench_function("forward_backward", |bencher| {
            bencher.iter(|| {
                tape.clear();
                record(&tape, &a, &b).backward()
            });
        });
        group.finish();
    }
}

criterion_group!(benches, matmul);

/// For each size, times the forward pass and then the forward and backward passes `pairs` times
/// back to back, and prints their medians and the median of the ratios.
fn paired_ratios(pairs: usize) {
    let mut rng = rng();
    // Two tapes, because each closure clears its own (clearing is part of what is timed).
    let (mut tape, mut other) = (Tape::new(), Tape::new());
    for n in SIZES {
        let a = normal_tensor(&mut rng, &[n, n]);
        let b = normal_tensor(&mut rng, &[n, n]);
        let (forward, both, ratio) = paired(
            pairs,
            || {
                tape.clear();
                record(&tape, &a, &b).value().item()
            },
            || {
                other.clear();
                record(&other, &a, &b).backward();
            },
        );
        println!(
            "w3_matmul/{n}: forward {forward:.4} ms, forward+backward {both:.4} ms, \
             median of {pairs} paired ratios {ratio:.3}"
        );
    }
}

fn main() {
    criterion_or_paired(benches, paired_ratios);
}
