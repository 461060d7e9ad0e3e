//! Shapes and numpy's broadcasting rules.
//!
//! A [`Shape`] is a list of dimension sizes, stored inline (no heap allocation) up to four
//! dimensions. This file decides which shapes broadcast together and how an index into the
//! broadcast result maps back to each operand; it computes no values.

use smallvec::SmallVec;
use std::fmt;
use std::ops::Deref;

/// The dimensions of a tensor, outermost first (row-major). `[]` is a scalar.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(SmallVec<[usize; 4]>);

impl Shape {
    /// The shape of a scalar: no dimensions, one element.
    pub const fn scalar() -> Shape {
        Shape(SmallVec::new_const())
    }

    /// The number of elements a tensor of this shape holds (1 for a scalar).
    ///
    /// # Panics
    ///
    /// If that number does not fit a `usize` (no such tensor can exist; see
    /// [`checked_size`](Shape::checked_size)).
    #[track_caller]
    pub fn size(&self) -> usize {
        self.checked_size()
            .unwrap_or_else(|| panic!("the shape {self:?} holds more elements than a usize counts"))
    }

    /// The number of elements a tensor of this shape holds, or `None` if it overflows a
    /// `usize`.
    pub fn checked_size(&self) -> Option<usize> {
        self.0.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    /// Row-major strides: how far apart, in elements, consecutive indices of each axis are.
    pub(crate) fn strides(&self) -> SmallVec<[usize; 4]> {
        let mut strides: SmallVec<[usize; 4]> = SmallVec::from_elem(0, self.len());
        let mut step = 1;
        for (stride, &dim) in strides.iter_mut().zip(&self.0).rev() {
            *stride = step;
            step *= dim;
        }
        strides
    }

    /// This shape with `axis` removed (a reduction's result shape).
    pub(crate) fn without_axis(&self, axis: usize) -> Shape {
        let mut dims = self.0.clone();
        dims.remove(axis);
        Shape(dims)
    }

    /// Splits the shape around `axis` into (elements before, its length, elements after):
    /// the three nested loops of any reduction along one axis of a row-major buffer.
    pub(crate) fn split_at_axis(&self, axis: usize) -> (usize, usize, usize) {
        let outer = self.0[..axis].iter().product();
        let inner = self.0[axis + 1..].iter().product();
        (outer, self.0[axis], inner)
    }
}

impl Deref for Shape {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        &self.0
    }
}

impl From<&[usize]> for Shape {
    fn from(dims: &[usize]) -> Shape {
        Shape(SmallVec::from_slice(dims))
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(dims: [usize; N]) -> Shape {
        Shape(SmallVec::from_slice(&dims))
    }
}

impl From<Vec<usize>> for Shape {
    fn from(dims: Vec<usize>) -> Shape {
        Shape(SmallVec::from_vec(dims))
    }
}

impl PartialEq<[usize]> for Shape {
    fn eq(&self, other: &[usize]) -> bool {
        self.0.as_slice() == other
    }
}

impl<const N: usize> PartialEq<[usize; N]> for Shape {
    fn eq(&self, other: &[usize; N]) -> bool {
        self.0.as_slice() == other
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_slice(), f)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_slice(), f)
    }
}

/// The shape two operands broadcast to under numpy's rules: align the shapes at their last
/// dimension; each pair of dimensions must be equal or one of them 1. `None` if they do not.
pub fn broadcast_shapes(lhs: &[usize], rhs: &[usize]) -> Option<Shape> {
    let ndim = lhs.len().max(rhs.len());
    let mut dims: SmallVec<[usize; 4]> = SmallVec::with_capacity(ndim);
    for i in 0..ndim {
        // Dimension i of the result, counted from the left, is dimension i - (ndim - len)
        // of each operand; a missing leading dimension acts as 1.
        let l = (i + lhs.len()).checked_sub(ndim).map_or(1, |j| lhs[j]);
        let r = (i + rhs.len()).checked_sub(ndim).map_or(1, |j| rhs[j]);
        dims.push(match (l, r) {
            _ if l == r => l,
            (1, _) => r,
            (_, 1) => l,
            _ => return None,
        });
    }
    Some(Shape(dims))
}

/// Whether a tensor of shape `from` broadcasts to exactly `to` (`to` is not changed).
pub fn broadcasts_to(from: &[usize], to: &[usize]) -> bool {
    broadcast_shapes(from, to).is_some_and(|shape| shape == *to)
}

