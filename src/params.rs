//! [`ParamStore`]: a model's named parameters, kept across steps while each step records a
//! fresh tape.
//!
//! A tape lives for one step; a model's weights live for the whole training run. The store
//! holds the weights as plain tensors in insertion order. Each step puts them on a tape
//! ([`ParamStore::on_tape`], giving [`Params`]: the `Var`s by name or by [`ParamId`]), and takes
//! their gradients off it ([`Params::grads`], giving [`ParamGrads`], which outlive the tape).
//! An optimizer then updates the store in place. Saving and loading is in `params/file.rs`
//! (the safetensors encoding in `params/format.rs`).

use crate::tape::Tape;
use crate::tensor::Tensor;
use indexmap::IndexMap;
use std::fmt;
use std::ops::Index;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) mod file;
pub(crate) mod format;
mod options;
mod step;
mod summary;

pub use format::SaveDtype;
pub use options::FileOptions;
pub use step::{ParamGrads, Params};
pub use summary::Summary;

/// A parameter's handle: its position in its [`ParamStore`], returned by
/// [`ParamStore::insert`], and which store that is.
///
/// Indexing by id is a `Vec` lookup; indexing by name is a hash lookup. Layers keep ids. An id
/// used with another store panics instead of silently reading that store's parameter at the
/// same position (a clone of the store, and a store refilled by
/// [`load_into`](ParamStore::load_into), are the same store).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId {
    store: u64,
    index: usize,
}

impl ParamId {
    /// The parameter's position in insertion order, counting from 0.
    pub fn index(self) -> usize {
        self.index
    }

    /// The identity of the store the id belongs to.
    pub(crate) fn store_tag(self) -> u64 {
        self.store
    }
}

static NEXT_STORE: AtomicU64 = AtomicU64::new(0);

/// Named parameter tensors, in insertion order.
///
/// ```
/// use tapegrad::{ParamStore, Tape, Tensor};
///
/// let mut store = ParamStore::new();
/// let w = store.insert("w", Tensor::from([1.0, -2.0]));
/// store.insert("b", 0.5);
///
/// let tape = Tape::new();
/// let p = store.on_tape(&tape);                  // this step's Vars, by id or by name
/// let x = tape.constant(Tensor::from([3.0, 4.0]));
/// let loss = (x * p[w]).sum() + p["b"];          // w·x + b = 3 − 8 + 0.5
/// assert_eq!(loss.value().item(), -4.5);
/// let grads = p.grads(&loss.backward());         // outlives the tape
/// assert_eq!(grads[w].data(), &[3.0, 4.0]);
/// ```
///
/// Two stores are equal (`==`) when they hold the same names in the same order with equal
/// values (`Tensor`'s `==`: NaN ≠ NaN, −0.0 = 0.0); for bits, compare `to_bits` of the data.
#[derive(Clone)]
pub struct ParamStore {
    params: IndexMap<String, Tensor>,
    /// Whether each parameter is frozen (recorded as a constant: no gradient, no update).
    frozen: Vec<bool>,
    /// Which store this is, for checking the ids, gradients and optimizers used with it.
    tag: u64,
}

impl ParamStore {
    /// An empty store.
    pub fn new() -> ParamStore {
        ParamStore::from_map(IndexMap::new())
    }

    pub(crate) fn from_map(params: IndexMap<String, Tensor>) -> ParamStore {
        ParamStore {
            frozen: vec![false; params.len()],
            params,
            tag: NEXT_STORE.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The identity that ids, gradients and optimizer state record.
    pub(crate) fn tag(&self) -> u64 {
        self.tag
    }

    /// Adds a parameter and returns its id.
    ///
    /// # Panics
    ///
    /// If the store already holds `name`, or if `name` is empty or contains a control
    /// character (names are written to files one per line), is `__metadata__` (reserved by
    /// the file format) or starts with `__optimizer__/` (reserved for checkpoints).
    #[track_caller]
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Tensor>) -> ParamId {
        let name = name.into();
        if let Err(reason) = file::check_param_name(&name) {
            panic!("ParamStore::insert: {reason}");
        }
        // Checked before inserting, which would overwrite the value: a caught panic must leave
        // the store as it was.
        if self.params.contains_key(&name) {
            panic!("ParamStore::insert: the store already holds a parameter `{name}`");
        }
        let (index, _) = self.params.insert_full(name, value.into());
        self.frozen.push(false);
        self.id_at(index)
    }

    /// The id of the parameter called `name`.
    pub fn id(&self, name: &str) -> Option<ParamId> {
        self.params
            .get_index_of(name)
            .map(|index| self.id_at(index))
    }

    /// Whether the store holds a parameter called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.params.contains_key(name)
    }

    fn id_at(&self, index: usize) -> ParamId {
        ParamId {
            store: self.tag,
            index,
        }
    }

