//! Custom ops: a user's own primitive, with a hand-written forward pass and vector-Jacobian
//! product, recorded on the tape like a built-in op (the counterpart of PyTorch's
//! `torch.autograd.Function` and JAX's `custom_vjp`).
//!
//! This file holds the [`CustomOp`] trait users implement, [`CustomCall`] (one use of such an op
//! on a tape, the payload of [`Op::Custom`](crate::Op::Custom)) and [`Tape::custom`], which
//! records one. It checks what a user's backward returns (one gradient per input, each of its
//! input's shape) and panics naming the op when it does not fit; it does not check that the
//! gradients are right — that is what [`gradcheck`](crate::check::gradcheck) is for.

use crate::op::{NodeId, Op};
use crate::shape::Shape;
use crate::tape::Tape;
use crate::tensor::Tensor;
use crate::var::Var;
use smallvec::SmallVec;
use std::fmt;
use std::sync::Arc;

/// A primitive op written by the user: its forward pass and its vector-Jacobian product.
///
/// Record it with [`Tape::custom`]. The backward pass calls [`backward`](CustomOp::backward)
/// with the upstream gradient `g = ∂l/∂z`, and sends each returned tensor to its input exactly
/// as a built-in op's rule does. Check the pair with [`gradcheck`](crate::check::gradcheck):
/// if the rule is wrong, the report names this op and the line that recorded it.
///
/// ```
/// use tapegrad::{CustomOp, Tape, Tensor};
///
/// /// z = x ⊙ y + x  ·  dx = g ⊙ (y + 1), dy = g ⊙ x
/// struct MulAdd;
///
/// impl CustomOp for MulAdd {
///     fn name(&self) -> &'static str {
///         "mul_add"
///     }
///     fn forward(&self, inputs: &[&Tensor]) -> Tensor {
///         let (x, y) = (inputs[0], inputs[1]);
///         x * y + x
///     }
///     fn backward(&self, inputs: &[&Tensor], _z: &Tensor, g: &Tensor) -> Vec<Tensor> {
///         let (x, y) = (inputs[0], inputs[1]);
///         vec![g * &(y + 1.0), g * x]
///     }
/// }
///
/// let tape = Tape::new();
/// let x = tape.param(Tensor::from([1.0, 2.0]));
/// let y = tape.param(Tensor::from([3.0, 4.0]));
/// let z = tape.custom(MulAdd, &[x, y]);
/// assert_eq!(z.value(), Tensor::from([4.0, 10.0]));
/// let grads = z.sum().backward();
/// assert_eq!(grads[x], Tensor::from([4.0, 5.0]));
/// assert_eq!(grads[y], Tensor::from([1.0, 2.0]));
/// ```
pub trait CustomOp: Send + Sync + 'static {
    /// The op's name, for reports, traces and panic messages.
    fn name(&self) -> &'static str;

    /// The output `z` from the inputs' values, in the order they were passed to
    /// [`Tape::custom`].
    fn forward(&self, inputs: &[&Tensor]) -> Tensor;

    /// The vector-Jacobian product: given the inputs, the output `z` the forward pass computed
    /// and the upstream gradient `g = ∂l/∂z` (of `z`'s shape), returns one tensor per input,
    /// `∂l/∂input = Σ g ⊙ ∂z/∂input`, each of that input's shape.
    ///
    /// It is called only when some parameter reaches one of the inputs; a gradient returned
    /// for an input that needs none is dropped without a look at its values.
    fn backward(&self, inputs: &[&Tensor], output: &Tensor, grad: &Tensor) -> Vec<Tensor>;

    /// The same vector-Jacobian product written with the ops of [`Var`], so that
    /// [`Var::grad`] records it on the tape and can differentiate through this op again
    /// (second derivatives, Hessian-vector products). `inputs`, `output` and `grad` are on the
    /// tape; return one `Var` per input, of that input's shape.
    ///
    /// The default, `None`, declares the rule not differentiable: `backward()` and first-order
    /// checks work as before, and [`Var::grad`] through this op panics naming it and the line
    /// that recorded it, rather than returning a silent zero.
    fn backward_vars<'t>(
        &self,
        inputs: &[Var<'t>],
        output: Var<'t>,
        grad: Var<'t>,
    ) -> Option<Vec<Var<'t>>> {
        let _ = (inputs, output, grad);
        None
    }
}

/// An op shared behind an `Arc` is the op itself, so one instance can be recorded many times
/// (`tape.custom(Arc::clone(&op), …)`) and `Arc<dyn CustomOp>` can be passed directly.
impl<T: CustomOp + ?Sized> CustomOp for Arc<T> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn forward(&self, inputs: &[&Tensor]) -> Tensor {
        (**self).forward(inputs)
    }

    fn backward(&self, inputs: &[&Tensor], output: &Tensor, grad: &Tensor) -> Vec<Tensor> {
        (**self).backward(inputs, output, grad)
    }

    fn backward_vars<'t>(
        &self,
        inputs: &[Var<'t>],
        output: Var<'t>,
        grad: Var<'t>,
    ) -> Option<Vec<Var<'t>>> {
        (**self).backward_vars(inputs, output, grad)
    }
}

