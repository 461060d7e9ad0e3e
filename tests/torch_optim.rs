//! Optimizers, clipping and schedules against PyTorch's own numbers
//! (`tests/fixtures/torch/gen.py` wrote them to `reference.safetensors`; CI needs no PyTorch):
//! five steps of `torch.optim.SGD` (momentum, weight decay), `Adam` (L2) and `AdamW` on an MLP,
//! with every parameter and state buffer after the last; `clip_grad_norm_`; and `StepLR`,
//! `CosineAnnealingLR` and `LinearLR` step by step.

mod common;

use common::{torch_fixture as fixture, torch_reference as reference};
use tapegrad::nn::Mlp;
use tapegrad::optim::schedule::{CosineAnnealingLr, LinearLr, Schedule, StepLr};
use tapegrad::optim::{Adam, AdamW, Optimizer, Sgd};
use tapegrad::{ParamStore, Tape, loss};

/// The fixtures' 3-4-4-2 tanh MLP with PyTorch's initial weights.
fn model() -> (ParamStore, Mlp) {
    let (mut store, mlp) = common::torch_mlp(0);
    store.load_into(fixture("mlp_f64.safetensors")).unwrap();
    (store, mlp)
}

/// Relative agreement to `tolerance`: PyTorch's BLAS sums the products in another order, so
/// the gradients, and what follows from them, agree to rounding, not to the bit.
fn assert_close(got: &[f64], want: &[f64], tolerance: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tolerance * w.abs().max(1e-3),
            "{what}[{i}]: tapegrad {g}, PyTorch {w}"
        );
    }
}

/// Five steps of `optimizer` on the fixture's MSE, checked against PyTorch's losses,
/// parameters and state.
fn replay(name: &str, mut optimizer: impl Optimizer, buffers: &[&str]) {
    let reference = reference();
    let (mut store, mlp) = model();
    let (x, target) = (&reference["x"], &reference["target"]);
    let mut tape = Tape::new();
    let mut losses = Vec::new();
    for _ in 0..5 {
        losses.push(optimizer.minimize(&mut store, &mut tape, |p| {
            let out = mlp.forward(p, p.tape().constant(x.clone()));
            loss::mse(out, p.tape().constant(target.clone()))
        }));
    }
    assert_close(
        &losses,
        reference[format!("{name}/loss").as_str()].data(),
        1e-13,
        name,
    );
    let state = optimizer.state(&store);
    for (((param, value), slot), index) in store.iter().zip(&state.params).zip(0..) {
        let want = &reference[format!("{name}/param/{param}").as_str()];
        assert_close(value.data(), want.data(), 1e-12, &format!("{name} {param}"));
        let slot = slot.as_ref().expect("every parameter took a step");
        for buffer in buffers {
            let want = &reference[format!("{name}/{buffer}/{param}").as_str()];
            let got = slot.tensor(buffer).unwrap();
            assert_eq!(got.shape(), want.shape());
            assert_close(
                got.data(),
                want.data(),
                1e-11,
                &format!("{name} {buffer} {param}"),
            );
        }
        if let Some(step) = reference.get(&format!("{name}/step/{param}")) {
            assert_eq!(slot.step, Some(step.item() as u64), "{name} {param}");
        }
        assert!(index < store.len());
    }
}

#[test]
fn sgd_with_momentum_and_weight_decay_matches_pytorch() {
    let sgd = Sgd::new(0.1).with_momentum(0.9).with_weight_decay(1e-3);
    replay("sgd", sgd, &["momentum_buffer"]);
}

#[test]
fn adam_with_l2_matches_pytorch() {
    replay(
        "adam",
        Adam::new(0.01).with_weight_decay(1e-2),
        &["exp_avg", "exp_avg_sq"],
    );
}

#[test]
fn adamw_matches_pytorch() {
    let adamw = AdamW::new(0.01)
        .with_betas(0.8, 0.99)
        .with_weight_decay(0.1);
    replay("adamw", adamw, &["exp_avg", "exp_avg_sq"]);
}

/// 30 steps of each schedule from lr = 0.1: PyTorch's rates, bit for bit.
#[test]
fn schedules_give_pytorchs_rates_bit_for_bit() {
    let reference = reference();
    type Make = fn(&mut Sgd) -> Box<dyn Schedule>;
    let schedules: [(&str, Make); 3] = [
        ("step", |o| Box::new(StepLr::new(o, 4, 0.5))),
        ("cosine", |o| Box::new(CosineAnnealingLr::new(o, 10, 0.001))),
        ("linear", |o| Box::new(LinearLr::new(o, 0.1, 1.0, 6))),
    ];
    for (name, make) in schedules {
        let mut sgd = Sgd::new(0.1);
        let mut schedule = make(&mut sgd);
        let mut rates = vec![sgd.lr];
        for _ in 0..30 {
            rates.push(schedule.step(&mut sgd));
        }
        assert_eq!(schedule.steps(), 30);
        let want = reference[format!("schedule/{name}").as_str()].to_vec();
        assert_eq!(rates, want, "{name}");
    }
}

/// `clip_grad_norm_` with a bound that clips and one that does not.
#[test]
fn clip_norm_follows_pytorchs_rule() {
    let reference = reference();
    let (store, mlp) = model();
    for max_norm in ["0.05", "100.0"] {
        let tape = Tape::new();
        let p = store.on_tape(&tape);
        let out = mlp.forward(&p, tape.constant(reference["x"].clone()));
        let l = loss::mse(out, tape.constant(reference["target"].clone()));
        let mut grads = p.grads(&l.backward());
        let key = format!("clip/{max_norm}");
        for (name, _) in store.iter() {
            let want = &reference[format!("{key}/grad/{name}").as_str()];
            let id = store.id(name).unwrap();
            assert_close(grads[id].data(), want.data(), 1e-13, name);
        }
        let norm = grads.clip_norm(max_norm.parse().unwrap());
        assert_close(
            &[norm],
            reference[format!("{key}/norm").as_str()].data(),
            1e-14,
            "norm",
        );
        for (name, _) in store.iter() {
            let want = &reference[format!("{key}/clipped/{name}").as_str()];
            let id = store.id(name).unwrap();
            assert_close(grads[id].data(), want.data(), 1e-13, name);
        }
    }
}
