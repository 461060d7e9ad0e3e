//! The attention example (`examples/attention.rs`) learns what its docs say it learns: a
//! one-block transformer reverses digit sequences it never saw, and its run is reproducible.

#[path = "../examples/attention.rs"]
mod attention;

#[test]
fn a_one_block_transformer_learns_to_reverse_sequences() {
    let run = attention::train(7, 200);
    assert_eq!(run.losses.len(), 200);
    // Chance is ln 9 = 2.2 per token; after training, well under 0.01.
    assert!(run.losses[0] > 2.0, "{}", run.losses[0]);
    assert!(run.losses[199] < 0.01, "{}", run.losses[199]);
    assert_eq!(run.held_out, 1.0, "accuracy on held-out sequences");
    // And on another set of unseen sequences.
    let (inputs, targets) = attention::examples(64, &mut tapegrad::nn::seeded_rng(99));
    let again = attention::accuracy(&run.model, &run.store, &inputs, &targets);
    assert_eq!(again, 1.0);
}

#[test]
fn the_run_is_reproducible_to_the_bit() {
    let (a, b) = (attention::train(3, 5), attention::train(3, 5));
    assert_eq!(a.losses, b.losses);
    assert_eq!(
        a.store.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>(),
        b.store.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>()
    );
}
