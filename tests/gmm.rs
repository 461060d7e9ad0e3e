//! The GMM example (`examples/gmm.rs`): ADBench's objective against a plain-loop
//! implementation of ADBench's formula and against PyTorch's value, its gradient against
//! finite differences, and ADBench's file format read back exactly.

mod common;

#[path = "../examples/gmm.rs"]
mod gmm;

use gmm::Gmm;
use std::f64::consts::PI;

/// ADBench's C++ `gmm_objective`, loop by loop: the strictly lower part of each factor filled
/// column by column, `Q (x − μ)` by rows.
fn by_loops(g: &Gmm) -> f64 {
    let (d, k, n) = (g.d, g.k, g.x.shape()[0]);
    let row =
        |t: &tapegrad::Tensor, i: usize, len: usize| t.data()[i * len..(i + 1) * len].to_vec();
    let lse = |v: &[f64]| {
        let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
    };
    let icf_len = g.icf.shape()[1];
    let mut factors = Vec::new();
    let mut sum_qs = Vec::new();
    for c in 0..k {
        let icf = row(&g.icf, c, icf_len);
        let mut q = vec![vec![0.0; d]; d];
        let mut next = d;
        for j in 0..d {
            q[j][j] = icf[j].exp();
            for row in q.iter_mut().skip(j + 1) {
                row[j] = icf[next];
                next += 1;
            }
        }
        sum_qs.push(icf[..d].iter().sum::<f64>());
        factors.push(q);
    }
    let mut slse = 0.0;
    for i in 0..n {
        let x = row(&g.x, i, d);
        let inner: Vec<f64> = (0..k)
            .map(|c| {
                let mu = row(&g.means, c, d);
                let centred: Vec<f64> = x.iter().zip(&mu).map(|(a, b)| a - b).collect();
                let squared: f64 = (0..d)
                    .map(|r| {
                        (0..d)
                            .map(|s| factors[c][r][s] * centred[s])
                            .sum::<f64>()
                            .powi(2)
                    })
                    .sum();
                g.alphas.data()[c] + sum_qs[c] - 0.5 * squared
            })
            .collect();
        slse += lse(&inner);
    }
    let constant = -(n as f64) * d as f64 * 0.5 * (2.0 * PI).ln();
    let dof = d as f64 + g.m + 1.0;
    let c_term = dof * d as f64 * (g.gamma.ln() - 0.5 * 2f64.ln())
        - gmm::log_gamma_distribution(0.5 * dof, d);
    let prior: f64 = (0..k)
        .map(|c| {
            let icf = row(&g.icf, c, icf_len);
            let frobenius: f64 = icf[..d].iter().map(|q| (2.0 * q).exp()).sum::<f64>()
                + icf[d..].iter().map(|l| l * l).sum::<f64>();
            0.5 * g.gamma * g.gamma * frobenius - g.m * sum_qs[c]
        })
        .sum::<f64>()
        - k as f64 * c_term;
    constant + slse - n as f64 * lse(g.alphas.data()) + prior
}

#[test]
fn the_objective_is_adbenchs_formula() {
    for (d, k, n) in [(2, 5, 20), (3, 2, 7), (5, 3, 11), (1, 4, 3)] {
        let mut g = Gmm::generate(d, k, n, 5);
        g.gamma = 1.5;
        g.m = 2.0;
        let (ours, _) = g.objective_and_gradient();
        let reference = by_loops(&g);
        assert!(
            (ours - reference).abs() <= 1e-12 * reference.abs(),
            "d = {d}, k = {k}: {ours} against {reference}"
        );
    }
}

#[test]
fn the_objective_matches_pytorch() {
    // ADBench's PyTorch gmm_objective (float64) on Gmm::generate(3, 2, 4, 11), computed once
    // with PyTorch 2.15.
    let (ours, _) = Gmm::generate(3, 2, 4, 11).objective_and_gradient();
    assert!((ours - PYTORCH).abs() <= 1e-12 * PYTORCH.abs(), "{ours:?}");
}

const PYTORCH: f64 = 2.1318927959716163;

#[test]
fn the_gradient_matches_finite_differences() {
    let g = Gmm::generate(3, 2, 5, 9);
    common::check_gradients(
        "gmm",
        &[g.alphas.clone(), g.means.clone(), g.icf.clone()],
        |v| g.objective(v[0], v[1], v[2]),
    );
}

#[test]
fn adbenchs_file_format_reads_back_exactly() {
    let g = Gmm::generate(4, 3, 6, 2);
    let text = g.to_adbench();
    assert!(text.starts_with("4 3 6\n"));
    assert_eq!(Gmm::from_adbench(&text).unwrap(), g);
    assert!(
        Gmm::from_adbench("4 3 6\n1.0")
            .unwrap_err()
            .contains("the file ends in the alphas")
    );
    assert!(Gmm::from_adbench(&format!("{text} 7")).is_err());
}

#[test]
fn column_major_order_maps_adbenchs_layout_to_rows() {
    // Column-major (ADBench): (1,0) (2,0) (3,0) (2,1) (3,1) (3,2); row-major: (1,0) (2,0) (2,1)
    // (3,0) (3,1) (3,2).
    assert_eq!(gmm::column_major_order(4), [0, 1, 3, 2, 4, 5]);
    // Γ(5/2) = 3√π/4; Γ₂(a) = π^½ Γ(a) Γ(a − ½).
    let a: f64 = 2.5;
    let expected = 0.5 * PI.ln() + (0.75 * PI.sqrt()).ln() + 0.0;
    assert!((gmm::log_gamma_distribution(a, 2) - expected).abs() < 1e-14);
}
