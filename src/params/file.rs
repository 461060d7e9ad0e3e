//! Parameter files: [`ParamStore::save`] and [`ParamStore::load`] in the safetensors format,
//! with [`FileOptions`](super::FileOptions) for the element type and for renaming.
//!
//! safetensors is what PyTorch, candle and tinygrad read and write, and tapegrad's layers hold
//! PyTorch's layout and names, so a model saved here loads into the PyTorch module of the same
//! structure with `load_state_dict(strict=True)`, and a PyTorch `state_dict` saved with
//! `safetensors.torch.save_file` loads here. tapegrad writes every tensor as `F64` (or `F32` on
//! request) and adds three metadata entries to the header:
//!
//! | key | value |
//! |---|---|
//! | `format` | `tapegrad` |
//! | `format_version` | `2` (a later tapegrad that changes the layout bumps it, and this one refuses it; version `1` files, from before layers took PyTorch's layout, read as tensors but do not load into a model) |
//! | `order` | the parameter names in insertion order, one per line (safetensors sorts by name) |
//!
//! Reading accepts any safetensors file of `F64`, `F32`, `F16` or `BF16` tensors, each widened
//! to f64 exactly; one without tapegrad's metadata loads in the file's byte order. Every failure
//! is an [`Error`], never a panic, and a failed load changes nothing.

use super::ParamStore;
use super::format::{self, Decoded, RESERVED};
use super::options::{FileOptions, renamed};
use crate::error::Error;
use crate::tensor::Tensor;
use indexmap::IndexMap;
use std::path::Path;

const FORMAT: &str = "tapegrad";
/// Version 2: layers hold PyTorch's `[out, in]` weights. Version 1 files (tapegrad's layers
/// held `[in, out]`) still read as tensors, but do not load into a model (`load_into`), where a
/// square layer's weight would load transposed without a word.
const FORMAT_VERSION: &str = "2";
const LEGACY_VERSION: &str = "1";
/// The prefix of a checkpoint's optimizer tensors, which a parameter load skips.
pub(crate) const OPTIMIZER_PREFIX: &str = "__optimizer__/";

/// Why `name` cannot name a parameter, if it cannot: [`check_name`], and the prefix of a
/// checkpoint's optimizer tensors, which a load would skip.
pub(super) fn check_param_name(name: &str) -> Result<(), String> {
    check_name(name)?;
    if name.starts_with(OPTIMIZER_PREFIX) {
        return Err(format!(
            "the prefix `{OPTIMIZER_PREFIX}` of {name:?} is reserved for checkpoints"
        ));
    }
    Ok(())
}

/// Why `name` cannot name a tensor in a file, if it cannot.
pub(super) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("a parameter name must not be empty".into())
    } else if name == RESERVED {
        Err(format!("`{RESERVED}` is reserved by the file format"))
    } else if name.chars().any(char::is_control) {
        Err(format!(
            "the parameter name {name:?} contains a control character"
        ))
    } else {
        Ok(())
    }
}

