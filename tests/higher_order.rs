//! Gradients of gradients: `Var::grad` and `tapegrad::functional` against finite differences of
//! the first-order gradient and against closed forms, for every primitive op, at second and
//! third order.

use tapegrad::functional::{hessian, hvp, jvp};
use tapegrad::{CustomOp, Tape, Tensor, Var};

type F = for<'t> fn(&[Var<'t>]) -> Var<'t>;

/// A scalar function of each primitive, nonlinear around it so that the rule is applied with
/// an upstream gradient that depends on the inputs: `Σ c ⊙ op(x)²` and the like.
fn cases() -> Vec<(&'static str, F, Vec<Tensor>)> {
    fn sq<'t>(z: Var<'t>) -> Var<'t> {
        let c = z
            .tape()
            .constant(Tensor::from_fn(&z.shape(), |i| 0.5 + 0.25 * i as f64));
        (z * z * c).sum()
    }
    let a = Tensor::from([[0.3, -0.7, 1.1], [0.9, 0.2, -0.4]]);
    let b = Tensor::from([[0.6, 0.1, -0.8], [-0.3, 0.5, 0.7]]);
    let pos = Tensor::from([[0.3, 0.7, 1.1], [0.9, 1.6, 0.4]]);
    let m = Tensor::from([[0.5, -0.2], [0.1, 0.8], [-0.6, 0.3]]);
    let row = Tensor::from([0.4, -0.9, 0.2]);
    let targets = Tensor::from([[1.0, 0.0, 1.0], [0.0, 1.0, 0.3]]);
    vec![
        ("add", |v| sq(v[0] + v[1]), vec![a.clone(), b.clone()]),
        (
            "add broadcast",
            |v| sq(v[0] + v[1]),
            vec![a.clone(), row.clone()],
        ),
        ("sub", |v| sq(v[0] - v[1]), vec![a.clone(), b.clone()]),
        ("mul", |v| sq(v[0] * v[1]), vec![a.clone(), b.clone()]),
        (
            "mul broadcast",
            |v| sq(v[0] * v[1]),
            vec![a.clone(), row.clone()],
        ),
        ("div", |v| sq(v[0] / v[1]), vec![a.clone(), pos.clone()]),
        (
            "bce_with_logits",
            |v| tapegrad::loss::binary_cross_entropy_with_logits(v[0] * v[1], v[1]),
            vec![a.clone(), targets.clone()],
        ),
        (
            "scalar ops",
            |v| sq((2.0 - v[0]) * 3.0 / 4.0 + 1.5),
            vec![a.clone()],
        ),
        ("scalar div", |v| sq(2.0 / v[0]), vec![pos.clone()]),
        ("neg", |v| sq(-v[0]), vec![a.clone()]),
        ("step", |v| sq(v[0].step() * v[0]), vec![a.clone()]),
        ("relu", |v| sq(v[0].relu()), vec![a.clone()]),
        ("sigmoid", |v| v[0].sigmoid().sum(), vec![a.clone()]),
        ("softplus", |v| v[0].softplus().sum(), vec![a.clone()]),
        ("tanh", |v| v[0].tanh().sum(), vec![a.clone()]),
        ("sin", |v| v[0].sin().sum(), vec![a.clone()]),
        ("cos", |v| sq(v[0].cos()), vec![a.clone()]),
        ("exp", |v| sq(v[0].exp()), vec![a.clone()]),
        ("ln", |v| sq(v[0].ln()), vec![pos.clone()]),
        ("sqrt", |v| sq(v[0].sqrt()), vec![pos.clone()]),
        ("powf", |v| v[0].powf(2.5).sum(), vec![pos.clone()]),
        ("log1p", |v| sq(v[0].log1p()), vec![a.clone()]),
        ("expm1", |v| sq(v[0].expm1()), vec![a.clone()]),
        ("square", |v| sq(v[0].square()), vec![a.clone()]),
        (
            "maximum",
            |v| sq(v[0].maximum(v[1]).exp()),
            vec![a.clone(), b.clone()],
        ),
        (
            "minimum broadcast",
            |v| sq(v[0].minimum(v[1]).sin()),
            vec![a.clone(), row.clone()],
        ),
        (
            "clamp",
            |v| sq(v[0].clamp(-0.5, 0.5).exp()),
            vec![a.clone()],
        ),
        (
            "where of a comparison",
            |v| sq(Var::where_(v[0].gt(v[1]), v[0] * v[1], v[1].exp())),
            vec![a.clone(), b.clone()],
        ),
        ("powf 1", |v| sq(v[0].powf(1.0)), vec![a.clone()]),
        ("abs", |v| sq(v[0].abs()), vec![a.clone()]),
        ("sum", |v| sq(v[0].sum()), vec![a.clone()]),
        ("sum_axis", |v| sq(v[0].sum_axis(1)), vec![a.clone()]),
        ("max_axis", |v| sq(v[0].max_axis(0)), vec![a.clone()]),
        (
            "transpose",
            |v| sq(v[0].transpose() * v[0].transpose()),
            vec![a.clone()],
        ),
        (
            "reshape",
            |v| sq(v[0].reshape(&[3, 2]) * v[0].reshape(&[3, 2])),
            vec![a.clone()],
        ),
        (
            "broadcast_to",
            |v| sq(v[0].broadcast_to(&[2, 3]) * v[1]),
            vec![row.clone(), a.clone()],
        ),
        (
            "matmul",
            |v| sq(v[0].matmul(v[1])),
            vec![a.clone(), m.clone()],
        ),
        (
            "matmul 1-D",
            |v| sq(v[0].matmul(v[1])),
            vec![row.clone(), m.clone()],
        ),
        (
            "sum_axis_keepdim -1",
            |v| sq(v[0] / v[0].sum_axis_keepdim(-1)),
            vec![pos.clone()],
        ),
        (
            "mean_axis_keepdim",
            |v| sq(v[0] - v[0].mean_axis_keepdim(0)),
            vec![a.clone()],
        ),
        ("min_axis -1", |v| sq(v[0].min_axis(-1)), vec![a.clone()]),
        (
            "permute",
            |v| sq(v[0].reshape(&[1, 2, 3]).permute(&[2, 0, 1]).exp()),
            vec![a.clone()],
        ),
        (
            "swap_axes",
            |v| sq(v[0].swap_axes(-1, 0).matmul(v[0])),
            vec![a.clone()],
        ),
        (
            "squeeze unsqueeze",
            |v| sq(v[0].unsqueeze(1).sin().squeeze(-2)),
            vec![a.clone()],
        ),
        (
            "narrow",
            |v| sq(v[0].narrow(-1, 1, 2).exp()),
            vec![a.clone()],
        ),
        (
            "slice",
            |v| sq(v[0].slice(1, 0, 3, 2).sin()),
            vec![a.clone()],
        ),
        (
            "index_select",
            |v| sq(v[0].index_select(0, &[1, 1, 0]).exp()),
            vec![a.clone()],
        ),
        (
            "gather",
            |v| {
                let index = Tensor::from([[2.0, 2.0], [0.0, 1.0]]);
                sq(v[0].gather(1, &index).exp())
            },
            vec![a.clone()],
        ),
        (
            "concat",
            |v| sq(Var::concat(&[v[0], v[1].exp(), v[0]], 0).sin()),
            vec![a.clone(), b.clone()],
        ),
        (
            "stack split",
            |v| {
                let s = Var::stack(&[v[0], v[1]], -1).exp();
                let parts = s.split(-1, &[1, 1]);
                sq(parts[0] * parts[1])
            },
            vec![a.clone(), b.clone()],
        ),
        (
            "tril triu",
            |v| {
                let s = v[0].matmul(v[0].transpose()); // 2 × 2
                sq(s.tril(0).exp() + s.triu(1).sin())
            },
            vec![a.clone()],
        ),
        (
            "diagonal diag_embed",
            |v| sq(v[0].diag_embed().exp().diagonal() * v[0]),
            vec![row.clone()],
        ),
        (
            "tril_from_vec",
            |v| {
                let l = v[0].tril_from_vec(2, 0); // 3 elements: a 2 × 2 Cholesky factor
                sq(l.matmul(l.transpose()).exp())
            },
            vec![row.clone()],
        ),
        ("var", |v| sq(v[0].var(-1, 1.0)), vec![a.clone()]),
        ("std", |v| sq(v[0].std(0, 0.0).ln()), vec![a.clone()]),
        (
            "standardise",
            |v| sq((v[0] - v[0].mean_axis_keepdim(-1)) / v[0].std_keepdim(-1, 1.0)),
            vec![a.clone()],
        ),
        (
            "batched matmul",
            |v| {
                let batch = Var::stack(&[v[0], v[1] * v[0]], 0); // [2, 2, 3]
                sq(batch.matmul(v[2]).tanh())
            },
            vec![a.clone(), b.clone(), m.clone()],
        ),
        (
            "batched matmul broadcast vector",
            |v| {
                let batch = Var::stack(&[v[1], v[1].exp()], 0); // [2, 3, 2]
                sq(v[0].matmul(batch).sin())
            },
            vec![row.clone(), m.clone()],
        ),
        (
            "matmul_t",
            |v| sq(v[0].matmul_t(v[1])),
            vec![a.clone(), m.transpose()],
        ),
        (
            "matmul_t 1-D",
            |v| sq(v[0].matmul_t(v[1])),
            vec![row.clone(), m.transpose()],
        ),
        ("log_softmax", |v| sq(v[0].log_softmax(1)), vec![a.clone()]),
        ("softmax", |v| sq(v[0].softmax(0)), vec![a.clone()]),
        ("logsumexp", |v| sq(v[0].logsumexp(1)), vec![a.clone()]),
        ("prod_axis", |v| sq(v[0].prod_axis(1)), vec![a.clone()]),
        (
            "prod_axis at zeros",
            |v| sq(v[0].prod_axis(-1)) + sq(v[0].prod_axis_keepdim(0).sin()),
            vec![Tensor::from([
                [0.0, -0.7, 1.1, 0.5],
                [0.0, 0.0, -0.4, 1.3],
                [0.9, 1.2, 0.0, -0.6],
            ])],
        ),
        (
            "prod",
            |v| (v[0].prod() * v[1].prod()).sin(),
            vec![a.clone(), b.clone()],
        ),
        (
            "mlp",
            |v| (v[0].matmul(v[1]).tanh().sum_axis(1).exp()).sum(),
            vec![a, m],
        ),
    ]
}

