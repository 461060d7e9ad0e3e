// The guide to backpropagation: one doc-only module per section of the article the project
// started from, each filled from a Markdown chapter in docs/guide/ so that every code block in
// it is compiled and run by `cargo test` (as clap's and serde's tutorials are). No code lives
// here.
#![doc = include_str!("../docs/guide/README.md")]

#[doc = include_str!("../docs/guide/00-gradient-descent.md")]
pub mod gradient_descent {}

#[doc = include_str!("../docs/guide/01-gradient.md")]
pub mod gradient {}

#[doc = include_str!("../docs/guide/02-chain-rule.md")]
pub mod chain_rule {}

#[doc = include_str!("../docs/guide/03-total-loss.md")]
pub mod total_loss {}

#[doc = include_str!("../docs/guide/04-worked-neuron.md")]
pub mod worked_neuron {}

#[doc = include_str!("../docs/guide/05-forward-pass.md")]
pub mod forward_pass {}

#[doc = include_str!("../docs/guide/06-backward-pass.md")]
pub mod backward_pass {}

#[doc = include_str!("../docs/guide/07-summary.md")]
pub mod summary {}

#[doc = include_str!("../docs/guide/08-perceptron.md")]
pub mod perceptron {}
