//! Every primitive op: its value and gradient against closed forms, and its gradient
//! against central finite differences at several shapes, broadcasting pairs included.

mod common;

use approx::assert_relative_eq;
use common::{Rng, check_gradients};
use tapegrad::{Tape, Tensor, Var};

/// Shapes each elementwise op is checked at: scalar, vector, matrix, 3-D.
const SHAPES: [&[usize]; 4] = [&[], &[5], &[2, 3], &[2, 3, 2]];

/// Pairs of shapes that broadcast together (numpy's rules), in both orders below.
const BROADCAST_PAIRS: [(&[usize], &[usize]); 6] = [
    (&[2, 3], &[2, 3]),
    (&[2, 3], &[3]),
    (&[2, 3], &[]),
    (&[2, 1], &[1, 3]),
    (&[4, 1, 3], &[2, 1]),
    (&[1], &[3]),
];

#[test]
fn binary_ops_match_finite_differences_under_broadcasting() {
    let mut rng = Rng::new(1);
    for (a, b) in BROADCAST_PAIRS
        .into_iter()
        .flat_map(|(a, b)| [(a, b), (b, a)])
    {
        let x = rng.tensor(a, -2.0, 2.0);
        let y = rng.away_from_zero(b, 0.5, 2.0);
        let inputs = [x, y];
        check_gradients(&format!("add {a:?} {b:?}"), &inputs, |v| v[0] + v[1]);
        check_gradients(&format!("sub {a:?} {b:?}"), &inputs, |v| v[0] - v[1]);
        check_gradients(&format!("mul {a:?} {b:?}"), &inputs, |v| v[0] * v[1]);
        check_gradients(&format!("div {a:?} {b:?}"), &inputs, |v| v[0] / v[1]);
        // Random values never tie, where maximum and minimum are differentiable.
        check_gradients(&format!("maximum {a:?} {b:?}"), &inputs, |v| {
            v[0].maximum(v[1])
        });
        check_gradients(&format!("minimum {a:?} {b:?}"), &inputs, |v| {
            v[0].minimum(v[1])
        });
        check_gradients(&format!("where {a:?} {b:?}"), &inputs, |v| {
            let mask = v[0].tape().constant(Tensor::from([1.0, 0.0, 1.0]));
            Var::where_(mask, v[0] * 2.0, v[1].exp())
        });
    }
}

#[test]
fn scalar_operand_ops_match_finite_differences() {
    let mut rng = Rng::new(2);
    for shape in SHAPES {
        let x = [rng.away_from_zero(shape, 0.5, 2.0)];
        check_gradients("x + c", &x, |v| v[0] + 1.5);
        check_gradients("c + x", &x, |v| 1.5 + v[0]);
        check_gradients("x - c", &x, |v| v[0] - 1.5);
        check_gradients("c - x", &x, |v| 1.5 - v[0]);
        check_gradients("x * c", &x, |v| v[0] * -2.5);
        check_gradients("c * x", &x, |v| -2.5 * v[0]);
        check_gradients("x / c", &x, |v| v[0] / 3.0);
        check_gradients("c / x", &x, |v| 3.0 / v[0]);
        check_gradients("-x", &x, |v| -v[0]);
    }
}

#[test]
fn unary_ops_match_finite_differences() {
    let mut rng = Rng::new(3);
    for shape in SHAPES {
        let any = [rng.tensor(shape, -3.0, 3.0)];
        let positive = [rng.tensor(shape, 0.2, 3.0)];
        let off_kink = [rng.away_from_zero(shape, 0.1, 3.0)];
        check_gradients("sigmoid", &any, |v| v[0].sigmoid());
        check_gradients("softplus", &any, |v| v[0].softplus());
        check_gradients("tanh", &any, |v| v[0].tanh());
        check_gradients("sin", &any, |v| v[0].sin());
        check_gradients("cos", &any, |v| v[0].cos());
        check_gradients("exp", &any, |v| v[0].exp());
        check_gradients("ln", &positive, |v| v[0].ln());
        check_gradients("sqrt", &positive, |v| v[0].sqrt());
        check_gradients("log1p", &positive, |v| (v[0] - 0.9).log1p());
        check_gradients("expm1", &any, |v| v[0].expm1());
        check_gradients("square", &any, |v| v[0].square());
        check_gradients("clamp", &off_kink, |v| v[0].clamp(-1.0, 1.0));
        check_gradients("clamp below", &off_kink, |v| v[0].clamp(0.0, f64::INFINITY));
        for p in [2.0, 3.0, 0.5, -1.5] {
            check_gradients(&format!("powf {p}"), &positive, |v| v[0].powf(p));
        }
        check_gradients("relu", &off_kink, |v| v[0].relu());
        check_gradients("abs", &off_kink, |v| v[0].abs());
        check_gradients("step", &off_kink, |v| v[0].step());
    }
}

