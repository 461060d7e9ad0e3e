//! [`Var`]'s ops that select and join: slices along an axis, selection by integer indices
//! (rows of a minibatch, an embedding lookup, PyTorch's `gather`), and joining values along an
//! axis and splitting them apart again.
//!
//! Selecting records `take` with an index list built in `gather.rs`, whose adjoint is
//! `scatter_add` (the sum where an index repeats); joining records `concat`, whose adjoint cuts
//! the gradient back into pieces. Indices out of range panic naming the op, the index and the
//! axis's length.

use crate::axis::Axis;
use crate::gather::Gather;
use crate::join::Concat;
use crate::op::Op;
use crate::tensor::Tensor;
use crate::var::Var;
use std::sync::Arc;

impl<'t> Var<'t> {
    /// Records a `take` of `gather`'s elements.
    #[track_caller]
    fn take(self, gather: Gather) -> Var<'t> {
        self.tape().record(Op::Take(self.id(), Arc::new(gather)))
    }

    /// The `len` elements from `start` along `axis` (PyTorch's `narrow`; `x[start:start+len]`
    /// along that axis).
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    /// assert_eq!(x.narrow(-1, 1, 2).value(), Tensor::from([[2.0, 3.0], [5.0, 6.0]]));
    /// let g = x.narrow(0, 1, 1).sum().backward();
    /// assert_eq!(g[x], Tensor::from([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]));
    /// ```
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value, or `start + len` is past its end.
    #[track_caller]
    pub fn narrow(self, axis: impl Axis, start: usize, len: usize) -> Var<'t> {
        let shape = self.shape();
        let axis = axis.resolve(&shape, "narrow");
        let n = shape[axis];
        assert!(
            start.checked_add(len).is_some_and(|end| end <= n),
            "narrow: elements {start}..{} are out of range for axis {axis} of length {n} \
             (shape {shape:?})",
            start.saturating_add(len)
        );
        let indices: Vec<usize> = (start..start + len).collect();
        self.take(Gather::index_select(&shape, axis, &indices, "narrow"))
    }

    /// Every `step`-th element of `start..end` along `axis` (numpy's `x[start:end:step]` along
    /// that axis, with `end` clipped to the axis's length as numpy clips it).
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([0.0, 1.0, 2.0, 3.0, 4.0]));
    /// assert_eq!(x.slice(0, 1, 5, 2).value(), Tensor::from([1.0, 3.0]));
    /// ```
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value, `step` is 0, or `start` is past the end.
    #[track_caller]
    pub fn slice(self, axis: impl Axis, start: usize, end: usize, step: usize) -> Var<'t> {
        let shape = self.shape();
        let axis = axis.resolve(&shape, "slice");
        let n = shape[axis];
        assert!(step > 0, "slice: the step must be at least 1");
        assert!(
            start <= n,
            "slice: start {start} is out of range for axis {axis} of length {n} (shape {shape:?})"
        );
        let indices: Vec<usize> = (start..end.min(n).max(start)).step_by(step).collect();
        self.take(Gather::index_select(&shape, axis, &indices, "slice"))
    }

    /// The elements at `indices` along `axis`, in that order, repeats allowed (PyTorch's
    /// `index_select`, numpy's `take(x, indices, axis)`). Along axis 0 it selects rows: a
    /// minibatch, or an embedding lookup (one row of the table per token). The gradient of a
    /// repeated index is the sum of its uses.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let table = tape.param(Tensor::from([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]));
    /// let tokens = [2, 0, 2];
    /// let embedded = table.index_select(0, &tokens);
    /// assert_eq!(embedded.value().data()[..2], [0.5, 0.6]);
    /// let g = embedded.sum().backward();
    /// assert_eq!(g[table], Tensor::from([[1.0, 1.0], [0.0, 0.0], [2.0, 2.0]]));
    /// ```
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value, or an index is not below its length.
    #[track_caller]
    pub fn index_select(self, axis: impl Axis, indices: &[usize]) -> Var<'t> {
        let shape = self.shape();
        let axis = axis.resolve(&shape, "index_select");
        self.take(Gather::index_select(&shape, axis, indices, "index_select"))
    }

    /// PyTorch's `gather`: along `axis`, the element each entry of `index` names, the other
    /// positions unchanged (`z[i][j] = x[i][index[i][j]]` for `axis = 1`). `index` has as many
    /// dimensions as the value, and holds indices as numbers, as [`Tensor::argmax`] gives them.
    /// The gradient is scattered back, summed where an index repeats.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let logp = tape.param(Tensor::from([[-0.1, -2.0, -3.0], [-4.0, -5.0, -0.2]]));
    /// let picked = logp.gather(1, &Tensor::from([[0.0], [2.0]]));
    /// assert_eq!(picked.value(), Tensor::from([[-0.1], [-0.2]]));
    /// ```
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value; if `index` has another number of
    /// dimensions, or is longer than the value along another axis; or if an index is not an
    /// integer below the axis's length (the message names it).
    #[track_caller]
    pub fn gather(self, axis: impl Axis, index: &Tensor) -> Var<'t> {
        let shape = self.shape();
        let axis = axis.resolve(&shape, "gather");
        self.take(Gather::along_index(&shape, axis, index, "gather"))
    }

    /// The values joined along `axis`, in order (numpy's `concatenate`, PyTorch's `cat`); they
    /// must agree in shape along every other axis.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor, Var};
    ///
    /// let tape = Tape::new();
    /// let a = tape.param(Tensor::from([[1.0, 2.0]]));
    /// let b = tape.param(Tensor::from([[3.0, 4.0], [5.0, 6.0]]));
    /// let ab = Var::concat(&[a, b], 0);
    /// assert_eq!(ab.value(), Tensor::from([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]));
    /// let parts = ab.split(0, &[1, 2]);
    /// assert_eq!(parts[1].value(), b.value());
    /// ```
    ///
    /// # Panics
    ///
    /// If `values` is empty, the shapes differ other than along `axis`, `axis` is not one of
    /// theirs, or the Vars belong to more than one tape.
    #[track_caller]
    pub fn concat(values: &[Var<'t>], axis: impl Axis) -> Var<'t> {
        let first = *values
            .first()
            .expect("concat: needs at least one value to join");
        let axis = axis.resolve(&first.shape(), "concat");
        assert!(
            values.iter().all(|v| std::ptr::eq(v.tape(), first.tape())),
            "concat: the values are Vars of different tapes; record them on one tape"
        );
        let inputs = values.iter().map(|v| v.id()).collect();
        first
            .tape()
            .record(Op::Concat(Box::new(Concat::new(inputs, axis))))
    }

    /// The values, all of one shape, stacked along a new axis at position `axis` (numpy's and
    /// PyTorch's `stack`): `n` values of shape `[a, b]` stacked at 0 give `[n, a, b]`.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor, Var};
    ///
    /// let tape = Tape::new();
    /// let a = tape.param(Tensor::from([1.0, 2.0]));
    /// let b = tape.param(Tensor::from([3.0, 4.0]));
    /// assert_eq!(Var::stack(&[a, b], -1).value(), Tensor::from([[1.0, 3.0], [2.0, 4.0]]));
    /// ```
    ///
    /// # Panics
    ///
    /// If `values` is empty, their shapes differ, `axis` is not a position of the stacked
    /// shape, or the Vars belong to more than one tape.
    #[track_caller]
    pub fn stack(values: &[Var<'t>], axis: impl Axis) -> Var<'t> {
        let first = *values
            .first()
            .expect("stack: needs at least one value to stack");
        let shape = first.shape();
        if let Some(other) = values.iter().find(|v| v.shape() != shape) {
            panic!(
                "stack: values of shapes {shape:?} and {:?}; stack needs one shape",
                other.shape()
            );
        }
        let mut stacked = shape.to_vec();
        stacked.push(1);
        let axis = axis.resolve(&stacked, "stack");
        let expanded: Vec<Var<'t>> = values.iter().map(|v| v.unsqueeze(axis)).collect();
        Var::concat(&expanded, axis)
    }

    /// Pieces of the given lengths along `axis`, in order: the inverse of
    /// [`concat`](Var::concat) (PyTorch's `split` with a list of sizes).
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value, or the lengths do not add up to its length.
    #[track_caller]
    pub fn split(self, axis: impl Axis, lengths: &[usize]) -> Vec<Var<'t>> {
        let shape = self.shape();
        let axis = axis.resolve(&shape, "split");
        let total: usize = lengths.iter().sum();
        assert!(
            total == shape[axis],
            "split: lengths {lengths:?} add up to {total}, but axis {axis} of shape {shape:?} has \
             length {}",
            shape[axis]
        );
        let mut start = 0;
        lengths
            .iter()
            .map(|&len| {
                let piece = self.narrow(axis, start, len);
                start += len;
                piece
            })
            .collect()
    }

    /// `chunks` pieces along `axis`, each of length `⌈n / chunks⌉` but the last, which may be
    /// shorter (PyTorch's `chunk`; there may be fewer pieces than asked when `n` is small).
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([1.0, 2.0, 3.0, 4.0, 5.0]));
    /// let lengths: Vec<usize> = x.chunk(3, 0).iter().map(|c| c.shape()[0]).collect();
    /// assert_eq!(lengths, [2, 2, 1]);
    /// ```
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value, or `chunks` is 0.
    #[track_caller]
    pub fn chunk(self, chunks: usize, axis: impl Axis) -> Vec<Var<'t>> {
        assert!(chunks > 0, "chunk: needs at least one chunk");
        let shape = self.shape();
        let axis = axis.resolve(&shape, "chunk");
        let n = shape[axis];
        let size = n.div_ceil(chunks).max(1);
        let lengths: Vec<usize> = (0..n).step_by(size).map(|s| size.min(n - s)).collect();
        self.split(axis, &lengths)
    }
}