    /// The value of the parameter called `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.params.get(name)
    }

    /// Replaces the value of parameter `key` (a [`ParamId`] or a name) with `value`, which
    /// must have the parameter's shape: a layer's weight of another shape, or a square one
    /// transposed by mistake in another layout, would otherwise be found only much later.
    ///
    /// ```
    /// use tapegrad::{ParamStore, Tensor};
    ///
    /// let mut store = ParamStore::new();
    /// let w = store.insert("w", Tensor::zeros(&[2]));
    /// store.set(w, Tensor::from([1.0, 2.0]));
    /// store.set("w", [3.0, 4.0]);
    /// assert_eq!(store[w].data(), &[3.0, 4.0]);
    /// ```
    ///
    /// # Panics
    ///
    /// If the store holds no such parameter, or `value`'s shape differs from the parameter's
    /// (the store is then unchanged).
    #[track_caller]
    pub fn set(&mut self, key: impl ParamKey, value: impl Into<Tensor>) {
        let index = key.position(self);
        let value = value.into();
        let (name, old) = self.params.get_index_mut(index).expect("checked");
        assert!(
            value.shape() == old.shape(),
            "ParamStore::set: parameter `{name}` has shape {:?}, the new value {:?}",
            old.shape(),
            value.shape()
        );
        *old = value;
    }

    /// The elements of parameter `key` (a [`ParamId`] or a name), to change in place (its
    /// shape cannot change). Copies the buffer first if a tape still shares it.
    ///
    /// # Panics
    ///
    /// If the store holds no such parameter.
    #[track_caller]
    pub fn data_mut(&mut self, key: impl ParamKey) -> &mut [f64] {
        let index = key.position(self);
        self.params[index].data_mut()
    }

    /// The name of parameter `id`.
    ///
    /// # Panics
    ///
    /// If `id` does not belong to this store.
    #[track_caller]
    pub fn name(&self, id: ParamId) -> &str {
        self.entry(id).0
    }

    /// The number of parameters (tensors, not elements: see [`num_elements`](Self::num_elements)).
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether the store holds no parameter.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// The total number of elements over all parameters (what a model summary calls its size).
    pub fn num_elements(&self) -> usize {
        self.params.values().map(Tensor::len).sum()
    }

    /// `(name, value)` in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Tensor)> {
        self.params
            .iter()
            .map(|(name, value)| (name.as_str(), value))
    }

    /// Every id, in insertion order.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = ParamId> + use<> {
        let store = self.tag;
        (0..self.params.len()).map(move |index| ParamId { store, index })
    }

    /// A table of every parameter's name, shape and element count, and the total; its
    /// `Display` is what you print before training.
    ///
    /// ```
    /// use tapegrad::{ParamStore, Tensor};
    ///
    /// let mut store = ParamStore::new();
    /// store.insert("fc1.weight", Tensor::zeros(&[2, 16]));
    /// store.insert("fc1.bias", Tensor::zeros(&[16]));
    /// assert_eq!(
    ///     store.summary().to_string(),
    ///     "parameter   shape    count\n\
    ///      fc1.weight  [2, 16]     32\n\
    ///      fc1.bias    [16]        16\n\
    ///      total                   48\n"
    /// );
    /// ```
    pub fn summary(&self) -> Summary<'_> {
        Summary { store: self }
    }

    /// Records every parameter on `tape` as a `param` leaf named after it (so traces and
    /// pictures of the graph show `mlp.0.weight`), and returns the `Var`s of this step. A
    /// frozen parameter is recorded as a `constant`: no gradient flows to it.
    ///
    /// The tape shares the parameters' buffers (no copy). Drop or [`clear`](Tape::clear) the
    /// tape before updating the store, so that the update writes in place instead of copying.
    #[track_caller]
    pub fn on_tape<'s, 't>(&'s self, tape: &'t Tape) -> Params<'s, 't> {
        let vars = self
            .params
            .iter()
            .zip(&self.frozen)
            .map(|((name, value), &frozen)| {
                let leaf = if frozen {
                    tape.constant(value.clone())
                } else {
                    tape.param(value.clone())
                };
                leaf.named(name.as_str())
            })
            .collect();
        Params {
            store: self,
            tape,
            vars,
        }
    }

    /// Freezes parameter `key` (a [`ParamId`] or a name): from the next
    /// [`on_tape`](Self::on_tape) on, it is recorded as a constant, gets no gradient, and the
    /// optimizers leave it alone (no update, no weight decay, no momentum), as PyTorch does
    /// with `requires_grad_(False)`. Saving and loading are unaffected.
    ///
    /// ```
    /// use tapegrad::{ParamStore, Tape, Tensor, optim::{Optimizer, Sgd}};
    ///
    /// let mut store = ParamStore::new();
    /// let (w, b) = (store.insert("w", 1.0), store.insert("b", 1.0));
    /// store.freeze(b);
    /// Sgd::new(0.5).with_weight_decay(0.1).minimize(&mut store, &mut Tape::new(), |p| p[w] * p[b]);
    /// assert_eq!(store[w].item(), 1.0 - 0.5 * (1.0 + 0.1));   // trained
    /// assert_eq!(store[b].item(), 1.0);                      // frozen
    /// assert!(store.is_frozen(b));
    /// ```
    ///
    /// # Panics
    ///
    /// If the store holds no such parameter.
    #[track_caller]
    pub fn freeze(&mut self, key: impl ParamKey) {
        let index = key.position(self);
        self.frozen[index] = true;
    }

    /// Undoes [`freeze`](Self::freeze): the parameter trains again from the next step.
    ///
    /// # Panics
    ///
    /// If the store holds no such parameter.
    #[track_caller]
    pub fn unfreeze(&mut self, key: impl ParamKey) {
        let index = key.position(self);
        self.frozen[index] = false;
    }

    /// Whether parameter `key` is frozen.
    ///
    /// # Panics
    ///
    /// If the store holds no such parameter.
    #[track_caller]
    pub fn is_frozen(&self, key: impl ParamKey) -> bool {
        self.frozen[key.position(self)]
    }

    /// Calls `update(id, value, grad)` for every parameter a gradient flowed to, with its value
    /// as a mutable slice (written in place when no tape or clone shares it) and its gradient.
    /// Parameters no gradient flowed to are skipped, as PyTorch's optimizers skip a parameter
    /// whose `.grad` is `None`. Optimizers are built on this.
    ///
    /// # Panics
    ///
    /// If `grads` were not taken from this store (or from a clone of it), or if a parameter's
    /// shape changed since.
    #[track_caller]
    pub fn update(
        &mut self,
        grads: &ParamGrads,
        mut update: impl FnMut(ParamId, &mut [f64], &[f64]),
    ) {
        assert!(
            grads.store == self.tag && grads.grads.len() == self.params.len(),
            "ParamStore::update: the gradients were taken from another store \
             ({} gradients for {} parameters)",
            grads.grads.len(),
            self.params.len()
        );
        let store = self.tag;
        let flowing = grads.grads.iter().zip(&grads.flowed);
        for (index, ((name, value), (grad, &flowed))) in
            self.params.iter_mut().zip(flowing).enumerate()
        {
            if !flowed {
                continue;
            }
            assert!(
                value.shape() == grad.shape(),
                "ParamStore::update: parameter `{name}` has shape {:?} but its gradient {:?}",
                value.shape(),
                grad.shape()
            );
            update(ParamId { store, index }, value.data_mut(), grad.data());
        }
    }

    #[track_caller]
    fn check_id(&self, id: ParamId) -> usize {
        assert!(
            id.store == self.tag,
            "ParamStore: parameter id {} belongs to another store (to run a model on weights \
             from a file, build it on a store and call load_into)",
            id.index
        );
        assert!(
            id.index < self.params.len(),
            "ParamStore: parameter id {} is not in this store of {} parameters",
            id.index,
            self.params.len()
        );
        id.index
    }

    #[track_caller]
    fn entry(&self, id: ParamId) -> (&str, &Tensor) {
        let (name, value) = self.params.get_index(self.check_id(id)).expect("checked");
        (name, value)
    }
}

