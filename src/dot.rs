//! Pictures of the graph: [`Tape::to_dot`] writes the recorded nodes as Graphviz DOT, one box
//! per node (name, op, shape, value and, given the [`Grads`] of a backward pass, gradient) and
//! one edge from each input to the node that reads it.
//!
//! Names are the user's strings, so every label is escaped for DOT's quoted strings; the output
//! is checked with `dot -Tsvg` by the tests. This file writes text; it runs no Graphviz.

use crate::backward::Grads;
use crate::op::Op;
use crate::render;
use crate::tape::{NodeId, Tape};
use std::fmt::Write;

/// How each kind of node is drawn (documented on [`Tape::to_dot`]).
const PARAM_STYLE: &str = r##"style="filled,bold", fillcolor="#cfe2ff""##;
const CONSTANT_STYLE: &str = r##"style="filled,dashed", fillcolor="#eeeeee""##;
const INTERMEDIATE_STYLE: &str = r#"style="rounded""#;

impl Tape {
    /// The recorded graph in Graphviz's DOT language, for `dot -Tsvg graph.dot -o graph.svg`.
    ///
    /// Each node is one box holding its name (given with [`Var::named`](crate::Var::named),
    /// else `n{index}`) and op as a call on its inputs (`z = add(n4, b)`), its shape, its value
    /// and, if `grads` is given, its gradient (small tensors in full, larger ones as their
    /// shape and range). Edges go from each input to the node that reads it. The kinds of node
    /// are drawn apart:
    ///
    /// | node | drawn as |
    /// |---|---|
    /// | parameter (`tape.param`) | blue box, bold border |
    /// | constant (`tape.constant`) | grey box, dashed border |
    /// | intermediate (every op) | white box, rounded corners |
    ///
    /// Hovering over a box in the SVG shows the line of the program that recorded it.
    ///
    /// ```
    /// use tapegrad::Tape;
    ///
    /// let tape = Tape::new();
    /// let x = tape.constant(2.0).named("x");
    /// let w = tape.param(-0.5).named("w");
    /// let z = (x * w).named("z");
    /// let grads = z.sigmoid().backward();
    /// let dot = tape.to_dot(Some(&grads));
    /// assert!(dot.starts_with("digraph tapegrad {"));
    /// assert!(dot.contains(r#"label="z = mul(x, w)\lshape []\lvalue -1.0\lgrad 0.19661193324148185\l""#));
    /// assert!(dot.contains("n0 -> n2;\n  n1 -> n2;"));
    /// // std::fs::write("graph.dot", dot)?;  then: dot -Tsvg graph.dot -o graph.svg
    /// ```
    ///
    /// # Panics
    ///
    /// If `grads` comes from another tape (or from this one before [`clear`](Tape::clear)).
    #[track_caller]
    pub fn to_dot(&self, grads: Option<&Grads>) -> String {
        if let Some(grads) = grads {
            assert!(
                grads.tape_id() == self.id(),
                "to_dot: the Grads come from another tape (or from this tape before \
                 Tape::clear); pass the Grads of a backward pass on this tape"
            );
        }
        let nodes = self.nodes();
        // Top to bottom, inputs first and the loss last: a deep graph drawn left to right is
        // several screens wide.
        let mut out = String::from("digraph tapegrad {\n  rankdir=TB;\n");
        out.push_str("  node [shape=box, fontname=\"monospace\", fontsize=11];\n");
        for (index, node) in nodes.iter().enumerate() {
            let id = NodeId::from_index(index);
            let name = self.node_name(id);
            let (head, style) = match node.op {
                Op::Param => (format!("{name}\nparam"), PARAM_STYLE),
                Op::Constant => (format!("{name}\nconstant"), CONSTANT_STYLE),
                ref op => {
                    let call = render::call(op, |input| self.node_name(input));
                    (format!("{name} = {call}"), INTERMEDIATE_STYLE)
                }
            };
            let mut label = format!(
                "{head}\nshape {:?}\nvalue {}",
                node.value.shape(),
                render::brief(&node.value, None, false)
            );
            let gradient = grads.and_then(|g| (index < g.len()).then(|| g.slot(index)).flatten());
            if let Some(gradient) = gradient {
                let _ = write!(label, "\ngrad {}", render::brief(gradient, None, false));
            }
            let _ = writeln!(
                out,
                "  n{index} [label=\"{}\\l\", tooltip=\"recorded at {}\", {style}];",
                escape(&label),
                escape(&self.location(id).to_string())
            );
        }
        for (index, node) in nodes.iter().enumerate() {
            for input in node.op.inputs() {
                let _ = writeln!(out, "  n{} -> n{index};", input.index());
            }
        }
        out.push_str("}\n");
        out
    }
}

/// `text` as the inside of a DOT quoted string whose lines are left-aligned: quotes and
/// backslashes escaped (so that a name such as `\N` is not taken for one of Graphviz's escape
/// sequences), `&` written as an entity (Graphviz decodes entities), line breaks written `\l` (the end of a left-aligned line), other control
/// characters replaced by `�`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            // Graphviz reads HTML entities in any label: a name "&amp;" would show as "&".
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("\\l"),
            '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a"), "a");
        assert_eq!(escape("say \"hi\""), r#"say \"hi\""#);
        assert_eq!(escape(r"\N{x}"), r"\\N{x}");
        assert_eq!(escape("two\nlines\r\0"), "two\\llines\u{FFFD}\u{FFFD}");
        assert_eq!(escape("<∂l/∂w>|{}"), "<∂l/∂w>|{}");
        assert_eq!(escape("&amp; &"), "&amp;amp; &amp;");
    }
}
