//! The crate's one error type, for data that comes from outside the program.
//!
//! Programmer errors (mismatched shapes in an op, mixing two tapes) panic instead: they are bugs
//! to fix, not conditions to handle, and an operator that returned `Result` would make every
//! formula read `((x * y)? + b)?`. This file does not know about any op.

use std::fmt;

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
