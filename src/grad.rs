//! Gradients as graphs: [`Var::grad`] and [`Var::grad_with`] run the backward pass *on the tape*,
//! so the gradient they return is a `Var` like any other and can be differentiated again —
//! a second derivative, a Hessian-vector product, a third derivative.
//!
//! The sweep is the one `backward()` runs (reverse creation order, each node's gradient complete
//! when the loop reaches it), but every value it computes is a `Var`: the rule table below is
//! [`op.rs`](crate::Op)'s, written with the ops the forward pass records. So the backward pass
//! is itself a graph on the tape, and differentiating it again is just another sweep.
//!
//! Where the math has no derivative, the rules follow PyTorch (each is tested):
//!
//! - `relu″ = 0`, `step′ = 0`, `sign′ = 0`: the masks `[x > 0]`, `sign(x)` and a maximum's tie
//!   mask enter as constants, so nothing flows through them at any order;
//! - `relu′(0) = 0`, `|x|′(0) = 0`, ties of `max_axis` share the gradient equally;
//! - `√x′(0) = +∞`, `(xᵖ)′ = 0` for `p = 0` (also at `x = 0`, where `p·xᵖ⁻¹` would be `0·∞`).

use crate::kernels::matmul_dims;
use crate::op::{Op, max_ties, sign};
use crate::tape::NodeId;
use crate::tensor::Tensor;
use crate::var::Var;

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

/// The reverse sweep from `output`, seeded with `seed`, with every gradient a `Var`.
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
    let mut grads: Vec<Option<Var<'t>>> = vec![None; end];
    grads[end - 1] = Some(seed);
    for i in (0..end).rev() {
        let Some(g) = grads[i] else { continue };
        if !reached[i] {
            continue;
        }
        let z = Var::new(tape, NodeId::from_index(i));
        vjp(&ops[i], z, g, &mut |input, contribution| {
            if !reached[input.index()] {
                return;
            }
            let contribution = sum_to(contribution(), &Var::new(tape, input).shape());
            let slot = &mut grads[input.index()];
            *slot = Some(match *slot {
                None => contribution,
                Some(sum) => sum + contribution,
            });
        });
    }
    wrt.iter()
        .map(|&w| match grads.get(w.id().index()).copied().flatten() {
            Some(g) => g,
            None => tape.constant(Tensor::zeros(&w.shape())),
        })
        .collect()
}

