//! The reverse sweep and its result, [`Grads`].
//!
//! The tape is in creation order, which is a topological order, so the backward pass is one
//! loop from the output down to the first node: no recursion, no visited set, no hash map. Each
//! node's gradient is complete when the loop reaches it, because every node that reads it was
//! created later. Every gradient write goes through [`GradSink::add`], the one place that skips
//! constants, sums broadcast dimensions back to the input's shape and accumulates.
//!
//! The same loop serves the step-by-step trace (`trace.rs`): it takes an optional [`Observer`]
//! that is told each node and each contribution as they happen, so the trace reports the very
//! numbers this loop computes. Plain `backward()` passes none and runs a copy of the loop from
//! which the compiler has removed every check for one.

use crate::rules::{self, Sink};
use crate::tape::{Node, NodeId, Tape};
use crate::tensor::Tensor;
use crate::var::Var;
use std::cell::OnceCell;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::Index;

/// The gradients of one backward pass: `grads[w]` is ∂output/∂w, with `w`'s shape.
///
/// A returned value, not state on the tape: calling `backward()` again gives an identical,
/// independent `Grads`, and nothing needs zeroing. It owns its tensors, so the tape may be
/// cleared or dropped afterwards (but indexing needs a `Var`, which borrows the tape).
pub struct Grads {
    tape_id: u64,
    /// One slot per node recorded when backward ran, meaningful where `flowed` says so.
    slots: Vec<Slot>,
    /// Whether a gradient flowed to each node. Beside the slots rather than in them: an
    /// `Option<Tensor>` is 24 bytes where a tensor is 16, and on a long tape the sweep is
    /// memory-bound (W4, 10⁶ links).
    flowed: Vec<bool>,
    /// Whether some slot may hold a tensor buffer. If none does (a scalar graph), dropping the
    /// slots frees nothing, and `drop` skips the pass over them.
    holds_buffers: bool,
    /// The zeros that indexing returns where no gradient flowed, made on first request (behind
    /// `&self`, hence the cells) and kept apart so that `get` still tells that none flowed.
    zeros: OnceCell<Vec<OnceCell<Tensor>>>,
}

/// A gradient slot. `ManuallyDrop`, so that dropping a `Grads` whose slots hold no buffer is
/// not a pass over them (W4, 10⁶ links: 2.2 of 28 ns a node); `Grads::drop` drops them when
/// one may hold a buffer. Getting that flag wrong would leak, never free twice.
type Slot = ManuallyDrop<Tensor>;

/// What a slot holds until a gradient flows to it: a scalar, which frees nothing when dropped
/// or overwritten.
const EMPTY_SLOT: Slot = ManuallyDrop::new(Tensor::scalar(0.0));

/// Where an op's backward rule sends each input's contribution.
pub(crate) struct GradSink<'a> {
    /// The nodes created before the one being processed: all of its inputs.
    nodes: &'a [Node],
    /// Whether each of them needs a gradient.
    needs_grad: &'a [bool],
    /// Their gradient slots.
    slots: &'a mut [Slot],
    /// Whether a gradient flowed to each of them yet.
    flowed: &'a mut [bool],
    observer: Option<&'a mut dyn Observer>,
}

/// Told what the sweep does, as it does it: how a trace sees the backward pass.
pub(crate) trait Observer {
    /// The sweep reached node `index`, whose gradient `g` (∂l/∂node) is now complete; the
    /// node's rule runs next.
    fn node(&mut self, index: usize, g: &Tensor);

    /// The node's rule added a contribution to the gradient of `input`.
    fn added(&mut self, input: NodeId, added: Added<'_>);
}

/// One contribution, as an [`Observer`] is told of it.
pub(crate) struct Added<'a> {
    /// The contribution before it was summed down to the input's shape, if the op broadcast
    /// that input.
    pub unsummed: Option<&'a Tensor>,
    /// What was added, of the input's shape.
    pub contribution: &'a Tensor,
    /// The input's gradient after the addition.
    pub gradient: &'a Tensor,
    /// Whether this was the input's first contribution (no gradient had flowed to it yet).
    pub first: bool,
}

impl Sink<Tensor> for GradSink<'_> {
    /// Adds `contribution()` to the gradient of `input`, summing it down to the input's shape
    /// first if the op broadcast that input. Skips (and never computes) the contribution when
    /// no parameter reaches `input`.
    // Forced: with two copies of the sweep, the compiler stops inlining `add` into the rules.
    #[inline(always)]
    fn add(&mut self, input: NodeId, contribution: impl FnOnce() -> Tensor) {
        if !self.needs_grad[input.index()] {
            return;
        }
        let node = &self.nodes[input.index()];
        let contribution = contribution();
        let slot: &mut Tensor = &mut self.slots[input.index()];
        let flowed = &mut self.flowed[input.index()];
        // The common case (no observer, no broadcast) inline in each rule, where the compiler
        // sees the contribution's shape; the rest is a call.
        if self.observer.is_none() && contribution.same_shape(&node.value) {
            accumulate(slot, flowed, contribution);
        } else {
            let observer = self.observer.as_deref_mut().map(|o| o as &mut dyn Observer);
            add_summed_or_observed(input, &node.value, slot, flowed, observer, contribution);
        }
    }
}

