//! Selecting and joining against closed forms: which elements each op picks, where their
//! gradients go back (summed where an index repeats), triangles and diagonals, and the
//! misuses each refuses with the op, the index and the length.

use tapegrad::{Tape, Tensor, Var};

#[test]
fn narrow_and_slice_pick_ranges_and_send_gradients_back_in_place() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from_fn(&[2, 5], |i| i as f64));
    assert_eq!(
        x.narrow(1, 1, 3).value(),
        Tensor::from([[1.0, 2.0, 3.0], [6.0, 7.0, 8.0]])
    );
    assert_eq!(
        x.slice(-1, 0, 5, 2).value(),
        Tensor::from([[0.0, 2.0, 4.0], [5.0, 7.0, 9.0]])
    );
    assert_eq!(x.slice(1, 4, 100, 3).value(), Tensor::from([[4.0], [9.0]]));
    assert_eq!(x.slice(1, 5, 5, 1).shape(), [2, 0]);
    let g = x.slice(1, 1, 5, 2).sum().backward();
    assert_eq!(
        g[x],
        Tensor::from([[0.0, 1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0, 0.0]])
    );
}

#[test]
fn index_select_and_gather_sum_the_gradient_of_a_repeated_index() {
    let tape = Tape::new();
    let table = tape.param(Tensor::from([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]));
    // A minibatch of rows, the last one twice.
    let batch = table.index_select(0, &[2, 0, 2]);
    assert_eq!(
        batch.value(),
        Tensor::from([[5.0, 6.0], [1.0, 2.0], [5.0, 6.0]])
    );
    let g = batch.backward_with(Tensor::from([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]));
    assert_eq!(g[table], Tensor::from([[3.0, 4.0], [0.0, 0.0], [6.0, 8.0]]));
    // Columns.
    assert_eq!(
        table.index_select(-1, &[1]).value(),
        Tensor::from([[2.0], [4.0], [6.0]])
    );
    // gather: z[i][j] = x[i][index[i][j]].
    let index = Tensor::from([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 1.0]]);
    let picked = table.gather(1, &index);
    assert_eq!(
        picked.value(),
        Tensor::from([[2.0, 2.0, 1.0], [3.0, 3.0, 3.0], [6.0, 5.0, 6.0]])
    );
    let g = picked.sum().backward();
    assert_eq!(g[table], Tensor::from([[1.0, 2.0], [3.0, 0.0], [1.0, 2.0]]));
    // Along axis 0, and with argmax's indices.
    let best = table.value().argmax(0).reshape(&[1, 2]);
    assert_eq!(table.gather(0, &best).value(), Tensor::from([[5.0, 6.0]]));
}

#[test]
fn concat_stack_split_and_chunk_invert_each_other() {
    let tape = Tape::new();
    let a = tape.param(Tensor::from([[1.0, 2.0], [3.0, 4.0]]));
    let b = tape.param(Tensor::from([[5.0], [6.0]]));
    let ab = Var::concat(&[a, b], -1);
    assert_eq!(ab.value(), Tensor::from([[1.0, 2.0, 5.0], [3.0, 4.0, 6.0]]));
    let g = ab.backward_with(Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    assert_eq!(g[a], Tensor::from([[1.0, 2.0], [4.0, 5.0]]));
    assert_eq!(g[b], Tensor::from([[3.0], [6.0]]));
    // The same value twice: both copies' gradients add up.
    let aa = Var::concat(&[a, a], 0);
    assert_eq!(aa.shape(), [4, 2]);
    assert_eq!(aa.sum().backward()[a], Tensor::full(&[2, 2], 2.0));
    let parts = ab.split(1, &[2, 1]);
    assert_eq!((parts[0].value(), parts[1].value()), (a.value(), b.value()));
    let s = Var::stack(&[a, a * 10.0], 0);
    assert_eq!(s.shape(), [2, 2, 2]);
    assert_eq!(s.value().data()[4..], [10.0, 20.0, 30.0, 40.0]);
    let s1 = Var::stack(&[a, a * 10.0], 1);
    assert_eq!(s1.value().data()[..4], [1.0, 2.0, 10.0, 20.0]);
    let chunks = ab.chunk(2, 1);
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0].value(), a.value());
    assert_eq!(chunks[1].value(), b.value());
}

