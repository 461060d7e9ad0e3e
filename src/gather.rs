//! [`Gather`]: a map from the elements of one shape to positions in another, which two
//! primitives share. `take` reads `z[i] = x[index[i]]`; `scatter_add` sends each element back,
//! summing where an index repeats. Each is the other's adjoint, so together they differentiate
//! to any order, and every selecting op is one of them with its own index list: a slice, a
//! row selection, `gather`, a diagonal, a triangle.
//!
//! This file builds the index lists (checking every index against its axis) and runs the two
//! kernels. It knows nothing about the tape.

use crate::shape::Shape;
use crate::tensor::Tensor;
use std::fmt;

/// Flat indices into a tensor of the `source` shape, one per element of a tensor of `shape`.
#[derive(Clone, PartialEq)]
pub struct Gather {
    index: Vec<usize>,
    source: Shape,
    shape: Shape,
}

impl fmt::Debug for Gather {
    // The index list can be as long as the tensor; its size says enough.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Gather({:?} ← {:?}, {} indices)",
            self.shape,
            self.source,
            self.index.len()
        )
    }
}

impl Gather {
    fn new(index: Vec<usize>, source: Shape, shape: Shape) -> Gather {
        debug_assert_eq!(index.len(), shape.size());
        debug_assert!(index.iter().all(|&i| i < source.size()));
        Gather {
            index,
            source,
            shape,
        }
    }

    /// The shape read from.
    pub fn source(&self) -> &Shape {
        &self.source
    }

    /// The shape of what is read.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The elements `indices` along `axis` of a tensor of shape `source`, in that order (the
    /// same index may repeat): numpy's `take(x, indices, axis)`, PyTorch's `index_select`.
    ///
    /// # Panics
    ///
    /// If an index is not below the axis's length; the message names `op`, the index and the
    /// length.
    #[track_caller]
    pub(crate) fn index_select(
        source: &[usize],
        axis: usize,
        indices: &[usize],
        op: &str,
    ) -> Gather {
        let (outer, len, inner) = Shape::from(source).split_at_axis(axis);
        if let Some(&bad) = indices.iter().find(|&&i| i >= len) {
            panic!(
                "{op}: index {bad} is out of range for axis {axis} of length {len} (shape {source:?})"
            );
        }
        let mut index = Vec::with_capacity(outer * indices.len() * inner);
        for o in 0..outer {
            for &i in indices {
                let start = (o * len + i) * inner;
                index.extend(start..start + inner);
            }
        }
        let mut shape = source.to_vec();
        shape[axis] = indices.len();
        Gather::new(index, source.into(), shape.into())
    }

    /// PyTorch's `gather(x, axis, index)`: `z[…, i, …] = x[…, index[…, i, …], …]`, the index
    /// replacing the position along `axis`. `index` has as many dimensions as the source, and
    /// along every other axis no more than its length; its elements are indices stored as
    /// numbers (as [`Tensor::argmax`] gives them).
    ///
    /// # Panics
    ///
    /// On an index that is not an integer below the axis's length, or an index tensor of
    /// another rank or too long along another axis; the message names `op`.
    #[track_caller]
    pub(crate) fn along_index(source: &[usize], axis: usize, index: &Tensor, op: &str) -> Gather {
        let shape = index.shape();
        assert!(
            shape.len() == source.len()
                && shape
                    .iter()
                    .zip(source)
                    .enumerate()
                    .all(|(d, (&i, &s))| d == axis || i <= s),
            "{op}: an index of shape {shape:?} cannot gather along axis {axis} of shape {source:?} \
             (same rank, and no longer than the source along the other axes)"
        );
        let len = source[axis];
        let in_strides = Shape::from(source).strides();
        let out = Shape::from(shape);
        let mut flat = Vec::with_capacity(out.size());
        let mut position = vec![0usize; shape.len()];
        for &value in index.data() {
            let i = value as usize;
            assert!(
                value >= 0.0 && value.fract() == 0.0 && i < len,
                "{op}: index {value} is out of range for axis {axis} of length {len} (shape {source:?})"
            );
            let offset: usize = position
                .iter()
                .enumerate()
                .map(|(d, &p)| if d == axis { i } else { p } * in_strides[d])
                .sum();
            flat.push(offset);
            // Advance the odometer over the index's shape, last axis fastest.
            for d in (0..shape.len()).rev() {
                position[d] += 1;
                if position[d] < shape[d] {
                    break;
                }
                position[d] = 0;
            }
        }
        Gather::new(flat, source.into(), out)
    }