impl ParamStore {
    /// The store as the bytes of a safetensors file (see [`save`](Self::save)). The same store
    /// always gives the same bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_bytes_with(&FileOptions::new())
            .expect("the store's own names are valid and distinct")
    }

    /// The store as the bytes of a safetensors file written with `options`.
    ///
    /// # Errors
    ///
    /// [`Error::Rename`] if the renaming gives a name no parameter may have, or one name to two
    /// parameters.
    pub fn to_bytes_with(&self, options: &FileOptions<'_>) -> Result<Vec<u8>, Error> {
        self.encode_with(options, &[], &[])
    }

    /// The file's bytes: the parameters renamed by `options`, then `extra` tensors (a
    /// checkpoint's optimizer state) and `metadata` entries after tapegrad's own.
    pub(crate) fn encode_with(
        &self,
        options: &FileOptions<'_>,
        extra: &[(String, Tensor)],
        metadata: &[(&str, String)],
    ) -> Result<Vec<u8>, Error> {
        let tensors =
            renamed(self.iter(), |name| options.to_file(name)).map_err(|reason| Error::Rename {
                source: "saving".into(),
                reason,
            })?;
        let order = tensors.keys().map(String::as_str).collect::<Vec<_>>();
        let order = order.join("\n");
        let mut meta = vec![
            ("format", FORMAT),
            ("format_version", FORMAT_VERSION),
            ("order", order.as_str()),
        ];
        meta.extend(metadata.iter().map(|(key, value)| (*key, value.as_str())));
        let mut all: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, &v)| (n.as_str(), v)).collect();
        all.extend(extra.iter().map(|(n, v)| (n.as_str(), v)));
        Ok(format::encode(&all, &meta, options.dtype))
    }

    /// Reads a store from the bytes of a safetensors file (see [`load`](Self::load)).
    ///
    /// # Errors
    ///
    /// [`Error::Format`] if the bytes are not a safetensors file of float tensors (`F64`,
    /// `F32`, `F16`, `BF16`) with valid names, or carry a tapegrad format version this
    /// version does not read.
    pub fn from_bytes(bytes: &[u8]) -> Result<ParamStore, Error> {
        ParamStore::from_bytes_with(bytes, &FileOptions::new())
    }

    /// As [`from_bytes`](Self::from_bytes), renaming each tensor as `options` say.
    ///
    /// # Errors
    ///
    /// As [`from_bytes`](Self::from_bytes), and [`Error::Rename`] if the renaming gives an
    /// invalid name or one name to two tensors.
    pub fn from_bytes_with(bytes: &[u8], options: &FileOptions<'_>) -> Result<ParamStore, Error> {
        let decoded = decode(bytes, "bytes")?;
        from_decoded(decoded.tensors, options, "bytes")
    }

    /// Writes the store to `path` as a safetensors file: every tensor `F64`, the names' order
    /// and a format version in the header's metadata. The file is written beside `path` and
    /// renamed over it, so a crash never leaves half a file under the name.
    ///
    /// ```
    /// use tapegrad::{ParamStore, Tensor};
    ///
    /// let mut store = ParamStore::new();
    /// store.insert("w", Tensor::from([[0.1, -0.2], [0.3, 1e-300]]));
    /// store.insert("b", 0.5);
    /// let path = std::env::temp_dir().join("tapegrad-doc-save.safetensors");
    /// store.save(&path)?;
    /// assert_eq!(ParamStore::load(&path)?, store);   // bit for bit, in the same order
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), tapegrad::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        write_atomically(path.as_ref(), &self.to_bytes())
    }

    /// Writes the store to `path` with `options`: `F32` on request, names renamed.
    ///
    /// # Errors
    ///
    /// As [`save`](Self::save) and [`to_bytes_with`](Self::to_bytes_with).
    pub fn save_with(
        &self,
        path: impl AsRef<Path>,
        options: &FileOptions<'_>,
    ) -> Result<(), Error> {
        write_atomically(path.as_ref(), &self.to_bytes_with(options)?)
    }

    /// Reads a store from a safetensors file, in the order it was saved (a file without
    /// tapegrad's metadata, such as PyTorch's, in its byte order). A checkpoint's optimizer
    /// state is skipped: this reads its parameters.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read; [`Error::Format`] if it is truncated, not
    /// safetensors, holds an element type other than `F64`, `F32`, `F16` and `BF16` (naming
    /// the tensor and its type), or has a tapegrad format version this version does not read.
    pub fn load(path: impl AsRef<Path>) -> Result<ParamStore, Error> {
        ParamStore::load_with(path, &FileOptions::new())
    }

    /// As [`load`](Self::load), renaming each tensor as `options` say.
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load) and [`from_bytes_with`](Self::from_bytes_with).
    pub fn load_with(
        path: impl AsRef<Path>,
        options: &FileOptions<'_>,
    ) -> Result<ParamStore, Error> {
        let (tensors, source) = read(path.as_ref())?;
        from_decoded(tensors.tensors, options, &source)
    }

    /// Replaces every value of this store with the file's, which must hold exactly the same
    /// names with the same shapes (as a checkpoint of the same model does, or the PyTorch
    /// module of the same structure and names). All or nothing: on any error the store is
    /// unchanged. The store keeps its identity, so the ids its layers hold stay valid.
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load), and [`Error::Mismatch`] naming the first parameter that is
    /// missing, extra, or of another shape. [`Error::Format`] for a file of tapegrad's format
    /// version 1, written when layers stored weights `[in, out]`: read it with
    /// [`load`](Self::load) and [`set`](Self::set) each layer's weight transposed.
    pub fn load_into(&mut self, path: impl AsRef<Path>) -> Result<(), Error> {
        self.load_into_with(path, &FileOptions::new())
    }

    /// As [`load_into`](Self::load_into), renaming the file's tensors as `options` say
    /// before matching them with the store's.
    ///
    /// # Errors
    ///
    /// As [`load_into`](Self::load_into) and [`from_bytes_with`](Self::from_bytes_with).
    pub fn load_into_with(
        &mut self,
        path: impl AsRef<Path>,
        options: &FileOptions<'_>,
    ) -> Result<(), Error> {
        let (decoded, source) = read(path.as_ref())?;
        refuse_legacy(&decoded, &source)?;
        let loaded = from_decoded(decoded.tensors, options, &source)?;
        self.check_same_layout(&loaded, &source)?;
        self.replace_values(loaded);
        Ok(())
    }

    /// `Ok` if `loaded` holds exactly this store's names with the same shapes; otherwise the
    /// first difference.
    pub(crate) fn check_same_layout(&self, loaded: &ParamStore, source: &str) -> Result<(), Error> {
        let mismatch =
            |name: &str, expected: Option<&Tensor>, found: Option<&Tensor>| Error::Mismatch {
                source: source.to_string(),
                name: name.to_string(),
                expected: expected.map(|t| t.shape().to_vec()),
                found: found.map(|t| t.shape().to_vec()),
            };
        for (name, value) in self.iter() {
            match loaded.get(name) {
                Some(new) if new.shape() == value.shape() => {}
                new => return Err(mismatch(name, Some(value), new)),
            }
        }
        match loaded.iter().find(|(name, _)| self.get(name).is_none()) {
            Some((name, value)) => Err(mismatch(name, None, Some(value))),
            None => Ok(()),
        }
    }

    /// Takes every value from `loaded`, which [`check_same_layout`](Self::check_same_layout)
    /// accepted.
    pub(crate) fn replace_values(&mut self, mut loaded: ParamStore) {
        for (name, value) in self.params.iter_mut() {
            *value = loaded
                .params
                .swap_remove(name.as_str())
                .expect("checked by check_same_layout");
        }
    }
}

