//! [`Adam`] and [`AdamW`], as PyTorch's `torch.optim.Adam` and `torch.optim.AdamW` compute
//! them: one update rule, the weight decay added to the gradient (Adam's L2) or applied to the
//! weights (AdamW's decoupled decay).

use super::state::{
    OptimizerState, ParamState, PerParam, read_hyperparameters, read_param, shaped,
};
use super::{Optimizer, check_hyperparameters};
use crate::params::{ParamGrads, ParamId, ParamStore};

/// Adam (Kingma & Ba, 2015) as PyTorch's `torch.optim.Adam` computes it, with optional L2
/// weight decay added to the gradient (for decay applied to the weights, see [`AdamW`]).
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

/// AdamW (Loshchilov & Hutter, 2019) as PyTorch's `torch.optim.AdamW` computes it: Adam
/// without L2, its weight decay applied to the weights before each step.
///
/// For each parameter `p` with gradient `g`, step `t` does `p ← p·(1 − lr·weight_decay)`, then
/// [`Adam`]'s update with no weight decay.
///
/// ```
/// use tapegrad::{ParamStore, Tape, Tensor, optim::{AdamW, Optimizer}};
///
/// let mut store = ParamStore::new();
/// store.insert("w", Tensor::from([1.0, -1.0]));
/// let mut adamw = AdamW::new(0.1).with_weight_decay(0.5);
/// // The loss does not depend on w: only the decay moves it, by the factor 1 − 0.1·0.5.
/// adamw.minimize(&mut store, &mut Tape::new(), |p| (p["w"] * 0.0).sum());
/// assert_eq!(store["w"].data(), &[0.95, -0.95]);
/// ```
#[derive(Clone, Debug)]
pub struct AdamW {
    /// The learning rate (PyTorch's default is 0.001).
    pub lr: f64,
    /// The decay of the first-moment average (default 0.9).
    pub beta1: f64,
    /// The decay of the second-moment average (default 0.999).
    pub beta2: f64,
    /// Added to the denominator so it is never 0 (default 1e-8).
    pub eps: f64,
    /// The decoupled weight decay (default 0.01, as PyTorch's).
    pub weight_decay: f64,
    steps: u32,
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

/// One parameter's Adam or AdamW state, as [`Adam::param_state`] reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamParamState<'a> {
    /// The steps the parameter took (PyTorch's `state['step']`).
    pub step: u32,
    /// The first-moment average m (`exp_avg`).
    pub exp_avg: &'a [f64],
    /// The second-moment average v (`exp_avg_sq`).
    pub exp_avg_sq: &'a [f64],
}

const HYPERPARAMETERS: [&str; 5] = ["lr", "beta1", "beta2", "eps", "weight_decay"];
const BUFFERS: [&str; 2] = ["exp_avg", "exp_avg_sq"];

/// The methods Adam and AdamW share: builders, reading the state, and the optimizer's
/// interface; only the name, the default decay and where the decay goes differ.
macro_rules! adam_like {
    ($type:ident, $kind:literal, $default_decay:expr, $decoupled:expr) => {
        impl $type {
            #[doc = concat!(
                "With learning rate `lr` and PyTorch's defaults: β₁ = 0.9, β₂ = 0.999, ε = 1e-8, ",
                "weight decay ", stringify!($default_decay), "."
            )]
            pub fn new(lr: f64) -> $type {
                $type {
                    lr,
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                    weight_decay: $default_decay,
                    steps: 0,
                    moments: PerParam::default(),
                }
            }

            /// With the moment decays `(β₁, β₂)` (PyTorch's `betas=`).
            pub fn with_betas(self, beta1: f64, beta2: f64) -> $type {
                $type {
                    beta1,
                    beta2,
                    ..self
                }
            }

            /// With `eps` in the denominator (PyTorch's `eps=`).
            pub fn with_eps(self, eps: f64) -> $type {
                $type { eps, ..self }
            }

            /// With weight decay `weight_decay` (PyTorch's `weight_decay=`).
            pub fn with_weight_decay(self, weight_decay: f64) -> $type {
                $type {
                    weight_decay,
                    ..self
                }
            }

            /// The number of times `step` was called.
            pub fn steps(&self) -> u32 {
                self.steps
            }

            /// Parameter `id`'s step count and moment averages, once it took a step.
            ///
            /// # Panics
            ///
            /// If the optimizer stepped another store than `id`'s.
            #[track_caller]
            pub fn param_state(&self, id: ParamId) -> Option<AdamParamState<'_>> {
                self.moments.get($kind, id).map(|m| AdamParamState {
                    step: m.steps,
                    exp_avg: &m.mean,
                    exp_avg_sq: &m.square,
                })
            }

            /// Updates every parameter of `store` that a gradient flowed to, in place, from
            /// `grads`.
            ///
            /// # Panics
            ///
            /// If `grads` were not taken from `store`; if `store` is not the store of the
            /// previous steps, or a parameter was added since; if `lr`, `eps` or
            /// `weight_decay` is negative or a beta is outside [0, 1).
            #[track_caller]
            pub fn step(&mut self, store: &mut ParamStore, grads: &ParamGrads) {
                let hyper = [self.lr, self.beta1, self.beta2, self.eps, self.weight_decay];
                adam_step(
                    $kind,
                    hyper,
                    $decoupled,
                    &mut self.steps,
                    &mut self.moments,
                    store,
                    grads,
                );
            }
        }

        impl Optimizer for $type {
            #[track_caller]
            fn step(&mut self, store: &mut ParamStore, grads: &ParamGrads) {
                $type::step(self, store, grads);
            }

            fn lr(&self) -> f64 {
                self.lr
            }

            fn set_lr(&mut self, lr: f64) {
                self.lr = lr;
            }

            #[track_caller]
            fn state(&self, store: &ParamStore) -> OptimizerState {
                let hyper = [self.lr, self.beta1, self.beta2, self.eps, self.weight_decay];
                export($kind, hyper, self.steps, &self.moments, store)
            }

            fn set_state(
                &mut self,
                store: &ParamStore,
                state: &OptimizerState,
            ) -> Result<(), String> {
                let ([lr, beta1, beta2, eps, weight_decay], steps, moments) =
                    import($kind, store, state)?;
                *self = $type {
                    lr,
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    steps,
                    moments,
                };
                Ok(())
            }
        }
    };
}

