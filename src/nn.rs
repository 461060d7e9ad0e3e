//! Layers: [`Linear`] and [`Mlp`], plain structs that own [`ParamId`]s into a [`ParamStore`]
//! and whose `forward` records ops on this step's tape.
//!
//! A layer holds no values and no tape: its weights live in the store (so one file saves the
//! whole model and one optimizer updates it), and its forward takes the step's [`Params`].
//!
//! ```
//! use tapegrad::{ParamStore, Tape, Tensor, nn};
//!
//! let mut store = ParamStore::new();
//! let mut rng = nn::seeded_rng(42);
//! let mlp = nn::Mlp::new(&mut store, "mlp", &[2, 16, 16, 1], nn::Activation::Relu, &mut rng);
//! assert_eq!(store.num_elements(), (2 * 16 + 16) + (16 * 16 + 16) + (16 + 1));
//!
//! let tape = Tape::new();
//! let p = store.on_tape(&tape);
//! let x = tape.constant(Tensor::from([[0.5, -1.0], [2.0, 0.25], [0.0, 0.0]]));
//! let scores = mlp.forward(&p, x);
//! assert_eq!(scores.shape(), [3, 1]);
//! ```
//!
//! Initialisation is seeded and reproducible: the same seed gives the same bits on every
//! machine, because the generator is ChaCha8 (`rand_chacha`, whose stream is fixed by its
//! specification) and each weight is `bound·(2u − 1)` for a uniform `u` in [0, 1) made from 53
//! random bits (`rand`'s `random::<f64>()`; a test pins the first values of seed 42, so an
//! upgrade of `rand` that changed them would be caught). The generator types are `rand` 0.10's
//! and `rand_chacha` 0.10's:
//!
//! | [`Init`] | weights drawn from | suits |
//! |---|---|---|
//! | `HeUniform` | U(−√(6/fan_in), √(6/fan_in)) (He et al. 2015; PyTorch's `kaiming_uniform_`, gain √2) | ReLU |
//! | `XavierUniform` | U(−√(6/(fan_in + fan_out)), +…) (Glorot & Bengio 2010; `xavier_uniform_`) | tanh, sigmoid, linear |
//! | `Uniform(a)` | U(−a, a) (micrograd uses a = 1) | reproducing others |
//!
//! Biases start at 0.

use crate::params::{ParamId, ParamStore, Params};
use crate::tensor::Tensor;
use crate::var::Var;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator layers are initialised from: ChaCha8 seeded with `seed`.
pub fn seeded_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// How a layer's weights are drawn (biases start at 0). See the module docs for the formulas.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// He (Kaiming) uniform: U(−√(6/fan_in), √(6/fan_in)); for ReLU layers.
    HeUniform,
    /// Xavier (Glorot) uniform: U(−√(6/(fan_in + fan_out)), √(6/(fan_in + fan_out))).
    XavierUniform,
    /// U(−a, a).
    Uniform(f64),
}

impl Init {
    /// A `[fan_out, fan_in]` weight matrix (PyTorch's `[out, in]` layout) drawn from this
    /// distribution.
    ///
    /// The numbers are drawn input by input (for each input, one per output), the order of
    /// tapegrad's earlier `[in, out]` layout, and stored transposed: a seed gives the same
    /// connection weights, and so the same models and training runs, as it did before the
    /// layout changed.
    pub fn weights(self, fan_in: usize, fan_out: usize, rng: &mut impl Rng) -> Tensor {
        let bound = match self {
            Init::HeUniform => (6.0 / fan_in as f64).sqrt(),
            Init::XavierUniform => (6.0 / (fan_in + fan_out) as f64).sqrt(),
            Init::Uniform(a) => a,
        };
        // u in [0, 1) from 53 random bits, then scaled: the same bits on every platform.
        let drawn = Tensor::from_fn(&[fan_in, fan_out], |_| {
            bound * (2.0 * rng.random::<f64>() - 1.0)
        });
        drawn.transpose()
    }
}

/// The nonlinearity between an [`Mlp`]'s layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// max(x, 0); layers are initialised with [`Init::HeUniform`].
    Relu,
    /// tanh x; layers are initialised with [`Init::XavierUniform`].
    Tanh,
    /// σ(x); layers are initialised with [`Init::XavierUniform`].
    Sigmoid,
    /// No nonlinearity; layers are initialised with [`Init::XavierUniform`].
    Identity,
}

impl Activation {
    /// Applies the activation to `x`.
    #[track_caller]
    pub fn apply<'t>(self, x: Var<'t>) -> Var<'t> {
        match self {
            Activation::Relu => x.relu(),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Identity => x,
        }
    }

    /// The initialisation that keeps activations' variance steady through layers of this kind.
    pub fn init(self) -> Init {
        match self {
            Activation::Relu => Init::HeUniform,
            Activation::Tanh | Activation::Sigmoid | Activation::Identity => Init::XavierUniform,
        }
    }
}