#[test]
fn reductions_match_finite_differences() {
    let mut rng = Rng::new(4);
    for shape in SHAPES {
        let x = [rng.tensor(shape, -2.0, 2.0)];
        check_gradients("sum", &x, |v| v[0].sum());
        check_gradients("mean", &x, |v| v[0].mean());
        check_gradients("prod", &x, |v| v[0].prod());
        for axis in 0..shape.len() {
            check_gradients("prod_axis", &x, |v| v[0].prod_axis(axis));
            check_gradients("sum_axis", &x, |v| v[0].sum_axis(axis));
            check_gradients("mean_axis", &x, |v| v[0].mean_axis(axis));
            // Random values have no ties, so max is differentiable there.
            check_gradients("max_axis", &x, |v| v[0].max_axis(axis));
            check_gradients("softmax", &x, |v| v[0].softmax(axis));
            check_gradients("log_softmax", &x, |v| v[0].log_softmax(axis));
            check_gradients("logsumexp", &x, |v| v[0].logsumexp(axis));
        }
    }
}

#[test]
fn prod_matches_finite_differences_at_zeros() {
    // A product is linear in each element, so central differences are exact there even at a
    // zero: rows with no zero, one zero and two, and a column of zeros.
    let x = [Tensor::from([
        [0.5, -1.5, 2.0],
        [0.0, 1.25, -0.75],
        [0.0, 3.0, 0.0],
        [0.0, 0.0, 0.0],
    ])];
    check_gradients("prod_axis -1 at zeros", &x, |v| v[0].prod_axis(-1));
    check_gradients("prod_axis 0 at zeros", &x, |v| v[0].prod_axis(0));
    check_gradients("prod at zeros", &x, |v| v[0].prod());
    check_gradients("prod_axis_keepdim at zeros", &x, |v| {
        v[0].prod_axis_keepdim(1).exp() * v[0]
    });
}

#[test]
fn axis_ops_match_finite_differences_with_axes_from_either_end() {
    let mut rng = Rng::new(9);
    for shape in &SHAPES[1..] {
        let x = [rng.tensor(shape, -2.0, 2.0)];
        let n = shape.len() as i32;
        for axis in -n..n {
            let name = |op: &str| format!("{op} {shape:?} axis {axis}");
            check_gradients(&name("sum_axis"), &x, |v| v[0].sum_axis(axis));
            check_gradients(&name("max_axis"), &x, |v| v[0].max_axis(axis));
            check_gradients(&name("min_axis"), &x, |v| v[0].min_axis(axis));
            check_gradients(&name("softmax"), &x, |v| v[0].softmax(axis));
            check_gradients(&name("sum_axis_keepdim"), &x, |v| {
                v[0].sum_axis_keepdim(axis)
            });
            check_gradients(&name("mean_axis_keepdim"), &x, |v| {
                v[0] - v[0].mean_axis_keepdim(axis)
            });
            check_gradients(&name("max_axis_keepdim"), &x, |v| {
                v[0].max_axis_keepdim(axis)
            });
            check_gradients(&name("min_axis_keepdim"), &x, |v| {
                v[0].min_axis_keepdim(axis)
            });
            check_gradients(&name("logsumexp_keepdim"), &x, |v| {
                v[0] - v[0].logsumexp_keepdim(axis)
            });
            check_gradients(&name("prod_axis"), &x, |v| v[0].prod_axis(axis));
            check_gradients(&name("prod_axis_keepdim"), &x, |v| {
                v[0] * v[0].prod_axis_keepdim(axis)
            });
            check_gradients(&name("unsqueeze"), &x, |v| v[0].unsqueeze(axis) * 2.0);
            check_gradients(&name("swap_axes"), &x, |v| v[0].swap_axes(axis, 0));
        }
    }
}

