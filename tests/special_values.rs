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