/// Strides that read an operand of shape `from` as if it had the broadcast shape `to`:
/// stride 0 along every dimension the operand repeats (size 1 or missing).
pub(crate) fn broadcast_strides(from: &[usize], to: &[usize]) -> SmallVec<[usize; 4]> {
    debug_assert!(
        broadcasts_to(from, to),
        "{from:?} does not broadcast to {to:?}"
    );
    let own = Shape::from(from).strides();
    let offset = to.len() - from.len();
    (0..to.len())
        .map(|i| match i.checked_sub(offset) {
            Some(j) if from[j] != 1 => own[j],
            _ => 0,
        })
        .collect()
}

/// Calls `visit(out_index, offsets)` for every element of a row-major tensor of shape `shape`,
/// in order, with the offset of that element in each operand whose strides are given.
pub(crate) fn for_each_offset<const K: usize>(
    shape: &[usize],
    strides: [&[usize]; K],
    mut visit: impl FnMut(usize, [usize; K]),
) {
    for_each_run(shape, strides, |out, base, len, steps| {
        for i in 0..len {
            visit(out + i, std::array::from_fn(|k| base[k] + i * steps[k]));
        }
    });
}

/// Like [`for_each_offset`], a run of the innermost dimension at a time:
/// `visit(out_index, offsets, len, steps)` for the run's first element, its length, and each
/// operand's stride along it (1 for a contiguous operand, 0 for one broadcast along it), so
/// that a kernel can handle a contiguous or a repeated operand as a slice or a scalar.
/// The odometer runs over the outer dimensions.
pub(crate) fn for_each_run<const K: usize>(
    shape: &[usize],
    strides: [&[usize]; K],
    mut visit: impl FnMut(usize, [usize; K], usize, [usize; K]),
) {
    let size: usize = shape.iter().product();
    if size == 0 {
        return;
    }
    let Some((&inner_len, outer_dims)) = shape.split_last() else {
        visit(0, [0; K], 1, [0; K]);
        return;
    };
    let inner_strides: [usize; K] = std::array::from_fn(|k| strides[k][shape.len() - 1]);
    let mut index: SmallVec<[usize; 4]> = SmallVec::from_elem(0, outer_dims.len());
    let mut base = [0usize; K];
    let mut out = 0;
    loop {
        visit(out, base, inner_len, inner_strides);
        out += inner_len;
        // Advance the odometer over the outer dimensions, last one fastest.
        let mut axis = outer_dims.len();
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            index[axis] += 1;
            for k in 0..K {
                base[k] += strides[k][axis];
            }
            if index[axis] < outer_dims[axis] {
                break;
            }
            for k in 0..K {
                base[k] -= strides[k][axis] * index[axis];
            }
            index[axis] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes(&[2, 3], &[3]).unwrap(), [2, 3]);
        assert_eq!(broadcast_shapes(&[4, 1], &[1, 5]).unwrap(), [4, 5]);
        assert_eq!(broadcast_shapes(&[], &[2, 2]).unwrap(), [2, 2]);
        assert_eq!(broadcast_shapes(&[1], &[]).unwrap(), [1]);
        assert_eq!(broadcast_shapes(&[3, 1, 2], &[4, 1]).unwrap(), [3, 4, 2]);
        assert!(broadcast_shapes(&[2, 3], &[2]).is_none());
        assert!(broadcast_shapes(&[0], &[2]).is_none());
        assert_eq!(broadcast_shapes(&[0], &[1]).unwrap(), [0]);
        assert!(broadcasts_to(&[3], &[2, 3]));
        assert!(!broadcasts_to(&[2, 3], &[3]));
    }

    #[test]
    fn strides_are_row_major_and_zero_where_broadcast() {
        assert_eq!(Shape::from([2, 3, 4]).strides().as_slice(), &[12, 4, 1]);
        assert_eq!(
            broadcast_strides(&[3, 1], &[2, 3, 4]).as_slice(),
            &[0, 1, 0]
        );
        assert_eq!(Shape::from([2, 3, 4]).split_at_axis(1), (2, 3, 4));
        assert_eq!(Shape::from([2, 3, 4]).without_axis(1), [2, 4]);
    }

    #[test]
    fn for_each_offset_walks_in_row_major_order() {
        let mut seen = vec![];
        let out = [2, 3];
        let a = broadcast_strides(&[3], &out);
        let b = broadcast_strides(&[2, 1], &out);
        for_each_offset(&out, [&a, &b], |i, [ia, ib]| seen.push((i, ia, ib)));
        assert_eq!(
            seen,
            [
                (0, 0, 0),
                (1, 1, 0),
                (2, 2, 0),
                (3, 0, 1),
                (4, 1, 1),
                (5, 2, 1)
            ]
        );
        let mut count = 0;
        for_each_offset(&[], [], |_, []| count += 1);
        assert_eq!(count, 1, "a scalar has one element");
        for_each_offset(&[2, 0], [], |_, []| count += 1);
        assert_eq!(count, 1, "an empty tensor has none");
    }
}
