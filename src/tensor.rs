//! [`Tensor`]: an n-dimensional array of `f64`, row-major and contiguous.
//!
//! A tensor is 16 bytes: a scalar is stored inline (no heap allocation for its value or its
//! shape), anything else behind an `Arc`, so clones are cheap and a write copies the buffer only
//! when it is shared (copy-on-write). This file holds the type, its constructors, accessors and
//! comparisons; the numeric kernels are in `kernels.rs`, the operators in `arith.rs`, `Display`
//! in `display.rs`. It knows nothing about autodiff.

use crate::error::Error;
use crate::shape::Shape;
use std::sync::Arc;

/// An n-dimensional array of `f64` in row-major order.
///
/// ```
/// use tapegrad::Tensor;
///
/// let t = Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
/// assert_eq!(t.shape(), &[2, 3]);
/// assert_eq!(t.data(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// assert_eq!(Tensor::scalar(2.5).item(), 2.5);
/// ```
// A struct of an `f64` and a pointer, not an enum of the two: the compiler then moves a tensor
// in two registers. As an enum it went through the stack, written as two 8-byte halves and read
// back as one 16-byte block, which the CPU cannot forward from the pending writes: W4 (a deep
// scalar chain) stalled on that load once per node.
#[derive(Clone)]
pub struct Tensor {
    /// The element of a scalar (shape `[]`): inline, so the many scalars of a scalar graph
    /// never touch the allocator. Unused (0) when `dense` holds a buffer.
    scalar: f64,
    /// The shape and elements of any shape with at least one dimension; `None` for a scalar.
    dense: Option<Arc<Dense>>,
}

#[derive(Clone)]
struct Dense {
    shape: Shape,
    data: Vec<f64>,
}

impl Tensor {
    /// A tensor of `shape` holding `data` in row-major order.
    ///
    /// # Errors
    ///
    /// [`Error::DataLength`] if `data.len()` is not the number of elements `shape` holds;
    /// [`Error::TooLarge`] if that number overflows a `usize`.
    ///
    /// ```
    /// use tapegrad::Tensor;
    /// let t = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(t.shape(), &[2, 2]);
    /// assert!(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[2, 2]).is_err());
    /// # Ok::<(), tapegrad::Error>(())
    /// ```
    pub fn from_vec(data: Vec<f64>, shape: &[usize]) -> Result<Tensor, Error> {
        let shape = Shape::from(shape);
        let Some(size) = shape.checked_size() else {
            return Err(Error::TooLarge {
                shape: shape.to_vec(),
            });
        };
        if data.len() != size {
            return Err(Error::DataLength {
                expected: size,
                actual: data.len(),
                shape: shape.to_vec(),
            });
        }
        Ok(Tensor::from_parts(shape, data))
    }

    /// A tensor of shape `[]` holding `value`.
    #[inline]
    pub const fn scalar(value: f64) -> Tensor {
        Tensor {
            scalar: value,
            dense: None,
        }
    }

    /// A tensor of `shape` with every element `value`.
    ///
    /// # Panics
    ///
    /// If no tensor of `shape` fits in memory; the message gives the shape and the bytes.
    #[track_caller]
    pub fn full(shape: &[usize], value: f64) -> Tensor {
        if shape.is_empty() {
            return Tensor::scalar(value);
        }
        let shape = Shape::from(shape);
        let (mut data, size) = allocate("full", &shape);
        data.resize(size, value);
        Tensor::from_parts(shape, data)
    }

