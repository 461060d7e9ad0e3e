//! Reference values from an independent autodiff engine: JAX 0.10.2 (jaxlib 0.10.2), float64
//! (`jax_enable_x64`), on CPU.
//!
//! `tests/reference/gen.py` evaluates 128 expressions with JAX and writes them, one case a line,
//! to `tests/reference/values.rs`: the tapegrad expression (as a function of its inputs), the
//! inputs, JAX's value, the cotangent and the gradient of every param. This runner records each
//! expression on a tape and checks its value and gradients against JAX's to a relative error of
//! 1e-12 (`epsilon = 1e-300`, so only exact zeros may match zeros). An output with more than one
//! element is seeded with a fixed cotangent `C` (`backward_with(C)`, JAX's `vjp`), so the
//! gradients are those of `sum(out * C)`; a one-element output runs `backward()`.
//!
//! To regenerate: `python3 tests/reference/gen.py > tests/reference/values.rs`.

use tapegrad::{Tape, Tensor, Var};

const MAX_RELATIVE: f64 = 1e-12;
const EPSILON: f64 = 1e-300;

type Data = (&'static [usize], &'static [f64]);

/// One generated case (see `values.rs`).
pub struct Case {
    name: &'static str,
    /// The tapegrad expression `f` computes, and JAX's, for messages.
    rust: &'static str,
    jax: &'static str,
    /// What the case pins, if it pins a convention.
    note: &'static str,
    f: for<'t> fn(&[Var<'t>]) -> Var<'t>,
    /// Each input: whether it is a param (which gets a gradient) or a constant, and its value.
    inputs: &'static [(bool, Data)],
    value: Data,
    cotangent: Data,
    /// The gradient of each param, in order.
    grads: &'static [Data],
}

// JAX's results printed with Python's repr (shortest round-trip), some of which happen to be
// close to std's constants.
#[allow(clippy::approx_constant)]
mod values {
    use super::Case;
    include!("reference/values.rs");
}

fn tensor((shape, data): Data) -> Tensor {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

/// Every element of `got` that differs from JAX's `want` by more than the tolerance, as lines
/// naming the case, what is compared, the index, got and want.
fn mismatches(case: &Case, what: &str, got: &Tensor, want: Data) -> Vec<String> {
    if got.shape() != want.0 {
        return vec![format!(
            "{}: {what}: shape {:?}, JAX {:?}",
            case.name,
            got.shape(),
            want.0
        )];
    }
    got.data()
        .iter()
        .zip(want.1)
        .enumerate()
        .filter(|&(_, (&g, &w))| {
            !approx::relative_eq!(g, w, max_relative = MAX_RELATIVE, epsilon = EPSILON)
        })
        .map(|(i, (&g, &w))| {
            let rel = (g - w).abs() / g.abs().max(w.abs());
            let pins = if case.note.is_empty() {
                String::new()
            } else {
                format!(" (it pins: {})", case.note)
            };
            format!(
                "{} (`{}`; JAX `{}`){pins}: {what}[{i}]: got {g:?}, want {w:?}, relative error \
                 {rel:e}",
                case.name, case.rust, case.jax
            )
        })
        .collect()
}

#[test]
fn every_expression_agrees_with_jax() {
    let mut failures = Vec::new();
    for case in values::CASES {
        let tape = Tape::new();
        let inputs: Vec<Var<'_>> = case
            .inputs
            .iter()
            .map(|&(param, value)| {
                if param {
                    tape.param(tensor(value))
                } else {
                    tape.constant(tensor(value))
                }
            })
            .collect();
        let out = (case.f)(&inputs);
        failures.extend(mismatches(case, "value", &out.value(), case.value));
        let grads = if out.value().len() == 1 {
            out.backward()
        } else {
            out.backward_with(tensor(case.cotangent))
        };
        let params = inputs
            .iter()
            .zip(case.inputs)
            .filter(|(_, (param, _))| *param);
        for (i, ((&x, _), &want)) in params.zip(case.grads).enumerate() {
            failures.extend(mismatches(case, &format!("d/dparam{i}"), &grads[x], want));
        }
    }
    assert_eq!(values::CASES.len(), 128, "the generator's case count");
    assert!(
        failures.is_empty(),
        "{} elements disagree with JAX beyond a relative {MAX_RELATIVE:e}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
