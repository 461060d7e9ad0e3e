//! [`Axis`]: how an op's caller names an axis, counted from the front (`0` is the first) or,
//! as in numpy and PyTorch, from the end (`-1` is the last).
//!
//! Methods that take an axis accept any integer type through this trait, so `x.sum_axis(1)`,
//! `x.sum_axis(-1)` and `x.sum_axis(axis)` with `axis: usize` all read naturally. An axis is
//! resolved to a position when the op is recorded; the tape stores positions only, so nothing
//! downstream knows negative axes exist.

/// An axis of a value of `n` dimensions: `0..n` from the front, `-n..0` from the end.
///
/// ```
/// use tapegrad::{Tape, Tensor};
///
/// let tape = Tape::new();
/// let x = tape.param(Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
/// assert_eq!(x.sum_axis(-1).value(), Tensor::from([6.0, 15.0]));
/// assert_eq!(x.sum_axis(-1).value(), x.sum_axis(1).value());
/// ```
pub trait Axis: Copy {
    /// The axis as a position in `0..shape.len()`.
    ///
    /// # Panics
    ///
    /// If it is not an axis of `shape`; the message names `op` and the shape.
    #[track_caller]
    fn resolve(self, shape: &[usize], op: &str) -> usize;
}

/// Resolves a signed axis: `axis + ndim` when negative.
#[track_caller]
fn resolve_signed(axis: i64, shape: &[usize], op: &str) -> usize {
    let n = shape.len() as i64;
    let position = if axis < 0 { axis + n } else { axis };
    assert!(
        (0..n).contains(&position),
        "{op}: axis {axis} is out of range for shape {shape:?}"
    );
    position as usize
}

impl Axis for usize {
    #[track_caller]
    fn resolve(self, shape: &[usize], op: &str) -> usize {
        crate::kernels::check_axis(shape, self, op);
        self
    }
}

impl Axis for isize {
    #[track_caller]
    fn resolve(self, shape: &[usize], op: &str) -> usize {
        resolve_signed(self as i64, shape, op)
    }
}

impl Axis for i32 {
    #[track_caller]
    fn resolve(self, shape: &[usize], op: &str) -> usize {
        resolve_signed(i64::from(self), shape, op)
    }
}

impl Axis for i64 {
    #[track_caller]
    fn resolve(self, shape: &[usize], op: &str) -> usize {
        resolve_signed(self, shape, op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_axes_count_from_the_end() {
        let shape = [2, 3, 4];
        assert_eq!((-1).resolve(&shape, "op"), 2);
        assert_eq!((-3).resolve(&shape, "op"), 0);
        assert_eq!(2usize.resolve(&shape, "op"), 2);
        assert_eq!(1isize.resolve(&shape, "op"), 1);
        assert_eq!((-2i64).resolve(&shape[1..], "op"), 0);
    }

    #[test]
    #[should_panic(expected = "sum_axis: axis -4 is out of range for shape [2, 3, 4]")]
    fn an_axis_past_the_front_panics() {
        (-4).resolve(&[2, 3, 4], "sum_axis");
    }

    #[test]
    #[should_panic(expected = "sum_axis: axis 3 is out of range for shape [2, 3, 4]")]
    fn an_axis_past_the_end_panics() {
        3usize.resolve(&[2, 3, 4], "sum_axis");
    }
}
