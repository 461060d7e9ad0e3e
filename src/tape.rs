//! [`Tape`]: the append-only list of nodes (a Wengert list) that the forward pass records.
//!
//! A node is an [`Op`] and its value, computed the moment the op is recorded. Nodes are only
//! ever appended, so the list is always in topological order and the backward pass can walk it
//! in reverse. The tape owns every node; a [`Var`] is only an index into it. This file does not
//! differentiate anything (that is `backward.rs`) nor define ops (that is `op.rs`).

pub use crate::op::NodeId;
use crate::op::Op;
use crate::tensor::Tensor;
use crate::var::Var;
use std::cell::{Ref, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};

/// One recorded step of the forward pass: what the forward and backward rules read. What else
/// the tape knows of a node is in [`Recording`], beside it.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub op: Op,
    pub value: Tensor,
}

impl Node {
    /// A node for a tape to record over: inline, so that overwriting it frees nothing.
    const PLACEHOLDER: Node = Node {
        op: Op::Constant,
        value: Tensor::scalar(0.0),
    };

    /// Whether the node is stored entirely inline, so that dropping it frees nothing.
    #[inline]
    fn is_inline(&self) -> bool {
        inline(&self.op, &self.value)
    }
}

/// Whether a node of `op` and `value` is stored entirely inline.
#[inline]
fn inline(op: &Op, value: &Tensor) -> bool {
    op.is_inline() && value.is_inline()
}

/// The most placeholder nodes a tape adds at a time past its last node: enough that adding
/// them is rare, few enough that they do not touch much memory the tape may never use.
const MAX_PLACEHOLDERS: usize = 1024;

/// What a tape holds: its nodes and, at the same indices, two facts about each that the rules
/// do not read. Kept beside the nodes rather than in them so that a node is 32 bytes, not 48:
/// on a long tape the backward sweep and `clear` are memory-bound, and they read the nodes
/// (W4, 10⁶ links).
pub(crate) struct Recording {
    /// The nodes, and past them inline nodes for new ones to overwrite (`push`): placeholders,
    /// and the nodes of before the last `clear` if they are all inline. Dropping those would
    /// free nothing and cost a pass over memory (W4, 10⁶ links: `clear` was a sixth of the
    /// time).
    stored: Vec<Node>,
    /// Whether every stored node is inline (see `stored`): in a scalar graph, all of them.
    all_inline: bool,
    /// Whether some `param` reaches each node; the backward pass skips nodes that none does.
    pub needs_grad: Vec<bool>,
    /// The user's line that recorded each node (every recording method is `#[track_caller]`),
    /// so that a gradient check, a drawing or an error can say where a node came from.
    pub locations: Vec<&'static Location<'static>>,
}

impl Recording {
    fn with_capacity(nodes: usize) -> Recording {
        Recording {
            stored: Vec::with_capacity(nodes),
            all_inline: true,
            needs_grad: Vec::with_capacity(nodes),
            locations: Vec::with_capacity(nodes),
        }
    }

    /// The number of nodes recorded.
    #[inline]
    pub fn len(&self) -> usize {
        self.needs_grad.len()
    }

    /// The nodes, in creation order.
    #[inline]
    pub fn nodes(&self) -> &[Node] {
        &self.stored[..self.len()]
    }

    /// Whether every node is inline: then every value is a scalar, and so is every gradient.
    pub fn all_inline(&self) -> bool {
        self.all_inline
    }

    /// Forgets every node, dropping them only if that frees memory (see `stored`).
    fn clear(&mut self) {
        if !self.all_inline {
            self.stored.clear();
            self.all_inline = true;
        }
        self.needs_grad.clear();
        self.locations.clear();
    }

    /// Makes sure a stored node lies past the recorded ones, stale or a placeholder, for `push`
    /// to overwrite in place.
    #[inline(always)]
    fn ensure_next_node(&mut self) {
        if self.len() == self.stored.len() {
            self.add_placeholders();
        }
    }

    /// Stores up to [`MAX_PLACEHOLDERS`] placeholders past the recorded nodes, as many as the
    /// capacity holds (which grows as a `Vec`'s does), for the next pushes to overwrite.
    #[cold]
    #[inline(never)]
    fn add_placeholders(&mut self) {
        self.stored.reserve(1);
        let room = self.stored.capacity() - self.stored.len();
        let count = room.min(MAX_PLACEHOLDERS);
        self.stored
            .extend(std::iter::repeat_with(|| Node::PLACEHOLDER).take(count));
    }

