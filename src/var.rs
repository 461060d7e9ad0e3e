//! [`Var`]: the `Copy` handle to a node on a tape, and the methods and operators that record
//! ops through it.
//!
//! Each method here only names a primitive of `op.rs` and records it (or, for a composite op
//! such as `mean` or `softmax`, records a few primitives). The math lives in `op.rs` (forward)
//! and `rules.rs` (backward).

use crate::axis::Axis;
use crate::backward::{self, Grads};
use crate::op::Op;
use crate::shape::Shape;
use crate::tape::{NodeId, Tape};
use crate::tensor::Tensor;
use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Sub};
use std::panic::Location;

/// The recording methods that hand back a `Var` (here rather than in `tape.rs`, which knows
/// nothing of `Var`; an op's node is recorded by `Tape::record`, in `record.rs`).
impl Tape {
    /// Records a parameter: a leaf that `backward()` computes the gradient of.
    #[track_caller]
    pub fn param(&self, value: impl Into<Tensor>) -> Var<'_> {
        Var::new(self, self.push_leaf(Op::Param, value.into(), true))
    }

    /// Records a constant: a leaf that no gradient is computed for (inputs, targets).
    #[track_caller]
    pub fn constant(&self, value: impl Into<Tensor>) -> Var<'_> {
        Var::new(self, self.push_leaf(Op::Constant, value.into(), false))
    }
}

/// A value recorded on a [`Tape`]: a tape reference and a node index, so it is `Copy` and
/// cheap to pass around. Operators and methods on it record new nodes.
///
/// ```
/// use tapegrad::{Tape, Tensor};
///
/// let tape = Tape::new();
/// let x = tape.constant(Tensor::from([[1.0, 2.0], [3.0, 4.0]]));
/// let w = tape.param(Tensor::from([0.5, -0.5]));
/// let loss = x.matmul(w).relu().sum();
/// assert_eq!(loss.value().item(), 0.0);   // both rows give -0.5 before relu
/// ```
#[derive(Clone, Copy)]
pub struct Var<'t> {
    tape: &'t Tape,
    id: NodeId,
}

impl<'t> Var<'t> {
    #[inline]
    pub(crate) fn new(tape: &'t Tape, id: NodeId) -> Var<'t> {
        Var { tape, id }
    }

    /// The tape this Var lives on.
    pub fn tape(self) -> &'t Tape {
        self.tape
    }

    /// Its node's position on the tape.
    pub fn id(self) -> NodeId {
        self.id
    }

    /// The value the forward pass computed (a cheap, shared clone).
    pub fn value(self) -> Tensor {
        self.tape.nodes()[self.id.index()].value.clone()
    }

    /// The shape of its value.
    pub fn shape(self) -> Shape {
        self.tape.nodes()[self.id.index()].value.shape().into()
    }

    /// The op that produced it.
    pub fn op(self) -> Op {
        self.tape.nodes()[self.id.index()].op.clone()
    }

    /// The line of the program that recorded it: every method and operator that records a node
    /// is `#[track_caller]`, so this is the user's line, not tapegrad's.
    ///
    /// ```
    /// use tapegrad::Tape;
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(2.0);
    /// let line = line!() + 1;
    /// let y = x.exp();
    /// assert_eq!((y.location().file(), y.location().line()), (file!(), line));
    /// ```
    pub fn location(self) -> &'static Location<'static> {
        self.tape.location(self.id)
    }

    /// The backward pass from this output, which must hold exactly one element: the gradient of
    /// it with respect to every node, computed by one reverse sweep of the tape.
    ///
    /// # Panics
    ///
    /// If the output holds more than one element; use [`backward_with`](Var::backward_with).
    #[track_caller]
    pub fn backward(self) -> Grads {
        backward::backward(self.tape, self.id, self.seed())
    }

    /// The backward pass seeded with `cotangent` (∂l/∂self, same shape as this output): a
    /// vector-Jacobian product, for outputs of any shape.
    ///
    /// # Panics
    ///
    /// If `cotangent`'s shape is not this output's shape.
    #[track_caller]
    pub fn backward_with(self, cotangent: impl Into<Tensor>) -> Grads {
        backward::backward(self.tape, self.id, self.seed_with(cotangent.into()))
    }

