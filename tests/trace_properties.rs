//! Property tests of the trace (`cargo test --features proptest`): on random expression graphs,
//! the trace's gradients are `backward()`'s bit for bit, its steps come in the sweep's order
//! with each node's gradient complete, and its contributions add up to the gradients it reports.

#![cfg(feature = "proptest")]

mod common;

use common::Rng;
use proptest::prelude::*;
use tapegrad::strategy;
use tapegrad::{Grads, Tape, Tensor, Trace, Var};

/// Every gradient of `a` and `b`, bit for bit: the Debug form lists each node's gradient with
/// every number written exactly (−0.0 included).
fn same_bits(a: &Grads, b: &Grads, vars: &[Var<'_>]) -> Result<(), TestCaseError> {
    prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
    for &var in vars {
        let bits = |g: &Grads| {
            g[var]
                .data()
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>()
        };
        prop_assert_eq!(bits(a), bits(b));
    }
    Ok(())
}

/// The steps visit nodes from the output down; when a node's step comes, the contributions
/// the trace reported for it add up (in order, bit for bit) to its upstream gradient.
fn adds_up(trace: &Trace) -> Result<(), TestCaseError> {
    let Some(first) = trace.steps().first() else {
        return Ok(()); // the output is a constant: no parameter reaches it, nothing to visit
    };
    let output = first.id;
    let mut totals: Vec<Option<Tensor>> = vec![None; output.index() + 1];
    let mut previous = None;
    for step in trace {
        prop_assert!(previous.is_none_or(|p| p > step.id), "out of order");
        previous = Some(step.id);
        if step.id != output {
            let total = totals[step.id.index()].as_ref();
            prop_assert_eq!(total.map(Tensor::to_vec), Some(step.upstream.to_vec()));
        }
        for input in &step.inputs {
            let Some(added) = &input.added else { continue };
            let own = trace.iter().find(|s| s.id == input.input);
            let own = own.expect("an input that gets a gradient gets a step of its own");
            prop_assert_eq!(added.shape(), own.upstream.shape());
            let total = &mut totals[input.input.index()];
            prop_assert_eq!(input.accumulated, total.is_some());
            let sum = match total.take() {
                Some(sum) => &sum + added,
                None => added.clone(),
            };
            prop_assert_eq!(
                input.gradient.as_ref().map(Tensor::to_vec),
                Some(sum.to_vec())
            );
            *total = Some(sum);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn the_trace_of_a_random_graph_is_its_backward_pass(
        expr in strategy::expr(3, 7),
        inputs in strategy::broadcast_tensors(3, 3, 3),
        seed in any::<u64>(),
    ) {
        let tape = Tape::new();
        let vars: Vec<Var> = inputs.iter().map(|x| tape.param(x.clone())).collect();
        let output = expr.eval(&vars);
        let cotangent = Rng::new(seed).tensor(&output.shape(), -1.0, 1.0);
        let trace = output.backward_trace_with(cotangent.clone());
        same_bits(trace.grads(), &output.backward_with(cotangent), &vars)?;
        adds_up(&trace)?;
        // It prints, and every step it prints is one the sweep ran.
        let text = trace.to_string();
        prop_assert_eq!(text.lines().filter(|l| !l.starts_with(' ')).count(), trace.steps().len());

        let loss = output.sum();
        let trace = loss.backward_trace();
        same_bits(trace.grads(), &loss.backward(), &vars)?;
        adds_up(&trace)?;
    }
}
