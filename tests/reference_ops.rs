//! Issue 14's ops against an independent engine: JAX 0.10.2, float64, on CPU.
//! `tests/reference_ops/gen.py` computes each case's value and vector-Jacobian product with a
//! fixed cotangent and writes them, one case a line, to `values.rs`; this runner records the
//! same expression (the `match` below, beside JAX's in the script) and compares both to 1e-12
//! relative (`epsilon = 1e-300`, so only exact zeros may match zeros).

use tapegrad::{Tape, Tensor, Var, loss};

const MAX_RELATIVE: f64 = 1e-12;

type Data = (&'static [usize], &'static [f64]);

/// One generated case (see `values.rs`).
pub struct Case {
    name: &'static str,
    inputs: &'static [Data],
    value: Data,
    cotangent: Data,
    grads: &'static [Data],
}

#[allow(clippy::approx_constant)] // JAX's digits, some of which are near std's constants
mod values {
    use super::Case;
    include!("reference_ops/values.rs");
}

/// The case's expression in tapegrad, as gen.py writes it in JAX.
fn expression<'t>(name: &str, v: &[Var<'t>]) -> Var<'t> {
    let tape = v[0].tape();
    let x = v[0];
    match name {
        "log1p" => x.log1p(),
        "expm1" => x.expm1(),
        "maximum" => x.maximum(v[1]),
        "minimum" => x.minimum(v[1]),
        "clamp" => x.clamp(-0.5, 0.7),
        "where_causal_softmax" => {
            let mask = Tensor::from_fn(&[3, 3], |i| f64::from(i % 3 <= i / 3));
            let masked = tape
                .constant(mask)
                .where_(x, tape.constant(f64::NEG_INFINITY));
            masked.softmax(-1)
        }
        "sum_keepdim_neg" => x / x.sum_axis_keepdim(-1),
        "mean_keepdim" => x - x.mean_axis_keepdim(1),
        "max_keepdim" => (x - x.max_axis_keepdim(-1)).exp(),
        "min_axis" => x.min_axis(0),
        "logsumexp_keepdim" => x - x.logsumexp_keepdim(-1),
        "var_unbiased" => x.var(-1, 1.0),
        "std_biased" => x.std(0, 0.0),
        "layer_norm" => {
            (x - x.mean_axis_keepdim(-1)) / (x.var(-1, 0.0).unsqueeze(-1) + 1e-5).sqrt()
        }
        "permute" => x.permute(&[2, 0, 1]).square(),
        "swap_axes" => x.swap_axes(-1, 0).sin(),
        "unsqueeze_squeeze" => (x.unsqueeze(-1) * 2.0).squeeze(2),
        "narrow" => x.narrow(1, 1, 3).exp(),
        "slice_step" => x.slice(1, 1, 7, 3).powf(3.0),
        "index_select_repeats" => x.index_select(0, &[3, 0, 3, 1]).tanh(),
        "gather" => {
            let index = Tensor::from([[2.0, 0.0], [1.0, 1.0], [0.0, 2.0]]);
            x.gather(1, &index).square()
        }
        "concat" => Var::concat(&[x, v[1], x], 1).sin(),
        "stack" => Var::stack(&[x, v[1] * v[1]], 1),
        "split" => {
            let parts = x.split(1, &[2, 3]);
            let column = |i| parts[1].narrow(1, i, 1).squeeze(1);
            parts[0].sum_axis(1) * (column(0) * column(1) * column(2))
        }
        "tril" => x.tril(-1).exp(),
        "triu" => x.triu(1).square(),
        "tril_from_vec" => {
            let l = x.tril_from_vec(3, 0);
            l.matmul(l.swap_axes(-1, -2))
        }
        "diag_embed_diagonal" => x.diag_embed().exp().diagonal(),
        "batched_matmul" | "batched_matmul_broadcast" | "batched_matmul_vector" => x.matmul(v[1]),
        "cross_entropy_masked" => {
            let allowed = Tensor::from([1.0, 1.0, 1.0, 0.0]);
            let masked = tape
                .constant(allowed)
                .where_(x, tape.constant(f64::NEG_INFINITY));
            loss::cross_entropy(masked, &[0, 2, 1])
        }
        "prod_axis" | "prod_zeros" => x.prod_axis(-1),
        "prod_axis_keepdim" => x * x.prod_axis_keepdim(1),
        "prod" => x.prod().sin(),
        "prod_zeros_axis0" => x.prod_axis(0).sin(),
        "prod_infinite" => x.prod_axis(1),
        other => panic!("values.rs has a case this runner does not know: {other}"),
    }
}

fn tensor((shape, data): Data) -> Tensor {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

#[track_caller]
fn check(case: &str, what: &str, got: &Tensor, want: Data) {
    assert_eq!(got.shape(), want.0, "{case}: {what}: shape");
    for (i, (&g, &w)) in got.data().iter().zip(want.1).enumerate() {
        assert!(
            approx::relative_eq!(g, w, max_relative = MAX_RELATIVE, epsilon = 1e-300),
            "{case}: {what}[{i}]: tapegrad {g:?}, JAX {w:?}"
        );
    }
}

#[test]
fn every_case_agrees_with_jax() {
    assert!(values::CASES.len() >= 30, "{} cases", values::CASES.len());
    for case in values::CASES {
        let tape = Tape::new();
        let inputs: Vec<Var<'_>> = case.inputs.iter().map(|&x| tape.param(tensor(x))).collect();
        let out = expression(case.name, &inputs);
        check(case.name, "value", &out.value(), case.value);
        let grads = out.backward_with(tensor(case.cotangent));
        for (i, (&x, &want)) in inputs.iter().zip(case.grads).enumerate() {
            check(case.name, &format!("gradient {i}"), &grads[x], want);
        }
        // The recorded gradient (Var::grad) agrees with backward's as closely.
        let seed = tape.constant(tensor(case.cotangent));
        let recorded = out.grad_with(seed, &inputs);
        for (i, (g, &want)) in recorded.iter().zip(case.grads).enumerate() {
            check(
                case.name,
                &format!("recorded gradient {i}"),
                &g.value(),
                want,
            );
        }
    }
}