#[test]
fn triangles_and_diagonals() {
    let tape = Tape::new();
    let m = tape.param(Tensor::from_fn(&[3, 3], |i| i as f64 + 1.0));
    assert_eq!(
        m.tril(-1).value(),
        Tensor::from([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [7.0, 8.0, 0.0]])
    );
    assert_eq!(
        m.triu(0).value(),
        Tensor::from([[1.0, 2.0, 3.0], [0.0, 5.0, 6.0], [0.0, 0.0, 9.0]])
    );
    let g = m.tril(0).sum().backward();
    assert_eq!(
        g[m],
        Tensor::from([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    );
    // An infinite element outside the triangle is dropped, not multiplied by 0.
    let inf = tape.param(Tensor::from([[1.0, f64::INFINITY], [2.0, 3.0]]));
    assert_eq!(inf.tril(0).value(), Tensor::from([[1.0, 0.0], [2.0, 3.0]]));
    assert_eq!(m.diagonal().value(), Tensor::from([1.0, 5.0, 9.0]));
    let d = tape.param(Tensor::from([[1.0, 2.0], [3.0, 4.0]]));
    let batch = d.diag_embed();
    assert_eq!(batch.shape(), [2, 2, 2]);
    assert_eq!(
        batch.value().data(),
        [1.0, 0.0, 0.0, 2.0, 3.0, 0.0, 0.0, 4.0]
    );
    assert_eq!(batch.diagonal().value(), d.value());
    // ADBench's GMM: a Cholesky factor from log-diagonal q and strictly-lower entries l.
    let q = tape.param(Tensor::from([0.0, 1f64.ln()]));
    let l = tape.param(Tensor::from([0.5]));
    let factor = q.exp().diag_embed() + l.tril_from_vec(2, -1);
    assert_eq!(factor.value(), Tensor::from([[1.0, 0.0], [0.5, 1.0]]));
    let g = factor.sum().backward();
    assert_eq!(
        (g[q].clone(), g[l].clone()),
        (Tensor::from([1.0, 1.0]), Tensor::from([1.0]))
    );
}

#[test]
#[should_panic(expected = "index_select: index 3 is out of range for axis 0 of length 3")]
fn index_select_names_an_index_out_of_range() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[3, 2])).index_select(0, &[0, 3]);
}

#[test]
#[should_panic(expected = "gather: index 1.5 is out of range for axis 1 of length 2")]
fn gather_refuses_an_index_that_is_not_an_integer() {
    let tape = Tape::new();
    let _ = tape
        .param(Tensor::zeros(&[1, 2]))
        .gather(1, &Tensor::from([[1.5]]));
}

#[test]
#[should_panic(expected = "narrow: elements 2..4 are out of range for axis 1 of length 3")]
fn narrow_past_the_end_panics() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[2, 3])).narrow(1, 2, 2);
}

#[test]
#[should_panic(expected = "concat: shapes differ other than along axis 1: [2, 2] and [3, 1]")]
fn concat_names_the_shapes_that_differ() {
    let tape = Tape::new();
    let a = tape.param(Tensor::zeros(&[2, 2]));
    let _ = Var::concat(&[a, tape.param(Tensor::zeros(&[3, 1]))], 1);
}

#[test]
#[should_panic(
    expected = "split: lengths [1, 1] add up to 2, but axis 0 of shape [3] has length 3"
)]
fn split_lengths_must_add_up() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[3])).split(0, &[1, 1]);
}

#[test]
#[should_panic(
    expected = "tril_from_vec: the triangle j ≤ i + 0 of a 3 × 3 matrix holds 6 elements"
)]
fn tril_from_vec_needs_the_triangles_length() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[5])).tril_from_vec(3, 0);
}