    /// A tensor of `shape` filled with zeros.
    ///
    /// # Panics
    ///
    /// As [`full`](Tensor::full).
    #[track_caller]
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// A tensor of `shape` filled with ones.
    ///
    /// # Panics
    ///
    /// As [`full`](Tensor::full).
    #[track_caller]
    pub fn ones(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 1.0)
    }

    /// A tensor of `shape` whose element at row-major position `i` is `f(i)`.
    ///
    /// ```
    /// use tapegrad::Tensor;
    /// let t = Tensor::from_fn(&[2, 3], |i| i as f64);
    /// assert_eq!(t, Tensor::from([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]));
    /// ```
    ///
    /// # Panics
    ///
    /// As [`full`](Tensor::full).
    #[track_caller]
    pub fn from_fn(shape: &[usize], f: impl FnMut(usize) -> f64) -> Tensor {
        let shape = Shape::from(shape);
        let (mut data, size) = allocate("from_fn", &shape);
        data.extend((0..size).map(f));
        Tensor::from_parts(shape, data)
    }

    /// Builds a tensor from parts the caller has already checked.
    pub(crate) fn from_parts(shape: Shape, data: Vec<f64>) -> Tensor {
        debug_assert_eq!(data.len(), shape.size(), "shape {shape:?}");
        if shape.is_empty() {
            Tensor::scalar(data[0])
        } else {
            Tensor {
                scalar: 0.0,
                dense: Some(Arc::new(Dense { shape, data })),
            }
        }
    }

    /// The value of a tensor of shape `[]`, for the kernels' allocation-free scalar paths.
    #[inline]
    pub(crate) fn as_scalar(&self) -> Option<f64> {
        match self.dense {
            None => Some(self.scalar),
            Some(_) => None,
        }
    }

    /// Whether another tensor shares this one's buffer, so that writing to it would copy it.
    #[inline]
    pub(crate) fn is_shared(&mut self) -> bool {
        match &mut self.dense {
            None => false,
            Some(dense) => Arc::get_mut(dense).is_none(),
        }
    }

    /// Whether both tensors have the same shape; free for two scalars, which the backward pass
    /// of a scalar graph asks about at every node.
    #[inline]
    pub(crate) fn same_shape(&self, other: &Tensor) -> bool {
        match (&self.dense, &other.dense) {
            (None, None) => true,
            (Some(a), Some(b)) => a.shape == b.shape,
            _ => false,
        }
    }

    /// `self += other` for a tensor of the same shape: how a gradient accumulates. In place when
    /// the buffer is unshared (copy-on-write otherwise), with no broadcasting to work out.
    #[inline]
    pub(crate) fn add_same_shape(&mut self, other: &Tensor) {
        debug_assert!(self.same_shape(other));
        match (&self.dense, &other.dense) {
            (None, None) => self.scalar += other.scalar,
            _ => self.add_same_shape_dense(other),
        }
    }

    /// [`add_same_shape`](Tensor::add_same_shape)'s loop, out of line so that the scalar case
    /// inlines small.
    #[inline(never)]
    fn add_same_shape_dense(&mut self, other: &Tensor) {
        for (a, b) in self.data_mut().iter_mut().zip(other.data()) {
            *a += b;
        }
    }

    /// The dimensions, outermost first; `&[]` for a scalar.
    #[inline]
    pub fn shape(&self) -> &[usize] {
        match &self.dense {
            None => &[],
            Some(dense) => &dense.shape,
        }
    }

    /// The shape as an owned [`Shape`] (no heap allocation up to four dimensions).
    pub(crate) fn shape_owned(&self) -> Shape {
        match &self.dense {
            None => Shape::scalar(),
            Some(dense) => dense.shape.clone(),
        }
    }

    /// The number of dimensions (0 for a scalar).
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// The elements in row-major order.
    #[inline]
    pub fn data(&self) -> &[f64] {
        match &self.dense {
            None => std::slice::from_ref(&self.scalar),
            Some(dense) => &dense.data,
        }
    }

    /// The elements in row-major order, for writing. Copies the buffer first if another tensor
    /// shares it (copy-on-write), so no other tensor sees the change.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [f64] {
        match &mut self.dense {
            None => std::slice::from_mut(&mut self.scalar),
            Some(dense) => &mut Arc::make_mut(dense).data,
        }
    }

    /// The elements as a new `Vec`.
    pub fn to_vec(&self) -> Vec<f64> {
        self.data().to_vec()
    }

    /// The elements as a `Vec`, without a copy when this tensor is the buffer's only owner.
    pub fn into_vec(self) -> Vec<f64> {
        match self.dense {
            None => vec![self.scalar],
            Some(dense) => Arc::try_unwrap(dense).map_or_else(|d| d.data.clone(), |d| d.data),
        }
    }

    /// The number of elements (1 for a scalar).
    pub fn len(&self) -> usize {
        self.data().len()
    }

    /// Whether the tensor has no elements (some dimension is 0).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of a tensor that holds exactly one element, whatever its shape.
    ///
    /// # Panics
    ///
    /// If the tensor holds more or fewer than one element.
    #[track_caller]
    pub fn item(&self) -> f64 {
        match self.data() {
            [value] => *value,
            data => panic!(
                "item: the tensor holds {} elements (shape {:?}); item needs exactly one",
                data.len(),
                self.shape()
            ),
        }
    }

    /// The same elements under another shape of the same size.
    ///
    /// # Panics
    ///
    /// If `shape` holds a different number of elements.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        let shape = Shape::from(shape);
        assert!(
            shape.checked_size().is_some(),
            "reshape: the shape {shape:?} holds more elements than a usize counts"
        );
        assert_eq!(
            shape.size(),
            self.len(),
            "reshape: cannot view {:?} ({} elements) as {:?} ({} elements)",
            self.shape(),
            self.len(),
            shape,
            shape.size()
        );
        self.with_shape(shape)
    }

    /// The same elements under `shape`, which the caller has checked has the same size.
    pub(crate) fn with_shape(&self, shape: Shape) -> Tensor {
        match &self.dense {
            Some(dense) if dense.shape == shape => self.clone(),
            _ => Tensor::from_parts(shape, self.to_vec()),
        }
    }

    /// Whether `self` and `other` share one buffer (clones of each other, not yet written to).
    pub fn shares_buffer_with(&self, other: &Tensor) -> bool {
        match (&self.dense, &other.dense) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Whether every element is finite (neither NaN nor infinite).
    pub fn is_finite(&self) -> bool {
        self.data().iter().all(|x| x.is_finite())
    }
}

