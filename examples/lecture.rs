//! The article's § 4–§ 6 worked network, one gradient at a time.
//!
//! A neuron `z = x1·w1 + x2·w2 + b` with a sigmoid, `a = σ(z)`, feeds two sigmoid neurons of
//! the output layer, `z′ = a·w3 + b3` and `z″ = a·w4 + b4`; the loss of the one training example
//! is `l = ½((y1 − t1)² + (y2 − t2)²)` with `y1 = σ(z′)`, `y2 = σ(z″)`. The article gives no
//! numbers for this network; the ones chosen here are in [`X`], [`T`] and [`THETA`].
//!
//! For every weight the article splits the gradient in two: `∂l/∂w = ∂z/∂w · ∂l/∂z`, where `z`
//! is the neuron the weight feeds. `∂z/∂w` comes from the forward pass (it is the input the
//! weight multiplies, or 1 for a bias); `∂l/∂z` from the backward pass, computed from the output
//! layer back: `∂l/∂z′ = σ′(z′)·(y1 − t1)`, `∂l/∂z″ = σ′(z″)·(y2 − t2)`, then
//! `∂l/∂z = σ′(z)·(w3·∂l/∂z′ + w4·∂l/∂z″)`. This example computes both factors by hand, prints
//! their product, and checks it against tapegrad's `backward()` and a finite difference.
//!
//! Run it with `cargo run --example lecture`; add `--trace` to print tapegrad's own
//! backward pass step by step (each chain-rule product, in the article's notation), and
//! `--dot graph.dot` to write a picture of the graph (`dot -Tsvg graph.dot -o graph.svg`). `tests/lecture.rs` includes this file
//! and checks the printed table.

use tapegrad::check::numeric_grad;
use tapegrad::{Tape, Tensor, Var};

/// The training example's inputs `x1`, `x2`.
pub const X: [f64; 2] = [1.0, -1.0];
/// The training example's targets `t1`, `t2` for the outputs `y1`, `y2`.
pub const T: [f64; 2] = [1.0, 0.0];
/// The parameters' names, in the order the article meets them.
pub const NAMES: [&str; 7] = ["w1", "w2", "b", "w3", "b3", "w4", "b4"];
/// The parameters' values, in the order of [`NAMES`].
pub const THETA: [f64; 7] = [1.0, -2.0, 1.0, 0.5, -1.0, -1.5, 0.5];

/// The nodes of the forward pass that the article talks about.
#[derive(Clone, Copy)]
pub struct Network<'t> {
    /// The parameters, in the order of [`NAMES`].
    pub theta: [Var<'t>; 7],
    /// The hidden neuron before its sigmoid: `z = x1·w1 + x2·w2 + b`.
    pub z: Var<'t>,
    /// Its activation `a = σ(z)`.
    pub a: Var<'t>,
    /// The first output neuron before its sigmoid: `z′ = a·w3 + b3`.
    pub z_prime: Var<'t>,
    /// The second output neuron before its sigmoid: `z″ = a·w4 + b4`.
    pub z_double_prime: Var<'t>,
    /// The outputs `y1 = σ(z′)` and `y2 = σ(z″)`.
    pub y: [Var<'t>; 2],
    /// The loss of the training example, `l = ½((y1 − t1)² + (y2 − t2)²)`.
    pub l: Var<'t>,
}

/// Records the forward pass for the parameters `theta` (in the order of [`NAMES`]).
pub fn forward<'t>(theta: [Var<'t>; 7]) -> Network<'t> {
    let [w1, w2, b, w3, b3, w4, b4] = theta;
    // Named as the article names them, so that the trace and the picture use its notation.
    let tape = w1.tape();
    let [x1, x2] = X.map(|x| tape.constant(x));
    let (x1, x2) = (x1.named("x1"), x2.named("x2"));
    let z = (x1 * w1 + x2 * w2 + b).named("z");
    let a = z.sigmoid().named("a");
    let z_prime = (a * w3 + b3).named("z′");
    let z_double_prime = (a * w4 + b4).named("z″");
    let y = [
        z_prime.sigmoid().named("y1"),
        z_double_prime.sigmoid().named("y2"),
    ];
    let l = (0.5 * ((y[0] - T[0]).powf(2.0) + (y[1] - T[1]).powf(2.0))).named("l");
    Network {
        theta,
        z,
        a,
        z_prime,
        z_double_prime,
        y,
        l,
    }
}

/// `∂l/∂z` for the three neurons, computed by hand from the output layer back (§ 6).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BackwardFactors {
    /// `∂l/∂z′ = σ′(z′)·(y1 − t1)`.
    pub z_prime: f64,
    /// `∂l/∂z″ = σ′(z″)·(y2 − t2)`.
    pub z_double_prime: f64,
    /// `∂l/∂z = σ′(z)·(w3·∂l/∂z′ + w4·∂l/∂z″)`.
    pub z: f64,
}