    /// The seed ∂l/∂self = 1 of a backward pass from this output.
    ///
    /// # Panics
    ///
    /// If the output holds more than one element.
    #[track_caller]
    pub(crate) fn seed(self) -> Tensor {
        let shape = self.shape();
        assert!(
            shape.size() == 1,
            "backward: the output has shape {shape:?} ({} elements), but backward() needs a \
             single element; use backward_with(cotangent) for a vector-Jacobian product",
            shape.size()
        );
        Tensor::ones(&shape)
    }

    /// `cotangent` as the seed of a backward pass from this output.
    ///
    /// # Panics
    ///
    /// If its shape is not this output's shape.
    #[track_caller]
    pub(crate) fn seed_with(self, cotangent: Tensor) -> Tensor {
        let shape = self.shape();
        assert!(
            shape == *cotangent.shape(),
            "backward_with: the cotangent has shape {:?}, but the output has shape {shape:?}",
            cotangent.shape()
        );
        cotangent
    }

    /// Records a binary op after checking that both operands live on the same tape.
    #[track_caller]
    #[inline]
    fn binary(self, other: Var<'t>, op: fn(NodeId, NodeId) -> Op, name: &str) -> Var<'t> {
        assert!(
            std::ptr::eq(self.tape, other.tape),
            "{name}: the operands are Vars of two different tapes; record both on one tape"
        );
        self.tape.record(op(self.id, other.id))
    }

    /// The matrix product, with numpy's rules: `[m, k] · [k, n] → [m, n]`, `[m, k] · [k] → [m]`,
    /// `[k] · [k, n] → [n]`, `[k] · [k] → []`; with more dimensions, a batch of matrices in the
    /// last two whose leading dimensions broadcast (`[b, h, t, d] · [b, h, d, t] → [b, h, t, t]`,
    /// `[b, m, k] · [k, n] → [b, m, n]`), each product through the same GEMM path.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let q = tape.param(Tensor::from_fn(&[2, 3, 4], |i| i as f64 / 10.0)); // 2 heads
    /// let k = tape.param(Tensor::from_fn(&[2, 3, 4], |i| 1.0 - i as f64 / 20.0));
    /// let scores = q.matmul(k.swap_axes(-1, -2)); // [2, 3, 3]: one 3×3 per head
    /// assert_eq!(scores.shape(), [2, 3, 3]);
    /// let grads = scores.sum().backward();
    /// assert_eq!(grads[q].shape(), &[2, 3, 4]);
    /// ```
    ///
    /// # Panics
    ///
    /// If an operand is a scalar, the inner dimensions differ, the batch dimensions do not
    /// broadcast, or the Vars belong to two tapes.
    #[track_caller]
    pub fn matmul(self, other: Var<'t>) -> Var<'t> {
        self.binary(other, Op::Matmul, "matmul")
    }

    /// `self · otherᵀ`, with `other` read through a transposed view (never copied):
    /// `[m, k] · [n, k]ᵀ → [m, n]` and `[k] · [n, k]ᵀ → [n]`. This is how [`nn::Linear`]
    /// applies its `[out, in]` weight, as PyTorch's `nn.Linear` does.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([[1.0, 2.0]]));
    /// let w = tape.param(Tensor::from([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]));   // [out, in]
    /// let y = x.matmul_t(w);
    /// assert_eq!(y.value(), Tensor::from([[1.0, 2.0, 3.0]]));
    /// assert_eq!(y.value(), x.matmul(w.transpose()).value());
    /// ```
    ///
    /// [`nn::Linear`]: crate::nn::Linear
    ///
    /// # Panics
    ///
    /// If `self` is not 1-D or 2-D, `other` is not 2-D, their last dimensions differ, or the
    /// Vars belong to two tapes.
    #[track_caller]
    pub fn matmul_t(self, other: Var<'t>) -> Var<'t> {
        self.binary(other, Op::MatmulT, "matmul_t")
    }

    /// `1` where the value is > 0, else `0`. Its derivative is taken as 0 everywhere.
    #[track_caller]
    pub fn step(self) -> Var<'t> {
        self.tape.record(Op::Step(self.id))
    }

    /// `max(x, 0)`; its derivative at 0 is taken as 0, and a NaN stays NaN (as in PyTorch).
    #[track_caller]
    pub fn relu(self) -> Var<'t> {
        self.tape.record(Op::Relu(self.id))
    }

    /// The logistic function `1 / (1 + e^−x)`.
    #[track_caller]
    pub fn sigmoid(self) -> Var<'t> {
        self.tape.record(Op::Sigmoid(self.id))
    }

