//! Checkpoints: a store and its optimizer's state in one safetensors file
//! ([`ParamStore::save_checkpoint`]), read back into a fresh process so that training resumes
//! bit for bit ([`ParamStore::load_checkpoint`]).
//!
//! The file is a parameter file (so [`ParamStore::load`] and PyTorch read its weights) with
//! more in it. Each parameter `name`'s state is a tensor `__optimizer__/{name}/{buffer}` (PyTorch's
//! names: `momentum_buffer`, `exp_avg`, `exp_avg_sq`), and its step count, if the optimizer
//! counts, a 0-d tensor `__optimizer__/{name}/step`. The header's metadata adds `optimizer` (its
//! PyTorch class name), `optimizer.steps` and `optimizer.{hyperparameter}` for each
//! hyperparameter, every number written so that it reads back to the same bits.

use super::{Optimizer, OptimizerState, ParamState};
use crate::error::Error;
use crate::params::FileOptions;
use crate::params::ParamStore;
use crate::params::file::{self, OPTIMIZER_PREFIX};
use crate::tensor::Tensor;
use indexmap::IndexMap;
use std::path::Path;

const KIND: &str = "optimizer";
const STEPS: &str = "optimizer.steps";
const STEP: &str = "step";

impl ParamStore {
    /// Writes the store and `optimizer`'s state (its hyperparameters, step count and every
    /// parameter's buffers) to `path`, in one file written beside `path` and renamed over it.
    ///
    /// ```
    /// use tapegrad::{ParamStore, Tape, Tensor, optim::{Adam, Optimizer}};
    ///
    /// let train = |store: &mut ParamStore, adam: &mut Adam, steps| {
    ///     for _ in 0..steps {
    ///         adam.minimize(store, &mut Tape::new(), |p| (p["w"] * p["w"]).sum());
    ///     }
    /// };
    /// let path = std::env::temp_dir().join("tapegrad-doc-checkpoint.safetensors");
    /// let mut store = ParamStore::new();
    /// store.insert("w", Tensor::from([1.0, -2.0]));
    /// let (mut resumed, mut once) = (store.clone(), store.clone());
    ///
    /// let mut adam = Adam::new(0.1);
    /// train(&mut store, &mut adam, 3);
    /// store.save_checkpoint(&path, &adam)?;
    ///
    /// // Later (in another process, say): the same model and optimizer, built afresh.
    /// let mut adam2 = Adam::new(0.5);                // hyperparameters come from the file
    /// resumed.load_checkpoint(&path, &mut adam2)?;
    /// train(&mut resumed, &mut adam2, 2);
    ///
    /// let mut adam = Adam::new(0.1);
    /// train(&mut once, &mut adam, 5);                // five steps without a break
    /// assert_eq!(resumed, once);
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), tapegrad::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be written.
    ///
    /// # Panics
    ///
    /// If `optimizer` stepped another store.
    #[track_caller]
    pub fn save_checkpoint(
        &self,
        path: impl AsRef<Path>,
        optimizer: &impl Optimizer,
    ) -> Result<(), Error> {
        let state = optimizer.state(self);
        let mut extra = Vec::new();
        for ((name, _), param) in self.iter().zip(&state.params) {
            let Some(param) = param else { continue };
            for (buffer, value) in &param.tensors {
                extra.push((format!("{OPTIMIZER_PREFIX}{name}/{buffer}"), value.clone()));
            }
            if let Some(step) = param.step {
                // Exact: step counts are far below 2⁵³.
                let step = Tensor::scalar(step as f64);
                extra.push((format!("{OPTIMIZER_PREFIX}{name}/{STEP}"), step));
            }
        }
        let keys: Vec<String> = state
            .hyperparameters
            .iter()
            .map(|(name, _)| format!("{KIND}.{name}"))
            .collect();
        let mut metadata = vec![(KIND, state.kind.clone()), (STEPS, state.steps.to_string())];
        for (key, (_, value)) in keys.iter().zip(&state.hyperparameters) {
            // `{:?}` is the shortest decimal that parses back to the same f64, with an exponent
            // for tiny or huge values (`1e-8`, not `0.00000001`).
            metadata.push((key.as_str(), format!("{value:?}")));
        }
        let bytes = self
            .encode_with(&FileOptions::new(), &extra, &metadata)
            .expect("the store's own names are valid and distinct");
        file::write_atomically(path.as_ref(), &bytes)
    }

    /// Replaces the store's values and `optimizer`'s state with a checkpoint's, so that
    /// training goes on exactly as if it had never stopped. All or nothing: on any error both
    /// are unchanged. The store keeps its identity, so its layers' ids stay valid.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] and [`Error::Format`] as [`load`](Self::load); [`Error::Mismatch`]
    /// naming the first parameter missing, extra or of another shape; [`Error::Checkpoint`]
    /// if the file holds no optimizer state, another optimizer's, or state that does not fit
    /// the store (naming the parameter and buffer).
    pub fn load_checkpoint(
        &mut self,
        path: impl AsRef<Path>,
        optimizer: &mut impl Optimizer,
    ) -> Result<(), Error> {
        let (decoded, source) = file::read(path.as_ref())?;
        file::refuse_legacy(&decoded, &source)?;
        let checkpoint_error = |reason: String| Error::Checkpoint {
            source: source.clone(),
            reason,
        };
        let (params, buffers): (IndexMap<_, _>, IndexMap<_, _>) = decoded
            .tensors
            .into_iter()
            .partition(|(name, _)| !name.starts_with(OPTIMIZER_PREFIX));
        let loaded = ParamStore::from_map(params);
        self.check_same_layout(&loaded, &source)?;
        let metadata = decoded.metadata;
        let kind = metadata.get(KIND).ok_or_else(|| {
            checkpoint_error("it holds no optimizer state (save it with save_checkpoint)".into())
        })?;
        let number = |key: &str| -> Result<f64, Error> {
            let text = metadata
                .get(key)
                .ok_or_else(|| checkpoint_error(format!("the metadata lacks `{key}`")))?;
            text.parse()
                .map_err(|_| checkpoint_error(format!("`{key}` is {text:?}, not a number")))
        };
        let steps = metadata
            .get(STEPS)
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| checkpoint_error(format!("`{STEPS}` is missing or not a count")))?;
        let mut hyperparameters = Vec::new();
        let mut keys: Vec<&String> = metadata.keys().collect();
        keys.sort();
        for key in keys {
            if let Some(name) = key.strip_prefix("optimizer.").filter(|_| key != STEPS) {
                hyperparameters.push((name.to_string(), number(key)?));
            }
        }

        // The state of each parameter, by the store's order.
        let mut params: Vec<Option<ParamState>> = vec![None; self.len()];
        for (name, value) in buffers {
            let rest = &name[OPTIMIZER_PREFIX.len()..];
            let Some((param, buffer)) = rest.rsplit_once('/') else {
                return Err(checkpoint_error(format!("`{name}` names no parameter")));
            };
            let id = self.id(param).ok_or_else(|| {
                checkpoint_error(format!(
                    "it holds optimizer state for `{param}`, which the store does not hold"
                ))
            })?;
            let slot = params[id.index()].get_or_insert_with(|| ParamState {
                step: None,
                tensors: Vec::new(),
            });
            if buffer == STEP {
                let count = value.data().first().copied().unwrap_or(-1.0);
                if value.len() != 1 || count < 0.0 || count.fract() != 0.0 {
                    return Err(checkpoint_error(format!(
                        "the step count of `{param}` is not a count"
                    )));
                }
                slot.step = Some(count as u64);
            } else {
                slot.tensors.push((buffer.to_string(), value));
            }
        }
        let state = OptimizerState {
            kind: kind.clone(),
            hyperparameters,
            steps,
            params,
        };
        // The optimizer checks the state against the store and changes nothing on error; the
        // store's layout was checked above, so replacing its values cannot fail.
        optimizer
            .set_state(self, &state)
            .map_err(checkpoint_error)?;
        self.replace_values(loaded);
        Ok(())
    }
}
