//! Optimizers: how a step of gradients becomes a change of the parameters.
//!
//! [`Sgd`], [`Adam`] and [`AdamW`] follow PyTorch's update rules (`torch.optim.SGD`, `Adam` and
//! `AdamW`) operation for operation, so a training run here and there agrees to rounding. They
//! update a [`ParamStore`] in place, and share the [`Optimizer`] interface: a one-call training
//! step ([`Optimizer::minimize`]), the learning rate (for the [`schedule`]s), and their state,
//! which [`ParamStore::save_checkpoint`] saves so that training resumes bit for bit.
//!
//! ```
//! use tapegrad::{ParamStore, Tape, Tensor, optim::{Optimizer, Sgd}};
//!
//! let mut store = ParamStore::new();
//! let w = store.insert("w", Tensor::from([3.0, -1.0]));
//! let mut sgd = Sgd::new(0.25);
//! let mut tape = Tape::new();
//! for _ in 0..2 {
//!     // Records the loss, runs the backward pass, updates w ← w − 0.25·2w = w/2.
//!     sgd.minimize(&mut store, &mut tape, |p| (p[w] * p[w]).sum());
//! }
//! assert_eq!(store[w].data(), &[0.75, -0.25]);
//! ```
//!
//! The explicit form of the same step, for those who want the gradients in hand (to inspect,
//! clip or accumulate them): drop or clear the step's tape before updating, so that no tape
//! still shares a parameter's buffer and the update does not copy it.
//!
//! ```
//! use tapegrad::{ParamStore, Tape, Tensor, optim::Sgd};
//!
//! let mut store = ParamStore::new();
//! let w = store.insert("w", Tensor::from([3.0, -1.0]));
//! let mut sgd = Sgd::new(0.25);
//! let grads = {
//!     let tape = Tape::new();
//!     let p = store.on_tape(&tape);
//!     let loss = (p[w] * p[w]).sum();
//!     p.grads(&loss.backward())
//! };                                       // the tape is dropped here
//! sgd.step(&mut store, &grads);
//! assert_eq!(store[w].data(), &[1.5, -0.5]);
//! ```

use crate::params::{ParamGrads, ParamStore, Params};
use crate::tape::Tape;
use crate::var::Var;

mod adam;
mod checkpoint;
pub mod schedule;
mod sgd;
mod state;

pub use adam::{Adam, AdamParamState, AdamW};
pub use sgd::Sgd;
pub use state::{OptimizerState, ParamState};

/// What [`Sgd`], [`Adam`] and [`AdamW`] share: a step, the learning rate, the state, and the
/// one-call training step built on them.
pub trait Optimizer {
    /// Updates every parameter of `store` that a gradient flowed to, in place, from `grads`.
    ///
    /// # Panics
    ///
    /// As the optimizer's own `step`: gradients of another store, state of another store,
    /// invalid hyperparameters.
    #[track_caller]
    fn step(&mut self, store: &mut ParamStore, grads: &ParamGrads);

    /// The learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate (what a [`schedule`] does between steps).
    fn set_lr(&mut self, lr: f64);

    /// Everything the optimizer carries between steps, for the parameters of `store` (the
    /// store it steps).
    ///
    /// # Panics
    ///
    /// If the optimizer stepped another store.
    #[track_caller]
    fn state(&self, store: &ParamStore) -> OptimizerState;

    /// Replaces the optimizer's hyperparameters, step count and per-parameter state with
    /// `state`, bound to `store`. All or nothing.
    ///
    /// # Errors
    ///
    /// What differs, in words, if `state` is another optimizer's, lacks or adds a
    /// hyperparameter, or has state of another shape or for another number of parameters
    /// than `store` holds. The optimizer is then unchanged.
    fn set_state(&mut self, store: &ParamStore, state: &OptimizerState) -> Result<(), String>;

