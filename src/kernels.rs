//! The numeric kernels on [`Tensor`]: elementwise maps with broadcasting, reductions and shape
//! changes (the matrix product is in `matmul.rs`).
//!
//! Every loop that sums runs left to right in index order, as plain float64 arithmetic would:
//! results are reproducible to the bit, and the article's trace depends on it. Shape errors
//! panic with the op's name and both shapes, pointing at the caller's line (`#[track_caller]`).
//! Nothing here knows about the tape.

use crate::shape::{Shape, broadcast_shapes, broadcast_strides, broadcasts_to, for_each_run};
use crate::tensor::{Tensor, allocate};

pub(crate) mod parallel;

impl Tensor {
    /// A tensor of the same shape with `f` applied to every element.
    ///
    /// ```
    /// use tapegrad::Tensor;
    /// let t = Tensor::from([1.0, 4.0, 9.0]).map(f64::sqrt);
    /// assert_eq!(t.data(), &[1.0, 2.0, 3.0]);
    /// ```
    #[inline]
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Tensor {
        match self.as_scalar() {
            Some(x) => Tensor::scalar(f(x)),
            None => self.map_dense(f),
        }
    }

    /// [`map`](Tensor::map) for a tensor with a buffer, out of line so that the scalar case
    /// inlines small.
    #[inline(never)]
    fn map_dense(&self, f: impl Fn(f64) -> f64) -> Tensor {
        Tensor::from_parts(
            self.shape_owned(),
            self.data().iter().map(|&x| f(x)).collect(),
        )
    }

    /// Like [`map`](Tensor::map), but writes into this tensor's buffer when it is unshared.
    #[inline]
    pub(crate) fn map_into(mut self, f: impl Fn(f64) -> f64 + Sync) -> Tensor {
        if let Some(x) = self.as_scalar() {
            return Tensor::scalar(f(x));
        }
        if self.is_shared() {
            return self.map(f); // one pass into a new buffer, not a copy and then a pass
        }
        parallel::update(self.data_mut(), f);
        self
    }

    /// `f(a, b)` elementwise over the broadcast shape of `self` and `other`.
    ///
    /// # Panics
    ///
    /// If the shapes do not broadcast; the message names `op` (e.g. `"add: …"`).
    #[track_caller]
    #[inline]
    pub(crate) fn zip_with(&self, other: &Tensor, op: &str, f: impl Fn(f64, f64) -> f64) -> Tensor {
        match (self.as_scalar(), other.as_scalar()) {
            (Some(x), Some(y)) => Tensor::scalar(f(x, y)),
            _ => self.zip_with_dense(other, op, f),
        }
    }

    /// [`zip_with`](Tensor::zip_with) when an operand has a buffer, out of line so that the
    /// scalar case inlines small.
    #[track_caller]
    #[inline(never)]
    fn zip_with_dense(&self, other: &Tensor, op: &str, f: impl Fn(f64, f64) -> f64) -> Tensor {
        let (a, b) = (self.data(), other.data());
        if self.shape() == other.shape() {
            let data = a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect();
            return Tensor::from_parts(self.shape_owned(), data);
        }
        let shape = broadcast_shape_or_panic(self.shape(), other.shape(), op);
        let mut data = Vec::with_capacity(shape.size());
        if shape == *self.shape() && b.len() == 1 {
            data.extend(a.iter().map(|&x| f(x, b[0])));
        } else if shape == *other.shape() && a.len() == 1 {
            data.extend(b.iter().map(|&y| f(a[0], y)));
        } else if shape == *self.shape() && repeats_as_rows(other.shape(), &shape) {
            // A bias added to every row: whole rows, with no offsets to work out.
            for row in a.chunks_exact(b.len()) {
                data.extend(row.iter().zip(b).map(|(&x, &y)| f(x, y)));
            }
        } else if shape == *other.shape() && repeats_as_rows(self.shape(), &shape) {
            for row in b.chunks_exact(a.len()) {
                data.extend(a.iter().zip(row).map(|(&x, &y)| f(x, y)));
            }
        } else {
            // A run of the last axis at a time: a slice of an operand that varies along it, or
            // one element of an operand broadcast along it.
            let sa = broadcast_strides(self.shape(), &shape);
            let sb = broadcast_strides(other.shape(), &shape);
            for_each_run(&shape, [&sa, &sb], |_, [i, j], len, steps| match steps {
                [1, 1] => data.extend(
                    a[i..i + len]
                        .iter()
                        .zip(&b[j..j + len])
                        .map(|(&x, &y)| f(x, y)),
                ),
                [1, 0] => data.extend(a[i..i + len].iter().map(|&x| f(x, b[j]))),
                [0, 1] => data.extend(b[j..j + len].iter().map(|&y| f(a[i], y))),
                [da, db] => data.extend((0..len).map(|t| f(a[i + t * da], b[j + t * db]))),
            });
        }
        Tensor::from_parts(shape, data)
    }

