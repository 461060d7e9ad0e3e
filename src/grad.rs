//! Gradients as graphs: [`Var::grad`] and [`Var::grad_with`] run the backward pass *on the tape*,
//! so the gradient they return is a `Var` like any other and can be differentiated again —
//! a second derivative, a Hessian-vector product, a third derivative.
//!
//! The sweep is the algorithm `backward()` runs (reverse creation order, each node's gradient
//! complete when the loop reaches it), and its rules are the same table (`rules.rs`), run on the `Var`
//! algebra defined here: every value it computes is a `Var`. So the backward pass is itself a
//! graph on the tape, and differentiating it again is just another sweep. The conventions where
//! the math has no derivative (relu″ = 0, ties of a maximum, …) are listed in `rules.rs`.

use crate::custom::CustomCall;
use crate::gather::Gather;
use crate::op::{NodeId, Op};
use crate::rules::{self, Algebra, Mat, Sink};
use crate::shape::Shape;
use crate::tape::Tape;
use crate::tensor::Tensor;
use crate::var::Var;
use std::sync::Arc;

impl<'t> Var<'t> {
    /// The gradient of this scalar with respect to each of `wrt`, recorded on the same tape: a
    /// `Var` of each one's shape, which can be differentiated again ([`grad`](Var::grad) of it,
    /// or of any function of it). Where no gradient flows, a zero constant.
    ///
    /// Its values are those of [`backward`](Var::backward) up to rounding; `backward()` stays
    /// the fast way to get first derivatives.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::scalar(2.0));
    /// let y = x * x * x; // x³
    /// let dy = y.grad(&[x])[0]; // 3x²
    /// let d2y = dy.grad(&[x])[0]; // 6x
    /// let d3y = d2y.grad(&[x])[0]; // 6
    /// assert_eq!(dy.value().item(), 12.0);
    /// assert_eq!(d2y.value().item(), 12.0);
    /// assert_eq!(d3y.value().item(), 6.0);
    /// ```
    ///
    /// # Panics
    ///
    /// If this output holds more than one element (use [`grad_with`](Var::grad_with)), if a
    /// `wrt` Var belongs to another tape, or if the gradient passes through a custom op whose
    /// rule is not written with `Var`s ([`CustomOp::backward_vars`](crate::CustomOp)).
    #[track_caller]
    pub fn grad(self, wrt: &[Var<'t>]) -> Vec<Var<'t>> {
        let shape = self.shape();
        assert!(
            shape.size() == 1,
            "grad: the output has shape {shape:?} ({} elements), but grad() needs a single \
             element; use grad_with(cotangent, wrt) for a vector-Jacobian product",
            shape.size()
        );
        let seed = self.tape().constant(Tensor::ones(&shape));
        sweep(self, seed, wrt)
    }

    /// The vector-Jacobian product `cotangentᵀ · ∂self/∂w` for each `w` of `wrt`, recorded on
    /// the tape. The cotangent is itself a `Var` (of this output's shape), so differentiating
    /// the result with respect to it gives a Jacobian-vector product.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([1.0, 2.0]));
    /// let y = x * x; // elementwise: the Jacobian is diag(2x)
    /// let u = tape.param(Tensor::from([1.0, 1.0]));
    /// let vjp = y.grad_with(u, &[x])[0]; // uᵀ·J = 2x ⊙ u
    /// assert_eq!(vjp.value(), Tensor::from([2.0, 4.0]));
    /// ```
    ///
    /// # Panics
    ///
    /// If the cotangent's shape is not this output's, if a Var belongs to another tape, or as
    /// [`grad`](Var::grad).
    #[track_caller]
    pub fn grad_with(self, cotangent: Var<'t>, wrt: &[Var<'t>]) -> Vec<Var<'t>> {
        same_tape(self, cotangent, "grad_with", "the cotangent");
        let (shape, cotangent_shape) = (self.shape(), cotangent.shape());
        assert!(
            shape == cotangent_shape,
            "grad_with: the cotangent has shape {cotangent_shape:?}, but the output has shape \
             {shape:?}"
        );
        sweep(self, cotangent, wrt)
    }
}

/// Panics, at the caller's line, if `other` was recorded on another tape than `output`.
#[track_caller]
fn same_tape(output: Var<'_>, other: Var<'_>, op: &str, what: &str) {
    assert!(
        std::ptr::eq(output.tape(), other.tape()),
        "{op}: {what} is a Var of another tape than the output; record both on one tape"
    );
}