/// `σ′(z) = σ(z)·(1 − σ(z))`, from the activation `s = σ(z)` the forward pass already computed.
fn sigmoid_prime(s: f64) -> f64 {
    s * (1.0 - s)
}

/// The backward pass of § 6, with plain numbers: the network run in reverse.
pub fn backward_factors(net: &Network<'_>) -> BackwardFactors {
    let [w3, w4] = [THETA[3], THETA[5]];
    let [y1, y2] = net.y.map(|y| y.value().item());
    let a = net.a.value().item();
    // ∂l/∂y1 = y1 − t1 (the derivative of ½(y1 − t1)²), times the output sigmoid's σ′.
    let z_prime = sigmoid_prime(y1) * (y1 - T[0]);
    let z_double_prime = sigmoid_prime(y2) * (y2 - T[1]);
    // a reaches l along two paths, through z′ (weight w3) and through z″ (weight w4).
    let z = sigmoid_prime(a) * (w3 * z_prime + w4 * z_double_prime);
    BackwardFactors {
        z_prime,
        z_double_prime,
        z,
    }
}

/// One line of the table: `∂l/∂w = ∂z/∂w · ∂l/∂z` for one weight, and two checks of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The weight `w` (or bias).
    pub weight: &'static str,
    /// The neuron it feeds: `z`, `z′` or `z″`.
    pub neuron: &'static str,
    /// What `∂z/∂w` is: the input the weight multiplies (`x1`, `x2`, `a`), or `1` for a bias.
    pub input: &'static str,
    /// The forward-pass factor `∂z/∂w`.
    pub forward: f64,
    /// The backward-pass factor `∂l/∂z`.
    pub backward: f64,
    /// Their product: the article's `∂l/∂w`.
    pub product: f64,
    /// `∂l/∂w` as tapegrad's `backward()` computes it.
    pub tapegrad: f64,
    /// `∂l/∂w` by a central finite difference.
    pub numeric: f64,
}

