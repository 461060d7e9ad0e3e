//! The reverse sweep and its result, [`Grads`].
//!
//! The tape is in creation order, which is a topological order, so the backward pass is one
//! loop from the output down to the first node: no recursion, no visited set, no hash map. Each
//! node's gradient is complete when the loop reaches it, because every node that reads it was
//! created later. Each node's rule (`rules.rs`, run on plain tensors, or on `f64`s when every
//! value is a scalar) sends its inputs' contributions to [`GradSink::add`], the one place of
//! this sweep that skips constants, sums broadcast dimensions back to the input's shape and
//! accumulates (`Var::grad`'s sweep has its own, in `grad.rs`).
//!
//! The same loop serves the step-by-step trace (`trace.rs`): it takes an optional [`Observer`]
//! that is told each node and each contribution as they happen, so the trace reports the very
//! numbers this loop computes.

use crate::rules::{self, Algebra, Sink};
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
    /// One gradient per node recorded when backward ran, meaningful where `flowed` says so.
    slots: Vec<Tensor>,
    /// Whether a gradient flowed to each node. Beside the slots rather than in them: an
    /// `Option<Tensor>` is 24 bytes where a tensor is 16, and on a long tape the sweep is
    /// memory-bound.
    flowed: Vec<bool>,
    /// The zeros that indexing returns where no gradient flowed, made on first request (behind
    /// `&self`, hence the cells) and kept apart so that `get` still tells that none flowed.
    zeros: OnceCell<Vec<OnceCell<Tensor>>>,
}

/// What the first-order sweep holds a gradient as: a [`Tensor`], or, when every value on the
/// tape is a scalar, an `f64` (the same rules and arithmetic, without a tensor's checks for
/// shape and buffer at every step).
pub(crate) trait Gradient: Algebra {
    /// A node's value in this algebra.
    fn of(value: &Tensor) -> Self;
    /// Whether the gradient has the shape of `value`.
    fn fits(&self, value: &Tensor) -> bool;
    /// The gradient summed down to `value`'s shape, undoing a broadcast; each element negated
    /// first if `negated`.
    fn sum_to(&self, value: &Tensor, negated: bool) -> Self;
    /// `self += other`, for a gradient of the same shape.
    fn accumulate(&mut self, other: &Self);
}

impl Gradient for Tensor {
    fn of(value: &Tensor) -> Tensor {
        value.clone()
    }

    fn fits(&self, value: &Tensor) -> bool {
        self.same_shape(value)
    }

    fn sum_to(&self, value: &Tensor, negated: bool) -> Tensor {
        match negated {
            false => self.sum_to_shape(value.shape()),
            true => self.sum_to_shape_of(value.shape(), |x| -x),
        }
    }

    fn accumulate(&mut self, other: &Tensor) {
        self.add_same_shape(other);
    }
}

impl Gradient for f64 {
    fn of(value: &Tensor) -> f64 {
        value.item()
    }

    fn fits(&self, _: &Tensor) -> bool {
        true
    }

    fn sum_to(&self, _: &Tensor, negated: bool) -> f64 {
        if negated { -*self } else { *self }
    }

    fn accumulate(&mut self, other: &f64) {
        *self += other;
    }
}

/// Where the rules of the first-order sweep send each input's contribution.
pub(crate) struct GradSink<'a, A> {
    /// The nodes created before the one being processed: all of its inputs.
    nodes: &'a [Node],
    /// Whether each of them needs a gradient.
    needs_grad: &'a [bool],
    /// Their gradients so far.
    slots: &'a mut [A],
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

impl<A: Gradient> Sink<A> for GradSink<'_, A> {
    /// Adds `contribution()` to the gradient of `input`, summing it down to the input's shape
    /// first if the op broadcast that input. Skips (and never computes) the contribution when
    /// no parameter reaches `input`.
    // Forced into each rule, with `vjp` into the loop (performance.md, W4).
    #[inline(always)]
    fn add(&mut self, input: NodeId, contribution: impl FnOnce() -> A) {
        self.add_signed(input, contribution, false);
    }

    #[inline(always)]
    fn add_negated(&mut self, input: NodeId, contribution: impl FnOnce() -> A) {
        self.add_signed(input, contribution, true);
    }
}

