//! The default GEMM backend: ndarray's `general_mat_mul`, which reads both operands through their
//! strides (a transposed view needs no copy) and runs matrixmultiply's sequential kernels, one
//! per core on blocks of the output cut by rayon.

use ndarray::{ArrayView2, ArrayViewMut2, Axis, ShapeBuilder};

use super::{MatRef, PARALLEL_MIN_FLOPS};

/// `out = a · b`, where `out` is the row-major `a.rows × b.cols` buffer.
pub(super) fn large(out: &mut [f64], a: MatRef<'_>, b: MatRef<'_>) {
    let dst = ArrayViewMut2::from_shape((a.rows, b.cols), out)
        .expect("the output buffer holds a.rows × b.cols elements");
    let pieces = if a.rows * a.cols * b.cols >= PARALLEL_MIN_FLOPS {
        rayon::current_num_threads()
    } else {
        1
    };
    split_gemm(dst, to_ndarray(a), to_ndarray(b), pieces);
}

/// The same view as an ndarray view over the same buffer.
fn to_ndarray(view: MatRef<'_>) -> ArrayView2<'_, f64> {
    let shape = (view.rows, view.cols).strides((view.row_stride, view.col_stride));
    ArrayView2::from_shape(shape, view.data).expect("a MatRef's strides stay inside its buffer")
}

/// `dst = a · b`, cut into `pieces` blocks of whole rows or columns of `dst` (whichever is
/// longer), each computed on its own core.
fn split_gemm(
    mut dst: ArrayViewMut2<'_, f64>,
    a: ArrayView2<'_, f64>,
    b: ArrayView2<'_, f64>,
    pieces: usize,
) {
    let (m, n) = dst.dim();
    if pieces <= 1 || m.max(n) < 2 {
        ndarray::linalg::general_mat_mul(1.0, &a, &b, 0.0, &mut dst);
        return;
    }
    let first = pieces / 2;
    if n >= m {
        let cut = n * first / pieces;
        let (left, right) = dst.split_at(Axis(1), cut);
        let (b_left, b_right) = b.split_at(Axis(1), cut);
        rayon::join(
            || split_gemm(left, a, b_left, first),
            || split_gemm(right, a, b_right, pieces - first),
        );
    } else {
        let cut = m * first / pieces;
        let (top, bottom) = dst.split_at(Axis(0), cut);
        let (a_top, a_bottom) = a.split_at(Axis(0), cut);
        rayon::join(
            || split_gemm(top, a_top, b, first),
            || split_gemm(bottom, a_bottom, b, pieces - first),
        );
    }
}
