//! The step-by-step backward trace: its printed chain rule on the article's perceptron and on a
//! two-path graph, its fields, and its gradients against `backward()`'s, bit for bit. (Random
//! graphs: `tests/trace_properties.rs`.)

mod common;

use tapegrad::{Grads, LocalFactor, Tape, Tensor, Trace, Var};

/// The article's § 8 perceptron, one forward pass at epoch 0 (w = [1, 1], b = 0).
#[test]
fn the_perceptron_step_reads_as_the_chain_rule() {
    let tape = Tape::new();
    let (x, t, w, b) = common::article_perceptron(&tape);
    let z = (x.matmul(w) + b).named("z");
    let y = z.step().named("y");
    let loss = (-((t - y) * z).mean()).named("L");
    let trace = loss.backward_trace();

    // z = [2, 0, −1.5, 0.5], y = [1, 0, 0, 1], t − y = [−1, 1, 0, 0]; ∂L/∂w = −(t − y)·x/4.
    let expected = "\
L = neg(n10)  [n11]
  ∂L/∂L = 1.0
  ∂L/∂n10 += ∂L/∂n10 · ∂L/∂L = (-1) · 1.0 = -1.0
n10 = div(n9, 4)
  ∂L/∂n10 = -1.0
  ∂L/∂n9 += ∂n10/∂n9 · ∂L/∂n10 = 0.25 · (-1.0) = -0.25
n9 = sum(n8)
  ∂L/∂n9 = -0.25
  ∂L/∂n8 += ∂n9/∂n8 · ∂L/∂n9 = 1 · ∂L/∂n9 = [1.0 1.0 1.0 1.0] · (-0.25) = [-0.25 -0.25 -0.25 -0.25]
n8 = mul(n7, z)
  ∂L/∂n8 = [-0.25 -0.25 -0.25 -0.25]
  ∂L/∂n7 += ∂n8/∂n7 · ∂L/∂n8 = z · ∂L/∂n8 = [2.0 0.0 -1.5 0.5] · [-0.25 -0.25 -0.25 -0.25] = [-0.5 -0.0 0.375 -0.125]
  ∂L/∂z += ∂n8/∂z · ∂L/∂n8 = n7 · ∂L/∂n8 = [-1.0 1.0 0.0 0.0] · [-0.25 -0.25 -0.25 -0.25] = [0.25 -0.25 -0.0 -0.0]
n7 = sub(t, y)
  ∂L/∂n7 = [-0.5 -0.0 0.375 -0.125]
  ∂L/∂y += ∂n7/∂y · ∂L/∂n7 = (-1) · [-0.5 -0.0 0.375 -0.125] = [0.5 0.0 -0.375 0.125]
y = step(z)  [n6]
  ∂L/∂y = [0.5 0.0 -0.375 0.125]
  ∂L/∂z += ∂y/∂z · ∂L/∂y = 0 (step′ = 0): nothing is added
z = add(n4, b)  [n5]
  ∂L/∂z = [0.25 -0.25 -0.0 -0.0]
  ∂L/∂n4 += ∂z/∂n4 · ∂L/∂z = 1 · [0.25 -0.25 -0.0 -0.0] = [0.25 -0.25 -0.0 -0.0]
  ∂L/∂b += ∂z/∂b · ∂L/∂z = 1 · [0.25 -0.25 -0.0 -0.0] = [0.25 -0.25 -0.0 -0.0], summed to shape [] = 0.0
n4 = matmul(x, w)
  ∂L/∂n4 = [0.25 -0.25 -0.0 -0.0]
  ∂L/∂w += ∂n4/∂w · ∂L/∂n4 = xᵀ · ∂L/∂n4 = [0.5 0.0]
b = param  [n3]
  ∂L/∂b = 0.0
w = param  [n2]
  ∂L/∂w = [0.5 0.0]
";
    assert_eq!(trace.to_string(), expected);

    // The same facts as fields.
    let ids: Vec<usize> = trace.iter().map(|step| step.id.index()).collect();
    assert_eq!(
        ids,
        [11, 10, 9, 8, 7, 6, 5, 4, 3, 2],
        "constants x, t are skipped"
    );
    let step_of_y = trace.step(y).expect("y is visited");
    assert_eq!((step_of_y.op, step_of_y.call.as_str()), ("step", "step(z)"));
    assert_eq!(step_of_y.inputs[0].factor, LocalFactor::Zero);
    assert_eq!(step_of_y.inputs[0].added, None);
    let step_of_z = trace.step(z).expect("z is visited");
    let to_b = &step_of_z.inputs[1];
    assert_eq!((to_b.name.as_str(), to_b.position), ("b", 1));
    assert_eq!(to_b.factor, LocalFactor::Constant(1.0));
    assert_eq!(to_b.unsummed, Some(Tensor::from([0.25, -0.25, -0.0, -0.0])));
    assert_eq!(to_b.added, Some(Tensor::scalar(0.0)));
    let matmul = trace
        .iter()
        .find(|step| step.op == "matmul")
        .expect("z's product");
    let to_w = &matmul.inputs[0]; // x is a constant: only w's entry
    assert_eq!(
        to_w.factor,
        LocalFactor::VectorJacobian {
            formula: "xᵀ · ∂L/∂n4".into()
        }
    );
    assert_eq!(trace.grads()[w], Tensor::from([0.5, 0.0]));
    assert!(trace.step(x).is_none(), "a constant has no step");
    assert_same_gradients(trace.grads(), &loss.backward(), &[w, b, z, y]);
}

