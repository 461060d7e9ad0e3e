//! The matrix product: [`Tensor::matmul`] and [`Tensor::matmul_t`], and their kernel,
//! `out = a · b` for strided views of row-major buffers.
//!
//! A transposed operand is the same buffer with its strides swapped ([`MatRef::t`]). Small
//! products run a plain loop that sums each output left to right, exactly as float64 arithmetic
//! by hand would (the article's trace depends on it); large ones go to a GEMM crate, whose
//! blocked, vectorised kernels sum in another order: results agree to rounding, not to the bit,
//! above [`GEMM_MIN_FLOPS`].
//!
//! Two GEMM backends sit behind one function, `large(out, a, b)`; both run a sequential kernel
//! on each core, on blocks of the output that rayon hands out ([`PARALLEL_MIN_FLOPS`]):
//!
//! - [`gemm_ndarray`], the default: ndarray's `general_mat_mul`, whose kernels are
//!   matrixmultiply's. Quick to build (about ten crates).
//! - [`gemm_faer`], with the `faer` feature: faer's kernels;
//!   1.2–2× faster on large products, and about two minutes longer to build from clean
//!   (docs/performance.md, "Build").

#[cfg(feature = "faer")]
mod gemm_faer;
#[cfg(any(not(feature = "faer"), test))]
mod gemm_ndarray;

use crate::kernels::parallel;
use crate::shape::{Shape, broadcast_shapes, broadcast_strides, for_each_offset};
use crate::tensor::Tensor;
use crate::tensor::allocate;

#[cfg(feature = "faer")]
use gemm_faer::large;
#[cfg(not(feature = "faer"))]
use gemm_ndarray::large;

/// Products with at least this many multiply-adds (m·k·n) go to the GEMM crate, which was faster
/// than the plain loop from about a 10×10×10 product up (W1's batched step; docs/performance.md,
/// "What the engine does for speed"); below it the loop wins, and keeps tiny products, like the
/// article's perceptron, summed exactly left to right.
pub(crate) const GEMM_MIN_FLOPS: usize = 10 * 10 * 10;

/// Products with at least this many multiply-adds are split over the cores; below it, waking
/// another thread costs more than it saves (W3's n = 64 products ran slower split than on one
/// core, and W2's 128×256×10 products paid a wake-up each: docs/performance.md).
pub(crate) const PARALLEL_MIN_FLOPS: usize = 128 * 128 * 128;

/// A read-only strided view of a matrix: element `(i, j)` is
/// `data[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MatRef<'a> {
    pub data: &'a [f64],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// The `rows × cols` matrix stored row by row in `data`.
    pub fn row_major(data: &'a [f64], rows: usize, cols: usize) -> MatRef<'a> {
        debug_assert_eq!(data.len(), rows * cols);
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, as a view of the same buffer.
    pub fn t(self) -> MatRef<'a> {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    fn at(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.row_stride + j * self.col_stride]
    }
}

/// `a · b` as a new row-major `a.rows × b.cols` buffer.
pub(crate) fn gemm(a: MatRef<'_>, b: MatRef<'_>) -> Vec<f64> {
    let mut out = vec![0.0; a.rows * b.cols];
    gemm_into(&mut out, a, b);
    out
}

/// `out = a · b`, where `out` is the row-major `a.rows × b.cols` buffer (its old values are
/// ignored).
fn gemm_into(out: &mut [f64], a: MatRef<'_>, b: MatRef<'_>) {
    debug_assert_eq!(a.cols, b.rows);
    let (m, k, n) = (a.rows, a.cols, b.cols);
    debug_assert_eq!(out.len(), m * n);
    if m * k * n >= GEMM_MIN_FLOPS {
        large(out, a, b);
        return;
    }
    out.fill(0.0);
    // i-p-j order: the inner loop runs along a row of `b` and of `out`, and each output element
    // still receives its k products in order p = 0, 1, …, k − 1.
    for i in 0..m {
        let row = &mut out[i * n..(i + 1) * n];
        for p in 0..k {
            let a_ip = a.at(i, p);
            for (j, acc) in row.iter_mut().enumerate() {
                *acc += a_ip * b.at(p, j);
            }
        }
    }
}

