//! The rule table: each primitive's vector-Jacobian product (its chain rule), written once, with
//! the engine's own operations, for any [`Algebra`] of values.
//!
//! Given an op's output `z`, the upstream gradient `g = ∂l/∂z` (of `z`'s shape) and its inputs,
//! a rule sends each input's contribution `g · ∂z/∂input` to a [`Sink`]. Three algebras run the
//! same rules:
//!
//! - [`Tensor`] (below): the first-order sweep of `backward()` (`backward.rs`) computes with
//!   plain tensors, and nothing is recorded;
//! - `f64` (below): the same sweep, when every value on the tape is a scalar, computes with
//!   plain numbers (the same arithmetic as a scalar tensor's, without its checks);
//! - `Var` (`grad.rs`): [`Var::grad`](crate::Var::grad) computes with values recorded on the
//!   tape, so the gradient is itself a graph, and differentiating it again is another sweep.
//!
//! A contribution may keep a broadcast shape: the sink sums it back to the input's shape, so no
//! rule handles broadcasting. A sink asks for a contribution (calls the closure) only if the
//! input needs a gradient.
//!
//! Where the math has no derivative, the conventions are PyTorch's: `relu′(0) = 0`,
//! `|x|′(0) = 0`, `step′ = 0`, the ties of a maximum share its gradient equally, `√x′(0) = +∞`,
//! and `(x⁰)′ = 0`, also at `x = 0`. Masks and signs are constants of the algebra, so
//! `relu″ = 0` and `|x|″ = 0`. Where the math has a derivative that a shortcut would lose, the
//! rule keeps it: `prod_axis`′ is the product of the other elements, never `z / x` (JAX's
//! values, not PyTorch's NaN at ±∞; see [`Algebra::prod_except`]).

use crate::custom::CustomCall;
use crate::gather::Gather;
use crate::matmul::{BatchedDims, MatRef, gemm, matmul_dims, matmul_t_dims};
use crate::op::{NodeId, Op, max_share, max_ties, powf, relu_passes, sigmoid, sign};
use crate::shape::Shape;
use crate::tensor::Tensor;
use std::ops::{Add, Div, Mul, Neg, Sub};
use std::sync::Arc;

