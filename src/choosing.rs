//! [`Var`]'s ops that compare and choose: comparisons giving masks, `where_`, `maximum`,
//! `minimum` and `clamp`.
//!
//! A mask is a value of 1s and 0s with no gradient (a comparison is piecewise constant); it
//! is recorded like any op, so traces and pictures show where it came from. `maximum` is a
//! primitive (its ties split the gradient evenly, which no composition gives); `minimum` and
//! `clamp` are written with it and with `where_`.

use crate::op::{Comparison, Op};
use crate::var::Var;

impl<'t> Var<'t> {
    /// Records the comparison `self ◇ other` (broadcast).
    #[track_caller]
    fn compare(self, other: Var<'t>, cmp: Comparison) -> Var<'t> {
        assert!(
            std::ptr::eq(self.tape(), other.tape()),
            "{}: the operands are Vars of two different tapes; record both on one tape",
            cmp.name()
        );
        self.tape().record(Op::Compare(self.id(), other.id(), cmp))
    }

    /// A mask: 1 where `self > other`, 0 elsewhere (broadcast; NaN compares false). It has no
    /// gradient.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([-1.0, 0.0, 2.0]));
    /// let zero = tape.constant(0.0);
    /// assert_eq!(x.gt(zero).value(), Tensor::from([0.0, 0.0, 1.0]));
    /// assert_eq!(x.ge(zero).value(), Tensor::from([0.0, 1.0, 1.0]));
    /// assert_eq!(x.eq(zero).value(), Tensor::from([0.0, 1.0, 0.0]));
    /// ```
    ///
    /// # Panics
    ///
    /// If the shapes do not broadcast, or the Vars belong to two tapes.
    #[track_caller]
    pub fn gt(self, other: Var<'t>) -> Var<'t> {
        self.compare(other, Comparison::Gt)
    }

    /// A mask: 1 where `self < other`, as [`gt`](Var::gt).
    ///
    /// # Panics
    ///
    /// As [`gt`](Var::gt).
    #[track_caller]
    pub fn lt(self, other: Var<'t>) -> Var<'t> {
        self.compare(other, Comparison::Lt)
    }

    /// A mask: 1 where `self ≥ other`, as [`gt`](Var::gt).
    ///
    /// # Panics
    ///
    /// As [`gt`](Var::gt).
    #[track_caller]
    pub fn ge(self, other: Var<'t>) -> Var<'t> {
        self.compare(other, Comparison::Ge)
    }

    /// A mask: 1 where `self ≤ other`, as [`gt`](Var::gt).
    ///
    /// # Panics
    ///
    /// As [`gt`](Var::gt).
    #[track_caller]
    pub fn le(self, other: Var<'t>) -> Var<'t> {
        self.compare(other, Comparison::Le)
    }

    /// A mask: 1 where `self = other`, as [`gt`](Var::gt).
    ///
    /// # Panics
    ///
    /// As [`gt`](Var::gt).
    #[track_caller]
    pub fn eq(self, other: Var<'t>) -> Var<'t> {
        self.compare(other, Comparison::Eq)
    }

    /// `a` where this mask is nonzero, `b` where it is 0, over the broadcast shape of the three
    /// (numpy's and PyTorch's `where`). The gradient goes to the chosen operand only, and the
    /// mask gets none; an infinite value that is not chosen stays out (a masked product
    /// `a·m + b·(1 − m)` would make it NaN). Call it as `Var::where_(mask, a, b)` or
    /// `mask.where_(a, b)`.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor, Var};
    ///
    /// let tape = Tape::new();
    /// let scores = tape.param(Tensor::from([[1.0, 2.0], [3.0, 4.0]]));
    /// let causal = tape.constant(Tensor::from([[1.0, 0.0], [1.0, 1.0]]));
    /// let masked = Var::where_(causal, scores, tape.constant(f64::NEG_INFINITY));
    /// let p = masked.softmax(-1);
    /// assert_eq!(p.value().data()[..2], [1.0, 0.0]);
    /// let g = masked.backward_with(Tensor::ones(&[2, 2]));
    /// assert_eq!(g[scores], Tensor::from([[1.0, 0.0], [1.0, 1.0]]));
    /// ```
    ///
    /// # Panics
    ///
    /// If the shapes do not broadcast, or the Vars belong to more than one tape.
    #[track_caller]
    pub fn where_(self, a: Var<'t>, b: Var<'t>) -> Var<'t> {
        let mask = self;
        assert!(
            std::ptr::eq(mask.tape(), a.tape()) && std::ptr::eq(a.tape(), b.tape()),
            "where: the operands are Vars of different tapes; record all three on one tape"
        );
        mask.tape().record(Op::Where([mask.id(), a.id(), b.id()]))
    }

    /// The elementwise maximum of two values (broadcast; NaN if either is, as PyTorch's
    /// `maximum`). Where they are equal, each gets half the gradient, as in PyTorch and JAX.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([1.0, 2.0, 3.0]));
    /// let y = tape.param(Tensor::from([3.0, 2.0, 1.0]));
    /// let m = x.maximum(y);
    /// assert_eq!(m.value(), Tensor::from([3.0, 2.0, 3.0]));
    /// let g = m.sum().backward();
    /// assert_eq!(g[x], Tensor::from([0.0, 0.5, 1.0]));
    /// assert_eq!(g[y], Tensor::from([1.0, 0.5, 0.0]));
    /// ```
    ///
    /// # Panics
    ///
    /// If the shapes do not broadcast, or the Vars belong to two tapes.
    #[track_caller]
    pub fn maximum(self, other: Var<'t>) -> Var<'t> {
        assert!(
            std::ptr::eq(self.tape(), other.tape()),
            "maximum: the operands are Vars of two different tapes; record both on one tape"
        );
        self.tape().record(Op::Maximum(self.id(), other.id()))
    }

    /// The elementwise minimum, `−maximum(−x, −y)`: ties split the gradient evenly.
    ///
    /// # Panics
    ///
    /// As [`maximum`](Var::maximum).
    #[track_caller]
    pub fn minimum(self, other: Var<'t>) -> Var<'t> {
        -(-self).maximum(-other)
    }

    /// Each element limited to `[lo, hi]` (PyTorch's `clamp`): the gradient passes where
    /// `lo ≤ x ≤ hi`, bounds included, and is 0 outside; NaN stays NaN. Use `f64::INFINITY`
    /// or `f64::NEG_INFINITY` for a side with no bound.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([-2.0, 0.0, 1.0, 3.0]));
    /// let c = x.clamp(0.0, 1.0);
    /// assert_eq!(c.value(), Tensor::from([0.0, 0.0, 1.0, 1.0]));
    /// assert_eq!(c.sum().backward()[x], Tensor::from([0.0, 1.0, 1.0, 0.0]));
    /// ```
    ///
    /// # Panics
    ///
    /// If `lo > hi` or either is NaN.
    #[track_caller]
    pub fn clamp(self, lo: f64, hi: f64) -> Var<'t> {
        assert!(
            lo <= hi,
            "clamp: the bounds [{lo}, {hi}] are not an interval"
        );
        let x = self.value();
        let tape = self.tape();
        let inside = tape.constant(x.map(|x| f64::from(lo <= x && x <= hi)));
        // NaN is not inside, and `f64::clamp` keeps it NaN.
        let bound = tape.constant(x.map(|x| x.clamp(lo, hi)));
        Var::where_(inside, self, bound)
    }
}
