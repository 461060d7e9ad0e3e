//! The optimizers of `tapegrad::optim` against PyTorch's update rules written out by hand, step
//! by step, on gradients we choose; and their contract with the store (in place, panics).
//! tests/reference_training.rs also replays whole training runs against JAX and optax.

use approx::assert_relative_eq;
use tapegrad::optim::{Adam, AdamW, Optimizer, Sgd};
use tapegrad::{ParamGrads, ParamStore, Tape, Tensor};

/// A store with one parameter `w`, and the gradients of `Σ c ⊙ w²` (that is `2 c ⊙ w`), so each
/// step sees a gradient that depends on the updated value.
fn quadratic_grads(store: &ParamStore, c: &Tensor) -> ParamGrads {
    let tape = Tape::new();
    let p = store.on_tape(&tape);
    let c = tape.constant(c.clone());
    let loss = (c * p["w"] * p["w"]).sum();
    p.grads(&loss.backward())
}

fn store_with(w: &[f64]) -> ParamStore {
    let mut store = ParamStore::new();
    store.insert("w", Tensor::from(w.to_vec()));
    store
}

/// PyTorch's SGD on one element, as in torch/optim/sgd.py (_single_tensor_sgd).
/// `(momentum, dampening, weight_decay, nesterov)` are PyTorch's keyword arguments.
fn torch_sgd(steps: usize, w0: f64, c: f64, lr: f64, variant: (f64, f64, f64, bool)) -> f64 {
    let (momentum, dampening, wd, nesterov) = variant;
    let mut p = w0;
    let mut buf: Option<f64> = None;
    for _ in 0..steps {
        let mut d = 2.0 * c * p;
        d += wd * p;
        if momentum != 0.0 {
            let b = match buf {
                None => d,
                Some(b) => momentum * b + (1.0 - dampening) * d,
            };
            buf = Some(b);
            d = if nesterov { d + momentum * b } else { b };
        }
        p += -lr * d;
    }
    p
}

/// PyTorch's Adam on one element, as in torch/optim/adam.py (_single_tensor_adam).
fn torch_adam(
    steps: usize,
    w0: f64,
    c: f64,
    lr: f64,
    (b1, b2): (f64, f64),
    eps: f64,
    wd: f64,
) -> f64 {
    let (mut p, mut m, mut v) = (w0, 0.0, 0.0);
    for t in 1..=steps {
        let g = 2.0 * c * p + wd * p;
        m += (1.0 - b1) * (g - m);
        v = v * b2 + (1.0 - b2) * g * g;
        let bc1 = 1.0 - b1.powf(t as f64);
        let bc2 = 1.0 - b2.powf(t as f64);
        let denom = v.sqrt() / bc2.sqrt() + eps;
        p -= lr / bc1 * m / denom;
    }
    p
}

const W0: [f64; 4] = [1.5, -0.5, 0.25, -2.0];
const C: [f64; 4] = [1.0, 0.3, 2.0, 0.05];

fn run(mut step: impl FnMut(&mut ParamStore, &ParamGrads), steps: usize) -> Vec<f64> {
    let mut store = store_with(&W0);
    let c = Tensor::from(C);
    for _ in 0..steps {
        let grads = quadratic_grads(&store, &c);
        step(&mut store, &grads);
    }
    store["w"].to_vec()
}

#[test]
fn plain_sgd_is_w_minus_lr_g() {
    // Two steps on Σ w² with lr 0.25: w ← w − 0.5 w, twice.
    let mut sgd = Sgd::new(0.25);
    let mut store = store_with(&[4.0, -8.0]);
    for _ in 0..2 {
        let grads = quadratic_grads(&store, &Tensor::from([1.0, 1.0]));
        sgd.step(&mut store, &grads);
    }
    assert_eq!(store["w"].data(), &[1.0, -2.0]);
}

