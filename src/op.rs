//! [`Op`]: every primitive the tape records, and its forward computation. Each variant's doc
//! line also states its vector-Jacobian product (the chain rule), which `rules.rs` implements.
//!
//! Notation in each variant's doc line: `z` is the op's output, `g` the upstream gradient ∂l/∂z
//! (same shape as `z`), `dx` the contribution to ∂l/∂x.
//!
//! Composite ops (mean, softmax, …) are not here: `var.rs` writes them with these primitives.
//! Only log-softmax and logsumexp are fused, because composing them would overflow.

use crate::custom::CustomCall;
use crate::gather::Gather;
use crate::join::Concat;
use crate::shape::Shape;
use crate::tensor::Tensor;
use std::fmt;
use std::sync::Arc;

/// The position of a node on its tape, in creation order: how an op names its inputs.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(u32);

impl NodeId {
    /// The node's position, counting from 0.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The id of the node at `index`.
    ///
    /// # Panics
    ///
    /// If `index` does not fit a tape (2³² nodes).
    #[inline]
    pub(crate) fn from_index(index: usize) -> NodeId {
        NodeId(u32::try_from(index).expect("a tape holds at most 2³² nodes"))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A primitive operation recorded on the tape: which op, and which nodes it reads.
///
/// Kept to 16 bytes: node indices are `u32`, and the variants that need a whole shape or a
/// user's op box it, so the tape of a scalar graph stays small.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// A leaf we differentiate against.
    Param,
    /// A leaf we do not differentiate against (inputs, targets).
    Constant,
    /// `z = x + y` (broadcast) · `dx = g, dy = g`
    Add(NodeId, NodeId),
    /// `z = x − y` (broadcast) · `dx = g, dy = −g`
    Sub(NodeId, NodeId),
    /// `z = x ⊙ y` (broadcast) · `dx = g ⊙ y, dy = g ⊙ x`
    Mul(NodeId, NodeId),
    /// `z = x / y` (broadcast) · `dx = g / y, dy = −g ⊙ z / y`
    Div(NodeId, NodeId),
    /// Binary cross-entropy of logits x against targets t (broadcast), per element:
    /// `z = ln(1 + eˣ) − t·x`, computed as `(max(x, 0) − t·x) + ln(1 + e^−|x|)`, whose first
    /// term is exact for t ∈ {0, 1}, so a confident right answer keeps its tiny loss ·
    /// `dx = g ⊙ (σ(x) − t)`, computed as `(1 − t) − σ(−x)` for x ≥ 0 so it keeps its digits
    /// too, `dt = −g ⊙ x` (fused: a composition rounds the loss to x's precision)
    BceWithLogits(NodeId, NodeId),
    /// `z = x + c` · `dx = g`
    AddScalar(NodeId, f64),
    /// `z = c · x` · `dx = c · g`
    MulScalar(NodeId, f64),
    /// `z = x / c` · `dx = g / c`
    DivScalar(NodeId, f64),
    /// `z = c − x` · `dx = −g`
    ScalarSub(f64, NodeId),
    /// `z = c / x` · `dx = −g ⊙ z / x`
    ScalarDiv(f64, NodeId),
    /// `z = −x` · `dx = −g`
    Neg(NodeId),
    /// `z = 1 if x > 0 else 0` · `dx = 0` everywhere (nothing is accumulated)
    Step(NodeId),
    /// `z = 0 if x < 0 else x` · `dx = g ⊙ [not x ≤ 0]` (PyTorch's: relu′(0) = 0, and NaN
    /// propagates, forward and backward)
    Relu(NodeId),
    /// `z = σ(x) = 1 / (1 + e^−x)` · `dx = g ⊙ z ⊙ (1 − z)`
    Sigmoid(NodeId),
    /// `z = ln(1 + eˣ)`, computed as `max(x, 0) + ln(1 + e^−|x|)` so it never overflows ·
    /// `dx = g ⊙ σ(x)` (fused: as a composition the kinks of max and |x| at 0 give 0, not ½)
    Softplus(NodeId),
    /// `z = tanh x` · `dx = g ⊙ (1 − z²)`
    Tanh(NodeId),
    /// `z = sin x` · `dx = g ⊙ cos x`
    Sin(NodeId),
    /// `z = cos x` · `dx = −g ⊙ sin x`
    Cos(NodeId),
    /// `z = eˣ` · `dx = g ⊙ z`
    Exp(NodeId),
    /// `z = ln x` · `dx = g / x`
    Ln(NodeId),
    /// `z = √x` · `dx = g / (2z)`
    Sqrt(NodeId),
    /// `z = ln(1 + x)`, exact for small x where `ln` of the rounded `1 + x` is not ·
    /// `dx = g / (1 + x)`
    Log1p(NodeId),
    /// `z = eˣ − 1`, exact for small x where `eˣ − 1` cancels · `dx = g ⊙ (z + 1)`
    Expm1(NodeId),
    /// `z = x²` · `dx = 2 g ⊙ x` (one product and a doubling, where `x · x` would send two
    /// products to add)
    Square(NodeId),
    /// `z = max(x, y)` (broadcast; NaN if either is) · `dx = g ⊙ w(x, y), dy = g ⊙ w(y, x)`,
    /// `w(a, b)` = 1 where a > b, ½ where a = b (ties split evenly, as PyTorch and JAX), 0
    /// where a < b, 1 where either is NaN (fused: a composition has no ½ at ties)
    Maximum(NodeId, NodeId),
    /// `z = 1 where x ◇ y else 0` for a [`Comparison`] ◇ (broadcast) · no gradient (`dx = dy
    /// = 0`): a mask is piecewise constant
    Compare(NodeId, NodeId, Comparison),
    /// `[m, a, b]`: `z = a where m ≠ 0 else b` (all three broadcast) ·
    /// `da = g ⊙ [m ≠ 0], db = g ⊙ [m = 0]`, and no gradient to the mask m (fused: a product
    /// with the mask would turn an infinite unselected value into NaN)
    Where([NodeId; 3]),
    /// `z = x` with its axes reordered, axis `i` of z being axis `perm[i]` of x ·
    /// `dx = g` with the inverse order
    Permute(NodeId, Box<Vec<usize>>),
    /// `zᵢ = x[indexᵢ]` (flat indices into x, z of the [`Gather`]'s shape) ·
    /// `dx = scatter_add(g)`, each `gᵢ` added at `indexᵢ` of zeros of x's shape
    Take(NodeId, Arc<Gather>),
    /// `z` = zeros of the [`Gather`]'s source shape with each `xᵢ` added at `indexᵢ` (the
    /// adjoint of `Take`) · `dx = take(g)`
    ScatterAdd(NodeId, Arc<Gather>),
    /// `z = x₁, …, xₙ` joined along an axis · `dxᵢ = g`'s slice where `xᵢ` was put
    Concat(Box<Concat>),
    /// `z = xᵖ` · `dx = g ⊙ p·xᵖ⁻¹` (and `dx = 0` for p = 0, also at x = 0)
    Powf(NodeId, f64),
    /// `z = |x|` · `dx = g ⊙ sign(x)`, with sign(0) = 0
    Abs(NodeId),
    /// `z = Σᵢ xᵢ` (a scalar) · `dx = g` repeated to x's shape
    Sum(NodeId),
    /// `z = Σ x` along `axis`, which is removed · `dx = g` repeated along `axis`
    SumAxis(NodeId, usize),
    /// `z = max x` along `axis`, which is removed · `dx = g ⊙ [x = z] / #ties` (ties share g)
    MaxAxis(NodeId, usize),
    /// `z = Π x` along `axis`, which is removed (1 over an empty axis) ·
    /// `dxᵢ = g ⊙ Π_{j≠i} xⱼ` (g repeated along `axis`), the product of the *other* elements,
    /// never `z / xᵢ`, so it is exact at zeros and at ±∞ (see `Algebra::prod_except`)
    ProdAxis(NodeId, usize),
    /// `z = xᵀ` (2-D) · `dx = gᵀ`
    Transpose(NodeId),
    /// `z = x` with another shape of the same size · `dx = g` with x's shape
    Reshape(NodeId, Box<Shape>),
    /// `z = x` repeated to a broadcast shape · `dx = g` summed back to x's shape
    BroadcastTo(NodeId, Box<Shape>),
    /// `z = x · y` (numpy rules: 1-D, 2-D, and batches of matrices whose leading dimensions
    /// broadcast) · `dx = g · yᵀ, dy = xᵀ · g` (each matrix of the batch; summed over the
    /// batch dimensions an operand was broadcast along)
    Matmul(NodeId, NodeId),
    /// `z = x · yᵀ` (x 1-D or 2-D, y 2-D), reading y through a transposed view, no copy ·
    /// `dx = g · y, dy = gᵀ · x`
    MatmulT(NodeId, NodeId),
    /// `z = x − logsumexp(x)` along `axis` · `dx = g − eᶻ ⊙ Σ g` (Σ along `axis`, repeated)
    LogSoftmax(NodeId, usize),
    /// `z = log Σ eˣ` along `axis`, which is removed · `dx = g ⊙ e^(x − z)` (z, g repeated along `axis`)
    LogSumExp(NodeId, usize),
    /// `z = f(x₁, …, xₙ)`, the user's [`CustomOp::forward`](crate::CustomOp::forward) ·
    /// `dxᵢ` = the i-th tensor its [`backward`](crate::CustomOp::backward) returns
    Custom(Box<CustomCall>),
}

impl Op {
    /// The op's name as users call it, for messages, traces and pictures.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Param => "param",
            Op::Constant => "constant",
            Op::Add(..) | Op::AddScalar(..) => "add",
            Op::Sub(..) | Op::ScalarSub(..) => "sub",
            Op::Mul(..) | Op::MulScalar(..) => "mul",
            Op::Div(..) | Op::DivScalar(..) | Op::ScalarDiv(..) => "div",
            Op::BceWithLogits(..) => "bce_with_logits",
            Op::Neg(_) => "neg",
            Op::Step(_) => "step",
            Op::Relu(_) => "relu",
            Op::Sigmoid(_) => "sigmoid",
            Op::Softplus(_) => "softplus",
            Op::Tanh(_) => "tanh",
            Op::Sin(_) => "sin",
            Op::Cos(_) => "cos",
            Op::Exp(_) => "exp",
            Op::Ln(_) => "ln",
            Op::Sqrt(_) => "sqrt",
            Op::Log1p(_) => "log1p",
            Op::Expm1(_) => "expm1",
            Op::Square(_) => "square",
            Op::Maximum(..) => "maximum",
            Op::Compare(_, _, cmp) => cmp.name(),
            Op::Where(_) => "where",
            Op::Permute(..) => "permute",
            Op::Take(..) => "take",
            Op::ScatterAdd(..) => "scatter_add",
            Op::Concat(_) => "concat",
            Op::Powf(..) => "powf",
            Op::Abs(_) => "abs",
            Op::Sum(_) => "sum",
            Op::SumAxis(..) => "sum_axis",
            Op::MaxAxis(..) => "max_axis",
            Op::ProdAxis(..) => "prod_axis",
            Op::Transpose(_) => "transpose",
            Op::Reshape(..) => "reshape",
            Op::BroadcastTo(..) => "broadcast_to",
            Op::Matmul(..) => "matmul",
            Op::MatmulT(..) => "matmul_t",
            Op::LogSoftmax(..) => "log_softmax",
            Op::LogSumExp(..) => "logsumexp",
            Op::Custom(call) => call.name(),
        }
    }

    /// The nodes this op reads, in argument order (none for a leaf, at most two for a built-in
    /// op, any number for a custom one).
    pub fn inputs(&self) -> impl Iterator<Item = NodeId> {
        let (first, second, more) = self.input_parts();
        first.into_iter().chain(second).chain(more.iter().copied())
    }

    /// Whether `f` holds for some input: `inputs().any(f)` without the chained iterator, which
    /// costs the deep scalar chain of W4 a measurable share of recording a node.
    // Forced into `Tape::record`, with `forward`.
    #[inline(always)]
    pub(crate) fn any_input(&self, f: impl Fn(NodeId) -> bool) -> bool {
        let (first, second, more) = self.input_parts();
        first.is_some_and(&f) || second.is_some_and(&f) || more.iter().any(|&x| f(x))
    }

    /// The inputs as the two a built-in op can have and the slice a custom op has.
    #[inline]
    fn input_parts(&self) -> (Option<NodeId>, Option<NodeId>, &[NodeId]) {
        match *self {
            Op::Param | Op::Constant => (None, None, &[]),
            Op::Custom(ref call) => (None, None, call.inputs()),
            Op::Where(ref inputs) => (None, None, inputs),
            Op::Concat(ref concat) => (None, None, concat.inputs()),
            Op::Add(x, y)
            | Op::Sub(x, y)
            | Op::Mul(x, y)
            | Op::Div(x, y)
            | Op::BceWithLogits(x, y)
            | Op::Maximum(x, y)
            | Op::Compare(x, y, _)
            | Op::Matmul(x, y)
            | Op::MatmulT(x, y) => (Some(x), Some(y), &[]),
            Op::AddScalar(x, _)
            | Op::MulScalar(x, _)
            | Op::DivScalar(x, _)
            | Op::ScalarSub(_, x)
            | Op::ScalarDiv(_, x)
            | Op::Neg(x)
            | Op::Step(x)
            | Op::Relu(x)
            | Op::Sigmoid(x)
            | Op::Softplus(x)
            | Op::Tanh(x)
            | Op::Sin(x)
            | Op::Cos(x)
            | Op::Exp(x)
            | Op::Ln(x)
            | Op::Sqrt(x)
            | Op::Log1p(x)
            | Op::Expm1(x)
            | Op::Square(x)
            | Op::Permute(x, _)
            | Op::Take(x, _)
            | Op::ScatterAdd(x, _)
            | Op::Powf(x, _)
            | Op::Abs(x)
            | Op::Sum(x)
            | Op::SumAxis(x, _)
            | Op::MaxAxis(x, _)
            | Op::ProdAxis(x, _)
            | Op::Transpose(x)
            | Op::Reshape(x, _)
            | Op::BroadcastTo(x, _)
            | Op::LogSoftmax(x, _)
            | Op::LogSumExp(x, _) => (Some(x), None, &[]),
        }
    }

    /// The same op reading other nodes: each input `id` replaced by `remap(id)`. A gradient
    /// check uses it to re-record one node on a tape of its own, its inputs made leaves.
    pub(crate) fn with_inputs(&self, mut remap: impl FnMut(NodeId) -> NodeId) -> Op {
        let mut r = |id| remap(id);
        match *self {
            Op::Param => Op::Param,
            Op::Constant => Op::Constant,
            Op::Add(x, y) => Op::Add(r(x), r(y)),
            Op::Sub(x, y) => Op::Sub(r(x), r(y)),
            Op::Mul(x, y) => Op::Mul(r(x), r(y)),
            Op::BceWithLogits(x, t) => Op::BceWithLogits(r(x), r(t)),
            Op::Div(x, y) => Op::Div(r(x), r(y)),
            Op::AddScalar(x, c) => Op::AddScalar(r(x), c),
            Op::MulScalar(x, c) => Op::MulScalar(r(x), c),
            Op::DivScalar(x, c) => Op::DivScalar(r(x), c),
            Op::ScalarSub(c, x) => Op::ScalarSub(c, r(x)),
            Op::ScalarDiv(c, x) => Op::ScalarDiv(c, r(x)),
            Op::Neg(x) => Op::Neg(r(x)),
            Op::Step(x) => Op::Step(r(x)),
            Op::Relu(x) => Op::Relu(r(x)),
            Op::Sigmoid(x) => Op::Sigmoid(r(x)),
            Op::Softplus(x) => Op::Softplus(r(x)),
            Op::Tanh(x) => Op::Tanh(r(x)),
            Op::Sin(x) => Op::Sin(r(x)),
            Op::Cos(x) => Op::Cos(r(x)),
            Op::Exp(x) => Op::Exp(r(x)),
            Op::Ln(x) => Op::Ln(r(x)),
            Op::Sqrt(x) => Op::Sqrt(r(x)),
            Op::Log1p(x) => Op::Log1p(r(x)),
            Op::Expm1(x) => Op::Expm1(r(x)),
            Op::Square(x) => Op::Square(r(x)),
            Op::Maximum(x, y) => Op::Maximum(r(x), r(y)),
            Op::Compare(x, y, cmp) => Op::Compare(r(x), r(y), cmp),
            Op::Where([m, a, b]) => Op::Where([r(m), r(a), r(b)]),
            Op::Permute(x, ref perm) => Op::Permute(r(x), perm.clone()),
            Op::Take(x, ref gather) => Op::Take(r(x), gather.clone()),
            Op::ScatterAdd(x, ref gather) => Op::ScatterAdd(r(x), gather.clone()),
            Op::Concat(ref concat) => Op::Concat(Box::new(concat.with_inputs(r))),
            Op::Powf(x, p) => Op::Powf(r(x), p),
            Op::Abs(x) => Op::Abs(r(x)),
            Op::Sum(x) => Op::Sum(r(x)),
            Op::SumAxis(x, axis) => Op::SumAxis(r(x), axis),
            Op::MaxAxis(x, axis) => Op::MaxAxis(r(x), axis),
            Op::ProdAxis(x, axis) => Op::ProdAxis(r(x), axis),
            Op::Transpose(x) => Op::Transpose(r(x)),
            Op::Reshape(x, ref shape) => Op::Reshape(r(x), shape.clone()),
            Op::BroadcastTo(x, ref shape) => Op::BroadcastTo(r(x), shape.clone()),
            Op::Matmul(x, y) => Op::Matmul(r(x), r(y)),
            Op::MatmulT(x, y) => Op::MatmulT(r(x), r(y)),
            Op::LogSoftmax(x, axis) => Op::LogSoftmax(r(x), axis),
            Op::LogSumExp(x, axis) => Op::LogSumExp(r(x), axis),
            Op::Custom(ref call) => Op::Custom(Box::new(call.with_inputs(r))),
        }
    }

    /// The forward pass of this op: its output value from its inputs' values, which `value`
    /// gives by node.
    ///
    /// # Panics
    ///
    /// On shapes the op does not accept, naming the op and the shapes; for a leaf, which is
    /// recorded with its value instead.
    #[track_caller]
    // Forced into `Tape::record`, where the op is a constant (`record.rs` says why).
    #[inline(always)]
    pub(crate) fn forward<'a>(&self, value: impl Fn(NodeId) -> &'a Tensor) -> Tensor {
        let v = value;
        match *self {
            Op::Param | Op::Constant => unreachable!("a leaf is recorded with its value"),
            Op::Add(x, y) => v(x).zip_with(v(y), "add", |x, y| x + y),
            Op::Sub(x, y) => v(x).zip_with(v(y), "sub", |x, y| x - y),
            Op::Mul(x, y) => v(x).zip_with(v(y), "mul", |x, y| x * y),
            Op::BceWithLogits(x, t) => v(x).zip_with(v(t), "bce_with_logits", bce_with_logits),
            Op::Div(x, y) => v(x).zip_with(v(y), "div", |x, y| x / y),
            // `move`: the closures copy the constant rather than point at it on the stack.
            Op::AddScalar(x, c) => v(x).map(move |x| x + c),
            Op::MulScalar(x, c) => v(x).map(move |x| c * x),
            Op::DivScalar(x, c) => v(x).map(move |x| x / c),
            Op::ScalarSub(c, x) => v(x).map(move |x| c - x),
            Op::ScalarDiv(c, x) => v(x).map(move |x| c / x),
            Op::Neg(x) => v(x).map(|x| -x),
            Op::Step(x) => v(x).map(|x| if x > 0.0 { 1.0 } else { 0.0 }),
            Op::Relu(x) => v(x).map(relu),
            Op::Sigmoid(x) => v(x).map(sigmoid),
            Op::Softplus(x) => v(x).map(softplus),
            Op::Tanh(x) => v(x).map(f64::tanh),
            Op::Sin(x) => v(x).map(f64::sin),
            Op::Cos(x) => v(x).map(f64::cos),
            Op::Exp(x) => v(x).map(f64::exp),
            Op::Ln(x) => v(x).map(f64::ln),
            Op::Sqrt(x) => v(x).map(f64::sqrt),
            Op::Log1p(x) => v(x).map(f64::ln_1p),
            Op::Expm1(x) => v(x).map(f64::exp_m1),
            Op::Square(x) => v(x).map(|x| x * x),
            Op::Maximum(x, y) => v(x).zip_with(v(y), "maximum", max_nan),
            Op::Compare(x, y, cmp) => {
                v(x).zip_with(v(y), cmp.name(), move |x, y| f64::from(cmp.holds(x, y)))
            }
            Op::Where([m, a, b]) => v(m).select(v(a), v(b)),
            Op::Permute(x, ref perm) => v(x).permute(perm),
            Op::Take(x, ref gather) => gather.take(v(x)),
            Op::ScatterAdd(x, ref gather) => gather.scatter_add(v(x)),
            Op::Concat(ref concat) => concat.forward(v),
            Op::Powf(x, p) => v(x).map(move |x| powf(x, p)),
            Op::Abs(x) => v(x).map(f64::abs),
            Op::Sum(x) => Tensor::scalar(v(x).sum()),
            Op::SumAxis(x, axis) => v(x).fold_axis(axis, "sum_axis", 0.0, |s, x| s + x),
            Op::MaxAxis(x, axis) => max_axis(v(x), axis),
            Op::ProdAxis(x, axis) => v(x).fold_axis(axis, "prod_axis", 1.0, |p, x| p * x),
            Op::Transpose(x) => v(x).transpose(),
            Op::Reshape(x, ref shape) => v(x).reshape(shape),
            Op::BroadcastTo(x, ref shape) => v(x).broadcast_to(shape),
            Op::Matmul(x, y) => v(x).matmul(v(y)),
            Op::MatmulT(x, y) => v(x).matmul_t(v(y)),
            Op::LogSoftmax(x, axis) => v(x).log_softmax_axis(axis, "log_softmax"),
            Op::LogSumExp(x, axis) => v(x).logsumexp_axis(axis, "logsumexp"),
            Op::Custom(ref call) => call.forward(v),
        }
    }
}

