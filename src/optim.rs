//! Optimizers: how a step of gradients becomes a change of the parameters.
//!
//! Both follow PyTorch's update rules (`torch.optim.SGD` and `torch.optim.Adam`, default
//! options otherwise) operation for operation, so a training run here and there agrees to
//! rounding. They update a [`ParamStore`] in place: drop (or clear) the step's tape first, so that
//! no tape still shares a parameter's buffer and the update does not copy it.
//!
//! ```
//! use tapegrad::{ParamStore, Tape, Tensor, optim::Sgd};
//!
//! let mut store = ParamStore::new();
//! let w = store.insert("w", Tensor::from([3.0, -1.0]));
//! let mut sgd = Sgd::new(0.25);
//! for _ in 0..2 {
//!     let grads = {
//!         let tape = Tape::new();
//!         let p = store.on_tape(&tape);
//!         let loss = (p[w] * p[w]).sum();       // ∂/∂w = 2w
//!         p.grads(&loss.backward())
//!     };                                       // the tape is dropped here
//!     sgd.step(&mut store, &grads);            // w ← w − 0.25·2w = w/2
//! }
//! assert_eq!(store[w].data(), &[0.75, -0.25]);
//! ```

use crate::params::{ParamGrads, ParamStore};

/// Stochastic gradient descent, with optional momentum, dampening, Nesterov momentum and
/// weight decay: PyTorch's `torch.optim.SGD`.
///
/// For each parameter `p` with gradient `g`, one [`step`](Sgd::step) does
///
/// ```text
/// g ← g + weight_decay·p                     (if weight_decay ≠ 0)
/// b ← g on the first step,                   (if momentum ≠ 0)
///     momentum·b + (1 − dampening)·g after
/// g ← g + momentum·b if nesterov, else b      (if momentum ≠ 0)
/// p ← p − lr·g
/// ```
#[derive(Clone, Debug)]
pub struct Sgd {
    /// The learning rate.
    pub lr: f64,
    /// The momentum factor (0: plain SGD).
    pub momentum: f64,
    /// The dampening of the momentum (0 in PyTorch's default).
    pub dampening: f64,
    /// The L2 penalty added to the gradient (0: none).
    pub weight_decay: f64,
    /// Nesterov momentum (needs momentum > 0 and dampening = 0).
    pub nesterov: bool,
    /// One momentum buffer per parameter, made on its first step.
    buffers: PerParam<Vec<f64>>,
}

impl Sgd {
    /// Plain SGD with learning rate `lr`: `p ← p − lr·g`.
    pub fn new(lr: f64) -> Sgd {
        Sgd {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            buffers: PerParam::default(),
        }
    }

    /// With momentum `momentum` (PyTorch's `momentum=`).
    pub fn with_momentum(self, momentum: f64) -> Sgd {
        Sgd { momentum, ..self }
    }

    /// With dampening `dampening` of the momentum (PyTorch's `dampening=`).
    pub fn with_dampening(self, dampening: f64) -> Sgd {
        Sgd { dampening, ..self }
    }

    /// With L2 weight decay `weight_decay` added to the gradient (PyTorch's `weight_decay=`).
    pub fn with_weight_decay(self, weight_decay: f64) -> Sgd {
        Sgd {
            weight_decay,
            ..self
        }
    }

    /// With Nesterov momentum (PyTorch's `nesterov=True`).
    pub fn with_nesterov(self) -> Sgd {
        Sgd {
            nesterov: true,
            ..self
        }
    }

