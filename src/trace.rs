//! The backward pass, step by step: [`Var::backward_trace`] runs the same sweep as
//! [`Var::backward`] and returns a [`Trace`] that records, for every node in the order the
//! sweep visits it, the upstream gradient ∂l/∂node and, for each input, the local factor
//! ∂node/∂input and the product added to that input's gradient — the article's
//! `∂l/∂w = ∂z/∂w · ∂l/∂z`, one edge at a time.
//!
//! The numbers come from the sweep itself (`backward.rs` tells an observer what it adds), so the
//! gradients of a trace are those of `backward()` to the last bit; only the local factors are
//! written out here, for reading (`trace/factor.rs`). This file records and prints; it adds no
//! rule.

mod factor;

pub use factor::LocalFactor;

use crate::backward::{self, Added, Grads, Observer};
use crate::render;
use crate::tape::{NodeId, Tape};
use crate::tensor::Tensor;
use crate::var::Var;
use factor::{Names, local_factor};
use std::fmt;

/// The backward pass of one output, step by step: what [`Var::backward_trace`] returns.
///
/// Its steps come in the order the sweep runs them (from the output down to the first node),
/// one per node that a gradient reaches and that some parameter reaches; constants and what is
/// computed only from them are skipped, as the sweep skips them. `Display` prints each step as
/// the chain rule; `{:.3}` fixes the digits, and `{:#}` writes large tensors in full instead of
/// summarising them with their shape.
///
/// The output is written `l` (as in the article's ∂l/∂w) unless it was given a name.
///
/// ```
/// use tapegrad::Tape;
///
/// // The article's neuron: z = x1·w1 + x2·w2 + b, here with l = z².
/// let tape = Tape::new();
/// let (x1, x2) = (tape.constant(1.0).named("x1"), tape.constant(-1.0).named("x2"));
/// let w1 = tape.param(2.0).named("w1");
/// let w2 = tape.param(0.5).named("w2");
/// let b = tape.param(0.25).named("b");
/// let z = (x1 * w1 + x2 * w2 + b).named("z");
/// let l = (z * z).named("l");
///
/// let trace = l.backward_trace();
/// let text = trace.to_string();
/// // z = 1.75, so ∂l/∂z = 2z = 3.5, and ∂l/∂w1 = ∂z/∂w1 · ∂l/∂z = x1 · 3.5.
/// assert!(text.contains("∂l/∂z += ∂l/∂z · ∂l/∂l = z · ∂l/∂l = 1.75 · 1.0 = 1.75\n"));
/// assert!(text.contains("∂l/∂w1 += ∂n5/∂w1 · ∂l/∂n5 = x1 · ∂l/∂n5 = 1.0 · 3.5 = 3.5\n"));
/// // Structured, and the same numbers as backward():
/// assert_eq!(trace.step(w1).unwrap().upstream.item(), 3.5);
/// assert_eq!(trace.grads()[w1], l.backward()[w1]);
/// ```
#[derive(Debug)]
pub struct Trace {
    steps: Vec<TraceStep>,
    grads: Grads,
}

/// One node of the backward pass: its gradient ∂l/∂node, now complete, and what its rule adds
/// to each of its inputs' gradients.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceStep {
    /// The node.
    pub id: NodeId,
    /// Its name (given, or `n{index}`; the output is `l` unless named).
    pub name: String,
    /// Its op's name (`"mul"`, `"sigmoid"`, `"param"`, …).
    pub op: &'static str,
    /// The op as a call on its inputs' names, e.g. `mul(w1, x1)`; `param` for a parameter.
    pub call: String,
    /// The upstream gradient ∂l/∂node, of the node's shape.
    pub upstream: Tensor,
    /// One entry per input that needs a gradient, in argument order (none for a leaf).
    pub inputs: Vec<Contribution>,
    /// The name of the output, the `l` of ∂l/∂node.
    pub loss: String,
}

/// What one node's rule adds to one input's gradient: ∂l/∂input += ∂node/∂input · ∂l/∂node.
#[derive(Clone, Debug, PartialEq)]
pub struct Contribution {
    /// The input.
    pub input: NodeId,
    /// Its name.
    pub name: String,
    /// Its position among the op's arguments.
    pub position: usize,
    /// The local factor ∂node/∂input.
    pub factor: LocalFactor,
    /// What was added to the input's gradient, of the input's shape; `None` when the factor
    /// is zero and nothing was added.
    pub added: Option<Tensor>,
    /// The product before it was summed down to the input's shape, when the op broadcast the
    /// input (e.g. a bias added to every row).
    pub unsummed: Option<Tensor>,
    /// The input's gradient after this addition (complete only when its own step comes).
    pub gradient: Option<Tensor>,
    /// Whether the input already had a gradient from another path, which this was added to.
    pub accumulated: bool,
}

