//! Proptest strategies for property tests of gradients (cargo feature `proptest`): shapes,
//! tensors, shapes that broadcast together, and random expression graphs ([`Expr`]) that
//! [`gradcheck`](crate::check::gradcheck) can verify.
//!
//! The graphs are built to be checkable: no kinks (no relu, abs, step, max), no poles (a
//! division only by `square(b) + 1`, a log only of `square(b) + 1` or of a sigmoid, a root
//! only of `square(b) + 1` or of an exponential), and no overflow: every node's value stays
//! within ±[`VALUE_BOUND`] for inputs within ±[`INPUT_BOUND`], because an operand that could
//! leave that range is first squashed through `tanh`. They shrink towards a leaf, so a failing
//! graph is reported as a small one. This file generates values; it checks nothing.
//!
//! ```
//! use proptest::prelude::*;
//! use proptest::test_runner::TestRunner;
//! use tapegrad::check::{Cotangent, GradCheckOptions, gradcheck};
//! use tapegrad::strategy;
//!
//! let graphs = (strategy::expr(2, 4), strategy::broadcast_tensors(2, 2, 3));
//! TestRunner::default()
//!     .run(&graphs, |(expr, inputs)| {
//!         let options = GradCheckOptions::default().with_cotangent(Cotangent::Random { seed: 1 });
//!         let checked = gradcheck(|v| expr.eval(v), &inputs, options);
//!         prop_assert!(checked.is_ok(), "{expr}: {}", checked.unwrap_err());
//!         Ok(())
//!     })
//!     .unwrap();
//! ```

mod expr;

pub use expr::Expr;

use crate::tensor::Tensor;
use proptest::prelude::*;
use std::ops::Range;

/// The magnitude of input elements that [`expr`]'s graphs are safe for.
pub const INPUT_BOUND: f64 = 3.0;
/// The magnitude no node of an [`expr`] graph exceeds when its inputs are within ±[`INPUT_BOUND`].
pub const VALUE_BOUND: f64 = 10.0;

/// Shapes of at most `max_ndim` dimensions, each of 1 to `max_dim` elements (`[]` included).
/// They shrink towards `[]`, a scalar.
pub fn shape(max_ndim: usize, max_dim: usize) -> impl Strategy<Value = Vec<usize>> + Clone {
    prop::collection::vec(1..=max_dim.max(1), 0..=max_ndim)
}

/// Tensors of `shape` with elements drawn from `range`.
pub fn tensor(shape: &[usize], range: Range<f64>) -> impl Strategy<Value = Tensor> + Clone + use<> {
    let shape = shape.to_vec();
    let len = shape.iter().product::<usize>();
    prop::collection::vec(range, len)
        .prop_map(move |data| Tensor::from_vec(data, &shape).expect("one value per element"))
}

/// Tensors of any [`shape`]`(max_ndim, max_dim)` with elements drawn from `range`.
pub fn shaped_tensor(
    max_ndim: usize,
    max_dim: usize,
    range: Range<f64>,
) -> impl Strategy<Value = Tensor> + Clone {
    shape(max_ndim, max_dim).prop_flat_map(move |shape| tensor(&shape, range.clone()))
}

/// `count` shapes that broadcast together (numpy's rules): each is a full shape with some
/// leading dimensions dropped and some others set to 1.
pub fn broadcast_shapes(
    count: usize,
    max_ndim: usize,
    max_dim: usize,
) -> impl Strategy<Value = Vec<Vec<usize>>> + Clone {
    shape(max_ndim, max_dim).prop_flat_map(move |full| {
        let ndim = full.len();
        let one_operand = (0..=ndim, prop::collection::vec(any::<bool>(), ndim));
        prop::collection::vec(one_operand, count).prop_map(move |operands| {
            operands
                .into_iter()
                .map(|(dropped, ones)| {
                    let kept = full.iter().zip(&ones).skip(dropped);
                    kept.map(|(&dim, &one)| if one { 1 } else { dim }).collect()
                })
                .collect()
        })
    })
}

