//! Optimizer state: [`OptimizerState`], every number an optimizer carries between steps (what a
//! checkpoint saves), and `PerParam`, the per-parameter slots each optimizer keeps, bound to
//! the store it steps.

use crate::params::{ParamId, ParamStore};
use crate::tensor::Tensor;

/// Everything an optimizer carries from one step to the next, by PyTorch's names: what
/// [`ParamStore::save_checkpoint`](crate::ParamStore::save_checkpoint) writes, and what
/// [`Optimizer::set_state`](super::Optimizer::set_state) takes back.
///
/// ```
/// use tapegrad::{ParamStore, Tape, Tensor, optim::{Adam, Optimizer}};
///
/// let mut store = ParamStore::new();
/// store.insert("w", Tensor::from([5.0, -2.5]));
/// let mut adam = Adam::new(0.1);
/// adam.minimize(&mut store, &mut Tape::new(), |p| (p["w"] * p["w"]).sum());
///
/// let state = adam.state(&store);
/// assert_eq!((state.kind.as_str(), state.steps), ("Adam", 1));
/// assert_eq!(state.hyperparameter("lr"), Some(0.1));
/// let w = state.params[0].as_ref().unwrap();        // the store's first parameter
/// assert_eq!(w.step, Some(1));
/// let g = [10.0, -5.0];                              // 2w
/// assert_eq!(w.tensor("exp_avg").unwrap().data(), &[(1.0 - 0.9) * g[0], (1.0 - 0.9) * g[1]]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState {
    /// The optimizer: `SGD`, `Adam` or `AdamW` (PyTorch's class names).
    pub kind: String,
    /// Its hyperparameters by PyTorch's names (`lr`, `momentum`, `betas` as `beta1` and
    /// `beta2`, …), booleans as 0 or 1.
    pub hyperparameters: Vec<(String, f64)>,
    /// The number of steps taken.
    pub steps: u64,
    /// Per parameter, in the store's order: `None` until the parameter's first step.
    pub params: Vec<Option<ParamState>>,
}

impl OptimizerState {
    /// The hyperparameter called `name`.
    pub fn hyperparameter(&self, name: &str) -> Option<f64> {
        self.hyperparameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v)
    }
}

/// One parameter's optimizer state.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamState {
    /// The steps this parameter took (Adam's bias correction counts them); `None` for an
    /// optimizer that does not count (SGD).
    pub step: Option<u64>,
    /// The buffers, each of the parameter's shape, by PyTorch's names: `momentum_buffer`;
    /// `exp_avg` and `exp_avg_sq`.
    pub tensors: Vec<(String, Tensor)>,
}

impl ParamState {
    /// The buffer called `name`.
    pub fn tensor(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}

/// The hyperparameters `state` must give exactly (no other, none missing), in the order of
/// `names`; `Err` names the first that differs.
pub(super) fn read_hyperparameters<const N: usize>(
    state: &OptimizerState,
    kind: &str,
    names: [&str; N],
) -> Result<[f64; N], String> {
    if state.kind != kind {
        return Err(format!(
            "it holds {} state, and the optimizer is {kind}",
            state.kind
        ));
    }
    if let Some((extra, _)) = state
        .hyperparameters
        .iter()
        .find(|(name, _)| !names.contains(&name.as_str()))
    {
        return Err(format!("{kind} has no hyperparameter `{extra}`"));
    }
    let mut values = [0.0; N];
    for (value, name) in values.iter_mut().zip(names) {
        *value = state
            .hyperparameter(name)
            .ok_or_else(|| format!("the {kind} hyperparameter `{name}` is missing"))?;
    }
    Ok(values)
}

/// The buffers `names` of parameter `index` from `state`, each of the parameter's shape, and
/// no others; the step count if `counted`.
pub(super) fn read_param(
    state: &ParamState,
    store: &ParamStore,
    index: usize,
    names: &[&str],
    counted: bool,
) -> Result<(Option<u64>, Vec<Vec<f64>>), String> {
    let id = store.ids().nth(index).expect("index < store.len()");
    let (name, shape) = (store.name(id), store[id].shape());
    if let Some((extra, _)) = state
        .tensors
        .iter()
        .find(|(n, _)| !names.contains(&n.as_str()))
    {
        return Err(format!("unexpected state `{extra}` for parameter `{name}`"));
    }
    let mut buffers = Vec::with_capacity(names.len());
    for &buffer in names {
        let value = state
            .tensor(buffer)
            .ok_or_else(|| format!("parameter `{name}` has no `{buffer}`"))?;
        if value.shape() != shape {
            return Err(format!(
                "`{buffer}` of parameter `{name}` has shape {:?}, the parameter {shape:?}",
                value.shape()
            ));
        }
        buffers.push(value.to_vec());
    }
    match (counted, state.step) {
        (true, None) => Err(format!("parameter `{name}` has no step count")),
        (false, Some(_)) => Err(format!("parameter `{name}` has a step count")),
        (_, step) => Ok((step, buffers)),
    }
}

/// `values` as a tensor of `shape` (a parameter's; the state was made with its length).
pub(super) fn shaped(values: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape).expect("the state has the parameter's length")
}