/// The reverse sweep from `output`, seeded with `seed`, with every gradient a `Var`: the rule
/// table run on the `Var` algebra.
#[track_caller]
fn sweep<'t>(output: Var<'t>, seed: Var<'t>, wrt: &[Var<'t>]) -> Vec<Var<'t>> {
    for &w in wrt {
        same_tape(output, w, "grad", "a Var of `wrt`");
    }
    let tape = output.tape();
    let end = output.id().index() + 1;
    // The ops are cloned out of the tape first: the rules record new nodes as the sweep runs.
    let ops: Vec<Op> = tape.nodes()[..end].iter().map(|n| n.op.clone()).collect();
    // Only nodes that some `wrt` reaches need a gradient.
    let mut reached = vec![false; end];
    for &w in wrt {
        if w.id().index() < end {
            reached[w.id().index()] = true;
        }
    }
    for (i, op) in ops.iter().enumerate() {
        if !reached[i] {
            reached[i] = op.any_input(|x| reached[x.index()]);
        }
    }
    let mut sink = VarSink {
        tape,
        reached,
        grads: vec![None; end],
    };
    sink.grads[end - 1] = Some(seed);
    for i in (0..end).rev() {
        let Some(g) = sink.grads[i] else { continue };
        if !sink.reached[i] {
            continue;
        }
        let z = Var::new(tape, NodeId::from_index(i));
        rules::vjp(&ops[i], |x| Var::new(tape, x), &z, &g, &mut sink);
    }
    wrt.iter()
        .map(
            |&w| match sink.grads.get(w.id().index()).copied().flatten() {
                Some(g) => g,
                None => tape.constant(Tensor::zeros(&w.shape())),
            },
        )
        .collect()
}

/// Where the recorded sweep's rules send contributions: a `Var` per node, summed on the tape.
struct VarSink<'t> {
    tape: &'t Tape,
    /// Whether some `wrt` reaches each node (only those need a gradient).
    reached: Vec<bool>,
    grads: Vec<Option<Var<'t>>>,
}

impl<'t> Sink<Var<'t>> for VarSink<'t> {
    #[track_caller]
    fn add(&mut self, input: NodeId, contribution: impl FnOnce() -> Var<'t>) {
        if !self.reached[input.index()] {
            return;
        }
        let shape = Var::new(self.tape, input).shape();
        let contribution = sum_to(contribution(), &shape);
        let slot = &mut self.grads[input.index()];
        *slot = Some(match *slot {
            None => contribution,
            Some(sum) => sum + contribution,
        });
    }
}

/// The recorded algebra: every operation is an op on the tape, so the gradient it computes can
/// be differentiated again.
impl<'t> Algebra for Var<'t> {
    fn shape(&self) -> Shape {
        Var::shape(*self)
    }

    fn value(&self) -> Tensor {
        Var::value(*self)
    }