/// [`GradSink::add`] for a contribution to sum down to the shape of the input's `value`, or
/// with an observer to tell. A function of the pieces it needs rather than a method, so that
/// no call receives the sink and the compiler can keep its fields in registers.
#[inline(never)]
fn add_summed_or_observed(
    input: NodeId,
    value: &Tensor,
    slot: &mut Tensor,
    flowed: &mut bool,
    observer: Option<&mut dyn Observer>,
    contribution: Tensor,
) {
    match observer {
        Some(observer) => add_observed(input, value, slot, flowed, observer, contribution),
        None => accumulate(slot, flowed, contribution.sum_to_shape(value.shape())),
    }
}

/// [`GradSink::add`] with the same arithmetic (the trace's tests compare the two bit for bit),
/// telling the observer what it did.
#[cold]
fn add_observed(
    input: NodeId,
    value: &Tensor,
    slot: &mut Tensor,
    flowed: &mut bool,
    observer: &mut dyn Observer,
    mut contribution: Tensor,
) {
    let mut unsummed = None;
    if !contribution.same_shape(value) {
        let summed = contribution.sum_to_shape(value.shape());
        unsummed = Some(std::mem::replace(&mut contribution, summed));
    }
    let first = !*flowed;
    accumulate(slot, flowed, contribution.clone());
    let added = Added {
        unsummed: unsummed.as_ref(),
        contribution: &contribution,
        gradient: slot,
        first,
    };
    observer.added(input, added);
}

/// Adds `contribution` (of the slot's shape) to a gradient slot, or puts it there if no
/// gradient `flowed` to it yet: in place when the slot's buffer is not shared, copy-on-write
/// otherwise.
// Forced, with the `forget` below, into each rule of the sweep (docs/performance.md).
#[inline(always)]
fn accumulate(slot: &mut Tensor, flowed: &mut bool, contribution: Tensor) {
    if *flowed {
        slot.add_same_shape(&contribution);
    } else {
        // The slot holds `EMPTY_SLOT`'s scalar: `forget` it rather than have the compiler call
        // a drop for it.
        std::mem::forget(std::mem::replace(slot, contribution));
        *flowed = true;
    }
}

/// Runs the backward pass from `output`, seeded with `cotangent` (∂l/∂output).
pub(crate) fn backward(tape: &Tape, output: NodeId, cotangent: Tensor) -> Grads {
    sweep(tape, output, cotangent, None)
}

/// The backward pass, telling `observer` (if any) each node it processes, in order, and each
/// contribution its rule adds.
pub(crate) fn sweep(
    tape: &Tape,
    output: NodeId,
    cotangent: Tensor,
    observer: Option<&mut dyn Observer>,
) -> Grads {
    let guard = tape.recording();
    // Slices, whose lengths the compiler then knows do not change during the sweep.
    let (nodes, needs_grad): (&[Node], &[bool]) = (guard.nodes(), &guard.needs_grad);
    // Not `vec![EMPTY_SLOT; n]`, which clones its element n times. For `bool`, `vec!` asks the
    // allocator for zeroed memory, with no clones.
    let mut slots: Vec<Slot> = std::iter::repeat_with(|| EMPTY_SLOT)
        .take(nodes.len())
        .collect();
    let mut flowed = vec![false; nodes.len()];
    *slots[output.index()] = cotangent;
    flowed[output.index()] = true;
    // Two copies of the loop, so that in the plain one the compiler knows there is no observer
    // and drops every check for one (with `add` and `accumulate` forced inline).
    match observer {
        None => run_rules(nodes, needs_grad, &mut slots, &mut flowed, output, None),
        Some(observer) => run_rules(
            nodes,
            needs_grad,
            &mut slots,
            &mut flowed,
            output,
            Some(observer),
        ),
    }
    Grads {
        tape_id: tape.id(),
        slots,
        flowed,
        holds_buffers: !guard.all_inline(),
        zeros: OnceCell::new(),
    }
}

