//! ADBench's Gaussian mixture objective (examples/gmm.rs) at ADBench's sizes,
//! d = 2, 10, 20, 64 and K = 5, 10, 25, 50, 100, on n = 1000 points: the objective alone and
//! the gradient (objective and backward pass), timed back to back, 10 pairs a size after a
//! second's warm-up; it prints the medians and the median ratio gradient / objective, and
//! writes each problem in ADBench's file format to target/gmm/ so that
//! `benches/compare/gmm.py --time target/gmm` times PyTorch on the same data.
//!
//! `cargo bench -p tapegrad-benches --bench gmm [filter]`, where the filter keeps the sizes whose
//! name (`gmm_d64_K50`) contains it. Under `cargo test` it checks one small size once.

mod common;

#[path = "../examples/gmm.rs"]
#[allow(dead_code)] // the example's main and file reader are not needed here
mod gmm;

use common::paired;
use gmm::Gmm;
use tapegrad::{Tape, Tensor};

const DIMENSIONS: [usize; 4] = [2, 10, 20, 64];
const COMPONENTS: [usize; 5] = [5, 10, 25, 50, 100];
const POINTS: usize = 1000;

fn value(problem: &Gmm) -> f64 {
    let tape = Tape::new();
    let [a, m, q] = [&problem.alphas, &problem.means, &problem.icf].map(|t| tape.param(t.clone()));
    problem.objective(a, m, q).value().item()
}

fn gradient(problem: &Gmm) -> [Tensor; 3] {
    problem.objective_and_gradient().1
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        let problem = Gmm::generate(3, 4, 20, 1);
        assert!(value(&problem).is_finite());
        assert_eq!(gradient(&problem)[2].shape(), &[4, 6]);
        return;
    }
    let filter = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .unwrap_or_default();
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/gmm");
    std::fs::create_dir_all(&folder).expect("target/gmm");
    println!("d\tK\tobjective ms\tgradient ms\tratio");
    for d in DIMENSIONS {
        for k in COMPONENTS {
            let name = format!("gmm_d{d}_K{k}");
            if !name.contains(&filter) {
                continue;
            }
            let problem = Gmm::generate(d, k, POINTS, (100 * d + k) as u64);
            let file = folder.join(format!("{name}.txt"));
            std::fs::write(&file, problem.to_adbench()).expect("writing the problem");
            let (objective_ms, gradient_ms, ratio) =
                paired(10, || value(&problem), || gradient(&problem));
            println!("{d}\t{k}\t{objective_ms:.3}\t{gradient_ms:.3}\t{ratio:.2}");
        }
    }
}