#[test]
fn permutations_and_unit_axes_match_finite_differences() {
    let mut rng = Rng::new(10);
    let x = [rng.tensor(&[2, 3, 4], -2.0, 2.0)];
    for perm in [[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0], [0, 2, 1]] {
        check_gradients(&format!("permute {perm:?}"), &x, |v| v[0].permute(&perm));
    }
    check_gradients("permute negative", &x, |v| v[0].permute(&[-1, -3, -2]));
    let y = [rng.tensor(&[2, 1, 3], -2.0, 2.0)];
    check_gradients("squeeze", &y, |v| v[0].squeeze(1));
    check_gradients("squeeze -2", &y, |v| v[0].squeeze(-2));
    check_gradients("unsqueeze -1", &y, |v| v[0].unsqueeze(-1));
}

#[test]
fn selecting_and_joining_match_finite_differences() {
    let mut rng = Rng::new(11);
    let x = [rng.tensor(&[3, 4, 2], -2.0, 2.0)];
    check_gradients("narrow", &x, |v| v[0].narrow(1, 1, 2));
    check_gradients("narrow -1", &x, |v| v[0].narrow(-1, 1, 1));
    check_gradients("slice with a step", &x, |v| v[0].slice(1, 0, 4, 2));
    check_gradients("slice past the end", &x, |v| v[0].slice(0, 1, 9, 1));
    check_gradients("index_select with repeats", &x, |v| {
        v[0].index_select(0, &[2, 0, 2, 2])
    });
    check_gradients("index_select empty", &x, |v| v[0].index_select(1, &[]));
    let index = Tensor::from_vec(vec![1.0, 0.0, 3.0, 3.0, 0.0, 2.0], &[3, 1, 2]).unwrap();
    check_gradients("gather", &x, |v| v[0].gather(1, &index));
    let index = Tensor::from_fn(&[2, 4, 1], |i| (i % 3 % 2) as f64);
    check_gradients("gather -1", &x, |v| v[0].gather(-1, &index));
    check_gradients("split", &x, |v| {
        let parts = v[0].split(1, &[1, 3]);
        parts[0] * parts[1].sum_axis_keepdim(1)
    });
    check_gradients("chunk", &x, |v| {
        let parts = v[0].chunk(2, 0);
        parts[0].sum() * parts[1].sum()
    });
    let parts = [
        rng.tensor(&[2, 3], -2.0, 2.0),
        rng.tensor(&[2, 1], -2.0, 2.0),
        rng.tensor(&[2, 2], -2.0, 2.0),
    ];
    check_gradients("concat", &parts, |v| Var::concat(v, -1));
    check_gradients("concat twice", &parts, |v| {
        Var::concat(&[v[0], v[1], v[0]], 1).exp()
    });
    let rows = [rng.tensor(&[3], -2.0, 2.0), rng.tensor(&[3], -2.0, 2.0)];
    for axis in [0, 1, -1] {
        check_gradients(&format!("stack {axis}"), &rows, |v| Var::stack(v, axis));
    }
}

#[test]
fn triangles_and_diagonals_match_finite_differences() {
    let mut rng = Rng::new(12);
    let m = [rng.tensor(&[2, 3, 3], -2.0, 2.0)];
    for k in [-1, 0, 1] {
        check_gradients(&format!("tril {k}"), &m, |v| v[0].tril(k));
        check_gradients(&format!("triu {k}"), &m, |v| v[0].triu(k));
    }
    check_gradients("diagonal", &m, |v| v[0].diagonal());
    let d = [rng.tensor(&[2, 3], -2.0, 2.0)];
    check_gradients("diag_embed", &d, |v| v[0].diag_embed());
    check_gradients("tril_from_vec", &[rng.tensor(&[2, 6], -2.0, 2.0)], |v| {
        v[0].tril_from_vec(3, 0)
    });
    check_gradients("tril_from_vec -1", &[rng.tensor(&[3], -2.0, 2.0)], |v| {
        v[0].tril_from_vec(3, -1)
    });
}

#[test]
fn shape_ops_match_finite_differences() {
    let mut rng = Rng::new(5);
    let m = [rng.tensor(&[2, 3], -2.0, 2.0)];
    check_gradients("transpose", &m, |v| v[0].transpose());
    check_gradients("reshape", &m, |v| v[0].reshape(&[3, 2]));
    check_gradients("reshape to 1-D", &m, |v| v[0].reshape(&[6]));
    for (from, to) in [
        (&[3][..], &[2, 3][..]),
        (&[2, 1], &[2, 4]),
        (&[], &[3]),
        (&[1, 3], &[2, 2, 3]),
    ] {
        let x = [rng.tensor(from, -2.0, 2.0)];
        check_gradients(&format!("broadcast_to {from:?} → {to:?}"), &x, |v| {
            v[0].broadcast_to(to)
        });
    }
}

