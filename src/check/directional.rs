//! The directional check ([`Mode::Directional`](super::Mode::Directional)): the gradient's
//! projection on a few random directions against the derivative of the loss along them.
//!
//! One direction costs two evaluations of the loss however many inputs there are, so a model
//! with 10⁴ parameters is checked in the time of a few forward passes instead of 2·10⁴ of them.
//! A wrong element of the gradient shows in every direction (each has all of its elements away
//! from zero, in ±[0.5, 1.5]), unless it is wrong by less than the tolerance of the whole
//! projection; the elementwise check is the finer one.

use super::GradCheckOptions;
use super::examine::{self, Verdict};
use super::finite_diff::{dot, random_tensor};
use super::report::{Comparison, Failure, GradCheckReport};
use crate::tensor::Tensor;

/// Seeds of different directions are this far apart, each input's a step of one.
const SEED_STRIDE: u64 = 0x1_0000;

/// `⟨∇L, v⟩` against the derivative of `loss` along `v`, for `projections` random `v`.
pub(crate) fn compare(
    loss: &impl Fn(&[Tensor]) -> f64,
    inputs: &[Tensor],
    analytic: &[&Tensor],
    noise: f64,
    projections: usize,
    seed: u64,
    options: &GradCheckOptions,
) -> Result<GradCheckReport, Failure> {
    let tolerance = options.tolerance();
    let largest_input = inputs
        .iter()
        .flat_map(|x| x.data())
        .fold(1.0, |m: f64, x| m.max(x.abs()));
    let mut comparison = Comparison::new(tolerance);
    for projection in 0..projections {
        let base = seed.wrapping_add(projection as u64 * SEED_STRIDE);
        let directions: Vec<Tensor> = inputs
            .iter()
            .zip(base..)
            .map(|(x, seed)| random_tensor(x.shape(), seed))
            .collect();
        let along: f64 = analytic
            .iter()
            .zip(&directions)
            .map(|(g, v)| dot(g, v))
            .sum();
        let mut line = |t: f64| {
            let moved: Vec<Tensor> = inputs
                .iter()
                .zip(&directions)
                .map(|(x, v)| x.zip_with(v, "gradcheck", |x, v| x + t * v))
                .collect();
            (t, loss(&moved))
        };
        let look = examine::examine(
            &mut line,
            along,
            options.step * largest_input,
            noise,
            &tolerance,
        );
        comparison.add(0, &[projections], projection, look);
        if look.verdict == Verdict::Disagrees {
            break; // the elementwise check takes over
        }
    }
    comparison.finish(options.report_rows)
}