/// The first-order gradient from `backward()`, the fast path.
fn gradient(f: F, inputs: &[Tensor]) -> Vec<Tensor> {
    let tape = Tape::new();
    let x: Vec<Var<'_>> = inputs.iter().map(|x| tape.param(x.clone())).collect();
    let grads = f(&x).backward();
    x.iter().map(|&x| grads[x].clone()).collect()
}

/// A fixed direction per input, of its shape.
fn directions(inputs: &[Tensor]) -> Vec<Tensor> {
    inputs
        .iter()
        .enumerate()
        .map(|(k, x)| Tensor::from_fn(x.shape(), |i| ((i * 7 + k * 3) % 5) as f64 / 4.0 - 0.45))
        .collect()
}

/// `inputs + t · directions`.
fn moved(inputs: &[Tensor], directions: &[Tensor], t: f64) -> Vec<Tensor> {
    inputs
        .iter()
        .zip(directions)
        .map(|(x, v)| x + &(v * t))
        .collect()
}

fn assert_close(got: &Tensor, expected: &Tensor, tolerance: f64, what: &str) {
    assert_eq!(got.shape(), expected.shape(), "{what}: shapes");
    for (g, e) in got.data().iter().zip(expected.data()) {
        assert!(
            (g - e).abs() <= tolerance * (1.0 + e.abs()),
            "{what}: {g} against {e}\n got {got:?}\n expected {expected:?}"
        );
    }
}

