//! Second-order quantities of a function, in the style of [`gradcheck`](crate::check::gradcheck):
//! pass a closure that builds the output from `Var`s on a fresh tape, and the point.
//!
//! Each is a composition of [`Var::grad`] and [`Var::grad_with`] (reverse over reverse): the
//! gradient is recorded on the tape, and differentiated again.
//!
//! - [`hvp`]: the Hessian-vector product `H·v` of a scalar function, for Newton-CG, curvature
//!   along a direction, influence functions;
//! - [`hessian`]: the whole Hessian of a scalar function of one small input;
//! - [`jvp`]: the Jacobian-vector product `J·t` of any function (forward-mode's answer, got by
//!   differentiating a vector-Jacobian product with respect to its cotangent).

use crate::tape::Tape;
use crate::tensor::Tensor;
use crate::var::Var;

/// The Hessian of the scalar `f` at `inputs`, applied to `directions` (one per input, of its
/// shape): `Σⱼ ∂²f/∂xᵢ∂xⱼ · vⱼ` for each input `xᵢ`.
///
/// ```
/// use tapegrad::{Tensor, functional::hvp};
///
/// // f(x) = Σ x³: H = diag(6x)
/// let x = Tensor::from([1.0, 2.0]);
/// let v = Tensor::from([1.0, 10.0]);
/// let hv = hvp(|x| (x[0] * x[0] * x[0]).sum(), &[x], &[v]);
/// assert_eq!(hv[0], Tensor::from([6.0, 120.0]));
/// ```
///
/// # Panics
///
/// If `f`'s output is not a single element, or a direction's shape is not its input's.
#[track_caller]
pub fn hvp<F>(f: F, inputs: &[Tensor], directions: &[Tensor]) -> Vec<Tensor>
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    check_pairs("hvp", inputs, directions, "direction");
    let tape = Tape::new();
    let x: Vec<Var<'_>> = inputs.iter().map(|x| tape.param(x.clone())).collect();
    let gradients = f(&x).grad(&x);
    let along = inner(&tape, &gradients, directions);
    along.grad(&x).iter().map(|hv| hv.value()).collect()
}

/// The Hessian of the scalar `f` of one input `x` with `n` elements, as an `n × n` matrix in
/// `x`'s row-major element order: one Hessian-vector product per row, so for small inputs.
///
/// ```
/// use tapegrad::{Tensor, functional::hessian};
///
/// // f(x) = (Σ x²)(Σ x): ∂²f/∂xᵢ∂xⱼ = 2δᵢⱼ Σx + 2xᵢ + 2xⱼ
/// let h = hessian(|x| (x * x).sum() * x.sum(), &Tensor::from([1.0, 2.0]));
/// assert_eq!(h, Tensor::from([[10.0, 6.0], [6.0, 14.0]]));
/// ```
///
/// # Panics
///
/// If `f`'s output is not a single element.
#[track_caller]
pub fn hessian<F>(f: F, x: &Tensor) -> Tensor
where
    F: for<'t> Fn(Var<'t>) -> Var<'t>,
{
    let tape = Tape::new();
    let v = tape.param(x.clone());
    let gradient = f(v).grad(&[v])[0];
    let n = x.len();
    let mut rows = Vec::with_capacity(n * n);
    for i in 0..n {
        let unit = Tensor::from_fn(x.shape(), |j| f64::from(i == j));
        let row = (gradient * tape.constant(unit)).sum().grad(&[v])[0];
        rows.extend_from_slice(row.value().data());
    }
    Tensor::from_parts([n, n].as_slice().into(), rows)
}

/// The value of `f` at `inputs` and its Jacobian applied to `tangents` (one per input, of its
/// shape): `Σᵢ ∂f/∂xᵢ · tᵢ`, of the output's shape.
///
/// Computed in reverse mode twice: `uᵀJ` with a cotangent `u` on the tape, then the gradient
/// of `uᵀJ·t` with respect to `u`, which is `J·t`.
///
/// ```
/// use tapegrad::{Tensor, functional::jvp};
///
/// // f(x) = x ⊙ x: J = diag(2x)
/// let (value, tangent) = jvp(|x| x[0] * x[0], &[Tensor::from([1.0, 2.0])], &[Tensor::from([1.0, 1.0])]);
/// assert_eq!(value, Tensor::from([1.0, 4.0]));
/// assert_eq!(tangent, Tensor::from([2.0, 4.0]));
/// ```
///
/// # Panics
///
/// If a tangent's shape is not its input's.
#[track_caller]
pub fn jvp<F>(f: F, inputs: &[Tensor], tangents: &[Tensor]) -> (Tensor, Tensor)
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    check_pairs("jvp", inputs, tangents, "tangent");
    let tape = Tape::new();
    let x: Vec<Var<'_>> = inputs.iter().map(|x| tape.param(x.clone())).collect();
    let output = f(&x);
    let u = tape.param(Tensor::zeros(&output.shape()));
    let vjps = output.grad_with(u, &x);
    let jt = inner(&tape, &vjps, tangents).grad(&[u])[0];
    (output.value(), jt.value())
}

/// `Σᵢ sum(aᵢ ⊙ bᵢ)`, with the `bᵢ` as constants: the scalar whose gradient applies the
/// derivative of the `aᵢ` to the `bᵢ`.
#[track_caller]
fn inner<'t>(tape: &'t Tape, a: &[Var<'t>], b: &[Tensor]) -> Var<'t> {
    a.iter()
        .zip(b)
        .map(|(&a, b)| (a * tape.constant(b.clone())).sum())
        .reduce(|sum, term| sum + term)
        .unwrap_or_else(|| tape.constant(Tensor::scalar(0.0)))
}

/// Panics, at the caller's line, unless there is one `what` per input, each of its shape.
#[track_caller]
fn check_pairs(op: &str, inputs: &[Tensor], others: &[Tensor], what: &str) {
    assert!(
        inputs.len() == others.len(),
        "{op}: {} inputs but {} {what}s; pass one per input",
        inputs.len(),
        others.len()
    );
    for (i, (x, o)) in inputs.iter().zip(others).enumerate() {
        assert!(
            x.shape() == o.shape(),
            "{op}: {what} {i} has shape {:?}, but input {i} has shape {:?}",
            o.shape(),
            x.shape()
        );
    }
}