    /// Records a node, over the stored node past the recorded ones.
    #[inline(always)]
    fn push(
        &mut self,
        op: Op,
        value: Tensor,
        needs_grad: bool,
        location: &'static Location<'static>,
    ) {
        self.ensure_next_node();
        if !inline(&op, &value) {
            self.all_inline = false;
        }
        let index = self.len();
        let next = &mut self.stored[index];
        // The node overwritten is inline (a placeholder, or a stale node that `clear` kept
        // because it is), so forgetting rather than dropping it frees the same: nothing. Field
        // by field, so that each field is written straight into the tape. Assembled on the
        // stack first, a node was written there in 4- and 8-byte pieces and read back in
        // 16-byte blocks, which the CPU cannot forward from the pending writes: W4 stalled on
        // it at every node (perf annotate), and recorded 14 ns a node where it now records 5.
        debug_assert!(next.is_inline());
        std::mem::forget(std::mem::replace(&mut next.op, op));
        std::mem::forget(std::mem::replace(&mut next.value, value));
        self.needs_grad.push(needs_grad);
        self.locations.push(location);
    }
}

/// Records the forward pass, one node per op, so that `backward()` can replay it in reverse.
///
/// ```
/// use tapegrad::Tape;
///
/// let tape = Tape::new();
/// let x = tape.param(3.0);
/// let y = x * x + 2.0 * x;      // two more nodes: y = x² + 2x
/// assert_eq!(y.value().item(), 15.0);
/// let grads = y.backward();
/// assert_eq!(grads[x].item(), 8.0);   // dy/dx = 2x + 2
/// ```
///
/// A tape is used from one thread (its `Var`s borrow it). To run many steps, either make a new
/// tape per step or call [`clear`](Tape::clear), which keeps the allocation.
pub struct Tape {
    recording: RefCell<Recording>,
    /// The names users gave nodes (`names.rs`), beside the nodes rather than in them so that a
    /// node stays 32 bytes and a tape where nothing is named pays nothing (an empty map does
    /// not allocate).
    pub(crate) names: RefCell<HashMap<NodeId, String>>,
    /// Unique among all tapes, and renewed by `clear`, so that a `Grads` can tell whether a
    /// `Var` belongs to the nodes it was computed from.
    id: u64,
}

static NEXT_TAPE_ID: AtomicU64 = AtomicU64::new(0);

fn fresh_id() -> u64 {
    NEXT_TAPE_ID.fetch_add(1, Ordering::Relaxed)
}

impl Tape {
    /// An empty tape.
    pub fn new() -> Tape {
        Tape::with_capacity(0)
    }

    /// An empty tape with room for `nodes` nodes before it reallocates.
    pub fn with_capacity(nodes: usize) -> Tape {
        Tape {
            recording: RefCell::new(Recording::with_capacity(nodes)),
            names: RefCell::new(HashMap::new()),
            id: fresh_id(),
        }
    }

    /// Records a parameter: a leaf that `backward()` computes the gradient of.
    #[track_caller]
    pub fn param(&self, value: impl Into<Tensor>) -> Var<'_> {
        self.push_leaf(Op::Param, value.into(), true)
    }

    /// Records a constant: a leaf that no gradient is computed for (inputs, targets).
    #[track_caller]
    pub fn constant(&self, value: impl Into<Tensor>) -> Var<'_> {
        self.push_leaf(Op::Constant, value.into(), false)
    }

    /// The number of nodes recorded.
    pub fn len(&self) -> usize {
        self.recording.borrow().len()
    }

    /// Whether no node has been recorded.
    pub fn is_empty(&self) -> bool {
        self.recording.borrow().len() == 0
    }

    /// Forgets every node and every name but keeps the allocation, for the next training step.
    /// Tensors the nodes held are dropped here; nodes that hold none (a scalar graph's) are
    /// left for the next step to overwrite, which saves a pass over them. Taking `&mut self`
    /// means the borrow checker guarantees that no `Var` of the old nodes survives.
    pub fn clear(&mut self) {
        self.recording.get_mut().clear();
        self.names.get_mut().clear();
        self.id = fresh_id();
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The nodes, in creation order.
    pub(crate) fn nodes(&self) -> Ref<'_, [Node]> {
        Ref::map(self.recording.borrow(), Recording::nodes)
    }

    /// The nodes with what the tape knows beside them.
    pub(crate) fn recording(&self) -> Ref<'_, Recording> {
        self.recording.borrow()
    }

    /// The user's line that recorded node `id`.
    pub(crate) fn location(&self, id: NodeId) -> &'static Location<'static> {
        self.recording.borrow().locations[id.index()]
    }

    #[track_caller]
    fn push_leaf(&self, op: Op, value: Tensor, needs_grad: bool) -> Var<'_> {
        let mut recording = self.recording.borrow_mut();
        let id = NodeId::from_index(recording.len());
        recording.push(op, value, needs_grad, Location::caller());
        Var::new(self, id)
    }

    /// Runs `op`'s forward pass on its inputs' values and records the result.
    ///
    /// # Panics
    ///
    /// If the op rejects its inputs' shapes (the message points at the user's line).
    #[track_caller]
    // Forced into each op's method (through `Var::record`), where the op is known: the compiler
    // then keeps only that op's forward rule (docs/performance.md).
    #[inline(always)]
    pub(crate) fn push(&self, op: Op) -> Var<'_> {
        let mut recording = self.recording.borrow_mut();
        let value = op.forward(|input| &recording.nodes()[input.index()].value);
        let needs_grad = op.any_input(|input| recording.needs_grad[input.index()]);
        let id = NodeId::from_index(recording.len());
        recording.push(op, value, needs_grad, Location::caller());
        Var::new(self, id)
    }
}

