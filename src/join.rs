//! [`Concat`]: the payload of the one primitive that reads any number of inputs, `concat`,
//! and the tensor kernels it and its adjoint need: joining along an axis, and cutting a
//! contiguous piece back out (`narrow`).
//!
//! `stack`, `split` and `chunk` are written with these in `selecting.rs`. Nothing here knows
//! about the tape beyond node ids.

use crate::op::NodeId;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// The inputs of a `concat` and the axis they are joined along.
#[derive(Clone, Debug, PartialEq)]
pub struct Concat {
    inputs: Vec<NodeId>,
    axis: usize,
}

impl Concat {
    pub(crate) fn new(inputs: Vec<NodeId>, axis: usize) -> Concat {
        Concat { inputs, axis }
    }

    /// The joined nodes, in order.
    pub fn inputs(&self) -> &[NodeId] {
        &self.inputs
    }

    /// The axis they are joined along.
    pub fn axis(&self) -> usize {
        self.axis
    }

    /// The same join of other nodes.
    pub(crate) fn with_inputs(&self, remap: impl FnMut(NodeId) -> NodeId) -> Concat {
        Concat {
            inputs: self.inputs.iter().copied().map(remap).collect(),
            axis: self.axis,
        }
    }

    /// The joined value, from each input's value.
    #[track_caller]
    pub(crate) fn forward<'a>(&self, value: impl Fn(NodeId) -> &'a Tensor) -> Tensor {
        let parts: Vec<&Tensor> = self.inputs.iter().map(|&x| value(x)).collect();
        Tensor::concat(&parts, self.axis)
    }
}

impl Tensor {
    /// `parts` joined along `axis`.
    ///
    /// # Panics
    ///
    /// If there are no parts, or they differ in shape other than along `axis`.
    #[track_caller]
    pub(crate) fn concat(parts: &[&Tensor], axis: usize) -> Tensor {
        let first = parts
            .first()
            .expect("concat: needs at least one value to join");
        let mut shape = first.shape().to_vec();
        assert!(
            axis < shape.len(),
            "concat: axis {axis} is out of range for shape {shape:?}"
        );
        shape[axis] = 0;
        for part in parts {
            let s = part.shape();
            let fits = s.len() == shape.len()
                && s.iter()
                    .enumerate()
                    .all(|(d, &n)| d == axis || n == first.shape()[d]);
            assert!(
                fits,
                "concat: shapes differ other than along axis {axis}: {:?} and {s:?}",
                first.shape()
            );
            shape[axis] += s[axis];
        }
        let shape = Shape::from(shape);
        let (outer, _, _) = shape.split_at_axis(axis);
        let mut data = Vec::with_capacity(shape.size());
        for o in 0..outer {
            for part in parts {
                let block = part.len() / outer.max(1);
                data.extend_from_slice(&part.data()[o * block..(o + 1) * block]);
            }
        }
        Tensor::from_parts(shape, data)
    }

    /// The `len` elements from `start` along `axis`.
    ///
    /// # Panics
    ///
    /// If they do not fit in the axis.
    #[track_caller]
    pub(crate) fn narrow(&self, axis: usize, start: usize, len: usize) -> Tensor {
        let shape = Shape::from(self.shape());
        let (outer, n, inner) = shape.split_at_axis(axis);
        assert!(
            start.checked_add(len).is_some_and(|end| end <= n),
            "narrow: elements {start}..{} are out of range for axis {axis} of length {n}",
            start.saturating_add(len)
        );
        let x = self.data();
        let mut data = Vec::with_capacity(outer * len * inner);
        for o in 0..outer {
            data.extend_from_slice(&x[(o * n + start) * inner..(o * n + start + len) * inner]);
        }
        let mut dims = shape.to_vec();
        dims[axis] = len;
        Tensor::from_parts(dims.into(), data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_and_narrow_are_inverse() {
        let a = Tensor::from([[1.0, 2.0], [3.0, 4.0]]);
        let b = Tensor::from([[5.0], [6.0]]);
        let joined = Tensor::concat(&[&a, &b], 1);
        assert_eq!(joined, Tensor::from([[1.0, 2.0, 5.0], [3.0, 4.0, 6.0]]));
        assert_eq!(joined.narrow(1, 0, 2), a);
        assert_eq!(joined.narrow(1, 2, 1), b);
        let rows = Tensor::concat(&[&a, &a], 0);
        assert_eq!(rows.shape(), &[4, 2]);
        assert_eq!(rows.narrow(0, 2, 2), a);
    }

    #[test]
    #[should_panic(expected = "concat: shapes differ other than along axis 0: [2, 2] and [2, 1]")]
    fn concat_refuses_mismatched_shapes() {
        let _ = Tensor::concat(&[&Tensor::zeros(&[2, 2]), &Tensor::zeros(&[2, 1])], 0);
    }
}