    /// `ln(1 + eˣ)`, a smooth relu, computed without overflow; its derivative is `σ(x)`, also
    /// at 0 (a composition through `relu` and `abs` would give 0 there).
    #[track_caller]
    pub fn softplus(self) -> Var<'t> {
        self.tape.record(Op::Softplus(self.id))
    }

    /// The elementwise binary cross-entropy of logits `self` against targets `t`, fused for
    /// accuracy (see [`Op::BceWithLogits`]); users call
    /// [`loss::binary_cross_entropy_with_logits`](crate::loss::binary_cross_entropy_with_logits).
    #[track_caller]
    pub(crate) fn bce_with_logits(self, t: Var<'t>) -> Var<'t> {
        self.binary(t, Op::BceWithLogits, "bce_with_logits")
    }

    /// The hyperbolic tangent.
    #[track_caller]
    pub fn tanh(self) -> Var<'t> {
        self.tape.record(Op::Tanh(self.id))
    }

    /// The sine (of an angle in radians).
    #[track_caller]
    pub fn sin(self) -> Var<'t> {
        self.tape.record(Op::Sin(self.id))
    }

    /// The cosine (of an angle in radians).
    #[track_caller]
    pub fn cos(self) -> Var<'t> {
        self.tape.record(Op::Cos(self.id))
    }

    /// `eˣ`.
    #[track_caller]
    pub fn exp(self) -> Var<'t> {
        self.tape.record(Op::Exp(self.id))
    }

    /// The natural logarithm.
    #[track_caller]
    pub fn ln(self) -> Var<'t> {
        self.tape.record(Op::Ln(self.id))
    }

    /// The square root.
    #[track_caller]
    pub fn sqrt(self) -> Var<'t> {
        self.tape.record(Op::Sqrt(self.id))
    }

    /// `xᵖ` for a constant exponent `p`.
    #[track_caller]
    pub fn powf(self, p: f64) -> Var<'t> {
        self.tape.record(Op::Powf(self.id, p))
    }

    /// `ln(1 + x)`, accurate where `x` is so small that `1 + x` rounds (`log1p(1e-20)` is
    /// `1e-20`, where `(1 + x).ln()` gives 0).
    #[track_caller]
    pub fn log1p(self) -> Var<'t> {
        self.tape.record(Op::Log1p(self.id))
    }

    /// `eˣ − 1`, accurate for small `x`, where `exp(x) − 1` loses its digits to cancellation.
    #[track_caller]
    pub fn expm1(self) -> Var<'t> {
        self.tape.record(Op::Expm1(self.id))
    }

    /// `x²`, elementwise.
    #[track_caller]
    pub fn square(self) -> Var<'t> {
        self.tape.record(Op::Square(self.id))
    }

    /// The absolute value; its derivative at 0 is taken as 0.
    #[track_caller]
    pub fn abs(self) -> Var<'t> {
        self.tape.record(Op::Abs(self.id))
    }

    /// The sum of all elements (a scalar).
    #[track_caller]
    pub fn sum(self) -> Var<'t> {
        self.tape.record(Op::Sum(self.id))
    }

    /// The product of all elements (a scalar; 1 for no elements), recorded as
    /// [`prod_axis`](Var::prod_axis) of the value read as a vector, so its gradient is
    /// `Π_{j≠i} xⱼ` exactly at zeros and infinities too.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([[2.0, 0.0], [3.0, 4.0]]));
    /// let p = x.prod();
    /// assert_eq!(p.value().item(), 0.0);
    /// // One zero: only it has a nonzero derivative, the product of the others.
    /// assert_eq!(p.backward()[x], Tensor::from([[0.0, 24.0], [0.0, 0.0]]));
    /// ```
    #[track_caller]
    pub fn prod(self) -> Var<'t> {
        self.reshape(&[self.shape().size()]).prod_axis(0)
    }

    /// The mean of all elements (a scalar): the sum divided by the element count.
    #[track_caller]
    pub fn mean(self) -> Var<'t> {
        let count = self.shape().size();
        self.sum() / count as f64
    }

    /// The sum along `axis` (negative counts from the end), which is removed from the shape;
    /// [`sum_axis_keepdim`](Var::sum_axis_keepdim) keeps it with length 1.
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value.
    #[track_caller]
    pub fn sum_axis(self, axis: impl Axis) -> Var<'t> {
        let axis = axis.resolve(&self.shape(), "sum_axis");
        self.tape.record(Op::SumAxis(self.id, axis))
    }

    /// The mean along `axis` (negative counts from the end), which is removed from the shape.
    ///
    /// To subtract it from the value, keep the axis: on a square matrix
    /// `x - x.mean_axis(1)` broadcasts the row means along the *rows* (numpy's rules align the
    /// last axes) and is silently wrong, where `x - x.mean_axis_keepdim(1)` centres each row.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([[1.0, 3.0], [10.0, 30.0]]));
    /// let centred = x - x.mean_axis_keepdim(1);
    /// assert_eq!(centred.value(), Tensor::from([[-1.0, 1.0], [-10.0, 10.0]]));
    /// let wrong = x - x.mean_axis(1); // [2] against [2, 2]: the means run along each row
    /// assert_eq!(wrong.value(), Tensor::from([[-1.0, -17.0], [8.0, 10.0]]));
    /// ```
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value.
    #[track_caller]
    pub fn mean_axis(self, axis: impl Axis) -> Var<'t> {
        let shape = self.shape();
        let axis = axis.resolve(&shape, "mean_axis");
        self.sum_axis(axis) / shape[axis] as f64
    }

    /// The maximum along `axis` (negative counts from the end), which is removed. Where
    /// several elements tie for the maximum, they share its gradient equally.
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value, or has length 0.
    #[track_caller]
    pub fn max_axis(self, axis: impl Axis) -> Var<'t> {
        let axis = axis.resolve(&self.shape(), "max_axis");
        self.tape.record(Op::MaxAxis(self.id, axis))
    }

    /// The transpose of a 2-D value; [`swap_axes`](Var::swap_axes) and
    /// [`permute`](Var::permute) reorder the axes of any value.
    ///
    /// # Panics
    ///
    /// If the value is not 2-D.
    #[track_caller]
    pub fn transpose(self) -> Var<'t> {
        self.tape.record(Op::Transpose(self.id))
    }

    /// The same elements under another shape with the same number of elements.
    ///
    /// # Panics
    ///
    /// If `shape` holds a different number of elements.
    #[track_caller]
    pub fn reshape(self, shape: &[usize]) -> Var<'t> {
        self.tape
            .record(Op::Reshape(self.id, Box::new(shape.into())))
    }

    /// The value repeated along new or size-1 dimensions to `shape` (numpy's `broadcast_to`).
    ///
    /// # Panics
    ///
    /// If the value's shape does not broadcast to `shape`.
    #[track_caller]
    pub fn broadcast_to(self, shape: &[usize]) -> Var<'t> {
        self.tape
            .record(Op::BroadcastTo(self.id, Box::new(shape.into())))
    }

    /// The product along `axis` (negative counts from the end), which is removed; 1 over an
    /// empty axis, as in numpy and PyTorch. [`prod_axis_keepdim`](Var::prod_axis_keepdim)
    /// keeps the axis with length 1, and [`prod`](Var::prod) multiplies all elements.
    ///
    /// The derivative with respect to `xᵢ` is the product of the other elements along the
    /// axis, computed as such (a prefix product times a suffix product), never as `z / xᵢ`:
    /// so it is exact where an element is 0 (one zero: only that element's derivative is
    /// nonzero; two: all are 0) or ±∞ (`[∞, 2]` gets `[2, ∞]`). This follows JAX; PyTorch
    /// divides where no element is 0 and gets NaN at ±∞ (`[NaN, ∞]` there) and ∞ where the
    /// product overflows. The gradient recorded by [`grad`](Var::grad) is built from
    /// products alone, so second and third derivatives are exact at zeros as well
    /// (`∂²z/∂xᵢ∂xⱼ = Π_{k≠i,j} xₖ`).
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([[2.0, 3.0, 4.0], [0.0, 5.0, 0.0]]));
    /// let p = x.prod_axis(-1);
    /// assert_eq!(p.value(), Tensor::from([24.0, 0.0]));
    /// let g = p.sum().backward();
    /// // Row 0: 12, 8, 6. Row 1 has two zeros: every derivative is 0.
    /// assert_eq!(g[x], Tensor::from([[12.0, 8.0, 6.0], [0.0, 0.0, 0.0]]));
    ///
    /// // At one zero, the second derivative ∂²z/∂x₀∂x₁ is x₂, not NaN.
    /// let y = tape.param(Tensor::from([0.0, 2.0, 3.0]));
    /// let dz = y.prod_axis(0).grad(&[y])[0]; // [6, 0, 0]
    /// let hessian_row_0 = dz.narrow(0, 0, 1).sum().grad(&[y])[0];
    /// assert_eq!(dz.value(), Tensor::from([6.0, 0.0, 0.0]));
    /// assert_eq!(hessian_row_0.value(), Tensor::from([0.0, 3.0, 2.0]));
    /// ```
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value.
    #[track_caller]
    pub fn prod_axis(self, axis: impl Axis) -> Var<'t> {
        let axis = axis.resolve(&self.shape(), "prod_axis");
        self.tape.record(Op::ProdAxis(self.id, axis))
    }

    /// `eˣ / Σ eˣ` along `axis` (negative counts from the end), computed as `exp(log_softmax(x))` so that it never overflows.
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value.
    #[track_caller]
    pub fn softmax(self, axis: impl Axis) -> Var<'t> {
        self.log_softmax(axis).exp()
    }

    /// `x − log Σ eˣ` along `axis` (negative counts from the end), fused so that large values do not overflow.
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value.
    #[track_caller]
    pub fn log_softmax(self, axis: impl Axis) -> Var<'t> {
        let axis = axis.resolve(&self.shape(), "log_softmax");
        self.tape.record(Op::LogSoftmax(self.id, axis))
    }

    /// `log Σ eˣ` along `axis` (negative counts from the end), which is removed; computed as `m + log Σ e^(x − m)` with `m` the
    /// maximum, so that large values do not overflow.
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value.
    #[track_caller]
    pub fn logsumexp(self, axis: impl Axis) -> Var<'t> {
        let axis = axis.resolve(&self.shape(), "logsumexp");
        self.tape.record(Op::LogSumExp(self.id, axis))
    }
}

