//! The matrix product kernel: `out = a · b` for strided views of row-major buffers.
//!
//! A transposed operand is the same buffer with its strides swapped ([`MatRef::t`]), never a
//! copy. Small products run a plain loop that sums each output left to right, exactly as
//! float64 arithmetic by hand would (the article's trace depends on it); large ones go to the
//! GEMM crate.

/// A read-only strided view of a matrix: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
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
    debug_assert_eq!(a.cols, b.rows);
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut out = vec![0.0; m * n];
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
    fn empty_inner_dimension_gives_zeros() {
        let a = MatRef::row_major(&[], 2, 0);
        let b = MatRef::row_major(&[], 0, 3);
        assert_eq!(gemm(a, b), [0.0; 6]);
    }
}
