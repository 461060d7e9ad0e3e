//! Helpers shared by the integration tests: seeded test values and a central-difference
//! gradient check.

#![allow(dead_code)] // each test file uses a different subset

use std::sync::atomic::{AtomicUsize, Ordering};
use tapegrad::{CustomOp, Tape, Tensor, Var};

/// The article's § 8 perceptron at epoch 0 on `tape`, named as the article names them: the
/// inputs `x`, the targets `t`, and the parameters `w` = [1, 1] and `b` = 0, recorded in that order.
pub fn article_perceptron(tape: &Tape) -> (Var<'_>, Var<'_>, Var<'_>, Var<'_>) {
    let x = Tensor::from([[1.0, 1.0], [-1.0, 1.0], [-1.0, -0.5], [-1.0, 1.5]]);
    let x = tape.constant(x).named("x");
    let t = tape.constant(Tensor::from([0.0, 1.0, 0.0, 1.0])).named("t");
    let w = tape.param(Tensor::from([1.0, 1.0])).named("w");
    let b = tape.param(0.0).named("b");
    (x, t, w, b)
}

/// A small deterministic generator (SplitMix64), so tests need no seed file and no extra crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        lo + (hi - lo) * (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A tensor of `shape` with elements uniform in [lo, hi).
    pub fn tensor(&mut self, shape: &[usize], lo: f64, hi: f64) -> Tensor {
        Tensor::from_fn(shape, |_| self.uniform(lo, hi))
    }

    /// Like [`tensor`](Rng::tensor) but every element at least `gap` away from 0, with random
    /// sign: for ops with a kink or pole at 0 (relu, abs, step, division).
    pub fn away_from_zero(&mut self, shape: &[usize], gap: f64, hi: f64) -> Tensor {
        Tensor::from_fn(shape, |_| {
            let magnitude = self.uniform(gap, hi);
            if self.uniform(0.0, 1.0) < 0.5 {
                -magnitude
            } else {
                magnitude
            }
        })
    }
}

/// Evaluates `f` on a fresh tape with `inputs` as params.
pub fn eval<F>(f: &F, inputs: &[Tensor]) -> Tensor
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    let tape = Tape::new();
    let vars: Vec<Var> = inputs.iter().map(|x| tape.param(x.clone())).collect();
    f(&vars).value()
}

/// The reverse-mode gradients of `Σ f(inputs) ⊙ cotangent` with respect to each input.
pub fn analytic<F>(f: &F, inputs: &[Tensor], cotangent: &Tensor) -> Vec<Tensor>
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    let tape = Tape::new();
    let vars: Vec<Var> = inputs.iter().map(|x| tape.param(x.clone())).collect();
    let grads = f(&vars).backward_with(cotangent.clone());
    vars.iter().map(|&v| grads[v].clone()).collect()
}

/// The same gradients by central differences: (L(x + h) − L(x − h)) / 2h, element by element.
pub fn numeric<F>(f: &F, inputs: &[Tensor], cotangent: &Tensor, h: f64) -> Vec<Tensor>
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    let loss = |inputs: &[Tensor]| -> f64 {
        let out = eval(f, inputs);
        out.data()
            .iter()
            .zip(cotangent.data())
            .map(|(y, c)| y * c)
            .sum()
    };
    (0..inputs.len())
        .map(|i| {
            let mut grad = Tensor::zeros(inputs[i].shape());
            for j in 0..inputs[i].len() {
                let mut shifted = inputs.to_vec();
                shifted[i].data_mut()[j] = inputs[i].data()[j] + h;
                let up = loss(&shifted);
                shifted[i].data_mut()[j] = inputs[i].data()[j] - h;
                let down = loss(&shifted);
                grad.data_mut()[j] = (up - down) / (2.0 * h);
            }
            grad
        })
        .collect()
}

/// Checks `f`'s reverse-mode gradients against central differences, with a seeded random
/// cotangent so that non-scalar outputs are checked in every output direction at once.
/// Panics naming the case, the input, the element, and both values.
pub fn check_gradients<F>(name: &str, inputs: &[Tensor], f: F)
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    let out = eval(&f, inputs);
    let cotangent = Rng::new(7).tensor(out.shape(), -1.0, 1.0);
    let analytic = analytic(&f, inputs, &cotangent);
    let numeric = numeric(&f, inputs, &cotangent, 1e-6);
    for (i, (a, n)) in analytic.iter().zip(&numeric).enumerate() {
        assert_eq!(
            a.shape(),
            inputs[i].shape(),
            "{name}: gradient {i} has the input's shape"
        );
        for (j, (&a, &n)) in a.data().iter().zip(n.data()).enumerate() {
            // Central differences are accurate to O(h²) plus rounding of order ε·|L|/h.
            let tolerance = 1e-6 * (1.0 + n.abs());
            assert!(
                (a - n).abs() <= tolerance,
                "{name}: input {i} (shape {:?}), element {j}: reverse mode {a}, finite differences {n}",
                inputs[i].shape()
            );
        }
    }
}

/// `z = x ⊙ y + x` · `dx = g ⊙ (y + 1), dy = g ⊙ x`, counting its backward calls.
#[derive(Default)]
pub struct MulAdd {
    pub backward_calls: AtomicUsize,
}

impl CustomOp for MulAdd {
    fn name(&self) -> &'static str {
        "mul_add"
    }
    fn forward(&self, inputs: &[&Tensor]) -> Tensor {
        inputs[0] * inputs[1] + inputs[0]
    }
    fn backward(&self, inputs: &[&Tensor], _z: &Tensor, g: &Tensor) -> Vec<Tensor> {
        self.backward_calls.fetch_add(1, Ordering::Relaxed);
        vec![g * &(inputs[1] + 1.0), g * inputs[0]]
    }
}

/// A file of the PyTorch fixtures (`tests/fixtures/torch/`, written by its `gen.py`).
pub fn torch_fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/torch")
        .join(name)
}

/// The PyTorch fixtures' reference tensors: initial weights, inputs and PyTorch's results.
pub fn torch_reference() -> tapegrad::ParamStore {
    tapegrad::ParamStore::load(torch_fixture("reference.safetensors")).unwrap()
}

/// tapegrad's model of the PyTorch fixtures' `Mlp` (3-4-4-2, tanh between layers), its weights
/// drawn with `seed`.
pub fn torch_mlp(seed: u64) -> (tapegrad::ParamStore, tapegrad::nn::Mlp) {
    use tapegrad::nn::{self, Activation, Mlp};
    let mut store = tapegrad::ParamStore::new();
    let mlp = Mlp::new(
        &mut store,
        "mlp",
        &[3, 4, 4, 2],
        Activation::Tanh,
        &mut nn::seeded_rng(seed),
    );
    (store, mlp)
}