/// The binary cross-entropy of logit `x` against target `t` (see [`Op::BceWithLogits`]). At
/// `x = +∞` the two terms of `max(x, 0) − t·x` are both infinite; there it is `(1 − t)·x`, the
/// limit (+∞ for a target below 1), as PyTorch computes it.
fn bce_with_logits(x: f64, t: f64) -> f64 {
    if x == f64::INFINITY {
        (1.0 - t) * x
    } else {
        (x.max(0.0) - t * x) + (-x.abs()).exp().ln_1p()
    }
}

/// `max(x, 0)` as PyTorch computes it: NaN stays NaN, and −0 stays −0.
fn relu(x: f64) -> f64 {
    if x < 0.0 { 0.0 } else { x }
}

/// `xᵖ` as PyTorch computes it: like `f64::powf`, except that −∞ to a power that is not an
/// integer is NaN, as any negative number's is (IEEE's `pow` gives +∞ or 0 there).
pub(crate) fn powf(x: f64, p: f64) -> f64 {
    if x == f64::NEG_INFINITY && p.fract() != 0.0 {
        f64::NAN
    } else {
        x.powf(p)
    }
}

/// Whether relu's derivative is 1 at `x` (PyTorch's rule: 0 for x ≤ 0, 1 elsewhere, NaN
/// included, so a NaN upstream gradient is passed on).
pub(crate) fn relu_passes(x: f64) -> bool {
    x > 0.0 || x.is_nan()
}