impl Tensor {
    /// The matrix product with numpy's rules: `[m, k] · [k, n] → [m, n]`, `[m, k] · [k] → [m]`,
    /// `[k] · [k, n] → [n]`, `[k] · [k] → []`, and for more dimensions a batch of matrices in
    /// the last two, whose leading (batch) dimensions broadcast: `[b, m, k] · [k, n] → [b, m, n]`,
    /// `[b, 1, m, k] · [h, k, n] → [b, h, m, n]`. Each matrix product goes through the same
    /// GEMM path.
    ///
    /// # Panics
    ///
    /// If an operand is a scalar, the inner dimensions differ, or the batch dimensions do not
    /// broadcast.
    ///
    /// ```
    /// use tapegrad::Tensor;
    /// let x = Tensor::from([[1.0, 2.0], [3.0, 4.0]]);
    /// assert_eq!(x.matmul(&Tensor::from([1.0, 1.0])), Tensor::from([3.0, 7.0]));
    /// let batch = Tensor::from_fn(&[3, 2, 2], |i| i as f64);
    /// assert_eq!(batch.matmul(&x).shape(), &[3, 2, 2]);
    /// ```
    #[track_caller]
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        if self.ndim() > 2 || other.ndim() > 2 {
            let dims = BatchedDims::new(self.shape(), other.shape());
            let a = self.reshape(&dims.lhs);
            let b = other.reshape(&dims.rhs);
            return a.batched_matmul(false, &b, false).reshape(&dims.out);
        }
        let (m, k, n) = matmul_dims(self.shape(), other.shape());
        let out = gemm(
            MatRef::row_major(self.data(), m, k),
            MatRef::row_major(other.data(), k, n),
        );
        let shape: Shape = match (self.ndim(), other.ndim()) {
            (2, 2) => [m, n].into(),
            (2, 1) => [m].into(),
            (1, 2) => [n].into(),
            _ => Shape::scalar(),
        };
        Tensor::from_parts(shape, out)
    }

    /// The batched product of two operands of at least two dimensions, each read as its
    /// matrices transposed if asked (`ta`, `tb`): `[…, m, n]`, the batch dimensions
    /// broadcast. One GEMM per matrix of the batch.
    ///
    /// # Panics
    ///
    /// If the inner dimensions differ or the batch dimensions do not broadcast.
    #[track_caller]
    pub(crate) fn batched_matmul(&self, ta: bool, other: &Tensor, tb: bool) -> Tensor {
        let (xs, ys) = (self.shape(), other.shape());
        // (batch dimensions, stored rows, stored columns, rows and columns as read)
        fn split(s: &[usize], t: bool) -> (&[usize], usize, usize, usize, usize) {
            let (rows, cols) = (s[s.len() - 2], s[s.len() - 1]);
            let (r, c) = if t { (cols, rows) } else { (rows, cols) };
            (&s[..s.len() - 2], rows, cols, r, c)
        }
        fn view(d: &[f64], rows: usize, cols: usize, t: bool) -> MatRef<'_> {
            let matrix = MatRef::row_major(d, rows, cols);
            if t { matrix.t() } else { matrix }
        }
        let (xb, xr, xc, m, k) = split(xs, ta);
        let (yb, yr, yc, k2, n) = split(ys, tb);
        assert!(k == k2, "matmul: inner dimensions differ: {xs:?} · {ys:?}");
        let batch = broadcast_shapes(xb, yb).unwrap_or_else(|| {
            panic!("matmul: batch dimensions cannot be broadcast: {xs:?} · {ys:?}")
        });
        let (sx, sy) = (broadcast_strides(xb, &batch), broadcast_strides(yb, &batch));
        let mut shape = batch.to_vec();
        shape.extend([m, n]);
        let shape = Shape::from(shape);
        let (mut data, size) = allocate("matmul", &shape);
        data.resize(size, 0.0);
        let (x, y) = (self.data(), other.data());
        let (xsize, ysize, len) = (xr * xc, yr * yc, m * n);
        // Where each product's operands start, product by product.
        let mut operands = Vec::with_capacity(batch.iter().product());
        for_each_offset(&batch, [&sx, &sy], |_, [i, j]| operands.push((i, j)));
        let products = |first: usize, out: &mut [f64]| {
            for (out, &(i, j)) in out.chunks_exact_mut(len).zip(&operands[first..]) {
                let a = view(&x[i * xsize..(i + 1) * xsize], xr, xc, ta);
                let b = view(&y[j * ysize..(j + 1) * ysize], yr, yc, tb);
                gemm_into(out, a, b);
            }
        };
        // A product too small to be split over the cores by itself (`PARALLEL_MIN_FLOPS`) is
        // still a share of a batch that may be large enough: then the batch is split instead.
        let flops = m * k * n;
        if flops < PARALLEL_MIN_FLOPS && flops * operands.len() >= PARALLEL_MIN_FLOPS {
            parallel::for_each_row_block(&mut data, len, products);
        } else if len > 0 {
            products(0, &mut data);
        }
        Tensor::from_parts(shape, data)
    }

    /// `self · otherᵀ` for `self` of shape `[m, k]` (or `[k]`) and `other` of shape `[n, k]`:
    /// `other` is read through a transposed view, never copied. PyTorch's `nn.Linear` keeps its
    /// weight `[out, in]` and computes `x · Wᵀ` this way.
    ///
    /// # Panics
    ///
    /// If `self` is not 1-D or 2-D, `other` is not 2-D, or their last dimensions differ.
    #[track_caller]
    pub fn matmul_t(&self, other: &Tensor) -> Tensor {
        let (m, k, n) = matmul_t_dims(self.shape(), other.shape());
        let out = gemm(
            MatRef::row_major(self.data(), m, k),
            MatRef::row_major(other.data(), n, k).t(),
        );
        let shape: Shape = match self.ndim() {
            2 => [m, n].into(),
            _ => [n].into(),
        };
        Tensor::from_parts(shape, out)
    }
}

