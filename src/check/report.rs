//! What a gradient check found: one [`Discrepancy`] per compared element, the passing
//! [`GradCheckReport`], the failing [`GradCheckError`] and the node it blames ([`Culprit`]),
//! with the tables their `Display` prints. This file compares numbers and formats them; it
//! computes no derivative.

use super::examine::{Look, Verdict};
use crate::tape::NodeId;
use std::fmt;
use std::panic::Location;

/// One gradient element, computed both ways.
#[derive(Clone, Debug, PartialEq)]
pub struct Discrepancy {
    /// Which input (of the checked function, or argument of the node) the element belongs to.
    pub input: usize,
    /// The element's index in that input, one entry per dimension (`[]` for a scalar).
    pub index: Vec<usize>,
    /// The gradient from the backward pass (or the hand-written gradient function).
    pub analytic: f64,
    /// The central finite difference, at `step`.
    pub numeric: f64,
    /// The step of the finite difference the verdict rests on: the first one tried unless a
    /// second look at other steps found one that agrees.
    pub step: f64,
    /// How much of the difference rounding error can explain at that step (added to the
    /// tolerances).
    pub rounding: f64,
    /// What the check concluded.
    pub verdict: Verdict,
    /// `|analytic − numeric|`.
    pub abs_error: f64,
    /// `|analytic − numeric| / max(|analytic|, |numeric|)`, 0 when both are 0.
    pub rel_error: f64,
}

impl Discrepancy {
    fn new(input: usize, index: Vec<usize>, look: Look) -> Discrepancy {
        let Look {
            analytic,
            numeric,
            step,
            rounding,
            verdict,
        } = look;
        let abs_error = (analytic - numeric).abs();
        let scale = analytic.abs().max(numeric.abs());
        let rel_error = if abs_error == 0.0 {
            0.0
        } else {
            abs_error / scale
        };
        Discrepancy {
            input,
            index,
            analytic,
            numeric,
            step,
            rounding,
            verdict,
            abs_error,
            rel_error,
        }
    }
}

/// The step and tolerances a comparison runs with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tolerance {
    pub step: f64,
    pub atol: f64,
    pub rtol: f64,
}

impl Tolerance {
    /// The largest error the tolerances allow between `analytic` and `numeric` (rounding's
    /// allowance comes on top).
    pub fn allowed(&self, analytic: f64, numeric: f64) -> f64 {
        self.atol + self.rtol * analytic.abs().max(numeric.abs())
    }

    /// How many allowed errors `d` is off; infinite for NaN, so that NaN sorts first.
    fn excess(&self, d: &Discrepancy) -> f64 {
        if d.abs_error == 0.0 {
            return 0.0; // an exact match, even where atol = 0 makes the allowance 0 (0/0)
        }
        let excess = d.abs_error / (self.allowed(d.analytic, d.numeric) + d.rounding);
        if excess.is_nan() {
            f64::INFINITY
        } else {
            excess
        }
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step {:e}·max(1, |x|); an element passes when |analytic − numeric| ≤ ",
            self.step
        )?;
        if self.atol > 0.0 {
            write!(f, "{:e} + ", self.atol)?;
        }
        write!(
            f,
            "{:e}·max(|analytic|, |numeric|) + rounding, at that step or another",
            self.rtol
        )
    }
}

/// Collects the elements of one check as they are computed.
pub(crate) struct Comparison {
    tolerance: Tolerance,
    checked: usize,
    max_abs_error: f64,
    max_rel_error: f64,
    /// The element closest to failing (or furthest past it).
    worst: Option<Discrepancy>,
    failures: Vec<Discrepancy>,
    refined: Vec<Discrepancy>,
}

/// A comparison that failed, waiting for its culprit.
pub(crate) struct Failure {
    tolerance: Tolerance,
    checked: usize,
    failed: usize,
    worst: Vec<Discrepancy>,
}

impl Comparison {
    pub fn new(tolerance: Tolerance) -> Comparison {
        Comparison {
            tolerance,
            checked: 0,
            max_abs_error: 0.0,
            max_rel_error: 0.0,
            worst: None,
            failures: Vec::new(),
            refined: Vec::new(),
        }
    }

    /// Records the look at element `flat` (row-major) of input `input`, of shape `shape`.
    pub fn add(&mut self, input: usize, shape: &[usize], flat: usize, look: Look) {
        let d = Discrepancy::new(input, multi_index(flat, shape), look);
        self.checked += 1;
        self.max_abs_error = max_keeping_nan(self.max_abs_error, d.abs_error);
        self.max_rel_error = max_keeping_nan(self.max_rel_error, d.rel_error);
        let excess = self.tolerance.excess(&d);
        if self
            .worst
            .as_ref()
            .is_none_or(|w| excess > self.tolerance.excess(w))
        {
            self.worst = Some(d.clone());
        }
        if !d.verdict.passes() {
            self.failures.push(d);
        } else if let Verdict::AgreesAtStep(_) = d.verdict {
            self.refined.push(d);
        }
    }