/// Per-parameter optimizer state, bound to the store it was made for.
#[derive(Clone, Debug)]
pub(super) struct PerParam<T> {
    /// The store's identity, from the first step (or loaded state) on.
    pub store: Option<u64>,
    /// One slot per parameter; `None` until the parameter's first step.
    pub slots: Vec<Option<T>>,
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
    pub fn bind(&mut self, optimizer: &str, store: &ParamStore, len: impl Fn(&T) -> usize) {
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

    /// The state of parameter `id`, if it took a step.
    ///
    /// # Panics
    ///
    /// If the optimizer stepped another store than `id`'s.
    #[track_caller]
    pub fn get(&self, optimizer: &str, id: ParamId) -> Option<&T> {
        if let Some(tag) = self.store {
            assert!(
                tag == id.store_tag(),
                "{optimizer}: parameter id {} belongs to another store than the optimizer's",
                id.index()
            );
        }
        self.slots.get(id.index()).and_then(Option::as_ref)
    }

    /// Each slot's state through `export`, given the parameter's shape: one per parameter
    /// of `store` (all `None` before the first step).
    ///
    /// # Panics
    ///
    /// If the state belongs to another store (its numbers would be saved under the wrong
    /// parameters' names).
    #[track_caller]
    pub fn export(
        &self,
        optimizer: &str,
        store: &ParamStore,
        export: impl Fn(&T, &[usize]) -> ParamState,
    ) -> Vec<Option<ParamState>> {
        if let Some(tag) = self.store {
            assert!(
                tag == store.tag() && self.slots.len() == store.len(),
                "{optimizer}: the optimizer's state belongs to another store than the one given"
            );
        }
        store
            .iter()
            .enumerate()
            .map(|(i, (_, value))| {
                let slot = self.slots.get(i).and_then(Option::as_ref);
                slot.map(|state| export(state, value.shape()))
            })
            .collect()
    }

    /// State read from `params` (one per parameter of `store`) through `read`, bound to
    /// `store`; nothing is replaced unless every parameter's state reads.
    pub fn import(
        store: &ParamStore,
        params: &[Option<ParamState>],
        read: impl Fn(&ParamState, usize) -> Result<T, String>,
    ) -> Result<PerParam<T>, String> {
        if params.len() != store.len() {
            return Err(format!(
                "state for {} parameters, the store holds {}",
                params.len(),
                store.len()
            ));
        }
        let slots = params
            .iter()
            .enumerate()
            .map(|(i, state)| state.as_ref().map(|s| read(s, i)).transpose())
            .collect::<Result<_, _>>()?;
        Ok(PerParam {
            store: Some(store.tag()),
            slots,
        })
    }
}