/// The loop of the sweep: from `output` down to the first node, each node's rule adds its
/// inputs' contributions to their slots.
// Forced into both arms of the sweep's match: that is what makes them two copies.
#[inline(always)]
fn run_rules(
    nodes: &[Node],
    needs_grad: &[bool],
    slots: &mut [Slot],
    flowed: &mut [bool],
    output: NodeId,
    mut observer: Option<&mut dyn Observer>,
) {
    // All cut to the same length, so that one index check covers them all.
    let end = output.index() + 1;
    let (nodes, needs_grad) = (&nodes[..end], &needs_grad[..end]);
    let (slots, flowed) = (&mut slots[..end], &mut flowed[..end]);
    for i in (0..end).rev() {
        if !(needs_grad[i] && flowed[i]) {
            continue; // no parameter reaches this node, or it does not reach the output
        }
        let node = &nodes[i];
        let (inputs, rest) = slots.split_at_mut(i);
        let g: &Tensor = &rest[0];
        if let Some(observer) = observer.as_deref_mut() {
            observer.node(i, g);
        }
        // As many as the slots, so that checking an input's index against one checks it
        // against all.
        let earlier = &nodes[..i];
        let mut sink = GradSink {
            nodes: earlier,
            needs_grad: &needs_grad[..i],
            slots: inputs,
            flowed: &mut flowed[..i],
            // A reborrow for this node only (the cast shortens the trait object's lifetime).
            observer: observer.as_deref_mut().map(|o| o as &mut dyn Observer),
        };
        let value = |input: NodeId| earlier[input.index()].value.clone();
        rules::vjp(&node.op, value, &node.value, g, &mut sink);
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
        self.slot(self.index_of(var))
    }

    pub(crate) fn tape_id(&self) -> u64 {
        self.tape_id
    }

    /// The number of nodes the tape held when these gradients were computed.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The gradient of the node at `index`, if one flowed to it.
    pub(crate) fn slot(&self, index: usize) -> Option<&Tensor> {
        self.flowed[index].then(|| &*self.slots[index])
    }

    /// The slot index of `var`, after checking that it belongs to these gradients.
    #[track_caller]
    fn index_of(&self, var: Var<'_>) -> usize {
        assert!(
            var.tape().id() == self.tape_id,
            "Grads: indexed by a Var of another tape (or of this tape before Tape::clear); \
             use the Vars of the tape that backward() ran on"
        );
        assert!(
            var.id().index() < self.slots.len(),
            "Grads: {:?} was recorded after this backward pass, so it has no gradient in it",
            var.id()
        );
        var.id().index()
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
        let i = self.index_of(var);
        match self.slot(i) {
            Some(gradient) => gradient,
            None => {
                let zeros = self
                    .zeros
                    .get_or_init(|| vec![OnceCell::new(); self.slots.len()]);
                zeros[i].get_or_init(|| Tensor::zeros(&var.shape()))
            }
        }
    }
}

impl Drop for Grads {
    fn drop(&mut self) {
        if self.holds_buffers {
            for slot in &mut self.slots {
                drop(ManuallyDrop::into_inner(std::mem::replace(
                    slot, EMPTY_SLOT,
                )));
            }
        } else {
            debug_assert!(
                self.slots.iter().all(|slot| slot.is_inline()),
                "Grads: a slot holds a buffer in a graph of scalars"
            );
        }
    }
}

impl fmt::Debug for Grads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gradients = (0..self.slots.len()).filter_map(|i| Some((i, self.slot(i)?)));
        f.debug_map().entries(gradients).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Slot;
    use crate::{Tape, Tensor};

    #[test]
    fn a_slot_is_a_tensor_and_the_flags_sit_beside_it() {
        // An `Option<Tensor>` would be 24 bytes: `dense: None` already takes the pointer's
        // only spare value.
        assert_eq!(std::mem::size_of::<Slot>(), 16);
    }

    #[test]
    fn a_scalar_graph_tells_no_gradient_from_a_zero_one() {
        let tape = Tape::new();
        let (x, unused) = (tape.param(3.0), tape.param(5.0));
        let flat = tape.param(1.0);
        let y = x * x + flat * 0.0;
        let grads = y.backward();
        assert_eq!(grads.get(unused), None, "no gradient flowed to it");
        assert_eq!(
            grads.get(flat).map(Tensor::item),
            Some(0.0),
            "a zero one did"
        );
        assert_eq!(grads[unused].item(), 0.0, "indexing gives zeros either way");
        assert_eq!(grads.get(x).map(Tensor::item), Some(6.0));
        let listed = format!("{grads:?}");
        assert!(
            !listed.contains(&format!("{}:", unused.id().index())),
            "{listed}"
        );
        assert!(
            listed.contains(&format!("{}:", flat.id().index())),
            "{listed}"
        );
    }

    #[test]
    fn only_gradients_of_a_graph_with_buffers_are_dropped_one_by_one() {
        let tape = Tape::new();
        let x = tape.param(2.0);
        let scalar = (x * x).backward();
        assert!(!scalar.holds_buffers);
        let v = tape.param(Tensor::from([1.0, 2.0]));
        let both = ((v * v).sum() + x).backward();
        assert!(both.holds_buffers);
        assert_eq!(both[v].data(), [2.0, 4.0]);
        assert_eq!((scalar[x].item(), both[x].item()), (4.0, 1.0));
    }
}
