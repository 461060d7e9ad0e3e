//! The matrix product kernel: `out = a · b` for strided views of row-major buffers.
//!
//! A transposed operand is the same buffer with its strides swapped ([`MatRef::t`]); only a
//! large transposed left operand is copied, where faer's kernel is slow on that layout
//! ([`COPY_LHS_MIN_FLOPS`]). Small products run a plain loop that sums each output left to
//! right, exactly as float64 arithmetic by hand would (the article's trace depends on it);
//! large ones go to the GEMM crate (faer), whose blocked, vectorised kernels sum in another
//! order: results agree to rounding, not to the bit, above [`GEMM_MIN_FLOPS`].

use faer::{Accum, Par};

/// Products with at least this many multiply-adds (m·k·n) go to the GEMM crate. faer is faster
/// than the plain loop from about a 10×10×10 product up (W1's batched step, whose products are
/// 100×16×16 and smaller, ran 2–3× faster with this bound than with 32³); below it the loop
/// wins, and keeps tiny products, like the article's perceptron, summed exactly left to right.
pub(crate) const GEMM_MIN_FLOPS: usize = 10 * 10 * 10;

/// Products with at least this many multiply-adds are split over the cores; below it, waking
/// another thread costs more than it saves. With 64³ the n = 64 products of W3 ran 1.4–1.6×
/// slower than on one core (criterion, A/B twice in one session: forward 30.5–37.8 µs against
/// 21.5–22.1 µs), and W2's 128×256×10 products paid a wake-up each.
const PARALLEL_MIN_FLOPS: usize = 128 * 128 * 128;

/// A transposed left operand (`xᵀ · g`, the weight gradient of a layer) is copied into row-major
/// order before products with at least this many multiply-adds, and at least
/// [`COPY_LHS_MIN_COLS`] output columns to spread the copy over. faer's kernel runs such a
/// product 1.5–1.6× slower than `A · B` from 512³ up; the copy costs O(m·k) against the
/// product's O(m·k·n) and brought it back to within ~10 % with faer's `copy_from` (measured at
/// 512³, 1024³ and 256×1024×1024), ~5 % with [`transposed_copy`]. Below this bound, or with
/// few output columns, the copy measured no gain or a loss (W2's 784×128×256 weight gradient
/// among them).
const COPY_LHS_MIN_FLOPS: usize = 512 * 512 * 512;
/// The fewest output columns over which the copy of [`COPY_LHS_MIN_FLOPS`] is worth its cost.
const COPY_LHS_MIN_COLS: usize = 256;

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

    /// Whether this view is the transpose of a row-major matrix (columns are contiguous).
    fn is_transposed(&self) -> bool {
        self.col_stride != 1 && self.cols > 1
    }

    /// The same view as a faer matrix: row-major, or the transpose of a row-major one.
    fn to_faer(self) -> faer::MatRef<'a, f64> {
        if !self.is_transposed() {
            faer::MatRef::from_row_major_slice(self.data, self.rows, self.cols)
        } else {
            faer::MatRef::from_row_major_slice(self.data, self.cols, self.rows).transpose()
        }
    }
}

/// `a · b` as a new row-major `a.rows × b.cols` buffer.
pub(crate) fn gemm(a: MatRef<'_>, b: MatRef<'_>) -> Vec<f64> {
    debug_assert_eq!(a.cols, b.rows);
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut out = vec![0.0; m * n];
    let flops = m * k * n;
    if flops >= GEMM_MIN_FLOPS {
        let dst = faer::MatMut::from_row_major_slice_mut(&mut out, m, n);
        let pieces = if flops >= PARALLEL_MIN_FLOPS {
            rayon::current_num_threads()
        } else {
            1
        };
        if a.is_transposed() && flops >= COPY_LHS_MIN_FLOPS && n >= COPY_LHS_MIN_COLS {
            // `a` is the transpose of the row-major `k × m` matrix `a.data`.
            let a_copy = transposed_copy(a.data, k, m, pieces);
            let a_copy = faer::MatRef::from_row_major_slice(&a_copy, m, k);
            split_gemm(dst, a_copy, b.to_faer(), pieces);
        } else {
            split_gemm(dst, a.to_faer(), b.to_faer(), pieces);
        }
        return out;
    }
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
    out
}

/// The side of the square blocks [`transpose_rows`] moves at a time: 8 × 8 elements, so it reads
/// 8 whole cache lines and writes 8 whole cache lines per block.
const TILE: usize = 8;

/// The row-major `cols × rows` transpose of the row-major `rows × cols` matrix `src`, its rows
/// cut in two halves, transposed on two cores when `pieces` > 1.
///
/// faer's `copy_from` of a transposed view took 4.4–4.9 ms for 1024 × 1024, where rows 8 KiB
/// apart share cache sets; these tiles took 1.8–2.5 ms (and 0.36 against 0.91 ms at 512, 0.54
/// against 1.33 at 768; at 1000 × 1000 both took about 2 ms).
fn transposed_copy(src: &[f64], rows: usize, cols: usize, pieces: usize) -> Vec<f64> {
    let mut out = vec![0.0; rows * cols];
    let cut = cols / 2;
    let (top, bottom) = out.split_at_mut(cut * rows);
    if pieces > 1 {
        rayon::join(
            || transpose_rows(src, rows, cols, 0, top),
            || transpose_rows(src, rows, cols, cut, bottom),
        );
    } else {
        transpose_rows(src, rows, cols, 0, top);
        transpose_rows(src, rows, cols, cut, bottom);
    }
    out
}

