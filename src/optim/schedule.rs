//! Learning-rate schedules: [`StepLr`], [`CosineAnnealingLr`] and [`LinearLr`] (a linear
//! warm-up), each giving `torch.optim.lr_scheduler`'s values step by step, to the bit.
//!
//! A schedule is made with the optimizer it drives, and [`step`](Schedule::step)ped after each
//! optimizer step, as in PyTorch. Like PyTorch's, each computes the next rate from the
//! optimizer's current one (the "chainable" form), so the rates are PyTorch's bits, not a
//! closed formula's roundings.
//!
//! A schedule's state is its public fields. To resume after
//! [`load_checkpoint`](crate::ParamStore::load_checkpoint) (which restores the optimizer's
//! current rate), write the schedule as a struct with the steps it had taken, rather than
//! calling `new` (which would apply a warm-up's start factor again):
//! `CosineAnnealingLr { t_max: 10, eta_min: 0.001, base_lr: 0.1, last_epoch: 5 }`.
//!
//! ```
//! use tapegrad::{ParamStore, Tape, Tensor};
//! use tapegrad::optim::{Optimizer, Sgd, schedule::{LinearLr, Schedule}};
//!
//! let mut store = ParamStore::new();
//! store.insert("w", 1.0);
//! let mut sgd = Sgd::new(0.1);
//! // Warm up from 0.1·lr to lr over 4 steps, as LinearLR(opt, start_factor=0.1, total_iters=4).
//! let mut warmup = LinearLr::new(&mut sgd, 0.1, 1.0, 4);
//! let mut rates = vec![sgd.lr];
//! for _ in 0..5 {
//!     sgd.minimize(&mut store, &mut Tape::new(), |p| p["w"] * p["w"]);
//!     warmup.step(&mut sgd);
//!     rates.push(sgd.lr);
//! }
//! // PyTorch's values, printed by Python: the chainable form drifts by an ulp or two.
//! let torch = [0.010000000000000002, 0.03250000000000001, 0.055000000000000014,
//!              0.07750000000000003, 0.10000000000000003, 0.10000000000000003];
//! assert_eq!(rates, torch);
//! ```

use super::Optimizer;
use std::f64::consts::PI;

/// A learning-rate schedule: what PyTorch's `scheduler.step()` does.
pub trait Schedule {
    /// Advances one step and sets the optimizer's learning rate; returns it.
    ///
    /// # Panics
    ///
    /// If a field that `new` checks was set out of range (a `step_size` or `t_max` of 0).
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> f64;

    /// The number of steps taken (PyTorch's `last_epoch`).
    fn steps(&self) -> u64;
}

/// Multiplies the learning rate by `gamma` every `step_size` steps: `torch.optim.lr_scheduler.StepLR`.
#[derive(Clone, Debug, PartialEq)]
pub struct StepLr {
    /// The steps between two decays.
    pub step_size: u64,
    /// The factor of each decay.
    pub gamma: f64,
    /// The steps taken (PyTorch's `last_epoch`).
    pub last_epoch: u64,
}

impl StepLr {
    /// `StepLR(optimizer, step_size, gamma)`; the optimizer's rate is left as it is.
    ///
    /// # Panics
    ///
    /// If `step_size` is 0.
    #[track_caller]
    pub fn new(_optimizer: &mut dyn Optimizer, step_size: u64, gamma: f64) -> StepLr {
        assert!(step_size > 0, "StepLr: step_size must be > 0");
        StepLr {
            step_size,
            gamma,
            last_epoch: 0,
        }
    }
}

impl Schedule for StepLr {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> f64 {
        assert!(self.step_size > 0, "StepLr: step_size must be > 0");
        self.last_epoch += 1;
        if self.last_epoch % self.step_size == 0 {
            optimizer.set_lr(optimizer.lr() * self.gamma);
        }
        optimizer.lr()
    }

    fn steps(&self) -> u64 {
        self.last_epoch
    }
}