/// The shapes of a batched product (an operand of more than two dimensions): each operand as
/// a batch of matrices (a 1-D left operand as one row `[1, k]`, a 1-D right operand as one
/// column `[k, 1]`, as numpy reads them), the product's shape `[…batch, m, n]` and the result's
/// numpy shape, without the row or column a 1-D operand was given.
pub(crate) struct BatchedDims {
    pub lhs: Shape,
    pub rhs: Shape,
    pub product: Shape,
    pub out: Shape,
}

impl BatchedDims {
    /// # Panics
    ///
    /// If an operand is a scalar, the inner dimensions differ, or the batches do not broadcast.
    #[track_caller]
    pub(crate) fn new(lhs: &[usize], rhs: &[usize]) -> BatchedDims {
        assert!(
            !lhs.is_empty() && !rhs.is_empty(),
            "matmul: operands must have at least one dimension: {lhs:?} · {rhs:?}"
        );
        let a: Shape = if lhs.len() == 1 {
            [1, lhs[0]].into()
        } else {
            lhs.into()
        };
        let b: Shape = if rhs.len() == 1 {
            [rhs[0], 1].into()
        } else {
            rhs.into()
        };
        let (m, k) = (a[a.len() - 2], a[a.len() - 1]);
        let (k2, n) = (b[b.len() - 2], b[b.len() - 1]);
        assert!(
            k == k2,
            "matmul: inner dimensions differ: {lhs:?} · {rhs:?}"
        );
        let batch = broadcast_shapes(&a[..a.len() - 2], &b[..b.len() - 2]).unwrap_or_else(|| {
            panic!("matmul: batch dimensions cannot be broadcast: {lhs:?} · {rhs:?}")
        });
        let mut product = batch.to_vec();
        product.extend([m, n]);
        let mut out = batch.to_vec();
        if lhs.len() > 1 {
            out.push(m);
        }
        if rhs.len() > 1 {
            out.push(n);
        }
        BatchedDims {
            lhs: a,
            rhs: b,
            product: product.into(),
            out: out.into(),
        }
    }
}

/// `(m, k, n)` of a matrix product, with a 1-D left operand read as one row `[1, k]` and a 1-D
/// right operand as one column `[k, 1]`, as numpy does.
///
/// # Panics
///
/// If an operand is a scalar (or has more than two dimensions: the batched product's to
/// handle), or the inner dimensions differ.
#[track_caller]
pub(crate) fn matmul_dims(lhs: &[usize], rhs: &[usize]) -> (usize, usize, usize) {
    let (m, k) = match *lhs {
        [k] => (1, k),
        [m, k] => (m, k),
        _ => panic!("matmul: operands must have at least one dimension: {lhs:?} · {rhs:?}"),
    };
    let (k2, n) = match *rhs {
        [k] => (k, 1),
        [k, n] => (k, n),
        _ => panic!("matmul: operands must have at least one dimension: {lhs:?} · {rhs:?}"),
    };
    assert!(
        k == k2,
        "matmul: inner dimensions differ: {lhs:?} · {rhs:?}"
    );
    (m, k, n)
}

