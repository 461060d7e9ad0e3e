//! [`Sgd`]: stochastic gradient descent with momentum, dampening, Nesterov momentum and weight
//! decay, as PyTorch's `torch.optim.SGD` computes it.

use super::state::{
    OptimizerState, ParamState, PerParam, read_hyperparameters, read_param, shaped,
};
use super::{Optimizer, check_hyperparameters};
use crate::params::{ParamGrads, ParamId, ParamStore};

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
    /// Calls of `step` so far.
    steps: u64,
    /// One momentum buffer per parameter, made on its first step.
    buffers: PerParam<Vec<f64>>,
}

const HYPERPARAMETERS: [&str; 5] = ["lr", "momentum", "dampening", "weight_decay", "nesterov"];

impl Sgd {
    /// Plain SGD with learning rate `lr`: `p ← p − lr·g`.
    pub fn new(lr: f64) -> Sgd {
        Sgd {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            steps: 0,
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

    /// The momentum buffer of parameter `id` (PyTorch's `state[p]['momentum_buffer']`), once
    /// the parameter took a step with momentum.
    ///
    /// # Panics
    ///
    /// If the optimizer stepped another store than `id`'s.
    #[track_caller]
    pub fn momentum_buffer(&self, id: ParamId) -> Option<&[f64]> {
        self.buffers.get("Sgd", id).map(Vec::as_slice)
    }

    /// Updates every parameter of `store` that a gradient flowed to, in place, from `grads`.
    ///
    /// # Panics
    ///
    /// If `grads` were not taken from `store`; with momentum, if `store` is not the store of
    /// the previous steps or a parameter was added since (the momentum buffers would not
    /// match); if a hyperparameter is negative; or if Nesterov momentum is asked for without
    /// momentum or with dampening (as PyTorch refuses).
    #[track_caller]
    pub fn step(&mut self, store: &mut ParamStore, grads: &ParamGrads) {
        let Sgd {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            ref mut steps,
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
        *steps += 1;
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

impl Optimizer for Sgd {
    #[track_caller]
    fn step(&mut self, store: &mut ParamStore, grads: &ParamGrads) {
        Sgd::step(self, store, grads);
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    #[track_caller]
    fn state(&self, store: &ParamStore) -> OptimizerState {
        let values = [
            self.lr,
            self.momentum,
            self.dampening,
            self.weight_decay,
            f64::from(u8::from(self.nesterov)),
        ];
        OptimizerState {
            kind: "SGD".into(),
            hyperparameters: HYPERPARAMETERS
                .iter()
                .zip(values)
                .map(|(name, value)| (name.to_string(), value))
                .collect(),
            steps: self.steps,
            params: self
                .buffers
                .export("Sgd", store, |buffer, shape| ParamState {
                    step: None,
                    tensors: vec![("momentum_buffer".into(), shaped(buffer, shape))],
                }),
        }
    }

    fn set_state(&mut self, store: &ParamStore, state: &OptimizerState) -> Result<(), String> {
        let [lr, momentum, dampening, weight_decay, nesterov] =
            read_hyperparameters(state, "SGD", HYPERPARAMETERS)?;
        let buffers = PerParam::import(store, &state.params, |param, index| {
            let (_, mut buffers) = read_param(param, store, index, &["momentum_buffer"], false)?;
            Ok(buffers.remove(0))
        })?;
        *self = Sgd {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov: nesterov != 0.0,
            steps: state.steps,
            buffers,
        };
        Ok(())
    }
}
