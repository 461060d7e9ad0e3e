//! [`FileOptions`]: how a store is written or read — the element type of a save, and the
//! names in the file when they differ from the store's (a prefix map or a function).

use super::file::check_param_name;
use super::format::SaveDtype;
use crate::tensor::Tensor;
use indexmap::IndexMap;
use std::collections::HashMap;
use std::fmt;

/// How a store is written or read: the element type of a save, and the names used in the file
/// when they differ from the store's.
///
/// ```
/// use tapegrad::{FileOptions, ParamStore, SaveDtype, Tensor};
///
/// let mut store = ParamStore::new();
/// store.insert("mlp.0.weight", Tensor::from([[0.5, -1.0]]));
/// store.insert("mlp.1.weight", Tensor::from([[2.0]]));
///
/// // PyTorch's nn.Sequential(Linear, ReLU, Linear) calls them 0.weight and 2.weight.
/// let sequential = FileOptions::new().prefixes(&[("mlp.0.", "0."), ("mlp.1.", "2.")]);
/// let bytes = store.to_bytes_with(&sequential.dtype(SaveDtype::F32))?;
/// let plain = ParamStore::from_bytes(&bytes)?;
/// assert_eq!(plain.iter().map(|(n, _)| n).collect::<Vec<_>>(), ["0.weight", "2.weight"]);
///
/// // Read back with the same prefixes: the store's names again.
/// let back = ParamStore::from_bytes_with(&bytes, &FileOptions::new().prefixes(&[("mlp.0.", "0."), ("mlp.1.", "2.")]))?;
/// assert_eq!(back, store);
/// # Ok::<(), tapegrad::Error>(())
/// ```
#[derive(Default)]
pub struct FileOptions<'a> {
    pub(super) dtype: SaveDtype,
    rename: Rename<'a>,
}

#[derive(Default)]
enum Rename<'a> {
    #[default]
    None,
    /// `(store prefix, file prefix)` pairs; the first that matches renames.
    Prefixes(Vec<(String, String)>),
    /// The user's function, for the direction the options are used in.
    With(Box<dyn Fn(&str) -> String + 'a>),
}

impl<'a> FileOptions<'a> {
    /// F64, names unchanged: what [`save`](super::ParamStore::save) and [`load`](super::ParamStore::load) use.
    pub fn new() -> FileOptions<'a> {
        FileOptions::default()
    }

    /// Saves in `dtype` (`F64` by default; loading reads any float type whatever this says).
    pub fn dtype(self, dtype: SaveDtype) -> FileOptions<'a> {
        FileOptions { dtype, ..self }
    }

    /// Renames by prefix, given as `(store prefix, file prefix)` pairs: saving writes a store
    /// name that starts with a store prefix under the file prefix instead, and loading does
    /// the reverse, so the same options serve both directions. The first pair whose prefix
    /// matches is used; a name no pair matches keeps its name. Replaces a [`rename`](Self::rename).
    pub fn prefixes(self, pairs: &[(&str, &str)]) -> FileOptions<'a> {
        let pairs = pairs
            .iter()
            .map(|&(store, file)| (store.to_string(), file.to_string()))
            .collect();
        FileOptions {
            rename: Rename::Prefixes(pairs),
            ..self
        }
    }

    /// Renames with `f`: from a store name to a file name when saving, from a file name to a
    /// store name when loading. Replaces [`prefixes`](Self::prefixes).
    pub fn rename(self, f: impl Fn(&str) -> String + 'a) -> FileOptions<'a> {
        FileOptions {
            rename: Rename::With(Box::new(f)),
            ..self
        }
    }

    /// The file's name for the store's `name`.
    pub(super) fn to_file(&self, name: &str) -> String {
        match &self.rename {
            Rename::None => name.to_string(),
            Rename::Prefixes(pairs) => replace_prefix(name, pairs.iter().map(|(s, f)| (s, f))),
            Rename::With(f) => f(name),
        }
    }

    /// The store's name for the file's `name`.
    pub(super) fn to_store(&self, name: &str) -> String {
        match &self.rename {
            Rename::None => name.to_string(),
            Rename::Prefixes(pairs) => replace_prefix(name, pairs.iter().map(|(s, f)| (f, s))),
            Rename::With(f) => f(name),
        }
    }
}

impl fmt::Debug for FileOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rename = match &self.rename {
            Rename::None => "none".to_string(),
            Rename::Prefixes(pairs) => format!("{pairs:?}"),
            Rename::With(_) => "a function".to_string(),
        };
        f.debug_struct("FileOptions")
            .field("dtype", &self.dtype)
            .field("rename", &rename)
            .finish()
    }
}

fn replace_prefix<'p>(
    name: &str,
    mut pairs: impl Iterator<Item = (&'p String, &'p String)>,
) -> String {
    match pairs.find_map(|(from, to)| name.strip_prefix(from.as_str()).map(|rest| (to, rest))) {
        Some((to, rest)) => format!("{to}{rest}"),
        None => name.to_string(),
    }
}

/// `tensors` under the names `rename` gives them, refusing a name the store could not hold or
/// two tensors under one name (which would silently lose one).
pub(super) fn renamed<'t>(
    tensors: impl Iterator<Item = (&'t str, &'t Tensor)>,
    rename: impl Fn(&str) -> String,
) -> Result<IndexMap<String, &'t Tensor>, String> {
    let mut out = IndexMap::new();
    let mut from = HashMap::new();
    for (name, value) in tensors {
        let new = rename(name);
        check_param_name(&new).map_err(|reason| format!("renaming `{name}`: {reason}"))?;
        if let Some(first) = from.insert(new.clone(), name) {
            return Err(format!(
                "renaming gives both `{first}` and `{name}` the name `{new}`"
            ));
        }
        out.insert(new, value);
    }
    Ok(out)
}
