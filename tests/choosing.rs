//! Elementwise ops that compare and choose, and the new elementwise functions, against closed
//! forms: values, gradients at ties and bounds, special values, and derivatives to third order.

use tapegrad::{Tape, Tensor, Var};

#[test]
fn maximum_and_minimum_split_ties_evenly() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([1.0, 2.0, 3.0, f64::NAN]));
    let y = tape.param(Tensor::from([3.0, 2.0, 1.0, 0.0]));
    let max = x.maximum(y);
    let min = x.minimum(y);
    assert_eq!(max.value().data()[..3], [3.0, 2.0, 3.0]);
    assert_eq!(min.value().data()[..3], [1.0, 2.0, 1.0]);
    assert!(max.value().data()[3].is_nan() && min.value().data()[3].is_nan());
    let g = max.backward_with(Tensor::from([1.0, 10.0, 100.0, 1.0]));
    assert_eq!(g[x].data()[..3], [0.0, 5.0, 100.0]);
    assert_eq!(g[y].data()[..3], [1.0, 5.0, 0.0]);
    let g = min.backward_with(Tensor::from([1.0, 10.0, 100.0, 1.0]));
    assert_eq!(g[x].data()[..3], [1.0, 5.0, 0.0]);
    assert_eq!(g[y].data()[..3], [0.0, 5.0, 100.0]);
    // The smaller operand gets nothing, even from an infinite upstream gradient (not inf · 0).
    let g = max.backward_with(Tensor::from([f64::INFINITY, 1.0, 1.0, 1.0]));
    assert_eq!((g[x].data()[0], g[y].data()[0]), (0.0, f64::INFINITY));
    let seed = tape.constant(Tensor::from([f64::INFINITY, 1.0, 1.0, 1.0]));
    let recorded = max.grad_with(seed, &[x, y]);
    assert_eq!(
        recorded[0].value().data()[0],
        0.0,
        "and so does the recorded rule"
    );
    // A broadcast operand collects its gradient from every element it was compared with.
    let zero = tape.param(Tensor::scalar(0.0));
    let relu = tape.param(Tensor::from([-1.0, 0.0, 2.0])).maximum(zero);
    assert_eq!(relu.sum().backward()[zero].item(), 1.0 + 0.5);
}

#[test]
fn clamp_passes_the_gradient_inside_the_bounds_included() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([-2.0, -1.0, 0.5, 1.0, 3.0, f64::NAN]));
    let c = x.clamp(-1.0, 1.0);
    let v = c.value();
    assert_eq!(v.data()[..5], [-1.0, -1.0, 0.5, 1.0, 1.0]);
    assert!(v.data()[5].is_nan());
    // PyTorch's rule: 1 where lo ≤ x ≤ hi, so at a bound too; 0 outside and at NaN.
    let g = c.sum().backward();
    assert_eq!(g[x], Tensor::from([0.0, 1.0, 1.0, 1.0, 0.0, 0.0]));
}

#[test]
fn comparisons_are_masks_without_gradient() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([[1.0, 2.0], [3.0, f64::NAN]]));
    let y = tape.param(Tensor::from([2.0, 2.0]));
    assert_eq!(x.gt(y).value(), Tensor::from([[0.0, 0.0], [1.0, 0.0]]));
    assert_eq!(x.lt(y).value(), Tensor::from([[1.0, 0.0], [0.0, 0.0]]));
    assert_eq!(x.ge(y).value(), Tensor::from([[0.0, 1.0], [1.0, 0.0]]));
    assert_eq!(x.le(y).value(), Tensor::from([[1.0, 1.0], [0.0, 0.0]]));
    assert_eq!(x.eq(y).value(), Tensor::from([[0.0, 1.0], [0.0, 0.0]]));
    let grads = (x.gt(y) * 5.0).sum().backward();
    assert!(grads.get(x).is_none() && grads.get(y).is_none());
    assert_eq!(x.gt(y).sum().grad(&[x])[0].value(), Tensor::zeros(&[2, 2]));
}

