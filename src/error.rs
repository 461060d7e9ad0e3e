//! The crate's one error type, for data that comes from outside the program: values given to
//! `Tensor::from_vec`, parameter files read by `ParamStore::load`, and checkpoints.
//!
//! Programmer errors (mismatched shapes in an op, mixing two tapes) panic instead: they are bugs
//! to fix, not conditions to handle, and an operator that returned `Result` would make every
//! formula read `((x * y)? + b)?`. This file does not know about any op.

use std::fmt;
use std::io;

/// What went wrong when building a value from outside data.
///
/// `#[non_exhaustive]`: later versions add variants (file loading, for instance) without a
/// breaking change, so match with a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The number of values does not match the number of elements of the requested shape.
    DataLength {
        /// The requested shape.
        shape: Vec<usize>,
        /// The number of elements that shape holds.
        expected: usize,
        /// The number of values given.
        actual: usize,
    },
    /// The shape holds more elements than a `usize` can count, or more than memory can hold:
    /// no tensor of it can exist.
    TooLarge {
        /// The requested shape.
        shape: Vec<usize>,
    },
    /// A parameter file could not be read or written.
    Io {
        /// The file.
        path: String,
        /// What the operating system reported, as a kind to match on.
        kind: io::ErrorKind,
        /// What the operating system reported, in words.
        message: String,
    },
    /// The bytes are not a parameter file tapegrad can read: truncated, not safetensors, a
    /// malformed header, an unsupported element type or format version.
    Format {
        /// Where the bytes came from: a path, or `bytes` for `ParamStore::from_bytes`.
        source: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// A well-formed parameter file does not fit the store it is loaded into: a name is
    /// missing or extra, or a shape differs. Nothing was changed.
    Mismatch {
        /// Where the bytes came from.
        source: String,
        /// The parameter concerned.
        name: String,
        /// The shape the store holds, if it holds the name.
        expected: Option<Vec<usize>>,
        /// The shape the file holds, if it holds the name.
        found: Option<Vec<usize>>,
    },
    /// Renaming parameters for a file gave a name no parameter may have, or one name to two
    /// tensors. Nothing was written or changed.
    Rename {
        /// The file, or `bytes`.
        source: String,
        /// What is wrong, naming the tensors.
        reason: String,
    },
    /// A checkpoint's optimizer state does not fit the optimizer or the store it is loaded
    /// into: another optimizer, state for a parameter the store lacks or of another shape, a
    /// missing or malformed entry. Nothing was changed.
    Checkpoint {
        /// The file.
        source: String,
        /// What differs, naming the optimizer, parameter or entry.
        reason: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::DataLength {
                shape,
                expected,
                actual,
            } => write!(
                f,
                "from_vec: shape {shape:?} holds {expected} elements, but {actual} values were given"
            ),
            Error::TooLarge { shape } => write!(
                f,
                "from_vec: shape {shape:?} holds more elements than a usize counts"
            ),
            Error::Io {
                path,
                kind: _,
                message,
            } => write!(f, "{path}: {message}"),
            Error::Format { source, reason } => {
                write!(f, "{source}: cannot read it as a parameter file: {reason}")
            }
            Error::Mismatch {
                source,
                name,
                expected,
                found,
            } => match (expected, found) {
                (Some(e), Some(g)) => write!(
                    f,
                    "{source}: parameter `{name}` has shape {g:?} in the file but {e:?} in the store"
                ),
                (Some(_), None) => {
                    write!(f, "{source}: parameter `{name}` is missing from the file")
                }
                (None, _) => write!(f, "{source}: parameter `{name}` is not in the store"),
            },
            Error::Rename { source, reason } => write!(f, "{source}: {reason}"),
            Error::Checkpoint { source, reason } => {
                write!(f, "{source}: the checkpoint does not fit: {reason}")
            }
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_sync_and_displays_the_shape() {
        fn assert_send_sync<T: Send + Sync + std::error::Error>() {}
        assert_send_sync::<Error>();
        let e = Error::DataLength {
            shape: vec![2, 3],
            expected: 6,
            actual: 5,
        };
        assert_eq!(
            e.to_string(),
            "from_vec: shape [2, 3] holds 6 elements, but 5 values were given"
        );
    }
}
