//! Checkpoints that do not fit: each is an `Err` naming what differs, and neither the store nor
//! the optimizer changes. Truncated files, another dtype, another model (missing, extra or
//! misshapen parameters), another optimizer, and optimizer state that does not fit the model.

use safetensors::tensor::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use tapegrad::nn::{self, Activation, Mlp};
use tapegrad::optim::{Adam, Optimizer, Sgd};
use tapegrad::{Error, ParamStore, Tape, Tensor};

fn model(sizes: &[usize], seed: u64) -> (ParamStore, Mlp) {
    let mut store = ParamStore::new();
    let mlp = Mlp::new(
        &mut store,
        "net",
        sizes,
        Activation::Tanh,
        &mut nn::seeded_rng(seed),
    );
    (store, mlp)
}

fn train(store: &mut ParamStore, mlp: &Mlp, optimizer: &mut impl Optimizer, steps: usize) {
    let inputs = mlp.layers[0].in_features;
    let x = Tensor::from_fn(&[4, inputs], |i| i as f64 / 8.0 - 0.5);
    let mut tape = Tape::new();
    for _ in 0..steps {
        optimizer.minimize(store, &mut tape, |p| {
            (mlp.forward(p, p.tape().constant(x.clone())))
                .powf(2.0)
                .mean()
        });
    }
}

/// A path in the temporary directory, removed when dropped.
struct Temp(PathBuf);

impl Temp {
    fn new(name: &str) -> Temp {
        Temp(std::env::temp_dir().join(format!(
            "tapegrad-checkpoint-{}-{name}.safetensors",
            std::process::id()
        )))
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An Adam checkpoint of a 2-3-1 model after 3 steps.
fn adam_checkpoint(name: &str) -> Temp {
    let (mut store, mlp) = model(&[2, 3, 1], 1);
    let mut adam = Adam::new(0.01);
    train(&mut store, &mlp, &mut adam, 3);
    let file = Temp::new(name);
    store.save_checkpoint(&file.0, &adam).unwrap();
    file
}

/// Loading `file` into a freshly trained 2-3-1 model and `optimizer` fails, and changes
/// neither; returns the error.
fn refused(file: &Temp, mut optimizer: impl Optimizer, sizes: &[usize]) -> Error {
    let (mut store, mlp) = model(sizes, 5);
    train(&mut store, &mlp, &mut optimizer, 2);
    let (store_before, state_before) = (store.clone(), optimizer.state(&store));
    let error = store.load_checkpoint(&file.0, &mut optimizer).unwrap_err();
    assert_eq!(store, store_before, "the store changed: {error}");
    assert_eq!(
        optimizer.state(&store),
        state_before,
        "the optimizer changed: {error}"
    );
    error
}

struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// `file` rewritten: `edit` gets its tensors and metadata to change.
fn rewrite(file: &Temp, edit: impl FnOnce(&mut Vec<(String, Raw)>, &mut HashMap<String, String>)) {
    let bytes = std::fs::read(&file.0).unwrap();
    let parsed = SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut metadata: HashMap<String, String> = header
        .metadata()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut tensors: Vec<(String, Raw)> = parsed
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let raw = Raw {
                dtype: view.dtype(),
                shape: view.shape().to_vec(),
                bytes: view.data().to_vec(),
            };
            (name, raw)
        })
        .collect();
    edit(&mut tensors, &mut metadata);
    let out = safetensors::serialize(
        tensors.iter().map(|(name, raw)| (name.as_str(), raw)),
        Some(metadata.into_iter().collect()),
    )
    .unwrap();
    std::fs::write(&file.0, out).unwrap();
}

