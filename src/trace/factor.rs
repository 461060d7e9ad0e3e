//! [`LocalFactor`]: what an op's local derivative ∂out/∂input is, written in the nodes' names and,
//! where it is one elementwise tensor, evaluated — the left half of each chain-rule product the
//! trace prints.
//!
//! This file describes the rules of `rules.rs` for people; the backward pass never reads it. The
//! numbers a trace reports as contributions and gradients come from the sweep itself, so a
//! factor here can only be misdescribed, never make a gradient wrong (the tests compare the two).

use crate::op::{Op, max_share, relu_passes};
use crate::tape::{Node, NodeId};
use crate::tensor::Tensor;

/// The local derivative ∂out/∂input of one op with respect to one of its inputs: the factor
/// that the backward pass multiplies the upstream gradient ∂l/∂out by.
#[derive(Clone, Debug, PartialEq)]
pub enum LocalFactor {
    /// The same number at every element (`1` for an addition, `−1` for a negation, `c` for
    /// `c · x`): the contribution is `c · ∂l/∂out`.
    Constant(f64),
    /// One tensor, multiplied elementwise (with broadcasting): the contribution is
    /// `value ⊙ ∂l/∂out`, summed down to the input's shape if the op broadcast the input.
    /// `formula` is the factor in the nodes' names, e.g. `x1` for `∂z/∂w1` when `z = w1 · x1`,
    /// or `a·(1 − a)` for a sigmoid `a`.
    Elementwise {
        /// The factor in the nodes' names.
        formula: String,
        /// Its value.
        value: Tensor,
    },
    /// Not one elementwise tensor (a matrix product, a reduction, a reshape, a softmax, a
    /// custom op): the contribution written as what the rule does with `∂l/∂out`, e.g.
    /// `∂l/∂z · wᵀ` for `z = x · w`.
    VectorJacobian {
        /// The vector-Jacobian product in the nodes' names.
        formula: String,
    },
    /// Zero everywhere (`step`): nothing is added to the input's gradient.
    Zero,
}

/// Names for the formulas: of any node, of the op's output, and of the upstream gradient.
pub(crate) struct Names<'a> {
    pub node: &'a dyn Fn(NodeId) -> String,
    pub out: &'a str,
    pub upstream: &'a str,
}

