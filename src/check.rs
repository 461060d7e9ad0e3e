//! Gradient checking: reverse-mode gradients against central finite differences, for users'
//! own tests (the counterpart of PyTorch's `gradcheck` and JAX's `check_grads`).
//!
//! [`gradcheck`] compares every gradient element of a function built on the tape; when one
//! disagrees, it re-checks every node of the graph on its own and names the first whose
//! derivative rule is wrong, with the line that recorded it. [`check_gradient_fn`] checks a
//! hand-written gradient function without a tape; [`numeric_grad`], [`numeric_jacobian`] and
//! [`jacobian`] return the matrices themselves. This file holds the options and the two checks;
//! the differences are in `check/finite_diff.rs`, the reports in `check/report.rs`, the search
//! for the wrong node in `check/localize.rs`. Nothing here changes how `backward()` works.
//!
//! # The step, the tolerances and the verdicts
//!
//! A central difference `(L(x + h) − L(x − h)) / 2h` has two errors: truncation,
//! `h²·|L‴|/6`, which shrinks with `h`, and rounding, about `E/h` where `E` is the rounding
//! error of one evaluation of `L`, which grows as `h` shrinks. The first step is
//! [`DEFAULT_STEP`]` · max(1, |x|)`: near the optimum `(3ε)^⅓ ≈ 1e-5` for well-scaled
//! functions, a little smaller because checked functions often have large third derivatives,
//! and scaled with `|x|` so that `x ± h` moves at all where `|x|` is large. `E` is estimated
//! from the recorded graph (each node's rounding `ε·|z|` times its adjoint `|∂L/∂z|`), and the
//! rounding it explains is allowed on top of the tolerances: an element passes when
//! `|analytic − numeric| ≤ atol + rtol·max(|analytic|, |numeric|) + rounding`. [`DEFAULT_RTOL`]
//! is `1e-5`, because a wrong rule is wrong by a factor (a missing 2, a sign, a forgotten
//! term), never by a part in 10⁵; [`DEFAULT_ATOL`] is 0, so that gradients of any size are
//! checked relative to themselves and to the function's own noise.
//!
//! An element that fails at the first step gets a second look at steps up to 10⁶ times
//! smaller (a kink or the domain's edge within the first step, strong curvature) and, where
//! rounding swamped it, up to 10³ times larger; it agrees if some step agrees while rounding
//! there could not hide a tenth of the value. Otherwise its [`Verdict`] says why: a kink (the
//! one-sided differences disagree at every step), unresolved (no step is both inside the
//! domain and above the noise), or wrong. Only a wrong element blames a rule.

mod directional;
mod examine;
mod finite_diff;
mod gradgrad;
mod localize;
mod report;

pub use examine::Verdict;
pub use finite_diff::{jacobian, numeric_grad, numeric_jacobian};
pub use gradgrad::gradgradcheck;
pub use report::{Culprit, Discrepancy, GradCheckError, GradCheckReport, NodeFault, NodeSite};

use crate::backward::Grads;
use crate::tape::Tape;
use crate::tensor::Tensor;
use crate::var::Var;
use finite_diff::{dot, evaluate, loss_at, random_tensor};
use report::{Comparison, Search, Tolerance};

/// The finite-difference step `h` of every check (see the [module docs](self) for why).
pub const DEFAULT_STEP: f64 = 1e-6;
/// The absolute tolerance: an element passes when `|analytic − numeric| ≤ atol + rtol·m +
/// rounding`, with `m = max(|analytic|, |numeric|)` and `rounding` estimated from the graph. 0,
/// so that a gradient of 10⁻⁸ is checked as closely as one of 1.
pub const DEFAULT_ATOL: f64 = 0.0;
/// The relative tolerance (see [`DEFAULT_ATOL`]).
pub const DEFAULT_RTOL: f64 = 1e-5;

/// The cotangent `u` a check seeds the backward pass with: it compares the gradients of
/// `L = Σ u ⊙ f(inputs)`.
#[derive(Clone, Debug, PartialEq)]
pub enum Cotangent {
    /// `u = 1`: the output must hold exactly one element (a loss).
    One,
    /// `u` uniform in ±[0.5, 1.5] from a seeded generator, for an output of any shape: every
    /// output element is checked at once, and no element is weighted near zero.
    Random {
        /// The generator's seed, so that a failure can be reproduced.
        seed: u64,
    },
    /// This tensor, which must have the output's shape.
    Given(Tensor),
}

