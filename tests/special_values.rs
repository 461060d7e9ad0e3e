//! Shapes too large to exist, and special values (NaN, ±∞, ±0, domain edges, empty axes),
//! where tapegrad must neither wrap around nor answer silently. The expected special values
//! are PyTorch 2.15's (`torch.relu`, `x ** p` and their `backward`, float64, CPU), printed
//! once and written here; each test says where tapegrad deliberately differs.

use tapegrad::{Error, Tape, Tensor};

#[test]
fn a_shape_whose_element_count_overflows_is_an_error_not_a_wrapped_count() {
    // (2⁶³ + 1) · 2 wraps to 2 in a usize: the two values would have been accepted.
    let huge = [(1usize << 63) + 1, 2];
    let err = Tensor::from_vec(vec![1.0, 2.0], &huge).unwrap_err();
    assert_eq!(
        err,
        Error::TooLarge {
            shape: huge.to_vec()
        }
    );
    assert!(
        err.to_string().contains("[9223372036854775809, 2]"),
        "{err}"
    );
    // A count that fits still checks the data's length.
    assert!(matches!(
        Tensor::from_vec(vec![1.0], &[2, 3]),
        Err(Error::DataLength { expected: 6, .. })
    ));
}

#[test]
#[should_panic(
    expected = "full: the shape [4294967296, 4294967296] holds more elements than memory can address"
)]
fn zeros_of_2_to_the_64_elements_panics_naming_the_shape() {
    // Wrapped, this count was 0: an empty tensor with a shape of 2⁶⁴ elements.
    let _ = Tensor::zeros(&[1 << 32, 1 << 32]);
}

#[test]
#[should_panic(
    expected = "full: cannot allocate 9223372036854775808 bytes for a tensor of shape [1152921504606846976]"
)]
fn an_allocation_no_allocator_can_make_panics_with_the_bytes_instead_of_aborting() {
    let _ = Tensor::ones(&[1 << 60]);
}

#[test]
#[should_panic(expected = "reshape: the shape [4294967296, 4294967296] holds more elements")]
fn reshape_to_a_shape_that_overflows_panics() {
    let _ = Tensor::zeros(&[2]).reshape(&[1 << 32, 1 << 32]);
}

#[test]
#[should_panic(expected = "broadcast_to: cannot allocate")]
fn broadcast_to_an_impossible_size_panics_naming_the_op() {
    let tape = Tape::new();
    let _ = tape
        .param(Tensor::from([1.0]))
        .broadcast_to(&[1 << 30, 1 << 30]);
}

#[test]
#[should_panic(expected = "max_axis: axis 1 of shape [3, 0] is empty")]
fn max_over_an_empty_axis_is_refused_as_numpy_and_pytorch_do() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[3, 0])).max_axis(1);
}

/// The bits of each element, so that NaN compares equal to NaN and −0 differs from +0.
fn bits(t: &Tensor) -> Vec<u64> {
    t.data().iter().map(|x| x.to_bits()).collect()
}

#[test]
fn relu_propagates_nan_and_keeps_negative_zero_as_pytorch_does() {
    let (nan, inf) = (f64::NAN, f64::INFINITY);
    let tape = Tape::new();
    let x = tape.param(Tensor::from([nan, -0.0, 0.0, inf, -inf, 2.0, -2.0]));
    let y = x.relu();
    let grads = y.backward_with(Tensor::ones(&[7]));
    // torch.relu: [nan, -0.0, 0.0, inf, 0.0, …]; its gradient: [1, 0, 0, 1, 0, …].
    assert_eq!(
        bits(&y.value()),
        bits(&Tensor::from([nan, -0.0, 0.0, inf, 0.0, 2.0, 0.0]))
    );
    assert_eq!(grads[x], Tensor::from([1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]));
    // A NaN loss stays NaN through relu, and so does its gradient.
    let g = x.relu().sum().grad(&[x])[0];
    assert!(x.relu().sum().value().item().is_nan());
    assert_eq!(g.value(), Tensor::from([1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]));
    let upstream = tape.constant(Tensor::from([nan; 7]));
    let through = y.grad_with(upstream, &[x])[0].value();
    assert!(through.data()[0].is_nan() && through.data()[5].is_nan());
}

