//! Every node remembers the user's line that recorded it (`Var::location`): leaves, operators
//! with Vars and with `f64`s, methods, and composite ops. That is what lets a failing gradient
//! check point at the line that built the wrong node.

use tapegrad::{Tape, Tensor, Var};

/// `(var, line)`: the Var an expression records and the line it is written on.
macro_rules! at {
    ($e:expr) => {
        ($e, line!())
    };
}

#[test]
fn every_way_of_recording_a_node_records_the_callers_line() {
    let tape = Tape::new();
    let (x, c) = (
        at!(tape.param(Tensor::from([[1.0, 2.0], [3.0, 4.0]]))),
        at!(tape.constant(Tensor::from([0.5, 0.5]))),
    );
    let (xv, cv) = (x.0, c.0);
    let cases = [
        x,
        c,
        at!(xv + cv),
        at!(xv - cv),
        at!(xv * cv),
        at!(xv / cv),
        at!(-xv),
        at!(2.0 * xv),
        at!(xv * 2.0),
        at!(xv + 1.0),
        at!(1.0 - xv),
        at!(xv - 1.0),
        at!(xv / 2.0),
        at!(2.0 / xv),
        at!(xv.relu()),
        at!(xv.step()),
        at!(xv.abs()),
        at!(xv.sigmoid()),
        at!(xv.tanh()),
        at!(xv.exp()),
        at!(xv.ln()),
        at!(xv.powf(2.0)),
        at!(xv.sqrt()),
        at!(xv.matmul(cv)),
        at!(xv.transpose()),
        at!(xv.reshape(&[4])),
        at!(cv.broadcast_to(&[3, 2])),
        at!(xv.sum()),
        at!(xv.sum_axis(0)),
        at!(xv.max_axis(1)),
        at!(xv.logsumexp(0)),
        at!(xv.prod_axis(-1)),
        // Composites record several primitives; the last one is returned.
        at!(xv.mean()),
        at!(xv.mean_axis(1)),
        at!(xv.softmax(1)),
        at!(xv.log_softmax(0)),
        at!(xv.prod()),
        at!(xv.prod_axis_keepdim(0)),
    ];
    for (var, line) in cases {
        let location = var.location();
        assert_eq!(
            (location.file(), location.line()),
            (file!(), line),
            "{var:?} was recorded elsewhere"
        );
    }
}

#[test]
fn a_helper_function_records_its_own_lines_unless_it_tracks_its_caller() {
    fn square(x: Var<'_>) -> (Var<'_>, u32) {
        at!(x * x)
    }
    #[track_caller]
    fn square_here(x: Var<'_>) -> Var<'_> {
        x * x
    }
    let tape = Tape::new();
    let x = tape.param(3.0);
    let (inside, inside_line) = square(x);
    let (here, here_line) = at!(square_here(x));
    assert_eq!(
        inside.location().line(),
        inside_line,
        "the `x * x` inside `square`"
    );
    assert_eq!(here.location().line(), here_line, "the caller's line");
}