/// Whether a failing [`gradcheck`] searches for the node whose rule is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Localize {
    /// Re-check every node on its own and name the first whose rule is wrong (the default).
    FirstWrongNode,
    /// Report the mismatching elements only (for graphs so large that re-checking is slow).
    Off,
}

/// Which finite differences a [`gradcheck`] compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every gradient element on its own: two evaluations of `f` per input element (the
    /// default). A failure lists the worst elements.
    Elementwise,
    /// The derivative along `projections` random directions `v`, `⟨∇L, v⟩` against
    /// `(L(x + h·v) − L(x − h·v)) / 2h`: two evaluations of `f` per direction, whatever the
    /// number of inputs (PyTorch's `fast_mode`). If a direction disagrees, the check falls back
    /// to [`Mode::Elementwise`], so a failure reports and localizes as usual.
    Directional {
        /// How many random directions.
        projections: usize,
        /// The seed of the directions, whose elements are uniform in ±[0.5, 1.5].
        seed: u64,
    },
}

/// How a check differentiates numerically and when it calls two values equal.
///
/// ```
/// use tapegrad::check::{Cotangent, GradCheckOptions};
///
/// let options = GradCheckOptions::default()
///     .with_tolerances(1e-5, 1e-4)
///     .with_cotangent(Cotangent::Random { seed: 7 });
/// assert_eq!(options.step, 1e-6);
/// assert_eq!((options.atol, options.rtol), (1e-5, 1e-4));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct GradCheckOptions {
    /// The finite-difference step `h`.
    pub step: f64,
    /// The absolute tolerance.
    pub atol: f64,
    /// The relative tolerance.
    pub rtol: f64,
    /// What the backward pass is seeded with.
    pub cotangent: Cotangent,
    /// Whether a failure searches for the wrong node.
    pub localize: Localize,
    /// Elementwise or along random directions ([`gradcheck`] only).
    pub mode: Mode,
    /// How many of the worst elements a failure report lists.
    pub report_rows: usize,
}

impl Default for GradCheckOptions {
    fn default() -> GradCheckOptions {
        GradCheckOptions {
            step: DEFAULT_STEP,
            atol: DEFAULT_ATOL,
            rtol: DEFAULT_RTOL,
            cotangent: Cotangent::One,
            localize: Localize::FirstWrongNode,
            mode: Mode::Elementwise,
            report_rows: 8,
        }
    }
}

impl GradCheckOptions {
    /// These options with the finite-difference step `h`.
    pub fn with_step(mut self, step: f64) -> GradCheckOptions {
        self.step = step;
        self
    }

    /// These options with the absolute and relative tolerances.
    pub fn with_tolerances(mut self, atol: f64, rtol: f64) -> GradCheckOptions {
        self.atol = atol;
        self.rtol = rtol;
        self
    }

    /// These options with another cotangent (needed for an output of more than one element).
    pub fn with_cotangent(mut self, cotangent: Cotangent) -> GradCheckOptions {
        self.cotangent = cotangent;
        self
    }

    /// These options with the derivatives taken elementwise or along random directions.
    pub fn with_mode(mut self, mode: Mode) -> GradCheckOptions {
        self.mode = mode;
        self
    }

    /// These options with or without the search for the wrong node.
    pub fn with_localize(mut self, localize: Localize) -> GradCheckOptions {
        self.localize = localize;
        self
    }

    fn tolerance(&self) -> Tolerance {
        Tolerance {
            step: self.step,
            atol: self.atol,
            rtol: self.rtol,
        }
    }

    /// Panics, naming `check`, unless the step is finite and positive and the tolerances are
    /// finite and not negative: a step of 0 divides by zero, and a NaN tolerance passes
    /// everything.
    #[track_caller]
    fn validate(&self, check: &str) {
        assert!(
            self.step.is_finite() && self.step > 0.0,
            "{check}: the finite-difference step must be finite and positive, got {}",
            self.step
        );
        if let Mode::Directional { projections, .. } = self.mode {
            assert!(
                projections > 0,
                "{check}: Mode::Directional needs at least one projection"
            );
        }
        for (name, tolerance) in [("atol", self.atol), ("rtol", self.rtol)] {
            assert!(
                tolerance.is_finite() && tolerance >= 0.0,
                "{check}: {name} must be finite and not negative, got {tolerance}"
            );
        }
    }