    /// The positions `(i, i)` of each `[n, n]` matrix at the end of `source` (its last two
    /// dimensions equal): `take` reads the diagonals, `scatter_add` builds diagonal matrices.
    pub(crate) fn diagonal(source: &[usize]) -> Gather {
        let (&n, batch) = source.split_last().expect("a matrix");
        let count: usize = batch[..batch.len() - 1].iter().product();
        let index = (0..count)
            .flat_map(|b| (0..n).map(move |i| b * n * n + i * n + i))
            .collect();
        let mut shape = batch.to_vec();
        shape[batch.len() - 1] = n;
        Gather::new(index, source.into(), shape.into())
    }

    /// The positions of the lower triangle (`j ≤ i + k`) of each `[n, n]` matrix at the end of
    /// `source`, row by row (numpy's `tril_indices(n, k)` order).
    pub(crate) fn lower_triangle(source: &[usize], k: i64) -> Gather {
        let (&n, batch) = source.split_last().expect("a matrix");
        let count: usize = batch[..batch.len() - 1].iter().product();
        let cells: Vec<usize> = (0..n)
            .flat_map(|i| {
                (0..n)
                    .filter(move |&j| j as i64 <= i as i64 + k)
                    .map(move |j| i * n + j)
            })
            .collect();
        let index = (0..count)
            .flat_map(|b| cells.iter().map(move |&c| b * n * n + c))
            .collect();
        let mut shape = batch.to_vec();
        shape[batch.len() - 1] = cells.len();
        Gather::new(index, source.into(), shape.into())
    }

    /// `z[i] = x[index[i]]`, of the gathered shape.
    ///
    /// # Panics
    ///
    /// If `x` is not of the source shape.
    #[track_caller]
    pub(crate) fn take(&self, x: &Tensor) -> Tensor {
        assert!(
            *x.shape() == *self.source,
            "take: a value of shape {:?} where {:?} was indexed",
            x.shape(),
            self.source
        );
        let data = x.data();
        Tensor::from_parts(
            self.shape.clone(),
            self.index.iter().map(|&i| data[i]).collect(),
        )
    }

    /// Zeros of the source shape with each `x[i]` added at `index[i]`, in index order.
    ///
    /// # Panics
    ///
    /// If `x` is not of the gathered shape.
    #[track_caller]
    pub(crate) fn scatter_add(&self, x: &Tensor) -> Tensor {
        assert!(
            *x.shape() == *self.shape,
            "scatter_add: a value of shape {:?} where {:?} was gathered",
            x.shape(),
            self.shape
        );
        let mut out = vec![0.0; self.source.size()];
        for (&i, &v) in self.index.iter().zip(x.data()) {
            out[i] += v;
        }
        Tensor::from_parts(self.source.clone(), out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lists_follow_numpy() {
        let x = Tensor::from_fn(&[2, 3], |i| i as f64);
        let rows = Gather::index_select(&[2, 3], 1, &[2, 0, 2], "index_select");
        assert_eq!(
            rows.take(&x),
            Tensor::from([[2.0, 0.0, 2.0], [5.0, 3.0, 5.0]])
        );
        // The adjoint sums where an index repeats.
        let back = rows.scatter_add(&Tensor::ones(&[2, 3]));
        assert_eq!(back, Tensor::from([[1.0, 0.0, 2.0], [1.0, 0.0, 2.0]]));
        let index = Tensor::from([[1.0], [0.0]]);
        let picked = Gather::along_index(&[2, 3], 1, &index, "gather").take(&x);
        assert_eq!(picked, Tensor::from([[1.0], [3.0]]));
        let m = Tensor::from_fn(&[3, 3], |i| i as f64);
        assert_eq!(
            Gather::diagonal(&[3, 3]).take(&m),
            Tensor::from([0.0, 4.0, 8.0])
        );
        assert_eq!(
            Gather::lower_triangle(&[3, 3], 0).take(&m),
            Tensor::from([0.0, 3.0, 4.0, 6.0, 7.0, 8.0])
        );
        assert_eq!(
            Gather::lower_triangle(&[3, 3], -1).take(&m),
            Tensor::from([3.0, 6.0, 7.0])
        );
    }

    #[test]
    #[should_panic(expected = "gather: index 3 is out of range for axis 1 of length 3")]
    fn an_index_past_the_axis_panics() {
        Gather::along_index(&[2, 3], 1, &Tensor::from([[3.0], [0.0]]), "gather");
    }
}