/// What a backward rule computes with: the operations the rules below use, besides the
/// arithmetic operators.
pub(crate) trait Algebra:
    Clone
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
{
    /// The shape of the value.
    fn shape(&self) -> Shape;
    /// The value as a plain tensor.
    fn value(&self) -> Tensor;
    /// `value` as a constant of this algebra: nothing is differentiated through it.
    fn constant(&self, value: Tensor) -> Self;

    /// `eˣ` (tensors read a subnormal result as 0: see their implementation below).
    fn exp(&self) -> Self;
    /// `sin x`.
    fn sin(&self) -> Self;
    /// `cos x`.
    fn cos(&self) -> Self;
    /// `σ(x)`.
    fn sigmoid(&self) -> Self;
    /// `xᵖ`.
    fn powf(&self, p: f64) -> Self;
    /// `c − x`.
    fn scalar_sub(&self, c: f64) -> Self;

    /// `self` where `keep(x)` holds and 0 elsewhere; the mask is a constant. (The `Var`
    /// algebra multiplies by the mask, so an infinite `self` gives NaN where the mask is 0.)
    fn masked(&self, x: &Self, keep: impl Fn(f64) -> bool) -> Self;
    /// `self ⊙ share` for a constant `share` of 0s, ½s and 1s (who gets a tie's gradient), with
    /// 0 where the share is 0 even if `self` is infinite or NaN: nothing is sent there, as
    /// PyTorch's masked rules send nothing.
    fn shared(&self, share: Tensor) -> Self;
    /// `σ(self) − t`. Tensors and numbers compute it without cancellation where `σ(self)` is
    /// close to 1; the `Var` algebra records it plainly as `σ(x) − t`, so a second derivative
    /// is built from ops that have one.
    fn sigmoid_minus(&self, t: &Self) -> Self;

    /// The sum along `axis`, which is removed.
    fn sum_axis(&self, axis: usize) -> Self;
    /// `len` copies along a new axis inserted at `axis`: the inverse shape of `sum_axis`.
    fn expand_axis(&self, axis: usize, len: usize) -> Self;
    /// Repeated along new or size-1 dimensions to `shape`.
    fn broadcast_to(&self, shape: &[usize]) -> Self;
    /// The same elements under `shape`.
    fn reshape(&self, shape: &[usize]) -> Self;
    /// The transpose of a 2-D value.
    fn transpose(&self) -> Self;
    /// The product `a · b` of `self` read as `a` and `other` read as `b` (each a row-major
    /// matrix, transposed or not), reshaped to `shape`.
    fn product(&self, a: Mat, other: &Self, b: Mat, shape: &[usize]) -> Self;
    /// The batched product of two values of at least two dimensions, each one's matrices
    /// transposed if asked, batch dimensions broadcast.
    fn batched_product(&self, ta: bool, other: &Self, tb: bool) -> Self;
    /// The axes reordered: axis `i` of the result is axis `perm[i]` of `self`.
    fn permute(&self, perm: &[usize]) -> Self;
    /// `z[i] = self[index[i]]`.
    fn take(&self, gather: &Arc<Gather>) -> Self;
    /// Zeros of the gather's source shape, each `self[i]` added at `index[i]`.
    fn scatter_add(&self, gather: &Arc<Gather>) -> Self;
    /// The `len` elements from `start` along `axis`.
    fn narrow(&self, axis: usize, start: usize, len: usize) -> Self;
    /// `Π_{j≠i} xⱼ` at each `i` along `axis`: the product of the *other* elements of its lane,
    /// of `self`'s shape (1 where the axis has length 1), the derivative of `prod_axis`.
    ///
    /// Computed without division: `result / xᵢ` is NaN at a zero and at ±∞, where the product
    /// of the others is finite or the right infinity. A prefix product (the elements before
    /// `i`) times a suffix product (those after it) has the exact value everywhere: with one
    /// zero only its own position is nonzero, with two every position is 0. Tensors scan each
    /// lane twice, O(n); the `Var` algebra records the two scans with `mul`, `narrow` and
    /// `concat` (no new primitive), so every higher derivative is the same exact product.
    ///
    /// `prod_axis` is a primitive with this rule rather than a composite tree of `mul`s (as
    /// JAX's derivative is, also exact): the tape holds one `prod_axis` node that traces,
    /// pictures and NaN reports name, its value is folded left to right like `sum_axis`'s, and
    /// `backward()` pays one O(n) pass with no intermediate tensors; only the recorded
    /// gradient pays the scans' O(n log n).
    fn prod_except(&self, axis: usize) -> Self;

    /// A custom op's own rule: one gradient per input, each of that input's shape.
    fn custom(call: &CustomCall, inputs: &[Self], z: &Self, g: &Self) -> Vec<Self>;
}

/// How [`Algebra::product`] reads a flat value as a matrix: `rows × cols` in row-major order,
/// then transposed if asked.
#[derive(Clone, Copy)]
pub(crate) struct Mat {
    pub rows: usize,
    pub cols: usize,
    pub transposed: bool,
}

impl Mat {
    fn new(rows: usize, cols: usize) -> Mat {
        Mat {
            rows,
            cols,
            transposed: false,
        }
    }

    fn t(self) -> Mat {
        Mat {
            transposed: !self.transposed,
            ..self
        }
    }
}

/// Where a rule sends each input's contribution.
pub(crate) trait Sink<A> {
    /// Adds `contribution()` (of the input's shape, or broadcast from it) to the gradient of
    /// `input`; skips it, without calling `contribution`, if `input` needs no gradient.
    fn add(&mut self, input: NodeId, contribution: impl FnOnce() -> A);

    /// Adds `−contribution()`, as `add(input, || -contribution())` does. The first-order sweep
    /// negates while it sums a broadcast contribution down, one pass over the broadcast shape
    /// rather than two (`a − b` with a bias `b`).
    fn add_negated(&mut self, input: NodeId, contribution: impl FnOnce() -> A)
    where
        A: Neg<Output = A>,
    {
        self.add(input, || -contribution());
    }
}

