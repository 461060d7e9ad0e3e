//! The reverse sweep and its result, [`Grads`].
//!
//! The tape is in creation order, which is a topological order, so the backward pass is one
//! loop from the output down to the first node: no recursion, no visited set, no hash map. Each
//! node's gradient is complete when the loop reaches it, because every node that reads it was
//! created later. Every gradient write goes through [`GradSink::add`], the one place that skips
//! constants, sums broadcast dimensions back to the input's shape and accumulates.

use crate::tape::{Node, NodeId, Tape};
use crate::tensor::Tensor;
use crate::var::Var;
use std::cell::OnceCell;
use std::fmt;
use std::ops::Index;

/// The gradients of one backward pass: `grads[w]` is ∂output/∂w, with `w`'s shape.
///
/// A returned value, not state on the tape: calling `backward()` again gives an identical,
/// independent `Grads`, and nothing needs zeroing. It owns its tensors, so the tape may be
/// cleared or dropped afterwards (but indexing needs a `Var`, which borrows the tape).
pub struct Grads {
    tape_id: u64,
    /// One slot per node recorded when backward ran; empty where no gradient flowed. A `OnceCell`
    /// so that indexing an empty slot can fill it with zeros behind `&self`.
    slots: Vec<OnceCell<Tensor>>,
}

/// Where an op's backward rule sends each input's contribution.
pub(crate) struct GradSink<'a> {
    nodes: &'a [Node],
    /// The slots of the nodes created before the one being processed: all of its inputs.
    slots: &'a mut [OnceCell<Tensor>],
}

impl GradSink<'_> {
    /// Adds `contribution()` to the gradient of `input`, summing it down to the input's shape
    /// first if the op broadcast that input. Skips (and never computes) the contribution when
    /// no parameter reaches `input`.
    pub fn add(&mut self, input: NodeId, contribution: impl FnOnce() -> Tensor) {
        let node = &self.nodes[input.index()];
        if !node.needs_grad {
            return;
        }
        let mut contribution = contribution();
        if contribution.shape() != node.value.shape() {
            contribution = contribution.sum_to_shape(node.value.shape());
        }
        let slot = &mut self.slots[input.index()];
        match slot.get_mut() {
            // In place when this slot's buffer is not shared; copy-on-write otherwise.
            Some(gradient) => *gradient += &contribution,
            None => {
                let _ = slot.set(contribution);
            }
        }
    }
}

/// Runs the backward pass from `output`, seeded with `cotangent` (∂l/∂output).
pub(crate) fn backward(tape: &Tape, output: NodeId, cotangent: Tensor) -> Grads {
    let nodes = tape.nodes();
    let mut slots = vec![OnceCell::new(); nodes.len()];
    let _ = slots[output.index()].set(cotangent);
    for i in (0..=output.index()).rev() {
        let node = &nodes[i];
        if !node.needs_grad {
            continue;
        }
        let (inputs, rest) = slots.split_at_mut(i);
        let Some(g) = rest[0].get() else {
            continue; // this node does not reach the output
        };
        let mut sink = GradSink {
            nodes: &nodes,
            slots: inputs,
        };
        node.op.backward(&node.value, g, &nodes, &mut sink);
    }
    Grads {
        tape_id: tape.id(),
        slots,
    }
}

impl Grads {
    /// The gradient of `var`, or `None` if no gradient flowed to it (it is a constant, does not
    /// reach the output, or reaches it only through `step`).
    ///
    /// # Panics
    ///
    /// If `var` belongs to another tape, or was recorded after this backward pass.
    #[track_caller]
    pub fn get(&self, var: Var<'_>) -> Option<&Tensor> {
        self.slot(var).get()
    }

    #[track_caller]
    fn slot(&self, var: Var<'_>) -> &OnceCell<Tensor> {
        assert!(
            var.tape().id() == self.tape_id,
            "Grads: indexed by a Var of another tape (or of this tape before Tape::clear); \
             use the Vars of the tape that backward() ran on"
        );
        match self.slots.get(var.id().index()) {
            Some(slot) => slot,
            None => panic!(
                "Grads: {:?} was recorded after this backward pass, so it has no gradient in it",
                var.id()
            ),
        }
    }
}

impl Index<Var<'_>> for Grads {
    type Output = Tensor;

    /// The gradient of `var`, with `var`'s shape; zeros if no gradient flowed to it.
    ///
    /// # Panics
    ///
    /// If `var` belongs to another tape, or was recorded after this backward pass.
    #[track_caller]
    fn index(&self, var: Var<'_>) -> &Tensor {
        self.slot(var).get_or_init(|| Tensor::zeros(&var.shape()))
    }
}

impl fmt::Debug for Grads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gradients = self.slots.iter().enumerate().filter_map(|(i, slot)| Some((i, slot.get()?)));
        f.debug_map().entries(gradients).finish()
    }
}