#[test]
fn grad_agrees_with_backward_for_every_primitive() {
    for (name, f, inputs) in cases() {
        let tape = Tape::new();
        let x: Vec<Var<'_>> = inputs.iter().map(|x| tape.param(x.clone())).collect();
        let by_grad = f(&x).grad(&x);
        for (g, b) in by_grad.iter().zip(gradient(f, &inputs)) {
            assert_close(&g.value(), &b, 1e-14, name);
        }
    }
}

#[test]
fn hessian_vector_products_match_finite_differences_of_the_gradient() {
    let h = 1e-5;
    for (name, f, inputs) in cases() {
        let v = directions(&inputs);
        let hv = hvp(f, &inputs, &v);
        let plus = gradient(f, &moved(&inputs, &v, h));
        let minus = gradient(f, &moved(&inputs, &v, -h));
        for (i, got) in hv.iter().enumerate() {
            let expected = (&plus[i] - &minus[i]) / (2.0 * h);
            assert_close(got, &expected, 1e-6, &format!("{name}, input {i}"));
        }
    }
}

/// `Σᵢ sum(gᵢ ⊙ vᵢ)`, recorded.
fn dot<'t>(g: &[Var<'t>], v: &[Var<'t>]) -> Var<'t> {
    g.iter()
        .zip(v)
        .map(|(&g, &v)| (g * v).sum())
        .reduce(|a, b| a + b)
        .expect("at least one input")
}

/// `vᵀ H(x) v` along the fixed directions, through `Var::grad` twice.
fn curvature(f: F, inputs: &[Tensor]) -> f64 {
    let v = directions(inputs);
    hvp(f, inputs, &v)
        .iter()
        .zip(&v)
        .map(|(hv, v)| (hv * v).sum())
        .sum()
}

#[test]
fn third_derivatives_match_finite_differences_of_the_second() {
    let h = 1e-4;
    for (name, f, inputs) in cases() {
        let v = directions(&inputs);
        // D³f[v, v, v] by three sweeps on one tape …
        let tape = Tape::new();
        let x: Vec<Var<'_>> = inputs.iter().map(|x| tape.param(x.clone())).collect();
        let first = f(&x).grad(&x);
        let vs: Vec<Var<'_>> = v.iter().map(|v| tape.constant(v.clone())).collect();
        let second = dot(&first, &vs).grad(&x);
        let third = dot(&dot(&second, &vs).grad(&x), &vs).value().item();
        // … against the derivative of vᵀHv along v, by central differences.
        let expected = (curvature(f, &moved(&inputs, &v, h))
            - curvature(f, &moved(&inputs, &v, -h)))
            / (2.0 * h);
        assert!(
            (third - expected).abs() <= 1e-5 * (1.0 + expected.abs()),
            "{name}: D³f[v,v,v] = {third}, finite differences {expected}"
        );
    }
}

#[test]
fn closed_forms_to_third_order() {
    let tape = Tape::new();
    let x0 = 0.7_f64;
    let x = tape.param(Tensor::scalar(x0));
    let derivatives = |y: Var| {
        let d1 = y.grad(&[x])[0];
        let d2 = d1.grad(&[x])[0];
        let d3 = d2.grad(&[x])[0];
        [d1, d2, d3].map(|d| d.value().item())
    };
    let t = x0.tanh();
    let tanh = derivatives(x.tanh());
    let tanh_expected = [
        1.0 - t * t,
        -2.0 * t * (1.0 - t * t),
        (1.0 - t * t) * (6.0 * t * t - 2.0),
    ];
    let s = 1.0 / (1.0 + (-x0).exp());
    let sigmoid = derivatives(x.sigmoid());
    let sigmoid_expected = [
        s * (1.0 - s),
        s * (1.0 - s) * (1.0 - 2.0 * s),
        s * (1.0 - s) * (1.0 - 6.0 * s + 6.0 * s * s),
    ];
    let ln = derivatives(x.ln());
    let ln_expected = [1.0 / x0, -1.0 / (x0 * x0), 2.0 / (x0 * x0 * x0)];
    let sqrt = derivatives(x.sqrt());
    let sqrt_expected = [
        0.5 / x0.sqrt(),
        -0.25 * x0.powf(-1.5),
        0.375 * x0.powf(-2.5),
    ];
    let sin = derivatives(x.sin());
    let sin_expected = [x0.cos(), -x0.sin(), -x0.cos()];
    let cos = derivatives(x.cos());
    let cos_expected = [-x0.sin(), -x0.cos(), x0.sin()];
    for (got, expected, name) in [
        (sin, sin_expected, "sin"),
        (cos, cos_expected, "cos"),
        (tanh, tanh_expected, "tanh"),
        (sigmoid, sigmoid_expected, "sigmoid"),
        (ln, ln_expected, "ln"),
        (sqrt, sqrt_expected, "sqrt"),
    ] {
        for (order, (g, e)) in got.iter().zip(expected).enumerate() {
            assert!(
                (g - e).abs() <= 1e-14 * (1.0 + e.abs()),
                "{name}, order {}: {g} against {e}",
                order + 1
            );
        }
    }
}

#[test]
fn third_derivatives_of_softmax_and_logsumexp_match_closed_forms() {
    // logsumexp: ∂/∂x = s (softmax), ∂²/∂x² = diag(s) − s sᵀ, and along v: vᵀ(diag(s) − ssᵀ)v
    // has derivative Σ sᵢvᵢ³ − 3(s·v)(Σ sᵢvᵢ²) + 2(s·v)³ along v.
    let x = [0.2, -1.0, 0.5];
    let v: [f64; 3] = [1.0, 0.5, -2.0];
    let e: Vec<f64> = x.iter().map(|x: &f64| x.exp()).collect();
    let total: f64 = e.iter().sum();
    let s: Vec<f64> = e.iter().map(|e| e / total).collect();
    let m = |p: i32| -> f64 { s.iter().zip(v).map(|(s, v)| s * v.powi(p)).sum() };
    let expected = m(3) - 3.0 * m(1) * m(2) + 2.0 * m(1).powi(3);

    let tape = Tape::new();
    let xv = tape.param(Tensor::from(x));
    let vv = tape.constant(Tensor::from(v));
    let along = |g| dot(&[g], &[vv]);
    let d1 = along(xv.logsumexp(0).grad(&[xv])[0]);
    let d2 = along(d1.grad(&[xv])[0]);
    let d3 = along(d2.grad(&[xv])[0]);
    assert!(
        (d3.value().item() - expected).abs() < 1e-14,
        "{} against {expected}",
        d3.value().item()
    );
    // softmax's first component: its derivatives are the logsumexp's shifted by one order.
    let first = tape.constant(Tensor::from([1.0, 0.0, 0.0]));
    let s0 = (xv.softmax(0) * first).sum();
    let d = along(along(s0.grad(&[xv])[0]).grad(&[xv])[0]);
    // ∂s₀/∂x = s₀(e₀ − s); along v twice: s₀[(v₀ − s·v)² − (Σ sᵢvᵢ² − (s·v)²)].
    let expected_s0 = s[0] * ((v[0] - m(1)).powi(2) - (m(2) - m(1).powi(2)));
    assert!(
        (d.value().item() - expected_s0).abs() < 1e-14,
        "{} against {expected_s0}",
        d.value().item()
    );
}

/// `Π_{k ∉ skip} xₖ`.
fn product_without(x: &[f64], skip: &[usize]) -> f64 {
    (0..x.len())
        .filter(|k| !skip.contains(k))
        .map(|k| x[k])
        .product()
}

/// Element `i` of a vector, as a scalar.
fn row<'t>(d: Var<'t>, i: usize) -> Var<'t> {
    d.narrow(0, i, 1).sum()
}