/// The backward rule of `op`, whose output is `output`: sends `upstream · ∂output/∂x` for each
/// input `x` to `sink`. `input` gives each input's value.
#[track_caller]
// Forced into the sweep's loop: a call per node cost W4 a fifth of its time (performance.md).
#[inline(always)]
pub(crate) fn vjp<A: Algebra>(
    op: &Op,
    input: impl Fn(NodeId) -> A,
    output: &A,
    upstream: &A,
    sink: &mut impl Sink<A>,
) {
    let (v, z, g) = (&input, || output.clone(), || upstream.clone());
    match *op {
        Op::Param | Op::Constant | Op::Step(_) => {}
        // x⁰ is constant, also at x = 0, where p·xᵖ⁻¹ would be 0·∞.
        Op::Powf(_, 0.0) => {}
        Op::Add(x, y) => {
            sink.add(x, g);
            sink.add(y, g);
        }
        Op::Sub(x, y) => {
            sink.add(x, g);
            sink.add_negated(y, g);
        }
        Op::Mul(x, y) => {
            sink.add(x, || g() * v(y));
            sink.add(y, || g() * v(x));
        }
        Op::Div(x, y) => {
            sink.add(x, || g() / v(y));
            sink.add(y, || -(g() * z()) / v(y));
        }
        Op::BceWithLogits(x, t) => {
            sink.add(x, || g() * v(x).sigmoid_minus(&v(t)));
            sink.add(t, || -(g() * v(x)));
        }
        Op::AddScalar(x, _) | Op::BroadcastTo(x, _) => sink.add(x, g),
        Op::MulScalar(x, c) => sink.add(x, || g() * c),
        Op::DivScalar(x, c) => sink.add(x, || g() / c),
        Op::ScalarSub(_, x) | Op::Neg(x) => sink.add_negated(x, g),
        Op::ScalarDiv(_, x) => sink.add(x, || -(g() * z()) / v(x)),
        Op::Relu(x) => sink.add(x, || g().masked(&v(x), relu_passes)),
        Op::Sigmoid(x) => sink.add(x, || g() * (z() * z().scalar_sub(1.0))),
        Op::Softplus(x) => sink.add(x, || g() * v(x).sigmoid()),
        Op::Tanh(x) => sink.add(x, || g() * (z() * z()).scalar_sub(1.0)),
        Op::Sin(x) => sink.add(x, || g() * v(x).cos()),
        Op::Cos(x) => sink.add(x, || -(g() * v(x).sin())),
        Op::Exp(x) => sink.add(x, || g() * z()),
        Op::Ln(x) => sink.add(x, || g() / v(x)),
        Op::Sqrt(x) => sink.add(x, || g() / (z() * 2.0)),
        Op::Log1p(x) => sink.add(x, || g() / (v(x) + 1.0)),
        Op::Expm1(x) => sink.add(x, || g() * (z() + 1.0)),
        Op::Square(x) => sink.add(x, || g() * v(x) * 2.0),
        Op::Maximum(x, y) => {
            let share =
                |a: NodeId, b: NodeId| v(a).value().zip_with(&v(b).value(), "maximum", max_share);
            sink.add(x, || g().shared(share(x, y)));
            sink.add(y, || g().shared(share(y, x)));
        }
        Op::Compare(..) => {}
        Op::Where([m, a, b]) => {
            sink.add(a, || g().masked(&v(m), |m| m != 0.0));
            sink.add(b, || g().masked(&v(m), |m| m == 0.0));
        }
        Op::Permute(x, ref perm) => sink.add(x, || {
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            g().permute(&inverse)
        }),
        Op::Take(x, ref gather) => sink.add(x, || g().scatter_add(gather)),
        Op::ScatterAdd(x, ref gather) => sink.add(x, || g().take(gather)),
        Op::Concat(ref concat) => {
            let axis = concat.axis();
            let mut start = 0;
            for &x in concat.inputs() {
                let len = v(x).shape()[axis];
                sink.add(x, || g().narrow(axis, start, len));
                start += len;
            }
        }
        Op::Powf(x, p) => sink.add(x, || g() * (v(x).powf(p - 1.0) * p)),
        Op::Abs(x) => sink.add(x, || {
            let x = v(x);
            g() * x.constant(x.value().map(sign))
        }),
        Op::Sum(x) => sink.add(x, || g().broadcast_to(&v(x).shape())),
        Op::SumAxis(x, axis) => sink.add(x, || g().expand_axis(axis, v(x).shape()[axis])),
        Op::ProdAxis(x, axis) => sink.add(x, || {
            g().expand_axis(axis, v(x).shape()[axis]) * v(x).prod_except(axis)
        }),
        Op::MaxAxis(x, axis) => sink.add(x, || {
            let x = v(x);
            let (is_max, ties) = max_ties(&x.value(), &z().value(), axis);
            let share = g() / x.constant(ties);
            share.expand_axis(axis, x.shape()[axis]) * x.constant(is_max)
        }),
        Op::Transpose(x) => sink.add(x, || g().transpose()),
        Op::Reshape(x, _) => sink.add(x, || g().reshape(&v(x).shape())),
        Op::Matmul(x, y) => {
            let (x_shape, y_shape) = (v(x).shape(), v(y).shape());
            if x_shape.len() > 2 || y_shape.len() > 2 {
                // Each operand as a batch of matrices (a vector as one row or column), so the
                // rule is the 2-D one per matrix; the sink sums what a broadcast batch repeated.
                let d = BatchedDims::new(&x_shape, &y_shape);
                let gp = || g().reshape(&d.product);
                sink.add(x, || {
                    let dx = gp().batched_product(false, &v(y).reshape(&d.rhs), true); // g · yᵀ
                    if x_shape.len() == 1 {
                        without_unit_axis(dx, 2)
                    } else {
                        dx
                    }
                });
                sink.add(y, || {
                    let dy = v(x).reshape(&d.lhs).batched_product(true, &gp(), false); // xᵀ · g
                    if y_shape.len() == 1 {
                        without_unit_axis(dy, 1)
                    } else {
                        dy
                    }
                });
                return;
            }
            // As matrices (numpy reads a vector as one row or one column): x is m×k, y k×n.
            let (m, k, n) = matmul_dims(&x_shape, &y_shape);
            let (xm, ym, gm) = (Mat::new(m, k), Mat::new(k, n), Mat::new(m, n));
            sink.add(x, || g().product(gm, &v(y), ym.t(), &x_shape)); // g · yᵀ
            sink.add(y, || v(x).product(xm.t(), &g(), gm, &y_shape)); // xᵀ · g
        }
        Op::MatmulT(x, y) => {
            // x is m×k and y n×k, so z = x·yᵀ is m×n; both gradients read g and the operands
            // through views, as the forward pass does.
            let (x_shape, y_shape) = (v(x).shape(), v(y).shape());
            let (m, k, n) = matmul_t_dims(&x_shape, &y_shape);
            let (xm, ym, gm) = (Mat::new(m, k), Mat::new(n, k), Mat::new(m, n));
            sink.add(x, || g().product(gm, &v(y), ym, &x_shape)); // g · y
            sink.add(y, || g().product(gm.t(), &v(x), xm, &y_shape)); // gᵀ · x
        }
        Op::LogSoftmax(x, axis) => sink.add(x, || {
            let len = z().shape()[axis];
            g() - z().exp() * g().sum_axis(axis).expand_axis(axis, len)
        }),
        Op::LogSumExp(x, axis) => sink.add(x, || {
            let len = v(x).shape()[axis];
            (v(x) - z().expand_axis(axis, len)).exp() * g().expand_axis(axis, len)
        }),
        Op::Custom(ref call) => {
            let inputs: Vec<A> = call.inputs().iter().map(|&x| v(x)).collect();
            let gradients = A::custom(call, &inputs, output, upstream);
            for (&x, gradient) in call.inputs().iter().zip(gradients) {
                sink.add(x, || gradient);
            }
        }
    }
}