#[test]
fn powers_at_zero_have_pytorchs_values_and_gradients() {
    // torch: x ** p at x = 0 and its gradient, for p = 0, 1, 0.5, −1, 2.
    let cases = [
        (0.0, 1.0, 0.0),
        (1.0, 0.0, 1.0),
        (0.5, 0.0, f64::INFINITY),
        (-1.0, f64::INFINITY, f64::NEG_INFINITY),
        (2.0, 0.0, 0.0),
    ];
    for (p, value, gradient) in cases {
        let tape = Tape::new();
        let x = tape.param(0.0);
        let y = x.powf(p);
        assert_eq!(
            (y.value().item(), y.backward()[x].item()),
            (value, gradient),
            "p = {p}"
        );
        // Var::grad runs the same rule on the tape.
        assert_eq!(y.grad(&[x])[0].value().item(), gradient, "p = {p}");
    }
}

#[test]
fn nan_provenance_names_the_rule_that_produced_it_with_its_name_and_line() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([0.0, 4.0])).named("x");
    let line = line!() + 1;
    let root = x.sqrt().named("root");
    let loss = (root * 3.0).sum();
    let grads = loss.backward();
    assert_eq!(grads[x].data()[0], f64::INFINITY);
    // The gradient of `mul` and of `root` are finite; sqrt's rule sent ∞ to x.
    let culprit = grads
        .first_non_finite(&tape)
        .expect("a non-finite gradient");
    assert_eq!(culprit.op, "sqrt");
    assert_eq!(culprit.name.as_deref(), Some("root"));
    assert_eq!(culprit.sent_to, Some(x.id()));
    assert_eq!(
        (culprit.location.file(), culprit.location.line()),
        (file!(), line)
    );
    assert_eq!(culprit.inputs, vec![(x.id(), Tensor::from([0.0, 4.0]))]);
    let report = culprit.to_string();
    assert!(
        report.starts_with("root (n1) = sqrt(n0 = [0.0 4.0]), recorded at ")
            && report.ends_with("but its backward rule sent a non-finite one to n0"),
        "{report}"
    );
    // All finite: nothing to report.
    let fine = (x * x).sum().backward();
    assert_eq!(fine.first_non_finite(&tape), None);
}

#[test]
fn a_non_finite_gradient_inherited_from_upstream_is_blamed_on_the_rule_that_made_it() {
    // ln at 0 sends ±∞ backward (1/x); the ops before it only pass it on.
    let tape = Tape::new();
    let x = tape.param(Tensor::from([0.0, 1.0]));
    let y = (x * 2.0 + 1.0).ln().named("log");
    let z = (x * 0.0).ln() + y; // ln(0) = −∞ forward, and 1/0 backward
    let grads = z.sum().backward();
    assert!(!grads[x].is_finite());
    let culprit = grads.first_non_finite(&tape).unwrap();
    assert_eq!(culprit.op, "ln");
    assert_eq!(culprit.name, None, "the unnamed ln(x·0), not `log`");
    // Forward, the first non-finite value is that ln's too.
    assert_eq!(tape.first_non_finite().unwrap().node, culprit.node);
}

/// A number of the fixture: Python's repr, which Rust parses too ('nan', 'inf', '-0.0').
fn number(field: &str) -> Option<f64> {
    (field != "-" && field != "none").then(|| field.parse().expect("a number"))
}

/// Whether tapegrad's `ours` is PyTorch's `theirs`: both NaN, equal (0 equals −0), or within
/// 1e-12 relative (the two libms may differ in the last bits of a transcendental function).
fn agrees(ours: f64, theirs: f64) -> bool {
    (ours.is_nan() && theirs.is_nan())
        || ours == theirs
        || (ours - theirs).abs() <= 1e-12 * ours.abs().max(theirs.abs())
}

/// z = op(x[, y]) on `tape`, for an op of the fixture with parameter `p`.
fn apply<'t>(
    op: &str,
    p: Option<f64>,
    x: tapegrad::Var<'t>,
    y: Option<tapegrad::Var<'t>>,
) -> tapegrad::Var<'t> {
    let c = || p.expect("a parameter");
    let y = || y.expect("a second operand");
    match op {
        "neg" => -x,
        "relu" => x.relu(),
        "sigmoid" => x.sigmoid(),
        "softplus" => x.softplus(),
        "tanh" => x.tanh(),
        "sin" => x.sin(),
        "cos" => x.cos(),
        "exp" => x.exp(),
        "ln" => x.ln(),
        "sqrt" => x.sqrt(),
        "abs" => x.abs(),
        "log1p" => x.log1p(),
        "expm1" => x.expm1(),
        "square" => x.square(),
        "powf" => x.powf(c()),
        "add_scalar" => x + c(),
        "mul_scalar" => x * c(),
        "div_scalar" => x / c(),
        "scalar_sub" => c() - x,
        "scalar_div" => c() / x,
        "add" => x + y(),
        "sub" => x - y(),
        "mul" => x * y(),
        "div" => x / y(),
        "maximum" => x.maximum(y()),
        "minimum" => x.minimum(y()),
        "bce_with_logits" => tapegrad::loss::binary_cross_entropy_with_logits(x, y()),
        other => panic!("the fixture has an op tapegrad's test does not know: {other}"),
    }
}

