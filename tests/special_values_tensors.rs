//! The shape, reduction-along-an-axis and product ops at special values (NaN, ±∞, ±0, 10³⁰⁰,
//! e^±745) and over an empty axis, against PyTorch's values, gradients and Hessian-vector
//! products from `tests/fixtures/special_values_tensors.tsv` (written by
//! `tests/fixtures/special_values.py tensors`, so CI needs no PyTorch). The elementwise ops are
//! `tests/special_values.rs`'s.

use tapegrad::functional::hvp;
use tapegrad::{Tape, Tensor, Var};

/// A comma-separated vector of the fixture, in Python's repr ('nan', 'inf', '-0.0'); empty for
/// an empty field.
fn numbers(field: &str) -> Vec<f64> {
    if field.is_empty() {
        return Vec::new();
    }
    field
        .split(',')
        .map(|x| x.parse().expect("a number"))
        .collect()
}

/// Whether tapegrad's `ours` is PyTorch's `theirs`: both NaN, equal (0 equals −0), or, both
/// finite, within 1e-12 relative, or 1e-15 absolutely (a sum that cancels to 0 keeps an ulp of
/// its terms). An infinity agrees only with itself: relative to ∞ every number is close.
fn agrees(ours: f64, theirs: f64) -> bool {
    (ours.is_nan() && theirs.is_nan())
        || ours == theirs
        || (ours.is_finite()
            && theirs.is_finite()
            && ((ours - theirs).abs() <= 1e-12 * ours.abs().max(theirs.abs())
                || (ours - theirs).abs() <= 1e-15))
}

/// z = op(x[, y]), as the fixture names the ops (an axis is the name's last digit).
fn apply<'t>(op: &str, x: Var<'t>, y: Option<Var<'t>>) -> Var<'t> {
    match op {
        "step" => x.step(),
        "sum_axis0" => x.sum_axis(0),
        "sum_axis1" => x.sum_axis(1),
        "mean_axis1" => x.mean_axis(1),
        "max_axis1" => x.max_axis(1),
        "logsumexp1" => x.logsumexp(1),
        "prod_axis1" => x.prod_axis(1),
        "log_softmax1" => x.log_softmax(1),
        "softmax1" => x.softmax(1),
        "transpose" => x.transpose(),
        "reshape" => x.reshape(&[3, 2]),
        "broadcast_to" => x.broadcast_to(&[2, 2, 3]),
        "matmul" => x.matmul(y.expect("a right operand")),
        other => panic!("the fixture has an op this test does not know: {other}"),
    }
}

/// `Σ wᵢ·zᵢ` with `w = 1, 2, 3, …` over z's elements, as the generator weights them.
fn weighted<'t>(z: Var<'t>) -> Var<'t> {
    let w = Tensor::from_fn(&z.shape(), |i| (i + 1) as f64);
    (z * z.tape().constant(w)).sum()
}