/// The article's § 2 second case: s reaches z along two paths, x = 2s and y = s², z = x·y.
#[test]
fn two_paths_add_up() {
    let tape = Tape::new();
    let s = tape.param(2.0).named("s");
    let x = (2.0 * s).named("x");
    let y = (s * s).named("y");
    let z = x * y; // unnamed: the trace calls the output l
    let trace = z.backward_trace();

    // dz/ds = ∂z/∂x · dx/ds + ∂z/∂y · dy/ds = y·2 + x·2s = 4·2 + 4·4 = 24.
    let expected = "\
l = mul(x, y)  [n3]
  ∂l/∂l = 1.0
  ∂l/∂x += ∂l/∂x · ∂l/∂l = y · ∂l/∂l = 4.0 · 1.0 = 4.0
  ∂l/∂y += ∂l/∂y · ∂l/∂l = x · ∂l/∂l = 4.0 · 1.0 = 4.0
y = mul(s, s)  [n2]
  ∂l/∂y = 4.0
  ∂l/∂s += ∂y/∂s · ∂l/∂y = s · ∂l/∂y = 2.0 · 4.0 = 8.0
  ∂l/∂s += ∂y/∂s · ∂l/∂y = s · ∂l/∂y = 2.0 · 4.0 = 8.0  → ∂l/∂s = 16.0
x = mul(s, 2)  [n1]
  ∂l/∂x = 4.0
  ∂l/∂s += ∂x/∂s · ∂l/∂x = 2 · 4.0 = 8.0  → ∂l/∂s = 24.0
s = param  [n0]
  ∂l/∂s = 24.0
";
    assert_eq!(trace.to_string(), expected);
    let to_s: Vec<(bool, f64)> = trace
        .iter()
        .flat_map(|step| &step.inputs)
        .filter(|input| input.input == s.id())
        .map(|input| (input.accumulated, input.gradient.as_ref().unwrap().item()))
        .collect();
    assert_eq!(to_s, [(false, 8.0), (true, 16.0), (true, 24.0)]);
    assert_eq!(trace.grads()[s].item(), 24.0);
    assert_eq!(trace.step(s).unwrap().upstream.item(), 24.0);
}

