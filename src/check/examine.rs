//! The verdict on one derivative: a finite difference, how much of it rounding can explain, and
//! a second look at other steps before anything is called wrong.
//!
//! A central difference `(L(x + h) − L(x − h)) / 2h` can miss the derivative for three reasons
//! that say nothing about the rule being checked:
//!
//! - **rounding:** each evaluation of `L` is off by some `E`, so the quotient by up to `2E/2h`.
//!   `E` is estimated from the recorded graph (see [`noise`]), so a loss of 10⁹ with a gradient
//!   of 1 gets the allowance it needs and a loss of 1 keeps a tight one;
//! - **truncation:** `h²·|L‴|/6`, large where `L` curves sharply (ln near 0);
//! - **a kink or the domain's edge within the step:** relu at `3e-7` with `h = 1e-6`, ln at
//!   `1e-8`, where `x − h` is outside the domain.
//!
//! So an element that fails at the first step is looked at again: at steps ten, a hundred, …
//! times smaller (truncation and kinks within the step shrink away, until rounding grows too
//! large to tell anything) and, if the first step was swamped by rounding, ten to a thousand
//! times larger. It agrees if some step both agrees and is *informative* (rounding cannot hide
//! an error of a tenth of the value). Otherwise its [`Verdict`] says which of the three it is,
//! or that the rule is wrong: the one-sided differences tell a kink (they disagree by an amount
//! that does not shrink with the step), and no informative step at all means it cannot be
//! checked here, unless the rule's value is itself below the noise floor (a derivative of 0
//! where the function is constant). Only `Disagrees` blames a rule.

use super::report::Tolerance;

/// How many times the first-order rounding estimate of an evaluation the allowance is. The
/// estimate counts each node's rounding once, as if every op rounded by one unit in the last
/// place; libm's functions and long sums round by a few.
const ROUNDING_SAFETY: f64 = 8.0;

/// The largest fraction of the value rounding may hide for a step to count as evidence.
const RESOLUTION: f64 = 0.1;

/// How many times smaller, and larger, than the first step the second look goes.
const SMALLER_STEPS: i32 = 6;
const LARGER_STEPS: i32 = 3;

/// What a check concluded about one derivative.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// The finite difference at the first step agrees.
    Agrees,
    /// The first step did not agree (a kink or the domain's edge within it, strong curvature,
    /// or rounding), but this step does.
    AgreesAtStep(f64),
    /// The one-sided differences disagree at every small step: the function is not
    /// differentiable here, so finite differences cannot judge the rule.
    Kink,
    /// No step gives a finite difference that rounding error cannot swamp: the function leaves
    /// its domain on both sides, or its rounding noise exceeds the derivative.
    Unresolved,
    /// Informative, smooth finite differences disagree with the rule at every step.
    Disagrees,
}

impl Verdict {
    /// Whether the derivative passed.
    pub fn passes(self) -> bool {
        matches!(self, Verdict::Agrees | Verdict::AgreesAtStep(_))
    }

    /// A word for the failure tables.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Verdict::Agrees | Verdict::AgreesAtStep(_) => "agrees",
            Verdict::Kink => "kink",
            Verdict::Unresolved => "unresolved",
            Verdict::Disagrees => "wrong",
        }
    }
}

/// One derivative, computed both ways, and the verdict.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Look {
    pub analytic: f64,
    /// The finite difference at the step the verdict rests on (the first, if none agreed).
    pub numeric: f64,
    /// That step.
    pub step: f64,
    /// The rounding allowance at that step.
    pub rounding: f64,
    pub verdict: Verdict,
}

/// The first-order estimate of the rounding error of one evaluation of the checked loss `L`:
/// `ε · Σ |∂L/∂z| · |z|` over the elements `z` of every node the gradient flowed through. Each
/// node's rounding `ε·|z|` reaches `L` multiplied by its adjoint `∂L/∂z` (which the backward
/// pass has just computed), and a sum that cancels is charged for its terms, because its inputs
/// are nodes too.
pub(crate) fn noise<'a>(nodes: impl Iterator<Item = (&'a [f64], &'a [f64])>) -> f64 {
    let weighted: f64 = nodes
        .map(|(adjoint, value)| {
            adjoint
                .iter()
                .zip(value)
                .map(|(g, z)| (g * z).abs())
                .sum::<f64>()
        })
        .sum();
    f64::EPSILON * weighted
}

/// The line the derivative is taken along: `value(t)` is `L` at the point moved by `t` along
/// it, and returns the move actually made (`(x + t) − x` in floating point) with the value.
pub(crate) trait Line {
    fn value(&mut self, t: f64) -> (f64, f64);
}

impl<F: FnMut(f64) -> (f64, f64)> Line for F {
    fn value(&mut self, t: f64) -> (f64, f64) {
        self(t)
    }
}

/// One central difference and what it can tell.
#[derive(Clone, Copy)]
struct Quotient {
    step: f64,
    numeric: f64,
    rounding: f64,
}

impl Quotient {
    fn at(line: &mut impl Line, step: f64, noise: f64) -> Quotient {
        let (up, above) = line.value(step);
        let (down, below) = line.value(-step);
        Quotient {
            step,
            numeric: (above - below) / (up - down),
            rounding: ROUNDING_SAFETY * 2.0 * noise / (up - down),
        }
    }

