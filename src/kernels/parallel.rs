//! Passes that write a large buffer in place, split over the cores (also the batches of small
//! matrix products, one block of whole products per thread).
//!
//! A pass over a buffer of at least [`MIN_ELEMENTS`] elements runs on rayon's threads, one
//! contiguous block of the buffer each; a smaller one runs on the calling thread, where
//! waking the other threads would cost more than it saves. Each element's result depends on
//! that element alone, so the bits are the same either way. A sum is split only between its
//! lanes (`for_each_rows`): each lane is still summed whole, in index order, by one thread.
//!
//! rayon sees each pass as one `&dyn Fn` per block ([`in_blocks`]), so its code is compiled
//! once, not once for every closure the kernels are called with. Passes that allocate their
//! result stay on one thread: splitting them takes either rayon's `collect`, generic over the
//! closure, or a buffer zeroed first, and docs/performance.md ("Large in-place passes and
//! sums") has what each cost.

use rayon::prelude::*;

/// The buffer length (1 MiB of `f64`) from which a pass is split over the cores.
pub(crate) const MIN_ELEMENTS: usize = 1 << 17;

/// The number of blocks to cut a pass over `len` elements into, if it is worth splitting.
fn blocks(len: usize) -> Option<usize> {
    let threads = rayon::current_num_threads();
    (len >= MIN_ELEMENTS && threads > 1).then_some(threads)
}

/// `apply(start, block)` for consecutive blocks of `block_len` elements of `out` (`start` is
/// the index of the block's first element), on rayon's threads.
fn in_blocks(out: &mut [f64], block_len: usize, apply: &(dyn Fn(usize, &mut [f64]) + Sync)) {
    out.par_chunks_mut(block_len.max(1))
        .enumerate()
        .for_each(|(b, block)| apply(b * block_len, block));
}

/// `x ← f(x)` for each element, in place.
pub(crate) fn update(x: &mut [f64], f: impl Fn(f64) -> f64 + Sync) {
    let apply = |_: usize, run: &mut [f64]| run.iter_mut().for_each(|v| *v = f(*v));
    match blocks(x.len()) {
        None => apply(0, x),
        Some(blocks) => in_blocks(x, x.len().div_ceil(blocks), &apply),
    }
}

/// `x ← f(x, y)` for each pair of elements of `x` and `y`, `y` repeated whole along `x`
/// (`x.len()` is a multiple of `y.len()`: `y` as long as `x`, or one row of it), in place.
pub(crate) fn update_with_rows(x: &mut [f64], y: &[f64], f: impl Fn(f64, f64) -> f64 + Sync) {
    if y.is_empty() {
        debug_assert!(x.is_empty());
        return;
    }
    debug_assert!(x.len() % y.len() == 0);
    // Blocks of whole rows, so that each block starts at the start of `y`.
    for_each_rows(x, y.len(), x.len(), |_, run| {
        for row in run.chunks_exact_mut(y.len()) {
            row.iter_mut().zip(y).for_each(|(v, &w)| *v = f(*v, w));
        }
    });
}

/// Runs `fill(first, rows)` on consecutive blocks of whole rows of `out` (rows of `row_len`
/// elements; `first` is the index of the block's first row), on all cores if the work, the
/// `work` elements read or written, is large.
pub(crate) fn for_each_rows(
    out: &mut [f64],
    row_len: usize,
    work: usize,
    fill: impl Fn(usize, &mut [f64]) + Sync,
) {
    match blocks(work) {
        Some(_) => for_each_row_block(out, row_len, fill),
        None => fill(0, out),
    }
}

/// Like [`for_each_rows`], for work that the caller has judged large enough to split: one
/// block of whole rows per thread.
pub(crate) fn for_each_row_block(
    out: &mut [f64],
    row_len: usize,
    fill: impl Fn(usize, &mut [f64]) + Sync,
) {
    let rows = out.len().checked_div(row_len).unwrap_or(0);
    let threads = rayon::current_num_threads();
    if rows > 1 && threads > 1 {
        let block_len = rows.div_ceil(threads) * row_len;
        in_blocks(out, block_len, &|start, run| fill(start / row_len, run));
    } else {
        fill(0, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_passes_give_the_bits_of_one_thread() {
        // Long enough to split, a whole number of rows of 35, and odd.
        let len = 35 * (MIN_ELEMENTS / 10 + 2);
        let x: Vec<f64> = (0..len).map(|i| (i as f64 * 0.37).sin()).collect();
        let f = |a: f64, b: f64| a.mul_add(b, a.exp());
        let mut updated = x.clone();
        update(&mut updated, f64::tanh);
        assert_eq!(updated, x.iter().map(|a| a.tanh()).collect::<Vec<_>>());
        let row: Vec<f64> = (0..35).map(|i| i as f64 - 17.0).collect();
        let mut with_rows = x.clone();
        update_with_rows(&mut with_rows, &row, f);
        let expected: Vec<f64> = (0..len).map(|i| f(x[i], row[i % 35])).collect();
        assert_eq!(with_rows, expected);
        let mut filled = vec![0.0; len];
        for_each_rows(&mut filled, 35, len, |first, run| {
            for (r, row) in run.chunks_exact_mut(35).enumerate() {
                row.fill((first + r) as f64);
            }
        });
        let by_row = |(i, &v): (usize, &f64)| v == (i / 35) as f64;
        assert!(filled.iter().enumerate().all(by_row));
    }
}
