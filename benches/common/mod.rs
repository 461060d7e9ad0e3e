//! Helpers shared by the benchmarks: seeded random data (the same on every run) and one SGD
//! training step.

#![allow(dead_code)] // each bench uses a different subset

pub mod mlp;

/// The benches allocate through mimalloc, as a performance-minded training binary would (a
/// library cannot choose the global allocator; an application does, in one line like this).
/// With glibc's malloc, W3's n = 1024 forward + backward spent 14 % of its time in the kernel,
/// faulting in pages that glibc had returned to the system when the previous step freed its
/// 8 MB gradients (perf); mimalloc keeps them. W3 n = 1024 (fwd+bwd)/fwd: 3.25 with glibc,
/// 2.91 with mimalloc (two runs 20 minutes apart); W2's step: 4–9 % faster (A/B, twice).
/// docs/performance.md gives both; delete these two lines to measure with the system allocator.
/// W4 does not include this module: it measures one tape's memory growth, and glibc grows a
/// large `Vec` in place (mremap) where mimalloc copies it (112 bytes a node at the peak, not 64).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::TAU;
use std::time::{Duration, Instant};
use tapegrad::{Tape, Tensor, Var};

/// The seed of all benchmark data (micrograd's demo seeds its generators with 1337 too).
pub const SEED: u64 = 1337;

/// The generator every benchmark draws its data from, seeded with [`SEED`].
pub fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(SEED)
}

/// A sample of the standard normal distribution, by the Box–Muller transform.
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // in (0, 1], so that ln(u1) is finite
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
}

/// A tensor of `shape` with elements drawn from the standard normal distribution.
pub fn normal_tensor(rng: &mut ChaCha8Rng, shape: &[usize]) -> Tensor {
    Tensor::from_fn(shape, |_| normal(rng))
}

/// A tensor of `shape` with elements uniform in `[-bound, bound)`.
pub fn uniform_tensor(rng: &mut ChaCha8Rng, shape: &[usize], bound: f64) -> Tensor {
    Tensor::from_fn(shape, |_| rng.random_range(-bound..bound))
}

/// One training step: records `params` on `tape`, the forward pass `forward(tape, params)` and
/// its backward pass, then updates `params` in place by SGD, `p -= lr · ∂loss/∂p`. Returns the
/// loss before the update.
///
/// The tape is cleared before the update: while it holds the parameters, they share their
/// buffers with it and `-=` would have to copy them. Clearing keeps the tape's allocation for
/// the next step.
pub fn sgd_step(
    tape: &mut Tape,
    params: &mut [Tensor],
    lr: f64,
    forward: impl for<'t> FnOnce(&'t Tape, &[Var<'t>]) -> Var<'t>,
) -> f64 {
    let (loss, grads) = backward(tape, params, forward);
    tape.clear();
    for (p, g) in params.iter_mut().zip(grads) {
        // One pass, in place: `*p -= &(lr * g)` gives the same bits but reads and writes the
        // gradient once more, a measurable share of W2's step (W1 is 784×256).
        for (p, &g) in p.data_mut().iter_mut().zip(g.data()) {
            *p -= lr * g;
        }
    }
    loss
}

/// Records `params` and the forward pass on `tape`, runs the backward pass, and returns the
/// loss and its gradient with respect to each parameter.
fn backward(
    tape: &Tape,
    params: &[Tensor],
    forward: impl for<'t> FnOnce(&'t Tape, &[Var<'t>]) -> Var<'t>,
) -> (f64, Vec<Tensor>) {
    let vars: Vec<Var> = params.iter().map(|p| tape.param(p.clone())).collect();
    let loss = forward(tape, &vars);
    let grads = loss.backward();
    let grads = vars.iter().map(|&v| grads[v].clone()).collect();
    (loss.value().item(), grads)
}

/// How long [`paired`] runs its pairs untimed first (criterion warms up for 3 s).
const WARM_UP: Duration = Duration::from_secs(1);

/// The medians of `pairs` back-to-back timings of `first()` then `second()`, in milliseconds,
/// and the median of their `pairs` ratios second/first, after [`WARM_UP`].
///
/// On a machine whose speed drifts over minutes, a ratio of two calls timed back to back is
/// steadier than the ratio of two criterion medians taken seconds apart. compare.py measures
/// PyTorch and JAX the same way.
///
/// # Panics
///
/// If `pairs` is 0.
pub fn paired<A, B>(
    pairs: usize,
    mut first: impl FnMut() -> A,
    mut second: impl FnMut() -> B,
) -> (f64, f64, f64) {
    assert!(pairs > 0, "paired timing needs at least one pair");
    let warm_up = Instant::now();
    while warm_up.elapsed() < WARM_UP {
        std::hint::black_box(first());
        std::hint::black_box(second());
    }
    let time = |run: &mut dyn FnMut()| {
        let start = Instant::now();
        run();
        start.elapsed().as_secs_f64()
    };
    let (mut firsts, mut seconds, mut ratios) = (vec![], vec![], vec![]);
    for _ in 0..pairs {
        let a = time(&mut || drop(std::hint::black_box(first())));
        let b = time(&mut || drop(std::hint::black_box(second())));
        firsts.push(a * 1e3);
        seconds.push(b * 1e3);
        ratios.push(b / a);
    }
    (
        median(&mut firsts),
        median(&mut seconds),
        median(&mut ratios),
    )
}

/// A bench's `main`: `paired_ratios(pairs)` if `PAIRED=<pairs>` is set, criterion's `benches`
/// otherwise.
///
/// # Panics
///
/// If `PAIRED` is set to anything but a positive number.
pub fn criterion_or_paired(benches: fn(), paired_ratios: fn(usize)) {
    match std::env::var("PAIRED") {
        Ok(pairs) => {
            let pairs = pairs.parse().ok().filter(|&pairs| pairs > 0);
            paired_ratios(pairs.expect("PAIRED: a positive number of pairs"));
        }
        Err(_) => {
            benches();
            criterion::Criterion::default()
                .configure_from_args()
                .final_summary();
        }
    }
}

/// The middle element of `values` once sorted (the upper of the two middle ones for an even
/// count).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
