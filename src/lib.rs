//! # tapegrad
//!
//! A minimal, tape-based, reverse-mode automatic differentiation engine.
//!
//! A [`Tape`] records every op of the forward pass as it runs; [`Var::backward`] walks the tape
//! once in reverse and applies the chain rule, returning the gradients as a [`Grads`] value.
//!
//! ```
//! use tapegrad::{Tape, Tensor};
//!
//! let tape = Tape::new();
//! let x = tape.constant(Tensor::from([[1.0, 1.0], [-1.0, 1.0], [-1.0, -0.5], [-1.0, 1.5]]));
//! let t = tape.constant(Tensor::from([0.0, 1.0, 0.0, 1.0]));
//! let w = tape.param(Tensor::from([1.0, 1.0]));   // a leaf we differentiate against
//! let b = tape.param(Tensor::scalar(0.0));
//! let z = x.matmul(w) + b;                        // forward pass: nodes are recorded
//! let y = z.step();                               // step(z) = 1 if z > 0 else 0; step' = 0
//! let loss = -((t - y) * z).mean();               // the perceptron criterion
//! let grads = loss.backward();                    // backward pass: the chain rule, once
//! assert_eq!(grads[w].data(), &[0.5, 0.0]);       // −(t − y)·x / 4
//! ```
//!
//! New to backpropagation? The [`guide`] teaches it one section of the article at a time, with
//! code that runs.
//!
//! Where things live (see [`architecture`] for how they fit together,
//! [`gradient_checking`] for checking gradients in your own tests, and [`models`] for
//! defining, training, saving and loading models):
//!
//! | file | what it holds |
//! |---|---|
//! | `tensor.rs`, `kernels.rs`, `matmul.rs`, `arith.rs`, `display.rs` | [`Tensor`]: values, kernels, operators, printing |
//! | `shape.rs` | [`Shape`] and numpy's broadcasting rules |
//! | `tape.rs` | [`Tape`], the list of recorded nodes |
//! | `var.rs` | [`Var`], the handle users compute with |
//! | `axis.rs` | [`Axis`]: axes counted from the front or, negative, from the end |
//! | `shaping.rs` | [`Var`]'s axis ops: reductions that keep their axis, `permute`, `squeeze`, `var`/`std`, triangles, diagonals |
//! | `selecting.rs`, `gather.rs`, `join.rs` | [`Var`]'s selecting and joining ops: `narrow`, `index_select`, `gather`, `concat`, `stack`, `split` |
//! | `choosing.rs` | [`Var`]'s comparisons, `where_`, `maximum`, `minimum`, `clamp` |
//! | `layout.rs` | tensor kernels that move elements: `permute`, `where`, `argmax` |
//! | `random.rs` | seeded random tensors: [`Tensor::rand`], [`Tensor::randn`], [`Tensor::uniform`] |
//! | `names.rs` | [`Var::named`] and [`Var::name`]: `w1`, `z`, or `n7` for an unnamed node |
//! | `op.rs` | [`Op`]: every primitive and its forward pass |
//! | `rules.rs` | every primitive's backward rule, written once for tensors, scalars and `Var`s |
//! | `record.rs` | recording a node, with the tricks a long scalar tape needs |
//! | `backward.rs` | the reverse sweep and [`Grads`] |
//! | `grad.rs` | [`Var::grad`]: gradients recorded on the tape, to differentiate again |
//! | `trace.rs`, `trace/` | [`Trace`]: the backward pass step by step, each chain-rule product with its values |
//! | `dot.rs`, `render.rs` | [`Tape::to_dot`]: a picture of the graph in Graphviz DOT; short text for tensors and ops |
//! | `custom.rs` | [`CustomOp`]: users' own primitives, with a hand-written backward rule |
//! | `check.rs`, `check/` | [`check`]: [`gradcheck`] against finite differences, naming the wrong node |
//! | `strategy.rs`, `strategy/` | `strategy`: proptest strategies (cargo feature `proptest`) |
//! | `params.rs`, `params/` | [`ParamStore`]: a model's named weights across steps; a step's [`Params`] and [`ParamGrads`]; safetensors files |
//! | `nn.rs` | [`nn`]: `Linear` and `Mlp` layers, seeded initialisation |
//! | `loss.rs` | [`loss`]: mse, cross-entropy, binary cross-entropy, hinge, perceptron |
//! | `optim.rs`, `optim/` | [`optim`]: SGD, Adam and AdamW by PyTorch's update rules; one-call steps, learning-rate schedules, checkpoints |
//! | `anomaly.rs` | [`NonFinite`]: where a NaN or infinity first appeared |
//! | `error.rs` | [`Error`] |

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod anomaly;
mod arith;
mod axis;
mod backward;
pub mod check;
mod choosing;
mod custom;
mod display;
mod dot;
mod error;
pub mod functional;
mod gather;
mod grad;
pub mod guide;
mod join;
mod kernels;
mod layout;
pub mod loss;
mod matmul;
mod names;
pub mod nn;
mod op;
pub mod optim;
mod params;
mod random;
mod record;
mod render;
mod rules;
mod selecting;
mod shape;
mod shaping;
#[cfg(feature = "proptest")]
pub mod strategy;
mod tape;
mod tensor;
mod trace;
mod var;

pub use anomaly::NonFinite;
pub use axis::Axis;
pub use backward::Grads;
pub use check::{GradCheckError, GradCheckOptions, GradCheckReport, gradcheck, gradgradcheck};
pub use custom::{CustomCall, CustomOp};
pub use error::Error;
pub use gather::Gather;
pub use join::Concat;
pub use op::{Comparison, Op};
pub use params::{
    FileOptions, ParamGrads, ParamId, ParamKey, ParamStore, Params, SaveDtype, Summary,
};
pub use shape::{Shape, broadcast_shapes};
pub use tape::{NodeId, Tape};
pub use tensor::Tensor;
pub use trace::{Contribution, LocalFactor, Trace, TraceStep};
pub use var::Var;

#[doc = include_str!("../docs/architecture.md")]
pub mod architecture {}

#[doc = include_str!("../docs/gradient-checking.md")]
pub mod gradient_checking {}

#[doc = include_str!("../docs/models.md")]
pub mod models {}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