/// The rule table for [`Var::grad`]: for the op that made `z`, given the upstream gradient `g`,
/// calls `add(input, contribution)` for each input, where `contribution()` records
/// `g · ∂z/∂input` (before broadcasting is undone). Each arm is the `Var` form of the op's
/// rule in `op.rs`.
#[track_caller]
fn vjp<'t>(op: &Op, z: Var<'t>, g: Var<'t>, add: &mut dyn FnMut(NodeId, &dyn Fn() -> Var<'t>)) {
    let tape = z.tape();
    let v = |id: NodeId| Var::new(tape, id);
    // A constant computed from `x`'s value: a mask or a sign, whose derivative is zero.
    let constant = |x: NodeId, f: fn(f64) -> f64| tape.constant(v(x).value().map(f));
    match *op {
        Op::Param | Op::Constant => {}
        Op::Add(x, y) => {
            add(x, &|| g);
            add(y, &|| g);
        }
        Op::Sub(x, y) => {
            add(x, &|| g);
            add(y, &|| -g);
        }
        Op::Mul(x, y) => {
            add(x, &|| g * v(y));
            add(y, &|| g * v(x));
        }
        Op::Div(x, y) => {
            add(x, &|| g / v(y));
            add(y, &|| -(g * z) / v(y));
        }
        Op::BceWithLogits(x, t) => {
            add(x, &|| g * (v(x).sigmoid() - v(t)));
            add(t, &|| -(g * v(x)));
        }
        Op::AddScalar(x, _) => add(x, &|| g),
        Op::MulScalar(x, c) => add(x, &|| g * c),
        Op::DivScalar(x, c) => add(x, &|| g / c),
        Op::ScalarSub(_, x) | Op::Neg(x) => add(x, &|| -g),
        Op::ScalarDiv(_, x) => add(x, &|| -(g * z) / v(x)),
        Op::Step(_) => {}
        Op::Relu(x) => add(x, &|| g * constant(x, |x| f64::from(x > 0.0))),
        Op::Sigmoid(x) => add(x, &|| g * (z * (1.0 - z))),
        Op::Softplus(x) => add(x, &|| g * v(x).sigmoid()),
        Op::Tanh(x) => add(x, &|| g * (1.0 - z * z)),
        Op::Sin(x) => add(x, &|| g * v(x).cos()),
        Op::Cos(x) => add(x, &|| -(g * v(x).sin())),
        Op::Exp(x) => add(x, &|| g * z),
        Op::Ln(x) => add(x, &|| g / v(x)),
        Op::Sqrt(x) => add(x, &|| g / (2.0 * z)),
        Op::Powf(x, p) => {
            if p != 0.0 {
                add(x, &|| g * (p * v(x).powf(p - 1.0)));
            }
        }
        Op::Abs(x) => add(x, &|| g * constant(x, sign)),
        Op::Sum(x) => add(x, &|| g.broadcast_to(&v(x).shape())),
        Op::SumAxis(x, axis) => add(x, &|| expand_axis(g, axis, &v(x).shape())),
        Op::MaxAxis(x, axis) => add(x, &|| {
            let (is_max, ties) = max_ties(&v(x).value(), &z.value(), axis);
            let share = g / tape.constant(ties);
            expand_axis(share, axis, &v(x).shape()) * tape.constant(is_max)
        }),
        Op::Transpose(x) => add(x, &|| g.transpose()),
        Op::Reshape(x, _) => add(x, &|| g.reshape(&v(x).shape())),
        Op::BroadcastTo(x, _) => add(x, &|| g),
        Op::Matmul(x, y) => {
            let (xs, ys) = (v(x).shape(), v(y).shape());
            let (m, k, n) = matmul_dims(&xs, &ys);
            let g2 = || g.reshape(&[m, n]);
            add(x, &|| {
                let y2 = v(y).reshape(&[k, n]);
                g2().matmul(y2.transpose()).reshape(&xs)
            });
            add(y, &|| {
                let x2 = v(x).reshape(&[m, k]);
                x2.transpose().matmul(g2()).reshape(&ys)
            });
        }
        Op::LogSoftmax(x, axis) => add(x, &|| {
            let shape = v(x).shape();
            g - z.exp() * expand_axis(g.sum_axis(axis), axis, &shape)
        }),
        Op::LogSumExp(x, axis) => add(x, &|| {
            let shape = v(x).shape();
            (v(x) - expand_axis(z, axis, &shape)).exp() * expand_axis(g, axis, &shape)
        }),
        Op::Custom(ref call) => {
            let inputs: Vec<Var<'t>> = call.inputs().iter().map(|&x| v(x)).collect();
            let Some(gradients) = call.op().backward_vars(&inputs, z, g) else {
                let at = tape.location(z.id());
                panic!(
                    "grad: the gradient passes through the custom op `{}` recorded at {at}, \
                     whose rule is not differentiable: implement CustomOp::backward_vars (its \
                     rule written with Vars) to differentiate through it",
                    call.name()
                );
            };
            assert!(
                gradients.len() == inputs.len(),
                "grad: the custom op `{}`'s backward_vars returned {} gradients for {} inputs",
                call.name(),
                gradients.len(),
                inputs.len()
            );
            for (i, (&input, gradient)) in call.inputs().iter().zip(gradients).enumerate() {
                let (got, want) = (gradient.shape(), v(input).shape());
                assert!(
                    got == want,
                    "grad: the custom op `{}`'s backward_vars returned shape {got:?} for input \
                     {i}, whose shape is {want:?}",
                    call.name()
                );
                add(input, &|| gradient);
            }
        }
    }
}

/// `g`, whose shape is `shape` without `axis`, repeated along `axis` to `shape`.
#[track_caller]
fn expand_axis<'t>(g: Var<'t>, axis: usize, shape: &[usize]) -> Var<'t> {
    let mut kept = shape.to_vec();
    kept[axis] = 1;
    g.reshape(&kept).broadcast_to(shape)
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