#[test]
fn prod_is_exact_at_zeros_to_third_order() {
    // ∂/∂xᵢ Π x = Π_{k≠i} xₖ, ∂²/∂xᵢ∂xⱼ = Π_{k≠i,j} xₖ (i ≠ j; 0 on the diagonal), and so on:
    // a product is linear in each element. Exactly, with no zero, one and two zeros.
    for x in [
        [1.5, 2.0, -3.0, 0.5],
        [0.0, 2.0, -3.0, 0.5],
        [1.5, 0.0, -3.0, 0.0],
        [0.0, 0.0, 0.0, 0.5],
    ] {
        let n = x.len();
        let tape = Tape::new();
        let xv = tape.param(Tensor::from(x));
        let gradient = xv.prod().grad(&[xv])[0];
        let expected: Vec<f64> = (0..n).map(|i| product_without(&x, &[i])).collect();
        assert_eq!(gradient.value().data(), expected, "gradient at {x:?}");
        let h = hessian(|v| v.prod_axis(0), &Tensor::from(x));
        let expected = Tensor::from_fn(&[n, n], |k| {
            let (i, j) = (k / n, k % n);
            if i == j {
                0.0
            } else {
                product_without(&x, &[i, j])
            }
        });
        assert_eq!(h, expected, "Hessian at {x:?}");
        // ∂³/∂x₀∂x₁∂xₖ: the Hessian's row 0, its element 1, differentiated once more.
        let h0 = row(gradient, 0).grad(&[xv])[0];
        let third = row(h0, 1).grad(&[xv])[0];
        let expected: Vec<f64> = (0..n)
            .map(|k| {
                if k < 2 {
                    0.0
                } else {
                    product_without(&x, &[0, 1, k])
                }
            })
            .collect();
        assert_eq!(third.value().data(), expected, "third derivatives at {x:?}");
    }
    // Three zeros: the one nonzero third derivative is the remaining element.
    let tape = Tape::new();
    let xv = tape.param(Tensor::from([0.0, 0.0, 0.0, 0.5]));
    let first = xv.prod().grad(&[xv])[0];
    let h0 = row(first, 0).grad(&[xv])[0];
    assert_eq!(
        row(h0, 1).grad(&[xv])[0].value(),
        Tensor::from([0.0, 0.0, 0.5, 0.0])
    );
}

