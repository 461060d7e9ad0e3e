//! Short text for the trace and the pictures of the graph: a tensor on one line (in full when it
//! is small, summarised with its shape when it is not), and an op written as a call on its
//! inputs' names (`mul(w1, x1)`, `add(n4, -1)`). This file formats; it computes no derivative.

use crate::op::Op;
use crate::tape::NodeId;
use crate::tensor::Tensor;

/// Tensors of up to this many elements are written in full; larger ones as their shape and a
/// few statistics.
pub(crate) const SHOWN_IN_FULL: usize = 16;

/// `tensor` on one line: nested brackets, elements one space apart (`[[1.0 -2.5] [0.25 4.0]]`),
/// if it holds at most [`SHOWN_IN_FULL`] elements or `full` is set; else its shape and range
/// (`⟨[4, 10]: min -1.5, mean 0.25, max 3.0⟩`). `precision` fixes the digits, as `{:.3}` does;
/// without it each number is written exactly (Rust's shortest round-trip form).
pub(crate) fn brief(tensor: &Tensor, precision: Option<usize>, full: bool) -> String {
    let number = |x: f64| match precision {
        Some(digits) => format!("{x:.digits$}"),
        None => format!("{x:?}"),
    };
    let data = tensor.data();
    if full || data.len() <= SHOWN_IN_FULL {
        let mut out = String::new();
        nested(tensor.shape(), data, &number, &mut out);
        return out;
    }
    let min = data.iter().copied().fold(f64::INFINITY, f64::min);
    let max = data.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = data.iter().sum::<f64>() / data.len() as f64;
    format!(
        "⟨{:?}: min {}, mean {}, max {}⟩",
        tensor.shape(),
        number(min),
        number(mean),
        number(max)
    )
}

/// Writes row-major `data` of `shape` as nested brackets.
fn nested(shape: &[usize], data: &[f64], number: &dyn Fn(f64) -> String, out: &mut String) {
    let Some((&len, inner)) = shape.split_first() else {
        out.push_str(&number(data[0]));
        return;
    };
    let stride = inner.iter().product::<usize>();
    out.push('[');
    for i in 0..len {
        if i > 0 {
            out.push(' ');
        }
        nested(inner, &data[i * stride..(i + 1) * stride], number, out);
    }
    out.push(']');
}

/// The op as a call on its inputs, each written as `name(id)`, with its constant arguments:
/// `mul(w1, x1)`, `add(n4, -1)`, `sum_axis(h, 1)`, `reshape(x, [2, 3])`; just `param` or
/// `constant` for a leaf.
pub(crate) fn call(op: &Op, name: impl Fn(NodeId) -> String) -> String {
    let args: Vec<String> = match op {
        Op::Param | Op::Constant => return op.name().to_string(),
        Op::AddScalar(x, c) | Op::MulScalar(x, c) | Op::DivScalar(x, c) | Op::Powf(x, c) => {
            vec![name(*x), c.to_string()]
        }
        Op::ScalarSub(c, x) | Op::ScalarDiv(c, x) => vec![c.to_string(), name(*x)],
        Op::SumAxis(x, axis)
        | Op::MaxAxis(x, axis)
        | Op::ProdAxis(x, axis)
        | Op::LogSoftmax(x, axis)
        | Op::LogSumExp(x, axis) => vec![name(*x), axis.to_string()],
        Op::Reshape(x, shape) | Op::BroadcastTo(x, shape) => {
            vec![name(*x), format!("{:?}", &shape[..])]
        }
        _ => op.inputs().map(name).collect(),
    };
    format!("{}({})", op.name(), args.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Shape;

    #[test]
    fn small_tensors_in_full_on_one_line_large_ones_summarised() {
        let m = Tensor::from([[1.0, -2.5], [0.25, 4.0]]);
        assert_eq!(brief(&m, None, false), "[[1.0 -2.5] [0.25 4.0]]");
        assert_eq!(brief(&m, Some(1), false), "[[1.0 -2.5] [0.2 4.0]]");
        assert_eq!(brief(&Tensor::zeros(&[2, 0]), None, false), "[[] []]");
        assert_eq!(brief(&Tensor::zeros(&[0]), None, false), "[]");
        assert_eq!(brief(&Tensor::scalar(0.5), None, false), "0.5");
        let big = Tensor::from_fn(&[4, 5], |i| i as f64);
        assert_eq!(
            brief(&big, None, false),
            "⟨[4, 5]: min 0.0, mean 9.5, max 19.0⟩"
        );
        assert_eq!(brief(&big, None, true).matches('[').count(), 5);
    }

    #[test]
    fn ops_are_written_as_calls() {
        let name = |id: NodeId| format!("v{}", id.index());
        let (a, b) = (NodeId::from_index(0), NodeId::from_index(1));
        assert_eq!(call(&Op::Mul(a, b), name), "mul(v0, v1)");
        assert_eq!(call(&Op::AddScalar(a, -1.0), name), "add(v0, -1)");
        assert_eq!(call(&Op::ScalarDiv(1.5, b), name), "div(1.5, v1)");
        assert_eq!(call(&Op::SumAxis(a, 1), name), "sum_axis(v0, 1)");
        let shape = Box::new(Shape::from(&[2usize, 3][..]));
        assert_eq!(call(&Op::Reshape(a, shape), name), "reshape(v0, [2, 3])");
        assert_eq!(call(&Op::Param, name), "param");
    }
}