    /// Like [`zip_with`](Tensor::zip_with), but writes into `self`'s buffer when it is unshared
    /// and already has the result's shape.
    #[track_caller]
    pub(crate) fn zip_into(
        mut self,
        other: &Tensor,
        op: &str,
        f: impl Fn(f64, f64) -> f64 + Sync,
    ) -> Tensor {
        if !broadcasts_to(other.shape(), self.shape()) || self.is_shared() {
            return self.zip_with(other, op, f);
        }
        let b = other.data();
        if b.len() == 1 {
            return self.map_into(|x| f(x, b[0]));
        }
        if self.shape() == other.shape() || repeats_as_rows(other.shape(), self.shape()) {
            // `b` as long as `self`, or one row of it repeated.
            parallel::update_with_rows(self.data_mut(), b, f);
            return self;
        }
        let shape = self.shape_owned();
        let sb = broadcast_strides(other.shape(), &shape);
        let a = self.data_mut();
        for_each_run(&shape, [&sb], |i, [j], len, [step]| {
            let run = &mut a[i..i + len];
            match step {
                0 => run.iter_mut().for_each(|x| *x = f(*x, b[j])),
                1 => run
                    .iter_mut()
                    .zip(&b[j..j + len])
                    .for_each(|(x, &y)| *x = f(*x, y)),
                _ => run
                    .iter_mut()
                    .enumerate()
                    .for_each(|(t, x)| *x = f(*x, b[j + t * step])),
            }
        });
        self
    }

    /// The sum of all elements, left to right.
    ///
    /// ```
    /// use tapegrad::Tensor;
    /// assert_eq!(Tensor::from([[1.0, 2.0], [3.0, 4.0]]).sum(), 10.0);
    /// ```
    pub fn sum(&self) -> f64 {
        self.data().iter().fold(0.0, |acc, &x| acc + x)
    }

    /// The product of all elements, left to right; 1 for a tensor of no elements.
    ///
    /// ```
    /// use tapegrad::Tensor;
    /// assert_eq!(Tensor::from([[1.0, 2.0], [3.0, 4.0]]).prod(), 24.0);
    /// assert_eq!(Tensor::zeros(&[2, 0]).prod(), 1.0);
    /// ```
    pub fn prod(&self) -> f64 {
        self.data().iter().fold(1.0, |acc, &x| acc * x)
    }