#[test]
fn prod_at_infinity_takes_the_product_of_the_others_as_jax_does() {
    // PyTorch divides, z / x, and gets [NaN, ∞] and a NaN Hessian here; JAX and tapegrad take
    // the product of the others.
    let x = Tensor::from([f64::INFINITY, 2.0]);
    let tape = Tape::new();
    let xv = tape.param(x.clone());
    assert_eq!(xv.prod().backward()[xv], Tensor::from([2.0, f64::INFINITY]));
    assert_eq!(
        hessian(|v| v.prod(), &x),
        Tensor::from([[0.0, 1.0], [1.0, 0.0]])
    );
    // Past the largest double the product overflows, but its derivatives need not.
    let big = Tensor::from([1e300, 1e300, 2.0]);
    let xv = tape.param(big);
    assert_eq!(
        xv.prod_axis(-1).backward()[xv],
        Tensor::from([2e300, 2e300, f64::INFINITY])
    );
}

#[test]
fn prod_over_an_empty_axis_is_one_with_an_empty_gradient() {
    let tape = Tape::new();
    let x = tape.param(Tensor::zeros(&[3, 0]));
    let p = x.prod_axis(-1);
    assert_eq!(p.value(), Tensor::ones(&[3]));
    assert_eq!(p.sum().backward()[x].shape(), [3, 0]);
    let g = p.sum().grad(&[x])[0];
    assert_eq!(g.shape(), [3, 0]);
    assert_eq!(g.sum().grad(&[x])[0].shape(), [3, 0]);
    assert_eq!(x.prod().value().item(), 1.0);
    assert_eq!(x.prod_axis_keepdim(1).value(), Tensor::ones(&[3, 1]));
    // Along the other axis: three elements of nothing, an empty product of shape [0].
    assert_eq!(x.prod_axis(0).shape(), [0]);
    assert_eq!(Tensor::zeros(&[0]).prod(), 1.0);
}