#[test]
fn matmul_matches_finite_differences_for_every_rank_pair() {
    let mut rng = Rng::new(6);
    for (a, b) in [
        (&[3, 4][..], &[4, 2][..]),
        (&[3, 4], &[4]),
        (&[4], &[4, 2]),
        (&[4], &[4]),
        (&[1, 1], &[1, 1]),
        (&[5, 7], &[7, 6]),
    ] {
        let inputs = [rng.tensor(a, -2.0, 2.0), rng.tensor(b, -2.0, 2.0)];
        check_gradients(&format!("matmul {a:?} · {b:?}"), &inputs, |v| {
            v[0].matmul(v[1])
        });
    }
}

#[test]
fn batched_matmul_matches_finite_differences_with_broadcast_batches() {
    let mut rng = Rng::new(13);
    for (a, b) in [
        (&[2, 3, 4][..], &[2, 4, 5][..]),
        (&[2, 3, 4], &[4, 5]),
        (&[3, 4], &[2, 4, 5]),
        (&[2, 1, 3, 4], &[3, 4, 2]),
        (&[1, 3, 4], &[2, 4, 2]),
        (&[2, 3, 4], &[4]),
        (&[4], &[2, 4, 3]),
        (&[2, 2, 12, 12], &[2, 2, 12, 12]), // through the GEMM crate
    ] {
        let inputs = [rng.tensor(a, -2.0, 2.0), rng.tensor(b, -2.0, 2.0)];
        check_gradients(&format!("matmul {a:?} · {b:?}"), &inputs, |v| {
            v[0].matmul(v[1])
        });
    }
}

#[test]
fn variance_and_standard_deviation_match_finite_differences() {
    let mut rng = Rng::new(14);
    let x = [rng.tensor(&[3, 4], -2.0, 2.0)];
    for axis in [0, 1, -1] {
        for correction in [0.0, 1.0] {
            let name = format!("var {axis} {correction}");
            check_gradients(&name, &x, |v| v[0].var(axis, correction));
            let name = format!("std {axis} {correction}");
            check_gradients(&name, &x, |v| v[0].std(axis, correction));
            let name = format!("standardised {axis} {correction}");
            check_gradients(&name, &x, |v| {
                (v[0] - v[0].mean_axis_keepdim(axis)) / v[0].std_keepdim(axis, correction)
                    + v[0].var_keepdim(axis, correction)
            });
        }
    }
}

#[test]
fn matmul_t_matches_finite_differences_and_the_product_with_the_transpose() {
    let mut rng = Rng::new(7);
    for (a, b) in [
        (&[3, 4][..], &[2, 4][..]),
        (&[4], &[2, 4]),
        (&[1, 1], &[1, 1]),
        (&[5, 7], &[6, 7]),
        (&[12, 11], &[13, 11]), // large enough for the GEMM path
    ] {
        let inputs = [rng.tensor(a, -2.0, 2.0), rng.tensor(b, -2.0, 2.0)];
        check_gradients(&format!("matmul_t {a:?} · {b:?}ᵀ"), &inputs, |v| {
            v[0].matmul_t(v[1])
        });
        // Small products sum in order, so the view gives the bits of the copied transpose
        // (a GEMM backend may block the two layouts differently).
        if a.iter().chain(b).product::<usize>() / a[a.len() - 1] >= 1000 {
            continue;
        }
        let tape = Tape::new();
        let (x, w) = (tape.param(inputs[0].clone()), tape.param(inputs[1].clone()));
        let (viewed, copied) = (x.matmul_t(w), x.matmul(w.transpose()));
        assert_eq!(viewed.value(), copied.value());
        let (g1, g2) = (
            (viewed * viewed).sum().backward(),
            (copied * copied).sum().backward(),
        );
        assert_eq!(
            (&g1[x], &g1[w]),
            (&g2[x], &g2[w]),
            "matmul_t {a:?} · {b:?}ᵀ"
        );
    }
}

#[test]
#[should_panic(expected = "matmul_t: the last dimensions differ: [3, 4] · [4, 3]ᵀ")]
fn matmul_t_names_both_shapes() {
    let tape = Tape::new();
    let x = tape.param(Tensor::zeros(&[3, 4]));
    let _ = x.matmul_t(tape.param(Tensor::zeros(&[4, 3])));
}

