//! Pictures of the graph: `Tape::to_dot` writes one box per node and one edge per input, draws
//! params, constants and intermediates apart, and its output goes through Graphviz's
//! `dot -Tsvg`, even with names full of quotes, braces, angle brackets, backslashes, newlines
//! and non-ASCII letters.
//!
//! The round trip needs Graphviz (`.ci/run` installs it). Without `dot`, those tests fail when
//! the environment variable `CI` is set and are skipped with a printed note otherwise.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use tapegrad::{Tape, Tensor};

/// Names that break naive quoting in DOT, in record labels, in HTML labels or in SVG.
const NASTY: [&str; 6] = [
    "say \"hi\"",
    "{record|like} <port>",
    "back\\slash \\N \\G \\l and a trailing \\",
    "two\nlines\r\tand\0control",
    "∂l/∂w₁ 日本語 ü 🙂",
    "&amp; </text> <!-- -->",
];

/// Runs `dot -Tsvg` on `source`; `None` (after a note) when Graphviz is not installed and `CI`
/// is not set.
fn render_svg(source: &str) -> Option<String> {
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) if std::env::var_os("CI").is_some() => {
            panic!("Graphviz's dot is needed in CI (.ci/run installs it): {error}")
        }
        Err(error) => {
            // Straight to stderr: the test harness would swallow an eprintln! of a passing test.
            let note = format!("note: Graphviz round trip skipped, `dot` did not start: {error}\n");
            let _ = std::io::stderr().write_all(note.as_bytes());
            return None;
        }
    };
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(source.as_bytes())
        .expect("dot reads its input");
    let output = child.wait_with_output().expect("dot runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "dot rejected the graph ({}):\n{stderr}\n{source}",
        output.status
    );
    Some(String::from_utf8(output.stdout).expect("SVG is UTF-8"))
}

#[test]
fn the_perceptron_with_gradients_renders() {
    let tape = Tape::new();
    let (x, t, w, b) = common::article_perceptron(&tape);
    let z = (x.matmul(w) + b).named("z");
    let loss = (-((t - z.step()) * z).mean()).named("L");
    let grads = loss.backward();
    let dot = tape.to_dot(Some(&grads));

    // One box per node, one edge per input, in the order recorded.
    let boxes = dot.lines().filter(|l| l.contains("[label=")).count();
    let edges = dot.lines().filter(|l| l.contains(" -> ")).count();
    assert_eq!((boxes, edges), (tape.len(), 12));
    let line = |n: usize| {
        let start = format!("  n{n} [");
        dot.lines()
            .find(|l| l.starts_with(&start))
            .unwrap()
            .to_string()
    };
    assert!(line(0).contains("label=\"x\\lconstant\\lshape [4, 2]\\l"));
    assert!(
        line(0).contains("style=\"filled,dashed\""),
        "constants: grey, dashed"
    );
    assert!(
        line(2).contains("label=\"w\\lparam\\lshape [2]\\lvalue [1.0 1.0]\\lgrad [0.5 0.0]\\l\"")
    );
    assert!(
        line(2).contains("style=\"filled,bold\""),
        "params: blue, bold"
    );
    assert!(line(5).contains("label=\"z = add(n4, b)\\lshape [4]\\l"));
    assert!(
        line(5).contains("style=\"rounded\""),
        "intermediates: white, rounded"
    );
    assert!(line(6).contains("label=\"n6 = step(z)"));
    assert!(dot.contains("  n4 -> n5;\n  n3 -> n5;\n"));
    assert!(
        line(5).contains("tooltip=\"recorded at tests/dot.rs:"),
        "z is recorded here"
    );
    // Without gradients there is no gradient line.
    assert!(!tape.to_dot(None).contains("\\lgrad "));

    if let Some(svg) = render_svg(&dot) {
        assert!(svg.contains("<svg") && svg.contains("z = add(n4, b)"));
        assert_eq!(svg.matches("class=\"node\"").count(), tape.len());
        assert_eq!(svg.matches("class=\"edge\"").count(), 12);
    }
}

#[test]
fn nasty_names_render() {
    let tape = Tape::new();
    let mut vars = Vec::new();
    for (i, name) in NASTY.iter().enumerate() {
        vars.push(tape.param(i as f64).named(*name));
    }
    let sum = vars.iter().copied().reduce(|a, b| a + b).unwrap();
    let out = (sum * vars[0]).named(NASTY[4]);
    let grads = out.backward();
    let dot = tape.to_dot(Some(&grads));
    // Quotes and backslashes are escaped, so no name ends the label early or becomes \N.
    assert!(dot.contains(r#"label="say \"hi\"\lparam"#));
    assert!(dot.contains(r"back\\slash \\N \\G \\l and a trailing \\\lparam"));
    assert!(dot.contains(r"two\llines� and�control\lparam"));
    if let Some(svg) = render_svg(&dot) {
        assert_eq!(svg.matches("class=\"node\"").count(), tape.len());
        // Graphviz writes the text back, XML-escaped: the names survived the trip.
        assert!(svg.contains("say &quot;hi&quot;"), "{svg}");
        assert!(svg.contains("{record|like} &lt;port&gt;"), "{svg}");
        assert!(
            svg.contains("back\\slash \\N \\G \\l and a trailing \\"),
            "{svg}"
        );
        assert!(svg.contains("∂l/∂w₁ 日本語 ü 🙂"), "{svg}");
        assert!(
            svg.contains("&amp;amp; &lt;/text&gt; &lt;!&#45;&#45; &#45;&#45;&gt;"),
            "{svg}"
        );
    }
}

#[test]
fn graphs_of_every_size_render() {
    // An empty tape, and a tape with large tensors, a matrix product, reductions, a node
    // read twice, and nodes recorded after the backward pass (which have no gradient).
    let empty = Tape::new();
    let dot = empty.to_dot(None);
    assert_eq!(dot.lines().count(), 4);
    render_svg(&dot);

    let tape = Tape::new();
    let x = tape.constant(Tensor::from_fn(&[8, 6], |i| (i as f64).cos()));
    let w = tape
        .param(Tensor::from_fn(&[6, 3], |i| 0.1 * i as f64))
        .named("W");
    let h = x.matmul(w).relu();
    let loss = (h * h).log_softmax(1).max_axis(1).mean().named("loss");
    let grads = loss.backward();
    let after = loss.exp();
    let dot = tape.to_dot(Some(&grads));
    assert!(
        dot.contains("value ⟨[8, 3]: min "),
        "large tensors are summarised"
    );
    assert!(dot.contains("grad ⟨[6, 3]: min "), "large gradients too");
    let last = dot
        .lines()
        .find(|l| l.starts_with(&format!("  n{} [", after.id().index())));
    assert!(
        !last.unwrap().contains("\\lgrad "),
        "recorded after the pass: no gradient"
    );
    if let Some(svg) = render_svg(&dot) {
        assert_eq!(svg.matches("class=\"node\"").count(), tape.len());
    }
}

#[test]
#[should_panic(expected = "to_dot: the Grads come from another tape")]
fn gradients_of_another_tape_are_refused() {
    let (one, other) = (Tape::new(), Tape::new());
    let grads = one.param(1.0).exp().backward();
    let _ = other.param(1.0);
    let _ = other.to_dot(Some(&grads));
}