fn reason(error: &Error) -> &str {
    match error {
        Error::Checkpoint { reason, .. } | Error::Format { reason, .. } => reason,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_checkpoint_loads_weights_and_state_and_is_also_a_parameter_file() {
    let file = adam_checkpoint("good");
    let (mut store, _) = model(&[2, 3, 1], 9);
    let mut adam = Adam::new(0.5);
    store.load_checkpoint(&file.0, &mut adam).unwrap();
    assert_eq!((adam.lr, adam.eps, adam.steps()), (0.01, 1e-8, 3));
    let w = store.id("net.0.weight").unwrap();
    assert_eq!(adam.param_state(w).unwrap().step, 3);
    assert_eq!(adam.param_state(w).unwrap().exp_avg.len(), 6);
    // The documented layout: metadata entries, and one tensor per buffer and step count.
    let bytes = std::fs::read(&file.0).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = header.metadata().clone().unwrap();
    assert_eq!(metadata["optimizer"], "Adam");
    assert_eq!(metadata["optimizer.steps"], "3");
    assert_eq!(metadata["optimizer.eps"], "1e-8");
    assert_eq!(metadata["optimizer.beta2"], "0.999");
    let parsed = SafeTensors::deserialize(&bytes).unwrap();
    let step = parsed.tensor("__optimizer__/net.0.weight/step").unwrap();
    assert_eq!(step.shape(), &[] as &[usize]);
    assert_eq!(step.data(), 3.0f64.to_le_bytes().as_slice());
    let exp_avg = parsed.tensor("__optimizer__/net.0.weight/exp_avg").unwrap();
    assert_eq!(exp_avg.shape(), &[3, 2]);
    // Its parameters load alone too, without the optimizer's tensors.
    let params = ParamStore::load(&file.0).unwrap();
    assert_eq!(params, store);
}

#[test]
fn a_parameter_file_without_optimizer_state_is_refused() {
    let file = Temp::new("plain");
    model(&[2, 3, 1], 1).0.save(&file.0).unwrap();
    let error = refused(&file, Adam::new(0.01), &[2, 3, 1]);
    assert_eq!(
        reason(&error),
        "it holds no optimizer state (save it with save_checkpoint)"
    );
}

#[test]
fn another_optimizers_state_is_refused() {
    let file = adam_checkpoint("other-optimizer");
    let error = refused(&file, Sgd::new(0.1).with_momentum(0.9), &[2, 3, 1]);
    assert_eq!(
        reason(&error),
        "it holds Adam state, and the optimizer is SGD"
    );
    assert!(
        error.to_string().contains("the checkpoint does not fit"),
        "{error}"
    );
}

#[test]
fn another_models_checkpoint_is_refused_naming_the_parameter() {
    let file = adam_checkpoint("other-model");
    let error = refused(&file, Adam::new(0.01), &[2, 4, 1]);
    assert!(
        error.to_string().ends_with(
            "parameter `net.0.weight` has shape [3, 2] in the file but [4, 2] in the store"
        ),
        "{error}"
    );
    let error = refused(&file, Adam::new(0.01), &[2, 3, 3, 1]);
    assert!(
        error.to_string().ends_with(
            "parameter `net.1.weight` has shape [1, 3] in the file but [3, 3] in the store"
        ),
        "{error}"
    );
}

#[test]
fn a_truncated_checkpoint_is_refused() {
    let file = adam_checkpoint("truncated");
    let bytes = std::fs::read(&file.0).unwrap();
    for keep in [0, 7, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&file.0, &bytes[..keep]).unwrap();
        let error = refused(&file, Adam::new(0.01), &[2, 3, 1]);
        assert!(matches!(error, Error::Format { .. }), "{keep}: {error}");
    }
}

#[test]
fn state_of_another_shape_is_refused_naming_the_buffer() {
    let file = adam_checkpoint("misshapen");
    rewrite(&file, |tensors, _| {
        let (_, raw) = tensors
            .iter_mut()
            .find(|(n, _)| n == "__optimizer__/net.0.weight/exp_avg")
            .unwrap();
        raw.shape = vec![6];
    });
    let error = refused(&file, Adam::new(0.01), &[2, 3, 1]);
    assert_eq!(
        reason(&error),
        "`exp_avg` of parameter `net.0.weight` has shape [6], the parameter [3, 2]"
    );
}

#[test]
fn state_for_a_parameter_the_model_lacks_is_refused() {
    let file = adam_checkpoint("ghost");
    rewrite(&file, |tensors, _| {
        let (name, _) = tensors
            .iter_mut()
            .find(|(n, _)| n == "__optimizer__/net.1.bias/exp_avg_sq")
            .unwrap();
        *name = "__optimizer__/net.7.bias/exp_avg_sq".into();
    });
    let error = refused(&file, Adam::new(0.01), &[2, 3, 1]);
    assert_eq!(
        reason(&error),
        "it holds optimizer state for `net.7.bias`, which the store does not hold"
    );
}

#[test]
fn missing_state_and_missing_hyperparameters_are_refused() {
    let file = adam_checkpoint("missing-buffer");
    rewrite(&file, |tensors, _| {
        tensors.retain(|(n, _)| n != "__optimizer__/net.0.bias/exp_avg_sq");
    });
    let error = refused(&file, Adam::new(0.01), &[2, 3, 1]);
    assert_eq!(reason(&error), "parameter `net.0.bias` has no `exp_avg_sq`");

    let file = adam_checkpoint("missing-step");
    rewrite(&file, |tensors, _| {
        tensors.retain(|(n, _)| n != "__optimizer__/net.0.bias/step");
    });
    let error = refused(&file, Adam::new(0.01), &[2, 3, 1]);
    assert_eq!(reason(&error), "parameter `net.0.bias` has no step count");

    let file = adam_checkpoint("missing-eps");
    rewrite(&file, |_, metadata| {
        metadata.remove("optimizer.eps");
    });
    let error = refused(&file, Adam::new(0.01), &[2, 3, 1]);
    assert_eq!(reason(&error), "the Adam hyperparameter `eps` is missing");

    let file = adam_checkpoint("bad-lr");
    rewrite(&file, |_, metadata| {
        metadata.insert("optimizer.lr".into(), "fast".into());
    });
    let error = refused(&file, Adam::new(0.01), &[2, 3, 1]);
    assert_eq!(reason(&error), "`optimizer.lr` is \"fast\", not a number");
}

#[test]
fn state_of_another_dtype_is_refused_naming_the_tensor() {
    let file = adam_checkpoint("int-state");
    rewrite(&file, |tensors, _| {
        let (_, raw) = tensors
            .iter_mut()
            .find(|(n, _)| n == "__optimizer__/net.0.weight/exp_avg")
            .unwrap();
        raw.dtype = Dtype::I64;
    });
    let error = refused(&file, Adam::new(0.01), &[2, 3, 1]);
    assert_eq!(
        reason(&error),
        "`__optimizer__/net.0.weight/exp_avg` holds I64; tapegrad reads F64, F32, F16 and BF16"
    );
}

#[test]
#[should_panic(
    expected = "Adam: the optimizer's state belongs to another store than the one given"
)]
fn saving_an_optimizer_with_another_stores_state_panics() {
    let (mut a, mlp) = model(&[2, 3, 1], 1);
    let mut adam = Adam::new(0.01);
    train(&mut a, &mlp, &mut adam, 1);
    let (b, _) = model(&[2, 3, 1], 1);
    let _ = b.save_checkpoint(std::env::temp_dir().join("never-written"), &adam);
}

#[test]
#[should_panic(
    expected = "ParamStore::insert: the prefix `__optimizer__/` of \"__optimizer__/w\" is reserved for checkpoints"
)]
fn the_optimizer_prefix_is_reserved() {
    ParamStore::new().insert("__optimizer__/w", 1.0);
}

#[test]
fn optimizer_tensors_outside_a_checkpoint_are_refused() {
    let file = adam_checkpoint("not-a-checkpoint");
    rewrite(&file, |_, metadata| {
        metadata.remove("optimizer");
    });
    match ParamStore::load(&file.0) {
        Err(Error::Format { reason, .. }) => assert!(
            reason.ends_with(
                "reserved for a checkpoint's optimizer state, in a file that is not a checkpoint"
            ),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
}
