//! Recording a node ([`Tape::record`]) and the list that holds the nodes ([`Nodes`]), written
//! for a long tape of scalars: the measured tricks of recording live here, and nowhere else
//! (docs/performance.md, "What the engine does for speed", has W4's measurements). The sweep's
//! are two `#[inline(always)]`, on `rules::vjp` and `GradSink::add`, and running the rules on
//! `f64`s when every value is a scalar. Read from outside, `Tape::record` is "run the op's
//! forward pass, append the node", and `Nodes` a `Vec<Node>` that grows until `clear`.
//!
//! The tricks, each worth about half of the time of recording a scalar node:
//!
//! - `Tape::record` is forced inline into each op's method, with `Op::forward`,
//!   `Op::any_input` and `Recording::push`: where the op is a constant, the compiler keeps
//!   only that op's forward rule, with no dispatch.
//! - A node is written field by field over a placeholder already stored past the last node,
//!   rather than by `Vec::push`, which assembles it on the stack in 4- and 8-byte pieces and
//!   copies it in 16-byte blocks that the CPU cannot forward from the pending writes.
//! - `clear` keeps a scalar graph's nodes to overwrite instead of dropping them one by one.

use crate::op::{NodeId, Op};
use crate::tape::{Recording, Tape};
use crate::tensor::Tensor;
use crate::var::Var;
use std::panic::Location;

impl Tape {
    /// Records `op`: runs its forward pass on its inputs' values and appends the node.
    ///
    /// # Panics
    ///
    /// If the op rejects its inputs' shapes (the message points at the user's line).
    #[track_caller]
    #[inline(always)]
    pub(crate) fn record(&self, op: Op) -> Var<'_> {
        let mut recording = self.recording_mut();
        let value = op.forward(|input| &recording.nodes()[input.index()].value);
        let needs_grad = op.any_input(|input| recording.needs_grad[input.index()]);
        let id = recording.push(op, value, needs_grad, Location::caller());
        Var::new(self, id)
    }
}

impl Recording {
    /// Appends a node and returns its id.
    #[inline(always)]
    pub(crate) fn push(
        &mut self,
        op: Op,
        value: Tensor,
        needs_grad: bool,
        location: &'static Location<'static>,
    ) -> NodeId {
        let id = NodeId::from_index(self.len());
        self.nodes.push(op, value);
        self.needs_grad.push(needs_grad);
        self.locations.push(location);
        id
    }
}

/// One recorded step of the forward pass: what the forward and backward rules read.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub op: Op,
    pub value: Tensor,
}

/// A node for a tape to record over: it owns nothing, so overwriting it frees nothing.
const PLACEHOLDER: Node = Node {
    op: Op::Constant,
    value: Tensor::scalar(0.0),
};

/// Whether `op` holds a box. Only a hint for `clear`: a node kept past it is dropped when it is
/// overwritten, so a wrong answer would hold memory longer, never leak it or change a result.
#[inline(always)]
fn boxes(op: &Op) -> bool {
    matches!(
        op,
        Op::Reshape(..)
            | Op::BroadcastTo(..)
            | Op::Permute(..)
            | Op::Take(..)
            | Op::ScatterAdd(..)
            | Op::Concat(_)
            | Op::Custom(_)
    )
}

/// The most placeholders added at a time past the last node: enough that adding them is rare,
/// few enough that they do not touch much memory the tape may never use.
const MAX_PLACEHOLDERS: usize = 1024;

/// A list of nodes that grows until `clear` empties it.
pub(crate) struct Nodes {
    /// The nodes, then nodes to overwrite: placeholders, or the nodes of before the last
    /// `clear` when none of them owned memory.
    stored: Vec<Node>,
    len: usize,
    /// Whether a node may own memory (a tensor buffer or a boxed op). If none does (a scalar
    /// graph), `clear` keeps them to overwrite rather than make a pass to drop them.
    holds_buffers: bool,
    /// Whether every value is a scalar (shape `[]`): the sweep then computes in `f64`s.
    all_scalars: bool,
}