/// The maximum of `x` along `axis`, which is removed.
///
/// # Panics
///
/// If `axis` is not a dimension of `x`, or is empty: a maximum of nothing is undefined (numpy
/// and PyTorch refuse it too, where −∞ would pass unnoticed).
#[track_caller]
fn max_axis(x: &Tensor, axis: usize) -> Tensor {
    // An axis that does not exist is `fold_axis`'s to report.
    assert!(
        x.shape().get(axis) != Some(&0),
        "max_axis: axis {axis} of shape {:?} is empty, and a maximum of no elements is undefined",
        x.shape()
    );
    x.fold_axis(axis, "max_axis", f64::NEG_INFINITY, max_nan)
}

/// The logistic function, written so that neither branch overflows.
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// ln(1 + eˣ) without overflow for large x and without losing small values for very negative x.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// The sign with sign(0) = 0 (PyTorch's convention for |x|′); `f64::signum(0.0)` is 1.
pub(crate) fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x * 0.0 // 0 for ±0, NaN for NaN
    }
}

/// Where `x` attains its maximum `z` along `axis` (1 there, else 0, of `x`'s shape), and how
/// many elements tie for each maximum (of `z`'s shape): the split of `max_axis`'s gradient.
pub(crate) fn max_ties(x: &Tensor, z: &Tensor, axis: usize) -> (Tensor, Tensor) {
    let len = x.shape()[axis];
    let is_max = x.zip_with(&z.expand_axis(axis, len), "max_axis", |x, z| {
        f64::from(x == z)
    });
    let ties = is_max.fold_axis(axis, "max_axis", 0.0, |s, t| s + t);
    (is_max, ties)
}

