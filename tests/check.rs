//! `tapegrad::check`: gradcheck passes right gradients at the default tolerances, catches wrong
//! ones, names the node whose rule is wrong and the line that recorded it, and prints a report
//! a person can read; the finite-difference and Jacobian helpers give the matrices of the math.

use approx::{assert_relative_eq, assert_relative_ne};
use std::cell::Cell;
use tapegrad::check::{
    Cotangent, Culprit, GradCheckOptions, Localize, Verdict, check_gradient_fn, gradcheck,
    jacobian, numeric_grad, numeric_jacobian,
};
use tapegrad::{CustomOp, NodeId, Tape, Tensor, Var};

/// An elementwise custom op `z = f(x)` whose backward rule is `dx = g ⊙ df(x)`: right when
/// `df` is f′, and a known-wrong rule otherwise.
struct Elementwise {
    name: &'static str,
    f: fn(f64) -> f64,
    df: fn(f64) -> f64,
}

impl CustomOp for Elementwise {
    fn name(&self) -> &'static str {
        self.name
    }
    fn forward(&self, inputs: &[&Tensor]) -> Tensor {
        inputs[0].map(self.f)
    }
    fn backward(&self, inputs: &[&Tensor], _z: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g * &inputs[0].map(self.df)]
    }
}

/// Functions with their right derivative and a plausible wrong one (a slip someone makes).
#[allow(clippy::type_complexity)]
const RULES: [(&str, fn(f64) -> f64, fn(f64) -> f64, fn(f64) -> f64); 6] = [
    ("cube", |x| x * x * x, |x| 3.0 * x * x, |x| 2.0 * x * x),
    (
        "softplus",
        |x| x.exp().ln_1p(),
        |x| 1.0 / (1.0 + (-x).exp()),
        |x| x.exp(),
    ),
    ("sin", f64::sin, f64::cos, |x| -x.cos()),
    (
        "gauss",
        |x| (-x * x).exp(),
        |x| -2.0 * x * (-x * x).exp(),
        |x| -x * (-x * x).exp(),
    ),
    (
        "recip1p",
        |x| 1.0 / (1.0 + x * x),
        |x| -2.0 * x / (1.0 + x * x).powi(2),
        |x| -2.0 * x / (1.0 + x * x),
    ),
    (
        "swish",
        |x| x / (1.0 + (-x).exp()),
        |x| {
            let s = 1.0 / (1.0 + (-x).exp());
            s + x * s * (1.0 - s)
        },
        |x| 1.0 / (1.0 + (-x).exp()),
    ),
];

/// The inputs of [`model`]: x [3, 4], W [4, 2], b [2].
fn model_inputs() -> [Tensor; 3] {
    [
        Tensor::from([
            [0.5, -1.0, 2.0, 0.1],
            [1.5, 0.3, -0.7, -0.2],
            [0.0, 0.8, 0.4, -1.1],
        ]),
        Tensor::from([[0.2, -0.4], [0.7, 0.1], [-0.3, 0.5], [0.6, -0.8]]),
        Tensor::from([0.1, -0.2]),
    ]
}

/// A layer and a loss around `op`: `logsumexp(op(tanh(x·W + b)) ⊙ W₀ ...)`, a dozen nodes on
/// either side of the custom one. Writes the custom node's id and line into `seen`.
fn model<'t>(v: &[Var<'t>], op: &Elementwise, seen: &Cell<Option<(NodeId, u32)>>) -> Var<'t> {
    let (x, w, b) = (v[0], v[1], v[2]);
    let hidden = (x.matmul(w) + b).tanh();
    let scaled = hidden * 0.8 + 0.1;
    let line = line!() + 1;
    let activated = x.tape().custom(Elementwise { ..*op }, &[scaled]);
    seen.set(Some((activated.id(), line)));
    let logits = activated.matmul(w.transpose()) - x.mean_axis(1).reshape(&[3, 1]);
    (logits.logsumexp(1) - logits.mean_axis(1)).mean() + (w * w).sum() * 0.01
}

