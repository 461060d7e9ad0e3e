//! Gradient checking in action: one check that passes, and one that fails and names the op
//! whose derivative rule is wrong.
//!
//! The model is a small layer, `mean(softplus(tanh(x·W + b))²)`, where softplus is a custom op
//! with a hand-written backward rule. Written correctly (`dx = g ⊙ σ(x)`), the check passes.
//! Written with a classic slip — σ of the op's output instead of its input — the check fails,
//! prints the worst gradient elements, and blames the softplus node and the line that recorded
//! it, although the slip sits three ops deep in the graph.
//!
//! Run it with `cargo run --example gradcheck`.

use tapegrad::check::{GradCheckOptions, gradcheck};
use tapegrad::{CustomOp, Tensor, Var};

/// `z = ln(1 + eˣ)` · `dx = g ⊙ σ(x)`
struct Softplus;

/// The same forward pass, and a backward rule with a slip: `σ(z)` where `σ(x)` is meant.
struct SoftplusWithASlip;

fn softplus(x: &Tensor) -> Tensor {
    // ln(1 + eˣ) = max(x, 0) + ln(1 + e^−|x|), which never overflows.
    x.map(|x| x.max(0.0) + (-x.abs()).exp().ln_1p())
}

fn sigmoid(x: &Tensor) -> Tensor {
    x.map(|x| 1.0 / (1.0 + (-x).exp()))
}

impl CustomOp for Softplus {
    fn name(&self) -> &'static str {
        "softplus"
    }
    fn forward(&self, inputs: &[&Tensor]) -> Tensor {
        softplus(inputs[0])
    }
    fn backward(&self, inputs: &[&Tensor], _z: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g * &sigmoid(inputs[0])]
    }
}

impl CustomOp for SoftplusWithASlip {
    fn name(&self) -> &'static str {
        "softplus"
    }
    fn forward(&self, inputs: &[&Tensor]) -> Tensor {
        softplus(inputs[0])
    }
    fn backward(&self, _inputs: &[&Tensor], z: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g * &sigmoid(z)]
    }
}

/// `mean(softplus(tanh(x·W + b))²)` with the given softplus; `v = [x, W, b]`.
fn layer<'t>(v: &[Var<'t>], softplus: impl CustomOp) -> Var<'t> {
    let (x, w, b) = (v[0], v[1], v[2]);
    let hidden = (x.matmul(w) + b).tanh();
    let activation = x.tape().custom(softplus, &[hidden]);
    (activation * activation).mean()
}

fn main() {
    let x = Tensor::from([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]]);
    let w = Tensor::from([[0.2, -0.4], [0.7, 0.1], [-0.3, 0.5]]);
    let b = Tensor::from([0.1, -0.2]);
    let inputs = [x, w, b];

    println!("== softplus with the right rule, dx = g ⊙ σ(x)");
    match gradcheck(|v| layer(v, Softplus), &inputs, GradCheckOptions::default()) {
        Ok(report) => println!("{report}"),
        Err(error) => panic!("the right rule must pass:\n{error}"),
    }

    println!();
    println!("== softplus with a slip, dx = g ⊙ σ(z)");
    match gradcheck(
        |v| layer(v, SoftplusWithASlip),
        &inputs,
        GradCheckOptions::default(),
    ) {
        Ok(report) => panic!("the slip must be caught, but: {report}"),
        Err(error) => print!("{error}"),
    }
}
