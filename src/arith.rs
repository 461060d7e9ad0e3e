//! Arithmetic operators on plain tensors, without a tape: `+ - * /` by value and by reference,
//! with `f64` on either side, numpy broadcasting, and the compound assignments.
//!
//! An operator that owns an unshared left operand of the result's shape writes into its buffer,
//! so a parameter update `w -= &(lr * &g)` allocates nothing for `w`. The macro below only
//! spells out the operand combinations; each operator's math is the one closure it is given.

use crate::shape::broadcasts_to;
use crate::tensor::Tensor;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

macro_rules! tensor_binary_op {
    ($Trait:ident, $method:ident, $AssignTrait:ident, $assign:ident, $name:literal, $f:expr) => {
        impl $Trait<Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                self.zip_into(&rhs, $name, $f)
            }
        }
        impl $Trait<&Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                self.zip_into(rhs, $name, $f)
            }
        }
        impl $Trait<Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                self.zip_with(&rhs, $name, $f)
            }
        }
        impl $Trait<&Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                self.zip_with(rhs, $name, $f)
            }
        }
        impl $Trait<f64> for Tensor {
            type Output = Tensor;
            #[inline]
            fn $method(self, rhs: f64) -> Tensor {
                self.map_into(|x| $f(x, rhs))
            }
        }
        impl $Trait<f64> for &Tensor {
            type Output = Tensor;
            #[inline]
            fn $method(self, rhs: f64) -> Tensor {
                self.map(|x| $f(x, rhs))
            }
        }
        impl $Trait<Tensor> for f64 {
            type Output = Tensor;
            #[inline]
            fn $method(self, rhs: Tensor) -> Tensor {
                rhs.map_into(|x| $f(self, x))
            }
        }
        impl $Trait<&Tensor> for f64 {
            type Output = Tensor;
            #[inline]
            fn $method(self, rhs: &Tensor) -> Tensor {
                rhs.map(|x| $f(self, x))
            }
        }
        impl $AssignTrait<&Tensor> for Tensor {
            /// # Panics
            ///
            /// If `rhs` does not broadcast to `self`'s shape (the shape never changes).
            #[track_caller]
            fn $assign(&mut self, rhs: &Tensor) {
                assert!(
                    broadcasts_to(rhs.shape(), self.shape()),
                    concat!($name, "_assign: cannot broadcast {:?} into {:?}"),
                    rhs.shape(),
                    self.shape()
                );
                let lhs = std::mem::replace(self, Tensor::scalar(0.0));
                *self = lhs.zip_into(rhs, $name, $f);
            }
        }
        impl $AssignTrait<Tensor> for Tensor {
            #[track_caller]
            fn $assign(&mut self, rhs: Tensor) {
                $AssignTrait::$assign(self, &rhs);
            }
        }
        impl $AssignTrait<f64> for Tensor {
            fn $assign(&mut self, rhs: f64) {
                for x in self.data_mut() {
                    *x = $f(*x, rhs);
                }
            }
        }
    };
}

tensor_binary_op!(Add, add, AddAssign, add_assign, "add", |x: f64, y: f64| x
    + y);
tensor_binary_op!(Sub, sub, SubAssign, sub_assign, "sub", |x: f64, y: f64| x
    - y);
tensor_binary_op!(Mul, mul, MulAssign, mul_assign, "mul", |x: f64, y: f64| x
    * y);
tensor_binary_op!(Div, div, DivAssign, div_assign, "div", |x: f64, y: f64| x
    / y);

impl Neg for Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        self.map_into(|x| -x)
    }
}

impl Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        self.map(|x| -x)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn operators_cover_every_operand_combination() {
        let a = Tensor::from([1.0, 2.0]);
        let b = Tensor::from([3.0, 5.0]);
        assert_eq!(&a + &b, Tensor::from([4.0, 7.0]));
        assert_eq!(a.clone() - &b, Tensor::from([-2.0, -3.0]));
        assert_eq!(&a * b.clone(), Tensor::from([3.0, 10.0]));
        assert_eq!(a.clone() / b.clone(), Tensor::from([1.0 / 3.0, 0.4]));
        assert_eq!(2.0 * &a, Tensor::from([2.0, 4.0]));
        assert_eq!(&a - 1.0, Tensor::from([0.0, 1.0]));
        assert_eq!(1.0 - a.clone(), Tensor::from([0.0, -1.0]));
        assert_eq!(a.clone() / 2.0, Tensor::from([0.5, 1.0]));
        assert_eq!(-&a, Tensor::from([-1.0, -2.0]));
        let m = Tensor::from([[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(&m + &a, Tensor::from([[2.0, 4.0], [4.0, 6.0]]));
        assert_eq!(&a + &m, Tensor::from([[2.0, 4.0], [4.0, 6.0]]));
    }

    #[test]
    fn compound_assignment_reuses_an_unshared_buffer() {
        let mut w = Tensor::from([1.0, 2.0]);
        let g = Tensor::from([10.0, 20.0]);
        let before = w.data().as_ptr();
        w -= &(0.1 * &g);
        assert_eq!(w, Tensor::from([0.0, 0.0]));
        assert_eq!(w.data().as_ptr(), before);
        w += 1.0;
        w *= &Tensor::scalar(3.0);
        w /= 2.0;
        assert_eq!(w, Tensor::from([1.5, 1.5]));
        let shared = w.clone();
        w += &g;
        assert_eq!(
            shared,
            Tensor::from([1.5, 1.5]),
            "a clone is never written through"
        );
    }

    #[test]
    #[should_panic(expected = "add_assign: cannot broadcast [2, 2] into [2]")]
    fn compound_assignment_never_changes_the_shape() {
        let mut w = Tensor::from([1.0, 2.0]);
        w += &Tensor::zeros(&[2, 2]);
    }
}
