//! The reverse sweep as a whole: accumulation where a node is used more than once, nodes that
//! do not need gradients, vector-Jacobian products, repeated and independent backward passes,
//! and a chain deep enough that any recursion would overflow the stack.

use tapegrad::{Grads, Tape, Tensor};

#[test]
fn a_var_used_several_times_accumulates_every_use() {
    let tape = Tape::new();
    let a = tape.param(3.0);
    // b = a + a; c = b + b  ⇒  c = 4a, dc/da = 4.
    let b = a + a;
    let c = b + b;
    assert_eq!(c.backward()[a].item(), 4.0);
    // y = x·x·x ⇒ dy/dx = 3x² = 27.
    let y = a * a * a;
    assert_eq!(y.backward()[a].item(), 27.0);
}

#[test]
fn a_diamond_sums_both_paths() {
    // s → (x = 2s, y = s²) → z = x·y: the article's two-path chain rule,
    // dz/ds = ∂z/∂x · dx/ds + ∂z/∂y · dy/ds = y·2 + x·2s = 2s² + 4s² = 6s².
    let tape = Tape::new();
    let s = tape.param(Tensor::from([1.0, -2.0, 0.5]));
    let x = s * 2.0;
    let y = s.powf(2.0);
    let z = x * y;
    let grads = z.backward_with(Tensor::ones(&[3]));
    assert_eq!(grads[s], Tensor::from([6.0, 24.0, 1.5]));
    // The intermediate nodes have their gradients too: ∂z/∂x = y, ∂z/∂y = x.
    assert_eq!(grads[x], y.value());
    assert_eq!(grads[y], x.value());
}

#[test]
fn backward_with_is_a_vector_jacobian_product() {
    let tape = Tape::new();
    let w = tape.param(Tensor::from([[1.0, 2.0], [3.0, 4.0]]));
    let x = tape.constant(Tensor::from([1.0, -1.0]));
    let y = w.matmul(x) * w.sum_axis(1); // y_i = (w_i · x)(Σ_j w_ij)
    assert_eq!(y.value(), Tensor::from([-3.0, -7.0]));
    // vᵀ·J for v = e₀ picks out row 0 of the Jacobian, and so on; linear in v.
    let g0 = tape_grad(&y.backward_with(Tensor::from([1.0, 0.0])), w);
    let g1 = tape_grad(&y.backward_with(Tensor::from([0.0, 1.0])), w);
    let both = tape_grad(&y.backward_with(Tensor::from([2.0, -3.0])), w);
    assert_eq!(both, 2.0 * &g0 - 3.0 * &g1);
    // ∂y₀/∂w₀ⱼ = xⱼ·Σw₀ + w₀·x = [3 − 1, −3 − 1]; row 1 untouched.
    assert_eq!(g0, Tensor::from([[2.0, -4.0], [0.0, 0.0]]));

    fn tape_grad(grads: &Grads, w: tapegrad::Var<'_>) -> Tensor {
        grads[w].clone()
    }
}

#[test]
fn constants_get_no_gradient_and_unreached_params_get_zeros() {
    let tape = Tape::new();
    let x = tape.constant(Tensor::from([1.0, 2.0]));
    let w = tape.param(Tensor::from([3.0, 4.0]));
    let unused = tape.param(Tensor::from([[5.0, 6.0]]));
    let loss = (x * w).sum();
    let after_the_output = w * 2.0;
    let grads = loss.backward();
    assert_eq!(grads[w], Tensor::from([1.0, 2.0]));
    assert!(
        grads.get(x).is_none(),
        "no parameter reaches x: never computed"
    );
    assert!(grads.get(unused).is_none());
    assert_eq!(
        grads[unused],
        Tensor::zeros(&[1, 2]),
        "zeros of the param's shape"
    );
    assert!(
        grads.get(unused).is_none(),
        "indexing does not pretend a gradient flowed"
    );
    assert_eq!(grads[loss].item(), 1.0, "∂loss/∂loss");
    // A node recorded after the output does not reach it.
    assert!(grads.get(after_the_output).is_none());
    assert_eq!(grads[after_the_output], Tensor::zeros(&[2]));
}

#[test]
fn backward_twice_gives_identical_independent_results() {
    let tape = Tape::new();
    let w = tape.param(Tensor::from([0.5, -1.5]));
    let loss = (w * w).sum().sqrt();
    let first = loss.backward();
    let second = loss.backward();
    assert_eq!(first[w], second[w]);
    let mut g = first[w].clone();
    g += 1.0;
    assert_eq!(
        second[w], first[w],
        "a gradient taken out is a copy-on-write clone"
    );
}

#[test]
fn gradients_outlive_the_tape_and_clear_reuses_it() {
    let mut tape = Tape::new();
    let grads = {
        let w = tape.param(2.0);
        (w * w).backward()
    };
    tape.clear();
    assert_eq!(tape.len(), 0);
    let w = tape.param(5.0);
    assert_eq!((w * w).backward()[w].item(), 10.0);
    drop(tape);
    // `grads` owns its tensors: still usable after the tape is gone.
    assert!(format!("{grads:?}").contains("4.0"));
}

#[test]
fn a_chain_of_a_million_nodes_runs_without_stack_overflow() {
    // x = 0.5; N times x = x·1.0000001 + 0.0000001 (the deep-chain benchmark, W4): 2·10⁶ nodes.
    const N: usize = 1_000_000;
    let tape = Tape::with_capacity(2 * N + 1);
    let x0 = tape.param(0.5);
    let mut x = x0;
    let mut expected_value = 0.5;
    let mut expected_grad = 1.0;
    for _ in 0..N {
        x = x * 1.0000001 + 0.0000001;
        expected_value = expected_value * 1.0000001 + 0.0000001;
        expected_grad *= 1.0000001;
    }
    assert_eq!(tape.len(), 2 * N + 1);
    assert_eq!(x.value().item(), expected_value);
    let grads = x.backward();
    // dx_N/dx_0 = 1.0000001^N, accumulated in the same order as the sweep multiplies.
    assert!((grads[x0].item() - expected_grad).abs() <= 1e-9 * expected_grad);
    assert!((expected_grad - 1.0000001f64.powi(N as i32)).abs() < 1e-6);
}
