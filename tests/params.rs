//! `ParamStore` as a user meets it: names, ids and order; a step on a tape and its gradients;
//! every documented panic; and the safetensors file: bit-exact round trips, what other tools
//! write, and every malformed file returning an `Error` (never a panic, never a half-loaded store).

use safetensors::tensor::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::io::ErrorKind;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use tapegrad::{Error, Op, ParamStore, Tape, Tensor};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A path in the temporary directory, unique to this process and test, removed (with any
/// `.partial-*` file beside it) when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(test: &str) -> TempPath {
        let name = format!("tapegrad-params-{}-{test}.safetensors", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_dir_all(&path);
        TempPath(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// How errors name this file.
    fn shown(&self) -> String {
        self.0.display().to_string()
    }

    /// Files beside this one whose name starts with this one's and `.partial-`.
    fn partials(&self) -> Vec<PathBuf> {
        let prefix = format!("{}.partial-", self.0.file_name().unwrap().to_string_lossy());
        let dir = self.0.parent().unwrap();
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
            })
            .collect()
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
        for partial in self.partials() {
            let _ = std::fs::remove_file(partial);
        }
    }
}

/// The bits of every element, so that NaN payloads and the sign of zero are compared too.
fn bits(t: &Tensor) -> Vec<u64> {
    t.data().iter().map(|x| x.to_bits()).collect()
}

/// Same names in the same order, same shapes, same bits.
#[track_caller]
fn assert_bit_identical(a: &ParamStore, b: &ParamStore) {
    let names = |s: &ParamStore| s.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>();
    assert_eq!(names(a), names(b), "names or their order differ");
    for ((name, x), (_, y)) in a.iter().zip(b.iter()) {
        assert_eq!(x.shape(), y.shape(), "shape of `{name}`");
        assert_eq!(bits(x), bits(y), "bits of `{name}`");
    }
}

/// Runs `f`, failing the test (instead of unwinding from inside tapegrad) if it panics.
#[track_caller]
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(_) => panic!("{what}: tapegrad panicked instead of returning an Error"),
    }
}

/// The reason of an `Error::Format` whose source is `source`; fails on anything else.
#[track_caller]
fn format_reason(result: Result<ParamStore, Error>, source: &str) -> String {
    match result {
        Err(Error::Format { source: s, reason }) => {
            assert_eq!(s, source, "the error names where the bytes came from");
            assert!(!reason.is_empty(), "a Format error says what is wrong");
            reason
        }
        Err(other) => panic!("expected Error::Format, got {other:?}"),
        Ok(store) => panic!("expected Error::Format, got a store: {store:?}"),
    }
}

/// `from_bytes`, proven not to panic, expected to be an `Error::Format`; returns its reason.
#[track_caller]
fn bytes_rejected(bytes: &[u8], what: &str) -> String {
    format_reason(no_panic(what, || ParamStore::from_bytes(bytes)), "bytes")
}