/// Two shapes that broadcast together.
pub fn broadcast_pair(
    max_ndim: usize,
    max_dim: usize,
) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> + Clone {
    broadcast_shapes(2, max_ndim, max_dim).prop_map(|mut pair| {
        let second = pair.pop().expect("two shapes");
        (pair.pop().expect("two shapes"), second)
    })
}

/// `count` tensors whose shapes broadcast together, elements within ±[`INPUT_BOUND`]: inputs
/// for an [`expr`] graph.
pub fn broadcast_tensors(
    count: usize,
    max_ndim: usize,
    max_dim: usize,
) -> impl Strategy<Value = Vec<Tensor>> + Clone {
    broadcast_shapes(count, max_ndim, max_dim).prop_flat_map(|shapes| {
        shapes
            .iter()
            .map(|shape| tensor(shape, -INPUT_BOUND..INPUT_BOUND))
            .collect::<Vec<_>>()
    })
}

/// Random expression graphs over the inputs `x0 … x{inputs − 1}`, nesting at most `depth`
/// levels of ops (a level adds one op, or a short safe form such as `ln(square(a) + 1)`, or a
/// squashing `tanh`), with no kinks, no poles and every value within ±[`VALUE_BOUND`] for
/// inputs within ±[`INPUT_BOUND`]. The inputs may have any shapes that broadcast together.
///
/// A failing graph shrinks in two ways: a subtree becomes a leaf (`prop_recursive`), and an op
/// is replaced by one of its operands (the op's selector shrinks towards "no op"), so that
/// `-(x0 * tanh(x1))` can become `tanh(x1)`, which a leaf alone could not reach.
///
/// # Panics
///
/// If `inputs` is 0.
pub fn expr(inputs: usize, depth: u32) -> BoxedStrategy<Expr> {
    assert!(
        inputs > 0,
        "strategy::expr: a graph needs at least one input"
    );
    let leaf = prop_oneof![
        3 => (0..inputs).prop_map(Expr::Input),
        1 => (-20i32..=20).prop_map(|tenths| Expr::Const(f64::from(tenths) / 10.0)),
    ];
    leaf.prop_recursive(depth, 64, 2, |inner| {
        // Generated rarely, but where shrinking goes first: an earlier alternative of a union.
        let selector = prop_oneof![1 => 0..OPS_START, 20 => OPS_START..OPS_END];
        let form = (0..4usize, prop::sample::select(&POWERS[..]));
        (selector, inner.clone(), inner, form).prop_map(|(op, a, b, form)| node(op, a, b, form))
    })
    .boxed()
}

/// Selectors below this are "no op": the first or the second operand itself.
const OPS_START: usize = 2;
const OPS_END: usize = 14;

/// The node that selector `op` builds from the operands `a`, `b` (a unary op ignores `b`), and
/// `(form, p)`, which pick a log or root and an exponent. Simpler ops have smaller selectors,
/// because shrinking lowers the selector.
fn node(op: usize, a: Expr, b: Expr, (form, p): (usize, f64)) -> Expr {
    match op {
        0 => a,
        1 => b,
        2 => neg(a),
        3 => tanh(a),
        4 => sigmoid(a),
        5 => mean(a),
        6 => add(a, b),
        7 => sub(a, b),
        8 => mul(a, b),
        9 => square(a),
        10 => exp(a),
        11 => div(a, b),
        12 => logarithm(a, form),
        _ => power(a, p),
    }
}

/// The exponents [`expr`] raises `square(a) + 1` to.
const POWERS: [f64; 6] = [-1.5, -0.5, 0.5, 1.5, 2.0, 3.0];

/// `a`, or `tanh(a)` if `a` could exceed `limit` (or has no finite bound): how every generated
/// op keeps its operands, and so itself, within [`VALUE_BOUND`].
fn tame(a: Expr, limit: f64) -> Expr {
    if a.bound(INPUT_BOUND) <= limit {
        a
    } else {
        Expr::Tanh(Box::new(a))
    }
}

fn boxed(a: Expr) -> Box<Expr> {
    Box::new(a)
}