/// Writes `bytes` beside `path` and renames the file over it.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".partial-{}", std::process::id()));
    let partial = Path::new(&partial);
    let written = std::fs::write(partial, bytes).and_then(|()| std::fs::rename(partial, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(partial);
        io_error(path, &e)
    })
}

/// The decoded file at `path` (parameters in their saved order, optimizer tensors apart) and
/// its name for errors.
pub(crate) fn read(path: &Path) -> Result<(Decoded, String), Error> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, &e))?;
    let source = path.display().to_string();
    Ok((decode(&bytes, &source)?, source))
}

fn io_error(path: &Path, error: &std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        kind: error.kind(),
        message: error.to_string(),
    }
}

/// The file's tensors with its metadata checked: parameters first, in the saved order, then a
/// checkpoint's optimizer tensors in byte order.
pub(crate) fn decode(bytes: &[u8], source: &str) -> Result<Decoded, Error> {
    let format_error = |reason: String| Error::Format {
        source: source.to_string(),
        reason,
    };
    let mut decoded = format::decode(bytes, source, check_name)?;
    let metadata = &decoded.metadata;
    let ours = metadata.get("format").map(String::as_str) == Some(FORMAT);
    if let Some(version) = metadata.get("format_version") {
        if ours && version != FORMAT_VERSION && version != LEGACY_VERSION {
            return Err(format_error(format!(
                "a tapegrad file of format version {version}; this tapegrad reads versions {LEGACY_VERSION} and {FORMAT_VERSION}"
            )));
        }
    }
    // Only a checkpoint holds optimizer tensors; elsewhere such a name would be skipped by a
    // load without a word.
    let checkpoint = ours && metadata.contains_key("optimizer");
    if let Some(name) = decoded
        .tensors
        .keys()
        .find(|name| !checkpoint && name.starts_with(OPTIMIZER_PREFIX))
    {
        return Err(format_error(format!(
            "`{name}` uses the prefix `{OPTIMIZER_PREFIX}`, reserved for a checkpoint's optimizer \
             state, in a file that is not a checkpoint"
        )));
    }
    if ours {
        if let Some(order) = metadata.get("order") {
            let (params, optimizer): (IndexMap<_, _>, IndexMap<_, _>) =
                std::mem::take(&mut decoded.tensors)
                    .into_iter()
                    .partition(|(name, _)| !name.starts_with(OPTIMIZER_PREFIX));
            let mut ordered = reorder(params, order).map_err(format_error)?;
            ordered.extend(optimizer);
            decoded.tensors = ordered;
        }
    }
    Ok(decoded)
}