    /// The elements that failed, if any (the `rows` worst, worst first), else the report.
    pub fn finish(mut self, rows: usize) -> Result<GradCheckReport, Failure> {
        if self.failures.is_empty() {
            return Ok(GradCheckReport {
                checked: self.checked,
                max_abs_error: self.max_abs_error,
                max_rel_error: self.max_rel_error,
                worst: self.worst,
                refined: self.refined,
            });
        }
        // Worst first; errors within a few percent of each other count as equal and keep the
        // order they were computed in (the sort is stable), so that rows off by the same amount
        // read in index order instead of in the order of their rounding noise.
        let tolerance = self.tolerance;
        let rank = |d: &Discrepancy| (tolerance.excess(d).log2() * 16.0).floor();
        self.failures.sort_by(|a, b| rank(b).total_cmp(&rank(a)));
        let failed = self.failures.len();
        self.failures.truncate(rows);
        Err(Failure {
            tolerance,
            checked: self.checked,
            failed,
            worst: self.failures,
        })
    }
}

/// What the search for the wrong node found, for a [`GradCheckError`].
pub(crate) struct Search {
    pub culprit: Culprit,
    /// Nodes met before the culprit at a kink or unresolved.
    pub unjudged: Vec<(NodeSite, Verdict)>,
}

impl Search {
    pub fn not_searched() -> Search {
        Search {
            culprit: Culprit::NotSearched,
            unjudged: Vec::new(),
        }
    }
}

impl Failure {
    pub fn into_error(self, search: Search) -> GradCheckError {
        let Search { culprit, unjudged } = search;
        GradCheckError {
            checked: self.checked,
            failed: self.failed,
            worst: self.worst,
            step: self.tolerance.step,
            atol: self.tolerance.atol,
            rtol: self.tolerance.rtol,
            culprit,
            unjudged,
            order: 1,
        }
    }

    /// The worst elements, for a node's local check.
    pub fn into_worst(self) -> (usize, usize, Vec<Discrepancy>) {
        (self.checked, self.failed, self.worst)
    }
}

/// The larger of the two, or NaN if either is: `f64::max` would drop a NaN error, which must
/// show in the summary.
fn max_keeping_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// The row-major `flat` position as an index per dimension of `shape`.
fn multi_index(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &dim) in shape.iter().enumerate().rev() {
        index[i] = flat % dim;
        flat /= dim;
    }
    index
}

/// Every element agreed: how closely.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckReport {
    /// The number of gradient elements compared.
    pub checked: usize,
    /// The largest absolute error over all elements.
    pub max_abs_error: f64,
    /// The largest relative error over all elements.
    pub max_rel_error: f64,
    /// The element closest to its tolerance (`None` if there were no elements).
    pub worst: Option<Discrepancy>,
    /// The elements that disagreed at the first step but agree at another (their
    /// [`Verdict::AgreesAtStep`] holds it): a kink or the domain's edge closer to the point
    /// than the first step, strong curvature, or rounding that needed a longer step.
    pub refined: Vec<Discrepancy>,
}

impl fmt::Display for GradCheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gradcheck passed: {} gradient elements agree with central finite differences \
             (largest abs error {:.1e}, largest rel error {:.1e})",
            self.checked, self.max_abs_error, self.max_rel_error
        )?;
        if !self.refined.is_empty() {
            write!(
                f,
                "; {} of them only at another step (a kink or the domain's edge within the \
                 first step, strong curvature, or rounding)",
                self.refined.len()
            )?;
        }
        Ok(())
    }
}

/// Where a node of the checked graph is, for a report.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSite {
    /// The node's position on the tape.
    pub node: NodeId,
    /// Its op's name (a custom op's own name).
    pub op: &'static str,
    /// Its inputs, in argument order, and their shapes.
    pub inputs: Vec<(NodeId, Vec<usize>)>,
    /// The line that recorded it.
    pub location: &'static Location<'static>,
}

impl fmt::Display for NodeSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} = {}(", self.node, self.op)?;
        for (i, (input, shape)) in self.inputs.iter().enumerate() {
            let separator = if i > 0 { ", " } else { "" };
            write!(f, "{separator}{input:?}: {shape:?}")?;
        }
        write!(f, "), recorded at {}", self.location)
    }
}