/// Where tapegrad differs from PyTorch on purpose, as `(op, x, quantity)`; the architecture
/// chapter ("Special values") says why.
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[
    // A row with an infinite logit: tapegrad's log-softmax gives the other classes their limit
    // (−∞, and softmax 0) with finite gradients, where PyTorch's are NaN (∞ − ∞ inside).
    ("log_softmax1", "inf,1.0,2.0,-inf,4.0,5.0", "z"),
    ("log_softmax1", "inf,1.0,2.0,-inf,4.0,5.0", "dz/dx"),
    ("log_softmax1", "0.0,-0.0,1.0,inf,0.0,2.0", "z"),
    ("log_softmax1", "0.0,-0.0,1.0,inf,0.0,2.0", "dz/dx"),
    ("log_softmax1", "inf,inf,1.0,-inf,-inf,-inf", "z"),
    ("log_softmax1", "inf,inf,1.0,-inf,-inf,-inf", "dz/dx"),
    ("softmax1", "inf,1.0,2.0,-inf,4.0,5.0", "z"),
    ("softmax1", "0.0,-0.0,1.0,inf,0.0,2.0", "z"),
    ("softmax1", "inf,inf,1.0,-inf,-inf,-inf", "z"),
    // prod's derivatives are the products of the other elements, computed as such (JAX's
    // values); PyTorch divides the product by the element where no element is 0, so it gets
    // ∞/∞ = NaN for an infinite element, NaN/NaN for a NaN one, and ∞ where only the product
    // overflows (1e300 · 1e300), and its Hessian inherits the NaNs. tapegrad's are the exact
    // products: ∂/∂x₀ of NaN·1·2 is 2, of ∞·1·2 is 2, of 1e300·1e300·1 is 1e300.
    ("prod_axis1", "nan,1.0,2.0,3.0,4.0,5.0", "dz/dx"),
    ("prod_axis1", "nan,1.0,2.0,3.0,4.0,5.0", "H·v"),
    ("prod_axis1", "inf,1.0,2.0,-inf,4.0,5.0", "dz/dx"),
    ("prod_axis1", "inf,1.0,2.0,-inf,4.0,5.0", "H·v"),
    ("prod_axis1", "0.0,-0.0,1.0,inf,0.0,2.0", "H·v"),
    ("prod_axis1", "1e+300,1e+300,1.0,-1e+300,2.0,3.0", "dz/dx"),
    ("prod_axis1", "1e+300,1e+300,1.0,-1e+300,2.0,3.0", "H·v"),
    ("prod_axis1", "inf,inf,1.0,-inf,-inf,-inf", "dz/dx"),
    ("prod_axis1", "inf,inf,1.0,-inf,-inf,-inf", "H·v"),
];

#[test]
fn shape_reduction_and_product_ops_match_pytorch_at_special_values_to_second_order() {
    let fixture = include_str!("fixtures/special_values_tensors.tsv");
    let mut differences = Vec::new();
    let mut rows = 0;
    for line in fixture.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let values = numbers(f[1]);
        let shape = if values.is_empty() {
            [3, 0]
        } else {
            [values.len() / 3, 3]
        };
        let x = Tensor::from_vec(values, &shape).unwrap();
        let y = (f[2] != "-").then(|| Tensor::from_vec(numbers(f[2]), &[3, 2]).unwrap());

        let tape = Tape::new();
        let xv = tape.param(x.clone());
        let yv = y.clone().map(|y| tape.param(y));
        let z = apply(f[0], xv, yv);
        let grads = weighted(z).backward();
        let v = Tensor::from_fn(&shape, |i| [1.0, -1.0, 0.5, 2.0, -0.5, 0.25][i]);
        let mut inputs = vec![x];
        let mut directions = vec![v];
        if let Some(y) = &y {
            directions.push(Tensor::zeros(y.shape()));
            inputs.push(y.clone());
        }
        let hv = hvp(
            |p| weighted(apply(f[0], p[0], p.get(1).copied())),
            &inputs,
            &directions,
        );

        let mut quantities = vec![
            ("z", z.value().data().to_vec(), numbers(f[3])),
            ("dz/dx", grads[xv].data().to_vec(), numbers(f[4])),
            ("H·v", hv[0].data().to_vec(), numbers(f[5])),
        ];
        if let Some(yv) = yv {
            quantities.push(("dz/dy", grads[yv].data().to_vec(), numbers(f[6])));
        }
        for (quantity, ours, theirs) in quantities {
            let same =
                ours.len() == theirs.len() && ours.iter().zip(&theirs).all(|(&a, &b)| agrees(a, b));
            let pinned = KNOWN_DIFFERENCES.contains(&(f[0], f[1], quantity));
            if same == pinned {
                differences.push(format!(
                    "{} x=[{}]: {quantity} = {ours:?}, PyTorch {theirs:?}{}",
                    f[0],
                    f[1],
                    if pinned {
                        " (pinned, but agrees now)"
                    } else {
                        ""
                    }
                ));
            }
        }
        rows += 1;
    }
    assert!(rows >= 80, "the fixture has {rows} rows");
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