impl<'t> Var<'t> {
    /// The backward pass from this output, which must hold exactly one element, recorded step
    /// by step: [`backward`](Var::backward) with a [`Trace`] of every chain-rule product.
    ///
    /// It costs what `backward()` costs plus a copy of every number it reports; use it to learn
    /// or to debug, and `backward()` to train.
    ///
    /// # Panics
    ///
    /// If the output holds more than one element; use
    /// [`backward_trace_with`](Var::backward_trace_with).
    #[track_caller]
    pub fn backward_trace(self) -> Trace {
        let seed = self.seed();
        trace(self.tape(), self.id(), seed)
    }

    /// The backward pass seeded with `cotangent` (∂l/∂self, of this output's shape), recorded
    /// step by step: [`backward_with`](Var::backward_with) with a [`Trace`].
    ///
    /// # Panics
    ///
    /// If `cotangent`'s shape is not this output's shape.
    #[track_caller]
    pub fn backward_trace_with(self, cotangent: impl Into<Tensor>) -> Trace {
        let seed = self.seed_with(cotangent.into());
        trace(self.tape(), self.id(), seed)
    }
}

impl Trace {
    /// The steps, in the order the backward pass ran them.
    pub fn steps(&self) -> &[TraceStep] {
        &self.steps
    }

    /// The steps, in the order the backward pass ran them.
    pub fn iter(&self) -> std::slice::Iter<'_, TraceStep> {
        self.steps.iter()
    }

    /// The step of `var`'s node, or `None` if the pass did not visit it (no gradient reached
    /// it, or no parameter does).
    ///
    /// # Panics
    ///
    /// If `var` belongs to another tape, or was recorded after this backward pass.
    #[track_caller]
    pub fn step(&self, var: Var<'_>) -> Option<&TraceStep> {
        let _ = self.grads.get(var); // the same checks as indexing the gradients
        self.steps.iter().find(|step| step.id == var.id())
    }

    /// The gradients of the pass: those `backward()` returns, bit for bit (the same sweep
    /// computed them).
    pub fn grads(&self) -> &Grads {
        &self.grads
    }

    /// The gradients, without the steps.
    pub fn into_grads(self) -> Grads {
        self.grads
    }
}

impl<'a> IntoIterator for &'a Trace {
    type Item = &'a TraceStep;
    type IntoIter = std::slice::Iter<'a, TraceStep>;

    fn into_iter(self) -> Self::IntoIter {
        self.steps.iter()
    }
}

/// What the sweep reported, before it is put into names.
#[derive(Default)]
struct Recorder {
    steps: Vec<Visit>,
}

struct Visit {
    index: usize,
    upstream: Tensor,
    added: Vec<(NodeId, Addition)>,
}

struct Addition {
    unsummed: Option<Tensor>,
    contribution: Tensor,
    gradient: Tensor,
    first: bool,
}

impl Observer for Recorder {
    fn node(&mut self, index: usize, g: &Tensor) {
        let upstream = g.clone();
        let added = Vec::new();
        self.steps.push(Visit {
            index,
            upstream,
            added,
        });
    }

    fn added(&mut self, input: NodeId, added: Added<'_>) {
        let visit = self
            .steps
            .last_mut()
            .expect("a rule runs after its node is reached");
        visit.added.push((
            input,
            Addition {
                unsummed: added.unsummed.cloned(),
                contribution: added.contribution.clone(),
                gradient: added.gradient.clone(),
                first: added.first,
            },
        ));
    }
}

