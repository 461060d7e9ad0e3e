//! Finding the node to blame when a gradient check fails.
//!
//! A wrong gradient of the whole graph is the chain rule applied to at least one wrong local
//! rule. So each node that the backward pass went through is checked on its own, in creation
//! order: its op is recorded again on a fresh tape whose leaves hold the values the forward pass
//! gave its inputs (params where the original input needed a gradient, constants elsewhere), its
//! vector-Jacobian product with a random cotangent is compared with finite differences of that
//! op alone, and the first that disagrees is the culprit. A node whose disagreement does not
//! shrink with the step sits at a kink (relu at 0, tied maxima), where neither side is wrong; it
//! is noted and the search goes on. This file reads the tape; it changes nothing on it.

use super::GradCheckOptions;
use super::finite_diff::{central_difference, dot, loss_at, random_tensor};
use super::report::{Comparison, Culprit, Discrepancy, NodeFault, NodeSite};
use crate::backward::Grads;
use crate::op::Op;
use crate::tape::{NodeId, Recording, Tape};
use crate::tensor::Tensor;
use crate::var::Var;

/// What re-checking one node found.
enum Verdict {
    Agrees,
    /// Every disagreeing element sits where the op is not differentiable.
    AtKink,
    Wrong {
        checked: usize,
        failed: usize,
        worst: Vec<Discrepancy>,
    },
}

/// Whether a leaf of the one-node tape is differentiated, as its original input was.
#[derive(Clone, Copy, PartialEq)]
enum Leaf {
    Param,
    Constant,
}

/// Re-checks, in creation order, every node that the backward pass that produced `grads` went
/// through, and returns the first whose rule is wrong, with the kinks met before it.
pub(crate) fn first_wrong_node(
    tape: &Tape,
    grads: &Grads,
    options: &GradCheckOptions,
) -> (Culprit, Vec<NodeSite>) {
    let recording = tape.recording();
    let mut kinks = Vec::new();
    for index in 0..grads.len() {
        let node = &recording.nodes()[index];
        let is_leaf = node.op.inputs().next().is_none();
        if is_leaf || grads.slot(index).is_none() {
            continue; // nothing to check, or no gradient went through it
        }
        match check_node(&recording, index, options) {
            Verdict::Agrees => {}
            Verdict::AtKink => kinks.push(site(&recording, index)),
            Verdict::Wrong {
                checked,
                failed,
                worst,
            } => {
                let fault = NodeFault {
                    site: site(&recording, index),
                    checked,
                    failed,
                    worst,
                };
                return (Culprit::Node(Box::new(fault)), kinks);
            }
        }
    }
    (Culprit::NoneFound, kinks)
}

pub(crate) fn site(recording: &Recording, index: usize) -> NodeSite {
    let nodes = recording.nodes();
    let node = &nodes[index];
    NodeSite {
        node: NodeId::from_index(index),
        op: node.op.name(),
        inputs: node
            .op
            .inputs()
            .map(|input| (input, nodes[input.index()].value.shape().to_vec()))
            .collect(),
        location: recording.locations[index],
    }
}

/// The node at `index` as a function of its inputs alone.
pub(crate) struct LocalOp {
    /// The op, reading leaves `0..inputs.len()` of a fresh tape.
    pub op: Op,
    /// Its distinct inputs' values, in argument order (`x * x` reads one leaf).
    pub inputs: Vec<Tensor>,
    leaves: Vec<Leaf>,
}

impl LocalOp {
    pub fn new(recording: &Recording, index: usize) -> LocalOp {
        let op = &recording.nodes()[index].op;
        let mut distinct: Vec<NodeId> = Vec::new();
        for input in op.inputs() {
            if !distinct.contains(&input) {
                distinct.push(input);
            }
        }
        let position = |id: NodeId| distinct.iter().position(|&d| d == id);
        let local = op.with_inputs(|id| NodeId::from_index(position(id).expect("an input")));
        LocalOp {
            op: local,
            inputs: distinct
                .iter()
                .map(|id| recording.nodes()[id.index()].value.clone())
                .collect(),
            leaves: distinct
                .iter()
                .map(|id| {
                    if recording.needs_grad[id.index()] {
                        Leaf::Param
                    } else {
                        Leaf::Constant
                    }
                })
                .collect(),
        }
    }

