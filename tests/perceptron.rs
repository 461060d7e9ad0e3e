//! The article's § 8 perceptron, trained by `examples/perceptron.rs`, reproduces the article's
//! printed trace (`shared/seed/NOTES.md`) with exact f64 equality: the same numbers, to the bit,
//! including epoch 3's z₂ = −5.551115123125783e−17 that the step function turns into a decision.

// perceptron_sgd.rs includes perceptron.rs as `by_hand`; one copy serves both.
#[path = "../examples/perceptron_sgd.rs"]
mod perceptron_sgd;

mod common;

use perceptron_sgd::by_hand as perceptron;

use perceptron::{Epoch, summary, train};
use tapegrad::Tensor;

fn epoch(epoch: usize, z: [f64; 4], w: [f64; 2], b: f64, y: [f64; 4], loss: f64) -> Epoch {
    Epoch {
        epoch,
        z: Tensor::from(z),
        w: Tensor::from(w),
        b: Tensor::scalar(b),
        y: Tensor::from(y),
        loss,
    }
}

/// The article's trace, as Python printed it (repr: exact doubles).
fn article_trace() -> Vec<Epoch> {
    vec![
        epoch(
            0,
            [2.0, 0.0, -1.5, 0.5],
            [1.0, 1.0],
            0.0,
            [1.0, 0.0, 0.0, 1.0],
            0.5,
        ),
        epoch(
            1,
            [1.55, 0.44999999999999996, -1.05, 0.95],
            [0.55, 1.0],
            0.0,
            [1.0, 1.0, 0.0, 1.0],
            0.3875,
        ),
        epoch(
            2,
            [
                0.8750000000000001,
                0.22499999999999995,
                -0.9375000000000001,
                0.6125,
            ],
            [0.32500000000000007, 0.775],
            -0.225,
            [1.0, 1.0, 0.0, 1.0],
            0.21875000000000003,
        ),
        epoch(
            3,
            [
                0.20000000000000012,
                -5.551115123125783e-17,
                -0.8250000000000002,
                0.27499999999999997,
            ],
            [0.10000000000000006, 0.55],
            -0.45,
            [1.0, 0.0, 0.0, 1.0],
            0.050000000000000044,
        ),
        epoch(
            4,
            [
                -0.24999999999999994,
                0.45,
                -0.37500000000000006,
                0.7250000000000001,
            ],
            [-0.35, 0.55],
            -0.45,
            [0.0, 1.0, 0.0, 1.0],
            -0.0,
        ),
    ]
}

/// Compares bit patterns, so that 0.0 and −0.0 (the last loss) are told apart too.
fn bits(t: &Tensor) -> Vec<u64> {
    t.data().iter().map(|x| x.to_bits()).collect()
}

#[test]
fn the_trace_equals_the_articles_to_the_bit() {
    let trace = train();
    let expected = article_trace();
    assert_eq!(trace.len(), expected.len(), "epochs until the loss is 0");
    for (got, want) in trace.iter().zip(&expected) {
        let at = format!("epoch {}", want.epoch);
        assert_eq!(got.epoch, want.epoch);
        assert_eq!(bits(&got.z), bits(&want.z), "{at}: z = {:?}", got.z.data());
        assert_eq!(bits(&got.w), bits(&want.w), "{at}: w = {:?}", got.w.data());
        assert_eq!(bits(&got.b), bits(&want.b), "{at}: b = {:?}", got.b.data());
        assert_eq!(bits(&got.y), bits(&want.y), "{at}: y = {:?}", got.y.data());
        assert_eq!(
            got.loss.to_bits(),
            want.loss.to_bits(),
            "{at}: loss = {:?}",
            got.loss
        );
    }
    // The rounding artefact the article's note points at: not 0, so step(z₂) = 0.
    assert_eq!(trace[3].z.data()[1], -5.551115123125783e-17);
}

#[test]
fn the_model_kit_gives_the_same_trace_to_the_bit() {
    // examples/perceptron_sgd.rs: ParamStore + loss::perceptron + optim::Sgd.
    let by_hand = train();
    let with_kit = perceptron_sgd::train();
    assert_eq!(with_kit.len(), by_hand.len());
    for (got, want) in with_kit.iter().zip(&by_hand) {
        let at = format!("epoch {}", want.epoch);
        for (name, g, w) in [
            ("z", &got.z, &want.z),
            ("w", &got.w, &want.w),
            ("b", &got.b, &want.b),
            ("y", &got.y, &want.y),
        ] {
            assert_eq!(bits(g), bits(w), "{at}: {name} = {:?}", g.data());
        }
        assert_eq!(got.loss.to_bits(), want.loss.to_bits(), "{at}: loss");
    }
}

#[test]
fn the_example_closes_with_the_articles_result() {
    let trace = train();
    assert_eq!(
        summary(trace.last().unwrap()),
        "converged after 4 epochs: w = [-0.35, 0.55], b = -0.45"
    );
}

#[test]
fn backward_gives_the_articles_hand_derived_gradients() {
    // ∂L/∂w = −(t − y)·x / 4 and ∂L/∂b = −Σ(t − y) / 4, at epoch 0: t − y = [−1, 1, 0, 0].
    use tapegrad::Tape;
    let tape = Tape::new();
    let (x, t, w, b) = common::article_perceptron(&tape);
    let z = x.matmul(w) + b;
    let y = z.step();
    let loss = -((t - y) * z).mean();
    let grads = loss.backward();
    // −([−1, 1, 0, 0]·x) / 4 = −[−2, 0] / 4
    assert_eq!(grads[w], Tensor::from([0.5, 0.0]));
    // −(−1 + 1 + 0 + 0) / 4
    assert_eq!(grads[b], Tensor::scalar(0.0));

    // tapegrad::loss::perceptron is the same criterion: the same value and gradients, bit for bit.
    let kit = tapegrad::loss::perceptron(z, t);
    assert_eq!(kit.value().item().to_bits(), loss.value().item().to_bits());
    let kit_grads = kit.backward();
    assert_eq!((&kit_grads[w], &kit_grads[b]), (&grads[w], &grads[b]));
}