/// `p` without the axis of length 1 at position `from_end` counted from the end: the row or
/// column a vector operand of a batched product was read as.
fn without_unit_axis<A: Algebra>(p: A, from_end: usize) -> A {
    let mut shape = p.shape().to_vec();
    shape.remove(shape.len() - from_end);
    p.reshape(&shape)
}

/// `g`'s share `w`: 0 when `w` is 0, whatever `g` is.
fn shared(g: f64, w: f64) -> f64 {
    if w == 0.0 { 0.0 } else { g * w }
}

/// `σ(x) − t`, computed as `(1 − t) − σ(−x)` for `x ≥ 0`, so that it keeps its digits where
/// `σ(x)` is close to 1.
fn sigmoid_minus(x: f64, t: f64) -> f64 {
    if x >= 0.0 {
        (1.0 - t) - sigmoid(-x)
    } else {
        sigmoid(x) - t
    }
}

/// `t` read as the matrix `m`, without copying.
fn view(t: &Tensor, m: Mat) -> MatRef<'_> {
    let matrix = MatRef::row_major(t.data(), m.rows, m.cols);
    if m.transposed { matrix.t() } else { matrix }
}

/// The first-order algebra: plain tensors, nothing recorded.
impl Algebra for Tensor {
    fn shape(&self) -> Shape {
        self.shape().into()
    }