impl Default for Tape {
    fn default() -> Tape {
        Tape::new()
    }
}

impl fmt::Debug for Tape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes = self.nodes();
        let mut list = f.debug_list();
        for (i, node) in nodes.iter().enumerate() {
            list.entry(&format_args!(
                "n{i} = {} {:?} {:?}",
                node.op.name(),
                node.op.inputs().collect::<Vec<_>>(),
                node.value.shape()
            ));
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_small() {
        // op (16) + value (16): what the sweep and `clear` read per node of a scalar graph.
        assert_eq!(std::mem::size_of::<Node>(), 32);
    }

    #[test]
    fn clear_renews_the_identity() {
        let mut tape = Tape::new();
        let before = tape.id();
        let _ = tape.param(1.0);
        tape.clear();
        assert!(tape.is_empty());
        assert_ne!(tape.id(), before);
    }

    /// Records `x·3 + 1` from x = `at` and returns dz/dx and the node count.
    fn affine(tape: &Tape, at: f64) -> (f64, f64, usize) {
        let x = tape.param(at);
        let z = x * 3.0 + 1.0;
        (z.value().item(), z.backward()[x].item(), tape.len())
    }

    #[test]
    fn a_cleared_scalar_tape_keeps_its_nodes_to_overwrite() {
        let mut tape = Tape::new();
        let x = tape.param(2.0);
        let mut z = x;
        for _ in 0..5 {
            z = z * 2.0;
        }
        assert_eq!(z.value().item(), 64.0);
        tape.clear();
        assert!(tape.is_empty() && tape.nodes().is_empty());
        let stored = tape.recording().stored.len();
        assert!(
            stored >= 6,
            "inline nodes are left to overwrite, not {stored}"
        );
        // A shorter graph over the stale nodes sees only its own.
        assert_eq!(affine(&tape, 1.0), (4.0, 3.0, 3));
        assert_eq!(format!("{tape:?}").matches(" = ").count(), 3);
        tape.clear();
        // A longer one overwrites them all and then grows the tape.
        let x = tape.param(1.0);
        let mut z = x;
        for _ in 0..9 {
            z = z + x;
        }
        assert_eq!((z.value().item(), z.backward()[x].item()), (10.0, 10.0));
        assert_eq!(tape.len(), 10);
    }

    #[test]
    fn a_tape_records_over_placeholders_added_within_its_capacity() {
        let tape = Tape::with_capacity(10);
        let x = tape.param(1.0);
        let spare = |tape: &Tape| {
            let recording = tape.recording();
            (
                recording.stored.len() - recording.len(),
                recording.stored.capacity(),
            )
        };
        assert_eq!(
            spare(&tape),
            (9, 10),
            "placeholders fill the capacity asked for"
        );
        let mut z = x;
        for _ in 0..9 {
            z = z + x;
        }
        assert_eq!(
            spare(&tape),
            (0, 10),
            "ten nodes recorded without reallocating"
        );
        let mut most = 0;
        for _ in 0..3 * MAX_PLACEHOLDERS {
            z = z + x;
            most = most.max(spare(&tape).0);
        }
        assert_eq!(
            most,
            MAX_PLACEHOLDERS - 1,
            "at most MAX_PLACEHOLDERS added at a time"
        );
        let links = 3 * MAX_PLACEHOLDERS + 9;
        assert_eq!(tape.len(), links + 1);
        assert_eq!(format!("{tape:?}").matches(" = ").count(), tape.len());
        assert_eq!(z.value().item(), links as f64 + 1.0);
        assert_eq!(z.backward()[x].item(), links as f64 + 1.0);
    }

    #[test]
    fn clear_drops_the_nodes_once_one_holds_a_buffer() {
        let mut tape = Tape::new();
        let _ = affine(&tape, 1.0);
        tape.clear();
        let v = tape.constant(Tensor::from(vec![1.0, 2.0])); // over a stale node
        let _ = v.sum();
        tape.clear();
        assert_eq!(
            tape.recording().stored.len(),
            0,
            "a buffer is freed by clear"
        );
        assert_eq!(affine(&tape, 2.0), (7.0, 3.0, 3));
    }
}