    /// Updates every parameter of `store` that a gradient flowed to, in place, from `grads`.
    ///
    /// # Panics
    ///
    /// If `grads` were not taken from `store`; with momentum, if `store` is not the store of
    /// the previous steps or a parameter was added or changed size since (the momentum buffers
    /// would not match); if a hyperparameter is negative; or if Nesterov momentum is asked for
    /// without momentum or with dampening (as PyTorch refuses).
    #[track_caller]
    pub fn step(&mut self, store: &mut ParamStore, grads: &ParamGrads) {
        let Sgd {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            ref mut buffers,
        } = *self;
        check_hyperparameters(
            "Sgd",
            &[
                ("lr", lr),
                ("momentum", momentum),
                ("weight_decay", weight_decay),
            ],
        );
        assert!(
            !nesterov || (momentum > 0.0 && dampening == 0.0),
            "Sgd: Nesterov momentum needs momentum > 0 and dampening = 0"
        );
        if momentum != 0.0 {
            buffers.bind("Sgd", store, Vec::len);
        }
        let mut direction = Vec::new();
        store.update(grads, |id, p, g| {
            if momentum == 0.0 && weight_decay == 0.0 {
                // Plain SGD reads the gradient directly: one pass, no copy (same bits).
                for (p, &g) in p.iter_mut().zip(g) {
                    *p -= lr * g;
                }
                return;
            }
            direction.clear();
            direction.extend_from_slice(g);
            if weight_decay != 0.0 {
                for (d, &p) in direction.iter_mut().zip(p.iter()) {
                    *d += weight_decay * p;
                }
            }
            if momentum != 0.0 {
                let buffer = match &mut buffers.slots[id.index()] {
                    Some(buffer) => {
                        for (b, &d) in buffer.iter_mut().zip(&direction) {
                            *b = momentum * *b + (1.0 - dampening) * d;
                        }
                        buffer
                    }
                    // The first step a parameter takes: the buffer is the gradient, undamped.
                    empty => empty.insert(direction.clone()),
                };
                if nesterov {
                    for (d, &b) in direction.iter_mut().zip(buffer.iter()) {
                        *d += momentum * b;
                    }
                } else {
                    direction.clone_from(buffer);
                }
            }
            for (p, &d) in p.iter_mut().zip(&direction) {
                *p -= lr * d;
            }
        });
    }
}

/// Adam (Kingma & Ba, 2015) as PyTorch's `torch.optim.Adam` computes it, with optional L2
/// weight decay added to the gradient (not AdamW's decoupled decay).
///
/// For each parameter `p` with gradient `g`, step `t` (counting from 1) does
///
/// ```text
/// g ← g + weight_decay·p                     (if weight_decay ≠ 0)
/// m ← m + (1 − β₁)·(g − m)                   (PyTorch's lerp; m starts at 0)
/// v ← β₂·v + (1 − β₂)·g²                     (v starts at 0)
/// p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
#[derive(Clone, Debug)]
pub struct Adam {
    /// The learning rate (PyTorch's default is 0.001).
    pub lr: f64,
    /// The decay of the first-moment average (default 0.9).
    pub beta1: f64,
    /// The decay of the second-moment average (default 0.999).
    pub beta2: f64,
    /// Added to the denominator so it is never 0 (default 1e-8).
    pub eps: f64,
    /// The L2 penalty added to the gradient (default 0).
    pub weight_decay: f64,
    /// Calls of `step` so far.
    steps: u32,
    /// Each parameter's steps and moment averages, made on its first step.
    moments: PerParam<Moments>,
}

/// Adam's state for one parameter.
#[derive(Clone, Debug)]
struct Moments {
    /// The steps this parameter took (PyTorch's `state['step']`, per parameter): the bias
    /// correction counts them, not the optimizer's steps.
    steps: u32,
    /// The first-moment average m.
    mean: Vec<f64>,
    /// The second-moment average v.
    square: Vec<f64>,
}