    /// Folds along `axis` (removing it) with `f`, starting from `init`, in index order.
    #[track_caller]
    pub(crate) fn fold_axis(
        &self,
        axis: usize,
        op: &str,
        init: f64,
        f: impl Fn(f64, f64) -> f64 + Sync,
    ) -> Tensor {
        check_axis(self.shape(), axis, op);
        let shape = self.shape_owned();
        let (outer, len, inner) = shape.split_at_axis(axis);
        let x = self.data();
        if inner == 1 && len > 0 {
            // Along the last axis (a softmax over classes): each lane is a contiguous run, folded
            // by one loop rather than `len` one-element slices (W2's log-softmax: see
            // docs/performance.md, "What the engine does for speed").
            let out = x
                .chunks_exact(len)
                .map(|lane| lane.iter().fold(init, |acc, &v| f(acc, v)))
                .collect();
            return Tensor::from_parts(shape.without_axis(axis), out);
        }
        let mut out = vec![init; outer * inner];
        // Each output row folds `len` rows of the input, one after another.
        parallel::for_each_rows(&mut out, inner, x.len(), |first, rows| {
            for (o, row) in (first..).zip(rows.chunks_exact_mut(inner.max(1))) {
                for a in 0..len {
                    let start = (o * len + a) * inner;
                    for (acc, &v) in row.iter_mut().zip(&x[start..start + inner]) {
                        *acc = f(*acc, v);
                    }
                }
            }
        });
        Tensor::from_parts(shape.without_axis(axis), out)
    }

    /// `Π_{j≠i} xⱼ` along `axis` at each position `i` (the tensor keeps its shape): an
    /// exclusive prefix product times an exclusive suffix product per lane, two passes and no
    /// division, so zeros and infinities give the exact product of the others.
    pub(crate) fn prod_except_axis(&self, axis: usize) -> Tensor {
        check_axis(self.shape(), axis, "prod_axis");
        let shape = self.shape_owned();
        let (outer, len, inner) = shape.split_at_axis(axis);
        let x = self.data();
        let mut out = vec![0.0; x.len()];
        // One running product per lane of a block, the lanes being `inner` apart.
        let mut running = vec![1.0; inner];
        for o in 0..outer {
            let block = o * len * inner;
            running.fill(1.0);
            for a in 0..len {
                let at = block + a * inner;
                let lanes = out[at..at + inner].iter_mut().zip(&x[at..at + inner]);
                for ((z, &v), p) in lanes.zip(&mut running) {
                    *z = *p; // the elements before this one
                    *p *= v;
                }
            }
            running.fill(1.0);
            for a in (0..len).rev() {
                let at = block + a * inner;
                let lanes = out[at..at + inner].iter_mut().zip(&x[at..at + inner]);
                for ((z, &v), p) in lanes.zip(&mut running) {
                    *z *= *p; // times those after it
                    *p *= v;
                }
            }
        }
        Tensor::from_parts(shape, out)
    }

    /// Repeats this tensor `len` times along a new axis inserted at `axis`: the inverse shape
    /// change of a reduction along `axis`, used to send its gradient back.
    pub(crate) fn expand_axis(&self, axis: usize, len: usize) -> Tensor {
        let (outer, _, inner) = {
            let mut with_one = self.shape().to_vec();
            with_one.insert(axis, 1);
            Shape::from(with_one).split_at_axis(axis)
        };
        let x = self.data();
        let mut data = Vec::with_capacity(outer * len * inner);
        if inner == 1 {
            // A new last axis: each element repeated in place (see `fold_axis`).
            for &v in x {
                data.extend(std::iter::repeat_n(v, len));
            }
        } else {
            for o in 0..outer {
                for _ in 0..len {
                    data.extend_from_slice(&x[o * inner..(o + 1) * inner]);
                }
            }
        }
        let mut shape = self.shape().to_vec();
        shape.insert(axis, len);
        Tensor::from_parts(Shape::from(shape), data)
    }

    /// This tensor repeated along new or size-1 dimensions to `shape` (numpy's `broadcast_to`).
    ///
    /// # Panics
    ///
    /// If the shape does not broadcast to `shape`.
    #[track_caller]
    pub(crate) fn broadcast_to(&self, shape: &[usize]) -> Tensor {
        assert!(
            broadcasts_to(self.shape(), shape),
            "broadcast_to: cannot broadcast {:?} to {:?}",
            self.shape(),
            shape
        );
        if self.shape() == shape {
            return self.clone();
        }
        let target = Shape::from(shape);
        let (mut data, size) = allocate("broadcast_to", &target);
        if let [x] = self.data() {
            data.resize(size, *x); // the gradient of a sum or a mean
            return Tensor::from_parts(target, data);
        }
        let x = self.data();
        let strides = broadcast_strides(self.shape(), shape);
        for_each_run(shape, [&strides], |_, [i], len, [step]| match step {
            0 => data.resize(data.len() + len, x[i]),
            1 => data.extend_from_slice(&x[i..i + len]),
            _ => data.extend((0..len).map(|t| x[i + t * step])),
        });
        Tensor::from_parts(target, data)
    }

