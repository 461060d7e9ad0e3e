//! gradcheck on a model with 10⁴ parameters, `mean(tanh(X·W))` with W of 100 × 100 and a batch
//! X of 4: the elementwise check (2·10⁴ evaluations of the model) against the directional one
//! with two random directions (4 evaluations), both passing. docs/gradient-checking.md quotes
//! the medians (`cargo bench -p tapegrad-benches --bench gradcheck`).

use criterion::{Criterion, criterion_group, criterion_main};
use tapegrad::check::{GradCheckOptions, Mode, gradcheck};
use tapegrad::{Tensor, Var};

fn model<'t>(v: &[Var<'t>]) -> Var<'t> {
    let x = Tensor::from_fn(&[4, 100], |i| ((i % 13) as f64 - 6.0) / 20.0);
    v[0].tape().constant(x).matmul(v[0]).tanh().mean()
}

fn bench(c: &mut Criterion) {
    let w = [Tensor::from_fn(&[100, 100], |i| {
        ((i * 7919 % 201) as f64 - 100.0) / 500.0
    })];
    let mut group = c.benchmark_group("gradcheck_10k");
    group.sample_size(10);
    let directional = GradCheckOptions::default().with_mode(Mode::Directional {
        projections: 2,
        seed: 0,
    });
    group.bench_function("directional", |b| {
        b.iter(|| gradcheck(model, &w, directional.clone()).unwrap())
    });
    group.bench_function("elementwise", |b| {
        b.iter(|| gradcheck(model, &w, GradCheckOptions::default()).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
