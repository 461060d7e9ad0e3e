//! The `faer` feature's GEMM backend: faer's sequential kernels, each on its own core, on blocks
//! of the output cut by rayon; a large transposed left operand is copied first, because faer's
//! kernel is slow on that layout.

use faer::{Accum, Par};

use super::{MatRef, PARALLEL_MIN_FLOPS};

/// A transposed left operand (`xᵀ · g`, the weight gradient of a layer) is copied into row-major
/// order before products with at least this many multiply-adds, and at least
/// [`COPY_LHS_MIN_COLS`] output columns to spread the copy over. faer's kernel runs such a
/// product markedly slower than `A · B` from 512³ up; the copy costs O(m·k) against the
/// product's O(m·k·n) and brings it back close to `A · B`. Below this bound, or with few output
/// columns, the copy measured no gain or a loss (W2's 784×128×256 weight gradient among them;
/// docs/performance.md, "A large transposed left operand is copied first").
const COPY_LHS_MIN_FLOPS: usize = 512 * 512 * 512;
/// The fewest output columns over which the copy of [`COPY_LHS_MIN_FLOPS`] is worth its cost.
const COPY_LHS_MIN_COLS: usize = 256;

/// `out = a · b`, where `out` is the row-major `a.rows × b.cols` buffer.
pub(super) fn large(out: &mut [f64], a: MatRef<'_>, b: MatRef<'_>) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let flops = m * k * n;
    let dst = faer::MatMut::from_row_major_slice_mut(out, m, n);
    let pieces = if flops >= PARALLEL_MIN_FLOPS {
        rayon::current_num_threads()
    } else {
        1
    };
    if is_transposed(a) && flops >= COPY_LHS_MIN_FLOPS && n >= COPY_LHS_MIN_COLS {
        // `a` is the transpose of the row-major `k × m` matrix `a.data`.
        let a_copy = transposed_copy(a.data, k, m, pieces);
        let a_copy = faer::MatRef::from_row_major_slice(&a_copy, m, k);
        split_gemm(dst, a_copy, to_faer(b), pieces);
    } else {
        split_gemm(dst, to_faer(a), to_faer(b), pieces);
    }
}

/// Whether `view` is the transpose of a row-major matrix (its columns are contiguous).
fn is_transposed(view: MatRef<'_>) -> bool {
    view.col_stride != 1 && view.cols > 1
}

/// The same view as a faer matrix: row-major, or the transpose of a row-major one.
fn to_faer(view: MatRef<'_>) -> faer::MatRef<'_, f64> {
    if !is_transposed(view) {
        faer::MatRef::from_row_major_slice(view.data, view.rows, view.cols)
    } else {
        faer::MatRef::from_row_major_slice(view.data, view.cols, view.rows).transpose()
    }
}

/// The side of the square blocks [`transpose_rows`] moves at a time: 8 × 8 elements, so it reads
/// 8 whole cache lines and writes 8 whole cache lines per block.
const TILE: usize = 8;

/// The row-major `cols × rows` transpose of the row-major `rows × cols` matrix `src`, its rows
/// cut in two halves, transposed on two cores when `pieces` > 1.
///
/// Tiles, because faer's `copy_from` of a transposed view was about twice as slow at sizes
/// whose rows share cache sets (1024 × 1024: rows 8 KiB apart; docs/performance.md).
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
        clear_upper_vector_registers();
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

/// Leaves the upper halves of the calling thread's vector registers zeroed, as the x86-64 ABI
/// expects between functions.
///
/// faer's assembly kernels for small products (private-gemm-x86's) return without
/// `vzeroupper`; until something clears them, every SSE instruction on that thread pays an
/// AVX–SSE transition, and all of ours are SSE (the crate is built for baseline x86-64): glibc's
/// `exp` ran 30 times slower after a 10 × 10 · 10 × 1000 product (docs/performance.md, "The
/// vector registers after faer"). LLVM ends every function compiled with AVX that touches a
/// 256-bit register with `vzeroupper`; pulp runs such a function without `unsafe` on our side.
fn clear_upper_vector_registers() {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        simd.vectorize(|| std::hint::black_box(simd.splat_f64x4(0.0)));
    }
}

#[cfg(test)]
mod tests {
    use super::super::gemm;
    use super::*;

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
        // Large enough for the copy: the kernel then sees the same row-major operand either way.
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
        assert!(is_transposed(a_t));
        let b = MatRef::row_major(&b, k, n);
        assert_eq!(gemm(a_t, b), gemm(MatRef::row_major(&a, m, k), b));
    }
}