#[test]
fn right_rules_pass_and_wrong_ones_are_caught_and_localized() {
    for (name, f, df, wrong) in RULES {
        let seen = Cell::new(None);
        let right = Elementwise { name, f, df };
        let report = gradcheck(
            |v| model(v, &right, &seen),
            &model_inputs(),
            Default::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: the right rule must pass\n{e}"));
        assert_eq!(
            report.checked,
            12 + 8 + 2,
            "{name}: every element of x, W, b"
        );
        assert!(report.max_rel_error < 1e-6, "{name}: {report}");

        let slip = Elementwise { name, f, df: wrong };
        let error = gradcheck(
            |v| model(v, &slip, &seen),
            &model_inputs(),
            Default::default(),
        )
        .expect_err(name);
        let (node, line) = seen.get().unwrap();
        let fault = error
            .culprit_node()
            .unwrap_or_else(|| panic!("{name}: no node blamed\n{error}"));
        assert_eq!(
            fault.site.node, node,
            "{name}: the custom node, not another\n{error}"
        );
        assert_eq!(fault.site.op, name);
        assert_eq!(fault.site.inputs.len(), 1);
        assert_eq!(fault.site.inputs[0].1, [3, 2], "its input's shape");
        assert_eq!(fault.site.location.file(), file!());
        assert_eq!(
            fault.site.location.line(),
            line,
            "the line that recorded it"
        );
        assert!(fault.failed > 0 && fault.failed <= fault.checked);
        assert!(error.unjudged_as(Verdict::Kink).is_empty());
    }
}

#[test]
fn built_in_graphs_pass_at_the_default_tolerances() {
    let x = Tensor::from([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]]);
    let y = Tensor::from([[0.9, 0.2, -0.4], [0.1, 1.1, 0.6]]);
    let p = Tensor::from([0.3, 1.7, 2.2]);
    #[allow(clippy::type_complexity)]
    let cases: [(&str, for<'t> fn(&[Var<'t>]) -> Var<'t>); 9] = [
        ("mlp", |v| {
            (v[0].matmul(v[1].transpose()).relu() + 0.5).ln().sum()
        }),
        ("softmax", |v| (v[0].softmax(1) * v[1]).sum()),
        ("log_softmax", |v| (v[0].log_softmax(0) * v[1]).mean()),
        ("logsumexp", |v| {
            v[0].logsumexp(1).sum() + v[1].logsumexp(0).mean()
        }),
        ("max_axis", |v| (v[0] * v[1]).max_axis(1).sum()),
        ("broadcast div", |v| {
            (v[0] / (v[1] * v[1] + 1.0)).sum_axis(0).sigmoid().sum()
        }),
        ("powf sqrt", |v| {
            ((v[0] * v[0] + 1.0).powf(1.5) + (v[1] * v[1] + 2.0).sqrt()).mean()
        }),
        ("reshape", |v| {
            v[0].reshape(&[3, 2]).matmul(v[1]).abs().sum()
        }),
        ("broadcast_to", |v| {
            (v[0].sum_axis(0).broadcast_to(&[2, 3]) * v[1].exp()).sum()
        }),
    ];
    for (name, f) in cases {
        let report = gradcheck(f, &[x.clone(), y.clone()], Default::default())
            .unwrap_or_else(|e| panic!("{name}\n{e}"));
        assert_eq!(report.checked, 12, "{name}");
    }
    let report = gradcheck(|v| (v[0].ln() * v[0]).sum(), &[p], Default::default()).unwrap();
    assert_eq!(report.checked, 3);
}

/// `z = 2x`, with the backward rule of `3x`.
struct Double;
impl CustomOp for Double {
    fn name(&self) -> &'static str {
        "double"
    }
    fn forward(&self, inputs: &[&Tensor]) -> Tensor {
        2.0 * inputs[0]
    }
    fn backward(&self, _inputs: &[&Tensor], _z: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![3.0 * g]
    }
}

