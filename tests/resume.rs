//! Checkpoints resume bit for bit across processes: for SGD with momentum, Adam and AdamW,
//! training 10 steps gives the same bits as training 5, saving a checkpoint, loading it in a
//! new process (this test binary, run again as a child), and training 5 more.

use std::path::{Path, PathBuf};
use std::process::Command;
use tapegrad::nn::{self, Activation, Mlp};
use tapegrad::optim::{Adam, AdamW, Optimizer, OptimizerState, Sgd};
use tapegrad::{ParamStore, Tape, Tensor, loss};

/// Set in the child's environment: `{optimizer}\n{checkpoint to load}\n{checkpoint to write}`.
const CHILD: &str = "TAPEGRAD_RESUME_CHILD";

/// The model, built from `seed`: the resumed process builds it from another seed, so every
/// number it trains with must come from the checkpoint.
fn model(seed: u64) -> (ParamStore, Mlp) {
    let mut store = ParamStore::new();
    let mlp = Mlp::new(
        &mut store,
        "net",
        &[2, 8, 8, 1],
        Activation::Tanh,
        &mut nn::seeded_rng(seed),
    );
    (store, mlp)
}

/// The optimizer `kind`, with hyperparameters the resumed process deliberately gets wrong
/// (`fresh`): they must come from the checkpoint too.
fn optimizer(kind: &str, fresh: bool) -> Box<dyn Trainer> {
    let lr = if fresh { 0.5 } else { 0.05 };
    match kind {
        "sgd" => Box::new(Sgd::new(lr).with_momentum(0.9).with_weight_decay(1e-3)),
        "adam" => Box::new(Adam::new(lr).with_betas(0.85, 0.99)),
        "adamw" => Box::new(AdamW::new(lr).with_weight_decay(0.05)),
        other => panic!("no optimizer {other}"),
    }
}

/// The optimizers behind one object-safe face, for the loop over kinds.
trait Trainer {
    fn train(&mut self, store: &mut ParamStore, mlp: &Mlp, steps: usize);
    fn save(&self, store: &ParamStore, path: &Path);
    fn load(&mut self, store: &mut ParamStore, path: &Path);
    fn state_of(&self, store: &ParamStore) -> OptimizerState;
}

impl<O: Optimizer> Trainer for O {
    fn train(&mut self, store: &mut ParamStore, mlp: &Mlp, steps: usize) {
        let x = Tensor::from_fn(&[16, 2], |i| ((i * 7) % 11) as f64 / 5.0 - 1.0);
        let y = Tensor::from_fn(&[16, 1], |i| (i as f64 * 0.7).sin());
        let mut tape = Tape::new();
        for _ in 0..steps {
            self.minimize(store, &mut tape, |p| {
                let out = mlp.forward(p, p.tape().constant(x.clone()));
                loss::mse(out, p.tape().constant(y.clone()))
            });
        }
    }

    fn save(&self, store: &ParamStore, path: &Path) {
        store.save_checkpoint(path, self).unwrap();
    }

    fn load(&mut self, store: &mut ParamStore, path: &Path) {
        store.load_checkpoint(path, self).unwrap();
    }

    fn state_of(&self, store: &ParamStore) -> OptimizerState {
        self.state(store)
    }
}

/// Every number of a store and an optimizer state, as bits.
fn bits(store: &ParamStore, state: &OptimizerState) -> Vec<u64> {
    let mut out: Vec<u64> = store
        .iter()
        .flat_map(|(_, v)| v.data().iter().map(|x| x.to_bits()))
        .collect();
    out.extend(state.hyperparameters.iter().map(|(_, v)| v.to_bits()));
    out.push(state.steps);
    for param in state.params.iter().flatten() {
        out.extend(param.step);
        for (_, t) in &param.tensors {
            out.extend(t.data().iter().map(|x| x.to_bits()));
        }
    }
    out
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "tapegrad-resume-{}-{name}.safetensors",
        std::process::id()
    ))
}

/// The second process: loads the checkpoint into a model and optimizer built differently,
/// trains 5 steps and writes a checkpoint. Does nothing unless the parent set `CHILD`.
#[test]
fn resume_child() {
    let Ok(job) = std::env::var(CHILD) else {
        return;
    };
    let [kind, from, to] = job.split('\n').collect::<Vec<_>>()[..] else {
        panic!("{CHILD} = {job:?}")
    };
    let (mut store, mlp) = model(99);
    let mut optimizer = optimizer(kind, true);
    optimizer.load(&mut store, Path::new(from));
    optimizer.train(&mut store, &mlp, 5);
    optimizer.save(&store, Path::new(to));
}

#[test]
fn ten_steps_equal_five_then_a_new_process_and_five_more() {
    for kind in ["sgd", "adam", "adamw"] {
        let (mut store, mlp) = model(1);
        let mut straight = optimizer(kind, false);
        straight.train(&mut store, &mlp, 10);
        let want = bits(&store, &straight.state_of(&store));

        let (mut first, mlp) = model(1);
        let mut optimizer_first = optimizer(kind, false);
        optimizer_first.train(&mut first, &mlp, 5);
        let (halfway, done) = (temp(&format!("{kind}-5")), temp(&format!("{kind}-10")));
        optimizer_first.save(&first, &halfway);
        assert_ne!(
            bits(&first, &optimizer_first.state_of(&first)),
            want,
            "{kind}: 5 steps differ from 10"
        );

        let status = Command::new(std::env::current_exe().unwrap())
            .args(["resume_child", "--exact", "--test-threads=1"])
            .stdout(std::process::Stdio::null())
            .env(
                CHILD,
                format!("{kind}\n{}\n{}", halfway.display(), done.display()),
            )
            .status()
            .unwrap();
        assert!(status.success(), "{kind}: the resumed process failed");

        let (mut resumed, _) = model(2);
        let mut optimizer_resumed = optimizer(kind, true);
        optimizer_resumed.load(&mut resumed, &done);
        std::fs::remove_file(&halfway).ok();
        std::fs::remove_file(&done).ok();
        assert_eq!(
            bits(&resumed, &optimizer_resumed.state_of(&resumed)),
            want,
            "{kind}: resumed training differs from uninterrupted training"
        );
    }
}
