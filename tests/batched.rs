//! Batched matrix products, variance and seeded random tensors against closed forms: each
//! matrix of a batch equals the 2-D product of its operands, a broadcast operand collects the
//! gradients of every matrix it was used in, and a seed always gives the same numbers.

use tapegrad::{Tape, Tensor};

/// The `i`-th matrix of a `[b, r, c]` tensor.
fn matrix(t: &Tensor, i: usize) -> Tensor {
    let (r, c) = (t.shape()[1], t.shape()[2]);
    Tensor::from_vec(t.data()[i * r * c..(i + 1) * r * c].to_vec(), &[r, c]).unwrap()
}

#[test]
fn each_matrix_of_a_batch_is_the_2d_product() {
    let x = Tensor::rand(&[3, 2, 4], 1);
    let y = Tensor::randn(&[3, 4, 5], 2);
    let z = x.matmul(&y);
    assert_eq!(z.shape(), &[3, 2, 5]);
    for i in 0..3 {
        assert_eq!(matrix(&z, i), matrix(&x, i).matmul(&matrix(&y, i)));
    }
    // A shared right operand broadcasts over the batch.
    let w = matrix(&y, 0);
    let zw = x.matmul(&w);
    for i in 0..3 {
        assert_eq!(matrix(&zw, i), matrix(&x, i).matmul(&w));
    }
    // Leading dimensions broadcast as in numpy: [2, 1, 2, 4] · [3, 4, 5] → [2, 3, 2, 5].
    let four = Tensor::rand(&[2, 1, 2, 4], 3).matmul(&y);
    assert_eq!(four.shape(), &[2, 3, 2, 5]);
    // A vector on either side loses its row or column, as in numpy.
    assert_eq!(x.matmul(&Tensor::ones(&[4])).shape(), &[3, 2]);
    assert_eq!(Tensor::ones(&[2]).matmul(&x).shape(), &[3, 4]);
}

#[test]
fn a_broadcast_operand_collects_the_gradient_of_every_matrix() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from_fn(&[2, 1, 2], |i| i as f64 + 1.0)); // rows [1, 2], [3, 4]
    let w = tape.param(Tensor::from([[1.0, 0.0], [0.0, 1.0]]));
    let z = x.matmul(w);
    assert_eq!(z.value(), x.value());
    // dW = Σ over the batch of xᵢᵀ · gᵢ; with g = 1: each column is the sum of x's columns.
    let g = z.sum().backward();
    assert_eq!(g[w], Tensor::from([[4.0, 4.0], [6.0, 6.0]]));
    assert_eq!(g[x], Tensor::ones(&[2, 1, 2])); // rows of w summed: 1 each
}

#[test]
fn variance_follows_pytorchs_correction() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([[1.0, 2.0, 3.0, 6.0], [2.0, 2.0, 2.0, 2.0]]));
    // torch.var(x, dim=1) = [14/3, 0]; correction=0 gives [14/4, 0].
    assert_eq!(x.var(1, 1.0).value(), Tensor::from([14.0 / 3.0, 0.0]));
    assert_eq!(x.var(-1, 0.0).value(), Tensor::from([3.5, 0.0]));
    assert_eq!(x.var(0, 1.0).value(), Tensor::from([0.5, 0.0, 0.5, 8.0]));
    // d var / dx = 2(x − mean)/(n − c).
    let g = x.var(1, 1.0).sum().backward();
    assert_eq!(g[x].data()[..4], [-4.0 / 3.0, -2.0 / 3.0, 0.0, 2.0]);
    assert_eq!(x.std(1, 0.0).value().data()[0], 3.5f64.sqrt());
    assert_eq!(
        x.var_keepdim(-1, 1.0).value(),
        Tensor::from([[14.0 / 3.0], [0.0]])
    );
    assert_eq!(x.std_keepdim(0, 0.0).shape(), [1, 4]);
    // One element with the unbiased correction divides by 0, as in PyTorch.
    let one = tape.param(Tensor::from([5.0]));
    assert!(one.var(0, 1.0).value().item().is_nan());
}

#[test]
fn seeded_random_tensors_are_reproducible() {
    assert_eq!(Tensor::rand(&[2, 3], 5), Tensor::rand(&[2, 3], 5));
    assert_ne!(Tensor::rand(&[2, 3], 5), Tensor::rand(&[2, 3], 6));
    // Pinned: an upgrade of rand or rand_chacha that changed the stream would be caught.
    let u = Tensor::rand(&[2], 42);
    let n = Tensor::randn(&[2], 42);
    let pinned = [u.data()[0], u.data()[1], n.data()[0], n.data()[1]];
    assert_eq!(pinned, PINNED);
    let w = Tensor::uniform(&[1000], -3.0, 5.0, 9);
    assert!(w.data().iter().all(|&x| (-3.0..5.0).contains(&x)));
    let mean = w.sum() / 1000.0;
    assert!((mean - 1.0).abs() < 0.3, "{mean}");
}

/// The first two uniforms of seed 42, and the two normals Box–Muller makes of them:
/// √(−2 ln(1 − 0.68190)) · (cos, sin)(2π · 0.95028) = 1.51350 · (0.95159, −0.30737).
const PINNED: [f64; 4] = [
    0.6818961923066714,
    0.950275407672484,
    1.4402540791191,
    -0.4652130780080701,
];

#[test]
fn the_pinned_normals_are_box_muller_of_the_pinned_uniforms() {
    let (u1, u2) = (1.0 - PINNED[0], PINNED[1]);
    let radius = (-2.0 * u1.ln()).sqrt();
    let angle = std::f64::consts::TAU * u2;
    assert_eq!([radius * angle.cos(), radius * angle.sin()], PINNED[2..]);
}