    /// Sums over the dimensions that broadcasting added, giving a tensor of `shape`: the reverse
    /// of `broadcast_to`, and how a gradient returns to the shape of a broadcast operand.
    pub(crate) fn sum_to_shape(&self, shape: &[usize]) -> Tensor {
        if self.shape() == shape {
            return self.clone(); // the buffer shared, not copied
        }
        self.sum_to_shape_of(shape, |x| x)
    }

    /// [`sum_to_shape`](Tensor::sum_to_shape) of `f` applied to each element, in one pass.
    pub(crate) fn sum_to_shape_of(&self, shape: &[usize], f: impl Fn(f64) -> f64 + Sync) -> Tensor {
        debug_assert!(
            broadcasts_to(shape, self.shape()),
            "{shape:?} ← {:?}",
            self.shape()
        );
        if self.shape() == shape {
            return self.map(f);
        }
        let x = self.data();
        let target = Shape::from(shape);
        if target.size() == 1 {
            let sum = x.iter().fold(0.0, |acc, &v| acc + f(v));
            return Tensor::from_parts(target, vec![sum]);
        }
        let mut out = vec![0.0; target.size()];
        if repeats_as_rows(shape, self.shape()) {
            // The common case of a bias: add whole rows, one after another.
            for row in x.chunks_exact(out.len()) {
                for (acc, &v) in out.iter_mut().zip(row) {
                    *acc += f(v);
                }
            }
        } else {
            // Each run adds into a slice of the result, or, where the result is broadcast along
            // the run, into one element, left to right as element by element would.
            let add_runs = |x: &[f64], shape: &[usize], strides: &[usize], out: &mut [f64]| {
                for_each_run(shape, [strides], |i, [j], len, [step]| {
                    let run = &x[i..i + len];
                    match step {
                        0 => out[j] = run.iter().fold(out[j], |acc, &v| acc + f(v)),
                        1 => out[j..j + len]
                            .iter_mut()
                            .zip(run)
                            .for_each(|(acc, &v)| *acc += f(v)),
                        _ => run
                            .iter()
                            .enumerate()
                            .for_each(|(t, &v)| out[j + t * step] += f(v)),
                    }
                });
            };
            let strides = broadcast_strides(shape, self.shape());
            match (self.shape().split_first(), strides.first()) {
                // The result keeps the first axis (the GMM's [K, d, n] → [K, d, 1]): each index
                // along it sums into its own row of the result, so blocks of them can run on
                // all cores, each sum still in index order.
                (Some((_, rest)), Some(&out_row)) if out_row > 0 => {
                    let in_row: usize = rest.iter().product();
                    parallel::for_each_rows(&mut out, out_row, x.len(), |first, rows| {
                        for (r, out) in rows.chunks_exact_mut(out_row).enumerate() {
                            let at = (first + r) * in_row;
                            add_runs(&x[at..at + in_row], rest, &strides[1..], out);
                        }
                    });
                }
                _ => add_runs(x, self.shape(), &strides, &mut out),
            }
        }
        Tensor::from_parts(target, out)
    }

    /// The transpose of a 2-D tensor (rows become columns).
    ///
    /// # Panics
    ///
    /// If the tensor is not 2-D.
    #[track_caller]
    pub fn transpose(&self) -> Tensor {
        let &[rows, cols] = self.shape() else {
            panic!(
                "transpose: needs a 2-D tensor, got shape {:?}",
                self.shape()
            );
        };
        let x = self.data();
        let data = (0..cols * rows)
            .map(|i| x[(i % rows) * cols + i / rows])
            .collect();
        Tensor::from_parts(Shape::from([cols, rows]), data)
    }