#[test]
fn the_report_is_a_table_of_the_worst_elements_then_the_node() {
    let line = Cell::new(0);
    let x = Tensor::from([[1.0, 2.0], [3.0, 4.0]]);
    let y = Tensor::from([1.0, -1.0]);
    let error = gradcheck(
        |v| {
            line.set(line!() + 1);
            let doubled = v[0].tape().custom(Double, &[v[0]]);
            (doubled * v[1]).sum()
        },
        &[x, y],
        GradCheckOptions::default(),
    )
    .unwrap_err();
    // d/dx of Σ 2x ⊙ y is 2y, but the rule gives 3y: each x element is off by |y| = 1.
    // d/dy is 2x, right whatever the rule says about x.
    let expected = format!(
        "\
gradcheck failed: 4 of 6 gradient elements disagree with central finite differences
(step 1e-6·max(1, |x|); an element passes when |analytic − numeric| ≤ 1e-5·max(|analytic|, |numeric|) + rounding, at that step or another)

  input  index         analytic         numeric  abs error  rel error  verdict
      0  [0, 0]      3.000000e0      2.000000e0      1.0e0     3.3e-1  wrong
      0  [0, 1]     -3.000000e0     -2.000000e0      1.0e0     3.3e-1  wrong
      0  [1, 0]      3.000000e0      2.000000e0      1.0e0     3.3e-1  wrong
      0  [1, 1]     -3.000000e0     -2.000000e0      1.0e0     3.3e-1  wrong

The first node whose own derivative rule is wrong (checked alone, at the inputs the forward pass gave it):
  n2 = double(n0: [2, 2]), recorded at {}:{}:",
        file!(),
        line.get()
    );
    let report = error.to_string();
    assert!(
        report.starts_with(&expected),
        "got:\n{report}\nexpected it to start with:\n{expected}"
    );
    let mut rest = report[expected.len()..].lines();
    let column = rest.next().unwrap();
    assert!(column.parse::<u32>().is_ok(), "a column number: {column}");
    assert_eq!(
        rest.next().unwrap(),
        "    arg  index         analytic         numeric  abs error  rel error  verdict"
    );
    // The node's own table: its cotangent is random, so its values are; its shape is not.
    let node_rows = rest.collect::<Vec<_>>();
    assert_eq!(node_rows.len(), 4, "{report}");
    assert!(
        node_rows
            .iter()
            .all(|row| row.trim_start().starts_with("0  ["))
    );
    let fault = error.culprit_node().unwrap();
    assert_eq!((fault.checked, fault.failed), (4, 4));
    for d in &fault.worst {
        assert_relative_eq!(d.analytic / d.numeric, 1.5, max_relative = 1e-8);
    }
}

#[test]
fn kinks_before_the_culprit_are_noted_not_blamed() {
    // relu(relu(x)): the outer relu sees exact zeros where x < 0, a kink where finite
    // differences give ½ and the rule (rightly, by convention) 0. The culprit comes later.
    fn f<'t>(v: &[Var<'t>]) -> Var<'t> {
        let r = v[0].relu().relu();
        v[0].tape().custom(Double, &[r]).sum()
    }
    let error = gradcheck(f, &[Tensor::from([-1.0, 2.0])], Default::default()).unwrap_err();
    assert_eq!(error.culprit_node().unwrap().site.op, "double");
    assert_eq!(error.unjudged_as(Verdict::Kink).len(), 1, "{error}");
    assert_eq!(error.unjudged_as(Verdict::Kink)[0].op, "relu");
    assert_eq!(
        error.unjudged_as(Verdict::Kink)[0].node,
        error.culprit_node().unwrap().site.inputs[0].0
    );
    assert!(error.to_string().contains("not differentiable"), "{error}");
}

#[test]
fn when_every_rule_is_right_no_node_is_blamed() {
    // x ⊙ constant(x): the second factor is cut from the graph, so reverse mode gives x
    // while finite differences (which move both) give 2x. No single op is wrong.
    fn f<'t>(v: &[Var<'t>]) -> Var<'t> {
        (v[0] * v[0].tape().constant(v[0].value())).sum()
    }
    let error = gradcheck(f, &[Tensor::from([1.0, 2.0])], Default::default()).unwrap_err();
    assert_eq!(error.culprit, Culprit::NoneFound);
    assert!(
        error.to_string().contains("no single op is to blame"),
        "{error}"
    );
    // Both elements are off by the same factor, so they rank equal and read in index order.
    assert_eq!(error.worst[1].analytic, 2.0);
    assert_relative_eq!(error.worst[1].numeric, 4.0, max_relative = 1e-9);

    let options = GradCheckOptions::default().with_localize(Localize::Off);
    let error = gradcheck(f, &[Tensor::from([1.0, 2.0])], options).unwrap_err();
    assert_eq!(error.culprit, Culprit::NotSearched);
}

#[test]
fn outputs_of_any_shape_are_checked_through_a_cotangent() {
    let x = Tensor::from([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]]);
    fn f<'t>(v: &[Var<'t>]) -> Var<'t> {
        v[0].softmax(1)
    }
    let random = GradCheckOptions::default().with_cotangent(Cotangent::Random { seed: 3 });
    assert_eq!(
        gradcheck(f, std::slice::from_ref(&x), random)
            .unwrap()
            .checked,
        6
    );
    // A cotangent of ones sees nothing: softmax rows sum to 1, so Σ softmax is constant.
    let ones = GradCheckOptions::default().with_cotangent(Cotangent::Given(Tensor::ones(&[2, 3])));
    let report = gradcheck(f, &[x], ones).unwrap();
    assert!(report.max_abs_error < 1e-9);
}

#[test]
#[should_panic(
    expected = "gradcheck: the output has shape [3], but Cotangent::One needs a single element"
)]
fn a_vector_output_without_a_cotangent_panics() {
    let _ = gradcheck(|v| v[0].exp(), &[Tensor::zeros(&[3])], Default::default());
}