impl fmt::Debug for Var<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let node = &self.tape.nodes()[self.id.index()];
        write!(
            f,
            "Var({:?} = {} {:?})",
            self.id,
            node.op.name(),
            node.value.shape()
        )
    }
}

/// `Var op Var`, `Var op f64` and `f64 op Var` for one arithmetic operator. The scalar forms
/// record one node (no constant node for the `f64`); the rules are in `rules.rs`.
macro_rules! var_binary_op {
    ($Trait:ident, $method:ident, $var_var:expr, $var_f64:expr, $f64_var:expr) => {
        impl<'t> $Trait<Var<'t>> for Var<'t> {
            type Output = Var<'t>;
            /// # Panics
            ///
            /// If the shapes do not broadcast, or the Vars belong to two tapes.
            #[track_caller]
            #[inline]
            fn $method(self, rhs: Var<'t>) -> Var<'t> {
                self.binary(rhs, $var_var, stringify!($method))
            }
        }
        impl<'t> $Trait<f64> for Var<'t> {
            type Output = Var<'t>;
            #[track_caller]
            #[inline]
            fn $method(self, rhs: f64) -> Var<'t> {
                self.tape.record($var_f64(self.id, rhs))
            }
        }
        impl<'t> $Trait<Var<'t>> for f64 {
            type Output = Var<'t>;
            #[track_caller]
            #[inline]
            fn $method(self, rhs: Var<'t>) -> Var<'t> {
                rhs.tape.record($f64_var(self, rhs.id))
            }
        }
    };
}

// x − c is recorded as x + (−c): IEEE subtraction is exactly that addition.
var_binary_op!(Add, add, Op::Add, Op::AddScalar, |c, x| Op::AddScalar(x, c));
var_binary_op!(
    Sub,
    sub,
    Op::Sub,
    |x, c: f64| Op::AddScalar(x, -c),
    Op::ScalarSub
);
var_binary_op!(Mul, mul, Op::Mul, Op::MulScalar, |c, x| {
    Op::MulScalar(x, c)
});
var_binary_op!(Div, div, Op::Div, Op::DivScalar, Op::ScalarDiv);

impl<'t> Neg for Var<'t> {
    type Output = Var<'t>;
    #[track_caller]
    fn neg(self) -> Var<'t> {
        self.tape.record(Op::Neg(self.id))
    }
}