/// Everything the example prints: the forward values, the backward factors, and one [`Row`]
/// per weight.
#[derive(Clone, Debug, PartialEq)]
pub struct Lecture {
    /// `z, a, z′, z″, y1, y2, l` of the forward pass.
    pub forward_values: [(&'static str, f64); 7],
    /// `∂l/∂z′, ∂l/∂z″, ∂l/∂z` from the backward pass by hand.
    pub factors: BackwardFactors,
    /// The same three as tapegrad's `backward()` computes them (it keeps every node's gradient).
    pub tapegrad_factors: BackwardFactors,
    /// One row per weight, in the order of [`NAMES`].
    pub rows: Vec<Row>,
}

/// `∂l/∂θᵢ` by a central difference (tapegrad's `numeric_grad`): the forward pass again, with
/// every parameter but the `i`-th a constant.
fn finite_difference(i: usize) -> f64 {
    // The closure is written inline: numeric_grad needs it to work for the lifetime of any tape.
    let gradient = numeric_grad(
        |theta_i| {
            let mut theta = THETA.map(|value| theta_i.tape().constant(value));
            theta[i] = theta_i;
            forward(theta).l
        },
        &Tensor::scalar(THETA[i]),
    );
    gradient.item()
}

/// Records the network on `tape`: the parameters of [`THETA`], named as in [`NAMES`], and the
/// forward pass.
pub fn record(tape: &Tape) -> Network<'_> {
    let mut names = NAMES.iter();
    forward(THETA.map(|value| {
        tape.param(value)
            .named(*names.next().expect("one name each"))
    }))
}

/// Runs the forward pass, the backward pass by hand and by tapegrad, and fills the table.
pub fn lecture() -> Lecture {
    let tape = Tape::new();
    let net = record(&tape);
    let grads = net.l.backward();

    let factors = backward_factors(&net);
    let tapegrad_factors = BackwardFactors {
        z_prime: grads[net.z_prime].item(),
        z_double_prime: grads[net.z_double_prime].item(),
        z: grads[net.z].item(),
    };
    let item = |v: Var<'_>| v.value().item();
    let a = item(net.a);
    // For each weight: the neuron z it feeds, the input it multiplies there, which is ∂z/∂w
    // (§ 5), and that neuron's ∂l/∂z (§ 6).
    let feeds = [
        ("z", "x1", X[0], factors.z),
        ("z", "x2", X[1], factors.z),
        ("z", "1", 1.0, factors.z),
        ("z′", "a", a, factors.z_prime),
        ("z′", "1", 1.0, factors.z_prime),
        ("z″", "a", a, factors.z_double_prime),
        ("z″", "1", 1.0, factors.z_double_prime),
    ];
    let rows = (0..NAMES.len())
        .map(|i| {
            let (neuron, input, forward, backward) = feeds[i];
            Row {
                weight: NAMES[i],
                neuron,
                input,
                forward,
                backward,
                product: forward * backward,
                tapegrad: grads[net.theta[i]].item(),
                numeric: finite_difference(i),
            }
        })
        .collect();
    Lecture {
        forward_values: [
            ("z", item(net.z)),
            ("a", a),
            ("z′", item(net.z_prime)),
            ("z″", item(net.z_double_prime)),
            ("y1", item(net.y[0])),
            ("y2", item(net.y[1])),
            ("l", item(net.l)),
        ],
        factors,
        tapegrad_factors,
        rows,
    }
}

/// Whether two numbers agree to `tolerance`, relative to the larger (absolute below 1).
fn agree(x: f64, y: f64, tolerance: f64) -> bool {
    (x - y).abs() <= tolerance * x.abs().max(y.abs()).max(1.0)
}

/// Whether a row's product equals tapegrad's gradient (to rounding) and the finite difference
/// (to its truncation error).
pub fn row_checks_out(row: &Row) -> bool {
    agree(row.product, row.tapegrad, 1e-14) && agree(row.product, row.numeric, 1e-8)
}

/// The text the example prints.
pub fn report(lecture: &Lecture) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(format!(
        "One training example: x = ({}, {}), targets t = ({}, {})",
        X[0], X[1], T[0], T[1]
    ));
    let params: Vec<String> = NAMES
        .iter()
        .zip(THETA)
        .map(|(name, value)| format!("{name} = {value}"))
        .collect();
    line(format!("Parameters: {}", params.join(", ")));
    line(String::new());
    line("Forward pass (§ 5):".into());
    let formulas = [
        "x1·w1 + x2·w2 + b",
        "σ(z)",
        "a·w3 + b3",
        "a·w4 + b4",
        "σ(z′)",
        "σ(z″)",
        "½((y1 − t1)² + (y2 − t2)²)",
    ];
    for ((name, value), formula) in lecture.forward_values.iter().zip(formulas) {
        line(format!("  {name:<2} = {formula:<27} = {value:+.10}"));
    }
    line(String::new());
    line("Backward pass, from the output layer back (§ 6):".into());
    let (f, t) = (&lecture.factors, &lecture.tapegrad_factors);
    let factors = [
        ("∂l/∂z′", "σ′(z′)·(y1 − t1)", f.z_prime, t.z_prime),
        (
            "∂l/∂z″",
            "σ′(z″)·(y2 − t2)",
            f.z_double_prime,
            t.z_double_prime,
        ),
        ("∂l/∂z ", "σ′(z)·(w3·∂l/∂z′ + w4·∂l/∂z″)", f.z, t.z),
    ];
    for (name, formula, by_hand, by_tapegrad) in factors {
        line(format!(
            "  {name} = {formula:<29} = {by_hand:+.10}   (tapegrad: {by_tapegrad:+.10})"
        ));
    }
    line(String::new());
    line("∂l/∂w = ∂z/∂w · ∂l/∂z for every weight (§ 7):".into());
    line(format!(
        "  {:<6}  {:<6}  {:<19}  {:>16}  {:>16}  {:>16}  {:>16}  check",
        "weight",
        "neuron",
        "∂z/∂w (forward)",
        "∂l/∂z (backward)",
        "product",
        "tapegrad",
        "finite diff."
    ));
    for row in &lecture.rows {
        let forward = format!("{} = {:+.10}", row.input, row.forward);
        let check = if row_checks_out(row) { "ok" } else { "DIFFERS" };
        line(format!(
            "  {:<6}  {:<6}  {forward:<19}  {:>+16.10}  {:>+16.10}  {:>+16.10}  {:>+16.10}  {check}",
            row.weight, row.neuron, row.backward, row.product, row.tapegrad, row.numeric
        ));
    }
    out
}

#[allow(dead_code)] // tests/lecture.rs includes this file and does not call main
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let lecture = lecture();
    print!("{}", report(&lecture));
    let show_trace = args.iter().any(|a| a == "--trace");
    let dot_path = match args.iter().position(|a| a == "--dot") {
        Some(i) => Some(
            args.get(i + 1)
                .ok_or("--dot needs a file name, e.g. --dot graph.dot")?,
        ),
        None => None,
    };
    if show_trace || dot_path.is_some() {
        // One recording serves both flags: the trace's gradients are backward()'s.
        let tape = Tape::new();
        let trace = record(&tape).l.backward_trace();
        if show_trace {
            // The same backward pass, one chain-rule step at a time, as tapegrad ran it.
            println!("\nThe backward pass step by step (`--trace`):\n{trace:.6}");
        }
        if let Some(path) = dot_path {
            std::fs::write(path, tape.to_dot(Some(trace.grads())))?;
            println!("\nwrote {path} (render it with: dot -Tsvg {path} -o graph.svg)");
        }
    }
    let wrong: Vec<&str> = lecture
        .rows
        .iter()
        .filter(|row| !row_checks_out(row))
        .map(|row| row.weight)
        .collect();
    assert!(
        wrong.is_empty(),
        "the chain rule's product disagrees for {wrong:?}"
    );
    Ok(())
}