#[test]
fn a_composite_model_matches_finite_differences() {
    let mut rng = Rng::new(8);
    let inputs = [
        rng.tensor(&[4, 3], -1.0, 1.0),
        rng.tensor(&[3, 5], -1.0, 1.0),
        rng.tensor(&[5], -1.0, 1.0),
        rng.tensor(&[5, 2], -1.0, 1.0),
    ];
    check_gradients("two-layer tanh net with log-softmax", &inputs, |v| {
        let hidden = (v[0].matmul(v[1]) + v[2]).tanh();
        let logits = hidden.matmul(v[3]);
        -logits.log_softmax(1).mean() + (v[1] * v[1]).sum() * 0.01
    });
}

// Closed forms: values and gradients a reader can check by hand.

#[test]
fn elementwise_closed_forms() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([0.0, 1.0, -2.0, 4.0]));
    let s = x.sigmoid().sum().backward();
    // σ(0) = 1/2, σ′(0) = σ(0)(1 − σ(0)) = 1/4; σ′(−x) = σ′(x).
    assert_eq!(x.sigmoid().value().data()[0], 0.5);
    assert_eq!(s[x].data()[0], 0.25);
    assert_relative_eq!(
        s[x].data()[1],
        (-1f64).exp() / (1.0 + (-1f64).exp()).powi(2),
        max_relative = 1e-15
    );

    // tanh′ = 1 − tanh²; exp′ = exp.
    let t = x.tanh().sum().backward();
    assert_relative_eq!(
        t[x].data()[3],
        1.0 - 4f64.tanh().powi(2),
        max_relative = 1e-12
    );
    let e = x.exp().sum().backward();
    assert_eq!(
        e[x],
        Tensor::from([1.0, 1f64.exp(), (-2f64).exp(), 4f64.exp()])
    );

    // d/dx (x³) = 3x²; d/dx ln x = 1/x; d/dx √x = 1/(2√x).
    let p = tape.param(Tensor::from([1.0, 2.0, 4.0]));
    assert_eq!(
        p.powf(3.0).sum().backward()[p],
        Tensor::from([3.0, 12.0, 48.0])
    );
    assert_eq!(p.ln().sum().backward()[p], Tensor::from([1.0, 0.5, 0.25]));
    assert_eq!(
        p.sqrt().sum().backward()[p],
        Tensor::from([0.5, 1.0 / (2.0 * 2f64.sqrt()), 0.25])
    );
    assert_eq!(p.sqrt().value(), Tensor::from([1.0, 2f64.sqrt(), 2.0]));

    // Division: d(a/b)/da = 1/b, d(a/b)/db = −a/b².
    let a = tape.param(Tensor::from([3.0]));
    let b = tape.param(Tensor::from([2.0]));
    let q = (a / b).sum().backward();
    assert_eq!((q[a].item(), q[b].item()), (0.5, -0.75));
    let r = (6.0 / b).sum().backward();
    assert_eq!(r[b].item(), -1.5); // −6/b²
}

#[test]
fn conventions_at_kinks() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([-1.0, 0.0, 2.0]));
    // relu′(0) = 0, abs′(0) = 0 (sign convention), step′ = 0 everywhere.
    assert_eq!(x.relu().sum().backward()[x], Tensor::from([0.0, 0.0, 1.0]));
    assert_eq!(x.abs().sum().backward()[x], Tensor::from([-1.0, 0.0, 1.0]));
    assert_eq!(x.step().value(), Tensor::from([0.0, 0.0, 1.0]));
    let through_step = (x.step() * 3.0).sum().backward();
    assert_eq!(through_step[x], Tensor::zeros(&[3]));
    assert!(
        through_step.get(x).is_none(),
        "step passes no gradient at all"
    );
}

#[test]
fn max_axis_splits_the_gradient_among_ties() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([
        [2.0, 5.0, 5.0],
        [7.0, 1.0, 0.0],
        [3.0, 3.0, 3.0],
    ]));
    let m = x.max_axis(1);
    assert_eq!(m.value(), Tensor::from([5.0, 7.0, 3.0]));
    let grads = m.backward_with(Tensor::from([1.0, 10.0, 6.0]));
    assert_eq!(
        grads[x],
        Tensor::from([[0.0, 0.5, 0.5], [10.0, 0.0, 0.0], [2.0, 2.0, 2.0]])
    );
}