#[test]
fn sgd_variants_follow_pytorch_rules_for_ten_steps() {
    let variants: [(f64, f64, f64, bool); 5] = [
        (0.0, 0.0, 0.0, false),
        (0.9, 0.0, 0.0, false),
        (0.9, 0.5, 0.0, false),
        (0.8, 0.0, 0.01, true),
        (0.0, 0.0, 0.1, false),
    ];
    for (momentum, dampening, wd, nesterov) in variants {
        let mut sgd = Sgd::new(0.1)
            .with_momentum(momentum)
            .with_dampening(dampening)
            .with_weight_decay(wd);
        if nesterov {
            sgd = sgd.with_nesterov();
        }
        let got = run(|s, g| sgd.step(s, g), 10);
        for (i, &g) in got.iter().enumerate() {
            let want = torch_sgd(10, W0[i], C[i], 0.1, (momentum, dampening, wd, nesterov));
            assert_relative_eq!(g, want, max_relative = 1e-15);
        }
    }
}

#[test]
fn momentum_is_remembered_between_steps() {
    // With momentum 0.9 the second step moves further than plain SGD's would.
    let plain = run(|s, g| Sgd::new(0.1).step(s, g), 2);
    let mut sgd = Sgd::new(0.1).with_momentum(0.9);
    let heavy = run(|s, g| sgd.step(s, g), 2);
    assert!(heavy[0].abs() < plain[0].abs(), "{heavy:?} vs {plain:?}");
    // By hand for w = 1.5, c = 1: g₀ = 3, b = 3, w₁ = 1.2; g₁ = 2.4, b = 2.7 + 2.4 = 5.1, w₂ = 0.69.
    assert_relative_eq!(heavy[0], 0.69, max_relative = 1e-15);
}

#[test]
fn adam_follows_pytorch_rules_for_ten_steps() {
    let settings = [
        (0.1, (0.9, 0.999), 1e-8, 0.0),
        (0.05, (0.8, 0.99), 1e-6, 0.1),
        (0.5, (0.0, 0.5), 1e-3, 0.0),
    ];
    for (lr, (b1, b2), eps, wd) in settings {
        let mut adam = Adam::new(lr)
            .with_betas(b1, b2)
            .with_eps(eps)
            .with_weight_decay(wd);
        let got = run(|s, g| adam.step(s, g), 10);
        assert_eq!(adam.steps(), 10);
        for (i, &g) in got.iter().enumerate() {
            let want = torch_adam(10, W0[i], C[i], lr, (b1, b2), eps, wd);
            assert_relative_eq!(g, want, max_relative = 1e-14);
        }
    }
}

#[test]
fn adams_first_step_moves_each_weight_by_about_lr() {
    // Step 1: m̂ = g and v̂ = g², so the step is lr·g/(|g| + ε).
    let mut adam = Adam::new(0.01);
    let got = run(|s, g| adam.step(s, g), 1);
    for i in 0..4 {
        let g = 2.0 * C[i] * W0[i];
        assert_relative_eq!(
            got[i],
            W0[i] - 0.01 * g / (g.abs() + 1e-8),
            max_relative = 1e-15
        );
    }
}

#[test]
fn updates_write_in_place_once_the_tape_is_gone() {
    let mut store = store_with(&W0);
    let before = store["w"].data().as_ptr();
    let grads = quadratic_grads(&store, &Tensor::from(C));
    Sgd::new(0.1).with_momentum(0.9).step(&mut store, &grads);
    Adam::new(0.1).step(&mut store, &grads);
    assert_eq!(
        store["w"].data().as_ptr(),
        before,
        "the update copied the parameter"
    );
}

#[test]
fn an_update_never_changes_a_tensor_shared_elsewhere() {
    let mut store = store_with(&W0);
    let kept = store["w"].clone(); // e.g. a snapshot for early stopping
    let grads = quadratic_grads(&store, &Tensor::from(C));
    Sgd::new(0.1).step(&mut store, &grads);
    assert_eq!(kept.data(), &W0);
    assert_ne!(store["w"].data(), &W0);
}