impl Adam {
    /// Adam with learning rate `lr` and PyTorch's defaults: β₁ = 0.9, β₂ = 0.999, ε = 1e-8,
    /// no weight decay.
    pub fn new(lr: f64) -> Adam {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            steps: 0,
            moments: PerParam::default(),
        }
    }

    /// With the moment decays `(β₁, β₂)` (PyTorch's `betas=`).
    pub fn with_betas(self, beta1: f64, beta2: f64) -> Adam {
        Adam {
            beta1,
            beta2,
            ..self
        }
    }

    /// With `eps` in the denominator (PyTorch's `eps=`).
    pub fn with_eps(self, eps: f64) -> Adam {
        Adam { eps, ..self }
    }

    /// With L2 weight decay added to the gradient (PyTorch's `weight_decay=`).
    pub fn with_weight_decay(self, weight_decay: f64) -> Adam {
        Adam {
            weight_decay,
            ..self
        }
    }

    /// The number of times [`step`](Adam::step) was called.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Updates every parameter of `store` that a gradient flowed to, in place, from `grads`.
    ///
    /// # Panics
    ///
    /// If `grads` were not taken from `store`; if `store` is not the store of the previous
    /// steps, or a parameter was added or changed size since; if `lr`, `eps` or
    /// `weight_decay` is negative or a beta is outside [0, 1).
    #[track_caller]
    pub fn step(&mut self, store: &mut ParamStore, grads: &ParamGrads) {
        let Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            ref mut steps,
            ref mut moments,
        } = *self;
        check_hyperparameters(
            "Adam",
            &[("lr", lr), ("eps", eps), ("weight_decay", weight_decay)],
        );
        assert!(
            (0.0..1.0).contains(&beta1) && (0.0..1.0).contains(&beta2),
            "Adam: the betas must be in [0, 1), got ({beta1}, {beta2})"
        );
        moments.bind("Adam", store, |m| m.mean.len());
        *steps += 1;
        let lerp_weight = 1.0 - beta1;
        store.update(grads, |id, p, g| {
            let state = moments.slots[id.index()].get_or_insert_with(|| Moments {
                steps: 0,
                mean: vec![0.0; p.len()],
                square: vec![0.0; p.len()],
            });
            state.steps += 1;
            // Python's `beta ** step` on floats is C's pow, as is f64::powf.
            let bias_correction1 = 1.0 - beta1.powf(f64::from(state.steps));
            let bias_correction2 = 1.0 - beta2.powf(f64::from(state.steps));
            let step_size = lr / bias_correction1;
            let bias_correction2_sqrt = bias_correction2.sqrt();
            let elements = p
                .iter_mut()
                .zip(g)
                .zip(state.mean.iter_mut().zip(state.square.iter_mut()));
            for ((p, &g), (m, v)) in elements {
                let g = if weight_decay != 0.0 {
                    g + weight_decay * *p
                } else {
                    g
                };
                *m = lerp(*m, g, lerp_weight);
                // The products in the order of PyTorch's addcmul and addcdiv kernels.
                *v = *v * beta2 + (1.0 - beta2) * g * g;
                let denom = v.sqrt() / bias_correction2_sqrt + eps;
                *p -= step_size * *m / denom;
            }
        });
    }
}

/// PyTorch's `lerp(start, end, weight)`: the form it picks keeps the result exact at both ends.
fn lerp(start: f64, end: f64, weight: f64) -> f64 {
    if weight.abs() < 0.5 {
        start + weight * (end - start)
    } else {
        end - (end - start) * (1.0 - weight)
    }
}

/// Per-parameter optimizer state, bound to the store it was made for.
#[derive(Clone, Debug)]
struct PerParam<T> {
    /// The store's identity, from the first step on.
    store: Option<u64>,
    /// One slot per parameter; `None` until the parameter's first step.
    slots: Vec<Option<T>>,
}

impl<T> Default for PerParam<T> {
    fn default() -> PerParam<T> {
        PerParam {
            store: None,
            slots: Vec::new(),
        }
    }
}

impl<T> PerParam<T> {
    /// Binds the state to `store` on the first step, and checks on every later one that it
    /// is the same store with the same parameters, of the sizes `len` reads off the state:
    /// state of another store or another size would update the wrong numbers silently.
    #[track_caller]
    fn bind(&mut self, optimizer: &str, store: &ParamStore, len: impl Fn(&T) -> usize) {
        let tag = *self.store.get_or_insert(store.tag());
        assert!(
            tag == store.tag(),
            "{optimizer}: stepped on another store than before; use one optimizer per store"
        );
        if self.slots.is_empty() {
            self.slots.resize_with(store.len(), || None);
        }
        assert!(
            self.slots.len() == store.len(),
            "{optimizer}: the store holds {} parameters but the optimizer's state was made for {}; \
             make a new optimizer after adding parameters",
            store.len(),
            self.slots.len()
        );
        for (id, slot) in store.ids().zip(&self.slots) {
            if let Some(state) = slot {
                assert!(
                    len(state) == store[id].len(),
                    "{optimizer}: parameter `{}` changed size since the optimizer's last step \
                     ({} elements, state for {})",
                    store.name(id),
                    store[id].len(),
                    len(state)
                );
            }
        }
    }
}

/// PyTorch refuses negative learning rates, momenta, decays and epsilons; so do we.
#[track_caller]
fn check_hyperparameters(optimizer: &str, values: &[(&str, f64)]) {
    for &(name, value) in values {
        assert!(value >= 0.0, "{optimizer}: {name} must be ≥ 0, got {value}");
    }
}
