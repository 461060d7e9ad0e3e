//! Axis ops against closed forms: negative axes, reductions that keep their axis, permutations,
//! unit axes, and the misuses each refuses.

use tapegrad::{Tape, Tensor};

#[test]
fn negative_axes_name_the_same_axes_as_positive_ones() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from_fn(&[2, 3, 4], |i| (i as f64).sin()));
    for (neg, pos) in [(-1, 2), (-2, 1), (-3, 0)] {
        assert_eq!(x.sum_axis(neg).value(), x.sum_axis(pos).value());
        assert_eq!(x.mean_axis(neg).value(), x.mean_axis(pos).value());
        assert_eq!(x.max_axis(neg).value(), x.max_axis(pos).value());
        assert_eq!(x.softmax(neg).value(), x.softmax(pos).value());
        assert_eq!(x.log_softmax(neg).value(), x.log_softmax(pos).value());
        assert_eq!(x.logsumexp(neg).value(), x.logsumexp(pos).value());
        assert_eq!(x.value().argmax(neg), x.value().argmax(pos));
    }
}

#[test]
fn keepdim_reductions_broadcast_back_along_their_own_axis() {
    let tape = Tape::new();
    // Square, so that a reduction without its axis broadcasts along the wrong one unnoticed.
    let x = tape.param(Tensor::from([
        [1.0, 2.0, 6.0],
        [0.0, 3.0, 3.0],
        [4.0, 4.0, 4.0],
    ]));
    let centred = x - x.mean_axis_keepdim(1);
    assert_eq!(
        centred.value(),
        Tensor::from([[-2.0, -1.0, 3.0], [-2.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    );
    assert_ne!((x - x.mean_axis(1)).value(), centred.value());
    assert_eq!(
        x.sum_axis_keepdim(0).value(),
        Tensor::from([[5.0, 9.0, 13.0]])
    );
    assert_eq!(
        x.max_axis_keepdim(-1).value(),
        Tensor::from([[6.0], [3.0], [4.0]])
    );
    assert_eq!(
        x.min_axis_keepdim(-1).value(),
        Tensor::from([[1.0], [0.0], [4.0]])
    );
    // A centred row sums to 0 whatever x is, so its gradient through any cotangent g is
    // g − mean(g) along the row: for g = [1, 0, 0] that is [2/3, −1/3, −1/3].
    let g = centred.backward_with(Tensor::from([[1.0, 0.0, 0.0]; 3]));
    let mean = 1.0 / 3.0; // as the rule computes it: g − (Σ g)/3
    assert_eq!(g[x].data()[..3], [1.0 - mean, -mean, -mean]);
    // Ties of the minimum share its gradient, as the maximum's do.
    let m = x.min_axis(1).backward_with(Tensor::from([1.0, 1.0, 3.0]));
    assert_eq!(m[x].data()[3..], [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    let lse = x.logsumexp_keepdim(1).value();
    assert_eq!(lse.shape(), &[3, 1]);
    assert_eq!(lse.data()[2], 4.0 + 3f64.ln());
}

#[test]
fn permute_and_swap_axes_move_values_and_gradients() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from_fn(&[2, 3, 4], |i| i as f64));
    let p = x.permute(&[2, 0, 1]);
    assert_eq!(p.shape(), [4, 2, 3]);
    // p[k, i, j] = x[i, j, k] = 12i + 4j + k.
    assert_eq!(p.value().data()[3 * 6 + 6 - 1], 12.0 + 8.0 + 3.0);
    let s = x.swap_axes(0, -1);
    assert_eq!(s.shape(), [4, 3, 2]);
    assert_eq!(s.value().data()[1], 12.0); // s[0, 0, 1] = x[1, 0, 0]
    // The gradient of a permutation is the cotangent put back in place: the cotangent
    // p's own values returns x's values.
    let g = p.backward_with(p.value());
    assert_eq!(g[x], x.value());
    // The 2-D transpose is swap_axes(0, 1).
    let m = tape.param(Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    assert_eq!(m.swap_axes(0, 1).value(), m.transpose().value());
    assert_eq!(m.permute(&[1, 0]).value(), m.transpose().value());
}

#[test]
fn squeeze_and_unsqueeze_add_and_remove_unit_axes() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([[1.0, 2.0, 3.0]]));
    assert_eq!(x.squeeze(0).value(), Tensor::from([1.0, 2.0, 3.0]));
    assert_eq!(x.unsqueeze(-1).shape(), [1, 3, 1]);
    assert_eq!(x.unsqueeze(1).shape(), [1, 1, 3]);
    assert_eq!(x.unsqueeze(-3).shape(), [1, 1, 3]);
    let g = x.unsqueeze(2).sum().backward();
    assert_eq!(g[x], Tensor::ones(&[1, 3]));
}

#[test]
#[should_panic(expected = "squeeze: axis 1 of shape [1, 3] has length 3, not 1")]
fn squeeze_refuses_an_axis_longer_than_one() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[1, 3])).squeeze(-1);
}

#[test]
#[should_panic(expected = "permute: [0, 0] is not an order of the 2 axes of shape [2, 3]")]
fn permute_refuses_a_repeated_axis() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[2, 3])).permute(&[0, -2]);
}

#[test]
#[should_panic(expected = "sum_axis: axis -3 is out of range for shape [2, 3]")]
fn an_axis_past_the_front_panics() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[2, 3])).sum_axis(-3);
}

#[test]
#[should_panic(expected = "unsqueeze: axis 3 is out of range for shape [2, 3, 1]")]
fn unsqueeze_past_the_end_panics() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::zeros(&[2, 3])).unsqueeze(3);
}
