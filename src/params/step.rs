//! One training step's view of a [`ParamStore`]: [`Params`], its parameters as `Var`s on the
//! step's tape, and [`ParamGrads`], their gradients taken off the tape so that it can be
//! dropped before the optimizer updates the store.

use super::{ParamId, ParamStore};
use crate::backward::Grads;
use crate::tape::Tape;
use crate::tensor::Tensor;
use crate::var::Var;
use std::ops::Index;

/// The store's parameters recorded on one tape, for one step. Index by [`ParamId`] or by name.
///
/// `'s` is the borrow of the store and `'t` that of the tape; they are separate so that the
/// step's `Var`s (the loss, say) may outlive the borrow of the store that the update needs.
pub struct Params<'s, 't> {
    pub(super) store: &'s ParamStore,
    pub(super) tape: &'t Tape,
    pub(super) vars: Vec<Var<'t>>,
}

impl<'t> Params<'_, 't> {
    /// The tape the parameters are recorded on: where a step records its inputs
    /// (`p.tape().constant(x)`) when it has only the params in hand, as in
    /// [`Optimizer::minimize`](crate::optim::Optimizer::minimize).
    pub fn tape(&self) -> &'t Tape {
        self.tape
    }

    /// The `Var` of the parameter called `name`.
    pub fn get(&self, name: &str) -> Option<Var<'t>> {
        self.store
            .params
            .get_index_of(name)
            .map(|index| self.vars[index])
    }

    /// `(name, var)` in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, Var<'t>)> {
        self.store
            .params
            .keys()
            .map(String::as_str)
            .zip(self.vars.iter().copied())
    }

    /// The gradient of every parameter, detached from the tape so that the tape can be dropped
    /// before the optimizer updates the store.
    ///
    /// # Panics
    ///
    /// If `grads` comes from another tape (see [`Grads`]).
    #[track_caller]
    pub fn grads(&self, grads: &Grads) -> ParamGrads {
        let (grads, flowed) = self
            .vars
            .iter()
            .map(|&var| match grads.get(var) {
                Some(g) => (g.clone(), true),
                None => (Tensor::zeros(&var.shape()), false),
            })
            .unzip();
        ParamGrads {
            store: self.store.tag,
            grads,
            flowed,
        }
    }
}

impl<'t> Index<ParamId> for Params<'_, 't> {
    type Output = Var<'t>;

    /// # Panics
    ///
    /// If `id` does not belong to the store these params came from.
    #[track_caller]
    fn index(&self, id: ParamId) -> &Var<'t> {
        &self.vars[self.store.check_id(id)]
    }
}

impl<'t> Index<&str> for Params<'_, 't> {
    type Output = Var<'t>;

    /// # Panics
    ///
    /// If the store holds no parameter called `name`.
    #[track_caller]
    fn index(&self, name: &str) -> &Var<'t> {
        match self.store.params.get_index_of(name) {
            Some(index) => &self.vars[index],
            None => panic!("Params: no parameter called `{name}`"),
        }
    }
}

/// The gradients of a store's parameters from one backward pass, in the store's order.
///
/// A parameter that does not reach the loss has no gradient (`get` gives `None`, indexing
/// gives zeros), and optimizers leave it alone, as PyTorch's do with a `None` `.grad`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamGrads {
    pub(super) store: u64,
    /// Zeros where no gradient flowed, so that indexing has a tensor of the right shape.
    pub(super) grads: Vec<Tensor>,
    pub(super) flowed: Vec<bool>,
}

impl ParamGrads {
    /// The gradient of parameter `id`, or `None` if no gradient flowed to it.
    ///
    /// # Panics
    ///
    /// If `id` does not belong to the store these gradients came from.
    #[track_caller]
    pub fn get(&self, id: ParamId) -> Option<&Tensor> {
        self.check_id(id);
        self.flowed[id.index].then(|| &self.grads[id.index])
    }

    /// The gradients in the store's order, `None` where no gradient flowed.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Option<&Tensor>> {
        self.grads
            .iter()
            .zip(&self.flowed)
            .map(|(g, &flowed)| flowed.then_some(g))
    }

    /// The number of parameters (with or without a gradient).
    pub fn len(&self) -> usize {
        self.grads.len()
    }

    /// Whether there is no parameter (the store was empty).
    pub fn is_empty(&self) -> bool {
        self.grads.is_empty()
    }

    /// The L2 norm of all the gradients together, `√(Σ g²)` over every element of every
    /// gradient: what gradient clipping compares with its threshold.
    pub fn norm(&self) -> f64 {
        let squares = self
            .iter()
            .flatten()
            .flat_map(|g| g.data().iter().map(|x| x * x));
        squares.sum::<f64>().sqrt()
    }

    /// Clips the gradients to a global L2 norm of at most `max_norm`, by PyTorch's rule
    /// (`torch.nn.utils.clip_grad_norm_`), and returns their norm before clipping.
    ///
    /// The norm is that of the vector of every gradient's own norm (as PyTorch computes it);
    /// every gradient is then multiplied by `min(max_norm / (norm + 1e-6), 1)`.
    ///
    /// ```
    /// use tapegrad::{ParamStore, Tape, Tensor};
    ///
    /// let mut store = ParamStore::new();
    /// store.insert("w", Tensor::from([3.0, 4.0]));
    /// let tape = Tape::new();
    /// let p = store.on_tape(&tape);
    /// let mut grads = p.grads(&(p["w"] * p["w"]).sum().backward());   // 2w = [6, 8]
    /// assert_eq!(grads.clip_norm(5.0), 10.0);
    /// let factor = 5.0 / (10.0 + 1e-6);
    /// assert_eq!(grads[store.id("w").unwrap()].data(), &[6.0 * factor, 8.0 * factor]);
    /// ```
    pub fn clip_norm(&mut self, max_norm: f64) -> f64 {
        let norms = self
            .iter()
            .flatten()
            .map(|g| g.data().iter().map(|x| x * x).sum::<f64>().sqrt());
        let total = norms.map(|n| n * n).sum::<f64>().sqrt();
        // PyTorch's clamp(max=1) keeps a NaN (f64::min would give 1): a NaN norm spreads.
        let factor = max_norm / (total + 1e-6);
        let factor = if factor > 1.0 { 1.0 } else { factor };
        self.scale(factor);
        total
    }

    /// Multiplies every gradient by `factor`, in place when not shared.
    pub fn scale(&mut self, factor: f64) {
        for (g, _) in self
            .grads
            .iter_mut()
            .zip(&self.flowed)
            .filter(|(_, flowed)| **flowed)
        {
            g.data_mut().iter_mut().for_each(|x| *x *= factor);
        }
    }

    #[track_caller]
    fn check_id(&self, id: ParamId) {
        assert!(
            id.store == self.store && id.index < self.grads.len(),
            "ParamGrads: parameter id {} belongs to another store",
            id.index
        );
    }
}

impl Index<ParamId> for ParamGrads {
    type Output = Tensor;

    /// The gradient of parameter `id`, with its shape; zeros if no gradient flowed to it (use
    /// [`get`](ParamGrads::get) to tell).
    ///
    /// # Panics
    ///
    /// If `id` does not belong to the store these gradients came from.
    #[track_caller]
    fn index(&self, id: ParamId) -> &Tensor {
        self.check_id(id);
        &self.grads[id.index]
    }
}
