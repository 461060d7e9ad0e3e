//! A numpy-like `Display` for [`Tensor`]: nested brackets, one row per line, elements aligned.
//!
//! Without a precision, each element is written in Rust's shortest round-trip form (`0.1`,
//! `-5.551115123125783e-17`), so what is printed is exactly what is stored; `{:.3}` fixes the
//! digits. Tensors of more than 1000 elements show the first and last three entries of each long
//! axis around a `...`, as numpy does.

use crate::tensor::Tensor;
use std::fmt;

/// Above this many elements, long axes are summarised (numpy's default threshold).
const SUMMARY_THRESHOLD: usize = 1000;
/// How many entries are shown at each end of a summarised axis.
const EDGE_ITEMS: usize = 3;

impl fmt::Display for Tensor {
    /// ```
    /// use tapegrad::Tensor;
    /// let t = Tensor::from([[1.0, -2.5], [0.25, 4.0]]);
    /// assert_eq!(t.to_string(), "[[ 1.0 -2.5]\n [0.25  4.0]]");
    /// assert_eq!(format!("{t:.1}"), "[[ 1.0 -2.5]\n [ 0.2  4.0]]");
    /// assert_eq!(Tensor::scalar(0.1).to_string(), "0.1");
    /// assert_eq!(Tensor::zeros(&[0, 1 << 40]).to_string(), "[]");   // as numpy prints it
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            // Nothing to align; and an axis of 2⁴⁰ next to an axis of 0 must not be walked.
            return f.write_str("[]");
        }
        let element = |x: f64| match f.precision() {
            Some(digits) => format!("{x:.digits$}"),
            None => format!("{x:?}"),
        };
        let summarise = self.len() > SUMMARY_THRESHOLD;
        let shown = |dim: usize| -> Vec<Option<usize>> {
            if summarise && dim > 2 * EDGE_ITEMS {
                let head = (0..EDGE_ITEMS).map(Some);
                let tail = (dim - EDGE_ITEMS..dim).map(Some);
                head.chain(std::iter::once(None)).chain(tail).collect()
            } else {
                (0..dim).map(Some).collect()
            }
        };
        let layout = Layout {
            shape: self.shape(),
            strides: crate::shape::Shape::from(self.shape()).strides().to_vec(),
            shown: self.shape().iter().map(|&d| shown(d)).collect(),
        };
        let mut texts = Vec::new();
        layout.visit(0, 0, &mut |offset| texts.push(element(self.data()[offset])));
        let width = texts.iter().map(|t| t.chars().count()).max().unwrap_or(0);
        let mut texts = texts.into_iter();
        let mut out = String::new();
        layout.write(0, &mut out, &mut || {
            format!("{:>width$}", texts.next().unwrap_or_default())
        });
        f.write_str(&out)
    }
}

/// Which indices of each axis are printed, and how to walk them.
struct Layout<'a> {
    shape: &'a [usize],
    strides: Vec<usize>,
    shown: Vec<Vec<Option<usize>>>,
}

impl Layout<'_> {
    /// Calls `leaf` with the offset of every printed element, in printing order.
    fn visit(&self, axis: usize, offset: usize, leaf: &mut impl FnMut(usize)) {
        if axis == self.shape.len() {
            return leaf(offset);
        }
        for index in self.shown[axis].iter().flatten() {
            self.visit(axis + 1, offset + index * self.strides[axis], leaf);
        }
    }

    /// Writes the nested brackets, taking each element's text from `next` in printing order.
    fn write(&self, axis: usize, out: &mut String, next: &mut impl FnMut() -> String) {
        if axis == self.shape.len() {
            out.push_str(&next());
            return;
        }
        // Rows of a matrix are one newline apart, blocks of matrices two, as numpy prints them.
        let separator = if axis + 1 == self.shape.len() {
            " ".to_string()
        } else {
            "\n".repeat(self.shape.len() - axis - 1) + &" ".repeat(axis + 1)
        };
        out.push('[');
        for (i, index) in self.shown[axis].iter().enumerate() {
            if i > 0 {
                out.push_str(&separator);
            }
            match index {
                Some(_) => self.write(axis + 1, out, next),
                None => out.push_str("..."),
            }
        }
        out.push(']');
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn prints_like_numpy() {
        assert_eq!(
            Tensor::from([2.0, 0.0, -1.5]).to_string(),
            "[ 2.0  0.0 -1.5]"
        );
        assert_eq!(
            Tensor::from([0.2, -5.551115123125783e-17]).to_string(),
            "[                   0.2 -5.551115123125783e-17]"
        );
        let cube = Tensor::from_fn(&[2, 1, 2], |i| i as f64);
        assert_eq!(cube.to_string(), "[[[0.0 1.0]]\n\n [[2.0 3.0]]]");
        assert_eq!(Tensor::zeros(&[0]).to_string(), "[]");
        assert_eq!(format!("{:.2}", Tensor::scalar(1.0 / 3.0)), "0.33");
    }

    #[test]
    fn summarises_large_tensors() {
        let t = Tensor::from_fn(&[2000], |i| i as f64);
        assert_eq!(
            t.to_string(),
            "[   0.0    1.0    2.0 ... 1997.0 1998.0 1999.0]"
        );
        let m = Tensor::from_fn(&[100, 100], |i| (i % 10) as f64);
        let text = m.to_string();
        assert_eq!(
            text.lines().count(),
            7,
            "three rows, an ellipsis, three rows:\n{text}"
        );
        assert!(text.lines().nth(3).unwrap().trim() == "...");
    }
}
