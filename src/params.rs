//! [`ParamStore`]: a model's named parameters, kept across steps while each step records a
//! fresh tape.
//!
//! A tape lives for one step; a model's weights live for the whole training run. The store
//! holds the weights as plain tensors in insertion order. Each step puts them on a tape
//! ([`ParamStore::on_tape`], giving [`Params`]: the `Var`s by name or by [`ParamId`]), and takes
//! their gradients off it ([`Params::grads`], giving [`ParamGrads`], which outlive the tape).
//! An optimizer then updates the store in place. Saving and loading is in `params/file.rs`.

use crate::backward::Grads;
use crate::tape::Tape;
use crate::tensor::Tensor;
use crate::var::Var;
use indexmap::IndexMap;
use std::fmt;
use std::ops::{Index, IndexMut};

mod file;

/// A parameter's position in its [`ParamStore`], returned by [`ParamStore::insert`].
///
/// Indexing by id is a `Vec` lookup; indexing by name is a hash lookup. Layers keep ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(usize);

impl ParamId {
    /// The parameter's position in insertion order, counting from 0.
    pub fn index(self) -> usize {
        self.0
    }
}

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
#[derive(Clone, Default, PartialEq)]
pub struct ParamStore {
    params: IndexMap<String, Tensor>,
}

impl ParamStore {
    /// An empty store.
    pub fn new() -> ParamStore {
        ParamStore::default()
    }

    /// Adds a parameter and returns its id.
    ///
    /// # Panics
    ///
    /// If the store already holds `name`, or if `name` is empty or contains a control
    /// character (names are written to files one per line) or is `__metadata__` (reserved by
    /// the file format).
    #[track_caller]
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Tensor>) -> ParamId {
        let name = name.into();
        if let Err(reason) = file::check_name(&name) {
            panic!("ParamStore::insert: {reason}");
        }
        // Checked before inserting, which would overwrite the value: a caught panic must leave
        // the store as it was.
        if self.params.contains_key(&name) {
            panic!("ParamStore::insert: the store already holds a parameter `{name}`");
        }
        let (index, _) = self.params.insert_full(name, value.into());
        ParamId(index)
    }

    /// The id of the parameter called `name`.
    pub fn id(&self, name: &str) -> Option<ParamId> {
        self.params.get_index_of(name).map(ParamId)
    }

    /// The value of the parameter called `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.params.get(name)
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
        (0..self.params.len()).map(ParamId)
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

    /// Records every parameter on `tape` as a `param` leaf named after it, and returns the
    /// `Var`s of this step.
    ///
    /// The tape shares the parameters' buffers (no copy). Drop or [`clear`](Tape::clear) the
    /// tape before updating the store, so that the update writes in place instead of copying.
    #[track_caller]
    pub fn on_tape<'t>(&'t self, tape: &'t Tape) -> Params<'t> {
        let vars = self
            .params
            .values()
            .map(|value| tape.param(value.clone()))
            .collect();
        Params { store: self, vars }
    }

    /// Calls `update(id, value, grad)` for every parameter, with its value as a mutable slice
    /// (written in place when no tape or clone shares it) and its gradient. Optimizers are
    /// built on this.
    ///
    /// # Panics
    ///
    /// If `grads` was not taken from this store's parameters (a count or shape differs).
    #[track_caller]
    pub fn update(
        &mut self,
        grads: &ParamGrads,
        mut update: impl FnMut(ParamId, &mut [f64], &[f64]),
    ) {
        assert_eq!(
            grads.grads.len(),
            self.params.len(),
            "ParamStore::update: {} gradients for {} parameters",
            grads.grads.len(),
            self.params.len()
        );
        for (index, ((name, value), grad)) in self.params.iter_mut().zip(&grads.grads).enumerate() {
            assert!(
                value.shape() == grad.shape(),
                "ParamStore::update: parameter `{name}` has shape {:?} but its gradient {:?}",
                value.shape(),
                grad.shape()
            );
            update(ParamId(index), value.data_mut(), grad.data());
        }
    }

    #[track_caller]
    fn entry(&self, id: ParamId) -> (&str, &Tensor) {
        match self.params.get_index(id.0) {
            Some((name, value)) => (name, value),
            None => panic!(
                "ParamStore: parameter id {} is not in this store of {} parameters",
                id.0,
                self.params.len()
            ),
        }
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

impl IndexMut<ParamId> for ParamStore {
    /// # Panics
    ///
    /// If `id` does not belong to this store.
    #[track_caller]
    fn index_mut(&mut self, id: ParamId) -> &mut Tensor {
        let len = self.params.len();
        match self.params.get_index_mut(id.0) {
            Some((_, value)) => value,
            None => panic!(
                "ParamStore: parameter id {} is not in this store of {len} parameters",
                id.0
            ),
        }
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

/// The store's parameters recorded on one tape, for one step. Index by [`ParamId`] or by name.
pub struct Params<'t> {
    store: &'t ParamStore,
    vars: Vec<Var<'t>>,
}

impl<'t> Params<'t> {
    /// The `Var` of the parameter called `name`.
    pub fn get(&self, name: &str) -> Option<Var<'t>> {
        self.store.id(name).map(|id| self.vars[id.0])
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
        ParamGrads {
            grads: self.vars.iter().map(|&var| grads[var].clone()).collect(),
        }
    }
}

impl<'t> Index<ParamId> for Params<'t> {
    type Output = Var<'t>;

    /// # Panics
    ///
    /// If `id` does not belong to the store these params came from.
    #[track_caller]
    fn index(&self, id: ParamId) -> &Var<'t> {
        self.store.entry(id);
        &self.vars[id.0]
    }
}