/// Refuses a version 1 file for loading into a model (see [`FORMAT_VERSION`]).
pub(crate) fn refuse_legacy(decoded: &Decoded, source: &str) -> Result<(), Error> {
    let metadata = &decoded.metadata;
    let legacy = metadata.get("format").map(String::as_str) == Some(FORMAT)
        && metadata.get("format_version").map(String::as_str) == Some(LEGACY_VERSION);
    if legacy {
        return Err(Error::Format {
            source: source.to_string(),
            reason: "a tapegrad file of format version 1, written when nn::Linear stored its \
                     weight [in, out]; PyTorch's [out, in] is used now. Read it with \
                     ParamStore::load and set each layer's weight transposed"
                .into(),
        });
    }
    Ok(())
}

/// A store of the file's parameters (its optimizer tensors left out), renamed by `options`.
fn from_decoded(
    tensors: IndexMap<String, Tensor>,
    options: &FileOptions<'_>,
    source: &str,
) -> Result<ParamStore, Error> {
    let params = tensors
        .iter()
        .filter(|(name, _)| !name.starts_with(OPTIMIZER_PREFIX))
        .map(|(name, value)| (name.as_str(), value));
    let params =
        renamed(params, |name| options.to_store(name)).map_err(|reason| Error::Rename {
            source: source.to_string(),
            reason,
        })?;
    let params = params
        .into_iter()
        .map(|(name, value)| (name, value.clone()))
        .collect();
    Ok(ParamStore::from_map(params))
}

/// The parameters in the order the `order` metadata lists, which must name each exactly once.
fn reorder(
    mut params: IndexMap<String, Tensor>,
    order: &str,
) -> Result<IndexMap<String, Tensor>, String> {
    let names: Vec<&str> = if order.is_empty() {
        Vec::new()
    } else {
        order.split('\n').collect()
    };
    let mut ordered = IndexMap::with_capacity(params.len());
    for name in names {
        let value = params
            .swap_remove(name)
            .ok_or_else(|| format!("the header's order lists `{name}`, which the file does not hold (or lists it twice)"))?;
        ordered.insert(name.to_string(), value);
    }
    match params.keys().next() {
        Some(name) => Err(format!("the header's order does not list `{name}`")),
        None => Ok(ordered),
    }
}
