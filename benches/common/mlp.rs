//! The data and weights of the 784-256-10 MLP that W2 trains and W5 differentiates twice.

use super::{normal_tensor, uniform_tensor};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use tapegrad::Tensor;

pub const BATCH: usize = 128;
pub const INPUTS: usize = 784;
pub const HIDDEN: usize = 256;
pub const CLASSES: usize = 10;

/// The inputs, `[BATCH, INPUTS]`, and the one-hot targets, `[BATCH, CLASSES]`.
pub struct Batch {
    pub x: Tensor,
    pub onehot: Tensor,
}

/// Standard normal inputs and uniformly random labels.
pub fn random_batch(rng: &mut ChaCha8Rng) -> Batch {
    let x = normal_tensor(rng, &[BATCH, INPUTS]);
    let labels: Vec<usize> = (0..BATCH).map(|_| rng.random_range(0..CLASSES)).collect();
    let onehot = Tensor::from_fn(&[BATCH, CLASSES], |k| {
        f64::from(labels[k / CLASSES] == k % CLASSES)
    });
    Batch { x, onehot }
}

/// `[W1, b1, W2, b2]`: He-uniform weights (bound √(6 / fan-in)), zero biases.
pub fn he_init(rng: &mut ChaCha8Rng) -> Vec<Tensor> {
    let mut layer = |inputs: usize, outputs: usize| {
        let bound = (6.0 / inputs as f64).sqrt();
        [
            uniform_tensor(rng, &[inputs, outputs], bound),
            Tensor::zeros(&[outputs]),
        ]
    };
    let [w1, b1] = layer(INPUTS, HIDDEN);
    let [w2, b2] = layer(HIDDEN, CLASSES);
    vec![w1, b1, w2, b2]
}