/// An empty buffer with room for the elements of `shape`, and their number.
///
/// # Panics
///
/// If their number overflows a `usize`, or the allocator refuses the bytes: the message names
/// `op`, the shape and the byte count, where `vec!` would abort the process.
#[track_caller]
pub(crate) fn allocate(op: &str, shape: &Shape) -> (Vec<f64>, usize) {
    let bytes = |n: usize| n.checked_mul(std::mem::size_of::<f64>());
    let Some((size, bytes)) = shape.checked_size().and_then(|n| Some((n, bytes(n)?))) else {
        panic!("{op}: the shape {shape:?} holds more elements than memory can address");
    };
    let mut data = Vec::new();
    if data.try_reserve_exact(size).is_err() {
        panic!("{op}: cannot allocate {bytes} bytes for a tensor of shape {shape:?}");
    }
    (data, size)
}

impl PartialEq for Tensor {
    /// Equal shapes and equal elements (so NaN ≠ NaN, and `0.0 == -0.0`, as for `f64`).
    fn eq(&self, other: &Tensor) -> bool {
        self.shape() == other.shape() && self.data() == other.data()
    }
}

impl From<f64> for Tensor {
    fn from(value: f64) -> Tensor {
        Tensor::scalar(value)
    }
}

impl<const N: usize> From<[f64; N]> for Tensor {
    fn from(row: [f64; N]) -> Tensor {
        Tensor::from_parts(Shape::from([N]), row.to_vec())
    }
}

impl<const M: usize, const N: usize> From<[[f64; M]; N]> for Tensor {
    fn from(rows: [[f64; M]; N]) -> Tensor {
        Tensor::from_parts(Shape::from([N, M]), rows.as_flattened().to_vec())
    }
}

impl From<Vec<f64>> for Tensor {
    /// A 1-D tensor of the vector's elements.
    fn from(data: Vec<f64>) -> Tensor {
        Tensor::from_parts(Shape::from([data.len()]), data)
    }
}

impl From<&[f64]> for Tensor {
    /// A 1-D tensor of the slice's elements.
    fn from(data: &[f64]) -> Tensor {
        Tensor::from(data.to_vec())
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tensor")
            .field("shape", &self.shape())
            .field("data", &self.data())
            .finish()
    }
}

// Comparison with tolerances, so `assert_relative_eq!(a, b, max_relative = 1e-9)` works on
// tensors. Tensors of different shapes compare unequal; no comparison panics.
impl approx::AbsDiffEq for Tensor {
    type Epsilon = f64;

    fn default_epsilon() -> f64 {
        f64::default_epsilon()
    }

    fn abs_diff_eq(&self, other: &Tensor, epsilon: f64) -> bool {
        self.shape() == other.shape()
            && self
                .data()
                .iter()
                .zip(other.data())
                .all(|(a, b)| a.abs_diff_eq(b, epsilon))
    }
}