#[test]
fn a_coarse_step_is_refined_not_blamed() {
    // f = Σ x³ has third derivative 6: the central difference is off by h²·6/6 = h² per
    // element, 1e-12 at h = 1e-6 but 1e-4 at h = 1e-2 (4e-4 at x = 2, whose step scales to
    // 2e-2), which rtol = 1e-5 does not allow. The second look agrees at a step ten times
    // smaller, and says so in the report.
    fn f<'t>(v: &[Var<'t>]) -> Var<'t> {
        (v[0] * v[0] * v[0]).sum()
    }
    let x = [Tensor::from([1.0, 2.0])];
    let report = gradcheck(f, &x, Default::default()).unwrap();
    assert!(report.refined.is_empty());
    let coarse = GradCheckOptions::default().with_step(1e-2);
    let report = gradcheck(f, &x, coarse.clone()).unwrap();
    let steps: Vec<Verdict> = report.refined.iter().map(|d| d.verdict).collect();
    assert_eq!(
        steps,
        [Verdict::AgreesAtStep(1e-3), Verdict::AgreesAtStep(2e-3)]
    );
    assert_relative_eq!(report.refined[1].abs_error, 4e-6, max_relative = 1e-6);
    assert!(
        report
            .to_string()
            .contains("2 of them only at another step"),
        "{report}"
    );
    // Tolerances loose enough for the first step's error accept it as it is.
    let report = gradcheck(f, &x, coarse.with_tolerances(1e-3, 0.0)).unwrap();
    assert!(report.refined.is_empty());
    assert_relative_eq!(report.max_abs_error, 4e-4, max_relative = 1e-6);
}

#[test]
fn check_gradient_fn_checks_hand_written_gradients() {
    // f(x, y) = x² y + sin y, packed as one tensor [x, y]: ∇f = [2xy, x² + cos y].
    let value = |p: &Tensor| {
        let (x, y) = (p.data()[0], p.data()[1]);
        x * x * y + y.sin()
    };
    let right = |p: &Tensor| {
        let (x, y) = (p.data()[0], p.data()[1]);
        Tensor::from([2.0 * x * y, x * x + y.cos()])
    };
    let wrong = |p: &Tensor| {
        let (x, y) = (p.data()[0], p.data()[1]);
        Tensor::from([2.0 * x * y, x * x - y.cos()])
    };
    let at = Tensor::from([1.5, 0.5]);
    let report = check_gradient_fn(value, right, &at, Default::default()).unwrap();
    assert_eq!(report.checked, 2);
    let error = check_gradient_fn(value, wrong, &at, Default::default()).unwrap_err();
    assert_eq!(
        (error.failed, error.worst[0].index.as_slice()),
        (1, &[1][..])
    );
    assert_relative_eq!(
        error.worst[0].abs_error,
        2.0 * 0.5f64.cos(),
        max_relative = 1e-8
    );
    assert_eq!(error.culprit, Culprit::NotSearched);
}

#[test]
#[should_panic(
    expected = "check_gradient_fn: the gradient function returned shape [1] at a point of shape [2]"
)]
fn a_gradient_of_the_wrong_shape_panics() {
    let _ = check_gradient_fn(
        |x| x.sum(),
        |_| Tensor::from([1.0]),
        &Tensor::zeros(&[2]),
        Default::default(),
    );
}