/// The README's example, printed in full there: keep the two in step.
#[test]
fn the_readme_neuron_prints_as_the_readme_says() {
    let tape = Tape::new();
    let x1 = tape.constant(2.0).named("x1");
    let w1 = tape.param(0.5).named("w1");
    let b = tape.param(-1.0).named("b");
    let z = (x1 * w1 + b).named("z");
    let l = z.sigmoid().named("l");
    let printed = l.backward_trace().to_string();
    let readme = include_str!("../README.md");
    let shown = readme
        .split("```text\n")
        .find(|block| block.starts_with("l = sigmoid(z)"))
        .and_then(|block| block.split("```").next())
        .expect("the README shows the neuron's trace");
    assert_eq!(printed, shown);
}

/// A graph with every kind of rule: elementwise, broadcast, matrix product, reductions,
/// softmax, reshape, a custom op, and a node read twice.
fn mixed_graph<'t>(tape: &'t Tape) -> (Var<'t>, Vec<Var<'t>>) {
    let x = tape.constant(Tensor::from_fn(&[3, 4], |i| (i as f64 * 0.37).sin()));
    let w = tape.param(Tensor::from_fn(&[4, 2], |i| 0.3 - 0.1 * i as f64));
    let b = tape.param(Tensor::from([0.1, -0.2]));
    let h = (x.matmul(w) + b).tanh();
    let scores = tape.custom(common::MulAdd::default(), &[h, h.sigmoid()]);
    let p = scores.log_softmax(1).exp() * h.max_axis(1).reshape(&[3, 1]);
    let loss = p.sum_axis(0).powf(2.0).mean() + h.abs().sum() / 7.0 + (h * h).sum().sqrt();
    (loss, vec![w, b, h, scores, p])
}

#[test]
fn the_gradients_are_backwards_bit_for_bit() {
    let tape = Tape::new();
    let (loss, vars) = mixed_graph(&tape);
    let trace = loss.backward_trace();
    assert_same_gradients(trace.grads(), &loss.backward(), &vars);
    assert_contributions_add_up(&trace);
    let ids: Vec<usize> = trace.iter().map(|step| step.id.index()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "in the sweep's order");
    assert_eq!(ids[0], loss.id().index());

    let seed = Tensor::from([[1.0, -2.0], [0.5, 0.0], [3.0, 0.25]]);
    let (_, vars) = mixed_graph(&tape);
    let h = vars[2];
    let trace = h.backward_trace_with(seed.clone());
    assert_same_gradients(trace.grads(), &h.backward_with(seed.clone()), &vars[..2]);
    assert_eq!(trace.steps()[0].upstream, seed);
    assert_contributions_add_up(&trace);
}