impl approx::RelativeEq for Tensor {
    fn default_max_relative() -> f64 {
        f64::default_max_relative()
    }

    fn relative_eq(&self, other: &Tensor, epsilon: f64, max_relative: f64) -> bool {
        self.shape() == other.shape()
            && self
                .data()
                .iter()
                .zip(other.data())
                .all(|(a, b)| a.relative_eq(b, epsilon, max_relative))
    }
}

impl approx::UlpsEq for Tensor {
    fn default_max_ulps() -> u32 {
        f64::default_max_ulps()
    }

    fn ulps_eq(&self, other: &Tensor, epsilon: f64, max_ulps: u32) -> bool {
        self.shape() == other.shape()
            && self
                .data()
                .iter()
                .zip(other.data())
                .all(|(a, b)| a.ulps_eq(b, epsilon, max_ulps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tensor_is_two_words_and_thread_safe() {
        assert_eq!(std::mem::size_of::<Tensor>(), 16);
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Tensor>();
    }

    #[test]
    fn constructors_give_the_shapes_they_promise() {
        assert_eq!(Tensor::scalar(3.0).shape(), &[] as &[usize]);
        assert_eq!(Tensor::scalar(3.0).data(), &[3.0]);
        assert_eq!(Tensor::zeros(&[2, 3]).data(), &[0.0; 6]);
        assert_eq!(Tensor::ones(&[]).data(), &[1.0]);
        assert_eq!(Tensor::full(&[2], 7.0).data(), &[7.0, 7.0]);
        assert_eq!(Tensor::from(vec![1.0, 2.0]).shape(), &[2]);
        assert_eq!(Tensor::from([[1.0], [2.0]]).shape(), &[2, 1]);
        assert_eq!(Tensor::zeros(&[2, 0]).len(), 0);
        assert!(Tensor::zeros(&[2, 0]).is_empty());
        assert_eq!(
            Tensor::from_vec(vec![1.0], &[2]),
            Err(Error::DataLength {
                shape: vec![2],
                expected: 2,
                actual: 1
            })
        );
    }

    #[test]
    fn writes_copy_a_shared_buffer_and_reuse_an_unshared_one() {
        let a = Tensor::from([1.0, 2.0]);
        let mut b = a.clone();
        assert!(b.shares_buffer_with(&a));
        b.data_mut()[0] = 10.0;
        assert_eq!(a.data(), &[1.0, 2.0], "the original is untouched");
        assert_eq!(b.data(), &[10.0, 2.0]);
        let before = b.data().as_ptr();
        b.data_mut()[1] = 20.0;
        assert_eq!(
            b.data().as_ptr(),
            before,
            "an unshared buffer is written in place"
        );
    }

    #[test]
    fn reshape_keeps_the_elements() {
        let t = Tensor::from([[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(t.reshape(&[4]), Tensor::from([1.0, 2.0, 3.0, 4.0]));
        assert_eq!(Tensor::from([5.0]).reshape(&[]), Tensor::scalar(5.0));
    }

    #[test]
    #[should_panic(expected = "reshape: cannot view [2, 2] (4 elements) as [3] (3 elements)")]
    fn reshape_to_another_size_panics() {
        let _ = Tensor::zeros(&[2, 2]).reshape(&[3]);
    }

    #[test]
    #[should_panic(expected = "item: the tensor holds 2 elements (shape [2])")]
    fn item_of_two_elements_panics() {
        let _ = Tensor::zeros(&[2]).item();
    }

    #[test]
    fn approx_comparisons_never_panic_on_shape_mismatch() {
        use approx::{AbsDiffEq, RelativeEq, UlpsEq};
        let a = Tensor::from([1.0, 2.0]);
        let b = Tensor::from([1.0, 2.0 + 1e-12]);
        assert!(a.relative_eq(&b, 0.0, 1e-9));
        assert!(!a.relative_eq(&b, 0.0, 1e-14));
        assert!(a.abs_diff_eq(&b, 1e-11));
        assert!(!a.ulps_eq(&b, 0.0, 4));
        let c = Tensor::from([[1.0, 2.0]]);
        assert!(!a.abs_diff_eq(&c, 1.0));
        assert!(!a.relative_eq(&c, 1.0, 1.0));
        assert!(!a.ulps_eq(&c, 1.0, 100));
    }
}