impl Nodes {
    pub fn with_capacity(capacity: usize) -> Nodes {
        Nodes {
            stored: Vec::with_capacity(capacity),
            len: 0,
            holds_buffers: false,
            all_scalars: true,
        }
    }

    /// The nodes, in the order they were pushed.
    #[inline]
    pub fn as_slice(&self) -> &[Node] {
        &self.stored[..self.len]
    }

    /// Appends a node.
    // Forced into each op's method, where the op is known, so that its fields go straight
    // from registers into the list.
    #[inline(always)]
    pub fn push(&mut self, op: Op, value: Tensor) {
        if self.len == self.stored.len() {
            self.add_placeholders();
        }
        let scalar = value.as_scalar().is_some();
        self.all_scalars &= scalar;
        self.holds_buffers |= !scalar || boxes(&op);
        // Field by field, so that each is written straight from registers into the list.
        let next = &mut self.stored[self.len];
        next.op = op;
        next.value = value;
        self.len += 1;
    }

    /// Whether every node's value is a scalar: a graph of scalars.
    pub fn all_scalars(&self) -> bool {
        self.all_scalars
    }

    /// Forgets every node, keeping the allocation. The nodes are dropped if one may own
    /// memory; otherwise they stay, to be overwritten (and dropped then) by the next ones.
    pub fn clear(&mut self) {
        if self.holds_buffers {
            self.stored.clear();
            self.holds_buffers = false;
        }
        self.len = 0;
        self.all_scalars = true;
    }

    /// Stores up to [`MAX_PLACEHOLDERS`] placeholders past the nodes, as many as the capacity
    /// holds (which grows as a `Vec`'s does).
    #[cold]
    #[inline(never)]
    fn add_placeholders(&mut self) {
        self.stored.reserve(1);
        let room = self.stored.capacity() - self.stored.len();
        let count = room.min(MAX_PLACEHOLDERS);
        self.stored
            .extend(std::iter::repeat_with(|| PLACEHOLDER).take(count));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_small() {
        // op (16) + value (16): what the sweep reads per node of a scalar graph.
        assert_eq!(std::mem::size_of::<Node>(), 32);
    }

    #[test]
    fn nodes_go_over_placeholders_added_within_the_capacity() {
        let mut nodes = Nodes::with_capacity(10);
        nodes.push(Op::Param, Tensor::scalar(1.0));
        assert_eq!((nodes.stored.len(), nodes.stored.capacity()), (10, 10));
        for i in 1..3 * MAX_PLACEHOLDERS {
            nodes.push(Op::Constant, Tensor::from(vec![i as f64]));
            assert!(nodes.stored.len() - nodes.len < MAX_PLACEHOLDERS);
        }
        let slice = nodes.as_slice();
        assert_eq!(slice.len(), 3 * MAX_PLACEHOLDERS);
        assert_eq!(slice[0].op, Op::Param);
        assert_eq!(slice[7].value.data(), [7.0]);
        nodes.clear();
        assert!(nodes.as_slice().is_empty());
        assert!(
            nodes.stored.is_empty(),
            "nodes that hold buffers are dropped by clear"
        );
        nodes.push(Op::Param, Tensor::scalar(2.0));
        nodes.push(Op::Neg(NodeId::from_index(0)), Tensor::scalar(-2.0));
        nodes.clear();
        assert!(nodes.as_slice().is_empty());
        assert!(
            nodes.stored.len() >= 2,
            "scalar nodes are kept to overwrite"
        );
        nodes.push(Op::Constant, Tensor::scalar(3.0));
        assert_eq!(nodes.as_slice().len(), 1);
        assert_eq!(
            (&nodes.as_slice()[0].op, nodes.as_slice()[0].value.item()),
            (&Op::Constant, 3.0)
        );
    }
}
