//! Loss functions: one number that says how wrong a model is, to differentiate.
//!
//! Each loss is a short composition of tape ops (so its gradient is the chain rule through
//! those ops, checked like any other graph) and takes the **mean** over examples, as
//! PyTorch's losses do by default: the article's total loss `L = (1/N) Σₙ lⁿ`, whose gradient is
//! the mean of the per-example gradients.
//!
//! | loss | per example | for |
//! |---|---|---|
//! | [`mse`] | `(p − t)²` | regression |
//! | [`cross_entropy`] | `−ln softmax(z)[class]`, picked by a gather | one of C classes, from logits |
//! | [`binary_cross_entropy_with_logits`] | `−t ln σ(z) − (1 − t) ln(1 − σ(z))` | yes/no, from logits |
//! | [`hinge`] | `max(0, 1 − y·s)`, y = ±1 | the micrograd demo's max-margin loss |
//! | [`perceptron`] | `−(t − step(z))·z`, t ∈ {0, 1} | the article's perceptron criterion |
//!
//! ```
//! use tapegrad::{Tape, Tensor, loss};
//!
//! let tape = Tape::new();
//! let logits = tape.param(Tensor::from([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]));
//! let l = loss::cross_entropy(logits, &[0, 2]);
//! // Row 0: −ln(e² / (e² + 2)); row 1: −ln(1/3). The mean of the two:
//! let want = ((2f64.exp() + 2.0).ln() - 2.0 + 3f64.ln()) / 2.0;
//! assert!((l.value().item() - want).abs() < 1e-15);
//! // ∂L/∂logits = (softmax − one_hot) / N.
//! let g = l.backward()[logits].clone();
//! assert!((g.data()[5] - (1.0 / 3.0 - 1.0) / 2.0).abs() < 1e-15);
//! ```
//!
//! Shapes are checked, not broadcast: a prediction of shape `[N, 1]` against targets of shape
//! `[N]` would silently broadcast to `[N, N]` and train on the wrong loss, so every loss here
//! panics unless its two inputs have the same shape.

use crate::tensor::Tensor;
use crate::var::Var;

/// Mean squared error: `mean((prediction − target)²)`.
///
/// ```
/// use tapegrad::{Tape, Tensor, loss};
///
/// let tape = Tape::new();
/// let p = tape.param(Tensor::from([1.0, 2.0, 4.0]));
/// let t = tape.constant(Tensor::from([1.0, 0.0, 1.0]));
/// let l = loss::mse(p, t);
/// assert_eq!(l.value().item(), (0.0 + 4.0 + 9.0) / 3.0);
/// assert_eq!(l.backward()[p].data(), &[0.0, 4.0 / 3.0, 2.0]);   // 2(p − t)/N
/// ```
///
/// # Panics
///
/// If the shapes differ.
#[track_caller]
pub fn mse<'t>(prediction: Var<'t>, target: Var<'t>) -> Var<'t> {
    same_shape("mse", prediction, target);
    let error = prediction - target;
    (error * error).mean()
}

/// Cross-entropy of class logits against integer class targets, with the mean over rows:
/// `−mean_n ln softmax(logits[n])[targets[n]]`, through the fused, stable
/// [`log_softmax`](Var::log_softmax) (logits near 1000 are fine).
///
/// `logits` is `[N, C]` (N examples, C classes), `targets` holds N class indices in `0..C`.
/// The gradient with respect to the logits is `(softmax − one_hot) / N`. The target's
/// log-probability is picked by [`gather`](Var::gather), so a logit of `−∞` in another class
/// (a masked class) leaves the loss and its gradient finite; a `−∞` at the target gives `+∞`.
///
/// # Panics
///
/// If `logits` is not 2-D, if `targets` does not hold one index per row, or if a target is
/// not a class (`≥ C`); the message names the row.
#[track_caller]
pub fn cross_entropy<'t>(logits: Var<'t>, targets: &[usize]) -> Var<'t> {
    let shape = logits.shape();
    let &[rows, classes] = &shape[..] else {
        panic!(
            "cross_entropy: logits must be [examples, classes], got {:?}",
            &shape[..]
        );
    };
    assert!(
        targets.len() == rows,
        "cross_entropy: {} targets for {rows} rows of logits {:?}",
        targets.len(),
        &shape[..]
    );
    if let Some((row, &class)) = targets.iter().enumerate().find(|&(_, &c)| c >= classes) {
        panic!("cross_entropy: target {class} at row {row} is out of range for {classes} classes");
    }
    // A gather, not a product with a one-hot matrix: a −∞ log-probability of another class
    // is never multiplied by 0, which would make the loss NaN.
    let index = Tensor::from_fn(&[rows, 1], |row| targets[row] as f64);
    -logits.log_softmax(1).gather(1, &index).sum() / rows as f64
}