    /// Whether rounding leaves this difference able to show an error of a tenth of the value.
    fn informative(&self, analytic: f64, tolerance: &Tolerance) -> bool {
        let value = analytic.abs().max(self.numeric.abs());
        self.numeric.is_finite() && self.rounding <= tolerance.atol.max(RESOLUTION * value)
    }

    /// The truncation error `C·h²` of this difference, estimated from a neighbouring step's:
    /// their difference is `C·|h² − h′²|`, less what rounding explains; counted twice over.
    fn truncation(&self, neighbour: &Quotient) -> f64 {
        let gap = (self.numeric - neighbour.numeric).abs() - self.rounding - neighbour.rounding;
        if !gap.is_finite() {
            return 0.0; // a step outside the domain tells nothing about truncation
        }
        let ratio = self.step.powi(2) / (self.step.powi(2) - neighbour.step.powi(2)).abs();
        2.0 * gap.max(0.0) * ratio
    }

    fn agrees(&self, analytic: f64, truncation: f64, tolerance: &Tolerance) -> bool {
        let allowed = tolerance.allowed(analytic, self.numeric) + self.rounding + truncation;
        (analytic - self.numeric).abs() <= allowed
    }

    fn look(&self, analytic: f64, verdict: Verdict) -> Look {
        Look {
            analytic,
            numeric: self.numeric,
            step: self.step,
            rounding: self.rounding,
            verdict,
        }
    }
}

/// The verdict on `analytic` as the derivative of `line` at 0, starting from step `first`.
/// `noise` is the rounding estimate of one evaluation.
pub(crate) fn examine(
    line: &mut impl Line,
    analytic: f64,
    first: f64,
    noise: f64,
    tolerance: &Tolerance,
) -> Look {
    let initial = Quotient::at(line, first, noise);
    let informative = initial.informative(analytic, tolerance);
    if informative && initial.agrees(analytic, 0.0, tolerance) {
        return initial.look(analytic, Verdict::Agrees);
    }
    let mut smallest_informative = informative.then_some(first);
    // Smaller steps while rounding leaves them informative (or while outside the domain, where
    // the quotient is not finite), then larger ones if rounding swamped every smaller one. Each
    // step may differ from the derivative by the truncation its neighbour shows: that lets a
    // derivative of 0 that the differences approach as h² (x³ at 0) agree, and moves a wrong
    // rule's error, which does not change with the step, not at all.
    let mut neighbour = initial;
    for k in 1..=SMALLER_STEPS {
        let candidate = Quotient::at(line, first / 10f64.powi(k), noise);
        let truncation = candidate.truncation(&neighbour);
        neighbour = candidate;
        if candidate.informative(analytic, tolerance) {
            if candidate.agrees(analytic, truncation, tolerance) {
                return candidate.look(analytic, Verdict::AgreesAtStep(candidate.step));
            }
            smallest_informative = Some(candidate.step);
        } else if candidate.numeric.is_finite() {
            break; // rounding already swamps this step, and smaller ones are worse
        }
    }
    if smallest_informative.is_none() {
        let mut neighbour = initial;
        for k in 1..=LARGER_STEPS {
            let candidate = Quotient::at(line, first * 10f64.powi(k), noise);
            let truncation = candidate.truncation(&neighbour);
            neighbour = candidate;
            if candidate.informative(analytic, tolerance) {
                if candidate.agrees(analytic, truncation, tolerance) {
                    return candidate.look(analytic, Verdict::AgreesAtStep(candidate.step));
                }
                smallest_informative.get_or_insert(candidate.step);
            }
        }
    }
    // No step resolves the derivative; a rule that says it is below the noise floor, where
    // the first difference also is, is as right as can be told.
    let below_noise =
        initial.agrees(analytic, 0.0, tolerance) && analytic.abs() <= initial.rounding;
    let verdict = match smallest_informative {
        None if below_noise => Verdict::Agrees,
        None => Verdict::Unresolved,
        Some(step) if is_kink(line, step, noise, analytic, tolerance) => Verdict::Kink,
        Some(_) => Verdict::Disagrees,
    };
    initial.look(analytic, verdict)
}

/// Whether the one-sided differences at `step` disagree beyond what rounding and the
/// tolerances allow, by a gap that does not shrink tenfold with a tenfold smaller step: a kink
/// or a jump. At a smooth point the gap is about `step·|L″|`, so it shrinks with the step.
fn is_kink(
    line: &mut impl Line,
    step: f64,
    noise: f64,
    analytic: f64,
    tolerance: &Tolerance,
) -> bool {
    let (_, centre) = line.value(0.0);
    let mut gap = |step: f64| {
        let (up, above) = line.value(step);
        let (down, below) = line.value(-step);
        let right = (above - centre) / up;
        let left = (centre - below) / -down;
        let rounding = ROUNDING_SAFETY * 2.0 * noise / up.min(-down);
        ((right - left).abs(), rounding)
    };
    let allowed = tolerance.atol.max(RESOLUTION * analytic.abs());
    let (wide, wide_rounding) = gap(step * 10.0);
    let (narrow, narrow_rounding) = gap(step);
    let beyond = |gap: f64, rounding: f64| gap.is_finite() && gap > allowed + rounding;
    beyond(wide, wide_rounding) && beyond(narrow, narrow_rounding) && narrow > 0.5 * wide
}
