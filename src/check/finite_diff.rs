//! Derivatives by central differences, and exact Jacobians by repeated reverse passes.
//!
//! The difference quotient divides by `(x + h) − (x − h)` as computed in floating point rather
//! than by `2h`: `x ± h` is rounded to the nearest representable number, and dividing by the
//! step actually taken removes that error (it matters when `|x|` is much larger than `h`). This
//! file only evaluates functions; comparing and reporting is `report.rs`'s job.

use super::DEFAULT_STEP;
use crate::tape::Tape;
use crate::tensor::Tensor;
use crate::var::Var;

/// Evaluates `f` on a fresh tape with `inputs` as params.
pub(crate) fn evaluate<F>(f: &F, inputs: &[Tensor]) -> Tensor
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    let tape = Tape::new();
    let vars: Vec<Var<'_>> = inputs.iter().map(|x| tape.param(x.clone())).collect();
    f(&vars).value()
}

/// `Σ a ⊙ b` for tensors of one shape, summed in index order.
///
/// # Panics
///
/// If the shapes differ: the checked function returned another shape for shifted inputs.
#[track_caller]
pub(crate) fn dot(a: &Tensor, b: &Tensor) -> f64 {
    assert!(
        a.shape() == b.shape(),
        "gradient check: the function returned shape {:?} for shifted inputs, but {:?} at the \
         point itself; it must return one shape",
        a.shape(),
        b.shape()
    );
    a.data().iter().zip(b.data()).map(|(a, b)| a * b).sum()
}

/// `loss` with element `element` of `inputs[input]` set to `value`; `inputs` is left as found.
pub(crate) fn loss_at(
    loss: &impl Fn(&[Tensor]) -> f64,
    inputs: &mut [Tensor],
    input: usize,
    element: usize,
    value: f64,
) -> f64 {
    let original = inputs[input].data()[element];
    // Copies the buffer only while the caller's tensors still share it (copy-on-write).
    inputs[input].data_mut()[element] = value;
    let result = loss(inputs);
    inputs[input].data_mut()[element] = original;
    result
}

/// A tensor of `shape` with elements uniform in ±[0.5, 1.5], from a SplitMix64 generator
/// seeded with `seed`: a cotangent that weights no output element near zero.
pub(crate) fn random_tensor(shape: &[usize], seed: u64) -> Tensor {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    Tensor::from_fn(shape, |_| {
        let bits = next();
        let magnitude = 0.5 + (bits >> 11) as f64 / (1u64 << 53) as f64;
        if bits & 1 == 0 { magnitude } else { -magnitude }
    })
}

/// The gradient of a single-element function of one tensor, by central differences with
/// [`DEFAULT_STEP`]: a tensor of `x`'s shape.
///
/// ```
/// use tapegrad::{Tensor, check::numeric_grad};
///
/// let g = numeric_grad(|x| (x * x).sum(), &Tensor::from([1.0, -3.0]));
/// assert!((g.data()[0] - 2.0).abs() < 1e-8 && (g.data()[1] + 6.0).abs() < 1e-8);
/// ```
///
/// # Panics
///
/// If `f`'s output does not hold exactly one element (use [`numeric_jacobian`]).
#[track_caller]
pub fn numeric_grad<F>(f: F, x: &Tensor) -> Tensor
where
    F: for<'t> Fn(Var<'t>) -> Var<'t>,
{
    // The Jacobian's shape is the output's then x's: one evaluation of f tells both.
    let jacobian = numeric_jacobian(f, x);
    let output_shape = &jacobian.shape()[..jacobian.ndim() - x.ndim()];
    assert!(
        output_shape.iter().product::<usize>() == 1,
        "numeric_grad: the function returned shape {output_shape:?}, not a single element; use \
         numeric_jacobian"
    );
    jacobian.reshape(x.shape())
}

/// The Jacobian of `f` at `x` by central differences with [`DEFAULT_STEP`], of shape
/// `output shape ++ x's shape` (as `torch.autograd.functional.jacobian` and `jax.jacrev`):
/// element `[i…, j…]` is `∂f(x)[i…] / ∂x[j…]`.
///
/// ```
/// use tapegrad::{Tensor, check::numeric_jacobian};
///
/// let x = Tensor::from([1.0, 2.0]);
/// let j = numeric_jacobian(|x| x * x, &x);            // diag(2x)
/// assert_eq!(j.shape(), &[2, 2]);
/// let expected = [2.0, 0.0, 0.0, 4.0];
/// assert!(j.data().iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-8));
/// ```
pub fn numeric_jacobian<F>(f: F, x: &Tensor) -> Tensor
where
    F: for<'t> Fn(Var<'t>) -> Var<'t>,
{
    let value_at = |x: &Tensor| evaluate(&|v: &[Var<'_>]| f(v[0]), std::slice::from_ref(x));
    let out = value_at(x);
    let (rows, columns) = (out.len(), x.len());
    let mut jacobian = vec![0.0; rows * columns];
    let mut shifted = x.clone();
    for column in 0..columns {
        let original = shifted.data()[column];
        let (up, down) = (original + DEFAULT_STEP, original - DEFAULT_STEP);
        shifted.data_mut()[column] = up;
        let above = value_at(&shifted);
        shifted.data_mut()[column] = down;
        let below = value_at(&shifted);
        shifted.data_mut()[column] = original;
        for row in 0..rows {
            jacobian[row * columns + column] =
                (above.data()[row] - below.data()[row]) / (up - down);
        }
    }
    jacobian_tensor(jacobian, out.shape(), x.shape())
}

/// The exact Jacobian of `f` at `x` from reverse mode, one `backward_with` per output element
/// (row `i` is the vector-Jacobian product with the unit vector `eᵢ`); shaped like
/// [`numeric_jacobian`]'s.
///
/// ```
/// use tapegrad::{Tensor, check::jacobian};
///
/// let a = Tensor::from([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
/// let x = Tensor::from([0.5, -1.0]);
/// let j = jacobian(|x| x.tape().constant(a.clone()).matmul(x), &x);
/// assert_eq!(j, a);                                   // the Jacobian of x ↦ A·x is A
/// let j = jacobian(|x| (x * x).sum(), &x);            // a scalar output: the gradient, 2x
/// assert_eq!(j, Tensor::from([1.0, -2.0]));
/// ```
pub fn jacobian<F>(f: F, x: &Tensor) -> Tensor
where
    F: for<'t> Fn(Var<'t>) -> Var<'t>,
{
    let tape = Tape::new();
    let input = tape.param(x.clone());
    let output = f(input);
    let out_shape = output.shape();
    let (rows, columns) = (out_shape.size(), x.len());
    let mut jacobian = Vec::with_capacity(rows * columns);
    for row in 0..rows {
        let unit = Tensor::from_fn(&out_shape, |i| if i == row { 1.0 } else { 0.0 });
        jacobian.extend_from_slice(output.backward_with(unit)[input].data());
    }
    jacobian_tensor(jacobian, &out_shape, x.shape())
}

fn jacobian_tensor(data: Vec<f64>, out_shape: &[usize], in_shape: &[usize]) -> Tensor {
    let shape: Vec<usize> = out_shape.iter().chain(in_shape).copied().collect();
    Tensor::from_vec(data, &shape).expect("rows × columns elements")
}