impl<'t> Index<&str> for Params<'t> {
    type Output = Var<'t>;

    /// # Panics
    ///
    /// If the store holds no parameter called `name`.
    #[track_caller]
    fn index(&self, name: &str) -> &Var<'t> {
        match self.store.id(name) {
            Some(id) => &self.vars[id.0],
            None => panic!("Params: no parameter called `{name}`"),
        }
    }
}

/// The gradients of a store's parameters from one backward pass, in the store's order.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamGrads {
    grads: Vec<Tensor>,
}

impl ParamGrads {
    /// The gradients, in the store's order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Tensor> {
        self.grads.iter()
    }

    /// The number of gradients (one per parameter).
    pub fn len(&self) -> usize {
        self.grads.len()
    }

    /// Whether there is no gradient (the store was empty).
    pub fn is_empty(&self) -> bool {
        self.grads.is_empty()
    }
}

impl Index<ParamId> for ParamGrads {
    type Output = Tensor;

    /// # Panics
    ///
    /// If `id` does not belong to the store these gradients came from.
    #[track_caller]
    fn index(&self, id: ParamId) -> &Tensor {
        match self.grads.get(id.0) {
            Some(grad) => grad,
            None => panic!(
                "ParamGrads: parameter id {} is not among {} gradients",
                id.0,
                self.grads.len()
            ),
        }
    }
}

/// A model summary: every parameter's name, shape and count, then the total. See
/// [`ParamStore::summary`].
pub struct Summary<'s> {
    store: &'s ParamStore,
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<(&str, String, String)> = self
            .store
            .iter()
            .map(|(name, value)| {
                (
                    name,
                    format!("{:?}", value.shape()),
                    value.len().to_string(),
                )
            })
            .collect();
        let total = self.store.num_elements().to_string();
        let name_width = rows
            .iter()
            .map(|r| r.0.chars().count())
            .chain(["parameter".len(), "total".len()]);
        let name_width = name_width.max().unwrap_or(0);
        let shape_width = rows
            .iter()
            .map(|r| r.1.chars().count())
            .chain(["shape".len()])
            .max()
            .unwrap_or(0);
        let count_width = rows
            .iter()
            .map(|r| r.2.len())
            .chain(["count".len(), total.len()])
            .max()
            .unwrap_or(0);
        writeln!(
            f,
            "{:name_width$}  {:shape_width$}  {:>count_width$}",
            "parameter", "shape", "count"
        )?;
        for (name, shape, count) in &rows {
            writeln!(
                f,
                "{name:name_width$}  {shape:shape_width$}  {count:>count_width$}"
            )?;
        }
        writeln!(
            f,
            "{:name_width$}  {:shape_width$}  {total:>count_width$}",
            "total", ""
        )
    }
}
