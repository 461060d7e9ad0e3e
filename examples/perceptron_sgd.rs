//! The article's § 8 perceptron again, with tapegrad's model kit instead of hand-written steps:
//! the weights live in a `ParamStore`, the criterion is `loss::perceptron`, and `optim::Sgd`
//! makes the update. It prints exactly the trace of `examples/perceptron.rs`, bit for bit
//! (`tests/perceptron.rs` checks that), because each piece computes what the hand-written
//! version did: the same ops in the same order, and `p ← p − lr·g`.
//!
//! Run it with `cargo run --example perceptron_sgd`.

#[path = "perceptron.rs"]
#[allow(dead_code)] // only `Epoch` and `print` are used here (tests/perceptron.rs uses the rest)
pub mod by_hand;

use by_hand::Epoch;
use tapegrad::optim::Sgd;
use tapegrad::{ParamStore, Tape, Tensor, loss};

/// Trains until the loss is 0 and returns what each epoch printed.
pub fn train() -> Vec<Epoch> {
    let x_data = Tensor::from([[1.0, 1.0], [-1.0, 1.0], [-1.0, -0.5], [-1.0, 1.5]]);
    let t_data = Tensor::from([0.0, 1.0, 0.0, 1.0]);
    let mut store = ParamStore::new();
    let w = store.insert("w", Tensor::from([1.0, 1.0]));
    let b = store.insert("b", 0.0);
    let mut sgd = Sgd::new(0.9);

    let mut trace = Vec::new();
    let mut tape = Tape::new();
    for epoch in 0.. {
        let grads = {
            let p = store.on_tape(&tape);
            let x = tape.constant(x_data.clone());
            let z = x.matmul(p[w]) + p[b];
            let loss = loss::perceptron(z, tape.constant(t_data.clone()));
            trace.push(Epoch {
                epoch,
                z: z.value(),
                w: store[w].clone(),
                b: store[b].clone(),
                y: z.step().value(),
                loss: loss.value().item(),
            });
            if loss.value().item() == 0.0 {
                return trace;
            }
            p.grads(&loss.backward())
        };
        tape.clear();
        sgd.step(&mut store, &grads);
    }
    unreachable!("the loop returns when the loss reaches 0")
}

#[allow(dead_code)] // the integration test includes this file for `train`
fn main() {
    by_hand::print(&train());
}