impl Default for ParamStore {
    fn default() -> ParamStore {
        ParamStore::new()
    }
}

impl PartialEq for ParamStore {
    /// The same names in the same order (ids are positions), with equal values.
    fn eq(&self, other: &ParamStore) -> bool {
        self.params.len() == other.params.len() && self.iter().eq(other.iter())
    }
}

impl Index<ParamId> for ParamStore {
    type Output = Tensor;

    /// # Panics
    ///
    /// If `id` does not belong to this store.
    #[track_caller]
    fn index(&self, id: ParamId) -> &Tensor {
        self.entry(id).1
    }
}

impl Index<&str> for ParamStore {
    type Output = Tensor;

    /// # Panics
    ///
    /// If the store holds no parameter called `name`.
    #[track_caller]
    fn index(&self, name: &str) -> &Tensor {
        match self.params.get(name) {
            Some(value) => value,
            None => panic!("ParamStore: no parameter called `{name}`"),
        }
    }
}

impl fmt::Debug for ParamStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// What names a parameter of a [`ParamStore`]: its [`ParamId`] or its name.
pub trait ParamKey: sealed::Sealed {
    /// The parameter's position in `store`.
    ///
    /// # Panics
    ///
    /// If `store` holds no such parameter.
    #[track_caller]
    fn position(&self, store: &ParamStore) -> usize;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::ParamId {}
    impl Sealed for &str {}
    impl Sealed for &String {}
}

impl ParamKey for ParamId {
    #[track_caller]
    fn position(&self, store: &ParamStore) -> usize {
        store.check_id(*self)
    }
}

impl ParamKey for &str {
    #[track_caller]
    fn position(&self, store: &ParamStore) -> usize {
        match store.params.get_index_of(*self) {
            Some(index) => index,
            None => panic!("ParamStore: no parameter called `{self}`"),
        }
    }
}

impl ParamKey for &String {
    #[track_caller]
    fn position(&self, store: &ParamStore) -> usize {
        self.as_str().position(store)
    }
}
