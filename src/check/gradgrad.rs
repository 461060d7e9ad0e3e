//! [`gradgradcheck`]: second derivatives against finite differences of the first.
//!
//! The gradient that [`Var::grad`] records is differentiated again, along a random direction
//! `v` per input: the analytic side is the Hessian-vector product `H·v` (the gradient of
//! `⟨∇L, v⟩`, both sweeps on the tape), the numeric side the central difference of `⟨∇L, v⟩`
//! where `∇L` comes from `backward()` — the rules run on plain tensors or numbers, which `gradcheck`
//! checks on their own. So a rule that is right to first order but differentiates wrongly when
//! recorded (a mask that should not be constant, a custom op's `backward_vars`) cannot agree
//! with itself. When an element disagrees, each node of `f` is re-checked alone, as `gradcheck`
//! does, and the first whose second derivatives disagree is named.

use super::examine;
use super::examine::Verdict;
use super::finite_diff::{dot, random_tensor};
use super::localize::{LocalOp, site};
use super::report::{Comparison, Culprit, NodeFault, Search};
use super::{
    GradCheckError, GradCheckOptions, GradCheckReport, Localize, compare_elements, record,
};
use crate::functional::hvp;
use crate::tape::Tape;
use crate::tensor::Tensor;
use crate::var::Var;

/// The seed of the random direction along which the second derivatives of input `i` are taken
/// is `DIRECTION_SEED + i`.
const DIRECTION_SEED: u64 = 0xD1EC;

/// Checks the second derivatives of `f` at `inputs`: Hessian-vector products along random
/// directions, computed by differentiating [`Var::grad`]'s recorded gradient, against central
/// finite differences of the first-order gradient of [`Var::backward`].
///
/// `f`, the options and the report are those of [`gradcheck`](super::gradcheck): with
/// [`Cotangent::One`](super::Cotangent::One) the output must be a single element, otherwise
/// the check differentiates `Σ u ⊙ output` twice. `f` is called once per input element on each
/// side of the difference.
///
/// ```
/// use tapegrad::{Tensor, check::{gradgradcheck, GradCheckOptions}};
///
/// let x = Tensor::from([0.5, -1.0, 2.0]);
/// let report = gradgradcheck(|v| (v[0] * v[0]).tanh().sum(), &[x], GradCheckOptions::default())?;
/// assert_eq!(report.checked, 3);
/// # Ok::<(), tapegrad::check::GradCheckError>(())
/// ```
///
/// # Errors
///
/// [`GradCheckError`] (with `order` 2) when some element of `H·v` disagrees beyond the
/// tolerances; unless [`Localize::Off`], it names the first node of `f` whose own second
/// derivatives disagree with finite differences of its op alone.
///
/// # Panics
///
/// As [`gradcheck`](super::gradcheck), and if `f` uses a custom op without a differentiable
/// rule ([`CustomOp::backward_vars`](crate::CustomOp::backward_vars)).
#[track_caller]
pub fn gradgradcheck<F>(
    f: F,
    inputs: &[Tensor],
    options: GradCheckOptions,
) -> Result<GradCheckReport, GradCheckError>
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    options.validate("gradgradcheck");
    let tape = Tape::new();
    let (_, output) = record(&tape, &f, inputs, "gradgradcheck");
    let cotangent = options.cotangent_for(&output.shape());
    let comparison = compare(&f, inputs, &cotangent, &options);
    comparison.finish(options.report_rows).map_err(|failure| {
        let culprit = match options.localize {
            Localize::FirstWrongNode => first_wrong_node(&tape, output, &options),
            Localize::Off => Culprit::NotSearched,
        };
        let search = Search {
            culprit,
            ..Search::not_searched()
        };
        failure.into_error(search).of_order(2)
    })
}

/// `H·v` of `L = Σ cotangent ⊙ f(inputs)` against central differences of `⟨∇L, v⟩`, element by
/// element.
fn compare<F>(
    f: &F,
    inputs: &[Tensor],
    cotangent: &Tensor,
    options: &GradCheckOptions,
) -> Comparison
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    let directions: Vec<Tensor> = inputs
        .iter()
        .zip(DIRECTION_SEED..)
        .map(|(x, seed)| random_tensor(x.shape(), seed))
        .collect();
    // Analytic: two sweeps, both on the tape's ops.
    let hv = hvp(
        |x| {
            let output = f(x);
            (output * output.tape().constant(cotangent.clone())).sum()
        },
        inputs,
        &directions,
    );
    // Numeric: differences of the first-order gradient of backward().
    let gradient_along = |at: &[Tensor]| -> f64 {
        let tape = Tape::new();
        let x: Vec<Var<'_>> = at.iter().map(|x| tape.param(x.clone())).collect();
        let grads = f(&x).backward_with(cotangent.clone());
        x.iter()
            .zip(&directions)
            .map(|(&x, v)| dot(&grads[x], v))
            .sum()
    };
    // Rounding: each element of ∇L off by a unit in its last place, weighted by v.
    let tape = Tape::new();
    let x: Vec<Var<'_>> = inputs.iter().map(|x| tape.param(x.clone())).collect();
    let grads = f(&x).backward_with(cotangent.clone());
    let noise = examine::noise(
        x.iter()
            .zip(&directions)
            .map(|(&x, v)| (grads[x].data(), v.data())),
    );
    let analytic: Vec<Option<&Tensor>> = hv.iter().map(Some).collect();
    compare_elements(&gradient_along, inputs, &analytic, noise, options)
}

/// The first node of `output`'s graph, in creation order, whose op alone fails the same
/// comparison at the values the forward pass gave its inputs.
fn first_wrong_node(tape: &Tape, output: Var<'_>, options: &GradCheckOptions) -> Culprit {
    let recording = tape.recording();
    for index in 0..=output.id().index() {
        if recording.nodes()[index].op.inputs().next().is_none() {
            continue; // a leaf has no rule
        }
        let local = LocalOp::new(&recording, index);
        let shape = recording.nodes()[index].value.shape().to_vec();
        let cotangent = random_tensor(&shape, 0x5EED ^ index as u64);
        // The op reads leaves 0, 1, … of its tape, which `compare` records first.
        let alone = compare(
            &|x| x[0].tape().record(local.op.clone()),
            &local.inputs,
            &cotangent,
            options,
        );
        if let Err(failure) = alone.finish(usize::MAX) {
            // Only a smooth, informative disagreement blames the rule (not a kink, not noise).
            let (checked, _, failing) = failure.into_worst();
            let wrong: Vec<_> = failing
                .into_iter()
                .filter(|d| d.verdict == Verdict::Disagrees)
                .collect();
            if !wrong.is_empty() {
                return Culprit::Node(Box::new(NodeFault {
                    site: site(&recording, index),
                    checked,
                    failed: wrong.len(),
                    worst: wrong.into_iter().take(options.report_rows).collect(),
                }));
            }
        }
    }
    Culprit::NoneFound
}