/// `square(a) + 1`: positive, at least 1, and smooth: the denominator of every division and
/// the argument of logs and roots.
fn positive(a: Expr, limit: f64) -> Expr {
    let a = tame(a, (limit - 1.0).sqrt());
    Expr::Add(boxed(Expr::Square(boxed(a))), boxed(Expr::Const(1.0)))
}

fn neg(a: Expr) -> Expr {
    Expr::Neg(boxed(a))
}

fn tanh(a: Expr) -> Expr {
    Expr::Tanh(boxed(a))
}

fn sigmoid(a: Expr) -> Expr {
    Expr::Sigmoid(boxed(a))
}

fn mean(a: Expr) -> Expr {
    Expr::Mean(boxed(a))
}

/// `exp(a)`, with `a ≤ 2` so that the value stays below e² ≈ 7.4.
fn exp(a: Expr) -> Expr {
    Expr::Exp(boxed(tame(a, 2.0)))
}

fn square(a: Expr) -> Expr {
    Expr::Square(boxed(tame(a, VALUE_BOUND.sqrt())))
}

/// One of the logs and roots with a safe argument, picked by `form`.
fn logarithm(a: Expr, form: usize) -> Expr {
    match form {
        0 => Expr::Ln(boxed(positive(a, VALUE_BOUND))),
        // |ln σ(a)| ≤ ln(1 + e^|a|) < |a| + 1: keep it within the bound.
        1 => Expr::Ln(boxed(Expr::Sigmoid(boxed(tame(a, VALUE_BOUND - 1.0))))),
        2 => Expr::Sqrt(boxed(positive(a, VALUE_BOUND))),
        _ => Expr::Sqrt(boxed(exp(a))),
    }
}

/// `powf(square(a) + 1, p)`, its base small enough that the power stays within the bound.
fn power(a: Expr, p: f64) -> Expr {
    // For p < 1 the base's own limit is the tighter one: it is a node of the graph too.
    let base_limit = if p > 0.0 {
        VALUE_BOUND.powf(1.0 / p).min(VALUE_BOUND)
    } else {
        VALUE_BOUND
    };
    Expr::Powf(boxed(positive(a, base_limit)), p)
}

fn add(a: Expr, b: Expr) -> Expr {
    let half = VALUE_BOUND / 2.0;
    Expr::Add(boxed(tame(a, half)), boxed(tame(b, half)))
}

fn sub(a: Expr, b: Expr) -> Expr {
    let half = VALUE_BOUND / 2.0;
    Expr::Sub(boxed(tame(a, half)), boxed(tame(b, half)))
}

fn mul(a: Expr, b: Expr) -> Expr {
    let root = VALUE_BOUND.sqrt();
    Expr::Mul(boxed(tame(a, root)), boxed(tame(b, root)))
}

/// `a / (square(b) + 1)`: never a division by anything smaller than 1.
fn div(a: Expr, b: Expr) -> Expr {
    Expr::Div(boxed(tame(a, VALUE_BOUND)), boxed(positive(b, VALUE_BOUND)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::broadcast_shapes as broadcast;
    use proptest::test_runner::TestRunner;

    #[test]
    fn generated_graphs_stay_within_the_value_bound() {
        let mut runner = TestRunner::deterministic();
        let result = runner.run(&expr(3, 8), |e| {
            // The slack absorbs the rounding of the bound itself: √10 · √10 = 10.000000000000002.
            prop_assert!(e.bound(INPUT_BOUND) <= VALUE_BOUND * (1.0 + 1e-12), "{e}");
            Ok(())
        });
        result.unwrap();
    }

    #[test]
    fn broadcast_shapes_broadcast() {
        let mut runner = TestRunner::deterministic();
        let result = runner.run(&broadcast_shapes(3, 4, 3), |shapes| {
            let all = shapes.iter().try_fold(Vec::new(), |acc, s| {
                broadcast(&acc, s).map(|shape| shape.to_vec())
            });
            prop_assert!(all.is_some(), "{shapes:?}");
            Ok(())
        });
        result.unwrap();
    }
}