    /// Records the leaves holding `values` and then the op, on `tape`.
    fn record<'t>(&self, tape: &'t Tape, values: &[Tensor]) -> Var<'t> {
        for (value, &leaf) in values.iter().zip(&self.leaves) {
            match leaf {
                Leaf::Param => tape.param(value.clone()),
                Leaf::Constant => tape.constant(value.clone()),
            };
        }
        tape.record(self.op.clone())
    }

    fn leaf(tape: &Tape, position: usize) -> Var<'_> {
        Var::new(tape, NodeId::from_index(position))
    }
}

fn check_node(recording: &Recording, index: usize, options: &GradCheckOptions) -> Verdict {
    let local = LocalOp::new(recording, index);
    let tape = Tape::new();
    let output = local.record(&tape, &local.inputs);
    // A random cotangent checks every output element at once, none weighted near zero.
    let cotangent = random_tensor(&output.shape(), 0x5EED ^ index as u64);
    let grads = output.backward_with(cotangent.clone());
    let loss = |values: &[Tensor]| dot(&local.record(&Tape::new(), values).value(), &cotangent);

    let tolerance = options.tolerance();
    let mut comparison = Comparison::new(tolerance);
    let mut shifted = local.inputs.clone();
    for (position, &leaf) in local.leaves.iter().enumerate() {
        if leaf == Leaf::Constant {
            continue; // its rule never runs in the checked graph
        }
        let analytic = &grads[LocalOp::leaf(&tape, position)];
        for element in 0..shifted[position].len() {
            let numeric = central_difference(&loss, &mut shifted, position, element, options.step);
            let shape = local.inputs[position].shape();
            comparison.add(position, shape, element, analytic.data()[element], numeric);
        }
    }
    let Err(failure) = comparison.finish(usize::MAX) else {
        return Verdict::Agrees;
    };
    let (checked, _, disagreeing) = failure.into_worst();
    let wrong: Vec<Discrepancy> = disagreeing
        .into_iter()
        .filter(|d| {
            let element = flat_index(&d.index, local.inputs[d.input].shape());
            let allowed = tolerance.allowed(d.analytic, d.numeric);
            !is_kink(&loss, &mut shifted, d.input, element, options.step, allowed)
        })
        .collect();
    if wrong.is_empty() {
        return Verdict::AtKink;
    }
    let failed = wrong.len();
    Verdict::Wrong {
        checked,
        failed,
        worst: wrong.into_iter().take(options.report_rows).collect(),
    }
}

/// Whether the one-sided differences at this element disagree by more than `allowed`, by an
/// amount that does not shrink with the step: a kink or a jump. At a smooth point their gap is
/// about `h·|f″|`, so it shrinks tenfold with a tenfold smaller step. A difference that is not
/// finite (the step left the function's domain, as √x or ln x at 0 do) is no evidence against
/// the rule either, so it counts as a kink.
fn is_kink(
    loss: &impl Fn(&[Tensor]) -> f64,
    inputs: &mut [Tensor],
    input: usize,
    element: usize,
    step: f64,
    allowed: f64,
) -> bool {
    let x = inputs[input].data()[element];
    let centre = loss(inputs);
    let mut gap = |h: f64| {
        let (up, down) = (x + h, x - h);
        let right = (loss_at(loss, inputs, input, element, up) - centre) / (up - x);
        let left = (centre - loss_at(loss, inputs, input, element, down)) / (x - down);
        (right - left).abs()
    };
    let wide = gap(step);
    let narrow = gap(step / 10.0);
    !wide.is_finite() || !narrow.is_finite() || (wide > allowed && narrow > 0.5 * wide)
}

/// The row-major position of `index` in `shape`.
fn flat_index(index: &[usize], shape: &[usize]) -> usize {
    index
        .iter()
        .zip(shape)
        .fold(0, |flat, (&i, &dim)| flat * dim + i)
}
