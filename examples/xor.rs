//! A 2-4-1 MLP learns XOR: the smallest problem a single perceptron cannot solve.
//!
//! Run it with `cargo run --example xor`. It prints the model summary, the loss every
//! 100 epochs, and the final predictions, which round to the XOR truth table. The model is
//! `tapegrad::nn::Mlp` with tanh hidden units, the loss binary cross-entropy on the output
//! logit, the optimizer Adam; the whole run is seeded, so it prints the same numbers every time.

use tapegrad::nn::{self, Activation, Mlp};
use tapegrad::optim::{Adam, Optimizer};
use tapegrad::{ParamStore, Tape, Tensor, loss};

/// The four XOR inputs and their labels.
pub fn data() -> (Tensor, Tensor) {
    let x = Tensor::from([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]);
    let t = Tensor::from([[0.0], [1.0], [1.0], [0.0]]);
    (x, t)
}

/// What a run produced: the trained store, the loss of every epoch, and the final
/// probabilities σ(output) of the four inputs.
pub struct Run {
    pub store: ParamStore,
    pub losses: Vec<f64>,
    pub probabilities: Vec<f64>,
}

/// Trains for `epochs` full-batch Adam steps from weights drawn with `seed`.
pub fn train(seed: u64, epochs: usize) -> Run {
    let (x, t) = data();
    let mut store = ParamStore::new();
    let mlp = Mlp::new(
        &mut store,
        "mlp",
        &[2, 4, 1],
        Activation::Tanh,
        &mut nn::seeded_rng(seed),
    );
    let mut adam = Adam::new(0.05);
    let mut tape = Tape::new();
    let mut losses = Vec::with_capacity(epochs);
    for _ in 0..epochs {
        // One call: the loss on the tape, the backward pass, Adam's update in place.
        losses.push(adam.minimize(&mut store, &mut tape, |p| {
            let logits = mlp.forward(p, p.tape().constant(x.clone()));
            loss::binary_cross_entropy_with_logits(logits, p.tape().constant(t.clone()))
        }));
    }
    let p = store.on_tape(&tape);
    let probabilities = mlp.forward(&p, tape.constant(x)).sigmoid().value().to_vec();
    drop(p);
    Run {
        store,
        losses,
        probabilities,
    }
}

#[allow(dead_code)] // the integration test includes this file and does not call main
fn main() {
    let run = train(7, 500);
    print!("{}", run.store.summary());
    for (epoch, loss) in run.losses.iter().enumerate().step_by(100) {
        println!("epoch {epoch:3}: loss {loss:.6}");
    }
    println!(
        "epoch {:3}: loss {:.6}",
        run.losses.len() - 1,
        run.losses.last().unwrap()
    );
    let (x, t) = data();
    for (i, p) in run.probabilities.iter().enumerate() {
        let (a, b) = (x.data()[2 * i], x.data()[2 * i + 1]);
        println!("{a} xor {b} = {} (p = {p:.4})", u8::from(*p > 0.5));
        assert_eq!(f64::from(u8::from(*p > 0.5)), t.data()[i]);
    }
}