#[test]
#[should_panic(expected = "Sgd: Nesterov momentum needs momentum > 0 and dampening = 0")]
fn nesterov_without_momentum_is_refused() {
    let mut store = store_with(&W0);
    let grads = quadratic_grads(&store, &Tensor::from(C));
    Sgd::new(0.1).with_nesterov().step(&mut store, &grads);
}

#[test]
#[should_panic(
    expected = "ParamStore::update: the gradients were taken from another store (1 gradients for 2 parameters)"
)]
fn gradients_of_a_store_that_grew_are_refused() {
    let mut store = store_with(&W0);
    let grads = quadratic_grads(&store, &Tensor::from(C));
    store.insert("b", 0.0);
    Adam::new(0.1).step(&mut store, &grads);
}

#[test]
#[should_panic(
    expected = "Adam: the store holds 2 parameters but the optimizer's state was made for 1"
)]
fn an_optimizer_notices_a_store_that_grew() {
    let mut store = store_with(&W0);
    let mut adam = Adam::new(0.1);
    let grads = quadratic_grads(&store, &Tensor::from(C));
    adam.step(&mut store, &grads);
    store.insert("b", 0.0);
    let tape = Tape::new();
    let p = store.on_tape(&tape);
    let loss = p["w"].sum() + p["b"];
    let grads = p.grads(&loss.backward());
    drop(p);
    adam.step(&mut store, &grads);
}

#[test]
#[should_panic(expected = "ParamStore::update: the gradients were taken from another store")]
fn gradients_of_another_store_of_the_same_shape_are_refused() {
    let (mut a, b) = (store_with(&W0), store_with(&W0));
    let grads_of_b = quadratic_grads(&b, &Tensor::from(C));
    Sgd::new(0.1).step(&mut a, &grads_of_b);
}

#[test]
#[should_panic(
    expected = "Adam: stepped on another store than before; use one optimizer per store"
)]
fn one_optimizer_serves_one_store() {
    let (mut a, mut b) = (store_with(&W0), store_with(&W0));
    let mut adam = Adam::new(0.1);
    let grads = quadratic_grads(&a, &Tensor::from(C));
    adam.step(&mut a, &grads);
    let grads = quadratic_grads(&b, &Tensor::from(C));
    adam.step(&mut b, &grads); // a's moments must not move b's weights
}

/// A parameter cannot change size under an optimizer's state: assigning checks the shape.
#[test]
fn a_parameter_cannot_change_size() {
    let mut store = store_with(&W0);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.set("w", Tensor::from([1.0, 2.0, 3.0]));
    }));
    let message = *caught.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(
        message,
        "ParamStore::set: parameter `w` has shape [4], the new value [3]"
    );
    assert_eq!(store["w"].data(), &W0, "the store is unchanged");
}

#[test]
#[should_panic(expected = "Adam: lr must be ≥ 0, got -0.1")]
fn a_negative_learning_rate_is_refused() {
    let mut store = store_with(&W0);
    let grads = quadratic_grads(&store, &Tensor::from(C));
    Adam::new(-0.1).step(&mut store, &grads);
}

/// Two parameters; the loss reads `u` only when `use_u`.
fn grads_using(store: &ParamStore, use_u: bool) -> ParamGrads {
    let tape = Tape::new();
    let p = store.on_tape(&tape);
    let mut loss = (p["w"] * p["w"]).sum();
    if use_u {
        loss = loss + (p["u"] * p["u"]).sum();
    }
    p.grads(&loss.backward())
}

