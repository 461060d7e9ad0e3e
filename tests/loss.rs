//! The losses of `tapegrad::loss`: values against closed forms, gradients against closed forms
//! and against `gradcheck`'s finite differences, stability at extreme logits, and every panic.
//! (tests/reference_training.rs also trains with each of them against JAX.)

mod common;

use approx::assert_relative_eq;
use common::Rng;
use tapegrad::check::{GradCheckOptions, gradcheck};
use tapegrad::{Tape, Tensor, loss};

fn assert_gradcheck(
    name: &str,
    f: impl for<'t> Fn(&[tapegrad::Var<'t>]) -> tapegrad::Var<'t>,
    inputs: &[Tensor],
) {
    if let Err(e) = gradcheck(f, inputs, GradCheckOptions::default()) {
        panic!("{name}: {e}");
    }
}

#[test]
fn mse_is_the_mean_of_squared_errors() {
    let tape = Tape::new();
    let p = tape.param(Tensor::from([[1.0, 2.0], [3.0, -1.0]]));
    let t = tape.param(Tensor::from([[0.0, 2.0], [1.0, 1.0]]));
    let l = loss::mse(p, t);
    assert_eq!(l.value().item(), (1.0 + 0.0 + 4.0 + 4.0) / 4.0);
    let g = l.backward();
    assert_eq!(g[p].data(), &[0.5, 0.0, 1.0, -1.0]); // 2(p − t)/N
    assert_eq!(g[t].data(), &[-0.5, 0.0, -1.0, 1.0]);
}

#[test]
fn cross_entropy_gradient_is_softmax_minus_one_hot_over_n() {
    let mut rng = Rng::new(11);
    let logits = rng.tensor(&[5, 4], -3.0, 3.0);
    let targets = [3, 0, 1, 1, 2];
    let tape = Tape::new();
    let z = tape.param(logits.clone());
    let l = loss::cross_entropy(z, &targets);

    let mut want_loss = 0.0;
    let mut want_grad = vec![0.0; 20];
    for (row, &class) in targets.iter().enumerate() {
        let zs = &logits.data()[row * 4..row * 4 + 4];
        let norm: f64 = zs.iter().map(|z| z.exp()).sum();
        want_loss -= (zs[class].exp() / norm).ln() / 5.0;
        for c in 0..4 {
            let one_hot = if c == class { 1.0 } else { 0.0 };
            want_grad[row * 4 + c] = (zs[c].exp() / norm - one_hot) / 5.0;
        }
    }
    assert_relative_eq!(l.value().item(), want_loss, max_relative = 1e-14);
    let g = l.backward();
    assert_relative_eq!(
        g[z],
        Tensor::from_vec(want_grad, &[5, 4]).unwrap(),
        epsilon = 1e-15
    );
    assert_gradcheck(
        "cross_entropy",
        |v| loss::cross_entropy(v[0], &targets),
        &[logits],
    );
}

#[test]
fn cross_entropy_is_stable_for_huge_logits() {
    let tape = Tape::new();
    let z = tape.param(Tensor::from([[1000.0, 0.0], [-1000.0, 1000.0]]));
    let l = loss::cross_entropy(z, &[0, 0]);
    // Row 0 is certain and right (loss 0); row 1 is certain and wrong by 2000.
    assert_eq!(l.value().item(), 1000.0);
    assert_eq!(l.backward()[z].data(), &[0.0, 0.0, -0.5, 0.5]);
}

#[test]
fn cross_entropy_with_a_masked_class_stays_finite() {
    // A −∞ logit masks class 2 of row 0. The loss picks the target's log-probability with a
    // gather, so the −∞ of the masked class is never multiplied by 0 (a NaN before).
    let tape = Tape::new();
    let inf = f64::NEG_INFINITY;
    let z = tape.param(Tensor::from([[0.0, 0.0, inf], [1.0, 0.0, 0.0]]));
    let l = loss::cross_entropy(z, &[0, 2]);
    let e = 1f64.exp();
    // Row 0: −ln(1/2); row 1: −ln(1/(e + 2)).
    let want = (2f64.ln() + (e + 2.0).ln()) / 2.0;
    assert!((l.value().item() - want).abs() < 1e-15, "{:?}", l.value());
    let g = l.backward()[z].clone();
    // (softmax − one_hot) / 2, with softmax 0 at the masked class.
    assert_eq!(g.data()[..3], [(0.5 - 1.0) / 2.0, 0.25, 0.0]);
    assert!(g.is_finite(), "{g:?}");
    // A −∞ at the target costs +∞, as in PyTorch.
    assert_eq!(
        loss::cross_entropy(z, &[2, 0]).value().item(),
        f64::INFINITY
    );
}

