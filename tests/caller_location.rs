//! Shape errors point at the user's line, not at tapegrad's internals: every public op that can
//! panic is `#[track_caller]` all the way down to the check that fails.

use std::panic;
use std::sync::Mutex;
use tapegrad::{Tape, Tensor};

/// Runs `f`, which must panic, and returns the file and line the panic reports.
///
/// The panic hook is global to the process and the tests run in parallel, so one lock is held
/// for the whole swap of the hook: otherwise a test can catch the other's hook, and a panic
/// inside the hook while it holds `LOCATION` deadlocks.
fn panic_location(f: impl FnOnce() + panic::UnwindSafe) -> (String, u32) {
    static SERIAL: Mutex<()> = Mutex::new(());
    static LOCATION: Mutex<Option<(String, u32)>> = Mutex::new(None);
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let previous = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        let location = info.location().expect("a location");
        *LOCATION.lock().unwrap() = Some((location.file().to_string(), location.line()));
    }));
    let result = panic::catch_unwind(f);
    panic::set_hook(previous);
    assert!(result.is_err(), "expected a panic");
    let location = LOCATION.lock().unwrap_or_else(|p| p.into_inner()).take();
    location.expect("the hook ran")
}

#[test]
fn shape_errors_point_at_the_callers_line() {
    let first_line = line!();
    let cases: Vec<Box<dyn FnOnce() + panic::UnwindSafe>> = vec![
        Box::new(|| {
            let t = Tape::new();
            let _ = t.param(Tensor::zeros(&[2])) + t.param(Tensor::zeros(&[3]));
        }),
        Box::new(|| {
            let t = Tape::new();
            let _ = t.param(Tensor::zeros(&[2])) * t.param(Tensor::zeros(&[3]));
        }),
        Box::new(|| {
            let t = Tape::new();
            let _ = t
                .param(Tensor::zeros(&[4, 2]))
                .matmul(t.param(Tensor::zeros(&[3])));
        }),
        Box::new(|| {
            let t = Tape::new();
            let _ = t.param(Tensor::zeros(&[2])).sum_axis(1);
        }),
        Box::new(|| {
            let t = Tape::new();
            let _ = t.param(Tensor::zeros(&[2])).mean_axis(1);
        }),
        Box::new(|| {
            let t = Tape::new();
            let _ = t.param(Tensor::zeros(&[2])).softmax(1);
        }),
        Box::new(|| {
            let t = Tape::new();
            let _ = t.param(Tensor::zeros(&[2])).reshape(&[3]);
        }),
        Box::new(|| {
            let t = Tape::new();
            let _ = t.param(Tensor::zeros(&[2])).broadcast_to(&[3]);
        }),
        Box::new(|| {
            let t = Tape::new();
            let _ = t.param(Tensor::zeros(&[2])).transpose();
        }),
        Box::new(|| {
            let t = Tape::new();
            let _ = t.param(Tensor::zeros(&[2])).backward();
        }),
        Box::new(|| {
            let _ = Tensor::zeros(&[2]) + Tensor::zeros(&[3]);
        }),
        Box::new(|| {
            let _ = Tensor::zeros(&[2]).matmul(&Tensor::zeros(&[3]));
        }),
    ];
    let last_line = line!();
    for case in cases {
        let (file, line) = panic_location(case);
        assert_eq!(
            file, "tests/caller_location.rs",
            "a panic inside tapegrad, not at the caller"
        );
        assert!(
            (first_line..last_line).contains(&line),
            "line {line} is not one of the cases"
        );
    }
}

/// Runs `f`, which must panic, and asserts that the panic points into this file, between the
/// lines `start` and `end` that enclose the call (rustfmt may move the exact line).
#[track_caller]
fn assert_points_here(start: u32, f: impl FnOnce() + panic::UnwindSafe, end: u32) {
    let (file, line) = panic_location(f);
    assert_eq!(
        file,
        file!(),
        "the panic points into tapegrad, not at the caller"
    );
    assert!(
        start < line && line < end,
        "line {line} is not in {start}..{end}"
    );
}

#[test]
fn losses_and_layers_point_at_the_callers_line() {
    use tapegrad::{ParamStore, loss, nn};
    assert_points_here(
        line!(),
        || {
            let t = Tape::new();
            let (s, y) = (
                t.param(Tensor::zeros(&[3])),
                t.constant(Tensor::zeros(&[2])),
            );
            let _ = loss::hinge(s, y);
        },
        line!(),
    );
    assert_points_here(
        line!(),
        || {
            let t = Tape::new();
            let _ = loss::cross_entropy(t.param(Tensor::zeros(&[2, 3])), &[0, 5]);
        },
        line!(),
    );
    assert_points_here(
        line!(),
        || {
            let mut store = ParamStore::new();
            let mut rng = nn::seeded_rng(0);
            let layer = nn::Linear::new(&mut store, "fc", 3, 2, nn::Init::HeUniform, &mut rng);
            let t = Tape::new();
            let p = store.on_tape(&t);
            let _ = layer.forward(&p, t.constant(Tensor::zeros(&[4, 5])));
        },
        line!(),
    );
    // Through an Mlp, whose layers run in a loop: the shape error is the first layer's.
    assert_points_here(
        line!(),
        || {
            let mut store = ParamStore::new();
            let mut rng = nn::seeded_rng(0);
            let mlp = nn::Mlp::new(
                &mut store,
                "mlp",
                &[3, 4, 2],
                nn::Activation::Tanh,
                &mut rng,
            );
            let t = Tape::new();
            let p = store.on_tape(&t);
            let _ = mlp.forward(&p, t.constant(Tensor::zeros(&[4, 5])));
        },
        line!(),
    );
}