/// Where tapegrad differs from PyTorch on purpose, as `(op, parameter, x, y, quantity)`; the
/// architecture chapter ("Special values") says why.
const KNOWN_DIFFERENCES: &[(&str, &str, &str, &str, &str)] = &[
    // σ(−745) = e⁻⁷⁴⁵ ≈ 5e-324, the smallest subnormal; PyTorch's 1 / (1 + e⁷⁴⁵) rounds to 0.
    ("sigmoid", "-", "-745.0", "-", "z"),
    ("sigmoid", "-", "-745.0", "-", "dz/dx"),
    ("sigmoid", "-", "-745.0", "-", "d2z/dx2"),
    ("softplus", "-", "-745.0", "-", "d2z/dx2"),
    // |x|′ at NaN: NaN in, NaN out (PyTorch's sign(NaN) is 0).
    ("abs", "-", "nan", "-", "dz/dx"),
    // (c / x)′ = −z / x is 0 for c = −0 and a tiny x, where PyTorch's −c / x² divides 0 by an
    // underflowed 0.
    ("scalar_div", "-0.0", "1e-300", "-", "dz/dx"),
    ("scalar_div", "-0.0", "1e-300", "-", "d2z/dx2"),
    ("scalar_div", "-0.0", "-1e-300", "-", "dz/dx"),
    ("scalar_div", "-0.0", "-1e-300", "-", "d2z/dx2"),
    // (−∞)ᵖ for p not an integer is NaN in both; PyTorch's derivatives there come from IEEE's
    // pow(−∞, p − 1) and are ±0, tapegrad's are NaN like the value.
    ("powf", "0.5", "-inf", "-", "d2z/dx2"),
    ("powf", "-0.5", "-inf", "-", "dz/dx"),
    ("powf", "-0.5", "-inf", "-", "d2z/dx2"),
    // The fused binary cross-entropy keeps the digits of a confident answer (Op::BceWithLogits):
    // e⁻⁷⁴⁵, e⁻⁴⁰, e⁻⁷¹⁰ where PyTorch rounds to 0.
    ("bce_with_logits", "-", "-745.0", "0.0", "z"),
    ("bce_with_logits", "-", "-745.0", "0.0", "dz/dx"),
    ("bce_with_logits", "-", "-745.0", "0.0", "d2z/dx2"),
    ("bce_with_logits", "-", "-40.0", "0.0", "z"),
    ("bce_with_logits", "-", "710.0", "1.0", "dz/dx"),
    ("bce_with_logits", "-", "-745.0", "1.0", "d2z/dx2"),
    ("bce_with_logits", "-", "40.0", "1.0", "dz/dx"),
    ("bce_with_logits", "-", "-745.0", "0.5", "d2z/dx2"),
    // A logit of −∞ against a target above 0 costs +∞, the limit; PyTorch gives NaN.
    ("bce_with_logits", "-", "-inf", "1.0", "z"),
    ("bce_with_logits", "-", "-inf", "0.5", "z"),
];