    fn value(&self) -> Tensor {
        self.clone()
    }

    fn constant(&self, value: Tensor) -> Tensor {
        value
    }

    /// `eˣ`, with a subnormal result (below 2⁻¹⁰²²) read as 0.
    ///
    /// The rules call `exp` for softmax weights only (`log_softmax`, `logsumexp`), and a weight
    /// below 2⁻¹⁰²² changes no gradient of normal size: the weights along the axis sum to 1, so
    /// its term lies below the last bit of any sum with a normal one. Kept, such weights made
    /// every later product take a microcode assist per multiply: ADBench's GMM gradient at
    /// d = 64 ran 2.5 times slower (docs/performance.md, "Subnormal weights"). What changes is
    /// a gradient element that is itself that small: `logsumexp([0, −720])`′ is `[1, 0]` here,
    /// where PyTorch (and `Var::grad`, whose `exp` is a recorded op) give `[1, e⁻⁷²⁰ ≈ 2.0e-313]`.
    fn exp(&self) -> Tensor {
        self.map(|x| {
            let e = x.exp();
            if e < f64::MIN_POSITIVE { 0.0 } else { e }
        })
    }

    fn sin(&self) -> Tensor {
        self.map(f64::sin)
    }

    fn cos(&self) -> Tensor {
        self.map(f64::cos)
    }

    fn sigmoid(&self) -> Tensor {
        self.map(sigmoid)
    }

    fn powf(&self, p: f64) -> Tensor {
        self.map(move |x| powf(x, p))
    }

    fn scalar_sub(&self, c: f64) -> Tensor {
        self.map(move |x| c - x)
    }

    fn masked(&self, x: &Tensor, keep: impl Fn(f64) -> bool) -> Tensor {
        self.zip_with(x, "mask", |g, x| if keep(x) { g } else { 0.0 })
    }

    fn shared(&self, share: Tensor) -> Tensor {
        self.zip_with(&share, "share", shared)
    }

    fn sigmoid_minus(&self, t: &Tensor) -> Tensor {
        self.zip_with(t, "bce_with_logits", sigmoid_minus)
    }

    fn sum_axis(&self, axis: usize) -> Tensor {
        self.fold_axis(axis, "sum_axis", 0.0, |s, x| s + x)
    }

    fn expand_axis(&self, axis: usize, len: usize) -> Tensor {
        Tensor::expand_axis(self, axis, len)
    }

    fn broadcast_to(&self, shape: &[usize]) -> Tensor {
        Tensor::broadcast_to(self, shape)
    }

    fn reshape(&self, shape: &[usize]) -> Tensor {
        Tensor::reshape(self, shape)
    }

    fn transpose(&self) -> Tensor {
        Tensor::transpose(self)
    }

    fn product(&self, a: Mat, other: &Tensor, b: Mat, shape: &[usize]) -> Tensor {
        Tensor::from_parts(shape.into(), gemm(view(self, a), view(other, b)))
    }

    fn batched_product(&self, ta: bool, other: &Tensor, tb: bool) -> Tensor {
        self.batched_matmul(ta, other, tb)
    }

