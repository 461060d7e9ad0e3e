//! [`Tape`]: the append-only list of nodes (a Wengert list) that the forward pass records.
//!
//! A node is an [`Op`] and its value, computed the moment the op is recorded. Nodes are only
//! ever appended, so the list is always in topological order and the backward pass can walk it
//! in reverse. The tape owns every node; a [`Var`](crate::Var) is only an index into it. This
//! file does not differentiate anything (that is `backward.rs`), nor define ops (`op.rs`), nor
//! hand out `Var`s: the methods that record and return one are in `var.rs` (`Tape::param`,
//! `Tape::constant`, each op's method on `Var`), `record.rs` (`Tape::record`, which they call)
//! and `custom.rs` (`Tape::custom`).

pub use crate::op::NodeId;
use crate::op::Op;
pub(crate) use crate::record::{Node, Nodes};
use crate::tensor::Tensor;
use std::cell::{Ref, RefCell, RefMut};
use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a tape holds: its nodes and, at the same indices, two facts about each that the rules
/// do not read. Kept beside the nodes rather than in them so that a node is 32 bytes, not 48:
/// on a long tape the backward sweep is memory-bound, and it reads the nodes.
pub(crate) struct Recording {
    /// The nodes (appended by `push`, in `record.rs`).
    pub nodes: Nodes,
    /// Whether some `param` reaches each node; the backward pass skips nodes that none does.
    pub needs_grad: Vec<bool>,
    /// The user's line that recorded each node (every recording method is `#[track_caller]`),
    /// so that a gradient check, a drawing or an error can say where a node came from.
    pub locations: Vec<&'static Location<'static>>,
}

impl Recording {
    fn with_capacity(nodes: usize) -> Recording {
        Recording {
            nodes: Nodes::with_capacity(nodes),
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
        self.nodes.as_slice()
    }

    /// Whether every value is a scalar (and no op is boxed): the sweep then holds gradients
    /// as `f64`s.
    pub fn all_scalars(&self) -> bool {
        self.nodes.all_scalars()
    }

    fn clear(&mut self) {
        self.nodes.clear();
        self.needs_grad.clear();
        self.locations.clear();
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

    /// The nodes, for recording one.
    #[inline]
    pub(crate) fn recording_mut(&self) -> RefMut<'_, Recording> {
        self.recording.borrow_mut()
    }

    /// Records a leaf with its value.
    #[track_caller]
    pub(crate) fn push_leaf(&self, op: Op, value: Tensor, needs_grad: bool) -> NodeId {
        self.recording
            .borrow_mut()
            .push(op, value, needs_grad, Location::caller())
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
    fn clear_renews_the_identity() {
        let mut tape = Tape::new();
        let before = tape.id();
        let _ = tape.param(1.0);
        tape.clear();
        assert!(tape.is_empty());
        assert_ne!(tape.id(), before);
    }

    #[test]
    fn a_cleared_tape_records_anew() {
        let mut tape = Tape::new();
        let x = tape.param(2.0);
        let z = (x * x).sum();
        assert_eq!(z.backward()[x].item(), 4.0);
        tape.clear();
        let v = tape.param(Tensor::from([1.0, 2.0]));
        let z = (v * 3.0).sum();
        assert_eq!(tape.len(), 3);
        assert_eq!(z.backward()[v].data(), [3.0, 3.0]);
        assert_eq!(format!("{tape:?}").matches(" = ").count(), 3);
    }
}