/// One use of a [`CustomOp`] on a tape: the op and the nodes it reads, in argument order.
#[derive(Clone)]
pub struct CustomCall {
    op: Arc<dyn CustomOp>,
    inputs: SmallVec<[NodeId; 4]>,
}

impl CustomCall {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        self.op.name()
    }

    /// The nodes it reads, in the order they were passed to [`Tape::custom`].
    pub fn inputs(&self) -> &[NodeId] {
        &self.inputs
    }

    /// The same op reading other nodes (a gradient check re-records it on a tape of its own).
    pub(crate) fn with_inputs(&self, remap: impl FnMut(NodeId) -> NodeId) -> CustomCall {
        CustomCall {
            op: Arc::clone(&self.op),
            inputs: self.inputs.iter().copied().map(remap).collect(),
        }
    }

    /// The user's forward pass on the inputs' values, which `value` gives by node.
    pub(crate) fn forward<'a>(&self, value: impl Fn(NodeId) -> &'a Tensor) -> Tensor {
        let inputs: SmallVec<[&Tensor; 4]> = self.inputs.iter().map(|&id| value(id)).collect();
        self.op.forward(&inputs)
    }

    /// The user's vector-Jacobian product, one gradient per input, checked against the
    /// inputs' shapes (the rule table accumulates them like any built-in rule's).
    ///
    /// # Panics
    ///
    /// If the user's backward returns the wrong number of tensors, or one of the wrong shape;
    /// the message names the op.
    pub(crate) fn backward(&self, inputs: &[Tensor], z: &Tensor, g: &Tensor) -> Vec<Tensor> {
        let values: SmallVec<[&Tensor; 4]> = inputs.iter().collect();
        let gradients = self.op.backward(&values, z, g);
        let shapes = |list: &[Tensor]| list.iter().map(|t| Shape::from(t.shape())).collect();
        self.check("backward", shapes(inputs), shapes(&gradients));
        gradients
    }

    /// The user's vector-Jacobian product written with `Var`s
    /// ([`CustomOp::backward_vars`]), checked as [`backward`](CustomCall::backward)'s.
    ///
    /// # Panics
    ///
    /// If the op has no such rule (the message names the op and the line that recorded it,
    /// `z`'s), or its rule breaks the contract.
    #[track_caller]
    pub(crate) fn backward_vars<'t>(
        &self,
        inputs: &[Var<'t>],
        z: Var<'t>,
        g: Var<'t>,
    ) -> Vec<Var<'t>> {
        let Some(gradients) = self.op.backward_vars(inputs, z, g) else {
            panic!(
                "grad: the gradient passes through the custom op `{}` recorded at {}, whose rule \
                 is not differentiable: implement CustomOp::backward_vars (its rule written with \
                 Vars) to differentiate through it",
                self.name(),
                z.location()
            );
        };
        let shapes = |list: &[Var<'t>]| list.iter().map(|v| v.shape()).collect();
        self.check("backward_vars", shapes(inputs), shapes(&gradients));
        gradients
    }

    /// Panics, naming the op, unless its rule returned one gradient per input, each of that
    /// input's shape.
    #[track_caller]
    fn check(&self, rule: &str, inputs: Vec<Shape>, gradients: Vec<Shape>) {
        assert!(
            gradients.len() == inputs.len(),
            "custom op {:?}: {rule} returned {} gradients for {} inputs; return one per input, \
             in the order of the inputs",
            self.name(),
            gradients.len(),
            inputs.len()
        );
        for (position, (input, gradient)) in inputs.iter().zip(&gradients).enumerate() {
            assert!(
                gradient == input,
                "custom op {:?}: {rule} returned a gradient of shape {gradient:?} for input \
                 {position}, which has shape {input:?}; each gradient must have its input's shape",
                self.name(),
            );
        }
    }
}

impl fmt::Debug for CustomCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:?}", self.name(), self.inputs.as_slice())
    }
}

impl PartialEq for CustomCall {
    /// Clones of one recorded call: a user's op has no value equality, so it is compared by
    /// identity (each `tape.custom` records a new one), and the inputs by node.
    fn eq(&self, other: &CustomCall) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.op), Arc::as_ptr(&other.op))
            && self.inputs == other.inputs
    }
}

impl Tape {
    /// Records a [`CustomOp`] applied to `inputs`: its forward pass runs now, and its
    /// backward rule runs in the backward pass like a built-in op's.
    ///
    /// # Panics
    ///
    /// If an input belongs to another tape. A panic in the op's own forward pass propagates.
    #[track_caller]
    pub fn custom<'t>(&'t self, op: impl CustomOp, inputs: &[Var<'t>]) -> Var<'t> {
        let op: Arc<dyn CustomOp> = Arc::new(op);
        assert!(
            inputs.iter().all(|input| std::ptr::eq(input.tape(), self)),
            "custom op {:?}: an input is a Var of another tape; record all inputs on this tape",
            op.name()
        );
        let inputs = inputs.iter().map(|input| input.id()).collect();
        self.record(Op::Custom(Box::new(CustomCall { op, inputs })))
    }
}