/// Anneals the learning rate from its initial value to `eta_min` along half a cosine over
/// `t_max` steps (and back up over the next `t_max`, as PyTorch's does):
/// `torch.optim.lr_scheduler.CosineAnnealingLR`.
#[derive(Clone, Debug, PartialEq)]
pub struct CosineAnnealingLr {
    /// The steps from the initial rate down to `eta_min` (PyTorch's `T_max`).
    pub t_max: u64,
    /// The lowest rate.
    pub eta_min: f64,
    /// The optimizer's rate when the schedule was made.
    pub base_lr: f64,
    /// The steps taken (PyTorch's `last_epoch`).
    pub last_epoch: u64,
}

impl CosineAnnealingLr {
    /// `CosineAnnealingLR(optimizer, T_max, eta_min)`; the optimizer's rate now is the base.
    ///
    /// # Panics
    ///
    /// If `t_max` is 0.
    #[track_caller]
    pub fn new(optimizer: &mut dyn Optimizer, t_max: u64, eta_min: f64) -> CosineAnnealingLr {
        assert!(t_max > 0, "CosineAnnealingLr: t_max must be > 0");
        CosineAnnealingLr {
            t_max,
            eta_min,
            base_lr: optimizer.lr(),
            last_epoch: 0,
        }
    }
}

impl Schedule for CosineAnnealingLr {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> f64 {
        assert!(self.t_max > 0, "CosineAnnealingLr: t_max must be > 0");
        self.last_epoch += 1;
        let (epoch, t_max, eta_min) = (self.last_epoch as f64, self.t_max as f64, self.eta_min);
        let lr = optimizer.lr();
        // PyTorch's chainable form, case for case (`(last_epoch - 1 - T_max) % (2 T_max)` is
        // Python's modulo, never negative).
        let restart = (self.last_epoch as i128 - 1 - self.t_max as i128)
            .rem_euclid(2 * self.t_max as i128)
            == 0;
        let next = if restart {
            lr + (self.base_lr - eta_min) * (1.0 - (PI / t_max).cos()) / 2.0
        } else {
            (1.0 + (PI * epoch / t_max).cos()) / (1.0 + (PI * (epoch - 1.0) / t_max).cos())
                * (lr - eta_min)
                + eta_min
        };
        optimizer.set_lr(next);
        next
    }

    fn steps(&self) -> u64 {
        self.last_epoch
    }
}

/// Scales the learning rate linearly from `start_factor` to `end_factor` times its initial
/// value over `total_iters` steps, then leaves it: a warm-up, as
/// `torch.optim.lr_scheduler.LinearLR`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearLr {
    /// The factor of the first step's rate.
    pub start_factor: f64,
    /// The factor after `total_iters` steps.
    pub end_factor: f64,
    /// The steps of the warm-up.
    pub total_iters: u64,
    /// The steps taken (PyTorch's `last_epoch`).
    pub last_epoch: u64,
}

impl LinearLr {
    /// `LinearLR(optimizer, start_factor, end_factor, total_iters)`: multiplies the
    /// optimizer's rate by `start_factor` now, as PyTorch's constructor does.
    ///
    /// # Panics
    ///
    /// If `start_factor` is not in (0, 1] or `end_factor` not in [0, 1] (PyTorch's bounds).
    #[track_caller]
    pub fn new(
        optimizer: &mut dyn Optimizer,
        start_factor: f64,
        end_factor: f64,
        total_iters: u64,
    ) -> LinearLr {
        assert!(
            start_factor > 0.0 && start_factor <= 1.0,
            "LinearLr: start_factor must be in (0, 1], got {start_factor}"
        );
        assert!(
            (0.0..=1.0).contains(&end_factor),
            "LinearLr: end_factor must be in [0, 1], got {end_factor}"
        );
        optimizer.set_lr(optimizer.lr() * start_factor);
        LinearLr {
            start_factor,
            end_factor,
            total_iters,
            last_epoch: 0,
        }
    }
}

impl Schedule for LinearLr {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> f64 {
        self.last_epoch += 1;
        if self.last_epoch <= self.total_iters {
            let (start, end) = (self.start_factor, self.end_factor);
            let denominator =
                self.total_iters as f64 * start + (self.last_epoch - 1) as f64 * (end - start);
            optimizer.set_lr(optimizer.lr() * (1.0 + (end - start) / denominator));
        }
        optimizer.lr()
    }

    fn steps(&self) -> u64 {
        self.last_epoch
    }
}