#[test]
fn prod_along_either_end_and_kept() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from_fn(&[2, 3, 2], |i| i as f64 + 1.0));
    let p = x.prod_axis(-2);
    assert_eq!(p.value(), x.prod_axis(1).value());
    // x[0, :, 0] = 1, 3, 5 and x[1, :, 0] = 7, 9, 11.
    assert_eq!(p.value(), Tensor::from([[15.0, 48.0], [693.0, 960.0]]));
    let kept = x.prod_axis_keepdim(-2);
    assert_eq!(kept.shape(), [2, 1, 2]);
    assert_eq!(kept.value().reshape(&[2, 2]), p.value());
    // d/dx[0, 1, 0] of x[0, 0, 0]·x[0, 1, 0]·x[0, 2, 0] is 1 · 5.
    let g = kept.sum().backward()[x].clone();
    assert_eq!(g.data()[2], 5.0);
    assert_eq!(
        x.prod().value().item(),
        (1..=12).map(f64::from).product::<f64>()
    );
    assert_eq!(x.value().prod(), x.prod().value().item());
    // The recorded gradient agrees with backward's, and its second derivative with
    // finite differences elsewhere (`cases`).
    let recorded = kept.sum().grad(&[x])[0];
    assert_eq!(recorded.value(), g);
}

#[test]
fn conventions_where_the_math_has_no_derivative() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([-1.0, 0.0, 2.0]));
    let second = |y: Var| {
        let g = y.sum().grad(&[x])[0];
        (g.value(), g.sum().grad(&[x])[0].value())
    };
    // relu′(0) = 0 and relu″ = 0.
    assert_eq!(
        second(x.relu()),
        (Tensor::from([0.0, 0.0, 1.0]), Tensor::zeros(&[3]))
    );
    // |x|′(0) = 0 and |x|″ = 0.
    assert_eq!(
        second(x.abs()),
        (Tensor::from([-1.0, 0.0, 1.0]), Tensor::zeros(&[3]))
    );
    // step′ = 0.
    assert_eq!(second(x.step()), (Tensor::zeros(&[3]), Tensor::zeros(&[3])));
    // x¹: the second derivative is that of x⁰, zero also at 0 (not 0·∞).
    assert_eq!(
        second(x.powf(1.0)),
        (Tensor::ones(&[3]), Tensor::zeros(&[3]))
    );
    // √x at 0: +∞ for the first derivative, as PyTorch's.
    let r = tape.param(Tensor::from([0.0, 4.0]));
    let g = r.sqrt().sum().grad(&[r])[0];
    assert_eq!(g.value(), Tensor::from([f64::INFINITY, 0.25]));
    // max ties share the gradient, and the mask has no derivative.
    let t = tape.param(Tensor::from([3.0, 3.0, 1.0]));
    let g = t.max_axis(0).grad(&[t])[0];
    assert_eq!(g.value(), Tensor::from([0.5, 0.5, 0.0]));
    assert_eq!(g.sum().grad(&[t])[0].value(), Tensor::zeros(&[3]));
}

#[test]
fn reuse_and_diamonds_at_second_order() {
    // f(x) = (x·x)·(x·x) + x·x reuses x along four paths: f″ = 12x² + 2.
    let tape = Tape::new();
    let x = tape.param(Tensor::scalar(1.5));
    let sq = x * x;
    let f = sq * sq + sq;
    let d1 = f.grad(&[x])[0];
    let d2 = d1.grad(&[x])[0];
    assert_eq!(d1.value().item(), 4.0 * 1.5f64.powi(3) + 3.0);
    assert_eq!(d2.value().item(), 12.0 * 1.5 * 1.5 + 2.0);
    // Mixed partials of a diamond agree: ∂²(xy + x²y)/∂x∂y = 1 + 2x, either way round.
    let y = tape.param(Tensor::scalar(-0.5));
    let g = x * y + x * x * y;
    let [gx, gy] = [g.grad(&[x])[0], g.grad(&[y])[0]];
    assert_eq!(gx.grad(&[y])[0].value().item(), 4.0);
    assert_eq!(gy.grad(&[x])[0].value().item(), 4.0);
}