#[test]
fn every_elementwise_op_matches_pytorch_at_special_values_to_second_order() {
    let fixture = include_str!("fixtures/special_values.tsv");
    let mut differences = Vec::new();
    let mut pinned_seen = vec![false; KNOWN_DIFFERENCES.len()];
    let mut rows = 0;
    for line in fixture.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if REDUCTIONS.contains(&f[0]) {
            continue; // the next test's
        }
        let (op, p, x0, y0) = (f[0], number(f[1]), number(f[2]).unwrap(), number(f[3]));
        let tape = Tape::new();
        let x = tape.param(x0);
        let y = y0.map(|y0| tape.param(y0));
        let z = apply(op, p, x, y);
        let first = z.backward();
        let dz = z.grad(&[x])[0];
        let d2 = dz.grad(&[x])[0].value().item();
        let mut ours = vec![
            ("z", z.value().item()),
            ("dz/dx", first[x].item()),
            ("d2z/dx2", d2),
        ];
        if let Some(y) = y {
            ours.push(("dz/dy", first[y].item()));
        }
        // Var::grad agrees with backward() to the bit, special values included, but for
        // bce_with_logits, whose Var rule is the plain σ(x) − t.
        let (recorded, swept) = (dz.value().item(), first[x].item());
        assert!(
            op == "bce_with_logits" || recorded.to_bits() == swept.to_bits(),
            "{line}: {recorded:?} against {swept:?}"
        );
        for (i, (quantity, value)) in ours.into_iter().enumerate() {
            let Some(theirs) = number(f[4 + i]) else {
                continue;
            };
            if !agrees(value, theirs) {
                let key = (f[0], f[1], f[2], f[3], quantity);
                let known = KNOWN_DIFFERENCES.iter().position(|&pinned| pinned == key);
                if let Some(k) = known {
                    pinned_seen[k] = true;
                }
                if known.is_none() {
                    differences.push(format!(
                        "{op} p={} x={} y={}: {quantity} = {value:?}, PyTorch {theirs:?}",
                        f[1], f[2], f[3]
                    ));
                }
            }
        }
        rows += 1;
    }
    assert!(rows > 600, "the fixture has {rows} rows");
    let stale: Vec<_> = KNOWN_DIFFERENCES
        .iter()
        .zip(&pinned_seen)
        .filter(|(_, seen)| !**seen)
        .collect();
    assert!(
        stale.is_empty(),
        "pinned differences that no longer differ: {stale:?}"
    );
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

/// The reductions of the fixture, checked by the test below.
const REDUCTIONS: [&str; 6] = [
    "sum",
    "mean",
    "max_axis",
    "logsumexp",
    "log_softmax",
    "softmax",
];

/// A comma-separated vector of the fixture.
fn numbers(field: &str) -> Vec<f64> {
    field
        .split(',')
        .map(|x| number(x).expect("a number"))
        .collect()
}

#[test]
fn every_reduction_matches_pytorch_at_special_values() {
    let fixture = include_str!("fixtures/special_values.tsv");
    let mut differences = Vec::new();
    let mut rows = 0;
    for line in fixture.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if !REDUCTIONS.contains(&f[0]) {
            continue;
        }
        // An infinite logit: tapegrad's log-softmax gives the other classes their limit (−∞,
        // and softmax 0) and their gradients stay finite; PyTorch's are NaN (∞ − ∞ inside).
        if f[0].ends_with("softmax") && f[2].starts_with("inf") {
            let x = Tensor::from(numbers(f[2]));
            let tape = Tape::new();
            let z = tape.param(x).log_softmax(0).value();
            assert!(
                z.data()[0].is_nan() && z.data()[2] == f64::NEG_INFINITY,
                "{z:?}"
            );
            continue;
        }
        let tape = Tape::new();
        let x = tape.param(Tensor::from(numbers(f[2])));
        let z = match f[0] {
            "sum" => x.sum(),
            "mean" => x.mean(),
            "max_axis" => x.max_axis(0),
            "logsumexp" => x.logsumexp(0),
            "log_softmax" => x.log_softmax(0),
            "softmax" => x.softmax(0),
            other => unreachable!("{other}"),
        };
        // The gradient of Σ wᵢ·zᵢ, w = (1, 2, 3) for a vector z.
        let weights = if z.shape().is_empty() {
            Tensor::scalar(1.0)
        } else {
            Tensor::from([1.0, 2.0, 3.0])
        };
        let gradient = z.backward_with(weights)[x].clone();
        let pairs = [
            ("z", z.value().data().to_vec(), numbers(f[4])),
            ("gradient", gradient.data().to_vec(), numbers(f[5])),
        ];
        for (quantity, ours, theirs) in pairs {
            // Within 1e-15 absolutely too: a sum that cancels to 0 may keep an ulp of its terms.
            let close = |a: f64, b: f64| agrees(a, b) || (a - b).abs() <= 1e-15;
            if ours.len() != theirs.len() || ours.iter().zip(&theirs).any(|(&a, &b)| !close(a, b)) {
                differences.push(format!(
                    "{} x={}: {quantity} = {ours:?}, PyTorch {theirs:?}",
                    f[0], f[2]
                ));
            }
        }
        rows += 1;
    }
    assert!(rows >= 50, "the fixture has {rows} reduction rows");
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