adam_like!(Adam, "Adam", 0.0, false);
adam_like!(AdamW, "AdamW", 0.01, true);

/// One step of Adam (`decoupled`: AdamW) with `[lr, β₁, β₂, ε, weight_decay]`.
#[track_caller]
fn adam_step(
    kind: &str,
    [lr, beta1, beta2, eps, weight_decay]: [f64; 5],
    decoupled: bool,
    steps: &mut u32,
    moments: &mut PerParam<Moments>,
    store: &mut ParamStore,
    grads: &ParamGrads,
) {
    check_hyperparameters(
        kind,
        &[("lr", lr), ("eps", eps), ("weight_decay", weight_decay)],
    );
    assert!(
        (0.0..1.0).contains(&beta1) && (0.0..1.0).contains(&beta2),
        "{kind}: the betas must be in [0, 1), got ({beta1}, {beta2})"
    );
    moments.bind(kind, store, |m| m.mean.len());
    *steps += 1;
    let lerp_weight = 1.0 - beta1;
    let (l2, decay_factor) = match (weight_decay != 0.0, decoupled) {
        (false, _) => (None, None),
        (true, false) => (Some(weight_decay), None),
        (true, true) => (None, Some(1.0 - lr * weight_decay)),
    };
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
            if let Some(factor) = decay_factor {
                *p *= factor; // AdamW: param.mul_(1 − lr·weight_decay), before the moments
            }
            let g = match l2 {
                Some(decay) => g + decay * *p,
                None => g,
            };
            *m = lerp(*m, g, lerp_weight);
            // The products in the order of PyTorch's addcmul and addcdiv kernels.
            *v = *v * beta2 + (1.0 - beta2) * g * g;
            let denom = v.sqrt() / bias_correction2_sqrt + eps;
            *p -= step_size * *m / denom;
        }
    });
}

#[track_caller]
fn export(
    kind: &str,
    hyper: [f64; 5],
    steps: u32,
    moments: &PerParam<Moments>,
    store: &ParamStore,
) -> OptimizerState {
    OptimizerState {
        kind: kind.into(),
        hyperparameters: HYPERPARAMETERS
            .iter()
            .zip(hyper)
            .map(|(name, value)| (name.to_string(), value))
            .collect(),
        steps: u64::from(steps),
        params: moments.export(kind, store, |m, shape| ParamState {
            step: Some(u64::from(m.steps)),
            tensors: vec![
                (BUFFERS[0].into(), shaped(&m.mean, shape)),
                (BUFFERS[1].into(), shaped(&m.square, shape)),
            ],
        }),
    }
}

type Imported = ([f64; 5], u32, PerParam<Moments>);

fn import(kind: &str, store: &ParamStore, state: &OptimizerState) -> Result<Imported, String> {
    let hyper = read_hyperparameters(state, kind, HYPERPARAMETERS)?;
    let count = |n: u64| u32::try_from(n).map_err(|_| format!("a step count of {n} is too large"));
    let steps = count(state.steps)?;
    let moments = PerParam::import(store, &state.params, |param, index| {
        let (step, mut buffers) = read_param(param, store, index, &BUFFERS, true)?;
        let square = buffers.pop().expect("two buffers");
        let mean = buffers.pop().expect("two buffers");
        Ok(Moments {
            steps: count(step.expect("counted"))?,
            mean,
            square,
        })
    })?;
    Ok((hyper, steps, moments))
}

/// PyTorch's `lerp(start, end, weight)`: the form it picks keeps the result exact at both ends.
fn lerp(start: f64, end: f64, weight: f64) -> f64 {
    if weight.abs() < 0.5 {
        start + weight * (end - start)
    } else {
        end - (end - start) * (1.0 - weight)
    }
}