#[test]
fn reductions_closed_forms() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    assert_eq!(x.sum().value().item(), 21.0);
    assert_eq!(x.mean().value().item(), 3.5);
    assert_eq!(x.sum_axis(0).value(), Tensor::from([5.0, 7.0, 9.0]));
    assert_eq!(x.mean_axis(1).value(), Tensor::from([2.0, 5.0]));
    assert_eq!(x.max_axis(0).value(), Tensor::from([4.0, 5.0, 6.0]));
    assert_eq!(x.mean().backward()[x], Tensor::full(&[2, 3], 1.0 / 6.0));
    let g = x.sum_axis(1).backward_with(Tensor::from([1.0, -1.0]));
    assert_eq!(g[x], Tensor::from([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]));
    let g = x.mean_axis(0).backward_with(Tensor::from([2.0, 4.0, 6.0]));
    assert_eq!(g[x], Tensor::from([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]));
}

#[test]
fn matmul_closed_form_gradients() {
    let tape = Tape::new();
    let a = tape.param(Tensor::from([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]));
    let b = tape.param(Tensor::from([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]]));
    let c = a.matmul(b);
    assert_eq!(
        c.value(),
        Tensor::from([[5.0, 2.0, -1.0], [11.0, 4.0, -3.0], [17.0, 6.0, -5.0]])
    );
    // With G = ones: dA = G·Bᵀ (row sums of B), dB = Aᵀ·G (column sums of A).
    let grads = c.sum().backward();
    assert_eq!(grads[a], Tensor::from([[0.0, 3.0], [0.0, 3.0], [0.0, 3.0]]));
    assert_eq!(
        grads[b],
        Tensor::from([[9.0, 9.0, 9.0], [12.0, 12.0, 12.0]])
    );
    // Vector · vector is the dot product; its gradients are the other vector.
    let u = tape.param(Tensor::from([1.0, 2.0, 3.0]));
    let v = tape.param(Tensor::from([4.0, 5.0, 6.0]));
    let dot = u.matmul(v);
    assert_eq!(dot.shape(), []);
    let grads = dot.backward();
    assert_eq!((grads[u].clone(), grads[v].clone()), (v.value(), u.value()));
}

#[test]
fn shape_ops_closed_forms() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    assert_eq!(
        x.transpose().value(),
        Tensor::from([[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]])
    );
    assert_eq!(
        x.reshape(&[3, 2]).value(),
        Tensor::from([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    );
    let row = tape.param(Tensor::from([1.0, 2.0]));
    let wide = row.broadcast_to(&[3, 2]);
    assert_eq!(
        wide.value(),
        Tensor::from([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
    );
    // Each element of `row` was used three times.
    assert_eq!(wide.sum().backward()[row], Tensor::from([3.0, 3.0]));
    let g = x
        .transpose()
        .backward_with(Tensor::from([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]));
    assert_eq!(g[x], Tensor::from([[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]));
}

#[test]
fn softmax_family_is_stable_and_consistent() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([[1000.0, 1001.0, 999.0], [-3.0, 0.0, 2.0]]));
    let lse = x.logsumexp(1);
    let expected_0 = 1001.0 + ((-1f64).exp() + 1.0 + (-2f64).exp()).ln();
    assert_relative_eq!(lse.value().data()[0], expected_0, max_relative = 1e-15);
    assert!(lse.value().is_finite(), "a row near 1000 must not overflow");
    let softmax = x.softmax(1).value();
    assert!(softmax.is_finite());
    for row in softmax.data().chunks(3) {
        assert_relative_eq!(row.iter().sum::<f64>(), 1.0, max_relative = 1e-15);
    }
    // log_softmax = x − logsumexp(x); its rows exponentiate to probabilities.
    let log_softmax = x.log_softmax(1).value();
    assert_relative_eq!(log_softmax.map(f64::exp), softmax, max_relative = 1e-15);
    // d logsumexp / dx = softmax, computed as exp(x − logsumexp(x)): the rounding of the
    // output near 1000 (ulp 1.1e-13) bounds its accuracy.
    assert_relative_eq!(lse.sum().backward()[x], softmax, max_relative = 1e-12);
    // With a cotangent of ones, dx = 1 − n·softmax, whose rows sum to 1·n − n·1 = 0.
    let g = x.log_softmax(1).sum().backward();
    for row in g[x].data().chunks(3) {
        assert_relative_eq!(row.iter().sum::<f64>(), 0.0, epsilon = 1e-12);
    }
    let all_neg_inf = tape.constant(Tensor::from([f64::NEG_INFINITY, f64::NEG_INFINITY]));
    assert_eq!(all_neg_inf.logsumexp(0).value().item(), f64::NEG_INFINITY);
}
