//! Tensor kernels that move elements without arithmetic: reordering axes (`permute`), choosing
//! between two tensors by a mask (`select`, the forward pass of `where`), and `argmax`/`argmin`.
//!
//! Like `kernels.rs`, nothing here knows about the tape; shape errors panic naming the op.

use crate::kernels::broadcast_shape_or_panic;
use crate::shape::{Shape, broadcast_strides, for_each_offset};
use crate::tensor::{Tensor, allocate};
use smallvec::SmallVec;

impl Tensor {
    /// The tensor with its axes reordered: axis `i` of the result is axis `perm[i]` of this one.
    ///
    /// # Panics
    ///
    /// If `perm` is not a permutation of `0..ndim`.
    #[track_caller]
    pub(crate) fn permute(&self, perm: &[usize]) -> Tensor {
        check_permutation(self.shape(), perm, "permute");
        let shape: Shape = perm
            .iter()
            .map(|&a| self.shape()[a])
            .collect::<Vec<_>>()
            .into();
        let strides = Shape::from(self.shape()).strides();
        let read: SmallVec<[usize; 4]> = perm.iter().map(|&a| strides[a]).collect();
        let x = self.data();
        let (mut data, _) = allocate("permute", &shape);
        for_each_offset(&shape, [&read], |_, [i]| data.push(x[i]));
        Tensor::from_parts(shape, data)
    }

    /// `a` where this mask is nonzero (NaN included, as numpy's `bool(nan)`), else `b`, over
    /// the broadcast shape of all three.
    ///
    /// # Panics
    ///
    /// If the three shapes do not broadcast together.
    #[track_caller]
    pub(crate) fn select(&self, a: &Tensor, b: &Tensor) -> Tensor {
        let ab = broadcast_shape_or_panic(a.shape(), b.shape(), "where");
        let shape = broadcast_shape_or_panic(self.shape(), &ab, "where");
        let (sm, sa, sb) = (
            broadcast_strides(self.shape(), &shape),
            broadcast_strides(a.shape(), &shape),
            broadcast_strides(b.shape(), &shape),
        );
        let (m, x, y) = (self.data(), a.data(), b.data());
        let (mut data, _) = allocate("where", &shape);
        for_each_offset(&shape, [&sm, &sa, &sb], |_, [i, j, k]| {
            data.push(if m[i] != 0.0 { x[j] } else { y[k] });
        });
        Tensor::from_parts(shape, data)
    }

    /// The index of the largest element along `axis` (which is removed), as a number: the
    /// first one where several tie, and the first NaN if there is one (numpy's and PyTorch's
    /// rules). Indices are exact as `f64`s up to 2⁵³, and [`Var::gather`](crate::Var::gather)
    /// reads them back.
    ///
    /// ```
    /// use tapegrad::Tensor;
    /// let x = Tensor::from([[1.0, 5.0, 5.0], [7.0, 0.0, -1.0]]);
    /// assert_eq!(x.argmax(1), Tensor::from([1.0, 0.0]));
    /// assert_eq!(x.argmax(-1), x.argmax(1));
    /// assert_eq!(x.argmin(0), Tensor::from([0.0, 1.0, 1.0]));
    /// ```
    ///
    /// # Panics
    ///
    /// If `axis` is not an axis of the tensor, or is empty.
    #[track_caller]
    pub fn argmax(&self, axis: impl crate::Axis) -> Tensor {
        self.arg_best(axis, "argmax", |x, best| x > best)
    }

    /// The index of the smallest element along `axis`, as [`argmax`](Tensor::argmax) gives the
    /// largest.
    ///
    /// # Panics
    ///
    /// As [`argmax`](Tensor::argmax).
    #[track_caller]
    pub fn argmin(&self, axis: impl crate::Axis) -> Tensor {
        self.arg_best(axis, "argmin", |x, best| x < best)
    }

    /// The first index along `axis` that no later element `beats`, a NaN beating everything.
    #[track_caller]
    fn arg_best(&self, axis: impl crate::Axis, op: &str, beats: fn(f64, f64) -> bool) -> Tensor {
        let axis = axis.resolve(self.shape(), op);
        let shape = Shape::from(self.shape());
        let (outer, len, inner) = shape.split_at_axis(axis);
        assert!(
            len > 0,
            "{op}: axis {axis} of shape {shape:?} is empty, and has no index to return"
        );
        let x = self.data();
        let mut out = Vec::with_capacity(outer * inner);
        for o in 0..outer {
            for i in 0..inner {
                let at = |a: usize| x[(o * len + a) * inner + i];
                let mut best = 0;
                for a in 1..len {
                    if at(best).is_nan() {
                        break;
                    }
                    if at(a).is_nan() || beats(at(a), at(best)) {
                        best = a;
                    }
                }
                out.push(best as f64);
            }
        }
        Tensor::from_parts(shape.without_axis(axis), out)
    }
}

/// Panics unless `perm` holds each axis of `shape` once.
#[track_caller]
pub(crate) fn check_permutation(shape: &[usize], perm: &[usize], op: &str) {
    let mut seen = vec![false; shape.len()];
    let valid = perm.len() == shape.len()
        && perm
            .iter()
            .all(|&a| a < shape.len() && !std::mem::replace(&mut seen[a], true));
    assert!(
        valid,
        "{op}: {perm:?} is not an order of the {} axes of shape {shape:?}",
        shape.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_moves_axes() {
        let x = Tensor::from_fn(&[2, 3, 4], |i| i as f64);
        let p = x.permute(&[2, 0, 1]);
        assert_eq!(p.shape(), &[4, 2, 3]);
        // p[k, i, j] = x[i, j, k] = 12i + 4j + k.
        assert_eq!(p.data()[6 + 3 + 2], 12.0 + 8.0 + 1.0); // p[1, 1, 2]
        assert_eq!(p.permute(&[1, 2, 0]), x);
        assert_eq!(
            Tensor::from([[1.0, 2.0], [3.0, 4.0]]).permute(&[1, 0]),
            Tensor::from([[1.0, 3.0], [2.0, 4.0]])
        );
    }

    #[test]
    #[should_panic(expected = "permute: [0, 0] is not an order of the 2 axes of shape [2, 3]")]
    fn a_repeated_axis_is_not_a_permutation() {
        let _ = Tensor::zeros(&[2, 3]).permute(&[0, 0]);
    }

    #[test]
    fn select_broadcasts_and_keeps_infinities() {
        let m = Tensor::from([1.0, 0.0, f64::NAN]);
        let a = Tensor::from([[1.0, 2.0, 3.0]]);
        let b = Tensor::scalar(f64::NEG_INFINITY);
        assert_eq!(
            m.select(&a, &b),
            Tensor::from([[1.0, f64::NEG_INFINITY, 3.0]])
        );
    }

    #[test]
    fn argmax_takes_the_first_tie_and_the_first_nan() {
        let x = Tensor::from([[1.0, f64::NAN, 9.0, f64::NAN], [2.0, 2.0, 1.0, 0.0]]);
        assert_eq!(x.argmax(1), Tensor::from([1.0, 0.0]));
        assert_eq!(x.argmin(1), Tensor::from([1.0, 3.0]));
    }
}