impl<A: Gradient> GradSink<'_, A> {
    /// [`Sink::add`] of `contribution()`, or of its negation if `negated`: a broadcast
    /// contribution is negated as it is summed down, element by element, so the sum has the
    /// bits of summing the negated elements (also the sign of a zero).
    #[inline(always)]
    fn add_signed(&mut self, input: NodeId, contribution: impl FnOnce() -> A, negated: bool) {
        let i = input.index();
        if !self.needs_grad[i] {
            return;
        }
        let value = &self.nodes[i].value;
        let mut contribution = contribution();
        let mut unsummed = None;
        if !contribution.fits(value) {
            let summed = contribution.sum_to(value, negated);
            unsummed = Some(std::mem::replace(&mut contribution, summed));
        } else if negated {
            contribution = -contribution;
        }
        let (slot, flowed) = (&mut self.slots[i], &mut self.flowed[i]);
        let first = !*flowed;
        // A copy for the observer, if there is one, to show what was added.
        let added = self.observer.is_some().then(|| contribution.value());
        if first {
            *slot = contribution;
            *flowed = true;
        } else {
            slot.accumulate(&contribution);
        }
        if let (Some(observer), Some(contribution)) = (self.observer.as_deref_mut(), added) {
            let unsummed = unsummed.map(|u| if negated { -u.value() } else { u.value() });
            let added = Added {
                unsummed: unsummed.as_ref(),
                contribution: &contribution,
                gradient: &slot.value(),
                first,
            };
            observer.added(input, added);
        }
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
    let recording = tape.recording();
    let (nodes, needs_grad) = (recording.nodes(), &recording.needs_grad[..]);
    let (slots, flowed) = if recording.all_scalars() {
        let (slots, flowed) = run::<f64>(nodes, needs_grad, output, &cotangent, observer);
        (slots.into_iter().map(Tensor::scalar).collect(), flowed)
    } else {
        run::<Tensor>(nodes, needs_grad, output, &cotangent, observer)
    };
    Grads {
        tape_id: tape.id(),
        slots,
        flowed,
        zeros: OnceCell::new(),
    }
}

/// The loop of the sweep, with gradients held as `A`: from `output` down to the first node,
/// each node's rule adds its inputs' contributions to their gradients. Returns the gradients,
/// and whether one flowed to each node.
fn run<A: Gradient>(
    nodes: &[Node],
    needs_grad: &[bool],
    output: NodeId,
    cotangent: &Tensor,
    mut observer: Option<&mut dyn Observer>,
) -> (Vec<A>, Vec<bool>) {
    let mut slots = vec![A::of(&Tensor::scalar(0.0)); nodes.len()];
    let mut flowed = vec![false; nodes.len()];
    slots[output.index()] = A::of(cotangent);
    flowed[output.index()] = true;
    for i in (0..=output.index()).rev() {
        if !(needs_grad[i] && flowed[i]) {
            continue; // no parameter reaches this node, or it does not reach the output
        }
        let node = &nodes[i];
        // The node's gradient, and the slots of the nodes before it: all of its inputs.
        let (earlier, rest) = slots.split_at_mut(i);
        let g = &rest[0];
        if let Some(observer) = observer.as_deref_mut() {
            observer.node(i, &g.value());
        }
        let mut sink = GradSink {
            nodes: &nodes[..i],
            needs_grad: &needs_grad[..i],
            slots: earlier,
            flowed: &mut flowed[..i],
            // A reborrow for this node only (the cast shortens the trait object's lifetime).
            observer: observer.as_deref_mut().map(|o| o as &mut dyn Observer),
        };
        let input = |x: NodeId| A::of(&nodes[x.index()].value);
        rules::vjp(&node.op, input, &A::of(&node.value), g, &mut sink);
    }
    (slots, flowed)
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
        self.flowed[index].then(|| &self.slots[index])
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

impl fmt::Debug for Grads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gradients = (0..self.slots.len()).filter_map(|i| Some((i, self.slot(i)?)));
        f.debug_map().entries(gradients).finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Tape, Tensor};

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
    fn a_graph_of_scalars_gets_the_same_bits_in_f64s_as_in_tensors() {
        // Every scalar op, on two tapes: the second holds one non-scalar constant, so its sweep
        // runs on tensors where the first runs on `f64`s.
        let run = |with_tensor: bool| {
            let tape = Tape::new();
            if with_tensor {
                let _ = tape.constant(Tensor::from([0.0]));
            }
            let (a, b) = (tape.param(0.7), tape.param(-1.3));
            let t = tape.constant(1.0);
            let terms = [
                a * b - a / b + (a + 2.0) * 3.0 - 1.5 / b,
                a.sigmoid() * b.tanh() + a.softplus() + b.abs() + a.relu() + b.relu(),
                a.exp().ln() + a.sqrt() + a.powf(2.5) + a.sin() * b.cos() + b.step(),
                (a * 40.0).bce_with_logits(t) + b.bce_with_logits(t) - (-a),
                (a * b).sum().reshape(&[]).broadcast_to(&[]),
            ];
            let z = terms.into_iter().reduce(|s, x| s + x).unwrap();
            let grads = z.backward();
            [grads[a].item(), grads[b].item()].map(f64::to_bits)
        };
        assert!(Tape::new().recording().all_scalars());
        assert_eq!(run(false), run(true));
    }
}