/// `max` that propagates NaN (as numpy and PyTorch do), where `f64::max` would drop it.
fn max_nan(acc: f64, x: f64) -> f64 {
    if x > acc || x.is_nan() { x } else { acc }
}

/// The share of `maximum(a, b)`'s gradient that goes to `a`: 1 if `a` is larger, ½ at a tie,
/// 0 if smaller; 1 if either is NaN, so that a NaN upstream gradient reaches both operands.
pub(crate) fn max_share(a: f64, b: f64) -> f64 {
    if a > b {
        1.0
    } else if a == b {
        0.5
    } else if a < b {
        0.0
    } else {
        1.0
    }
}

/// A comparison that [`Var::gt`](crate::Var::gt) and its siblings record: the mask is 1 where
/// it holds and 0 elsewhere (NaN compares false, as in IEEE arithmetic and numpy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// `x > y`
    Gt,
    /// `x < y`
    Lt,
    /// `x ≥ y`
    Ge,
    /// `x ≤ y`
    Le,
    /// `x = y`
    Eq,
}

impl Comparison {
    /// Whether `x ◇ y` holds.
    pub fn holds(self, x: f64, y: f64) -> bool {
        match self {
            Comparison::Gt => x > y,
            Comparison::Lt => x < y,
            Comparison::Ge => x >= y,
            Comparison::Le => x <= y,
            Comparison::Eq => x == y,
        }
    }

