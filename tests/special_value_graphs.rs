//! Property test (`cargo test --features proptest`): random graphs of the ops with kinks,
//! maxima and reductions (relu, abs, max_axis, sum_axis, mean_axis, logsumexp, prod_axis,
//! softmax, log_softmax) and of the smooth ones, fed NaN, ±∞ or ±0, never panic through `backward`,
//! `Var::grad` and a second `grad`; and a NaN input makes every output element NaN, as in
//! PyTorch, where every op propagates NaN (relu(NaN), |NaN|, max over a NaN, a softmax row with
//! a NaN are all NaN there).
//!
//! `tapegrad::strategy::expr` leaves kinks and domain edges out on purpose (its graphs are
//! for gradcheck); these graphs are for special values, so they have them all.

#![cfg(feature = "proptest")]

use proptest::prelude::*;
use std::fmt;
use tapegrad::{Tape, Tensor, Var};

/// A graph over `x0` and `x1` (both 2 × 3). A reduction keeps its axis with length 1, so that
/// every node broadcasts against every other.
#[derive(Clone, Debug)]
enum Graph {
    Input(usize),
    Unary(&'static str, Box<Graph>),
    Reduce(&'static str, usize, Box<Graph>),
    Binary(&'static str, Box<Graph>, Box<Graph>),
}

const UNARY: [&str; 10] = [
    "relu", "abs", "neg", "exp", "tanh", "sqrt", "ln", "sigmoid", "softplus", "sin",
];
const REDUCE: [&str; 7] = [
    "sum_axis",
    "max_axis",
    "mean_axis",
    "logsumexp",
    "prod_axis",
    "softmax",
    "log_softmax",
];
const BINARY: [&str; 4] = ["add", "sub", "mul", "div"];

impl Graph {
    fn eval<'t>(&self, x: &[Var<'t>]) -> Var<'t> {
        match self {
            Graph::Input(i) => x[*i],
            Graph::Unary(op, a) => {
                let a = a.eval(x);
                match *op {
                    "relu" => a.relu(),
                    "abs" => a.abs(),
                    "neg" => -a,
                    "exp" => a.exp(),
                    "tanh" => a.tanh(),
                    "sqrt" => a.sqrt(),
                    "ln" => a.ln(),
                    "sigmoid" => a.sigmoid(),
                    "softplus" => a.softplus(),
                    _ => a.sin(),
                }
            }
            Graph::Reduce(op, axis, a) => {
                let a = a.eval(x);
                let mut kept = a.shape().to_vec();
                kept[*axis] = 1;
                match *op {
                    "sum_axis" => a.sum_axis(*axis).reshape(&kept),
                    "max_axis" => a.max_axis(*axis).reshape(&kept),
                    "mean_axis" => a.mean_axis(*axis).reshape(&kept),
                    "logsumexp" => a.logsumexp(*axis).reshape(&kept),
                    "prod_axis" => a.prod_axis(*axis).reshape(&kept),
                    "softmax" => a.softmax(*axis),
                    _ => a.log_softmax(*axis),
                }
            }
            Graph::Binary(op, a, b) => {
                let (a, b) = (a.eval(x), b.eval(x));
                match *op {
                    "add" => a + b,
                    "sub" => a - b,
                    "mul" => a * b,
                    _ => a / b,
                }
            }
        }
    }

    fn reads(&self, input: usize) -> bool {
        match self {
            Graph::Input(i) => *i == input,
            Graph::Unary(_, a) | Graph::Reduce(_, _, a) => a.reads(input),
            Graph::Binary(_, a, b) => a.reads(input) || b.reads(input),
        }
    }
}

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Graph::Input(i) => write!(f, "x{i}"),
            Graph::Unary(op, a) => write!(f, "{op}({a})"),
            Graph::Reduce(op, axis, a) => write!(f, "{op}({a}, {axis})"),
            Graph::Binary(op, a, b) => write!(f, "{op}({a}, {b})"),
        }
    }
}

fn graph() -> impl Strategy<Value = Graph> {
    (0..2usize)
        .prop_map(Graph::Input)
        .prop_recursive(5, 32, 2, |inner| {
            prop_oneof![
                (prop::sample::select(&UNARY[..]), inner.clone())
                    .prop_map(|(op, a)| Graph::Unary(op, Box::new(a))),
                (prop::sample::select(&REDUCE[..]), 0..2usize, inner.clone())
                    .prop_map(|(op, axis, a)| Graph::Reduce(op, axis, Box::new(a))),
                (prop::sample::select(&BINARY[..]), inner.clone(), inner)
                    .prop_map(|(op, a, b)| Graph::Binary(op, Box::new(a), Box::new(b))),
            ]
        })
}

proptest! {
    #[test]
    fn graphs_with_kinks_and_reductions_at_special_values_never_panic_and_carry_nan(
        graph in graph(),
        special in prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0]),
        x1 in prop::collection::vec(-2.0..2.0f64, 6),
    ) {
        let tape = Tape::new();
        let x = [
            tape.param(Tensor::from_fn(&[2, 3], |_| special)),
            tape.param(Tensor::from_vec(x1, &[2, 3]).unwrap()),
        ];
        let output = graph.eval(&x);
        let loss = output.sum();
        let first = loss.backward();
        let recorded = loss.grad(&x);
        for (&var, g) in x.iter().zip(&recorded) {
            prop_assert_eq!(first[var].shape(), &g.shape()[..]);
        }
        let _ = recorded[0].sum().grad(&x); // second order runs too
        if special.is_nan() && graph.reads(0) {
            prop_assert!(
                output.value().data().iter().all(|v| v.is_nan()),
                "{graph} at x0 = NaN: {:?}", output.value()
            );
        }
    }
}