/// Binary cross-entropy of logits `z` against targets `t` in [0, 1]:
/// `mean(−t·ln σ(z) − (1 − t)·ln(1 − σ(z)))` (PyTorch's `BCEWithLogitsLoss`), through one
/// fused op that never takes the log of 0 and keeps full relative precision for confident
/// answers (z = 40 against t = 1 gives 4.25e−18, not 0). The gradient is `(σ(z) − t) / N`,
/// exact at z = 0 too.
///
/// ```
/// use tapegrad::{Tape, Tensor, loss};
///
/// let tape = Tape::new();
/// let z = tape.param(Tensor::from([0.0, 800.0, 40.0]));
/// let t = tape.constant(Tensor::from([1.0, 0.0, 1.0]));
/// let l = loss::binary_cross_entropy_with_logits(z, t);
/// // ln 2 at 0; no overflow at 800; and e^−40, not 0, for a confident right answer.
/// assert_eq!(l.value().item(), (2f64.ln() + 800.0 + (-40f64).exp()) / 3.0);
/// let g = l.backward()[z].clone();
/// assert_eq!(&g.data()[..2], &[(0.5 - 1.0) / 3.0, 1.0 / 3.0]);
/// assert!((g.data()[2] + (-40f64).exp() / 3.0).abs() < 1e-33);   // −σ(−40)/3, not 0
/// ```
///
/// # Panics
///
/// If the shapes differ.
#[track_caller]
pub fn binary_cross_entropy_with_logits<'t>(logits: Var<'t>, targets: Var<'t>) -> Var<'t> {
    same_shape("binary_cross_entropy_with_logits", logits, targets);
    logits.bce_with_logits(targets).mean()
}

/// The max-margin (hinge) loss of scores `s` against labels `y` of ±1:
/// `mean(max(0, 1 − y·s))`, as in micrograd's demo. Examples classified with a margin of at
/// least 1 contribute nothing; at exactly 1 the gradient is 0 (relu′(0) = 0).
///
/// # Panics
///
/// If the shapes differ.
#[track_caller]
pub fn hinge<'t>(scores: Var<'t>, labels: Var<'t>) -> Var<'t> {
    same_shape("hinge", scores, labels);
    (1.0 - labels * scores).relu().mean()
}

/// The article's perceptron criterion for pre-activations `z` and targets `t` of 0 or 1:
/// `mean(−(t − step(z)) ⊙ z)`. A correctly classified example contributes 0; a wrong one
/// contributes |z|. Since step′ = 0, the gradient is `−(t − y)/N` times ∂z, the article's rule.
///
/// ```
/// use tapegrad::{Tape, Tensor, loss};
///
/// let tape = Tape::new();
/// let x = tape.constant(Tensor::from([[1.0, 1.0], [-1.0, 1.0], [-1.0, -0.5], [-1.0, 1.5]]));
/// let t = tape.constant(Tensor::from([0.0, 1.0, 0.0, 1.0]));
/// let w = tape.param(Tensor::from([1.0, 1.0]));
/// let l = loss::perceptron(x.matmul(w), t);
/// assert_eq!(l.value().item(), 0.5);                   // only example 0 is wrong, by z = 2
/// // Examples 0 and 1 are misclassified (z₁ = 0 is not > 0): −((0 − 1)·x₀ + (1 − 0)·x₁) / 4
/// assert_eq!(l.backward()[w].data(), &[0.5, 0.0]);
/// ```
///
/// # Panics
///
/// If the shapes differ.
#[track_caller]
pub fn perceptron<'t>(z: Var<'t>, targets: Var<'t>) -> Var<'t> {
    same_shape("perceptron", z, targets);
    -((targets - z.step()) * z).mean()
}

#[track_caller]
fn same_shape(loss: &str, a: Var<'_>, b: Var<'_>) {
    assert!(
        a.shape() == b.shape(),
        "{loss}: the two inputs must have the same shape (a loss never broadcasts), got {:?} and {:?}",
        &a.shape()[..],
        &b.shape()[..]
    );
}