    /// `log Σ exp(x)` along `axis` (removing it), computed as `m + log Σ exp(x − m)` with `m`
    /// the maximum, so that large values do not overflow.
    #[track_caller]
    pub(crate) fn logsumexp_axis(&self, axis: usize, op: &str) -> Tensor {
        let (shift, log_sum) = self.logsumexp_parts(axis, op);
        shift + &log_sum
    }

    /// `x − log Σ exp(x)` along `axis`, computed as `(x − m) − log Σ exp(x − m)`: subtracting
    /// the two small terms last keeps the result accurate to the last bits even for large x,
    /// where subtracting the large `m + log Σ …` would lose them.
    #[track_caller]
    pub(crate) fn log_softmax_axis(&self, axis: usize, op: &str) -> Tensor {
        let (shift, log_sum) = self.logsumexp_parts(axis, op);
        let len = self.shape()[axis];
        let centred = self.zip_with(&shift.expand_axis(axis, len), op, |x, m| x - m);
        centred.zip_into(&log_sum.expand_axis(axis, len), op, |c, l| c - l)
    }

    /// `(m, log Σ exp(x − m))` along `axis`, with `m` the maximum: the two parts of a stable
    /// logsumexp.
    #[track_caller]
    fn logsumexp_parts(&self, axis: usize, op: &str) -> (Tensor, Tensor) {
        let max = self.fold_axis(axis, op, f64::NEG_INFINITY, f64::max);
        // An all -inf (or +inf) slice would give inf - inf = NaN; shifting by 0 there keeps the
        // exact answer (-inf, or +inf), as JAX and SciPy do.
        let shift = max.map_into(|m| if m.is_finite() { m } else { 0.0 });
        let len = self.shape()[axis];
        let exp = self.zip_with(&shift.expand_axis(axis, len), op, |x, m| (x - m).exp());
        let log_sum = exp
            .fold_axis(axis, op, 0.0, |acc, v| acc + v)
            .map_into(f64::ln);
        (shift, log_sum)
    }
}

/// The broadcast shape of two operands.
///
/// # Panics
///
/// If they do not broadcast, with a message naming `op` and both shapes.
#[track_caller]
pub(crate) fn broadcast_shape_or_panic(lhs: &[usize], rhs: &[usize], op: &str) -> Shape {
    match broadcast_shapes(lhs, rhs) {
        Some(shape) => shape,
        None => panic!("{op}: shapes cannot be broadcast together: {lhs:?} and {rhs:?}"),
    }
}

/// Panics unless `axis` is a dimension of `shape`.
#[track_caller]
pub(crate) fn check_axis(shape: &[usize], axis: usize, op: &str) {
    assert!(
        axis < shape.len(),
        "{op}: axis {axis} is out of range for shape {shape:?}"
    );
}