#[test]
fn where_chooses_values_and_routes_gradients_without_nan() {
    let tape = Tape::new();
    let scores = tape.param(Tensor::from([[0.0, 5.0], [1.0, 2.0]]));
    let causal = tape.constant(Tensor::from([[1.0, 0.0], [1.0, 1.0]]));
    let minus_inf = tape.constant(f64::NEG_INFINITY);
    let masked = Var::where_(causal, scores, minus_inf);
    let p = masked.softmax(-1);
    let value = p.value();
    assert_eq!(value.data()[..2], [1.0, 0.0]);
    let e = 1f64.exp();
    assert!((value.data()[2] - 1.0 / (1.0 + e)).abs() < 1e-16);
    // Row 0's only choice has softmax 1: nothing flows to it; the masked score gets exactly 0.
    let g = (p * tape.constant(Tensor::from([[1.0, 1.0], [1.0, 0.0]])))
        .sum()
        .backward();
    assert!(g[scores].is_finite(), "{:?}", g[scores]);
    assert_eq!(g[scores].data()[1], 0.0);
    // b's gradient is the unchosen part of the cotangent, a's the chosen part.
    let a = tape.param(Tensor::from([1.0, 2.0]));
    let b = tape.param(Tensor::from([3.0, 4.0]));
    let mask = tape.constant(Tensor::from([0.0, 1.0]));
    let g = mask.where_(a, b).backward_with(Tensor::from([10.0, 20.0]));
    assert_eq!(
        (g[a].clone(), g[b].clone()),
        (Tensor::from([0.0, 20.0]), Tensor::from([10.0, 0.0]))
    );
}

#[test]
fn log1p_and_expm1_keep_the_digits_of_small_arguments() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([1e-20, -1e-17, 1.0]));
    assert_eq!(x.log1p().value().data()[..2], [1e-20, -1e-17]);
    assert_eq!(x.expm1().value().data()[..2], [1e-20, -1e-17]);
    assert_eq!(x.log1p().value().data()[2], 2f64.ln());
    // log1p′ = 1/(1 + x), expm1′ = eˣ.
    let g = x.log1p().sum().backward();
    assert_eq!(g[x].data()[2], 0.5);
    let g = x.expm1().sum().backward();
    assert_eq!(g[x].data()[2], 1f64.exp_m1() + 1.0);
    assert_eq!(x.square().value().data()[2], 1.0);
    assert_eq!(x.square().sum().backward()[x].data()[2], 2.0);
}

#[test]
fn new_elementwise_ops_to_third_order() {
    let tape = Tape::new();
    let x0 = 0.7_f64;
    let x = tape.param(Tensor::scalar(x0));
    let derivatives = |y: Var| {
        let d1 = y.grad(&[x])[0];
        let d2 = d1.grad(&[x])[0];
        let d3 = d2.grad(&[x])[0];
        [d1, d2, d3].map(|d| d.value().item())
    };
    let u = 1.0 + x0;
    let e = x0.exp();
    let other = tape.constant(0.2);
    for (name, got, expected) in [
        (
            "log1p",
            derivatives(x.log1p()),
            [1.0 / u, -1.0 / (u * u), 2.0 / (u * u * u)],
        ),
        ("expm1", derivatives(x.expm1()), [e, e, e]),
        ("square", derivatives(x.square()), [2.0 * x0, 2.0, 0.0]),
        // Away from ties, maximum is the larger operand: here x, whose derivatives are 1, 0, 0.
        (
            "maximum",
            derivatives(x.maximum(other) * x),
            [2.0 * x0, 2.0, 0.0],
        ),
        (
            "minimum",
            derivatives(x.minimum(other) * x),
            [0.2, 0.0, 0.0],
        ),
        (
            "clamp",
            derivatives(x.clamp(0.0, 1.0).powf(3.0)),
            [3.0 * x0 * x0, 6.0 * x0, 6.0],
        ),
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
fn argmax_and_argmin_name_the_first_extreme() {
    let x = Tensor::from([[1.0, 5.0, 5.0], [7.0, -1.0, -1.0]]);
    assert_eq!(x.argmax(1), Tensor::from([1.0, 0.0]));
    assert_eq!(x.argmin(-1), Tensor::from([0.0, 1.0]));
    assert_eq!(x.argmax(0), Tensor::from([1.0, 0.0, 0.0]));
    let nan = Tensor::from([1.0, f64::NAN, 3.0]);
    assert_eq!(nan.argmax(0).item(), 1.0); // NaN is the maximum, as in numpy and PyTorch
    assert_eq!(nan.argmin(0).item(), 1.0);
}

#[test]
#[should_panic(expected = "argmax: axis 1 of shape [2, 0] is empty")]
fn argmax_of_an_empty_axis_panics() {
    let _ = Tensor::zeros(&[2, 0]).argmax(1);
}

#[test]
#[should_panic(expected = "where: shapes cannot be broadcast together: [2] and [3]")]
fn where_refuses_shapes_that_do_not_broadcast() {
    let tape = Tape::new();
    let m = tape.constant(Tensor::ones(&[2]));
    let _ = Var::where_(m, tape.param(Tensor::ones(&[3])), tape.param(0.0));
}