    /// One training step: clears `tape`, records `loss(params)` on it, runs the backward
    /// pass, clears the tape again (so the update writes in place) and updates `store`.
    /// Returns the loss's value. Frozen parameters are recorded as constants and left alone.
    ///
    /// ```
    /// use tapegrad::{ParamStore, Tape, Tensor, loss, optim::{Adam, Optimizer}};
    ///
    /// // Fit y = 2x − 1.
    /// let (x, y) = (Tensor::from([[-1.0], [0.0], [1.0]]), Tensor::from([[-3.0], [-1.0], [1.0]]));
    /// let mut store = ParamStore::new();
    /// let (w, b) = (store.insert("w", Tensor::zeros(&[1, 1])), store.insert("b", 0.0));
    /// let mut adam = Adam::new(0.1);
    /// let mut tape = Tape::new();
    /// let mut last = f64::INFINITY;
    /// for _ in 0..500 {
    ///     last = adam.minimize(&mut store, &mut tape, |p| {
    ///         let x = p.tape().constant(x.clone());
    ///         loss::mse(x.matmul(p[w]) + p[b], p.tape().constant(y.clone()))
    ///     });
    /// }
    /// assert!(last < 1e-10, "{last}");
    /// ```
    ///
    /// # Panics
    ///
    /// If the loss is not a scalar, and as [`step`](Self::step).
    #[track_caller]
    fn minimize<F>(&mut self, store: &mut ParamStore, tape: &mut Tape, loss: F) -> f64
    where
        Self: Sized,
        F: for<'s, 't> FnOnce(&Params<'s, 't>) -> Var<'t>,
    {
        let (value, grads) = loss_and_grads(store, tape, loss);
        self.step(store, &grads);
        value
    }

    /// [`minimize`](Self::minimize) with the gradients clipped to a global norm of at most
    /// `max_norm` before the update ([`ParamGrads::clip_norm`], PyTorch's
    /// `clip_grad_norm_`). Returns the loss and the gradients' norm before clipping.
    ///
    /// ```
    /// use tapegrad::{ParamStore, Tape, Tensor, optim::{Optimizer, Sgd}};
    ///
    /// let mut store = ParamStore::new();
    /// store.insert("w", Tensor::from([3.0, 4.0]));
    /// let mut sgd = Sgd::new(1.0);
    /// let (loss, norm) =
    ///     sgd.minimize_clipped(&mut store, &mut Tape::new(), 1.0, |p| (p["w"] * p["w"]).sum());
    /// assert_eq!((loss, norm), (25.0, 10.0));        // ∇ = 2w = [6, 8], of norm 10
    /// let factor = 1.0 / (10.0 + 1e-6);              // clipped to norm 1 (PyTorch's rule)
    /// assert_eq!(store["w"].data(), &[3.0 - 6.0 * factor, 4.0 - 8.0 * factor]);
    /// ```
    ///
    /// # Panics
    ///
    /// As [`minimize`](Self::minimize).
    #[track_caller]
    fn minimize_clipped<F>(
        &mut self,
        store: &mut ParamStore,
        tape: &mut Tape,
        max_norm: f64,
        loss: F,
    ) -> (f64, f64)
    where
        Self: Sized,
        F: for<'s, 't> FnOnce(&Params<'s, 't>) -> Var<'t>,
    {
        let (value, mut grads) = loss_and_grads(store, tape, loss);
        let norm = grads.clip_norm(max_norm);
        self.step(store, &grads);
        (value, norm)
    }
}

/// The loss recorded on a cleared `tape` and its gradients, the tape cleared again so that it
/// lets go of the parameters' buffers and the update writes in place.
#[track_caller]
fn loss_and_grads<F>(store: &ParamStore, tape: &mut Tape, loss: F) -> (f64, ParamGrads)
where
    F: for<'s, 't> FnOnce(&Params<'s, 't>) -> Var<'t>,
{
    tape.clear();
    let (value, grads) = {
        let params = store.on_tape(tape);
        let loss = loss(&params);
        let grads = params.grads(&loss.backward());
        (loss.value().item(), grads)
    };
    tape.clear();
    (value, grads)
}

/// PyTorch refuses negative learning rates, momenta, decays and epsilons; so do we.
#[track_caller]
fn check_hyperparameters(optimizer: &str, values: &[(&str, f64)]) {
    for &(name, value) in values {
        assert!(value >= 0.0, "{optimizer}: {name} must be ≥ 0, got {value}");
    }
}