    fn constant(&self, value: Tensor) -> Var<'t> {
        self.tape().constant(value)
    }

    fn exp(&self) -> Var<'t> {
        Var::exp(*self)
    }

    fn sin(&self) -> Var<'t> {
        Var::sin(*self)
    }

    fn cos(&self) -> Var<'t> {
        Var::cos(*self)
    }

    fn sigmoid(&self) -> Var<'t> {
        Var::sigmoid(*self)
    }

    fn powf(&self, p: f64) -> Var<'t> {
        Var::powf(*self, p)
    }

    fn scalar_sub(&self, c: f64) -> Var<'t> {
        c - *self
    }

    fn masked(&self, x: &Var<'t>, keep: impl Fn(f64) -> bool) -> Var<'t> {
        let mask = x.value().map(|x| f64::from(keep(x)));
        *self * self.constant(mask)
    }

    fn shared(&self, share: Tensor) -> Var<'t> {
        // A where, not a product alone, so that a share of 0 is 0 (not NaN) here too.
        let sent = self.constant(share.map(|w| f64::from(w != 0.0)));
        sent.where_(
            *self * self.constant(share),
            self.constant(Tensor::scalar(0.0)),
        )
    }

    fn sigmoid_minus(&self, t: &Var<'t>) -> Var<'t> {
        Var::sigmoid(*self) - *t
    }

    fn sum_axis(&self, axis: usize) -> Var<'t> {
        Var::sum_axis(*self, axis)
    }

    fn expand_axis(&self, axis: usize, len: usize) -> Var<'t> {
        let mut kept = Var::shape(*self).to_vec();
        kept.insert(axis, 1);
        let mut shape = kept.clone();
        shape[axis] = len;
        Var::reshape(*self, &kept).broadcast_to(&shape)
    }

    fn broadcast_to(&self, shape: &[usize]) -> Var<'t> {
        Var::broadcast_to(*self, shape)
    }

    fn reshape(&self, shape: &[usize]) -> Var<'t> {
        Var::reshape(*self, shape)
    }

    fn transpose(&self) -> Var<'t> {
        Var::transpose(*self)
    }

    fn product(&self, a: Mat, other: &Var<'t>, b: Mat, shape: &[usize]) -> Var<'t> {
        let matrix = |v: Var<'t>, m: Mat| {
            let v = v.reshape(&[m.rows, m.cols]);
            if m.transposed { v.transpose() } else { v }
        };
        matrix(*self, a).matmul(matrix(*other, b)).reshape(shape)
    }

    fn batched_product(&self, ta: bool, other: &Var<'t>, tb: bool) -> Var<'t> {
        let matrices = |v: Var<'t>, t: bool| if t { v.swap_axes(-1, -2) } else { v };
        matrices(*self, ta).matmul(matrices(*other, tb))
    }

    fn permute(&self, perm: &[usize]) -> Var<'t> {
        Var::permute(*self, perm)
    }

    fn take(&self, gather: &Arc<Gather>) -> Var<'t> {
        self.tape().record(Op::Take(self.id(), gather.clone()))
    }

    fn scatter_add(&self, gather: &Arc<Gather>) -> Var<'t> {
        self.tape()
            .record(Op::ScatterAdd(self.id(), gather.clone()))
    }

    fn narrow(&self, axis: usize, start: usize, len: usize) -> Var<'t> {
        Var::narrow(*self, axis, start, len)
    }

    fn prod_except(&self, axis: usize) -> Var<'t> {
        let x = *self;
        let shape = x.shape();
        let n = shape[axis];
        let ones = |len: usize| {
            let mut shape = shape.to_vec();
            shape[axis] = len;
            x.constant(Tensor::ones(&shape))
        };
        if n <= 1 {
            return ones(n); // no other elements: the empty product
        }
        // Before i: [1, x₀, x₀x₁, …]; after i: [x₁⋯xₙ₋₁, …, xₙ₋₁, 1]. Only products, so
        // the rules that differentiate them again never divide either.
        let before = running_products(x.narrow(axis, 0, n - 1), axis, Direction::FromFront);
        let after = running_products(x.narrow(axis, 1, n - 1), axis, Direction::FromBack);
        Var::concat(&[ones(1), before], axis) * Var::concat(&[after, ones(1)], axis)
    }

    fn custom(call: &CustomCall, inputs: &[Var<'t>], z: &Var<'t>, g: &Var<'t>) -> Vec<Var<'t>> {
        call.backward_vars(inputs, *z, *g)
    }
}

/// Which end a running product starts from.
#[derive(Clone, Copy, PartialEq)]
enum Direction {
    FromFront,
    FromBack,
}

/// The running products of `e` along `axis`, recorded: `pᵢ = Π_{k≤i} eₖ` from the front,
/// `Π_{k≥i} eₖ` from the back. A Hillis–Steele scan: ⌈log₂ n⌉ steps, step `d` multiplying
/// each `pᵢ` by `pᵢ∓d` where that exists (`mul` of two `narrow`s, joined by `concat` to the `d`
/// elements already complete), so O(n log n) elements in O(log n) nodes, and no division.
fn running_products<'t>(e: Var<'t>, axis: usize, direction: Direction) -> Var<'t> {
    let n = e.shape()[axis];
    let mut p = e;
    let mut d = 1;
    while d < n {
        let (head, tail) = (p.narrow(axis, 0, n - d), p.narrow(axis, d, n - d));
        p = match direction {
            Direction::FromFront => Var::concat(&[p.narrow(axis, 0, d), tail * head], axis),
            Direction::FromBack => Var::concat(&[head * tail, p.narrow(axis, n - d, d)], axis),
        };
        d *= 2;
    }
    p
}

/// `g` summed down to `shape`, undoing a broadcast: over the leading axes `shape` lacks and the
/// axes where it has 1.
#[track_caller]
fn sum_to<'t>(g: Var<'t>, shape: &[usize]) -> Var<'t> {
    let from = g.shape();
    if *from == *shape {
        return g;
    }
    let lead = from.len() - shape.len();
    let mut summed = g;
    for _ in 0..lead {
        summed = summed.sum_axis(0);
    }
    for (axis, &len) in shape.iter().enumerate() {
        if len == 1 && summed.shape()[axis] != 1 {
            summed = expand_keep(summed.sum_axis(axis), axis);
        }
    }
    summed.reshape(shape)
}

/// `g` with a dimension of 1 inserted at `axis`.
#[track_caller]
fn expand_keep(g: Var<'_>, axis: usize) -> Var<'_> {
    let mut shape = g.shape().to_vec();
    shape.insert(axis, 1);
    g.reshape(&shape)
}