/// `(m, k, n)` of `lhs · rhsᵀ`: `lhs` is `[m, k]` or `[k]` (m = 1), `rhs` is `[n, k]`.
#[track_caller]
pub(crate) fn matmul_t_dims(lhs: &[usize], rhs: &[usize]) -> (usize, usize, usize) {
    let (m, k) = match *lhs {
        [k] => (1, k),
        [m, k] => (m, k),
        _ => panic!("matmul_t: the left operand must be 1-D or 2-D: {lhs:?} · {rhs:?}ᵀ"),
    };
    let [n, k2] = *rhs else {
        panic!("matmul_t: the right operand must be 2-D: {lhs:?} · {rhs:?}ᵀ")
    };
    assert!(
        k == k2,
        "matmul_t: the last dimensions differ: {lhs:?} · {rhs:?}ᵀ"
    );
    (m, k, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_views_multiply_without_copies() {
        // a = [[1, 2, 3], [4, 5, 6]]
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let a = MatRef::row_major(&a, 2, 3);
        assert_eq!(gemm(a, a.t()), [14.0, 32.0, 32.0, 77.0]);
        assert_eq!(
            gemm(a.t(), a),
            [17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0]
        );
    }

    #[test]
    fn the_gemm_path_agrees_with_the_plain_loop_for_every_layout() {
        // One product small enough for one core, and one large enough to be split over two.
        let sizes = [(40, 35, 30), (130, 128, 129)];
        for (m, k, n) in sizes {
            assert!(m * k * n >= GEMM_MIN_FLOPS);
            check_every_layout(m, k, n);
        }
    }

    fn check_every_layout(m: usize, k: usize, n: usize) {
        let a: Vec<f64> = (0..m * k)
            .map(|i| ((i * 7919) % 101) as f64 / 50.0 - 1.0)
            .collect();
        let b: Vec<f64> = (0..k * n)
            .map(|i| ((i * 104729) % 97) as f64 / 48.0 - 1.0)
            .collect();
        let a_t: Vec<f64> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        let b_t: Vec<f64> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let plain = |a: MatRef, b: MatRef| -> Vec<f64> {
            (0..m * n)
                .map(|ij| (0..k).map(|p| a.at(ij / n, p) * b.at(p, ij % n)).sum())
                .collect()
        };
        let a = MatRef::row_major(&a, m, k);
        let b = MatRef::row_major(&b, k, n);
        let a_t = MatRef::row_major(&a_t, k, m).t();
        let b_t = MatRef::row_major(&b_t, n, k).t();
        let expected = plain(a, b);
        for (lhs, rhs) in [(a, b), (a_t, b), (a, b_t), (a_t, b_t)] {
            let got = gemm(lhs, rhs);
            for (g, e) in got.iter().zip(&expected) {
                assert!(
                    (g - e).abs() <= 1e-12 * (1.0 + e.abs()),
                    "{m}x{k}x{n}: {g} vs {e}"
                );
            }
        }
    }

    /// With the `faer` feature the default backend is still compiled for this test: both must
    /// give the same products, in every layout.
    #[cfg(feature = "faer")]
    #[test]
    fn both_backends_agree() {
        let (m, k, n) = (130, 128, 129);
        let a: Vec<f64> = (0..m * k).map(|i| ((i * 31) % 17) as f64 - 8.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| ((i * 13) % 19) as f64 - 9.0).collect();
        let (a, b) = (MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n));
        for (lhs, rhs) in [(a, b), (b.t(), a.t())] {
            let mut with_faer = vec![0.0; lhs.rows * rhs.cols];
            let mut with_ndarray = with_faer.clone();
            gemm_faer::large(&mut with_faer, lhs, rhs);
            gemm_ndarray::large(&mut with_ndarray, lhs, rhs);
            // Small integers: every partial sum is exact, so the summation order cannot matter.
            assert_eq!(with_faer, with_ndarray);
        }
    }

    #[test]
    fn each_product_of_a_broadcast_batch_is_written_in_its_place() {
        // 300 products of 20×20·20×30, each through the GEMM crate, too small to split but
        // together large enough for the batch to be split over the cores; the left operand is
        // broadcast, so every product reads the same matrix.
        let (batch, m, k, n) = (300, 20, 20, 30);
        let x = Tensor::from_fn(&[1, m, k], |i| ((i * 7919) % 101) as f64 / 50.0 - 1.0);
        let y = Tensor::from_fn(&[batch, k, n], |i| ((i * 104729) % 97) as f64 / 48.0 - 1.0);
        assert!(m * k * n >= GEMM_MIN_FLOPS && m * k * n < PARALLEL_MIN_FLOPS);
        assert!(batch * m * k * n >= PARALLEL_MIN_FLOPS);
        let all = x.batched_matmul(false, &y, false);
        assert_eq!(all.shape(), [batch, m, n]);
        let x_view = MatRef::row_major(x.data(), m, k);
        for (b, got) in all.data().chunks(m * n).enumerate() {
            let y_b = &y.data()[b * k * n..(b + 1) * k * n];
            assert_eq!(
                got,
                gemm(x_view, MatRef::row_major(y_b, k, n)),
                "product {b}"
            );
        }
        let none = x.batched_matmul(false, &Tensor::zeros(&[0, k, n]), false);
        assert_eq!(none.shape(), [0, m, n]);
        let empty_rows = Tensor::zeros(&[400, 0, k]).batched_matmul(false, &x, false);
        assert_eq!(empty_rows.shape(), [400, 0, k]);
    }

    #[test]
    fn empty_inner_dimension_gives_zeros() {
        let a = MatRef::row_major(&[], 2, 0);
        let b = MatRef::row_major(&[], 0, 3);
        assert_eq!(gemm(a, b), [0.0; 6]);
    }
}