#[test]
fn prod_where_pytorch_differs_gives_the_products_of_the_others() {
    // The pinned rows above, by hand: Σ wᵢ·zᵢ with w = 1, 2 over the rows' products.
    let inf = f64::INFINITY;
    for (x, gradient) in [
        (
            [f64::NAN, 1.0, 2.0, 3.0, 4.0, 5.0],
            [2.0, f64::NAN, f64::NAN, 40.0, 30.0, 24.0],
        ),
        (
            [inf, 1.0, 2.0, -inf, 4.0, 5.0],
            [2.0, inf, inf, 40.0, -inf, -inf],
        ),
        (
            [1e300, 1e300, 1.0, -1e300, 2.0, 3.0],
            [1e300, 1e300, inf, 12.0, -6e300, -4e300],
        ),
    ] {
        let tape = Tape::new();
        let xv = tape.param(Tensor::from_vec(x.to_vec(), &[2, 3]).unwrap());
        let ours = weighted(xv.prod_axis(1)).backward()[xv].to_vec();
        assert!(
            ours.iter()
                .zip(gradient)
                .all(|(&a, b)| a == b || (a.is_nan() && b.is_nan())),
            "x = {x:?}: {ours:?}, expected {gradient:?}"
        );
    }
}

#[test]
fn backward_reads_a_subnormal_softmax_weight_as_zero_and_keeps_every_normal_gradient() {
    // e^−720 ≈ 2.0e-313 is subnormal: backward() sends 0 for that weight, Var::grad (which
    // records exp like any op) and PyTorch send e^−720.
    let tape = Tape::new();
    let x = tape.param(Tensor::from([0.0, -720.0]));
    let lse = x.logsumexp(0);
    assert_eq!(lse.backward()[x].data(), [1.0, 0.0]);
    let recorded = lse.grad(&[x])[0].value();
    assert_eq!(recorded.data(), [1.0, (-720.0f64).exp()]);
    assert!(recorded.data()[1].is_subnormal());
    // Through a parameter that every weight reaches, the sum has a normal term, and the
    // subnormal one lies below its last bit: the two sweeps agree to the bit, as log_softmax's
    // do.
    let tape = Tape::new();
    let a = tape.param(Tensor::from([1.5, -0.25]));
    let c = tape.constant(Tensor::from([[0.3, -480.0, 0.7], [-0.2, 1.0, -500.0]]));
    // Row 0 is [0.45, −720, 1.05]: its second weight, e^−721.05, is subnormal.
    assert!((-721.05f64).exp().is_subnormal());
    let logits = a.unsqueeze(1) * c;
    for loss in [logits.logsumexp(1).sum(), (logits.log_softmax(1) * c).sum()] {
        let swept = loss.backward()[a].clone();
        let recorded = loss.grad(&[a])[0].value();
        assert_eq!(swept, recorded);
        assert!(swept.data().iter().all(|g| g.is_normal()), "{swept:?}");
    }
}

#[test]
fn a_broadcast_subtrahend_sums_its_negated_gradient_as_pytorch_does_also_at_zeros() {
    // backward() negates a broadcast `y` in `x − y` while summing it down. The sum must have
    // the bits of summing the negated elements: Σ(−(+0)) is +0 (PyTorch's value), where
    // −Σ(+0) would be −0.
    let tape = Tape::new();
    let x = tape.param(Tensor::zeros(&[2, 3]));
    let y = tape.param(Tensor::zeros(&[3]));
    let grads = ((x - y) + -1.0).relu().sum().backward();
    for (name, g) in [("x", &grads[x]), ("y", &grads[y])] {
        assert!(
            g.data().iter().all(|v| *v == 0.0 && v.is_sign_positive()),
            "{name}: {g:?}"
        );
    }
    // Nonzero gradients through `x − y` (y broadcast over two rows), `−y` and `c − y`:
    // ∂/∂y of 3·Σ(x − y) − Σ(1 − (−y)) is 3·(−2) − 1 = −7.
    let tape = Tape::new();
    let x = tape.param(Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    let y = tape.param(Tensor::from([0.5, -0.5, 2.0]));
    let loss = (x - y).sum() * 3.0 - (1.0 - (-y)).sum();
    let grads = loss.backward();
    assert_eq!(grads[x].data(), [3.0; 6]);
    assert_eq!(grads[y].data(), [-7.0; 3]);
    assert_eq!(grads[y], loss.grad(&[y])[0].value());
}
