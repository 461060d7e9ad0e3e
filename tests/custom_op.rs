//! Custom ops: recorded on the tape like a built-in op (values, gradients through the rest of
//! the graph, accumulation, constants skipped), and a user's backward that returns the wrong
//! number or shapes of gradients panics with a message naming the op.

mod common;

use common::MulAdd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tapegrad::{CustomOp, Op, Tape, Tensor};

#[test]
fn a_custom_op_records_its_value_and_its_gradients_flow_through_the_graph() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([1.0, 2.0]));
    let y = tape.param(Tensor::from([3.0, -1.0]));
    let z = tape.custom(MulAdd::default(), &[x, y]);
    assert_eq!(z.value(), Tensor::from([4.0, 0.0]));
    // l = Σ exp(0)·… keep it simple: l = Σ 2z, so ∂l/∂z = 2, dx = 2(y + 1), dy = 2x.
    let loss = (z * 2.0).sum();
    let grads = loss.backward();
    assert_eq!(grads[x], Tensor::from([8.0, 0.0]));
    assert_eq!(grads[y], Tensor::from([2.0, 4.0]));
    assert_eq!(grads[z], Tensor::from([2.0, 2.0]));
}

#[test]
fn one_op_shared_through_an_arc_accumulates_like_a_built_in() {
    let op: Arc<dyn CustomOp> = Arc::new(MulAdd::default());
    let tape = Tape::new();
    let a = tape.param(2.0);
    // b = mul_add(a, a) = a² + a; c = mul_add(b, a) = b·a + b. With a = 2: b = 6, c = 18.
    let b = tape.custom(Arc::clone(&op), &[a, a]);
    let c = tape.custom(Arc::clone(&op), &[b, a]);
    assert_eq!(c.value().item(), 18.0);
    // dc/da = ∂c/∂b·db/da + ∂c/∂a = (a + 1)(2a + 1) + b = 3·5 + 6 = 21.
    assert_eq!(c.backward()[a].item(), 21.0);
    assert_eq!(op.name(), "mul_add");
}

#[test]
fn a_custom_op_on_constants_alone_is_never_differentiated() {
    let op = Arc::new(MulAdd::default());
    let tape = Tape::new();
    let x = tape.constant(Tensor::from([1.0, 2.0]));
    let w = tape.param(Tensor::from([0.5, 0.5]));
    let z = tape.custom(Arc::clone(&op), &[x, x]);
    let grads = (z * w).sum().backward();
    assert_eq!(grads[w], Tensor::from([2.0, 6.0]));
    assert!(grads.get(z).is_none());
    assert_eq!(op.backward_calls.load(Ordering::Relaxed), 0);
}

#[test]
fn a_custom_node_shows_its_name_inputs_and_line() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([1.0]));
    let line = line!() + 1;
    let z = tape.custom(MulAdd::default(), &[x, x]);
    assert_eq!(
        format!("{tape:?}"),
        "[n0 = param [] [1], n1 = mul_add [n0, n0] [1]]"
    );
    assert_eq!(z.op().name(), "mul_add");
    assert_eq!(z.op().inputs().collect::<Vec<_>>(), [x.id(), x.id()]);
    let Op::Custom(call) = z.op() else {
        panic!("a custom op is Op::Custom")
    };
    assert_eq!(format!("{call:?}"), "mul_add[n0, n0]");
    assert_eq!((z.location().file(), z.location().line()), (file!(), line));
}

/// A backward rule that returns `count` gradients of shape `shape`, whatever its inputs.
struct Sloppy {
    count: usize,
    shape: &'static [usize],
}

impl CustomOp for Sloppy {
    fn name(&self) -> &'static str {
        "sloppy"
    }
    fn forward(&self, inputs: &[&Tensor]) -> Tensor {
        inputs[0].clone()
    }
    fn backward(&self, _inputs: &[&Tensor], _z: &Tensor, _g: &Tensor) -> Vec<Tensor> {
        vec![Tensor::zeros(self.shape); self.count]
    }
}

#[test]
#[should_panic(expected = "custom op \"sloppy\": backward returned 1 gradients for 2 inputs")]
fn too_few_gradients_panic_naming_the_op() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([1.0, 2.0]));
    let sloppy = Sloppy {
        count: 1,
        shape: &[2],
    };
    let _ = tape.custom(sloppy, &[x, x]).sum().backward();
}

#[test]
#[should_panic(
    expected = "custom op \"sloppy\": backward returned a gradient of shape [1, 2] for input 0, \
                which has shape [2]"
)]
fn a_gradient_of_the_wrong_shape_panics_naming_the_op() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([1.0, 2.0]));
    let sloppy = Sloppy {
        count: 1,
        shape: &[1, 2],
    };
    let _ = tape.custom(sloppy, &[x]).sum().backward();
}

#[test]
#[should_panic(expected = "custom op \"mul_add\": an input is a Var of another tape")]
fn inputs_of_two_tapes_panic() {
    let (first, second) = (Tape::new(), Tape::new());
    let x = first.param(1.0);
    let y = second.param(1.0);
    let _ = first.custom(MulAdd::default(), &[x, y]);
}
