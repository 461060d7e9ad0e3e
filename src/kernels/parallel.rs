//! Elementwise passes over large buffers, split over the cores.
//!
//! A pass over a buffer of at least [`MIN_ELEMENTS`] elements runs on rayon's threads, one
//! contiguous block of the buffer each; a smaller one runs on the calling thread, where
//! waking the other threads would cost more than it saves. Each element's result depends on
//! that element alone, so the bits are the same either way. A sum is split only between its
//! lanes (`for_each_rows`): each lane is still summed whole, in index order, by one thread.

use rayon::prelude::*;

/// The buffer length (1 MiB of `f64`) from which a pass is split over the cores.
pub(crate) const MIN_ELEMENTS: usize = 1 << 17;

/// The block length that gives each core one block, or `None` if `len` is too short to split.
fn block(len: usize) -> Option<usize> {
    let threads = rayon::current_num_threads();
    (len >= MIN_ELEMENTS && threads > 1).then(|| len.div_ceil(threads))
}

/// `f(x)` for each element of `x`, in a new buffer.
pub(crate) fn map(x: &[f64], f: impl Fn(f64) -> f64 + Sync) -> Vec<f64> {
    match block(x.len()) {
        None => x.iter().map(|&v| f(v)).collect(),
        Some(block) => x.par_iter().with_min_len(block).map(|&v| f(v)).collect(),
    }
}

/// `f(a, b)` for each pair of elements of two buffers of the same length, in a new buffer.
pub(crate) fn zip(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64 + Sync) -> Vec<f64> {
    debug_assert_eq!(a.len(), b.len());
    match block(a.len()) {
        None => a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect(),
        Some(block) => a
            .par_iter()
            .with_min_len(block)
            .zip(b)
            .map(|(&x, &y)| f(x, y))
            .collect(),
    }
}

/// `x ← f(x)` for each element, in place.
pub(crate) fn update(x: &mut [f64], f: impl Fn(f64) -> f64 + Sync) {
    let apply = |run: &mut [f64]| run.iter_mut().for_each(|v| *v = f(*v));
    match block(x.len()) {
        None => apply(x),
        Some(block) => x.par_chunks_mut(block).for_each(apply),
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
    let apply = |run: &mut [f64]| {
        for row in run.chunks_exact_mut(y.len()) {
            row.iter_mut().zip(y).for_each(|(v, &w)| *v = f(*v, w));
        }
    };
    match block(x.len()) {
        None => apply(x),
        // Blocks of whole rows, so that each block starts at the start of `y`.
        Some(block) => x
            .par_chunks_mut(block.next_multiple_of(y.len()))
            .for_each(apply),
    }
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
    let rows = out.len().checked_div(row_len).unwrap_or(0);
    match block(work) {
        Some(_) if rows > 1 => {
            let per_block = rows.div_ceil(rayon::current_num_threads());
            out.par_chunks_mut(per_block * row_len)
                .enumerate()
                .for_each(|(b, run)| fill(b * per_block, run));
        }
        _ => fill(0, out),
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
        let y: Vec<f64> = (0..len).map(|i| (i as f64 * 0.11).cos()).collect();
        let f = |a: f64, b: f64| a.mul_add(b, a.exp());
        let serial_zip: Vec<f64> = x.iter().zip(&y).map(|(&a, &b)| f(a, b)).collect();
        assert_eq!(zip(&x, &y, f), serial_zip);
        let serial_map: Vec<f64> = x.iter().map(|a| a.tanh()).collect();
        assert_eq!(map(&x, f64::tanh), serial_map);
        let mut updated = x.clone();
        update(&mut updated, f64::tanh);
        assert_eq!(updated, serial_map);
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
        assert!(
            filled
                .iter()
                .enumerate()
                .all(|(i, &v)| v == (i / 35) as f64)
        );
    }
}