fn f64_bytes(xs: &[f64]) -> Vec<u8> {
    xs.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f32_bytes(xs: &[f32]) -> Vec<u8> {
    xs.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A file from a hand-written JSON header and data, as a hostile or buggy writer might make it.
fn handmade(header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(data);
    bytes
}

/// A tensor of any element type, for writing files tapegrad itself would never write.
struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Raw {
    fn f64(shape: &[usize], xs: &[f64]) -> Raw {
        Raw {
            dtype: Dtype::F64,
            shape: shape.to_vec(),
            bytes: f64_bytes(xs),
        }
    }
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

/// A file written by the safetensors crate itself, with the given metadata.
fn safetensors_file(tensors: &[(&str, Raw)], metadata: &[(&str, &str)]) -> Vec<u8> {
    let metadata = (!metadata.is_empty()).then(|| {
        metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    });
    safetensors::serialize(tensors.iter().map(|(name, raw)| (*name, raw)), metadata).unwrap()
}

/// tapegrad's own metadata, with `order` as given.
fn tapegrad_metadata(order: &str) -> [(&str, &str); 3] {
    [
        ("format", "tapegrad"),
        ("format_version", "2"),
        ("order", order),
    ]
}

/// A store exercising every kind of value the file must carry bit for bit.
fn awkward_store() -> ParamStore {
    let specials = [
        0.0,
        -0.0,
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff8_0000_dead_beef), // quiet NaN with a payload
        f64::from_bits(0xfff0_0000_0000_0001), // signalling NaN, negative
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::from_bits(1), // smallest subnormal, 5e-324
        f64::MIN_POSITIVE / 3.0,
        -f64::MIN_POSITIVE / 7.0,
        1e308,
        -1e308,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        0.1,
        1.0 / 3.0,
    ];
    let mut store = ParamStore::new();
    store.insert("zeta.scalar", -0.0);
    store.insert("alpha.specials", Tensor::from(specials.to_vec()));
    store.insert(
        "mid.cube",
        Tensor::from_fn(&[2, 3, 4], |i| (i as f64 - 11.5) * 0.1 + 1e-17),
    );
    store.insert("empty", Tensor::zeros(&[0]));
    store.insert("empty.rows", Tensor::zeros(&[3, 0]));
    store.insert("nan.scalar", f64::from_bits(0x7ff4_0000_0000_0042));
    store
}

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

#[test]
fn ids_names_and_lookups_follow_insertion_order() {
    let mut store = ParamStore::new();
    assert!(store.is_empty());
    let z = store.insert("z", Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    let a = store.insert("a", 7.0);
    let m = store.insert(String::from("m"), Tensor::from([8.0, 9.0, 10.0, 11.0]));

    assert_eq!([z.index(), a.index(), m.index()], [0, 1, 2]);
    assert_eq!(store.len(), 3);
    assert!(!store.is_empty());
    assert_eq!(store.ids().collect::<Vec<_>>(), [z, a, m]);
    let names: Vec<&str> = store.iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["z", "a", "m"]);

    assert_eq!(store.id("a"), Some(a));
    assert_eq!(store.id("m"), Some(m));
    assert_eq!(store.id("nope"), None);
    assert_eq!(store.id(""), None);
    assert_eq!(store.name(z), "z");
    assert_eq!(store.name(m), "m");

    assert_eq!(store.get("a"), Some(&Tensor::scalar(7.0)));
    assert_eq!(store.get("A"), None, "names are case-sensitive");
    assert_eq!(store[z].shape(), &[2, 3]);
    assert_eq!(store[z].data(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(store["m"].data(), &[8.0, 9.0, 10.0, 11.0]);
    assert_eq!(store[a].shape(), &[] as &[usize]);
    assert_eq!(store[a].item(), 7.0);

    // 6 + 1 (a scalar is one element) + 4.
    assert_eq!(store.num_elements(), 11);

    store.set(a, Tensor::scalar(-1.5));
    store.data_mut(m)[2] = 100.0;
    assert_eq!(store["a"].item(), -1.5);
    assert_eq!(store["m"].data(), &[8.0, 9.0, 100.0, 11.0]);
    assert_eq!(
        store.ids().collect::<Vec<_>>(),
        [z, a, m],
        "writing keeps the order"
    );
}

#[test]
fn summary_is_an_aligned_table_with_the_total() {
    let mut store = ParamStore::new();
    store.insert("encoder.weight", Tensor::zeros(&[3, 4]));
    store.insert("b", 0.0);
    store.insert("poids_é", Tensor::zeros(&[1000]));
    let expected = concat!(
        "parameter       shape   count\n",
        "encoder.weight  [3, 4]     12\n",
        "b               []          1\n",
        "poids_é         [1000]   1000\n",
        "total                    1013\n",
    );
    assert_eq!(store.summary().to_string(), expected);
}

#[test]
fn summary_of_an_empty_store_is_a_header_and_a_zero_total() {
    assert_eq!(
        ParamStore::new().summary().to_string(),
        "parameter  shape  count\ntotal                 0\n"
    );
    assert_eq!(ParamStore::new().num_elements(), 0);
}

#[test]
fn on_tape_gives_this_steps_vars_by_id_and_by_name() {
    let mut store = ParamStore::new();
    let w = store.insert("w", Tensor::from([1.0, -2.0]));
    let b = store.insert("b", 0.5);
    let m = store.insert("m", Tensor::from([[1.0, 2.0]]));

    let tape = Tape::new();
    let p = store.on_tape(&tape);
    assert_eq!(tape.len(), 3, "one leaf per parameter");
    assert_eq!(p[w].id(), p["w"].id());
    assert_eq!(p[b].id(), p["b"].id());
    assert_eq!(p[m].id(), p["m"].id());
    assert_eq!(p[m].value().data(), &[1.0, 2.0]);
    assert_eq!(p["b"].value().item(), 0.5);
    assert_eq!(p.get("b").map(|v| v.id()), Some(p[b].id()));
    assert!(p.get("nope").is_none());
    assert_ne!(p[w].id(), p[b].id());
    for (name, var) in p.iter() {
        assert_eq!(var.op(), Op::Param, "`{name}` is a parameter leaf");
        assert_eq!(var.value(), store[name]);
    }
    let names: Vec<&str> = p.iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["w", "b", "m"]);
    assert!(
        p[w].value().shares_buffer_with(&store[w]),
        "the tape shares the buffer"
    );
}

#[test]
fn grads_are_correct_and_outlive_the_tape() {
    let mut store = ParamStore::new();
    let w = store.insert("w", Tensor::from([1.0, -2.0]));
    let b = store.insert("b", 0.5);
    let unused = store.insert("unused", Tensor::from([[1.0, 2.0, 3.0]]));

    let grads = {
        let tape = Tape::new();
        let p = store.on_tape(&tape);
        let x = tape.constant(Tensor::from([3.0, 4.0]));
        // loss = w·x + b² = 3 − 8 + 0.25
        let loss = (x * p[w]).sum() + p["b"] * p[b];
        assert_eq!(loss.value().item(), -4.75);
        p.grads(&loss.backward())
    }; // the tape is gone; the gradients are not

    assert_eq!(grads.len(), 3);
    assert!(!grads.is_empty());
    assert_eq!(grads[w].shape(), &[2]);
    assert_eq!(grads[w].data(), &[3.0, 4.0]); // ∂/∂w = x
    assert_eq!(grads[b].shape(), &[] as &[usize]);
    assert_eq!(grads[b].item(), 1.0); // ∂/∂b = 2b
    assert_eq!(
        grads[unused].shape(),
        &[1, 3],
        "zeros of the parameter's shape"
    );
    assert_eq!(grads[unused].data(), &[0.0, 0.0, 0.0]);
    assert_eq!(grads.get(unused), None, "no gradient flowed to it");
    let in_order: Vec<Option<Vec<f64>>> = grads.iter().map(|g| g.map(Tensor::to_vec)).collect();
    assert_eq!(in_order, [Some(vec![3.0, 4.0]), Some(vec![1.0]), None]);

    // One SGD step through `update`, which hands each parameter its own gradient and skips
    // the one no gradient flowed to (as PyTorch skips a None .grad).
    let mut seen = Vec::new();
    store.update(&grads, |id, value, grad| {
        seen.push(id);
        for (v, g) in value.iter_mut().zip(grad) {
            *v -= 0.5 * g;
        }
    });
    assert_eq!(seen, [w, b]);
    assert_eq!(store[w].data(), &[-0.5, -4.0]);
    assert_eq!(store[b].item(), 0.0);
    assert_eq!(store[unused].data(), &[1.0, 2.0, 3.0]);
}

#[test]
fn grads_of_an_empty_store_are_empty() {
    let store = ParamStore::new();
    let tape = Tape::new();
    let p = store.on_tape(&tape);
    let out = tape.param(2.0) * tape.param(3.0);
    let grads = p.grads(&out.backward());
    assert!(grads.is_empty());
    assert_eq!(grads.len(), 0);
    assert_eq!(p.iter().len(), 0);
}

#[test]
#[should_panic(expected = "ParamStore::insert: the store already holds a parameter `w`")]
fn insert_panics_on_a_duplicate_name() {
    let mut store = ParamStore::new();
    store.insert("w", 1.0);
    store.insert("w", 2.0);
}

#[test]
fn a_rejected_duplicate_insert_leaves_the_store_unchanged() {
    let mut store = ParamStore::new();
    store.insert("w", Tensor::from([1.0, 2.0]));
    store.insert("b", 3.0);
    let before = store.clone();
    let result = catch_unwind(AssertUnwindSafe(|| store.insert("w", 9.0)));
    assert!(result.is_err(), "a duplicate name panics");
    assert_bit_identical(&store, &before);
}

#[test]
#[should_panic(expected = "ParamStore::insert: a parameter name must not be empty")]
fn insert_panics_on_an_empty_name() {
    ParamStore::new().insert("", 1.0);
}

#[test]
#[should_panic(
    expected = "ParamStore::insert: the parameter name \"fc1\\nweight\" contains a control character"
)]
fn insert_panics_on_a_newline_in_a_name() {
    ParamStore::new().insert("fc1\nweight", 1.0);
}

#[test]
fn insert_panics_on_every_kind_of_control_character() {
    for name in [
        "a\tb",
        "\r",
        "x\0",
        "del\u{7f}",
        "nel\u{85}",
        "esc\u{1b}[0m",
    ] {
        let mut store = ParamStore::new();
        let panicked = catch_unwind(AssertUnwindSafe(|| store.insert(name, 1.0))).is_err();
        assert!(panicked, "{name:?} was accepted");
        assert!(store.is_empty(), "{name:?} was added before the panic");
    }
}

#[test]
#[should_panic(expected = "ParamStore::insert: `__metadata__` is reserved by the file format")]
fn insert_panics_on_the_reserved_name() {
    ParamStore::new().insert("__metadata__", 1.0);
}

#[test]
#[should_panic(expected = "ParamStore: no parameter called `nope`")]
fn indexing_the_store_by_an_unknown_name_panics() {
    let mut store = ParamStore::new();
    store.insert("w", 1.0);
    let _ = &store["nope"];
}

#[test]
#[should_panic(expected = "Params: no parameter called `nope`")]
fn indexing_params_by_an_unknown_name_panics() {
    let mut store = ParamStore::new();
    store.insert("w", 1.0);
    let tape = Tape::new();
    let p = store.on_tape(&tape);
    let _ = p["nope"];
}

#[test]
#[should_panic(expected = "ParamStore: parameter id 0 belongs to another store")]
fn indexing_by_an_id_of_another_store_panics() {
    // Same names, same shapes, same position: still another store's parameter.
    let mut a = ParamStore::new();
    let w_of_a = a.insert("w", 1.0);
    let mut b = ParamStore::new();
    b.insert("w", 2.0);
    let _ = &b[w_of_a];
}

#[test]
#[should_panic(expected = "ParamStore: parameter id 1 belongs to another store")]
fn naming_an_id_of_a_bigger_store_panics() {
    let mut big = ParamStore::new();
    big.insert("a", 1.0);
    let b = big.insert("b", 2.0);
    let mut small = ParamStore::new();
    small.insert("a", 1.0);
    small.name(b);
}

#[test]
#[should_panic(expected = "ParamStore: parameter id 1 is not in this store of 1 parameters")]
fn an_id_of_a_clone_that_grew_panics_in_the_original() {
    let mut store = ParamStore::new();
    store.insert("a", 1.0);
    let mut grown = store.clone();
    let b = grown.insert("b", 2.0);
    let _ = &store[b];
}

#[test]
fn ids_work_on_clones_and_after_load_into() {
    let mut store = ParamStore::new();
    let w = store.insert("w", Tensor::from([1.0, 2.0]));
    let snapshot = store.clone();
    assert_eq!(snapshot[w], store[w]);
    let path =
        std::env::temp_dir().join(format!("tapegrad-ids-{}.safetensors", std::process::id()));
    let mut saved = store.clone();
    saved.set(w, Tensor::from([5.0, 6.0]));
    saved.save(&path).unwrap();
    store.load_into(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(store[w].data(), &[5.0, 6.0]);
}

#[test]
fn equality_is_in_order() {
    let mut ab = ParamStore::new();
    ab.insert("a", 1.0);
    ab.insert("b", 2.0);
    let mut ba = ParamStore::new();
    ba.insert("b", 2.0);
    ba.insert("a", 1.0);
    assert_ne!(ab, ba, "ids are positions, so order is part of a store");
    assert_eq!(ab, ab.clone());
}

#[test]
fn save_and_load_round_trip_bit_for_bit() {
    let file = TempPath::new("round_trip");
    let store = awkward_store();
    store.save(file.path()).unwrap();
    let loaded = ParamStore::load(file.path()).unwrap();
    assert_bit_identical(&loaded, &store);
    // Spot checks, in case both sides were wrong the same way.
    assert_eq!(loaded["zeta.scalar"].item().to_bits(), (-0.0f64).to_bits());
    assert_eq!(loaded["nan.scalar"].item().to_bits(), 0x7ff4_0000_0000_0042);
    assert_eq!(loaded["empty.rows"].shape(), &[3, 0]);
    assert_eq!(loaded["mid.cube"].shape(), &[2, 3, 4]);
    assert!(
        file.partials().is_empty(),
        "a .partial file was left behind"
    );
}

#[test]
fn to_bytes_and_from_bytes_round_trip_bit_for_bit() {
    let store = awkward_store();
    let loaded = ParamStore::from_bytes(&store.to_bytes()).unwrap();
    assert_bit_identical(&loaded, &store);
}

#[test]
fn saving_the_same_store_always_gives_the_same_bytes() {
    let store = awkward_store();
    let first = store.to_bytes();
    for _ in 0..20 {
        assert_eq!(store.to_bytes(), first, "to_bytes is not deterministic");
    }
    let reloaded = ParamStore::from_bytes(&first).unwrap();
    assert_eq!(
        reloaded.to_bytes(),
        first,
        "load then save changed the file"
    );
}

#[test]
fn save_writes_the_documented_safetensors_layout() {
    let mut store = ParamStore::new();
    store.insert("z", Tensor::from([[1.0, 2.0], [3.0, 4.0]]));
    store.insert("a", -0.5);
    let bytes = store.to_bytes();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    assert_eq!(
        header_len % 8,
        0,
        "the data is 8-byte aligned, as safetensors writes it"
    );
    assert_eq!(bytes.len() as u64, 8 + header_len + 5 * 8);

    // What any safetensors reader (PyTorch, candle, ...) sees.
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = file.names();
    names.sort();
    assert_eq!(names, ["a", "z"]);
    let z = file.tensor("z").unwrap();
    assert_eq!(z.dtype(), Dtype::F64);
    assert_eq!(z.shape(), &[2, 2]);
    assert_eq!(z.data(), f64_bytes(&[1.0, 2.0, 3.0, 4.0]).as_slice());
    let a = file.tensor("a").unwrap();
    assert_eq!(a.dtype(), Dtype::F64);
    assert_eq!(a.shape(), &[] as &[usize]);
    assert_eq!(a.data(), (-0.5f64).to_le_bytes().as_slice());

    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = header.metadata().clone().unwrap();
    assert_eq!(metadata.len(), 3, "{metadata:?}");
    assert_eq!(metadata["format"], "tapegrad");
    assert_eq!(metadata["format_version"], "2");
    assert_eq!(metadata["order"], "z\na");
}

#[test]
fn insertion_order_survives_even_when_not_alphabetical() {
    let names = [
        "zeta", "alpha", "Mu", "beta.10", "beta.2", "beta.1", "_", "0",
    ];
    let mut store = ParamStore::new();
    for (i, name) in names.iter().enumerate() {
        store.insert(*name, Tensor::full(&[i + 1], i as f64));
    }
    let file = TempPath::new("insertion_order");
    store.save(file.path()).unwrap();
    let loaded = ParamStore::load(file.path()).unwrap();
    let loaded_names: Vec<&str> = loaded.iter().map(|(n, _)| n).collect();
    assert_eq!(loaded_names, names);
    assert_bit_identical(&loaded, &store);
    for (i, name) in names.iter().enumerate() {
        assert_eq!(loaded.id(name).unwrap().index(), i);
    }
}

#[test]
fn unicode_and_punctuation_in_names_round_trip() {
    let names = [
        "权重",
        "poids.é",
        "🦀.bias",
        "name with spaces",
        "quote\"and\\backslash",
        "{\"json\": [1]}",
        "line\u{2028}separator", // not a control character, and not a newline for `order`
        "Ω",
    ];
    let mut store = ParamStore::new();
    for (i, name) in names.iter().enumerate() {
        store.insert(*name, i as f64 - 0.25);
    }
    let file = TempPath::new("unicode_names");
    store.save(file.path()).unwrap();
    assert_bit_identical(&ParamStore::load(file.path()).unwrap(), &store);
    assert_bit_identical(&ParamStore::from_bytes(&store.to_bytes()).unwrap(), &store);
}

#[test]
fn an_empty_store_round_trips() {
    let empty = ParamStore::new();
    let loaded = ParamStore::from_bytes(&empty.to_bytes()).unwrap();
    assert!(loaded.is_empty());
    let file = TempPath::new("empty_store");
    empty.save(file.path()).unwrap();
    let loaded = ParamStore::load(file.path()).unwrap();
    assert!(loaded.is_empty());
    assert_eq!(loaded, empty);
}

#[test]
fn a_safetensors_file_of_no_tensors_is_an_empty_store() {
    let store = ParamStore::from_bytes(b"\x02\0\0\0\0\0\0\0{}").unwrap();
    assert!(store.is_empty());
}

#[test]
fn saving_over_an_existing_file_replaces_it() {
    let file = TempPath::new("save_over");
    std::fs::write(
        file.path(),
        b"an older, longer file that was here before the save",
    )
    .unwrap();
    let mut first = ParamStore::new();
    first.insert("w", Tensor::from([1.0, 2.0, 3.0]));
    first.insert("b", 4.0);
    first.save(file.path()).unwrap();
    assert_bit_identical(&ParamStore::load(file.path()).unwrap(), &first);

    let mut second = ParamStore::new();
    second.insert("other", Tensor::from([[5.0]]));
    second.save(file.path()).unwrap();
    assert_bit_identical(&ParamStore::load(file.path()).unwrap(), &second);
    assert_eq!(std::fs::read(file.path()).unwrap(), second.to_bytes());
    assert!(
        file.partials().is_empty(),
        "a .partial file was left behind"
    );
}

#[test]
fn a_failed_save_is_an_io_error_and_leaves_no_partial_file() {
    // Into a directory that does not exist.
    let dir = TempPath::new("save_missing_dir");
    let target = dir.path().join("model.safetensors");
    match ParamStore::new().save(&target) {
        Err(Error::Io { path, kind, .. }) => {
            assert_eq!(path, target.display().to_string());
            assert_eq!(kind, ErrorKind::NotFound);
        }
        other => panic!("expected Error::Io, got {other:?}"),
    }

    // Over a directory: the write beside it succeeds, the rename cannot.
    let file = TempPath::new("save_over_dir");
    std::fs::create_dir(file.path()).unwrap();
    let mut store = ParamStore::new();
    store.insert("w", 1.0);
    match store.save(file.path()) {
        Err(Error::Io { path, message, .. }) => {
            assert_eq!(path, file.shown());
            assert!(!message.is_empty());
        }
        other => panic!("expected Error::Io, got {other:?}"),
    }
    assert!(file.path().is_dir(), "the directory is untouched");
    assert!(
        file.partials().is_empty(),
        "a .partial file was left behind"
    );
}

// ---------------------------------------------------------------------------------------------
// Malformed files: always an Error, never a panic
// ---------------------------------------------------------------------------------------------

#[test]
fn every_truncation_of_a_valid_file_is_a_format_error() {
    let bytes = awkward_store().to_bytes();
    assert!(ParamStore::from_bytes(&bytes).is_ok());
    for len in 0..bytes.len() {
        bytes_rejected(&bytes[..len], &format!("truncated to {len} bytes"));
    }
    // And one byte too many.
    let mut longer = bytes.clone();
    longer.push(0);
    bytes_rejected(&longer, "one trailing byte");
}

#[test]
fn a_truncated_file_on_disk_is_a_format_error_naming_the_file() {
    let bytes = awkward_store().to_bytes();
    let file = TempPath::new("truncated_file");
    for len in [1, 7, 8, 9, 40, bytes.len() - 8, bytes.len() - 1] {
        std::fs::write(file.path(), &bytes[..len]).unwrap();
        let result = no_panic("load", || ParamStore::load(file.path()));
        format_reason(result, &file.shown());
    }
}

#[test]
fn an_empty_file_is_a_format_error() {
    let file = TempPath::new("empty_file");
    std::fs::write(file.path(), b"").unwrap();
    let reason = format_reason(ParamStore::load(file.path()), &file.shown());
    assert!(reason.contains("header too small"), "{reason}");
    bytes_rejected(&[], "no bytes");
}

#[test]
fn garbage_is_a_format_error() {
    bytes_rejected(b"this is not a safetensors file at all", "text");
    bytes_rejected(&[0xff; 64], "all ones");
    bytes_rejected(&[0; 64], "all zeros");
    bytes_rejected(b"\x02\0\0\0\0\0\0\0[]", "a JSON array");
    // A deterministic stream of pseudo-random bytes, at several lengths.
    let mut state = 0x1234_5678_9abc_def0u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    for len in [8, 9, 100, 4096] {
        bytes_rejected(&noise[..len], &format!("{len} random bytes"));
    }
}

#[test]
fn a_header_length_beyond_the_file_is_a_format_error() {
    let bytes = awkward_store().to_bytes();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    for claimed in [
        header_len + 1,
        bytes.len() as u64,
        bytes.len() as u64 - 7,
        1 << 20,
        100_000_001,
        u32::MAX as u64,
        u64::MAX,
    ] {
        let mut lying = bytes.clone();
        lying[..8].copy_from_slice(&claimed.to_le_bytes());
        bytes_rejected(&lying, &format!("header length {claimed}"));
    }
}

#[test]
fn a_header_that_is_not_utf8_is_a_format_error() {
    let header = b"{\"w\xff\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]}}";
    let reason = bytes_rejected(&handmade(header, &f64_bytes(&[1.0])), "non-UTF-8");
    assert!(reason.contains("UTF-8"), "{reason}");
}

#[test]
fn a_header_that_is_not_valid_json_is_a_format_error() {
    let data = f64_bytes(&[1.0]);
    let headers: [&str; 12] = [
        "",
        "{",
        "[1, 2]",
        "null",
        r#"{"w":{"dtype":"F64","shape":[],"data_offsets":[0,8]}"#,
        r#"{"w":{"dtype":"F64","shape":[],"data_offsets":[0,8]}},"#,
        r#"{"w":{"dtype":"F64","shape":[]}}"#,
        r#"{"w":{"dtype":"X64","shape":[],"data_offsets":[0,8]}}"#,
        r#"{"w":{"dtype":"F64","shape":[-1],"data_offsets":[0,8]}}"#,
        r#"{"w":{"dtype":"F64","shape":"[]","data_offsets":[0,8]}}"#,
        r#"{"w":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"__metadata__":{"order":1}}"#,
        r#"{"w":[1.0]}"#,
    ];
    for header in headers {
        bytes_rejected(&handmade(header.as_bytes(), &data), header);
    }
}

#[test]
fn offsets_that_do_not_match_the_data_are_a_format_error() {
    let headers: [(&str, usize); 6] = [
        // Says 2 elements, holds 1.
        (
            r#"{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}"#,
            8,
        ),
        // A gap before the first tensor.
        (
            r#"{"w":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}"#,
            16,
        ),
        // End before start.
        (
            r#"{"w":{"dtype":"F64","shape":[1],"data_offsets":[8,0]}}"#,
            8,
        ),
        // Two tensors over the same bytes.
        (
            r#"{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#,
            8,
        ),
        // Data beyond the last tensor.
        (
            r#"{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#,
            16,
        ),
        // A shape whose element count overflows.
        (
            r#"{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#,
            8,
        ),
    ];
    for (header, data_len) in headers {
        bytes_rejected(&handmade(header.as_bytes(), &vec![0; data_len]), header);
    }
}

#[test]
fn an_unsupported_element_type_is_a_format_error_naming_it() {
    let file = safetensors_file(
        &[
            ("w", Raw::f64(&[2], &[1.0, 2.0])),
            (
                "ids",
                Raw {
                    dtype: Dtype::I32,
                    shape: vec![3],
                    bytes: [1i32, 2, 3].iter().flat_map(|x| x.to_le_bytes()).collect(),
                },
            ),
        ],
        &tapegrad_metadata("w\nids"),
    );
    let reason = bytes_rejected(&file, "I32");
    assert_eq!(
        reason,
        "`ids` holds I32; tapegrad reads F64, F32, F16 and BF16"
    );

    for (dtype, size) in [
        (Dtype::F8_E4M3, 1),
        (Dtype::I64, 8),
        (Dtype::U8, 1),
        (Dtype::BOOL, 1),
    ] {
        let file = safetensors_file(
            &[(
                "t",
                Raw {
                    dtype,
                    shape: vec![2],
                    bytes: vec![0; 2 * size],
                },
            )],
            &[],
        );
        let reason = bytes_rejected(&file, &format!("{dtype:?}"));
        assert!(reason.contains(&format!("{dtype:?}")), "{reason}");
    }
}

/// Version 1 files were written when layers held `[in, out]` weights: they read as tensors,
/// but do not load into a model, where a square layer would load transposed without a word.
#[test]
fn a_version_1_file_reads_but_does_not_load_into_a_model() {
    let square = [("fc.weight", Raw::f64(&[2, 2], &[1.0, 2.0, 3.0, 4.0]))];
    let v1 = [
        ("format", "tapegrad"),
        ("format_version", "1"),
        ("order", "fc.weight"),
    ];
    let bytes = safetensors_file(&square, &v1);
    assert_eq!(
        ParamStore::from_bytes(&bytes).unwrap()["fc.weight"].shape(),
        &[2, 2]
    );
    let file = TempPath::new("version_1");
    std::fs::write(file.path(), &bytes).unwrap();
    let mut store = ParamStore::new();
    store.insert("fc.weight", Tensor::zeros(&[2, 2]));
    let reason = format_reason(
        store.load_into(file.path()).map(|()| store.clone()),
        &file.shown(),
    );
    assert!(
        reason.starts_with("a tapegrad file of format version 1, written when nn::Linear"),
        "{reason}"
    );
    assert_eq!(store["fc.weight"], Tensor::zeros(&[2, 2]), "nothing loaded");
}

#[test]
fn a_later_format_version_is_refused() {
    let tensors = [("w", Raw::f64(&[1], &[1.0]))];
    for version in ["3", "1.1", "", "01", "02"] {
        let file = safetensors_file(
            &tensors,
            &[
                ("format", "tapegrad"),
                ("format_version", version),
                ("order", "w"),
            ],
        );
        let reason = bytes_rejected(&file, version);
        assert_eq!(
            reason,
            format!(
                "a tapegrad file of format version {version}; this tapegrad reads versions 1 and 2"
            )
        );
    }
    // Version 2 itself loads: the refusal is about the version, not the file.
    let file = safetensors_file(&tensors, &tapegrad_metadata("w"));
    assert_eq!(ParamStore::from_bytes(&file).unwrap()["w"].data(), &[1.0]);
    // Another tool's `format_version` is not tapegrad's business.
    let file = safetensors_file(&tensors, &[("format", "pt"), ("format_version", "7")]);
    assert_eq!(ParamStore::from_bytes(&file).unwrap()["w"].data(), &[1.0]);
}

#[test]
fn an_order_that_does_not_list_each_name_once_is_a_format_error() {
    let tensors = [
        ("a", Raw::f64(&[1], &[1.0])),
        ("b", Raw::f64(&[2], &[2.0, 3.0])),
    ];
    let cases = [
        ("a\nb\nc", "`c`"),  // an unknown name
        ("b\nc", "`c`"),     // one swapped for an unknown one
        ("a", "`b`"),        // omits a name
        ("", "`"),           // omits every name
        ("a\na\nb", "`a`"),  // repeats one
        ("a\nb\n", "`"),     // an empty name at the end
        ("a\r\nb", "`a\r`"), // Windows line ends are not tapegrad's
    ];
    for (order, named) in cases {
        let file = safetensors_file(&tensors, &tapegrad_metadata(order));
        let reason = bytes_rejected(&file, &format!("order {order:?}"));
        assert!(reason.contains(named), "order {order:?}: {reason}");
        assert!(reason.contains("order"), "order {order:?}: {reason}");
    }
    // The same tensors with a valid order load in that order, whatever the byte order is.
    let file = safetensors_file(&tensors, &tapegrad_metadata("b\na"));
    let loaded = ParamStore::from_bytes(&file).unwrap();
    let names: Vec<&str> = loaded.iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["b", "a"]);
}

#[test]
fn a_tensor_name_tapegrad_cannot_hold_is_a_format_error() {
    for name in ["", "a\nb", "tab\there", "\u{1}"] {
        let file = safetensors_file(&[(name, Raw::f64(&[1], &[1.0]))], &[]);
        let reason = bytes_rejected(&file, &format!("name {name:?}"));
        assert!(
            reason.contains("empty") || reason.contains("control character"),
            "{reason}"
        );
    }
}

#[test]
fn an_empty_tensor_with_huge_dimensions_does_not_panic() {
    // Zero elements, so no data, but dimensions whose strides would overflow.
    let header =
        r#"{"w":{"dtype":"F64","shape":[0,1099511627776,1099511627776],"data_offsets":[0,0]}}"#;
    let store = no_panic("huge empty", || {
        ParamStore::from_bytes(&handmade(header.as_bytes(), &[]))
    })
    .unwrap();
    assert_eq!(store.num_elements(), 0);
    assert_eq!(store["w"].shape(), &[0, 1 << 40, 1 << 40]);
    assert!(
        store
            .summary()
            .to_string()
            .contains("[0, 1099511627776, 1099511627776]")
    );
    assert_bit_identical(&ParamStore::from_bytes(&store.to_bytes()).unwrap(), &store);
}

#[test]
fn a_missing_file_is_an_io_error_not_found() {
    let file = TempPath::new("missing_file");
    match ParamStore::load(file.path()) {
        Err(Error::Io {
            path,
            kind,
            message,
        }) => {
            assert_eq!(path, file.shown());
            assert_eq!(kind, ErrorKind::NotFound);
            assert!(!message.is_empty());
        }
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

#[test]
fn a_directory_is_an_io_error() {
    let dir = TempPath::new("load_dir");
    std::fs::create_dir(dir.path()).unwrap();
    match ParamStore::load(dir.path()) {
        Err(Error::Io { path, .. }) => assert_eq!(path, dir.shown()),
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Files from other tools
// ---------------------------------------------------------------------------------------------

/// A PyTorch-style file: no tapegrad metadata, F32 and F64, the JSON keys in neither byte nor
/// alphabetical order.
fn plain_file(metadata: &str) -> (Vec<u8>, [f32; 4], [f64; 2], f32) {
    let weight = [0.1f32, -0.0, f32::from_bits(1), f32::MAX];
    let bias = [1e308, -2.5];
    let step = 3.0e-39f32; // subnormal in f32
    let header = format!(
        r#"{{{metadata}"bias":{{"dtype":"F64","shape":[2],"data_offsets":[16,32]}},"weight":{{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}},"step":{{"dtype":"F32","shape":[],"data_offsets":[32,36]}}}}"#
    );
    let mut data = f32_bytes(&weight);
    data.extend(f64_bytes(&bias));
    data.extend(f32_bytes(&[step]));
    (handmade(header.as_bytes(), &data), weight, bias, step)
}

#[test]
fn a_plain_safetensors_file_loads_in_byte_order_with_f32_widened_exactly() {
    for metadata in ["", r#""__metadata__":{"format":"pt"},"#] {
        let (bytes, weight, bias, step) = plain_file(metadata);
        let file = TempPath::new("plain_safetensors");
        std::fs::write(file.path(), &bytes).unwrap();
        let store = ParamStore::load(file.path()).unwrap();

        let names: Vec<&str> = store.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias", "step"], "the file's byte order");
        assert_eq!(store["weight"].shape(), &[2, 2]);
        let widened: Vec<u64> = weight.iter().map(|&x| f64::from(x).to_bits()).collect();
        assert_eq!(bits(&store["weight"]), widened);
        assert_eq!(store["weight"].data()[0], 0.10000000149011612);
        assert_eq!(store["weight"].data()[1].to_bits(), (-0.0f64).to_bits());
        assert_eq!(store["weight"].data()[2], 2f64.powi(-149));
        assert_eq!(store["weight"].data()[3], 3.4028234663852886e38);
        assert_eq!(bits(&store["bias"]), bias.map(f64::to_bits));
        assert_eq!(store["step"].shape(), &[] as &[usize]);
        assert_eq!(store["step"].item(), f64::from(step));

        // Saved again, it is a tapegrad file (all F64) that loads identically.
        assert_bit_identical(&ParamStore::from_bytes(&store.to_bytes()).unwrap(), &store);
    }
}

#[test]
fn a_file_written_by_the_safetensors_crate_without_metadata_loads() {
    let bytes = safetensors_file(
        &[
            (
                "layer.weight",
                Raw::f64(&[2, 2], &[1.0, -2.0, 3.0, f64::MIN]),
            ),
            (
                "layer.bias",
                Raw {
                    dtype: Dtype::F32,
                    shape: vec![2],
                    bytes: f32_bytes(&[0.5, -1e-40]),
                },
            ),
        ],
        &[],
    );
    let store = ParamStore::from_bytes(&bytes).unwrap();
    assert_eq!(store.len(), 2);
    assert_eq!(store["layer.weight"].data(), &[1.0, -2.0, 3.0, f64::MIN]);
    assert_eq!(
        bits(&store["layer.bias"]),
        [f64::from(0.5f32).to_bits(), f64::from(-1e-40f32).to_bits()]
    );
}

// ---------------------------------------------------------------------------------------------
// load_into: all or nothing
// ---------------------------------------------------------------------------------------------

/// The model the checkpoints below are loaded into.
fn model() -> ParamStore {
    let mut store = ParamStore::new();
    store.insert("fc.weight", Tensor::from([[1.0, 2.0], [3.0, 4.0]]));
    store.insert("fc.bias", Tensor::from([0.5, -0.5]));
    store.insert("scale", 2.0);
    store
}

/// A checkpoint of `model()` with other values, with names in another order.
fn checkpoint() -> ParamStore {
    let mut store = ParamStore::new();
    store.insert("scale", -0.0);
    store.insert("fc.bias", Tensor::from([f64::NAN, 1e-310]));
    store.insert("fc.weight", Tensor::from([[5.0, 6.0], [7.0, 8.0]]));
    store
}

#[test]
fn load_into_replaces_every_value_and_keeps_the_stores_order() {
    let file = TempPath::new("load_into_ok");
    checkpoint().save(file.path()).unwrap();
    let mut store = model();
    let ids: Vec<_> = store.ids().collect();
    store.load_into(file.path()).unwrap();

    let names: Vec<&str> = store.iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["fc.weight", "fc.bias", "scale"],
        "the store's order"
    );
    assert_eq!(store.ids().collect::<Vec<_>>(), ids, "ids stay valid");
    let source = checkpoint();
    for (name, value) in store.iter() {
        assert_eq!(value.shape(), source[name].shape());
        assert_eq!(bits(value), bits(&source[name]), "`{name}`");
    }
}

/// Runs `load_into` on a copy of `model()` and checks it failed with `Error::Mismatch` and left
/// the store exactly as it was; returns the error.
#[track_caller]
fn load_into_mismatch(file: &TempPath, checkpoint: &ParamStore) -> Error {
    checkpoint.save(file.path()).unwrap();
    let mut store = model();
    let before = store.clone();
    let error = no_panic("load_into", || store.load_into(file.path())).unwrap_err();
    assert_bit_identical(&store, &before);
    error
}

#[test]
fn load_into_a_file_missing_a_name_changes_nothing() {
    let file = TempPath::new("load_into_missing");
    let mut partial = ParamStore::new();
    partial.insert("fc.weight", Tensor::from([[5.0, 6.0], [7.0, 8.0]]));
    partial.insert("scale", 3.0);
    let error = load_into_mismatch(&file, &partial);
    match &error {
        Error::Mismatch {
            source,
            name,
            expected,
            found,
        } => {
            assert_eq!(source, &file.shown());
            assert_eq!(name, "fc.bias");
            assert_eq!(expected.as_deref(), Some(&[2][..]));
            assert_eq!(found, &None);
        }
        other => panic!("expected Error::Mismatch, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        format!(
            "{}: parameter `fc.bias` is missing from the file",
            file.shown()
        )
    );
}

#[test]
fn load_into_a_file_with_an_extra_name_changes_nothing() {
    let file = TempPath::new("load_into_extra");
    let mut extra = checkpoint();
    extra.insert("fc2.weight", Tensor::zeros(&[2, 3]));
    let error = load_into_mismatch(&file, &extra);
    match &error {
        Error::Mismatch {
            name,
            expected,
            found,
            ..
        } => {
            assert_eq!(name, "fc2.weight");
            assert_eq!(expected, &None);
            assert_eq!(found.as_deref(), Some(&[2, 3][..]));
        }
        other => panic!("expected Error::Mismatch, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        format!(
            "{}: parameter `fc2.weight` is not in the store",
            file.shown()
        )
    );
}

#[test]
fn load_into_a_file_with_another_shape_changes_nothing() {
    let file = TempPath::new("load_into_shape");
    // The first two parameters fit; only the last does not, so a loader that wrote as it went
    // would have changed them.
    let mut reshaped = ParamStore::new();
    reshaped.insert("fc.weight", Tensor::from([[5.0, 6.0], [7.0, 8.0]]));
    reshaped.insert("fc.bias", Tensor::from([9.0, 9.0]));
    reshaped.insert("scale", Tensor::from([2.0])); // [1], not a scalar
    let error = load_into_mismatch(&file, &reshaped);
    match &error {
        Error::Mismatch {
            name,
            expected,
            found,
            ..
        } => {
            assert_eq!(name, "scale");
            assert_eq!(expected.as_deref(), Some(&[][..]));
            assert_eq!(found.as_deref(), Some(&[1][..]));
        }
        other => panic!("expected Error::Mismatch, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        format!(
            "{}: parameter `scale` has shape [1] in the file but [] in the store",
            file.shown()
        )
    );

    // The same number of elements in another shape is still another shape.
    let mut flat = ParamStore::new();
    flat.insert("fc.weight", Tensor::zeros(&[1, 4]));
    flat.insert("fc.bias", Tensor::zeros(&[2]));
    flat.insert("scale", 0.0);
    let error = load_into_mismatch(&file, &flat);
    assert!(
        matches!(&error, Error::Mismatch { name, .. } if name == "fc.weight"),
        "{error:?}"
    );
}

#[test]
fn load_into_a_bad_or_missing_file_changes_nothing() {
    let file = TempPath::new("load_into_bad");
    let mut store = model();
    let before = store.clone();

    match store.load_into(file.path()) {
        Err(Error::Io { kind, .. }) => assert_eq!(kind, ErrorKind::NotFound),
        other => panic!("expected Error::Io, got {other:?}"),
    }
    assert_bit_identical(&store, &before);

    let bytes = checkpoint().to_bytes();
    std::fs::write(file.path(), &bytes[..bytes.len() - 1]).unwrap();
    match no_panic("load_into", || store.load_into(file.path())) {
        Err(Error::Format { source, .. }) => assert_eq!(source, file.shown()),
        other => panic!("expected Error::Format, got {other:?}"),
    }
    assert_bit_identical(&store, &before);
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

#[test]
fn errors_read_well() {
    let file = safetensors_file(
        &[("w", Raw::f64(&[1], &[1.0]))],
        &[
            ("format", "tapegrad"),
            ("format_version", "3"),
            ("order", "w"),
        ],
    );
    assert_eq!(
        ParamStore::from_bytes(&file).unwrap_err().to_string(),
        "bytes: cannot read it as a parameter file: a tapegrad file of format version 3; this tapegrad reads versions 1 and 2"
    );

    let missing = TempPath::new("errors_read_well");
    let error = ParamStore::load(missing.path()).unwrap_err();
    let Error::Io { message, .. } = &error else {
        panic!("expected Error::Io, got {error:?}");
    };
    assert_eq!(error.to_string(), format!("{}: {message}", missing.shown()));
    if cfg!(unix) {
        assert!(
            message.starts_with("No such file or directory"),
            "{message}"
        );
    }

    let error = ParamStore::from_bytes(b"").unwrap_err();
    assert_eq!(
        error.to_string(),
        "bytes: cannot read it as a parameter file: header too small"
    );
}

#[test]
fn parameters_on_a_tape_carry_their_names() {
    let mut store = ParamStore::new();
    store.insert("fc.weight", Tensor::from([[1.0]]));
    let tape = Tape::new();
    let p = store.on_tape(&tape);
    assert_eq!(p["fc.weight"].name(), "fc.weight");
    assert!(tape.to_dot(None).contains("fc.weight"));
}