    /// The cotangent tensor for an output of `shape`.
    #[track_caller]
    fn cotangent_for(&self, shape: &[usize]) -> Tensor {
        match &self.cotangent {
            Cotangent::One => {
                assert!(
                    shape.iter().product::<usize>() == 1,
                    "gradcheck: the output has shape {shape:?}, but Cotangent::One needs a single \
                     element; check a vector-Jacobian product with \
                     .with_cotangent(Cotangent::Random {{ seed: 0 }})"
                );
                Tensor::ones(shape)
            }
            Cotangent::Random { seed } => random_tensor(shape, *seed),
            Cotangent::Given(u) => {
                assert!(
                    u.shape() == shape,
                    "gradcheck: the given cotangent has shape {:?}, but the output has shape \
                     {shape:?}",
                    u.shape()
                );
                u.clone()
            }
        }
    }
}

/// Checks the reverse-mode gradients of `f` at `inputs` against central finite differences,
/// element by element.
///
/// `f` builds its output from Vars on a fresh tape, one `param` per input, and is called once
/// for the gradients and twice per input element for the differences, so it must compute the
/// same function every time. With [`Cotangent::One`] (the default) the output must be a single
/// element; otherwise the check compares the gradients of `Σ u ⊙ output`.
///
/// ```
/// use tapegrad::{Tensor, check::{gradcheck, GradCheckOptions}};
///
/// let x = Tensor::from([0.5, -1.0, 2.0]);
/// let report = gradcheck(|v| (v[0] * v[0]).tanh().sum(), &[x], GradCheckOptions::default())?;
/// assert_eq!(report.checked, 3);
/// assert!(report.max_abs_error < 1e-8);
/// # Ok::<(), tapegrad::check::GradCheckError>(())
/// ```
///
/// # Errors
///
/// [`GradCheckError`] when some element disagrees beyond the tolerances. Its `Display` is a
/// table of the worst elements followed, unless [`Localize::Off`], by the first node whose own
/// rule disagrees with finite differences of that op alone (see [`Culprit`]).
///
/// # Panics
///
/// If the output's shape does not fit the cotangent option, if `f` panics, if the inputs hold
/// no element, or if the step is not finite and positive or a tolerance not finite and
/// non-negative.
#[track_caller]
pub fn gradcheck<F>(
    f: F,
    inputs: &[Tensor],
    options: GradCheckOptions,
) -> Result<GradCheckReport, GradCheckError>
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    options.validate("gradcheck");
    let tape = Tape::new();
    let (vars, output) = record(&tape, &f, inputs, "gradcheck");
    let cotangent = options.cotangent_for(&output.shape());
    let grads = output.backward_with(cotangent.clone());
    let analytic: Vec<Option<&Tensor>> = vars.iter().map(|&x| Some(&grads[x])).collect();
    let noise = tape_noise(&tape, &grads);
    let loss = |inputs: &[Tensor]| dot(&evaluate(&f, inputs), &cotangent);

    if let Mode::Directional { projections, seed } = options.mode {
        let analytic: Vec<&Tensor> = analytic.iter().flatten().copied().collect();
        let along =
            directional::compare(&loss, inputs, &analytic, noise, projections, seed, &options);
        if let Ok(report) = along {
            return Ok(report);
        }
        // A direction disagrees: check every element, which also finds the node to blame.
    }
    compare_elements(&loss, inputs, &analytic, noise, &options)
        .finish(options.report_rows)
        .map_err(|failure| {
            let search = match options.localize {
                Localize::FirstWrongNode => localize::first_wrong_node(&tape, &grads, &options),
                Localize::Off => Search::not_searched(),
            };
            failure.into_error(search)
        })
}

/// The rounding estimate of one evaluation of the loss whose backward pass gave `grads`.
fn tape_noise(tape: &Tape, grads: &Grads) -> f64 {
    let recording = tape.recording();
    let nodes = recording.nodes();
    examine::noise((0..grads.len()).filter_map(|i| {
        let adjoint = grads.slot(i)?;
        Some((adjoint.data(), nodes[i].value.data()))
    }))
}

