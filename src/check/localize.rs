//! Finding the node to blame when a gradient check fails.
//!
//! A wrong gradient of the whole graph is the chain rule applied to at least one wrong local
//! rule. So each node that the backward pass went through is checked on its own, in creation
//! order: its op is recorded again on a fresh tape whose leaves hold the values the forward pass
//! gave its inputs (params where the original input needed a gradient, constants elsewhere), its
//! vector-Jacobian product with a random cotangent is compared with finite differences of that
//! op alone (with the same verdicts as the whole check, `check/examine.rs`), and the first with
//! an element that disagrees is the culprit. A node whose elements sit at a kink (relu at 0,
//! tied maxima), or cannot be judged (rounding, the domain's edge), is noted and the search goes
//! on. This file reads the tape; it changes nothing on it.

use super::examine::Verdict;
use super::finite_diff::{dot, random_tensor};
use super::report::{Culprit, Discrepancy, NodeFault, NodeSite, Search};
use super::{GradCheckOptions, compare_elements, tape_noise};
use crate::backward::Grads;
use crate::op::Op;
use crate::tape::{NodeId, Recording, Tape};
use crate::tensor::Tensor;
use crate::var::Var;

/// What re-checking one node found.
enum NodeVerdict {
    Agrees,
    /// No element is wrong, and some sit where the op is not differentiable.
    AtKink,
    /// No element is wrong or at a kink, but some cannot be judged.
    Unresolved,
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
/// through, and returns the first whose rule is wrong, with the kinks and the nodes that could
/// not be judged met before it.
pub(crate) fn first_wrong_node(tape: &Tape, grads: &Grads, options: &GradCheckOptions) -> Search {
    let recording = tape.recording();
    let mut search = Search {
        culprit: Culprit::NoneFound,
        unjudged: Vec::new(),
    };
    for index in 0..grads.len() {
        let node = &recording.nodes()[index];
        let is_leaf = node.op.inputs().next().is_none();
        if is_leaf || grads.slot(index).is_none() {
            continue; // nothing to check, or no gradient went through it
        }
        match check_node(&recording, index, options) {
            NodeVerdict::Agrees => {}
            NodeVerdict::AtKink => search
                .unjudged
                .push((site(&recording, index), Verdict::Kink)),
            NodeVerdict::Unresolved => search
                .unjudged
                .push((site(&recording, index), Verdict::Unresolved)),
            NodeVerdict::Wrong {
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
                search.culprit = Culprit::Node(Box::new(fault));
                return search;
            }
        }
    }
    search
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

fn check_node(recording: &Recording, index: usize, options: &GradCheckOptions) -> NodeVerdict {
    let local = LocalOp::new(recording, index);
    let tape = Tape::new();
    let output = local.record(&tape, &local.inputs);
    // A random cotangent checks every output element at once, none weighted near zero.
    let cotangent = random_tensor(&output.shape(), 0x5EED ^ index as u64);
    let grads = output.backward_with(cotangent.clone());
    let loss = |values: &[Tensor]| dot(&local.record(&Tape::new(), values).value(), &cotangent);
    // A constant's rule never runs in the checked graph, so only params are compared.
    let analytic: Vec<Option<&Tensor>> = local
        .leaves
        .iter()
        .enumerate()
        .map(|(position, &leaf)| {
            (leaf == Leaf::Param).then(|| &grads[LocalOp::leaf(&tape, position)])
        })
        .collect();
    let noise = tape_noise(&tape, &grads);
    let comparison = compare_elements(&loss, &local.inputs, &analytic, noise, options);
    let Err(failure) = comparison.finish(usize::MAX) else {
        return NodeVerdict::Agrees;
    };
    let (checked, _, failing) = failure.into_worst();
    let kink = failing.iter().any(|d| d.verdict == Verdict::Kink);
    let wrong: Vec<Discrepancy> = failing
        .into_iter()
        .filter(|d| d.verdict == Verdict::Disagrees)
        .collect();
    if wrong.is_empty() {
        return if kink {
            NodeVerdict::AtKink
        } else {
            NodeVerdict::Unresolved
        };
    }
    let failed = wrong.len();
    NodeVerdict::Wrong {
        checked,
        failed,
        worst: wrong.into_iter().take(options.report_rows).collect(),
    }
}
