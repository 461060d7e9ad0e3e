//! Weights that move between tapegrad and PyTorch, checked against files PyTorch wrote
//! (`tests/fixtures/torch/gen.py`; CI needs no PyTorch): PyTorch's state_dicts in F64, F32,
//! F16 and BF16 load into tapegrad's `Mlp` of the same names without renaming or transposing
//! and give PyTorch's outputs; a file tapegrad writes is the one PyTorch's
//! `load_state_dict(strict=True)` accepted; renaming covers `nn.Sequential`'s names; other
//! dtypes are refused by name.

mod common;

use common::{torch_fixture as fixture, torch_mlp as model, torch_reference as reference};
use tapegrad::nn::Mlp;
use tapegrad::{Error, FileOptions, ParamStore, SaveDtype, Tape, Tensor};

fn forward(store: &ParamStore, mlp: &Mlp, x: &Tensor) -> Tensor {
    let tape = Tape::new();
    let p = store.on_tape(&tape);
    mlp.forward(&p, tape.constant(x.clone())).value()
}

fn assert_close(got: &Tensor, want: &Tensor, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    for (i, (g, w)) in got.data().iter().zip(want.data()).enumerate() {
        assert!(
            (g - w).abs() <= 1e-14 * w.abs().max(1.0),
            "{what}[{i}]: tapegrad {g}, PyTorch {w}"
        );
    }
}

#[test]
fn pytorch_state_dicts_of_every_float_dtype_load_without_renaming_or_transposing() {
    let reference = reference();
    let x = &reference["x"];
    for dtype in ["f64", "f32", "f16", "bf16"] {
        let (mut store, mlp) = model(0);
        store
            .load_into(fixture(&format!("mlp_{dtype}.safetensors")))
            .unwrap();
        // Each value widened exactly: the bits PyTorch's `.double()` gives.
        for (name, value) in store.iter() {
            let want = &reference[format!("widened/{dtype}/{name}").as_str()];
            assert_eq!(value.shape(), want.shape(), "{dtype} {name}");
            let bits = |t: &Tensor| t.data().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(value), bits(want), "{dtype} {name}");
        }
        // mlp.1 is square: loaded transposed, it would still load, but not give these outputs.
        assert_eq!(store["mlp.1.weight"].shape(), &[4, 4]);
        let want = &reference[format!("out/{dtype}").as_str()];
        assert_close(&forward(&store, &mlp, x), want, dtype);
    }
}

#[test]
fn a_sequential_state_dict_loads_through_a_prefix_map() {
    let sequential = [("mlp.0.", "0."), ("mlp.1.", "2."), ("mlp.2.", "4.")];
    let (mut store, mlp) = model(0);
    let path = fixture("sequential_f64.safetensors");
    // Without renaming, the names do not match: an error naming the first missing one.
    let error = store.load_into(&path).unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("parameter `mlp.0.weight` is missing from the file"),
        "{error}"
    );
    store
        .load_into_with(&path, &FileOptions::new().prefixes(&sequential))
        .unwrap();
    let reference = reference();
    assert_close(
        &forward(&store, &mlp, &reference["x"]),
        &reference["out/f64"],
        "sequential",
    );

    // A closure does the same, and saving with the prefixes writes PyTorch's names back.
    let (mut other, _) = model(1);
    let rename = |name: &str| {
        let (index, rest) = name.split_once('.').unwrap();
        format!("mlp.{}.{rest}", index.parse::<usize>().unwrap() / 2)
    };
    other
        .load_into_with(&path, &FileOptions::new().rename(rename))
        .unwrap();
    assert_eq!(other, store);
    let written = ParamStore::from_bytes(
        &store
            .to_bytes_with(&FileOptions::new().prefixes(&sequential))
            .unwrap(),
    )
    .unwrap();
    let file = ParamStore::load(&path).unwrap();
    assert_eq!(written.len(), file.len());
    for (name, value) in written.iter() {
        assert_eq!(Some(value), file.get(name), "{name}");
    }
}

#[test]
fn a_renaming_that_merges_two_names_is_an_error() {
    let (store, _) = model(0);
    let merge = FileOptions::new().rename(|name: &str| name.replace(".0.", ".1."));
    match store.to_bytes_with(&merge) {
        Err(Error::Rename { reason, .. }) => assert_eq!(
            reason,
            "renaming gives both `mlp.0.weight` and `mlp.1.weight` the name `mlp.1.weight`"
        ),
        other => panic!("{other:?}"),
    }
    let (mut target, _) = model(0);
    let before = target.clone();
    let error = target
        .load_into_with(fixture("mlp_f64.safetensors"), &merge)
        .unwrap_err();
    assert!(matches!(error, Error::Rename { .. }), "{error}");
    assert_eq!(target, before, "nothing half-loaded");
    let empty = FileOptions::new().rename(|_: &str| String::new());
    assert!(matches!(
        store.to_bytes_with(&empty),
        Err(Error::Rename { .. })
    ));
}

#[test]
fn an_integer_tensor_is_refused_by_name_and_type() {
    let mut store = ParamStore::new();
    store.insert("weight", Tensor::zeros(&[3]));
    let before = store.clone();
    let error = store
        .load_into(fixture("batchnorm.safetensors"))
        .unwrap_err();
    match &error {
        Error::Format { reason, .. } => assert_eq!(
            reason,
            "`num_batches_tracked` holds I64; tapegrad reads F64, F32, F16 and BF16"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(store, before);
}

/// The file tapegrad writes for a seeded model: the bytes `gen.py` loaded into PyTorch's
/// `Mlp` with `load_state_dict(strict=True)`, and PyTorch's output for it. Rewritten (then
/// run gen.py again) with `TAPEGRAD_WRITE_FIXTURES=1`.
#[test]
fn a_tapegrad_file_is_what_pytorch_loaded_strictly_and_gives_its_outputs() {
    let (store, mlp) = model(7);
    let path = fixture("from_tapegrad.safetensors");
    if std::env::var_os("TAPEGRAD_WRITE_FIXTURES").is_some() {
        store.save(&path).unwrap();
    }
    assert!(
        std::fs::read(&path).unwrap() == store.to_bytes(),
        "tapegrad no longer writes the file PyTorch was checked with: rewrite it and run gen.py"
    );
    let torch = ParamStore::load(fixture("from_tapegrad_out.safetensors")).unwrap();
    let reference = reference();
    assert_close(
        &forward(&store, &mlp, &reference["x"]),
        &torch["out"],
        "out",
    );
}

#[test]
fn saving_f32_rounds_each_value_to_the_nearest_f32() {
    let mut store = ParamStore::new();
    store.insert("w", Tensor::from([0.1, -1.0 / 3.0, 1e300, 1e-50, -0.0]));
    let bytes = store
        .to_bytes_with(&FileOptions::new().dtype(SaveDtype::F32))
        .unwrap();
    let header = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(header.tensor("w").unwrap().dtype(), safetensors::Dtype::F32);
    let loaded = ParamStore::from_bytes(&bytes).unwrap();
    let want: Vec<f64> = store["w"]
        .data()
        .iter()
        .map(|&x| f64::from(x as f32))
        .collect();
    assert_eq!(loaded["w"].data(), &want[..]);
    assert_eq!(loaded["w"].data()[2], f64::INFINITY);
    assert_eq!(loaded["w"].data()[4].to_bits(), (-0.0f64).to_bits());
    // The default is F64, every bit kept.
    assert_eq!(ParamStore::from_bytes(&store.to_bytes()).unwrap(), store);
}