#[test]
fn parameters_without_a_gradient_are_left_alone_as_pytorch_does() {
    // PyTorch skips a parameter whose .grad is None: no weight decay, no momentum, and Adam's
    // bias correction counts that parameter's own steps.
    let mut store = ParamStore::new();
    store.insert("w", 1.0);
    store.insert("u", 1.0);
    let mut sgd = Sgd::new(0.1).with_momentum(0.9).with_weight_decay(0.5);
    for _ in 0..3 {
        let grads = grads_using(&store, false);
        sgd.step(&mut store, &grads);
    }
    assert_eq!(store["u"].item(), 1.0, "no gradient: not decayed");
    assert_ne!(store["w"].item(), 1.0);

    // u takes its first Adam step at the optimizer's third: its bias correction is that of
    // step 1, so it moves by lr·g/(|g| + ε), exactly as a fresh optimizer's first step would.
    let mut store = ParamStore::new();
    store.insert("w", 1.0);
    store.insert("u", 1.0);
    let mut adam = Adam::new(0.1);
    for use_u in [false, false, true] {
        let grads = grads_using(&store, use_u);
        adam.step(&mut store, &grads);
    }
    assert_eq!(adam.steps(), 3);
    assert_relative_eq!(
        store["u"].item(),
        1.0 - 0.1 * 2.0 / (2.0 + 1e-8),
        max_relative = 1e-15
    );
}

/// `minimize` is the explicit step in one call: the same loss and the same bits.
#[test]
fn minimize_is_the_explicit_step() {
    let (mut a, mut b) = (store_with(&W0), store_with(&W0));
    let (mut adam_a, mut adam_b) = (Adam::new(0.1), Adam::new(0.1));
    let mut tape = Tape::new();
    for _ in 0..4 {
        let explicit = {
            let tape = Tape::new();
            let p = a.on_tape(&tape);
            let loss = (p["w"] * p["w"] * tape.constant(Tensor::from(C))).sum();
            let grads = p.grads(&loss.backward());
            let value = loss.value().item();
            drop(p);
            adam_a.step(&mut a, &grads);
            value
        };
        let one_call = adam_b.minimize(&mut b, &mut tape, |p| {
            (p["w"] * p["w"] * p.tape().constant(Tensor::from(C))).sum()
        });
        assert_eq!(one_call.to_bits(), explicit.to_bits());
    }
    let bits = |s: &ParamStore| {
        s["w"]
            .data()
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&a), bits(&b));
}

/// A frozen parameter gets no gradient, and no optimizer moves it (not even weight decay);
/// unfrozen, it trains again.
#[test]
fn a_frozen_parameter_is_left_alone() {
    let mut store = store_with(&W0);
    let u = store.insert("u", Tensor::from([1.0, -1.0]));
    store.freeze(u);
    assert!(store.is_frozen("u") && !store.is_frozen("w"));
    fn loss<'t>(p: &tapegrad::Params<'_, 't>) -> tapegrad::Var<'t> {
        (p["w"] * p["w"]).sum() + (p["u"] * p["u"]).sum()
    }
    {
        let tape = Tape::new();
        let p = store.on_tape(&tape);
        let grads = p.grads(&loss(&p).backward());
        assert_eq!(
            grads.get(u),
            None,
            "no gradient flows to a frozen parameter"
        );
    }
    let mut adamw = AdamW::new(0.1).with_weight_decay(0.5);
    let mut tape = Tape::new();
    for _ in 0..3 {
        adamw.minimize(&mut store, &mut tape, loss);
    }
    assert_eq!(store[u].data(), &[1.0, -1.0]);
    assert_ne!(store["w"].data(), &W0);
    assert!(adamw.param_state(u).is_none());

    store.unfreeze(u);
    adamw.minimize(&mut store, &mut tape, loss);
    assert_ne!(store[u].data(), &[1.0, -1.0]);
    assert_eq!(adamw.param_state(u).unwrap().step, 1);
}

