//! The cases that used to fool `gradcheck`, each with what it now concludes: large magnitudes
//! (rounding), a kink closer to the point than the step, the domain's edge within the step,
//! strong curvature, gradients far below 1, and a model too large to check element by element.

use std::sync::atomic::{AtomicUsize, Ordering};
use tapegrad::check::{
    GradCheckOptions, Mode, Verdict, check_gradient_fn, gradcheck, gradgradcheck,
};
use tapegrad::{CustomOp, Tensor, Var};

/// `z = k·x` with a rule that says `dx = 1.5·k·g`: wrong by a factor at every magnitude.
struct Scale {
    k: f64,
}

impl CustomOp for Scale {
    fn name(&self) -> &'static str {
        "scale"
    }
    fn forward(&self, inputs: &[&Tensor]) -> Tensor {
        self.k * inputs[0]
    }
    fn backward(&self, _inputs: &[&Tensor], _z: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![1.5 * self.k * g]
    }
}

/// `Σ eˣ + Σ y²` at x = 14 and 20: the loss is 4.9·10⁸, so one evaluation rounds by about
/// 10⁻⁷ and a difference at h = 1e-6 by 0.1, against a gradient in `y` of about 1.
fn large<'t>(v: &[Var<'t>]) -> Var<'t> {
    v[0].exp().sum() + (v[1] * v[1]).sum()
}

fn large_inputs() -> [Tensor; 2] {
    [Tensor::from([14.0, 20.0]), Tensor::from([1.0, -0.5])]
}

#[test]
fn at_large_magnitudes_right_rules_pass_with_the_rounding_they_need() {
    let report = gradcheck(large, &large_inputs(), GradCheckOptions::default()).unwrap();
    assert_eq!(report.checked, 4);
    // The y elements needed a longer step than the first, where rounding swamped the difference.
    for d in &report.refined {
        assert_eq!(d.input, 1, "{report:?}");
        let Verdict::AgreesAtStep(step) = d.verdict else {
            panic!("{d:?}")
        };
        assert!(step > 1e-6, "{d:?}");
    }
    assert_eq!(report.refined.len(), 2);
}

#[test]
fn at_large_magnitudes_a_wrong_rule_is_still_named() {
    fn f<'t>(v: &[Var<'t>]) -> Var<'t> {
        let scaled = v[1].tape().custom(Scale { k: 2.0 }, &[v[1]]);
        v[0].exp().sum() + (scaled * v[1]).sum()
    }
    let error = gradcheck(f, &large_inputs(), GradCheckOptions::default()).unwrap_err();
    assert_eq!(error.culprit_node().expect("a culprit").site.op, "scale");
    assert!(error.worst.iter().all(|d| d.verdict == Verdict::Disagrees));
    // No node before it (the exp, the sums, the add of a 4.9·10⁸ term) is excused or blamed.
    assert!(error.unjudged.is_empty(), "{error}");
}

#[test]
fn gradients_far_below_one_are_checked_too() {
    // A rule wrong by 1.5 on a gradient of 2·10⁻⁸: no absolute tolerance hides it any more.
    fn f<'t>(v: &[Var<'t>]) -> Var<'t> {
        v[0].tape().custom(Scale { k: 2e-8 }, &[v[0]]).sum()
    }
    let error = gradcheck(f, &[Tensor::from([1.0, -3.0])], Default::default()).unwrap_err();
    assert_eq!(error.failed, 2);
    assert_eq!(error.culprit_node().unwrap().site.op, "scale");
    // The same function with a right rule passes.
    let report = gradcheck(
        |v| (v[0] * 2e-8).sum(),
        &[Tensor::from([1.0, -3.0])],
        Default::default(),
    );
    assert!(report.is_ok(), "{report:?}");
}

#[test]
fn a_kink_closer_than_the_step_is_not_a_wrong_rule() {
    // relu at 3e-7: the difference at h = 1e-6 straddles the kink at 0 and gives 0.65, the
    // rule (rightly) 1. At h = 1e-7 both sides are on the line, and they agree.
    let x = Tensor::from([3e-7, 0.5]);
    let report = gradcheck(|v| v[0].relu().sum(), &[x], Default::default()).unwrap();
    assert_eq!(report.refined.len(), 1);
    assert_eq!(report.refined[0].index, [0]);
    assert_eq!(report.refined[0].verdict, Verdict::AgreesAtStep(1e-7));
    assert!((report.refined[0].numeric - 1.0).abs() < 1e-9);
}

#[test]
fn exactly_at_a_kink_the_check_fails_without_blaming_the_op() {
    let x = Tensor::from([0.0, 0.5]);
    let error = gradcheck(|v| v[0].relu().sum(), &[x], Default::default()).unwrap_err();
    assert_eq!(error.failed, 1);
    assert_eq!(error.worst[0].verdict, Verdict::Kink);
    assert!(error.culprit_node().is_none(), "{error}");
    assert_eq!(error.unjudged_as(Verdict::Kink).len(), 1);
    assert_eq!(error.unjudged_as(Verdict::Kink)[0].op, "relu");
    assert!(error.to_string().contains("kink"), "{error}");
}