/// A node whose own derivative rule disagrees with finite differences of its op alone.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeFault {
    /// The node.
    pub site: NodeSite,
    /// The number of gradient elements of its inputs compared.
    pub checked: usize,
    /// How many of them disagree.
    pub failed: usize,
    /// The worst of them; `input` is the argument's position in `site.inputs`.
    pub worst: Vec<Discrepancy>,
}

/// What the search for the wrong node found.
#[derive(Clone, Debug, PartialEq)]
pub enum Culprit {
    /// The first node, in creation order, whose vector-Jacobian product disagrees with finite
    /// differences of its op alone (at the values the forward pass gave its inputs).
    Node(Box<NodeFault>),
    /// Every node's rule agrees on its own: the mismatch comes from the graph as a whole (a
    /// value taken out with `.value()` and fed back as a constant, an `f` that is not the same
    /// function on every call), from a kink (see `kinks`), or from tolerances too tight.
    NoneFound,
    /// No search was made ([`Localize::Off`](super::Localize::Off), or no tape to search).
    NotSearched,
}

/// Some gradient elements disagree with finite differences.
///
/// Its `Display` is the report to read: the worst elements as a table, then the node to blame.
/// `Debug` prints the same report, so that `gradcheck(…).unwrap()` in a test shows it.
#[derive(Clone, PartialEq)]
pub struct GradCheckError {
    /// The number of gradient elements compared.
    pub checked: usize,
    /// How many of them disagree.
    pub failed: usize,
    /// The worst of them, worst first.
    pub worst: Vec<Discrepancy>,
    /// The finite-difference step used.
    pub step: f64,
    /// The absolute tolerance used.
    pub atol: f64,
    /// The relative tolerance used.
    pub rtol: f64,
    /// The node whose rule is wrong, if the search found one.
    pub culprit: Culprit,
    /// The order of the derivatives checked: 1 for [`gradcheck`](super::gradcheck), 2 for
    /// [`gradgradcheck`](super::gradgradcheck) (whose elements are those of `H·v`).
    pub order: u8,
    /// Nodes the search met before the culprit whose op alone finite differences cannot
    /// judge, with why: [`Verdict::Kink`] (its inputs sit where the op is not differentiable,
    /// such as relu at 0: the one-sided differences disagree) or [`Verdict::Unresolved`] (every
    /// step leaves the op's domain, or rounding swamps its difference).
    pub unjudged: Vec<(NodeSite, Verdict)>,
}

impl GradCheckError {
    /// The same error, for derivatives of `order`.
    pub(crate) fn of_order(mut self, order: u8) -> GradCheckError {
        self.order = order;
        self
    }

    /// The nodes of [`unjudged`](Self::unjudged) with this verdict.
    pub fn unjudged_as(&self, verdict: Verdict) -> Vec<&NodeSite> {
        self.unjudged
            .iter()
            .filter(|(_, v)| *v == verdict)
            .map(|(site, _)| site)
            .collect()
    }

    /// The wrong node, if the search found one.
    pub fn culprit_node(&self) -> Option<&NodeFault> {
        match &self.culprit {
            Culprit::Node(fault) => Some(fault),
            Culprit::NoneFound | Culprit::NotSearched => None,
        }
    }
}