#[test]
fn clipping_a_zero_or_nan_gradient() {
    let store = store_with(&W0);
    let tape = Tape::new();
    let p = store.on_tape(&tape);
    let mut zero = p.grads(&(p["w"] * 0.0).sum().backward());
    assert_eq!(zero.clip_norm(1.0), 0.0);
    assert_eq!(zero[store.id("w").unwrap()].data(), &[0.0; 4]);
    // A NaN norm makes every gradient NaN, as PyTorch's clamp keeps NaN.
    let mut nan = p.grads(&(p["w"] * f64::NAN).sum().backward());
    assert!(nan.clip_norm(1.0).is_nan());
    assert!(
        nan[store.id("w").unwrap()]
            .data()
            .iter()
            .all(|g| g.is_nan())
    );
}

/// A schedule resumes from its fields: 10 steps straight give the rates of 5, a checkpoint
/// reloaded into a fresh optimizer, the schedule rewritten with `last_epoch: 5`, and 5 more.
#[test]
fn a_schedule_resumes_from_its_fields_after_a_checkpoint() {
    use tapegrad::optim::schedule::{CosineAnnealingLr, LinearLr, Schedule};
    let path = std::env::temp_dir().join(format!(
        "tapegrad-optim-schedule-{}.safetensors",
        std::process::id()
    ));
    let run = |sgd: &mut Sgd, store: &mut ParamStore, schedule: &mut dyn Schedule, steps| {
        let mut tape = Tape::new();
        (0..steps)
            .map(|_| {
                sgd.minimize(store, &mut tape, |p| (p["w"] * p["w"]).sum());
                schedule.step(sgd).to_bits()
            })
            .collect::<Vec<_>>()
    };
    let mut store = store_with(&W0);
    let mut sgd = Sgd::new(0.1);
    let mut warmup = LinearLr::new(&mut sgd, 0.25, 1.0, 8);
    let straight = run(&mut sgd, &mut store, &mut warmup, 10);

    let mut store = store_with(&W0);
    let mut sgd = Sgd::new(0.1);
    let mut warmup = LinearLr::new(&mut sgd, 0.25, 1.0, 8);
    let mut rates = run(&mut sgd, &mut store, &mut warmup, 5);
    store.save_checkpoint(&path, &sgd).unwrap();
    let mut store = store_with(&W0);
    let mut sgd = Sgd::new(0.1);
    store.load_checkpoint(&path, &mut sgd).unwrap();
    std::fs::remove_file(&path).ok();
    let mut warmup = LinearLr {
        last_epoch: 5,
        ..warmup
    };
    rates.extend(run(&mut sgd, &mut store, &mut warmup, 5));
    assert_eq!(rates, straight);

    // The cosine keeps its base rate in a field too.
    let mut cosine = CosineAnnealingLr::new(&mut Sgd::new(0.1), 10, 0.0);
    assert_eq!((cosine.base_lr, cosine.last_epoch), (0.1, 0));
    cosine.step(&mut Sgd::new(0.1));
    assert_eq!(cosine.last_epoch, 1);
}

/// `minimize_clipped` is the explicit step with `clip_norm` before the update: the same bits.
#[test]
fn minimize_clipped_is_the_explicit_clipped_step() {
    let (mut a, mut b) = (store_with(&W0), store_with(&W0));
    let (mut sgd_a, mut sgd_b) = (
        Sgd::new(0.1).with_momentum(0.9),
        Sgd::new(0.1).with_momentum(0.9),
    );
    let mut tape = Tape::new();
    for _ in 0..4 {
        let mut grads = quadratic_grads(&a, &Tensor::from(C));
        let norm_a = grads.clip_norm(0.5);
        sgd_a.step(&mut a, &grads);
        let (_, norm_b) = sgd_b.minimize_clipped(&mut b, &mut tape, 0.5, |p| {
            (p.tape().constant(Tensor::from(C)) * p["w"] * p["w"]).sum()
        });
        assert_eq!(norm_a.to_bits(), norm_b.to_bits());
        assert!(norm_a > 0.5, "the bound clips");
    }
    let bits = |s: &ParamStore| {
        s["w"]
            .data()
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&a), bits(&b));
}
