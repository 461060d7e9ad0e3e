//! Finding where a NaN or an infinity first appeared, forward or backward.
//!
//! Non-finite values are data, not errors: they flow through the ops as in numpy. When a loss
//! turns into NaN, these opt-in checks name the first node that produced one — its op, its
//! inputs and their shapes — like PyTorch's anomaly mode, but after the fact and at no cost
//! when unused. This file only reads the tape and the gradients; it changes nothing.

use crate::backward::Grads;
use crate::tape::{NodeId, Tape};
use std::fmt;

/// The first node whose value (or gradient) holds a NaN or an infinity.
#[derive(Debug, Clone, PartialEq)]
pub struct NonFinite {
    /// The node.
    pub node: NodeId,
    /// Its op's name (`"ln"`, `"div"`, …).
    pub op: &'static str,
    /// Its inputs and their shapes.
    pub inputs: Vec<(NodeId, Vec<usize>)>,
    /// Whether the node's value or its gradient is non-finite.
    pub in_gradient: bool,
}

impl fmt::Display for NonFinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.in_gradient {
            "gradient"
        } else {
            "value"
        };
        write!(f, "{:?} = {}(", self.node, self.op)?;
        for (i, (input, shape)) in self.inputs.iter().enumerate() {
            let separator = if i > 0 { ", " } else { "" };
            write!(f, "{separator}{input:?}: {shape:?}")?;
        }
        write!(f, ") has a non-finite {what} (NaN or infinity)")
    }
}

impl Tape {
    /// The first node, in creation order, whose value holds a NaN or an infinity; `None` if all
    /// values are finite.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([1.0, -1.0]));
    /// let loss = x.ln().exp().sum();                // ln(−1) is NaN
    /// assert!(loss.value().item().is_nan());
    /// let culprit = tape.first_non_finite().unwrap();
    /// assert_eq!(culprit.op, "ln");
    /// assert_eq!(culprit.to_string(), "n1 = ln(n0: [2]) has a non-finite value (NaN or infinity)");
    /// ```
    pub fn first_non_finite(&self) -> Option<NonFinite> {
        let nodes = self.nodes();
        let index = nodes.iter().position(|node| !node.value.is_finite())?;
        Some(self.describe(index, false))
    }

    fn describe(&self, index: usize, in_gradient: bool) -> NonFinite {
        let nodes = self.nodes();
        let op = &nodes[index].op;
        NonFinite {
            node: NodeId::from_index(index),
            op: op.name(),
            inputs: op
                .inputs()
                .map(|input| (input, nodes[input.index()].value.shape().to_vec()))
                .collect(),
            in_gradient,
        }
    }
}

impl Grads {
    /// The first node, in the order the backward pass reached them (from the output back),
    /// whose gradient holds a NaN or an infinity; `None` if all gradients are finite.
    ///
    /// # Panics
    ///
    /// If `tape` is not the tape these gradients were computed on.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    ///
    /// let tape = Tape::new();
    /// let x = tape.param(Tensor::from([0.0, 4.0]));
    /// let loss = x.sqrt().sum();                    // √ is finite at 0, its slope is not
    /// let grads = loss.backward();
    /// assert_eq!(grads[x].data()[0], f64::INFINITY);
    /// assert_eq!(grads.first_non_finite(&tape).unwrap().op, "param");
    /// ```
    #[track_caller]
    pub fn first_non_finite(&self, tape: &Tape) -> Option<NonFinite> {
        assert!(
            self.tape_id() == tape.id(),
            "first_non_finite: these Grads were computed on another tape"
        );
        let index = (0..self.len())
            .rev()
            .find(|&i| self.slot(i).is_some_and(|g| !g.is_finite()))?;
        Some(tape.describe(index, true))
    }
}