/// Each element of each input whose `analytic` gradient is given, against finite differences
/// of `loss`, the first step scaled by the element's magnitude.
fn compare_elements(
    loss: &impl Fn(&[Tensor]) -> f64,
    inputs: &[Tensor],
    analytic: &[Option<&Tensor>],
    noise: f64,
    options: &GradCheckOptions,
) -> Comparison {
    let tolerance = options.tolerance();
    let mut comparison = Comparison::new(tolerance);
    let mut shifted = inputs.to_vec();
    for (input, gradient) in analytic.iter().enumerate() {
        let Some(gradient) = gradient else { continue };
        for element in 0..inputs[input].len() {
            let x = inputs[input].data()[element];
            let mut line = |t: f64| {
                let moved = x + t;
                (
                    moved - x,
                    loss_at(loss, &mut shifted, input, element, moved),
                )
            };
            let first = options.step * x.abs().max(1.0);
            let look = examine::examine(
                &mut line,
                gradient.data()[element],
                first,
                noise,
                &tolerance,
            );
            comparison.add(input, inputs[input].shape(), element, look);
        }
    }
    comparison
}

/// Records `f` on `tape` with `inputs` as params: the params and the output.
///
/// # Panics
///
/// If `f` returns a Var of another tape; the message names `check`.
#[track_caller]
fn record<'t, F>(tape: &'t Tape, f: &F, inputs: &[Tensor], check: &str) -> (Vec<Var<'t>>, Var<'t>)
where
    F: for<'s> Fn(&[Var<'s>]) -> Var<'s>,
{
    assert!(
        inputs.iter().any(|x| !x.is_empty()),
        "{check}: the inputs hold no element, so there is no gradient to check"
    );
    let vars: Vec<Var<'t>> = inputs.iter().map(|x| tape.param(x.clone())).collect();
    let output = f(&vars);
    assert!(
        std::ptr::eq(output.tape(), tape),
        "{check}: f returned a Var of another tape; build the output from the Vars it is given"
    );
    (vars, output)
}

/// Checks a hand-written gradient function against central finite differences of the value
/// function, with no tape involved: `gradient(at)` must approximate `∇value(at)`.
///
/// ```
/// use tapegrad::{Tensor, check::{check_gradient_fn, GradCheckOptions}};
///
/// // f(x) = Σ xᵢ³, so ∇f = 3x².
/// let value = |x: &Tensor| x.data().iter().map(|x| x.powi(3)).sum::<f64>();
/// let gradient = |x: &Tensor| 3.0 * &(x * x);
/// let at = Tensor::from([1.0, -2.0, 0.5]);
/// assert!(check_gradient_fn(value, gradient, &at, GradCheckOptions::default()).is_ok());
///
/// let wrong = |x: &Tensor| 2.0 * &(x * x);
/// let error = check_gradient_fn(value, wrong, &at, GradCheckOptions::default()).unwrap_err();
/// assert_eq!(error.failed, 3);
/// ```
///
/// # Errors
///
/// [`GradCheckError`] when some element disagrees beyond the tolerances (its culprit is
/// [`Culprit::NotSearched`]: there is no tape to search).
///
/// # Panics
///
/// If `gradient(at)` does not have `at`'s shape, if `at` holds no element, or on options that
/// [`gradcheck`] refuses.
#[track_caller]
pub fn check_gradient_fn(
    value: impl Fn(&Tensor) -> f64,
    gradient: impl Fn(&Tensor) -> Tensor,
    at: &Tensor,
    options: GradCheckOptions,
) -> Result<GradCheckReport, GradCheckError> {
    options.validate("check_gradient_fn");
    assert!(
        !at.is_empty(),
        "check_gradient_fn: the point holds no element, so there is no gradient to check"
    );
    let analytic = gradient(at);
    assert!(
        analytic.shape() == at.shape(),
        "check_gradient_fn: the gradient function returned shape {:?} at a point of shape {:?}",
        analytic.shape(),
        at.shape()
    );
    let loss = |inputs: &[Tensor]| value(&inputs[0]);
    // No graph to estimate rounding from: charge one unit of rounding per unit of the value.
    let noise = f64::EPSILON * value(at).abs();
    compare_elements(
        &loss,
        std::slice::from_ref(at),
        &[Some(&analytic)],
        noise,
        &options,
    )
    .finish(options.report_rows)
    .map_err(|failure| failure.into_error(Search::not_searched()))
}