    /// Its name as a method: `gt`, `lt`, `ge`, `le`, `eq`.
    pub fn name(self) -> &'static str {
        match self {
            Comparison::Gt => "gt",
            Comparison::Lt => "lt",
            Comparison::Ge => "ge",
            Comparison::Le => "le",
            Comparison::Eq => "eq",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_op_is_two_words() {
        assert_eq!(std::mem::size_of::<Op>(), 16);
    }

    #[test]
    fn helpers_handle_the_edges() {
        assert_eq!(sign(0.0), 0.0);
        assert_eq!(sign(-0.0), 0.0);
        assert_eq!(sign(-3.0), -1.0);
        assert!(sign(f64::NAN).is_nan());
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(softplus(1000.0), 1000.0);
        assert_eq!(softplus(-1000.0), 0.0);
        assert_eq!(softplus(0.0), std::f64::consts::LN_2);
        assert_eq!(softplus(-40.0), (-40.0f64).exp()); // ln(1 + ε) = ε, kept to the last bit
        assert!(max_nan(f64::NAN, 1.0).is_nan());
        assert!(max_nan(1.0, f64::NAN).is_nan());
        assert_eq!(max_nan(f64::NEG_INFINITY, 2.0), 2.0);
        assert_eq!(
            (
                max_share(2.0, 1.0),
                max_share(1.0, 1.0),
                max_share(0.0, 1.0)
            ),
            (1.0, 0.5, 0.0)
        );
        assert_eq!(max_share(f64::NAN, 1.0), 1.0);
        assert!(!Comparison::Ge.holds(f64::NAN, 1.0));
    }
}
