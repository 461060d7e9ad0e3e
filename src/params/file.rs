//! Parameter files: [`ParamStore::save`] and [`ParamStore::load`], in the safetensors format.
//!
//! safetensors is what PyTorch, candle and tinygrad read and write, so a model trained here opens
//! there. A file is an 8-byte little-endian header length, a JSON header naming each tensor's
//! element type, shape and byte range, then the raw little-endian data. tapegrad writes every
//! tensor as `F64` and adds three metadata entries to the header:
//!
//! | key | value |
//! |---|---|
//! | `format` | `tapegrad` |
//! | `format_version` | `1` (a later tapegrad that changes the layout bumps it, and this one refuses it) |
//! | `order` | the parameter names in insertion order, one per line (safetensors sorts by name) |
//!
//! Reading accepts any safetensors file of `F64` or `F32` tensors (`F32` widens exactly); one
//! without tapegrad's metadata loads in the file's byte order. Every failure is an [`Error`],
//! never a panic, and a failed load changes nothing.

use super::ParamStore;
use crate::error::Error;
use crate::tensor::Tensor;
use indexmap::IndexMap;
use safetensors::tensor::{Dtype, SafeTensors};
use std::path::Path;

const FORMAT: &str = "tapegrad";
const FORMAT_VERSION: &str = "1";
/// A name safetensors reserves for the header's metadata.
const RESERVED: &str = "__metadata__";

/// Why `name` cannot name a parameter, if it cannot.
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
        // The header is written here, in safetensors' own layout (tensors sorted by name, the
        // header padded with spaces to 8 bytes), because `safetensors::serialize` takes the
        // metadata as a `HashMap` and writes its keys in a different order on every call.
        let mut tensors: Vec<(&str, &Tensor)> = self.iter().collect();
        tensors.sort_unstable_by_key(|&(name, _)| name);
        let order = self
            .iter()
            .map(|(name, _)| name)
            .collect::<Vec<_>>()
            .join("\n");
        let mut header = format!(
            "{{\"{RESERVED}\":{{\"format\":{},\"format_version\":{},\"order\":{}}}",
            json_string(FORMAT),
            json_string(FORMAT_VERSION),
            json_string(&order)
        );
        let mut offset = 0;
        for (name, value) in &tensors {
            let end = offset + 8 * value.len();
            let shape: Vec<String> = value.shape().iter().map(usize::to_string).collect();
            header.push_str(&format!(
                ",{}:{{\"dtype\":\"F64\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
                json_string(name),
                shape.join(",")
            ));
            offset = end;
        }
        header.push('}');
        let padded = header.len().next_multiple_of(8);
        header.extend(std::iter::repeat_n(' ', padded - header.len()));

        let mut bytes = Vec::with_capacity(8 + header.len() + offset);
        bytes.extend((header.len() as u64).to_le_bytes());
        bytes.extend(header.as_bytes());
        for (_, value) in &tensors {
            bytes.extend(value.data().iter().flat_map(|x| x.to_le_bytes()));
        }
        bytes
    }

    /// Reads a store from the bytes of a safetensors file (see [`load`](Self::load)).
    ///
    /// # Errors
    ///
    /// [`Error::Format`] if the bytes are not a safetensors file of `F64`/`F32` tensors with
    /// valid names, or carry a tapegrad format version this version does not read.
    pub fn from_bytes(bytes: &[u8]) -> Result<ParamStore, Error> {
        parse(bytes, "bytes")
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
        let path = path.as_ref();
        let mut partial = path.as_os_str().to_owned();
        partial.push(format!(".partial-{}", std::process::id()));
        let partial = Path::new(&partial);
        let written =
            std::fs::write(partial, self.to_bytes()).and_then(|()| std::fs::rename(partial, path));
        written.map_err(|e| {
            let _ = std::fs::remove_file(partial);
            io_error(path, &e)
        })
    }

    /// Reads a store from a safetensors file, in the order it was saved.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read; [`Error::Format`] if it is truncated, not
    /// safetensors, holds an element type other than `F64`/`F32`, or has a tapegrad format
    /// version this version does not read.
    pub fn load(path: impl AsRef<Path>) -> Result<ParamStore, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| io_error(path, &e))?;
        parse(&bytes, &path.display().to_string())
    }

    /// Replaces every value of this store with the file's, which must hold exactly the same
    /// names with the same shapes (as a checkpoint of the same model does). All or nothing:
    /// on any error the store is unchanged. The store keeps its identity, so the ids its
    /// layers hold stay valid.
    ///
    /// Shapes are compared, not meanings: PyTorch stores a linear layer's weight `[out, in]`
    /// and tapegrad `[in, out]`, so a PyTorch checkpoint of a square layer loads without error
    /// but transposed. Transpose such weights when converting.
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load), and [`Error::Mismatch`] naming the first parameter that is
    /// missing, extra, or of another shape.
    pub fn load_into(&mut self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let source = path.display().to_string();
        let mut loaded = ParamStore::load(path)?;
        let mismatch =
            |name: &str, expected: Option<&Tensor>, found: Option<&Tensor>| Error::Mismatch {
                source: source.clone(),
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
        if let Some((name, value)) = loaded.iter().find(|(name, _)| self.get(name).is_none()) {
            return Err(mismatch(name, None, Some(value)));
        }
        for (name, value) in self.params.iter_mut() {
            *value = loaded
                .params
                .swap_remove(name.as_str())
                .expect("checked above");
        }
        Ok(())
    }
}

/// `text` as a JSON string literal. Names hold no control character but `order` holds `\n`.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn io_error(path: &Path, error: &std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        kind: error.kind(),
        message: error.to_string(),
    }
}

fn parse(bytes: &[u8], source: &str) -> Result<ParamStore, Error> {
    let format_error = |reason: String| Error::Format {
        source: source.to_string(),
        reason,
    };
    // One parse of the header, which also checks that the offsets tile the data exactly.
    let (header_len, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| format_error(e.to_string()))?;
    let data = &bytes[8 + header_len..];
    let metadata = header.metadata().clone().unwrap_or_default();
    if let Some(version) = metadata.get("format_version") {
        if metadata.get("format").map(String::as_str) == Some(FORMAT) && version != FORMAT_VERSION {
            return Err(format_error(format!(
                "a tapegrad file of format version {version}; this tapegrad reads version {FORMAT_VERSION}"
            )));
        }
    }

    let names = header.offset_keys();
    let mut params = IndexMap::with_capacity(names.len());
    for name in names {
        check_name(&name).map_err(&format_error)?;
        let info = header
            .info(&name)
            .expect("offset_keys lists the header's tensors");
        let (start, end) = info.data_offsets;
        let raw = data
            .get(start..end)
            .ok_or_else(|| format_error(format!("`{name}`'s bytes lie outside the file")))?;
        let values: Vec<f64> = match info.dtype {
            Dtype::F64 => raw
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                .collect(),
            Dtype::F32 => raw
                .chunks_exact(4)
                .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
                .collect(),
            other => {
                return Err(format_error(format!(
                    "`{name}` holds {other:?}; tapegrad reads F64 and F32"
                )));
            }
        };
        let value =
            Tensor::from_vec(values, &info.shape).map_err(|e| format_error(e.to_string()))?;
        params.insert(name, value);
    }

    if metadata.get("format").map(String::as_str) == Some(FORMAT) {
        if let Some(order) = metadata.get("order") {
            params = reorder(params, order).map_err(format_error)?;
        }
    }
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