/// The local factor of `op` (whose output is `out`) for its input at argument `position`.
pub(crate) fn local_factor(
    op: &Op,
    position: usize,
    nodes: &[Node],
    out: &Tensor,
    names: &Names<'_>,
) -> LocalFactor {
    let v = |id: NodeId| &nodes[id.index()].value;
    let n = names.node;
    let (z, g) = (names.out, names.upstream);
    let elementwise = |formula: String, value: Tensor| LocalFactor::Elementwise { formula, value };
    let vjp = |formula: String| LocalFactor::VectorJacobian { formula };
    match *op {
        Op::Param | Op::Constant => LocalFactor::Zero, // no inputs: never asked
        Op::Add(..) | Op::AddScalar(..) => LocalFactor::Constant(1.0),
        Op::Sub(..) if position == 0 => LocalFactor::Constant(1.0),
        Op::Sub(..) | Op::ScalarSub(..) | Op::Neg(_) => LocalFactor::Constant(-1.0),
        Op::MulScalar(_, c) => LocalFactor::Constant(c),
        Op::DivScalar(_, c) => LocalFactor::Constant(1.0 / c),
        Op::Mul(x, y) => {
            let other = if position == 0 { y } else { x };
            elementwise(n(other), v(other).clone())
        }
        Op::Div(_, y) if position == 0 => elementwise(format!("1/{}", n(y)), v(y).map(|y| 1.0 / y)),
        Op::Div(_, x) | Op::ScalarDiv(_, x) => elementwise(
            format!("−{z}/{}", n(x)),
            out.zip_with(v(x), "div", |z, x| -z / x),
        ),
        Op::BceWithLogits(x, t) if position == 0 => elementwise(
            format!("σ({}) − {}", n(x), n(t)),
            v(x).zip_with(v(t), "bce_with_logits", |x, t| 1.0 / (1.0 + (-x).exp()) - t),
        ),
        Op::BceWithLogits(x, _) => elementwise(format!("−{}", n(x)), v(x).map(|x| -x)),
        Op::Step(_) => LocalFactor::Zero,
        Op::Relu(x) => elementwise(
            format!("[{} > 0]", n(x)),
            v(x).map(|x| f64::from(relu_passes(x))),
        ),
        Op::Sigmoid(_) => elementwise(format!("{z}·(1 − {z})"), out.map(|z| z * (1.0 - z))),
        Op::Softplus(x) => elementwise(
            format!("σ({})", n(x)),
            v(x).map(|x| 1.0 / (1.0 + (-x).exp())),
        ),
        Op::Tanh(_) => elementwise(format!("1 − {z}²"), out.map(|z| 1.0 - z * z)),
        Op::Sin(x) => elementwise(format!("cos {}", n(x)), v(x).map(f64::cos)),
        Op::Cos(x) => elementwise(format!("−sin {}", n(x)), v(x).map(|x| -x.sin())),
        Op::Exp(_) => elementwise(z.to_string(), out.clone()),
        Op::Ln(x) => elementwise(format!("1/{}", n(x)), v(x).map(|x| 1.0 / x)),
        Op::Sqrt(_) => elementwise(format!("1/(2·{z})"), out.map(|z| 1.0 / (2.0 * z))),
        Op::Log1p(x) => elementwise(format!("1/(1 + {})", n(x)), v(x).map(|x| 1.0 / (1.0 + x))),
        Op::Expm1(_) => elementwise(format!("{z} + 1"), out.map(|z| z + 1.0)),
        Op::Square(x) => elementwise(format!("2·{}", n(x)), v(x).map(|x| 2.0 * x)),
        Op::Maximum(x, y) => {
            let (a, b) = if position == 0 { (x, y) } else { (y, x) };
            elementwise(
                format!("[{} > {}] + ½[{0} = {1}]", n(a), n(b)),
                v(a).zip_with(v(b), "maximum", max_share),
            )
        }
        Op::Compare(..) => LocalFactor::Zero,
        Op::Where(_) if position == 0 => LocalFactor::Zero, // the mask gets no gradient
        Op::Where([m, ..]) => {
            let keep = position == 1;
            let word = if keep { "≠" } else { "=" };
            elementwise(
                format!("[{} {word} 0]", n(m)),
                v(m).map(move |m| f64::from((m != 0.0) == keep)),
            )
        }
        Op::Permute(_, ref perm) => vjp(format!("{g} with the axes {perm:?} put back")),
        Op::Take(x, _) => vjp(format!("{g} added back where it was taken from {}", n(x))),
        Op::ScatterAdd(..) => vjp(format!("{g} taken where it was added")),
        Op::Concat(ref concat) => vjp(format!(
            "{g}'s piece {position} along axis {}",
            concat.axis()
        )),
        Op::Powf(x, p) => elementwise(
            format!("{p}·{}^{}", n(x), p - 1.0),
            v(x).map(|x| p * x.powf(p - 1.0)),
        ),
        Op::Abs(x) => elementwise(
            format!("sign({})", n(x)),
            v(x).map(|x| if x == 0.0 { 0.0 } else { x.signum() }),
        ),
        Op::Sum(x) => elementwise("1".to_string(), Tensor::ones(v(x).shape())),
        Op::SumAxis(_, axis) => vjp(format!("{g} repeated along axis {axis}")),
        Op::MaxAxis(x, axis) => vjp(format!(
            "{g} sent to the maxima of {} along axis {axis} (ties share it)",
            n(x)
        )),
        Op::ProdAxis(x, axis) => vjp(format!(
            "{g} repeated along axis {axis} ⊙ the product of the other elements of {} along it",
            n(x)
        )),
        Op::Transpose(_) => vjp(format!("({g})ᵀ")),
        Op::Reshape(x, _) => vjp(format!("{g} reshaped to {:?}", v(x).shape())),
        Op::BroadcastTo(x, _) => vjp(format!("{g} summed back to {:?}", v(x).shape())),
        Op::Matmul(_, y) if position == 0 => vjp(format!("{g} · {}ᵀ", n(y))),
        Op::Matmul(x, _) => vjp(format!("{}ᵀ · {g}", n(x))),
        Op::MatmulT(_, y) if position == 0 => vjp(format!("{g} · {}", n(y))),
        Op::MatmulT(x, _) => vjp(format!("({g})ᵀ · {}", n(x))),
        Op::LogSoftmax(x, axis) => vjp(format!(
            "{g} − softmax({}) ⊙ (Σ {g} along axis {axis})",
            n(x)
        )),
        Op::LogSumExp(x, axis) => vjp(format!("softmax({}) along axis {axis} ⊙ {g}", n(x))),
        Op::Custom(ref call) => vjp(format!(
            "the backward rule of custom op {:?} for its input {position}, given {g}",
            call.name()
        )),
    }
}
