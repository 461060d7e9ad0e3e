//! Training runs replayed against an independent engine: JAX computes every loss and gradient
//! and optax applies SGD (plain, momentum, Nesterov, weight decay) and Adam (with and without
//! weight decay), in float64, from the same data and initial parameters
//! (`tests/reference_training/gen.py` writes `values.rs`). tapegrad's `Mlp`, losses and
//! optimizers must give the same loss at every step and the same parameters after the last,
//! to 1e-10 relative.

use approx::assert_relative_eq;
use tapegrad::nn::{Activation, Mlp};
use tapegrad::optim::{Adam, Sgd};
use tapegrad::{ParamGrads, ParamStore, Tape, Tensor, Var, loss};

const MAX_RELATIVE: f64 = 1e-10;

enum LossKind {
    Mse,
    CrossEntropy,
    Bce,
    Hinge,
}

enum Targets {
    Classes(&'static [usize]),
    Values(&'static [f64], &'static [usize]),
}

struct Case {
    name: &'static str,
    sizes: &'static [usize],
    activation: Activation,
    loss: LossKind,
    /// Added to the loss as `l2 · Σ p²` over every parameter (micrograd's regularisation).
    l2: f64,
    x: &'static [f64],
    targets: Targets,
    initial: &'static [&'static [f64]],
    losses: &'static [f64],
    final_params: &'static [&'static [f64]],
}

mod values {
    use super::*;
    include!("reference_training/values.rs");
}

enum Optimizer {
    Sgd(Sgd),
    Adam(Adam),
}

/// The optimizer each case names in its doc line (the generator writes the same expression).
fn optimizer(name: &str) -> Optimizer {
    match name {
        "sgd_mse_tanh" => Optimizer::Sgd(Sgd::new(0.1)),
        "sgd_nesterov_decay_cross_entropy_relu" => Optimizer::Sgd(
            Sgd::new(0.05)
                .with_momentum(0.9)
                .with_nesterov()
                .with_weight_decay(1e-3),
        ),
        "sgd_momentum_hinge_l2_relu" => Optimizer::Sgd(Sgd::new(0.05).with_momentum(0.5)),
        "adam_bce_sigmoid" => Optimizer::Adam(Adam::new(0.01)),
        "adam_decay_cross_entropy_tanh" => Optimizer::Adam(
            Adam::new(0.02)
                .with_betas(0.8, 0.99)
                .with_eps(1e-6)
                .with_weight_decay(1e-2),
        ),
        "adam_long_bce_relu" => Optimizer::Adam(Adam::new(0.05)),
        other => panic!("no optimizer for case {other}"),
    }
}

fn case_loss<'t>(case: &Case, out: Var<'t>, tape: &'t Tape) -> Var<'t> {
    match (&case.loss, &case.targets) {
        (LossKind::CrossEntropy, Targets::Classes(classes)) => loss::cross_entropy(out, classes),
        (kind, Targets::Values(t, shape)) => {
            let t = tape.constant(Tensor::from_vec(t.to_vec(), shape).unwrap());
            match kind {
                LossKind::Mse => loss::mse(out, t),
                LossKind::Bce => loss::binary_cross_entropy_with_logits(out, t),
                LossKind::Hinge => loss::hinge(out, t),
                LossKind::CrossEntropy => unreachable!("class targets"),
            }
        }
        _ => panic!("{}: targets do not fit the loss", case.name),
    }
}

fn replay(case: &Case) {
    let mut store = ParamStore::new();
    let mut rng = tapegrad::nn::seeded_rng(0);
    let mlp = Mlp::new(&mut store, "mlp", case.sizes, case.activation, &mut rng);
    assert_eq!(store.len(), case.initial.len(), "{}", case.name);
    for (id, values) in store
        .ids()
        .collect::<Vec<_>>()
        .into_iter()
        .zip(case.initial)
    {
        store.set(id, from_jax_layout(values, store[id].shape()));
    }
    let batch = case.x.len() / case.sizes[0];
    let x = Tensor::from_vec(case.x.to_vec(), &[batch, case.sizes[0]]).unwrap();
    let mut optimizer = optimizer(case.name);

    for (step, &want) in case.losses.iter().enumerate() {
        let (value, grads): (f64, ParamGrads) = {
            let tape = Tape::new();
            let p = store.on_tape(&tape);
            let out = mlp.forward(&p, tape.constant(x.clone()));
            let mut total = case_loss(case, out, &tape);
            if case.l2 != 0.0 {
                for (_, w) in p.iter() {
                    total = total + case.l2 * (w * w).sum();
                }
            }
            (total.value().item(), p.grads(&total.backward()))
        };
        assert_relative_eq!(value, want, max_relative = MAX_RELATIVE);
        println!("{} step {step}: loss {value} (JAX {want})", case.name);
        match &mut optimizer {
            Optimizer::Sgd(sgd) => sgd.step(&mut store, &grads),
            Optimizer::Adam(adam) => adam.step(&mut store, &grads),
        }
    }
    for ((name, got), want) in store.iter().zip(case.final_params) {
        let got = to_jax_layout(got);
        for (i, (&g, &w)) in got.data().iter().zip(*want).enumerate() {
            assert!(
                approx::relative_eq!(g, w, max_relative = MAX_RELATIVE, epsilon = 1e-14),
                "{}: {name}[{i}] = {g}, JAX {w}",
                case.name
            );
        }
    }
}

/// The generator's JAX model computes `x·W`, its weights `[in, out]`; tapegrad's layers hold
/// PyTorch's `[out, in]`. A weight of `shape` from the generator's values.
fn from_jax_layout(values: &[f64], shape: &[usize]) -> Tensor {
    match *shape {
        [out, inputs] => Tensor::from_vec(values.to_vec(), &[inputs, out])
            .unwrap()
            .transpose(),
        _ => Tensor::from_vec(values.to_vec(), shape).unwrap(),
    }
}

/// A parameter in the generator's layout (weights `[in, out]`).
fn to_jax_layout(value: &Tensor) -> Tensor {
    if value.ndim() == 2 {
        value.transpose()
    } else {
        value.clone()
    }
}

#[test]
fn training_runs_match_jax_and_optax() {
    assert_eq!(values::CASES.len(), 6);
    for case in values::CASES {
        replay(case);
    }
}
