//! Every misuse the engine detects panics with a message that names the op, the shapes, or
//! the rule that was broken. (`tests/caller_location.rs` checks where those panics point.)

use tapegrad::{Tape, Tensor};

#[test]
#[should_panic(expected = "add: shapes cannot be broadcast together: [2, 3] and [2]")]
fn add_of_incompatible_shapes() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[2, 3])) + tape.param(Tensor::zeros(&[2]));
}

#[test]
#[should_panic(expected = "div: shapes cannot be broadcast together: [3] and [4, 2]")]
fn div_of_incompatible_shapes() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[3])) / tape.constant(Tensor::ones(&[4, 2]));
}

#[test]
#[should_panic(expected = "matmul: inner dimensions differ: [4, 2] · [3]")]
fn matmul_inner_dimensions_differ() {
    let tape = Tape::new();
    let _ = tape
        .constant(Tensor::zeros(&[4, 2]))
        .matmul(tape.param(Tensor::zeros(&[3])));
}

#[test]
#[should_panic(expected = "matmul: operands must have at least one dimension: [] · [2]")]
fn matmul_of_a_scalar() {
    let tape = Tape::new();
    let _ = tape
        .param(Tensor::scalar(1.0))
        .matmul(tape.param(Tensor::zeros(&[2])));
}

#[test]
#[should_panic(expected = "matmul: batch dimensions cannot be broadcast: [2, 2, 3] · [3, 3, 2]")]
fn matmul_of_batches_that_do_not_broadcast() {
    let tape = Tape::new();
    let _ = tape
        .param(Tensor::zeros(&[2, 2, 3]))
        .matmul(tape.param(Tensor::zeros(&[3, 3, 2])));
}

#[test]
#[should_panic(expected = "matmul: inner dimensions differ: [2, 2, 3] · [2, 2]")]
fn matmul_of_a_batch_with_the_wrong_inner_dimension() {
    let tape = Tape::new();
    let _ = tape
        .param(Tensor::zeros(&[2, 2, 3]))
        .matmul(tape.param(Tensor::zeros(&[2, 2])));
}

#[test]
#[should_panic(expected = "sum_axis: axis 2 is out of range for shape [2, 3]")]
fn sum_axis_out_of_range() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[2, 3])).sum_axis(2);
}

#[test]
#[should_panic(expected = "mean_axis: axis 1 is out of range for shape [4]")]
fn mean_axis_out_of_range() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[4])).mean_axis(1);
}

#[test]
#[should_panic(expected = "max_axis: axis 0 is out of range for shape []")]
fn max_axis_of_a_scalar() {
    let tape = Tape::new();
    let _ = tape.param(1.0).max_axis(0);
}

#[test]
#[should_panic(expected = "log_softmax: axis 3 is out of range for shape [2, 2]")]
fn softmax_axis_out_of_range() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[2, 2])).softmax(3);
}

#[test]
#[should_panic(expected = "transpose: needs a 2-D tensor, got shape [3]")]
fn transpose_of_a_vector() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[3])).transpose();
}

#[test]
#[should_panic(expected = "reshape: cannot view [2, 3] (6 elements) as [4] (4 elements)")]
fn reshape_to_another_size() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[2, 3])).reshape(&[4]);
}

#[test]
#[should_panic(expected = "broadcast_to: cannot broadcast [2, 3] to [3, 3]")]
fn broadcast_to_an_incompatible_shape() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[2, 3])).broadcast_to(&[3, 3]);
}

#[test]
#[should_panic(expected = "mul: the operands are Vars of two different tapes")]
fn vars_of_two_tapes_in_one_op() {
    let first = Tape::new();
    let second = Tape::new();
    let _ = first.param(1.0) * second.param(2.0);
}

#[test]
#[should_panic(expected = "matmul: the operands are Vars of two different tapes")]
fn matmul_of_vars_of_two_tapes() {
    let first = Tape::new();
    let second = Tape::new();
    let _ = first
        .param(Tensor::zeros(&[2]))
        .matmul(second.param(Tensor::zeros(&[2])));
}

#[test]
#[should_panic(expected = "Grads: indexed by a Var of another tape")]
fn grads_indexed_by_a_var_of_another_tape() {
    let first = Tape::new();
    let second = Tape::new();
    let w = first.param(1.0);
    let grads = (w * 3.0).backward();
    let stranger = second.param(1.0);
    let _ = &grads[stranger];
}

#[test]
#[should_panic(
    expected = "Grads: indexed by a Var of another tape (or of this tape before Tape::clear)"
)]
fn grads_of_a_cleared_tape() {
    let mut tape = Tape::new();
    let grads = {
        let w = tape.param(1.0);
        (w * 3.0).backward()
    };
    tape.clear();
    let w = tape.param(1.0);
    let _ = grads.get(w);
}

#[test]
#[should_panic(expected = "Grads: n2 was recorded after this backward pass")]
fn grads_indexed_by_a_later_var() {
    let tape = Tape::new();
    let w = tape.param(1.0);
    let grads = (w * 3.0).backward();
    let later = w + 1.0;
    let _ = &grads[later];
}

#[test]
#[should_panic(
    expected = "backward: the output has shape [4] (4 elements), but backward() needs a \
                           single element; use backward_with(cotangent)"
)]
fn backward_of_a_vector() {
    let tape = Tape::new();
    let _ = (tape.param(Tensor::zeros(&[4])) * 2.0).backward();
}

#[test]
#[should_panic(
    expected = "backward_with: the cotangent has shape [3], but the output has shape [4]"
)]
fn backward_with_a_cotangent_of_another_shape() {
    let tape = Tape::new();
    let _ = tape
        .param(Tensor::zeros(&[4]))
        .exp()
        .backward_with(Tensor::zeros(&[3]));
}

#[test]
#[should_panic(expected = "item: the tensor holds 3 elements (shape [3])")]
fn item_of_a_vector() {
    let _ = Tensor::zeros(&[3]).item();
}

#[test]
fn backward_of_one_element_in_any_shape_is_allowed() {
    let tape = Tape::new();
    let w = tape.param(Tensor::from([[2.0]]));
    assert_eq!((w * w).backward()[w], Tensor::from([[4.0]]));
}

#[test]
fn from_vec_returns_an_error_not_a_panic() {
    let err = Tensor::from_vec(vec![1.0; 5], &[2, 3]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "from_vec: shape [2, 3] holds 6 elements, but 5 values were given"
    );
    let as_std: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
    assert!(as_std.to_string().starts_with("from_vec"));
}