#[test]
fn jacobians_have_the_output_shape_then_the_input_shape() {
    let x = Tensor::from([[0.5, -1.0], [2.0, 0.3]]);
    // y = tanh(x)·1 along axis 1 (shape [2]): ∂yᵢ/∂xₖₗ = [i = k]·(1 − tanh² xₖₗ).
    fn f(x: Var<'_>) -> Var<'_> {
        x.tanh().sum_axis(1)
    }
    let exact = jacobian(f, &x);
    let numeric = numeric_jacobian(f, &x);
    assert_eq!(exact.shape(), &[2, 2, 2]);
    let d = |x: f64| 1.0 - x.tanh().powi(2);
    let expected = Tensor::from_vec(
        vec![d(0.5), d(-1.0), 0.0, 0.0, 0.0, 0.0, d(2.0), d(0.3)],
        &[2, 2, 2],
    )
    .unwrap();
    assert_relative_eq!(exact, expected, max_relative = 1e-15);
    assert_relative_eq!(numeric, expected, epsilon = 1e-9);

    let g = numeric_grad(|x| (x * x).sum(), &x);
    assert_relative_eq!(g, 2.0 * &x, epsilon = 1e-8);
    assert_eq!(jacobian(|x| (x * x).sum(), &x), 2.0 * &x);
}

#[test]
#[should_panic(expected = "numeric_grad: the function returned shape [2], not a single element")]
fn numeric_grad_of_a_vector_output_panics() {
    let _ = numeric_grad(|x| x.exp(), &Tensor::zeros(&[2]));
}

#[test]
fn gradients_compare_with_approx() {
    let tape = Tape::new();
    let w = tape.param(Tensor::from([[1.0, 2.0], [3.0, 4.0]]));
    let grads = (w * w).sum().backward();
    let expected = Tensor::from([[2.0, 4.0], [6.0, 8.0]]);
    assert_relative_eq!(grads[w], expected, max_relative = 1e-9);
    assert_relative_eq!(grads[w], &expected * (1.0 + 1e-12), max_relative = 1e-9);
    assert_relative_ne!(grads[w], &expected * (1.0 + 1e-6), max_relative = 1e-9);
    // Another shape with the same elements is a different tensor, not a panic.
    assert_relative_ne!(grads[w], expected.reshape(&[4]), max_relative = 1.0);
    assert_relative_ne!(grads[w], expected.reshape(&[2, 2, 1]), epsilon = 1e9);
}

#[test]
fn an_exact_match_is_never_the_worst_element_even_with_no_absolute_tolerance() {
    // d/dx Σx² = 2x: exactly 0 at x = 0 by both methods, which with atol = 0 used to divide
    // 0 by 0 and rank that perfect element worst.
    let x = Tensor::from([0.0, 0.1]);
    let options = GradCheckOptions::default().with_tolerances(0.0, 1e-5);
    let report = gradcheck(|v| (v[0] * v[0]).sum(), &[x], options).unwrap();
    assert_eq!(report.worst.unwrap().index, vec![1]);
}

#[test]
fn a_step_outside_the_domain_is_not_blamed_on_the_op() {
    // √x at x = 0: x − h leaves the domain, so the numeric derivative is NaN. The check fails
    // there, but √'s own rule is right, so no node may be blamed for it.
    let x = Tensor::from([0.0, 4.0]);
    let error = gradcheck(|v| v[0].sqrt().sum(), &[x], GradCheckOptions::default()).unwrap_err();
    assert!(error.culprit_node().is_none(), "{error}");
}

/// Runs `gradcheck` of Σx² at [1, 2] with `options`, for the bad-option tests below.
fn square_sum_check(options: GradCheckOptions) {
    let _ = gradcheck(
        |v| (v[0] * v[0]).sum(),
        &[Tensor::from([1.0, 2.0])],
        options,
    );
}

#[test]
#[should_panic(
    expected = "gradcheck: the finite-difference step must be finite and positive, got 0"
)]
fn a_step_of_zero_is_refused() {
    square_sum_check(GradCheckOptions::default().with_step(0.0));
}

#[test]
#[should_panic(
    expected = "gradcheck: the finite-difference step must be finite and positive, got -0.001"
)]
fn a_negative_step_is_refused() {
    square_sum_check(GradCheckOptions::default().with_step(-1e-3));
}

#[test]
#[should_panic(expected = "gradcheck: atol must be finite and not negative, got NaN")]
fn a_nan_tolerance_is_refused_rather_than_passing_everything() {
    square_sum_check(GradCheckOptions::default().with_tolerances(f64::NAN, 1e-6));
}

#[test]
#[should_panic(expected = "gradcheck: rtol must be finite and not negative, got inf")]
fn an_infinite_tolerance_is_refused() {
    square_sum_check(GradCheckOptions::default().with_tolerances(1e-8, f64::INFINITY));
}

#[test]
#[should_panic(
    expected = "gradcheck: the inputs hold no element, so there is no gradient to check"
)]
fn an_input_with_nothing_to_check_says_so_instead_of_passing() {
    let _ = gradcheck(
        |v| v[0].sum(),
        &[Tensor::zeros(&[0])],
        GradCheckOptions::default(),
    );
}

#[test]
#[should_panic(
    expected = "gradgradcheck: the finite-difference step must be finite and positive, got NaN"
)]
fn gradgradcheck_validates_its_options_too() {
    let _ = tapegrad::check::gradgradcheck(
        |v| (v[0] * v[0] * v[0]).sum(),
        &[Tensor::from([1.0])],
        GradCheckOptions::default().with_step(f64::NAN),
    );
}

#[test]
#[should_panic(expected = "check_gradient_fn: the point holds no element")]
fn check_gradient_fn_refuses_an_empty_point() {
    let _ = check_gradient_fn(
        |x| x.sum(),
        |x| x.clone(),
        &Tensor::zeros(&[0]),
        GradCheckOptions::default(),
    );
}