#[test]
fn near_the_domain_edge_the_step_shrinks_to_stay_inside() {
    // ln at 1e-4: at h = 1e-6 truncation is (h/x)²/3 = 3e-5 relative, a false alarm before;
    // at 1e-8 the step left the domain (ln of a negative number). Both pass now, at a step
    // that fits, and say which.
    for x in [1e-4, 1e-8] {
        let report = gradcheck(
            |v| v[0].ln().sum(),
            &[Tensor::from([x])],
            Default::default(),
        )
        .unwrap_or_else(|error| panic!("ln at {x}: {error}"));
        let Verdict::AgreesAtStep(step) = report.refined[0].verdict else {
            panic!("ln at {x}: {report:?}")
        };
        assert!(step <= x / 10.0, "ln at {x}: agreed at step {step}");
        assert!(
            (report.refined[0].numeric * x - 1.0).abs() < 1e-4,
            "{report:?}"
        );
    }
    // √ at exactly 0 has no finite difference inside its domain at any step: unresolved, and
    // √'s rule is not blamed for it.
    let error = gradcheck(
        |v| v[0].sqrt().sum(),
        &[Tensor::from([0.0])],
        Default::default(),
    )
    .unwrap_err();
    assert_eq!(error.worst[0].verdict, Verdict::Unresolved);
    assert!(error.culprit_node().is_none(), "{error}");
    assert_eq!(error.unjudged_as(Verdict::Unresolved).len(), 1, "{error}");
    assert_eq!(error.unjudged_as(Verdict::Unresolved)[0].op, "sqrt");
}

#[test]
fn the_step_scales_with_the_input() {
    // At x = 10¹², x ± 10⁻⁶ rounds back to x (0/0 before): the step must grow with |x| to
    // move at all. At 10⁶ it is 1, and the quotient is exact for a square.
    let x = Tensor::from([1e12, -3e9]);
    let report = gradcheck(|v| (v[0] * v[0]).sum(), &[x], Default::default()).unwrap();
    assert!(report.max_rel_error < 1e-6, "{report:?}");
    assert_eq!(report.worst.unwrap().step, 3e9 * 1e-6);
}

#[test]
fn hand_written_gradients_get_the_same_verdicts() {
    // ln near 0 and a wrong rule far below 1, as above, without a tape.
    let value = |x: &Tensor| x.data().iter().map(|x| x.ln()).sum::<f64>();
    let gradient = |x: &Tensor| x.map(|x| 1.0 / x);
    let at = Tensor::from([1e-8, 2.0]);
    assert!(check_gradient_fn(value, gradient, &at, Default::default()).is_ok());
    let value = |x: &Tensor| 2e-8 * x.sum();
    let wrong = |x: &Tensor| x.map(|_| 3e-8);
    let error = check_gradient_fn(value, wrong, &at, Default::default()).unwrap_err();
    assert_eq!(error.failed, 2);
}

/// A model with n² parameters: `mean(tanh(X·W))` with W of n × n and X a 4 × n batch.
fn model<'t>(v: &[Var<'t>]) -> Var<'t> {
    let n = v[0].shape()[0];
    let x = Tensor::from_fn(&[4, n], |i| ((i % 13) as f64 - 6.0) / 20.0);
    v[0].tape().constant(x).matmul(v[0]).tanh().mean()
}

fn weights(n: usize) -> Tensor {
    Tensor::from_fn(&[n, n], |i| ((i * 7919 % 201) as f64 - 100.0) / 500.0)
}

#[test]
fn the_directional_mode_checks_10k_parameters_in_a_few_evaluations() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    fn f<'t>(v: &[Var<'t>]) -> Var<'t> {
        CALLS.fetch_add(1, Ordering::Relaxed);
        model(v)
    }
    let fast = GradCheckOptions::default().with_mode(Mode::Directional {
        projections: 2,
        seed: 0,
    });
    let report = gradcheck(f, &[weights(100)], fast).unwrap();
    assert_eq!(report.checked, 2, "one comparison per direction");
    // One recording for the gradient and two evaluations per direction, not 2·10⁴.
    assert_eq!(CALLS.load(Ordering::Relaxed), 1 + 2 * 2);
}

#[test]
fn the_directional_mode_falls_back_to_elements_and_names_the_wrong_node() {
    fn f<'t>(v: &[Var<'t>]) -> Var<'t> {
        let w = v[0].tape().custom(Scale { k: 1.0 }, &[v[0]]);
        model(&[w])
    }
    let fast = GradCheckOptions::default().with_mode(Mode::Directional {
        projections: 1,
        seed: 0,
    });
    let error = gradcheck(f, &[weights(20)], fast).unwrap_err();
    assert_eq!(error.checked, 400, "the elementwise check took over");
    assert_eq!(error.culprit_node().unwrap().site.op, "scale");
}

#[test]
#[should_panic(expected = "gradcheck: Mode::Directional needs at least one projection")]
fn a_directional_check_without_directions_is_refused() {
    let none = GradCheckOptions::default().with_mode(Mode::Directional {
        projections: 0,
        seed: 0,
    });
    let _ = gradcheck(|v| v[0].sum(), &[Tensor::from([1.0])], none);
}

#[test]
fn second_derivatives_at_large_magnitudes_pass_too() {
    let report = gradgradcheck(large, &large_inputs(), GradCheckOptions::default());
    assert!(report.is_ok(), "{report:?}");
}

#[test]
fn second_derivatives_at_a_kink_blame_no_op() {
    // relu(x)² has f″ = 2 for x > 0 and 0 for x < 0: at x = 0 the gradient has a kink, which
    // gradgradcheck reports without naming relu or mul.
    let x = Tensor::from([0.0, 1.5]);
    let error = gradgradcheck(
        |v| (v[0].relu() * v[0].relu()).sum(),
        &[x],
        Default::default(),
    )
    .unwrap_err();
    assert_eq!(error.failed, 1);
    assert_eq!(error.worst[0].verdict, Verdict::Kink);
    assert!(error.culprit_node().is_none(), "{error}");
}
