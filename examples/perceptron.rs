//! The article's § 8 perceptron, on the tape.
//!
//! The article trains a perceptron with numpy: a forward pass `z = x·w + b`, the prediction
//! `y = step(z)`, the perceptron criterion `L = −mean((t − y) ⊙ z)`, and gradients it derived by
//! hand. Here the same four steps are written with tapegrad, and the gradients come from
//! `backward()` instead: since step′ = 0, `y` acts as a constant and the tape's chain rule gives
//! exactly the article's `∂L/∂w = −(t − y)·x / 4` and `∂L/∂b = −Σ(t − y) / 4`.
//!
//! With `--trace` it also prints each epoch's backward pass one chain-rule step at a time:
//! every node's ∂L/∂node and each product it adds to its inputs' gradients.
//!
//! `examples/perceptron_sgd.rs` trains the same model with the crate's model kit
//! (`ParamStore`, `loss::perceptron`, `optim::Sgd`) and prints the identical trace.
//!
//! Run it with `cargo run --example perceptron`. It prints z, w, b, y and the loss for
//! every epoch, and stops when the loss is 0, after 4 epochs, with every example classified
//! correctly. Each number is printed in full (Rust's shortest round-trip form, like Python's
//! `repr`), so the trace can be compared digit for digit with the article's.

use tapegrad::{Grads, Tape, Tensor, Var};

/// One epoch of the trace: the values the article prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Epoch {
    pub epoch: usize,
    pub z: Tensor,
    pub w: Tensor,
    pub b: Tensor,
    pub y: Tensor,
    pub loss: f64,
}

/// The forward pass: `z = x·w + b` and the prediction `y = step(z)` (1 if z > 0, else 0).
fn forward<'t>(x: Var<'t>, w: Var<'t>, b: Var<'t>) -> (Var<'t>, Var<'t>) {
    let z = x.matmul(w) + b;
    let y = z.step();
    (y, z)
}

/// The perceptron criterion: `L = −(t − y)·z / 4`, the mean over the four examples.
fn loss<'t>(t: Var<'t>, y: Var<'t>, z: Var<'t>) -> Var<'t> {
    -((t - y) * z).mean()
}

/// Gradient descent: `w ← w − lr·∂L/∂w`, `b ← b − lr·∂L/∂b`, in place.
fn grad_update(
    w: &mut Tensor,
    b: &mut Tensor,
    (w_var, b_var): (Var<'_>, Var<'_>),
    grads: &Grads,
    lr: f64,
) {
    *w -= &(lr * &grads[w_var]);
    *b -= &(lr * &grads[b_var]);
}

/// Trains until the loss is 0 and returns what each epoch printed.
pub fn train() -> Vec<Epoch> {
    train_showing(|_, _| {})
}

/// As [`train`], calling `show(epoch, loss)` before each backward pass (for `--trace`).
pub fn train_showing(mut show: impl FnMut(usize, Var<'_>)) -> Vec<Epoch> {
    // The data: four points in the plane and their classes.
    let x_data = Tensor::from([[1.0, 1.0], [-1.0, 1.0], [-1.0, -0.5], [-1.0, 1.5]]);
    let t_data = Tensor::from([0.0, 1.0, 0.0, 1.0]);
    let mut w = Tensor::from([1.0, 1.0]);
    let mut b = Tensor::scalar(0.0);
    let lr = 0.9;

    let mut trace = Vec::new();
    let mut tape = Tape::new();
    for epoch in 0.. {
        // Each epoch records a fresh forward pass on the cleared tape.
        tape.clear();
        // Named as the article names them, for the trace.
        let x = tape.constant(x_data.clone()).named("x");
        let t = tape.constant(t_data.clone()).named("t");
        let (w_var, b_var) = (
            tape.param(w.clone()).named("w"),
            tape.param(b.clone()).named("b"),
        );

        let (y, z) = forward(x, w_var, b_var);
        let loss = loss(t, y.named("y"), z.named("z")).named("L");
        trace.push(Epoch {
            epoch,
            z: z.value(),
            w: w.clone(),
            b: b.clone(),
            y: y.value(),
            loss: loss.value().item(),
        });
        if loss.value().item() == 0.0 {
            return trace;
        }

        // The backward pass, then the update the next epoch's forward pass will use.
        show(epoch, loss);
        let grads = loss.backward();
        grad_update(&mut w, &mut b, (w_var, b_var), &grads, lr);
    }
    unreachable!("the loop returns when the loss reaches 0")
}

/// The closing line, e.g. `converged after 4 epochs: w = [-0.35, 0.55], b = -0.45`.
pub fn summary(last: &Epoch) -> String {
    format!(
        "converged after {} epochs: w = {:?}, b = {:?}",
        last.epoch,
        last.w.data(),
        last.b.item()
    )
}

/// Prints each epoch's values, then the closing line.
pub fn print(trace: &[Epoch]) {
    for e in trace {
        println!("epoch: {}", e.epoch);
        println!("  z:    {:?}", e.z.data());
        println!("  w:    {:?}", e.w.data());
        println!("  b:    {:?}", e.b.item());
        println!("  y:    {:?}", e.y.data());
        println!("  loss: {:?}", e.loss);
    }
    println!("{}", summary(trace.last().expect("at least epoch 0")));
}

#[allow(dead_code)] // other files include this one for `train` and `print`, not `main`
fn main() {
    if std::env::args().any(|a| a == "--trace") {
        // Each epoch's backward pass, one chain-rule step at a time, before the trace table.
        let trace = train_showing(|epoch, loss| {
            println!(
                "epoch {epoch}: the backward pass, step by step\n{}",
                loss.backward_trace()
            );
        });
        print(&trace);
    } else {
        print(&train());
    }
}
