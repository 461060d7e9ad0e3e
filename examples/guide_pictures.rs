//! Regenerates the pictures of the guide: writes `docs/img/NAME.dot` for each graph below, from
//! the same code the guide and the examples run. Run from the repository's root:
//!
//! ```sh
//! cargo run --example guide_pictures
//! for f in docs/img/*.dot; do dot -Tsvg "$f" -o "${f%.dot}.svg"; done
//! ```
//!
//! (Graphviz's `dot`.) `tests/guide_pictures.rs` includes this file and fails when a committed
//! `.dot` differs from what [`pictures`] makes now, so a change to a graph or to `Tape::to_dot`
//! says that the pictures need regenerating.
//!
//! Each DOT text is `Tape::to_dot`'s, with two changes for a picture in a document (see
//! [`for_picture`]): the graph runs top to bottom, and the hover text with the line of the
//! program that recorded each node is left out.

#[allow(dead_code)] // only `record` is used here; tests/lecture.rs uses the rest
#[path = "lecture.rs"]
mod lecture;
#[allow(dead_code)] // only `train_showing` is used here
#[path = "perceptron.rs"]
mod perceptron;

use tapegrad::{Tape, Var};

/// The directory the pictures are written to, from the repository's root.
pub const DIR: &str = "docs/img";

/// Every picture of the guide: its file name (without `.dot`) and its DOT text.
pub fn pictures() -> Vec<(&'static str, String)> {
    vec![
        ("micrograd", micrograd()),
        ("chain-rule", chain_rule()),
        ("lecture", lecture_network()),
        ("perceptron", perceptron_epoch_0()),
    ]
}

/// `to_dot`'s text made fit for a committed picture: no `tooltip`s (they hold the source line
/// that recorded each node, which would make the picture change whenever an unrelated line of
/// an example moved).
pub fn for_picture(dot: &str) -> String {
    let mut out = String::with_capacity(dot.len());
    for line in dot.lines() {
        match (line.find(", tooltip=\""), line.find("\", style=")) {
            (Some(start), Some(end)) if start < end => {
                out.push_str(&line[..start]);
                out.push_str(&line[end + 1..]);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The expression of micrograd's README (docs/guide/README.md), with its gradients.
fn micrograd() -> String {
    let tape = Tape::new();
    let g = micrograd_expression(&tape);
    for_picture(&tape.to_dot(Some(&g.backward())))
}

/// micrograd's README expression, named as there, as docs/guide/README.md writes it: an update
/// such as `c += c + 1` makes a new node, named with a prime (c, c′, c″). Returns `g`.
pub fn micrograd_expression(tape: &Tape) -> Var<'_> {
    let a = tape.param(-4.0).named("a");
    let b = tape.param(2.0).named("b");
    let c = (a + b).named("c");
    let d = (a * b + b.powf(3.0)).named("d");
    let c = (c + (c + 1.0)).named("c′");
    let c = (c + (1.0 + c + (-a))).named("c″");
    let d = (d + (d * 2.0 + (b + a).relu())).named("d′");
    let d = (d + (3.0 * d + (b - a).relu())).named("d″");
    let e = (c - d).named("e");
    let f = e.powf(2.0).named("f");
    let g = f / 2.0;
    (g + 10.0 / f).named("g") // g += 10.0 / f
}

/// § 2's two paths: x = 2s, y = s², z = x·y at s = 2, with its gradients.
fn chain_rule() -> String {
    let tape = Tape::new();
    let s = tape.param(2.0).named("s");
    let x = (2.0 * s).named("x");
    let y = s.powf(2.0).named("y");
    let z = (x * y).named("z");
    for_picture(&tape.to_dot(Some(&z.backward())))
}

/// The lecture's § 4–§ 6 network (examples/lecture.rs), with its gradients.
fn lecture_network() -> String {
    let tape = Tape::new();
    let net = lecture::record(&tape);
    for_picture(&tape.to_dot(Some(&net.l.backward())))
}

/// The perceptron's epoch 0 (examples/perceptron.rs), with the gradients of its backward pass.
fn perceptron_epoch_0() -> String {
    let mut picture = None;
    perceptron::train_showing(|epoch, loss| {
        if epoch == 0 {
            let grads = loss.backward();
            picture = Some(for_picture(&loss.tape().to_dot(Some(&grads))));
        }
    });
    picture.expect("the perceptron trains for at least one epoch")
}

#[allow(dead_code)] // tests/guide_pictures.rs includes this file and does not call main
fn main() -> std::io::Result<()> {
    std::fs::create_dir_all(DIR)?;
    for (name, dot) in pictures() {
        let path = format!("{DIR}/{name}.dot");
        std::fs::write(&path, dot)?;
        println!("wrote {path}");
    }
    println!(
        "now render them: for f in {DIR}/*.dot; do dot -Tsvg \"$f\" -o \"${{f%.dot}}.svg\"; done"
    );
    Ok(())
}