    fn permute(&self, perm: &[usize]) -> Tensor {
        Tensor::permute(self, perm)
    }

    fn take(&self, gather: &Arc<Gather>) -> Tensor {
        gather.take(self)
    }

    fn scatter_add(&self, gather: &Arc<Gather>) -> Tensor {
        gather.scatter_add(self)
    }

    fn narrow(&self, axis: usize, start: usize, len: usize) -> Tensor {
        Tensor::narrow(self, axis, start, len)
    }

    fn prod_except(&self, axis: usize) -> Tensor {
        self.prod_except_axis(axis)
    }

    fn custom(call: &CustomCall, inputs: &[Tensor], z: &Tensor, g: &Tensor) -> Vec<Tensor> {
        call.backward(inputs, z, g)
    }
}

/// The first-order algebra of a graph of scalars: plain numbers, with the arithmetic of
/// [`Tensor`]'s scalars. A reshape or broadcast of a scalar to a scalar leaves it as it is; the
/// ops with an axis or a matrix never have scalar inputs (their forward pass refuses them), so
/// their operations are never asked of a number.
impl Algebra for f64 {
    fn shape(&self) -> Shape {
        Shape::scalar()
    }

    fn value(&self) -> Tensor {
        Tensor::scalar(*self)
    }

    fn constant(&self, value: Tensor) -> f64 {
        value.item()
    }

    fn exp(&self) -> f64 {
        f64::exp(*self)
    }

    fn sin(&self) -> f64 {
        f64::sin(*self)
    }

    fn cos(&self) -> f64 {
        f64::cos(*self)
    }

    fn sigmoid(&self) -> f64 {
        sigmoid(*self)
    }

    fn powf(&self, p: f64) -> f64 {
        powf(*self, p)
    }

    fn scalar_sub(&self, c: f64) -> f64 {
        c - *self
    }

    fn masked(&self, x: &f64, keep: impl Fn(f64) -> bool) -> f64 {
        if keep(*x) { *self } else { 0.0 }
    }

    fn shared(&self, share: Tensor) -> f64 {
        shared(*self, share.item())
    }

    fn sigmoid_minus(&self, t: &f64) -> f64 {
        sigmoid_minus(*self, *t)
    }

    fn sum_axis(&self, _: usize) -> f64 {
        unreachable!("a scalar has no axis to sum")
    }

    fn expand_axis(&self, _: usize, _: usize) -> f64 {
        unreachable!("a scalar is never the sum of an axis")
    }

    fn broadcast_to(&self, _: &[usize]) -> f64 {
        *self // to the shape of a scalar
    }

    fn reshape(&self, _: &[usize]) -> f64 {
        *self // to the shape of a scalar
    }

    fn transpose(&self) -> f64 {
        unreachable!("a scalar has no axes to transpose")
    }

    fn product(&self, _: Mat, _: &f64, _: Mat, _: &[usize]) -> f64 {
        unreachable!("a product of scalars is `mul`")
    }

    fn batched_product(&self, _: bool, _: &f64, _: bool) -> f64 {
        unreachable!("a product of scalars is `mul`")
    }

    fn permute(&self, _: &[usize]) -> f64 {
        *self // a scalar's only order of no axes
    }

    fn take(&self, _: &Arc<Gather>) -> f64 {
        *self // from a scalar to a scalar: its one element
    }

    fn scatter_add(&self, _: &Arc<Gather>) -> f64 {
        *self // to a scalar from a scalar: its one element
    }

    fn narrow(&self, _: usize, _: usize, _: usize) -> f64 {
        unreachable!("a scalar has no axis to narrow")
    }

    fn prod_except(&self, _: usize) -> f64 {
        unreachable!("a scalar has no axis to take a product along")
    }

    fn custom(call: &CustomCall, inputs: &[f64], z: &f64, g: &f64) -> Vec<f64> {
        let inputs: Vec<Tensor> = inputs.iter().map(|&x| Tensor::scalar(x)).collect();
        let gradients = call.backward(&inputs, &Tensor::scalar(*z), &Tensor::scalar(*g));
        gradients.iter().map(Tensor::item).collect()
    }
}