/// Writes rows `first, first + 1, …` of the transpose of the row-major `rows × cols` matrix
/// `src` into `out` (whole rows of `rows` elements each), a [`TILE`] × [`TILE`] block at a time.
fn transpose_rows(src: &[f64], rows: usize, cols: usize, first: usize, out: &mut [f64]) {
    let out_rows = out.len() / rows;
    let full = |len: usize| len - len % TILE;
    for j0 in (0..full(out_rows)).step_by(TILE) {
        let column = first + j0; // of `src`
        for i0 in (0..full(rows)).step_by(TILE) {
            let mut block = [[0.0; TILE]; TILE];
            for (di, block_row) in block.iter_mut().enumerate() {
                let start = (i0 + di) * cols + column;
                block_row.copy_from_slice(&src[start..start + TILE]);
            }
            let out_block = &mut out[j0 * rows..(j0 + TILE) * rows];
            for (dj, out_row) in out_block.chunks_exact_mut(rows).enumerate() {
                for (di, element) in out_row[i0..i0 + TILE].iter_mut().enumerate() {
                    *element = block[di][dj];
                }
            }
        }
        for i in full(rows)..rows {
            for dj in 0..TILE {
                out[(j0 + dj) * rows + i] = src[i * cols + column + dj];
            }
        }
    }
    for j in full(out_rows)..out_rows {
        for i in 0..rows {
            out[j * rows + i] = src[i * cols + first + j];
        }
    }
}

/// `dst = a · b`, cut into `pieces` blocks of whole rows or columns of `dst` (whichever
/// dimension is longer), each computed by faer's sequential kernel on its own core. Coarse
/// blocks need no synchronisation but the final join, which at the sizes of small and mid-size
/// models beat faer's finer-grained threading by 1.2–2× (docs/performance.md).
fn split_gemm(
    dst: faer::MatMut<'_, f64>,
    a: faer::MatRef<'_, f64>,
    b: faer::MatRef<'_, f64>,
    pieces: usize,
) {
    let (m, n) = (dst.nrows(), dst.ncols());
    if pieces <= 1 || m.max(n) < 2 {
        faer::linalg::matmul::matmul(dst, Accum::Replace, a, b, 1.0, Par::Seq);
        return;
    }
    let first = pieces / 2;
    if n >= m {
        let cut = n * first / pieces;
        let (left, right) = dst.split_at_col_mut(cut);
        rayon::join(
            || split_gemm(left, a, b.subcols(0, cut), first),
            || split_gemm(right, a, b.subcols(cut, n - cut), pieces - first),
        );
    } else {
        let cut = m * first / pieces;
        let (top, bottom) = dst.split_at_row_mut(cut);
        rayon::join(
            || split_gemm(top, a.subrows(0, cut), b, first),
            || split_gemm(bottom, a.subrows(cut, m - cut), b, pieces - first),
        );
    }
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
        // One product on one core, and one large enough to be split over the cores.
        let sizes = [(40, 35, 30), (130, 128, 129)];
        assert!(
            sizes
                .iter()
                .any(|&(m, k, n)| m * k * n >= PARALLEL_MIN_FLOPS)
        );
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

    #[test]
    fn a_transposed_copy_moves_every_element_to_its_place() {
        // Sizes below, at and between multiples of the tile, and an odd number of rows to cut.
        for (rows, cols) in [(1, 1), (3, 5), (8, 8), (9, 17), (16, 7), (21, 24)] {
            let src: Vec<f64> = (0..rows * cols).map(|i| i as f64).collect();
            let expected: Vec<f64> = (0..rows * cols)
                .map(|ji| src[(ji % rows) * cols + ji / rows])
                .collect();
            for pieces in [1, 2] {
                assert_eq!(
                    transposed_copy(&src, rows, cols, pieces),
                    expected,
                    "{rows}×{cols}, {pieces} pieces"
                );
            }
        }
    }

    #[test]
    fn a_large_transposed_left_operand_gives_the_same_bits_as_a_row_major_one() {
        // Large enough for the copy: faer then sees the same row-major operand either way.
        let (m, k, n) = (512, 512, 512);
        assert!(m * k * n >= COPY_LHS_MIN_FLOPS && n >= COPY_LHS_MIN_COLS);
        let a: Vec<f64> = (0..m * k)
            .map(|i| ((i * 7919) % 101) as f64 / 50.0)
            .collect();
        let b: Vec<f64> = (0..k * n)
            .map(|i| ((i * 104729) % 97) as f64 / 48.0)
            .collect();
        let a_t: Vec<f64> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        let a_t = MatRef::row_major(&a_t, k, m).t();
        assert!(a_t.is_transposed());
        let b = MatRef::row_major(&b, k, n);
        assert_eq!(gemm(a_t, b), gemm(MatRef::row_major(&a, m, k), b));
    }

    #[test]
    fn empty_inner_dimension_gives_zeros() {
        let a = MatRef::row_major(&[], 2, 0);
        let b = MatRef::row_major(&[], 0, 3);
        assert_eq!(gemm(a, b), [0.0; 6]);
    }
}
