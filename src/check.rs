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
//! # Choosing the step and the tolerances
//!
//! A central difference `(L(x + h) − L(x − h)) / 2h` has two errors: truncation,
//! `h²·|L‴|/6`, which shrinks with `h`, and rounding, about `ε·|L|/h` (`ε = 2.2e-16`), which
//! grows as `h` shrinks. For `|L|` and `|L‴|` of order 1 their sum is smallest near
//! `h ≈ (3ε)^⅓ ≈ 1e-5`; [`DEFAULT_STEP`] is `1e-6`, a little smaller, because the functions
//! people check (products, exponentials of exponentials) often have a large third derivative,
//! and a step ten times smaller costs only ten times the rounding. At `h = 1e-6` the estimate is
//! good to about `1e-10·|L|` plus `1e-13·|L‴|`, and the rounding of a forward pass of a few
//! dozen ops adds a few times `1e-10·|L|`. Hence [`DEFAULT_ATOL`] `= 1e-6`, a hundredfold margin
//! over that noise for `|L|` up to about 100 (a sum of a hundred terms of order one), and
//! [`DEFAULT_RTOL`] `= 1e-5`, because a wrong rule is wrong by a factor (a missing 2, a sign, a
//! forgotten term), never by a part in 10⁵. Raise `atol` in proportion when `|L|` is much
//! larger than 100; lower both only for small, well-scaled functions.

mod finite_diff;
mod gradgrad;
mod localize;
mod report;

pub use finite_diff::{jacobian, numeric_grad, numeric_jacobian};
pub use gradgrad::gradgradcheck;
pub use report::{Culprit, Discrepancy, GradCheckError, GradCheckReport, NodeFault, NodeSite};

use crate::tape::Tape;
use crate::tensor::Tensor;
use crate::var::Var;
use finite_diff::{central_difference, dot, evaluate, random_tensor};
use report::{Comparison, Tolerance};

/// The finite-difference step `h` of every check (see the [module docs](self) for why).
pub const DEFAULT_STEP: f64 = 1e-6;
/// The absolute tolerance: an element passes when `|analytic − numeric| ≤ atol + rtol·m`, with
/// `m = max(|analytic|, |numeric|)`.
pub const DEFAULT_ATOL: f64 = 1e-6;
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

    let loss = |inputs: &[Tensor]| dot(&evaluate(&f, inputs), &cotangent);
    let mut comparison = Comparison::new(options.tolerance());
    let mut shifted = inputs.to_vec();
    for (input, &var) in vars.iter().enumerate() {
        let analytic = &grads[var];
        for element in 0..inputs[input].len() {
            let numeric = central_difference(&loss, &mut shifted, input, element, options.step);
            comparison.add(
                input,
                inputs[input].shape(),
                element,
                analytic.data()[element],
                numeric,
            );
        }
    }
    comparison.finish(options.report_rows).map_err(|failure| {
        let (culprit, kinks) = match options.localize {
            Localize::FirstWrongNode => localize::first_wrong_node(&tape, &grads, &options),
            Localize::Off => (Culprit::NotSearched, Vec::new()),
        };
        failure.into_error(culprit, kinks)
    })
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
    let mut comparison = Comparison::new(options.tolerance());
    let mut shifted = [at.clone()];
    for element in 0..at.len() {
        let numeric = central_difference(&loss, &mut shifted, 0, element, options.step);
        comparison.add(0, at.shape(), element, analytic.data()[element], numeric);
    }
    comparison
        .finish(options.report_rows)
        .map_err(|failure| failure.into_error(Culprit::NotSearched, Vec::new()))
}