#[test]
fn no_path_gives_a_zero_constant_of_the_input_shape() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([1.0, 2.0]));
    let unused = tape.param(Tensor::from([[1.0, 2.0, 3.0]]));
    let g = (x * x).sum().grad(&[x, unused]);
    assert_eq!(g[1].value(), Tensor::zeros(&[1, 3]));
    // A gradient that does not depend on x (a linear function) differentiates to zero too.
    let linear = (x * 3.0).sum().grad(&[x])[0];
    assert_eq!(linear.sum().grad(&[x])[0].value(), Tensor::zeros(&[2]));
}

#[test]
fn the_functional_layer_agrees_with_closed_forms() {
    // f(x) = Σ eˣ ⊙ x: H = diag(eˣ(x + 2)).
    let x = Tensor::from([0.5, -1.0, 2.0]);
    let h = hessian(|x| (x.exp() * x).sum(), &x);
    for i in 0..3 {
        for j in 0..3 {
            let xi = x.data()[i];
            let expected = if i == j { xi.exp() * (xi + 2.0) } else { 0.0 };
            let got = h.data()[i * 3 + j];
            assert!(
                (got - expected).abs() < 1e-13,
                "H[{i}][{j}] = {got} against {expected}"
            );
        }
    }
    // jvp of a matrix product: J·t = A·t for f(x) = A·x.
    let a = Tensor::from([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
    let (value, tangent) = jvp(
        |x| {
            x[0].tape()
                .constant(Tensor::from([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
                .matmul(x[0])
        },
        &[Tensor::from([1.0, -1.0])],
        &[Tensor::from([0.5, 2.0])],
    );
    assert_eq!(value, a.matmul(&Tensor::from([1.0, -1.0])));
    assert_eq!(tangent, a.matmul(&Tensor::from([0.5, 2.0])));
}

#[test]
#[should_panic(
    expected = "grad: the output has shape [2] (2 elements), but grad() needs a single element; use grad_with"
)]
fn grad_of_a_non_scalar_panics() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([1.0, 2.0]));
    let _ = (x * x).grad(&[x]);
}

#[test]
#[should_panic(expected = "grad: a Var of `wrt` is a Var of another tape than the output")]
fn grad_with_respect_to_another_tape_panics() {
    let (one, other) = (Tape::new(), Tape::new());
    let x = one.param(Tensor::scalar(1.0));
    let y = other.param(Tensor::scalar(1.0));
    let _ = (x * x).grad(&[y]);
}

struct Square;

impl CustomOp for Square {
    fn name(&self) -> &'static str {
        "square"
    }
    fn forward(&self, inputs: &[&Tensor]) -> Tensor {
        inputs[0] * inputs[0]
    }
    fn backward(&self, inputs: &[&Tensor], _z: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g * &(inputs[0] * 2.0)]
    }
}

struct DifferentiableSquare;

impl CustomOp for DifferentiableSquare {
    fn name(&self) -> &'static str {
        "square"
    }
    fn forward(&self, inputs: &[&Tensor]) -> Tensor {
        Square.forward(inputs)
    }
    fn backward(&self, inputs: &[&Tensor], z: &Tensor, g: &Tensor) -> Vec<Tensor> {
        Square.backward(inputs, z, g)
    }
    fn backward_vars<'t>(
        &self,
        inputs: &[Var<'t>],
        _z: Var<'t>,
        g: Var<'t>,
    ) -> Option<Vec<Var<'t>>> {
        Some(vec![g * (inputs[0] * 2.0)])
    }
}

#[test]
fn a_custom_op_with_a_var_rule_differentiates_twice() {
    let tape = Tape::new();
    let x = tape.param(Tensor::scalar(3.0));
    let y = tape.custom(DifferentiableSquare, &[x]);
    let d1 = (y * x).grad(&[x])[0]; // d(x³) = 3x²
    assert_eq!(d1.value().item(), 27.0);
    assert_eq!(d1.grad(&[x])[0].value().item(), 18.0);
}

#[test]
fn a_custom_op_without_a_var_rule_panics_naming_it_and_its_line() {
    let tape = Tape::new();
    let x = tape.param(Tensor::scalar(3.0));
    let line = line!() + 1;
    let y = tape.custom(Square, &[x]);
    // First order still works through backward().
    assert_eq!(y.backward()[x].item(), 6.0);
    let message = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| y.grad(&[x])))
        .expect_err("grad through a custom op without backward_vars must panic");
    let message = message
        .downcast_ref::<String>()
        .expect("a formatted message");
    let at = format!("{}:{line}", file!());
    assert!(message.contains("custom op `square`"), "{message}");
    assert!(message.contains(&at), "{message} should name {at}");
    assert!(message.contains("backward_vars"), "{message}");
}