#[test]
fn binary_cross_entropy_with_logits_matches_the_naive_formula_and_stays_finite() {
    let mut rng = Rng::new(12);
    let z = rng.tensor(&[3, 2], -4.0, 4.0);
    let t = Tensor::from([[1.0, 0.0], [0.25, 1.0], [0.0, 0.5]]);
    let tape = Tape::new();
    let (zv, tv) = (tape.param(z.clone()), tape.constant(t.clone()));
    let l = loss::binary_cross_entropy_with_logits(zv, tv);
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    let naive: f64 = z
        .data()
        .iter()
        .zip(t.data())
        .map(|(&z, &t)| -t * sigmoid(z).ln() - (1.0 - t) * (1.0 - sigmoid(z)).ln())
        .sum::<f64>()
        / 6.0;
    assert_relative_eq!(l.value().item(), naive, max_relative = 1e-13);
    let g = l.backward();
    for ((&gz, &z), &t) in g[zv].data().iter().zip(z.data()).zip(t.data()) {
        assert_relative_eq!(gz, (sigmoid(z) - t) / 6.0, max_relative = 1e-13);
    }
    assert_gradcheck(
        "binary_cross_entropy_with_logits",
        |v| loss::binary_cross_entropy_with_logits(v[0], v[1]),
        &[z, t],
    );

    // Where the naive formula takes ln 0, the fused one is exact; at z = 0 the gradient is ½ − t.
    let tape = Tape::new();
    let z = tape.param(Tensor::from([-800.0, 800.0, 0.0]));
    let t = tape.constant(Tensor::from([1.0, 0.0, 1.0]));
    let l = loss::binary_cross_entropy_with_logits(z, t);
    assert_eq!(l.value().item(), (800.0 + 800.0 + 2f64.ln()) / 3.0);
    assert_eq!(l.backward()[z].data(), &[-1.0 / 3.0, 1.0 / 3.0, -0.5 / 3.0]);
}

#[test]
fn binary_cross_entropy_keeps_its_digits_for_confident_answers() {
    // Exact: ln(1 + e^−|z|) for a right answer, |z| + that for a wrong one; ∂/∂z = σ(z) − t.
    for z in [15.0f64, 20.0, 25.0, 30.0, 40.0, 100.0] {
        for (logit, target) in [(z, 1.0), (-z, 0.0)] {
            let tape = Tape::new();
            let zv = tape.param(logit);
            let l = loss::binary_cross_entropy_with_logits(zv, tape.constant(target));
            let want = (-z).exp().ln_1p();
            assert_relative_eq!(l.value().item(), want, max_relative = 1e-15);
            let want_grad = if target == 1.0 {
                -1.0 / (1.0 + z.exp())
            } else {
                1.0 / (1.0 + z.exp())
            };
            assert_relative_eq!(l.backward()[zv].item(), want_grad, max_relative = 1e-15);
        }
    }
}

#[test]
fn hinge_counts_only_examples_inside_the_margin() {
    let tape = Tape::new();
    let s = tape.param(Tensor::from([2.0, 0.5, -0.5, -3.0]));
    let y = tape.constant(Tensor::from([1.0, 1.0, 1.0, -1.0]));
    let l = loss::hinge(s, y);
    // Margins y·s: 2 (outside), 0.5 (loss 0.5), −0.5 (loss 1.5), 3 (outside).
    assert_eq!(l.value().item(), (0.5 + 1.5) / 4.0);
    assert_eq!(l.backward()[s].data(), &[0.0, -0.25, -0.25, 0.0]);
    let mut rng = Rng::new(13);
    let scores = rng.tensor(&[6], -3.0, 3.0);
    let labels = Tensor::from([1.0, -1.0, 1.0, -1.0, -1.0, 1.0]);
    assert_gradcheck("hinge", |v| loss::hinge(v[0], v[1]), &[scores, labels]);
}

#[test]
fn perceptron_gradient_matches_finite_differences_away_from_the_boundary() {
    // With |z| ≥ 0.1 no step of the finite difference crosses z = 0, where step(z) jumps.
    let mut rng = Rng::new(15);
    let z = rng.away_from_zero(&[7], 0.1, 3.0);
    let t = Tensor::from([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0]);
    assert_gradcheck("perceptron", |v| loss::perceptron(v[0], v[1]), &[z, t]);
}

#[test]
fn mse_and_hinge_gradients_match_finite_differences_at_several_shapes() {
    let mut rng = Rng::new(14);
    for shape in [&[][..], &[5], &[3, 4], &[2, 2, 3]] {
        let p = rng.tensor(shape, -2.0, 2.0);
        let t = rng.tensor(shape, -2.0, 2.0);
        assert_gradcheck("mse", |v| loss::mse(v[0], v[1]), &[p.clone(), t.clone()]);
        let labels = t
            .data()
            .iter()
            .map(|&x| if x > 0.0 { 1.0 } else { -1.0 })
            .collect();
        let labels = Tensor::from_vec(labels, shape).unwrap();
        assert_gradcheck("hinge", |v| loss::hinge(v[0], v[1]), &[p, labels]);
    }
}

#[test]
#[should_panic(expected = "cross_entropy: target 3 at row 1 is out of range for 3 classes")]
fn cross_entropy_rejects_a_target_that_is_not_a_class() {
    let tape = Tape::new();
    let z = tape.param(Tensor::zeros(&[2, 3]));
    loss::cross_entropy(z, &[0, 3]);
}

#[test]
#[should_panic(expected = "cross_entropy: 3 targets for 2 rows of logits [2, 3]")]
fn cross_entropy_wants_one_target_per_row() {
    let tape = Tape::new();
    let z = tape.param(Tensor::zeros(&[2, 3]));
    loss::cross_entropy(z, &[0, 1, 2]);
}

#[test]
#[should_panic(expected = "cross_entropy: logits must be [examples, classes], got [3]")]
fn cross_entropy_wants_2d_logits() {
    let tape = Tape::new();
    let z = tape.param(Tensor::zeros(&[3]));
    loss::cross_entropy(z, &[0]);
}

#[test]
#[should_panic(
    expected = "mse: the two inputs must have the same shape (a loss never broadcasts), got [4, 1] and [4]"
)]
fn losses_refuse_to_broadcast() {
    let tape = Tape::new();
    let p = tape.param(Tensor::zeros(&[4, 1]));
    let t = tape.constant(Tensor::zeros(&[4]));
    loss::mse(p, t);
}