/// Runs the sweep with a recorder, then writes what it recorded in the nodes' names.
fn trace(tape: &Tape, output: NodeId, seed: Tensor) -> Trace {
    let mut recorder = Recorder::default();
    let grads = backward::sweep(tape, output, seed, Some(&mut recorder));
    let loss = loss_name(tape, output);
    let name = |id: NodeId| {
        if id == output {
            loss.clone()
        } else {
            tape.node_name(id)
        }
    };
    let recording = tape.recording();
    let nodes = recording.nodes();
    let steps = recorder
        .steps
        .into_iter()
        .map(|visit| {
            let id = NodeId::from_index(visit.index);
            let node = &nodes[visit.index];
            let out = name(id);
            let upstream_symbol = format!("∂{loss}/∂{out}");
            let names = Names {
                node: &name,
                out: &out,
                upstream: &upstream_symbol,
            };
            let mut added = visit.added.into_iter().peekable();
            let inputs = node
                .op
                .inputs()
                .enumerate()
                .filter(|(_, input)| recording.needs_grad[input.index()])
                .map(|(position, input)| {
                    let factor = local_factor(&node.op, position, nodes, &node.value, &names);
                    // The rule adds in argument order, skipping only what needs no gradient.
                    let addition = added.next_if(|(id, _)| *id == input).map(|(_, a)| a);
                    Contribution {
                        input,
                        name: name(input),
                        position,
                        factor,
                        accumulated: addition.as_ref().is_some_and(|a| !a.first),
                        unsummed: addition.as_ref().and_then(|a| a.unsummed.clone()),
                        gradient: addition.as_ref().map(|a| a.gradient.clone()),
                        added: addition.map(|a| a.contribution),
                    }
                })
                .collect();
            TraceStep {
                id,
                call: render::call(&node.op, name),
                name: out,
                op: node.op.name(),
                upstream: visit.upstream,
                inputs,
                loss: loss.clone(),
            }
        })
        .collect();
    Trace { steps, grads }
}

/// The output's name in the trace: its given name, else `l` (the article's per-example loss),
/// unless the user called another node `l`.
fn loss_name(tape: &Tape, output: NodeId) -> String {
    match tape.given_name(output) {
        Some(name) => name,
        None if tape.has_given_name("l") => tape.node_name(output),
        None => "l".to_string(),
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            fmt::Display::fmt(step, f)?;
        }
        Ok(())
    }
}

impl fmt::Display for TraceStep {
    /// The node and its gradient on two lines, then one line per input:
    ///
    /// ```text
    /// z = add(n4, b)  [n5]
    ///   ∂l/∂z = 0.5
    ///   ∂l/∂n4 += ∂z/∂n4 · ∂l/∂z = 1 · 0.5 = 0.5
    ///   ∂l/∂b += ∂z/∂b · ∂l/∂z = 1 · 0.5 = 0.5
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (precision, full) = (f.precision(), f.alternate());
        let text = |t: &Tensor| render::brief(t, precision, full);
        let (l, z) = (&self.loss, &self.name);
        let generated = format!("n{}", self.id.index());
        if *z == generated {
            writeln!(f, "{z} = {}", self.call)?;
        } else {
            writeln!(f, "{z} = {}  [{generated}]", self.call)?;
        }
        writeln!(f, "  ∂{l}/∂{z} = {}", text(&self.upstream))?;
        for input in &self.inputs {
            let x = &input.name;
            write!(f, "  ∂{l}/∂{x} += ∂{z}/∂{x} · ∂{l}/∂{z} = ")?;
            let g = operand(text(&self.upstream));
            let product = match &input.unsummed {
                Some(unsummed) => format!(
                    "{}, summed to shape {:?} = ",
                    text(unsummed),
                    input.added.as_ref().map_or(&[][..], |a| a.shape())
                ),
                None => String::new(),
            };
            let added = input.added.as_ref().map(text).unwrap_or_default();
            match &input.factor {
                LocalFactor::Constant(c) => {
                    let c = match precision {
                        Some(digits) => format!("{c:.digits$}"),
                        None => c.to_string(),
                    };
                    write!(f, "{} · {g} = {product}{added}", operand(c))?;
                }
                LocalFactor::Elementwise { formula, value } => {
                    let formula = if formula.contains(" − ") || formula.contains(" + ") {
                        format!("({formula})") // 1 − z² · g would read as 1 − (z² · g)
                    } else {
                        formula.clone()
                    };
                    let value = operand(text(value));
                    write!(
                        f,
                        "{formula} · ∂{l}/∂{z} = {value} · {g} = {product}{added}"
                    )?;
                }
                LocalFactor::VectorJacobian { formula } => write!(f, "{formula} = {added}")?,
                LocalFactor::Zero => write!(f, "0 ({}′ = 0): nothing is added", self.op)?,
            }
            if let (true, Some(gradient)) = (input.accumulated, &input.gradient) {
                write!(f, "  → ∂{l}/∂{x} = {}", text(gradient))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// A number written as a factor of a product: in parentheses if it is negative, as in
/// `0.25 · (-1.0)`.
fn operand(text: String) -> String {
    if text.starts_with('-') {
        format!("({text})")
    } else {
        text
    }
}
