//! W3, matmul: `loss = sum(A·B)` for two `n × n` parameters, n = 64, 256 and 1024. For each n,
//! `w3_matmul/n/forward` records the product and the sum on a cleared tape, and
//! `w3_matmul/n/forward_backward` also runs the backward pass (two more products, `G·Bᵀ` and
//! `Aᵀ·G`).
//!
//! Two modes:
//!
//! - `cargo bench --bench w3_matmul`: criterion times both, for each n. For n = 1024 it takes
//!   only 10 samples, so that the whole run stays short.
//! - `W3_PAIRED=15 cargo bench --bench w3_matmul`: runs the forward pass and then the forward
//!   and backward passes, back to back, 15 times for each n, and prints the median of the 15
//!   ratios. On a machine whose speed drifts over minutes, this ratio is steadier than the ratio
//!   of criterion's two medians, taken seconds apart (compare.py measures PyTorch and JAX the
//!   same way).

mod common;

use common::{normal_tensor, rng};
use criterion::{Criterion, SamplingMode, criterion_group};
use std::time::{Duration, Instant};
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

/// How long `W3_PAIRED` runs pairs untimed first, for each size (criterion warms up 3 s).
const WARM_UP: Duration = Duration::from_secs(1);

/// For each size, times the forward pass and then the forward and backward passes `pairs` times
/// back to back, after [`WARM_UP`], and prints their medians and the median of the ratios.
fn paired_ratios(pairs: usize) {
    let mut rng = rng();
    let mut tape = Tape::new();
    for n in SIZES {
        let a = normal_tensor(&mut rng, &[n, n]);
        let b = normal_tensor(&mut rng, &[n, n]);
        let mut time = |backward: bool| {
            tape.clear();
            let start = Instant::now();
            let loss = record(&tape, &a, &b);
            if backward {
                std::hint::black_box(loss.backward());
            } else {
                std::hint::black_box(loss.value().item());
            }
            start.elapsed()
        };
        let warm_up = Instant::now();
        while warm_up.elapsed() < WARM_UP {
            time(false);
            time(true);
        }
        let (mut forward, mut both, mut ratios) = (vec![], vec![], vec![]);
        for _ in 0..pairs {
            let (f, fb) = (time(false), time(true));
            forward.push(f);
            both.push(fb);
            ratios.push(fb.as_secs_f64() / f.as_secs_f64());
        }
        let ms = |times: &mut Vec<Duration>| median(times).as_secs_f64() * 1e3;
        println!(
            "w3_matmul/{n}: forward {:.4} ms, forward+backward {:.4} ms, median of {pairs} paired ratios {:.3}",
            ms(&mut forward),
            ms(&mut both),
            median(&mut ratios)
        );
    }
}

/// The middle element of `values` once sorted (the upper one of the two middle elements when
/// there is an even number of them).
fn median<T: PartialOrd + Copy>(values: &mut [T]) -> T {
    values.sort_by(|x, y| x.partial_cmp(y).expect("no NaN"));
    values[values.len() / 2]
}

fn main() {
    match std::env::var("W3_PAIRED") {
        Ok(pairs) => {
            let pairs = pairs.parse().ok().filter(|&pairs| pairs > 0);
            paired_ratios(pairs.expect("W3_PAIRED: a positive number of pairs"));
        }
        Err(_) => {
            benches();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}