/// Whether `small`, broadcast to `big`, is its elements repeated whole, one copy per row of
/// `big`: a bias `[n]` or `[1, n]` against `[m, n]`. The kernels then work row by row, with
/// no offsets to compute.
fn repeats_as_rows(small: &[usize], big: &[usize]) -> bool {
    let first_real = small.iter().position(|&d| d != 1).unwrap_or(small.len());
    let size: usize = small.iter().product();
    !small.is_empty() && size > 0 && big.ends_with(&small[first_real..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::for_each_offset;

    #[test]
    fn zip_with_broadcasts_like_numpy() {
        let a = Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        let row = Tensor::from([10.0, 20.0, 30.0]);
        let col = Tensor::from([[100.0], [200.0]]);
        let sum = |x: &Tensor, y: &Tensor| x.zip_with(y, "add", |p, q| p + q);
        assert_eq!(
            sum(&a, &row),
            Tensor::from([[11.0, 22.0, 33.0], [14.0, 25.0, 36.0]])
        );
        assert_eq!(sum(&row, &a), sum(&a, &row));
        assert_eq!(
            sum(&col, &row),
            Tensor::from([[110.0, 120.0, 130.0], [210.0, 220.0, 230.0]])
        );
        assert_eq!(
            sum(&a, &Tensor::scalar(1.0)).data(),
            &[2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
        );
        let owned = a.clone().zip_into(&col, "add", |p, q| p + q);
        assert_eq!(
            owned,
            Tensor::from([[101.0, 102.0, 103.0], [204.0, 205.0, 206.0]])
        );
        assert_eq!(a.data()[0], 1.0, "a shared buffer is never written");
    }

    #[test]
    fn row_broadcasts_match_the_general_path_and_empty_tensors_pass() {
        let a = Tensor::from_fn(&[3, 2, 4], |i| i as f64);
        for bias in [&[4][..], &[1, 4], &[2, 4], &[1, 2, 4]] {
            let b = Tensor::from_fn(bias, |i| 10.0 * i as f64 + 0.5);
            let by_offsets = |x: &Tensor, y: &Tensor| {
                let shape = broadcast_shapes(x.shape(), y.shape()).unwrap();
                let (sx, sy) = (
                    broadcast_strides(x.shape(), &shape),
                    broadcast_strides(y.shape(), &shape),
                );
                let mut data = Vec::new();
                for_each_offset(&shape, [&sx, &sy], |_, [i, j]| {
                    data.push(x.data()[i] - y.data()[j]);
                });
                Tensor::from_vec(data, &shape).unwrap()
            };
            let sub = |x: f64, y: f64| x - y;
            assert_eq!(a.zip_with(&b, "sub", sub), by_offsets(&a, &b), "{bias:?}");
            assert_eq!(b.zip_with(&a, "sub", sub), by_offsets(&b, &a), "{bias:?}");
            assert_eq!(a.clone().zip_into(&b, "sub", sub), by_offsets(&a, &b));
            let summed = a.sum_to_shape(bias);
            let expected = Tensor::from_fn(bias, |j| {
                let n = b.data().len();
                a.data().iter().skip(j).step_by(n).sum()
            });
            assert_eq!(summed, expected, "{bias:?}");
        }
        let empty = Tensor::zeros(&[3, 0]);
        assert_eq!(
            empty
                .zip_with(&Tensor::zeros(&[0]), "add", |x, y| x + y)
                .shape(),
            &[3, 0]
        );
        assert_eq!(empty.sum_to_shape(&[0]).shape(), &[0]);
        assert_eq!(empty.sum_to_shape(&[1, 0]).shape(), &[1, 0]);
    }

    #[test]
    fn large_sums_to_a_shape_split_over_the_first_axis_match_element_by_element() {
        // Over `parallel::MIN_ELEMENTS`, so the blocks of the first axis may run on two cores.
        let big = Tensor::from_fn(&[5, 3, 30_000], |i| {
            ((i * 7919) % 1013) as f64 * 0.37 - 150.0
        });
        for target in [
            &[5, 3, 1][..],
            &[5, 1, 30_000],
            &[5, 1, 1],
            &[3, 1],
            &[1, 3, 30_000],
        ] {
            let strides = broadcast_strides(target, big.shape());
            let mut expected = vec![0.0; Shape::from(target).size()];
            for_each_offset(big.shape(), [&strides], |i, [j]| {
                expected[j] -= big.data()[i]
            });
            let negated = big.sum_to_shape_of(target, |x| -x);
            assert_eq!(negated.data(), expected, "{target:?}");
            assert_eq!(big.sum_to_shape(target), -negated, "{target:?}");
        }
    }

    #[test]
    #[should_panic(expected = "add: shapes cannot be broadcast together: [2, 3] and [2]")]
    fn zip_with_panics_on_incompatible_shapes() {
        let _ = Tensor::zeros(&[2, 3]).zip_with(&Tensor::zeros(&[2]), "add", |p, q| p + q);
    }

    #[test]
    fn reductions_and_their_inverses() {
        let a = Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        assert_eq!(
            a.fold_axis(0, "sum_axis", 0.0, |s, v| s + v),
            Tensor::from([5.0, 7.0, 9.0])
        );
        assert_eq!(
            a.fold_axis(1, "sum_axis", 0.0, |s, v| s + v),
            Tensor::from([6.0, 15.0])
        );
        let col = Tensor::from([1.0, 2.0]).expand_axis(1, 3);
        assert_eq!(col, Tensor::from([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]));
        let row = Tensor::from([1.0, 2.0]).expand_axis(0, 2);
        assert_eq!(row, Tensor::from([[1.0, 2.0], [1.0, 2.0]]));
        assert_eq!(a.sum_to_shape(&[3]), Tensor::from([5.0, 7.0, 9.0]));
        assert_eq!(a.sum_to_shape(&[2, 1]), Tensor::from([[6.0], [15.0]]));
        assert_eq!(a.sum_to_shape(&[]), Tensor::scalar(21.0));
        assert_eq!(a.sum_to_shape(&[1, 1]), Tensor::from([[21.0]]));
        let b = Tensor::from([[1.0], [2.0]]).broadcast_to(&[2, 2]);
        assert_eq!(b, Tensor::from([[1.0, 1.0], [2.0, 2.0]]));
    }

    #[test]
    fn last_axis_folds_in_index_order_and_keeps_empty_lanes() {
        // `2·acc + v` tells the order of a fold apart: lane [1, 2, 3] gives ((1)·2 + 2)·2 + 3.
        let order = |acc: f64, v: f64| 2.0 * acc + v;
        let a = Tensor::from_fn(&[2, 2, 3], |i| i as f64 + 1.0);
        let folded = a.fold_axis(2, "fold", 0.0, order);
        assert_eq!(folded, Tensor::from([[11.0, 32.0], [53.0, 74.0]]));
        // The same lanes as the middle axis of the transpose, folded by the general loop.
        let lanes_in_middle = Tensor::from_fn(&[2, 3, 2], |i| {
            let (o, a, n) = (i / 6, i / 2 % 3, i % 2);
            (o * 6 + n * 3 + a) as f64 + 1.0
        });
        assert_eq!(lanes_in_middle.fold_axis(1, "fold", 0.0, order), folded);
        let empty_lanes = Tensor::zeros(&[2, 0]);
        assert_eq!(
            empty_lanes.fold_axis(1, "fold", -1.0, order),
            Tensor::from([-1.0, -1.0])
        );
        assert_eq!(Tensor::from([1.0, 2.0]).expand_axis(1, 0).shape(), [2, 0]);
    }

    #[test]
    fn transpose_and_matmul() {
        let a = Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        assert_eq!(
            a.transpose(),
            Tensor::from([[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]])
        );
        let v = Tensor::from([1.0, 0.0, -1.0]);
        assert_eq!(a.matmul(&v), Tensor::from([-2.0, -2.0]));
        assert_eq!(
            Tensor::from([1.0, 1.0]).matmul(&a),
            Tensor::from([5.0, 7.0, 9.0])
        );
        assert_eq!(v.matmul(&v), Tensor::scalar(2.0));
        assert_eq!(
            a.matmul(&a.transpose()),
            Tensor::from([[14.0, 32.0], [32.0, 77.0]])
        );
    }

    #[test]
    #[should_panic(expected = "matmul: inner dimensions differ: [4, 2] · [3]")]
    fn matmul_panics_on_inner_dimension_mismatch() {
        let _ = Tensor::zeros(&[4, 2]).matmul(&Tensor::zeros(&[3]));
    }

    #[test]
    fn logsumexp_does_not_overflow() {
        let x = Tensor::from([[1000.0, 1000.0], [f64::NEG_INFINITY, f64::NEG_INFINITY]]);
        let lse = x.logsumexp_axis(1, "logsumexp");
        assert_eq!(lse.data()[0], 1000.0 + 2f64.ln());
        assert_eq!(lse.data()[1], f64::NEG_INFINITY);
    }
}
