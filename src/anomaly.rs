//! Finding where a NaN or an infinity first appeared, forward or backward.
//!
//! Non-finite values are data, not errors: they flow through the ops as in numpy. When a loss
//! turns into NaN, these opt-in checks name the first node that produced one — its op, its
//! name, the line that recorded it and its inputs' values — like PyTorch's anomaly mode, but
//! after the fact and at no cost when unused. For gradients that is the op whose backward rule
//! made the first non-finite contribution, found by running that rule (`rules.rs`) again. This
//! file only reads the tape and the gradients; it changes nothing.

use crate::backward::Grads;
use crate::render::brief;
use crate::rules::{self, Sink};
use crate::tape::{NodeId, Tape};
use crate::tensor::Tensor;
use std::fmt;
use std::panic::Location;

/// Where a NaN or an infinity first appeared: the node whose value holds one, or the node whose
/// backward rule first sent one to an input while its own gradient was finite.
#[derive(Debug, Clone, PartialEq)]
pub struct NonFinite {
    /// The node: the op that produced the non-finite value or contribution.
    pub node: NodeId,
    /// Its op's name (`"ln"`, `"div"`, …).
    pub op: &'static str,
    /// The name the user gave it ([`Var::named`](crate::Var::named)), if any.
    pub name: Option<String>,
    /// The line of the program that recorded it.
    pub location: &'static Location<'static>,
    /// Its inputs, with their values.
    pub inputs: Vec<(NodeId, Tensor)>,
    /// For a gradient: the input its rule sent the non-finite contribution to (the first one,
    /// if several); `None` for a value.
    pub sent_to: Option<NodeId>,
}

impl fmt::Display for NonFinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let node = match &self.name {
            Some(name) => format!("{name} ({:?})", self.node),
            None => format!("{:?}", self.node),
        };
        write!(f, "{node} = {}(", self.op)?;
        for (i, (input, value)) in self.inputs.iter().enumerate() {
            let separator = if i > 0 { ", " } else { "" };
            write!(f, "{separator}{input:?} = {}", brief(value, None, false))?;
        }
        write!(f, "), recorded at {}, ", self.location)?;
        match self.sent_to {
            None => write!(f, "has a non-finite value (NaN or infinity)"),
            Some(input) => write!(
                f,
                "has a finite gradient, but its backward rule sent a non-finite one to {input:?}"
            ),
        }
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
    /// let loss = x.ln().named("log_x").exp().sum(); // ln(−1) is NaN
    /// assert!(loss.value().item().is_nan());
    /// let culprit = tape.first_non_finite().unwrap();
    /// assert_eq!((culprit.op, culprit.name.as_deref()), ("ln", Some("log_x")));
    /// assert!(culprit.to_string().starts_with("log_x (n1) = ln(n0 = [1.0 -1.0]), recorded at "));
    /// ```
    pub fn first_non_finite(&self) -> Option<NonFinite> {
        let nodes = self.nodes();
        let index = nodes.iter().position(|node| !node.value.is_finite())?;
        drop(nodes);
        Some(self.describe(index, None))
    }

    fn describe(&self, index: usize, sent_to: Option<NodeId>) -> NonFinite {
        let id = NodeId::from_index(index);
        let nodes = self.nodes();
        let op = &nodes[index].op;
        NonFinite {
            node: id,
            op: op.name(),
            name: self.given_name(id),
            location: self.location(id),
            inputs: op
                .inputs()
                .map(|input| (input, nodes[input.index()].value.clone()))
                .collect(),
            sent_to,
        }
    }
}

impl Grads {
    /// The node whose backward rule first produced a NaN or an infinity: the first, in the
    /// order the backward pass ran them (from the output back), whose own gradient was finite
    /// but which sent a non-finite contribution to an input. `None` if every rule kept the
    /// gradients finite (a non-finite cotangent is not a rule's doing).
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
    /// let loss = (x.sqrt() * 3.0).sum();            // √ is finite at 0, its slope is not
    /// let grads = loss.backward();
    /// assert_eq!(grads[x].data()[0], f64::INFINITY);
    /// let culprit = grads.first_non_finite(&tape).unwrap();
    /// assert_eq!((culprit.op, culprit.sent_to), ("sqrt", Some(x.id())));
    /// ```
    #[track_caller]
    pub fn first_non_finite(&self, tape: &Tape) -> Option<NonFinite> {
        assert!(
            self.tape_id() == tape.id(),
            "first_non_finite: these Grads were computed on another tape"
        );
        let recording = tape.recording();
        let nodes = recording.nodes();
        for index in (0..self.len()).rev() {
            let Some(g) = self.slot(index).filter(|g| g.is_finite()) else {
                continue; // not reached, or already non-finite (then an earlier rule is to blame)
            };
            // Run the node's rule again, the same rule on the same values, and look at what it
            // sends.
            let node = &nodes[index];
            let mut sink = FirstNonFinite {
                needs_grad: &recording.needs_grad,
                found: None,
            };
            let input = |x: NodeId| nodes[x.index()].value.clone();
            rules::vjp(&node.op, input, &node.value, g, &mut sink);
            if let Some(sent_to) = sink.found {
                drop(recording);
                return Some(tape.describe(index, Some(sent_to)));
            }
        }
        None
    }
}

/// A sink that keeps the first input sent a non-finite contribution.
struct FirstNonFinite<'a> {
    needs_grad: &'a [bool],
    found: Option<NodeId>,
}

impl Sink<Tensor> for FirstNonFinite<'_> {
    fn add(&mut self, input: NodeId, contribution: impl FnOnce() -> Tensor) {
        if self.found.is_none() && self.needs_grad[input.index()] && !contribution().is_finite() {
            self.found = Some(input);
        }
    }
}
