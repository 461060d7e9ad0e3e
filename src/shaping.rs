//! [`Var`]'s ops on axes: reductions that keep their axis, reordering axes, adding and removing
//! axes of length 1, variance and standard deviation, triangles and diagonals.
//!
//! Every method here is a composite of primitives (`reshape`, `permute`, `take`/`scatter_add`,
//! `where`) or records one of them; none has a backward rule of its own. Axes may be negative
//! (see [`Axis`]).

use crate::axis::Axis;
use crate::gather::Gather;
use crate::layout::check_permutation;
use crate::op::Op;
use crate::tensor::Tensor;
use crate::var::Var;
use std::sync::Arc;

impl<'t> Var<'t> {
    /// The sum along `axis`, kept with length 1 (PyTorch's `keepdim=True`), so that it
    /// broadcasts back against the value.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([[1.0, 3.0], [2.0, 2.0]]));
    /// let share = x / x.sum_axis_keepdim(-1); // each row divided by its own sum
    /// assert_eq!(share.value(), Tensor::from([[0.25, 0.75], [0.5, 0.5]]));
    /// ```
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value.
    #[track_caller]
    pub fn sum_axis_keepdim(self, axis: impl Axis) -> Var<'t> {
        let axis = axis.resolve(&self.shape(), "sum_axis_keepdim");
        self.sum_axis(axis).unsqueeze(axis)
    }

    /// The mean along `axis`, kept with length 1 (see [`mean_axis`](Var::mean_axis) for why).
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value.
    #[track_caller]
    pub fn mean_axis_keepdim(self, axis: impl Axis) -> Var<'t> {
        let axis = axis.resolve(&self.shape(), "mean_axis_keepdim");
        self.mean_axis(axis).unsqueeze(axis)
    }

    /// The maximum along `axis`, kept with length 1; ties share the gradient.
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value, or has length 0.
    #[track_caller]
    pub fn max_axis_keepdim(self, axis: impl Axis) -> Var<'t> {
        let axis = axis.resolve(&self.shape(), "max_axis_keepdim");
        self.max_axis(axis).unsqueeze(axis)
    }

    /// The minimum along `axis`, which is removed (`−max(−x)`); ties share the gradient.
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value, or has length 0.
    #[track_caller]
    pub fn min_axis(self, axis: impl Axis) -> Var<'t> {
        -(-self).max_axis(axis)
    }

    /// The minimum along `axis`, kept with length 1.
    ///
    /// # Panics
    ///
    /// As [`min_axis`](Var::min_axis).
    #[track_caller]
    pub fn min_axis_keepdim(self, axis: impl Axis) -> Var<'t> {
        let axis = axis.resolve(&self.shape(), "min_axis_keepdim");
        self.min_axis(axis).unsqueeze(axis)
    }

    /// The product along `axis`, kept with length 1 (see [`prod_axis`](Var::prod_axis), whose
    /// gradient is exact at zeros).
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([[1.0, 2.0], [3.0, 4.0]]));
    /// assert_eq!(x.prod_axis_keepdim(0).value(), Tensor::from([[3.0, 8.0]]));
    /// ```
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value.
    #[track_caller]
    pub fn prod_axis_keepdim(self, axis: impl Axis) -> Var<'t> {
        let axis = axis.resolve(&self.shape(), "prod_axis_keepdim");
        self.prod_axis(axis).unsqueeze(axis)
    }

    /// `log Σ eˣ` along `axis`, kept with length 1.
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value.
    #[track_caller]
    pub fn logsumexp_keepdim(self, axis: impl Axis) -> Var<'t> {
        let axis = axis.resolve(&self.shape(), "logsumexp_keepdim");
        self.logsumexp(axis).unsqueeze(axis)
    }

    /// The variance along `axis`, which is removed: `Σ (x − mean)² / (n − correction)`, as
    /// PyTorch's `var(dim, correction=…)`: `correction = 1` is the unbiased sample variance
    /// (PyTorch's default), `0` the population variance. Where `n ≤ correction` the result is
    /// infinite or NaN, as in PyTorch.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([[1.0, 2.0, 3.0, 6.0]]));
    /// // mean 3; squared deviations 4 + 1 + 0 + 9 = 14.
    /// assert_eq!(x.var(-1, 1.0).value(), Tensor::from([14.0 / 3.0]));
    /// assert_eq!(x.var(-1, 0.0).value(), Tensor::from([14.0 / 4.0]));
    /// assert_eq!(x.std(1, 0.0).value(), Tensor::from([3.5f64.sqrt()]));
    /// ```
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value.
    #[track_caller]
    pub fn var(self, axis: impl Axis, correction: f64) -> Var<'t> {
        let axis = axis.resolve(&self.shape(), "var");
        let n = self.shape()[axis] as f64;
        let deviation = self - self.mean_axis_keepdim(axis);
        deviation.square().sum_axis(axis) / (n - correction)
    }

    /// The standard deviation along `axis`, which is removed: `√var(axis, correction)`.
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value.
    #[track_caller]
    pub fn std(self, axis: impl Axis, correction: f64) -> Var<'t> {
        self.var(axis, correction).sqrt()
    }

    /// The variance along `axis`, kept with length 1 (see [`var`](Var::var)).
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value.
    #[track_caller]
    pub fn var_keepdim(self, axis: impl Axis, correction: f64) -> Var<'t> {
        let axis = axis.resolve(&self.shape(), "var_keepdim");
        self.var(axis, correction).unsqueeze(axis)
    }

    /// The standard deviation along `axis`, kept with length 1, so that
    /// `(x - x.mean_axis_keepdim(-1)) / x.std_keepdim(-1, 0.0)` standardises each row.
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value.
    #[track_caller]
    pub fn std_keepdim(self, axis: impl Axis, correction: f64) -> Var<'t> {
        let axis = axis.resolve(&self.shape(), "std_keepdim");
        self.std(axis, correction).unsqueeze(axis)
    }

    /// The value with its axes reordered: axis `i` of the result is axis `axes[i]` of the value
    /// (PyTorch's `permute`, numpy's `transpose(axes)`). Axes may be negative.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from_fn(&[2, 3, 4], |i| i as f64));
    /// let y = x.permute(&[-1, 0, 1]);
    /// assert_eq!(y.shape(), [4, 2, 3]);
    /// assert_eq!(y.value().data()[1], x.value().data()[4]); // y[0, 0, 1] = x[0, 1, 0]
    /// ```
    ///
    /// # Panics
    ///
    /// If `axes` does not name every axis exactly once.
    #[track_caller]
    pub fn permute<A: Axis>(self, axes: &[A]) -> Var<'t> {
        let shape = self.shape();
        let perm: Vec<usize> = axes.iter().map(|a| a.resolve(&shape, "permute")).collect();
        check_permutation(&shape, &perm, "permute");
        self.tape().record(Op::Permute(self.id(), Box::new(perm)))
    }

    /// The value with axes `a` and `b` exchanged (PyTorch's `transpose(a, b)`, numpy's
    /// `swapaxes`); `swap_axes(-1, -2)` transposes each matrix of a batch.
    ///
    /// # Panics
    ///
    /// If `a` or `b` is not an axis of the value.
    #[track_caller]
    pub fn swap_axes(self, a: impl Axis, b: impl Axis) -> Var<'t> {
        let shape = self.shape();
        let (a, b) = (
            a.resolve(&shape, "swap_axes"),
            b.resolve(&shape, "swap_axes"),
        );
        let mut perm: Vec<usize> = (0..shape.len()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// The value with a new axis of length 1 at position `axis`, which counts from the end
    /// when negative (`-1` appends one), as PyTorch's `unsqueeze`.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([1.0, 2.0]));
    /// assert_eq!(x.unsqueeze(0).shape(), [1, 2]);
    /// assert_eq!(x.unsqueeze(-1).shape(), [2, 1]);
    /// assert_eq!(x.unsqueeze(-1).squeeze(1).shape(), [2]);
    /// ```
    ///
    /// # Panics
    ///
    /// If `axis` is not a position in the longer shape.
    #[track_caller]
    pub fn unsqueeze(self, axis: impl Axis) -> Var<'t> {
        let mut shape = self.shape().to_vec();
        shape.push(1); // the longer shape's axes, to resolve against
        let axis = axis.resolve(&shape, "unsqueeze");
        shape.pop();
        shape.insert(axis, 1);
        self.reshape(&shape)
    }

    /// The value without its axis `axis`, which must have length 1 (numpy refuses any other
    /// length too, where PyTorch would return the value unchanged without a word).
    ///
    /// # Panics
    ///
    /// If `axis` is not a dimension of the value, or its length is not 1.
    #[track_caller]
    pub fn squeeze(self, axis: impl Axis) -> Var<'t> {
        let mut shape = self.shape().to_vec();
        let axis = axis.resolve(&shape, "squeeze");
        assert!(
            shape[axis] == 1,
            "squeeze: axis {axis} of shape {shape:?} has length {}, not 1",
            shape[axis]
        );
        shape.remove(axis);
        self.reshape(&shape)
    }

    /// The lower triangle of each matrix in the last two axes: the elements with
    /// `column ≤ row + k`, zeros elsewhere (numpy's and PyTorch's `tril(x, k)`; `k = 0` keeps
    /// the diagonal, `-1` starts below it). The gradient passes to the kept elements only.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([[1.0, 2.0], [3.0, 4.0]]));
    /// assert_eq!(x.tril(0).value(), Tensor::from([[1.0, 0.0], [3.0, 4.0]]));
    /// assert_eq!(x.triu(1).value(), Tensor::from([[0.0, 2.0], [0.0, 0.0]]));
    /// ```
    ///
    /// # Panics
    ///
    /// If the value has fewer than two dimensions.
    #[track_caller]
    pub fn tril(self, k: i64) -> Var<'t> {
        self.triangle("tril", move |row, col| col <= row + k)
    }

    /// The upper triangle of each matrix in the last two axes: the elements with
    /// `column ≥ row + k`, zeros elsewhere (numpy's and PyTorch's `triu(x, k)`).
    ///
    /// # Panics
    ///
    /// If the value has fewer than two dimensions.
    #[track_caller]
    pub fn triu(self, k: i64) -> Var<'t> {
        self.triangle("triu", move |row, col| col >= row + k)
    }

    /// The elements of each matrix where `keep(row, column)`, zeros elsewhere, through `where`
    /// so that an infinite element outside is dropped rather than multiplied by 0.
    #[track_caller]
    fn triangle(self, op: &str, keep: impl Fn(i64, i64) -> bool) -> Var<'t> {
        let shape = self.shape();
        assert!(
            shape.len() >= 2,
            "{op}: needs a matrix or a batch of matrices, got shape {shape:?}"
        );
        let (rows, cols) = (shape[shape.len() - 2], shape[shape.len() - 1]);
        let mask = Tensor::from_fn(&[rows, cols], |i| {
            f64::from(keep((i / cols.max(1)) as i64, (i % cols.max(1)) as i64))
        });
        let tape = self.tape();
        Var::where_(tape.constant(mask), self, tape.constant(0.0))
    }

    /// A matrix (or a batch of them, one per leading index) whose lower triangle
    /// `column ≤ row + k` is filled row by row from the last axis of this value, zeros
    /// elsewhere: `m[np.tril_indices(n, k)] = v` in numpy. The Cholesky-factor
    /// parameterisation of a covariance: with `k = -1` the strictly lower part.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let v = tape.param(Tensor::from([1.0, 2.0, 3.0]));
    /// let l = v.tril_from_vec(3, -1); // three elements below the diagonal of a 3 × 3
    /// assert_eq!(
    ///     l.value(),
    ///     Tensor::from([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 3.0, 0.0]])
    /// );
    /// ```
    ///
    /// # Panics
    ///
    /// If the value is a scalar, or its last axis does not hold exactly as many elements as
    /// that triangle of an `n × n` matrix.
    #[track_caller]
    pub fn tril_from_vec(self, n: usize, k: i64) -> Var<'t> {
        let shape = self.shape();
        let Some((&len, batch)) = shape.split_last() else {
            panic!("tril_from_vec: needs a vector or a batch of them, got a scalar");
        };
        let mut source = batch.to_vec();
        source.extend([n, n]);
        let gather = Gather::lower_triangle(&source, k);
        assert!(
            gather.shape()[..] == shape[..],
            "tril_from_vec: the triangle j ≤ i + {k} of a {n} × {n} matrix holds {} elements, \
             but the last axis of shape {shape:?} has {len}",
            gather.shape().last().copied().unwrap_or(0)
        );
        self.tape()
            .record(Op::ScatterAdd(self.id(), Arc::new(gather)))
    }

    /// The diagonal of a matrix, or the diagonals of a batch of them, in the last two axes
    /// (numpy's `diagonal(x, axis1=-2, axis2=-1)`); the inverse of
    /// [`diag_embed`](Var::diag_embed).
    ///
    /// # Panics
    ///
    /// If the last two axes are not of one length.
    #[track_caller]
    pub fn diagonal(self) -> Var<'t> {
        let shape = self.shape();
        assert!(
            shape.len() >= 2 && shape[shape.len() - 1] == shape[shape.len() - 2],
            "diagonal: needs square matrices in the last two axes, got shape {shape:?}"
        );
        let gather = Gather::diagonal(&shape);
        self.tape().record(Op::Take(self.id(), Arc::new(gather)))
    }

    /// Square matrices with this value's last axis on their diagonals and zeros elsewhere
    /// (PyTorch's `diag_embed`): `[…, n] → […, n, n]`.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let d = tape.param(Tensor::from([2.0, 3.0]));
    /// let m = d.diag_embed();
    /// assert_eq!(m.value(), Tensor::from([[2.0, 0.0], [0.0, 3.0]]));
    /// assert_eq!(m.diagonal().value(), d.value());
    /// ```
    ///
    /// # Panics
    ///
    /// If the value is a scalar.
    #[track_caller]
    pub fn diag_embed(self) -> Var<'t> {
        let shape = self.shape();
        let &n = shape.last().unwrap_or_else(|| {
            panic!("diag_embed: needs a vector or a batch of them, got a scalar")
        });
        let mut source = shape.to_vec();
        source.push(n);
        let gather = Gather::diagonal(&source);
        self.tape()
            .record(Op::ScatterAdd(self.id(), Arc::new(gather)))
    }
}