/// A fully connected layer: `y = x·Wᵀ + b`, with `W` of shape `[out, in]` and `b` of shape
/// `[out]` broadcast over the rows of `x`: PyTorch's `nn.Linear`, parameter for parameter, so
/// its weights load into PyTorch and back unchanged.
///
/// The product reads `W` through a transposed view ([`Var::matmul_t`]): no copy, forward or
/// backward.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    /// The weight matrix, `[out, in]`, named `{name}.weight`.
    pub weight: ParamId,
    /// The bias, `[out]`, named `{name}.bias`; `None` for a layer without bias.
    pub bias: Option<ParamId>,
    /// The number of input features.
    pub in_features: usize,
    /// The number of output features.
    pub out_features: usize,
}

impl Linear {
    /// A layer with bias, its parameters added to `store` as `{name}.weight` and `{name}.bias`.
    ///
    /// # Panics
    ///
    /// If `store` already holds one of the names.
    #[track_caller]
    pub fn new(
        store: &mut ParamStore,
        name: &str,
        in_features: usize,
        out_features: usize,
        init: Init,
        rng: &mut impl Rng,
    ) -> Linear {
        // Checked before the weight goes in, so that a caught panic leaves the store as it was.
        assert_free(store, &[format!("{name}.bias")]);
        let mut layer = Linear::without_bias(store, name, in_features, out_features, init, rng);
        layer.bias = Some(store.insert(format!("{name}.bias"), Tensor::zeros(&[out_features])));
        layer
    }

    /// A layer without bias (`y = x·Wᵀ`), its weight added to `store` as `{name}.weight`.
    ///
    /// # Panics
    ///
    /// If `store` already holds the name.
    #[track_caller]
    pub fn without_bias(
        store: &mut ParamStore,
        name: &str,
        in_features: usize,
        out_features: usize,
        init: Init,
        rng: &mut impl Rng,
    ) -> Linear {
        let weights = init.weights(in_features, out_features, rng);
        Linear {
            weight: store.insert(format!("{name}.weight"), weights),
            bias: None,
            in_features,
            out_features,
        }
    }

    /// `x·Wᵀ + b` for `x` of shape `[batch, in]` (or `[in]` for one example).
    ///
    /// # Panics
    ///
    /// If `x`'s last dimension is not `in_features` (the message is matmul_t's, at the caller's
    /// line), or if `params` come from a store without this layer.
    #[track_caller]
    pub fn forward<'t>(&self, params: &Params<'_, 't>, x: Var<'t>) -> Var<'t> {
        let y = x.matmul_t(params[self.weight]);
        match self.bias {
            Some(bias) => y + params[bias],
            None => y,
        }
    }
}

/// A multi-layer perceptron: [`Linear`] layers of the given sizes, with an activation after
/// every layer but the last (whose output is left linear: scores or logits for a loss).
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    /// The layers, from input to output.
    pub layers: Vec<Linear>,
    /// The activation between layers.
    pub activation: Activation,
}

impl Mlp {
    /// An MLP with `sizes = [in, hidden…, out]`, layer `i` named `{name}.{i}` (so its weight is
    /// `{name}.{i}.weight`), initialised with `activation.init()` — He for ReLU, Xavier
    /// otherwise — from `rng`, biases 0.
    ///
    /// # Panics
    ///
    /// If `sizes` has fewer than two entries, or `store` already holds one of the names.
    #[track_caller]
    pub fn new(
        store: &mut ParamStore,
        name: &str,
        sizes: &[usize],
        activation: Activation,
        rng: &mut impl Rng,
    ) -> Mlp {
        Mlp::with_init(store, name, sizes, activation, activation.init(), rng)
    }

    /// As [`new`](Self::new), with the weights drawn from `init`.
    ///
    /// # Panics
    ///
    /// As [`new`](Self::new).
    #[track_caller]
    pub fn with_init(
        store: &mut ParamStore,
        name: &str,
        sizes: &[usize],
        activation: Activation,
        init: Init,
        rng: &mut impl Rng,
    ) -> Mlp {
        assert!(
            sizes.len() >= 2,
            "Mlp::new: sizes must list the input size and at least one layer's size, got {sizes:?}"
        );
        let names = (0..sizes.len() - 1)
            .flat_map(|i| [format!("{name}.{i}.weight"), format!("{name}.{i}.bias")]);
        assert_free(store, &names.collect::<Vec<_>>());
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, pair)| {
                Linear::new(store, &format!("{name}.{i}"), pair[0], pair[1], init, rng)
            })
            .collect();
        Mlp { layers, activation }
    }

    /// The output for `x` of shape `[batch, in]`: each layer, with the activation between them.
    ///
    /// # Panics
    ///
    /// As [`Linear::forward`].
    #[track_caller]
    pub fn forward<'t>(&self, params: &Params<'_, 't>, x: Var<'t>) -> Var<'t> {
        let (last, hidden) = self
            .layers
            .split_last()
            .expect("an Mlp has at least one layer");
        // A loop, not `fold`: a closure would end `#[track_caller]`, and a shape error (or a
        // node's recorded line) would point inside this file instead of at the caller.
        let mut h = x;
        for layer in hidden {
            h = self.activation.apply(layer.forward(params, h));
        }
        last.forward(params, h)
    }
}

/// Panics, naming the first, if `store` already holds one of `names`.
#[track_caller]
fn assert_free(store: &ParamStore, names: &[String]) {
    if let Some(taken) = names.iter().find(|name| store.contains(name)) {
        panic!("ParamStore::insert: the store already holds a parameter `{taken}`");
    }
}