/// The symbolic factors of a trace (the rules that are not elementwise), in step order.
fn vector_jacobian_formulas(trace: &Trace) -> Vec<String> {
    trace
        .iter()
        .flat_map(|step| &step.inputs)
        .filter_map(|input| match &input.factor {
            LocalFactor::VectorJacobian { formula } => Some(formula.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn rules_that_are_not_elementwise_are_written_symbolically() {
    let tape = Tape::new();
    let (loss, vars) = mixed_graph(&tape);
    let trace = loss.backward_trace();
    let formulas = vector_jacobian_formulas(&trace);
    for expected in [
        "n0ᵀ · ∂l/∂n3", // w's gradient from h = tanh(x·w + b); x is n0
        "∂l/∂n8 − softmax(n7) ⊙ (Σ ∂l/∂n8 along axis 1)",
        "∂l/∂n11 reshaped to [3]",
        "∂l/∂n10 sent to the maxima of n5 along axis 1 (ties share it)",
        "∂l/∂n13 repeated along axis 0",
        "the backward rule of custom op \"mul_add\" for its input 1, given ∂l/∂n7",
    ] {
        assert!(
            formulas.iter().any(|f| f == expected),
            "{expected} in {formulas:#?}"
        );
    }
    // The weight matrix (8 elements) is shown in full; {:.2} fixes the digits.
    let text = format!("{:.2}", trace);
    let w_gradient = "  ∂l/∂n1 = [[0.76 -0.40] [0.44 -0.71] [0.05 -0.93] [-0.34 -1.01]]\n";
    assert!(text.contains(w_gradient), "{text}");
    let w = vars[0];
    assert_eq!(trace.step(w).unwrap().name, "n1");
    // A factor with an operator in it is put in parentheses before "·".
    assert!(
        text.contains("∂l/∂n4 += ∂n5/∂n4 · ∂l/∂n5 = (1 − n5²) · ∂l/∂n5 = "),
        "{text}"
    );
}

#[test]
fn large_tensors_are_summarised_unless_asked_for_in_full() {
    let tape = Tape::new();
    let a = tape
        .param(Tensor::from_fn(&[5, 4], |i| i as f64))
        .named("a");
    let loss = (a * 0.5).sum();
    let trace = loss.backward_trace();
    let text = trace.to_string();
    assert!(
        text.contains(
            "  ∂l/∂a += ∂n1/∂a · ∂l/∂n1 = 0.5 · ⟨[5, 4]: min 1.0, mean 1.0, max 1.0⟩ \
                       = ⟨[5, 4]: min 0.5, mean 0.5, max 0.5⟩\n"
        ),
        "{text}"
    );
    let full = format!("{trace:#}");
    assert!(
        full.contains("[[0.5 0.5 0.5 0.5] [0.5 0.5 0.5 0.5]"),
        "{full}"
    );
}

#[test]
fn the_output_keeps_its_own_name_and_l_is_not_taken_twice() {
    let tape = Tape::new();
    let l = tape.param(3.0).named("l");
    let out = l.exp();
    let trace = out.backward_trace();
    assert_eq!(
        trace.steps()[0].name,
        "n1",
        "another node is already called l"
    );
    assert!(
        trace
            .to_string()
            .starts_with("n1 = exp(l)\n  ∂n1/∂n1 = 1.0\n")
    );
    let named = out.named("loss").backward_trace();
    assert!(
        named
            .to_string()
            .contains("∂loss/∂l += ∂loss/∂l · ∂loss/∂loss = loss · ")
    );
}

#[test]
#[should_panic(expected = "backward: the output has shape [2]")]
fn a_trace_of_a_vector_needs_a_cotangent() {
    let tape = Tape::new();
    let _ = tape.param(Tensor::from([1.0, 2.0])).backward_trace();
}

/// `a` and `b` hold the same gradient, bit for bit, for every node (their Debug forms write
/// every number exactly), and for `vars` through indexing.
fn assert_same_gradients(a: &Grads, b: &Grads, vars: &[Var<'_>]) {
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    for &var in vars {
        let (x, y) = (
            a.get(var).map(Tensor::to_vec),
            b.get(var).map(Tensor::to_vec),
        );
        let bits =
            |v: Option<Vec<f64>>| v.map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        assert_eq!(bits(x), bits(y), "{var:?}");
    }
}

/// Adding up, in order, the contributions a trace reports for each node gives, bit for bit,
/// each running total it reports and the node's gradient when its own step comes.
fn assert_contributions_add_up(trace: &Trace) {
    let mut totals: Vec<Option<Tensor>> = vec![None; trace.steps()[0].id.index() + 1];
    for step in trace {
        if step.id != trace.steps()[0].id {
            let total = totals[step.id.index()]
                .as_ref()
                .expect("a gradient reached it");
            assert_eq!(total.to_vec(), step.upstream.to_vec(), "{}", step.name);
        }
        for input in &step.inputs {
            let Some(added) = &input.added else { continue };
            let total = &mut totals[input.input.index()];
            assert_eq!(input.accumulated, total.is_some(), "{}", input.name);
            *total = Some(match total.take() {
                Some(sum) => &sum + added,
                None => added.clone(),
            });
            let reported = input
                .gradient
                .as_ref()
                .expect("a total after each addition");
            assert_eq!(total.as_ref().unwrap().to_vec(), reported.to_vec());
        }
    }
}

#[test]
fn fused_losses_name_their_factors() {
    let tape = Tape::new();
    let logits = tape.param(Tensor::from([0.0, 2.0])).named("x");
    let targets = tape.param(Tensor::from([1.0, 0.0])).named("t");
    let loss =
        tapegrad::loss::binary_cross_entropy_with_logits(logits, targets) + logits.softplus().sum();
    let trace = loss.backward_trace();
    let factors: Vec<(String, Tensor)> = trace
        .iter()
        .flat_map(|step| &step.inputs)
        .filter_map(|input| match &input.factor {
            LocalFactor::Elementwise { formula, value }
                if formula.contains('σ') || formula == "−x" =>
            {
                Some((formula.clone(), value.clone()))
            }
            _ => None,
        })
        .collect();
    let sigma2 = 1.0 / (1.0 + (-2.0f64).exp());
    assert_eq!(
        factors,
        [
            ("σ(x)".to_string(), Tensor::from([0.5, sigma2])),
            ("σ(x) − t".to_string(), Tensor::from([-0.5, sigma2])),
            ("−x".to_string(), Tensor::from([-0.0, -2.0])),
        ]
    );
    assert_same_gradients(trace.grads(), &loss.backward(), &[logits, targets]);
    assert_contributions_add_up(&trace);
}

#[test]
fn the_ops_of_issue_14_trace_as_their_backward_pass() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from_fn(&[2, 3], |i| (i as f64 * 0.7).sin()));
    let y = tape.param(Tensor::from_fn(&[2, 3], |i| (i as f64 * 0.3).cos()));
    let v = tape.param(Tensor::from([0.5, -0.25, 1.5]));
    let chosen = x.gt(y).where_(x.log1p(), y.expm1());
    let joined = Var::concat(&[x.maximum(y), chosen], 0); // [4, 3]
    let heads = joined.reshape(&[2, 2, 3]).permute(&[0, 2, 1]); // [2, 3, 2]
    let l = v.tril_from_vec(2, 0); // [2, 2]
    let mixed = heads.matmul(l).index_select(1, &[2, 0, 2]).clamp(-0.5, 0.8);
    let loss = mixed.square().sum();
    let trace = loss.backward_trace();
    assert_same_gradients(trace.grads(), &loss.backward(), &[x, y, v]);
    assert_contributions_add_up(&trace);
    // Every elementwise factor of these ops, times the upstream gradient, is the contribution
    // (a wrong factor, say 1/(1.5 + x) for log1p, fails here).
    let mut checked = 0;
    for step in &trace {
        for input in &step.inputs {
            let (LocalFactor::Elementwise { value, .. }, Some(added)) =
                (&input.factor, &input.added)
            else {
                continue;
            };
            if value.shape() != step.upstream.shape() || added.shape() != value.shape() {
                continue; // broadcast: summed back, checked by the sums above
            }
            // To rounding: the rule may divide where the factor is a reciprocal times g.
            let product = value * &step.upstream;
            approx::assert_relative_eq!(product, added.clone(), max_relative = 1e-15);
            checked += 1;
        }
    }
    assert!(checked >= 6, "{checked} elementwise factors checked");
    let text = format!("{trace}");
    for op in [
        "maximum",
        "where",
        "log1p",
        "expm1",
        "square",
        "permute",
        "take",
        "scatter_add",
        "concat",
    ] {
        assert!(text.contains(op), "{op} in\n{text}");
    }
}

#[test]
fn a_product_along_an_axis_is_traced_as_the_product_of_the_others() {
    let tape = Tape::new();
    let x = tape.param(Tensor::from([[2.0, 0.0, 3.0], [1.0, 4.0, 5.0]]));
    let loss = x.prod_axis(-1).sum(); // n1 = prod_axis(n0, 1), n2 = sum(n1)
    let trace = loss.backward_trace();
    let formulas = vector_jacobian_formulas(&trace);
    assert_eq!(
        formulas,
        ["∂l/∂n1 repeated along axis 1 ⊙ the product of the other elements of n0 along it"]
    );
    assert_eq!(
        trace.grads()[x],
        Tensor::from([[0.0, 6.0, 0.0], [20.0, 5.0, 4.0]])
    );
    assert_same_gradients(trace.grads(), &loss.backward(), &[x]);
}