#[test]
fn gradgradcheck_passes_on_every_primitive() {
    use tapegrad::check::{GradCheckOptions, gradgradcheck};
    for (name, f, inputs) in cases() {
        if let Err(error) = gradgradcheck(f, &inputs, GradCheckOptions::default()) {
            panic!("{name}: {error}");
        }
    }
}

/// First-order right, second-order wrong: the factor 2x enters as a constant, so the
/// recorded gradient misses the term 2g of its derivative.
struct SquareWithAConstantFactor;

impl CustomOp for SquareWithAConstantFactor {
    fn name(&self) -> &'static str {
        "square"
    }
    fn forward(&self, inputs: &[&Tensor]) -> Tensor {
        Square.forward(inputs)
    }
    fn backward(&self, inputs: &[&Tensor], z: &Tensor, g: &Tensor) -> Vec<Tensor> {
        Square.backward(inputs, z, g)
    }
    fn backward_vars<'t>(
        &self,
        inputs: &[Var<'t>],
        _z: Var<'t>,
        g: Var<'t>,
    ) -> Option<Vec<Var<'t>>> {
        let factor = inputs[0].tape().constant(&inputs[0].value() * 2.0);
        Some(vec![g * factor])
    }
}

const SQUARE_LINE: u32 = line!() + 3;
fn with_a_wrong_square<'t>(v: &[Var<'t>]) -> Var<'t> {
    let h = v[0].tanh();
    let s = h.tape().custom(SquareWithAConstantFactor, &[h]);
    (s * v[0]).sum()
}

#[test]
fn gradgradcheck_names_the_op_whose_rule_differentiates_wrongly() {
    use tapegrad::check::{GradCheckOptions, gradcheck, gradgradcheck};
    let (f, line) = (with_a_wrong_square, SQUARE_LINE);
    let x = [Tensor::from([0.5, -0.3, 1.2])];
    // First order cannot see it …
    assert!(gradcheck(f, &x, GradCheckOptions::default()).is_ok());
    // … second order does, and blames the custom op, not tanh or mul.
    let error = gradgradcheck(f, &x, GradCheckOptions::default()).unwrap_err();
    assert_eq!(error.order, 2);
    assert!(error.failed > 0);
    let fault = error.culprit_node().expect("a node to blame");
    assert_eq!(fault.site.op, "square");
    assert_eq!(
        (fault.site.location.file(), fault.site.location.line()),
        (file!(), line)
    );
    let report = error.to_string();
    assert!(report.starts_with("gradgradcheck failed"), "{report}");
    assert!(report.contains("differentiates wrongly"), "{report}");
}

#[test]
fn the_recorded_gradient_graph_shows_in_pictures_and_traces() {
    // y = x³ as x·x·x: two mul nodes. Its gradient, recorded, is more nodes on the same tape,
    // which to_dot draws and the trace walks like any others.
    let tape = Tape::new();
    let x = tape.param(Tensor::scalar(2.0)).named("x");
    let y = x * x * x;
    let forward_nodes = tape.len();
    let dy = y.grad(&[x])[0];
    assert!(
        tape.len() > forward_nodes,
        "grad records its sweep on the tape"
    );
    let dot = tape.to_dot(None);
    let boxes = dot.lines().filter(|line| line.contains("label=")).count();
    assert!(boxes >= tape.len(), "{dot}");
    // Differentiating the gradient walks back through the recorded sweep: d(3x²)/dx = 6x.
    let trace = dy.backward_trace();
    assert_eq!(trace.grads()[x].item(), 12.0);
    assert!(trace.steps().len() > forward_nodes);
}

struct WrongShape;

impl CustomOp for WrongShape {
    fn name(&self) -> &'static str {
        "wrong_shape"
    }
    fn forward(&self, inputs: &[&Tensor]) -> Tensor {
        inputs[0].clone()
    }
    fn backward(&self, _inputs: &[&Tensor], _z: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g.clone()]
    }
    fn backward_vars<'t>(
        &self,
        _inputs: &[Var<'t>],
        _z: Var<'t>,
        g: Var<'t>,
    ) -> Option<Vec<Var<'t>>> {
        Some(vec![g.sum()])
    }
}

#[test]
#[should_panic(
    expected = "custom op \"wrong_shape\": backward_vars returned a gradient of shape [] for input 0, which has shape [2]"
)]
fn a_custom_var_rule_of_the_wrong_shape_panics_naming_the_op() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([1.0, 2.0]));
    let _ = tape.custom(WrongShape, &[x]).sum().grad(&[x]);
}