impl fmt::Display for GradCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tolerance = Tolerance {
            step: self.step,
            atol: self.atol,
            rtol: self.rtol,
        };
        if self.order == 2 {
            writeln!(
                f,
                "gradgradcheck failed: {} of {} Hessian-vector product elements disagree with \
                 central finite differences of the gradient",
                self.failed, self.checked
            )?;
        } else {
            writeln!(
                f,
                "gradcheck failed: {} of {} gradient elements disagree with central finite \
                 differences",
                self.failed, self.checked
            )?;
        }
        writeln!(f, "({tolerance})")?;
        writeln!(f)?;
        write_table(f, "input", &self.worst, self.failed)?;
        if self.worst.iter().any(|d| d.verdict != Verdict::Disagrees) {
            writeln!(
                f,
                "(\"kink\": not differentiable there, the one-sided differences disagree; \
                 \"unresolved\": every step leaves the domain, or rounding swamps the \
                 difference; neither blames a rule)"
            )?;
        }
        match &self.culprit {
            Culprit::Node(fault) => {
                writeln!(f)?;
                let what = if self.order == 2 {
                    "whose rule differentiates wrongly (its second derivatives checked alone"
                } else {
                    "whose own derivative rule is wrong (checked alone"
                };
                writeln!(
                    f,
                    "The first node {what}, at the inputs the forward pass gave it):"
                )?;
                writeln!(f, "  {}", fault.site)?;
                write_table(f, "arg", &fault.worst, fault.failed)?;
            }
            Culprit::NoneFound => {
                writeln!(f)?;
                writeln!(
                    f,
                    "Every node's own derivative rule agrees with finite differences of its op \
                     alone, so no single op is to blame: look for a value taken out with \
                     .value() and fed back as a constant, a function that differs between calls, \
                     a kink, or tolerances too tight for this function."
                )?;
            }
            Culprit::NotSearched => {}
        }
        let kinks = self.unjudged_as(Verdict::Kink);
        if !kinks.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "Evaluated where they are not differentiable (their one-sided differences \
                 disagree), so finite differences say nothing about them:"
            )?;
            for site in kinks {
                writeln!(f, "  {site}")?;
            }
        }
        let unresolved = self.unjudged_as(Verdict::Unresolved);
        if !unresolved.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "Not judged: every finite difference of their op alone leaves its domain or \
                 drowns in rounding error:"
            )?;
            for site in unresolved {
                writeln!(f, "  {site}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for GradCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for GradCheckError {}

/// One line per discrepancy, columns aligned; then how many rows were left out.
fn write_table(
    f: &mut fmt::Formatter<'_>,
    input_header: &str,
    rows: &[Discrepancy],
    total: usize,
) -> fmt::Result {
    let indices: Vec<String> = rows.iter().map(|d| format!("{:?}", d.index)).collect();
    let index_width = indices.iter().map(String::len).max().unwrap_or(0).max(5);
    let input_width = input_header.len().max(5);
    writeln!(
        f,
        "  {input_header:>input_width$}  {:<index_width$}  {:>14}  {:>14}  {:>9}  {:>9}  verdict",
        "index", "analytic", "numeric", "abs error", "rel error"
    )?;
    for (d, index) in rows.iter().zip(&indices) {
        writeln!(
            f,
            "  {:>input_width$}  {index:<index_width$}  {:>14.6e}  {:>14.6e}  {:>9.1e}  {:>9.1e}  {}",
            d.input,
            d.analytic,
            d.numeric,
            d.abs_error,
            d.rel_error,
            d.verdict.label()
        )?;
    }
    if total > rows.len() {
        writeln!(f, "  … and {} more", total - rows.len())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_positions_become_row_major_indices() {
        assert_eq!(multi_index(0, &[]), Vec::<usize>::new());
        assert_eq!(multi_index(5, &[2, 3]), [1, 2]);
        assert_eq!(multi_index(7, &[2, 2, 2]), [1, 1, 1]);
        assert_eq!(multi_index(3, &[4]), [3]);
    }

    fn look(analytic: f64, numeric: f64, verdict: Verdict) -> Look {
        Look {
            analytic,
            numeric,
            step: 1e-6,
            rounding: 0.0,
            verdict,
        }
    }

    #[test]
    fn errors_are_symmetric_and_nan_sorts_first() {
        let d = Discrepancy::new(0, vec![], look(2.0, 1.0, Verdict::Disagrees));
        assert_eq!((d.abs_error, d.rel_error), (1.0, 0.5));
        let exact = Discrepancy::new(0, vec![], look(0.0, 0.0, Verdict::Agrees));
        assert_eq!(exact.rel_error, 0.0);
        let tolerance = Tolerance {
            step: 1e-6,
            atol: 1e-6,
            rtol: 1e-5,
        };
        let mut comparison = Comparison::new(tolerance);
        comparison.add(0, &[3], 0, look(1.0, 1.0, Verdict::Agrees));
        comparison.add(0, &[3], 1, look(1.0, 3.0, Verdict::Disagrees));
        comparison.add(0, &[3], 2, look(f64::NAN, 1.0, Verdict::Disagrees));
        let Err(failure) = comparison.finish(8) else {
            panic!("two elements disagree")
        };
        let (checked, failed, worst) = failure.into_worst();
        assert_eq!((checked, failed), (3, 2));
        assert_eq!(worst[0].index, [2], "NaN is the worst");
        assert_eq!(worst[1].index, [1]);
    }

    #[test]
    fn a_tolerance_is_absolute_plus_relative() {
        let tolerance = Tolerance {
            step: 1e-6,
            atol: 1e-6,
            rtol: 1e-5,
        };
        assert_eq!(tolerance.allowed(1e5, 1e5 + 1.0), 1e-6 + 1e-5 * (1e5 + 1.0));
        assert_eq!(tolerance.allowed(-3.0, 0.0), 1e-6 + 3e-5);
    }
}
