//! ADBench's Gaussian mixture objective (Šrajer, Kukelova & Fitzgibbon, "A benchmark of
//! selected algorithmic differentiation tools on some problems in computer vision and machine
//! learning", 2018) and its gradient, written as ADBench's own PyTorch code writes it.
//!
//! Run it with `cargo run --example gmm` (add `--file PATH` to read an ADBench input file
//! instead of generating one). The model has `k` components in `d` dimensions: weights
//! `alphas` (`[k]`, through a log-sum-exp), means (`[k, d]`), and for each component the
//! inverse covariance's Cholesky factor `Q`, stored in `icf` (`[k, d + d(d−1)/2]`) as the log of
//! its diagonal followed by its strictly lower part column by column. With the Wishart prior
//! (γ, m), the objective is
//!
//! `−nd/2·ln 2π + Σᵢ lse_k(α_k + Σ log diag Q_k − ½‖Q_k (xᵢ − μ_k)‖²) − n·lse(α)`
//! `+ Σ_k (½γ²(‖diag Q_k‖² + ‖lower Q_k‖²) − m·Σ log diag Q_k) − k·C(d, γ, m)`.
//!
//! The triangular factors are built with `diag_embed` and `tril_from_vec` (no dense 0/1
//! matrix), the products `Q_k (xᵢ − μ_k)` for all k at once with a batched `matmul`.

use std::f64::consts::PI;
use tapegrad::{Tape, Tensor, Var};

/// An ADBench GMM instance: the parameters, the points and the Wishart prior.
#[derive(Clone, Debug, PartialEq)]
pub struct Gmm {
    pub d: usize,
    pub k: usize,
    pub alphas: Tensor,
    pub means: Tensor,
    pub icf: Tensor,
    pub x: Tensor,
    pub gamma: f64,
    pub m: f64,
}

impl Gmm {
    /// An instance of `n` points, drawn with `seed`: alphas and points standard normal, means
    /// and icf uniform in [0, 1), and ADBench's prior γ = 1, m = 0.
    pub fn generate(d: usize, k: usize, n: usize, seed: u64) -> Gmm {
        Gmm {
            d,
            k,
            alphas: Tensor::randn(&[k], seed),
            means: Tensor::rand(&[k, d], seed + 1),
            icf: Tensor::rand(&[k, d + d * (d - 1) / 2], seed + 2),
            x: Tensor::randn(&[n, d], seed + 3),
            gamma: 1.0,
            m: 0.0,
        }
    }

    /// The instance in ADBench's text format: `d k n`, then the alphas, the means and the icf
    /// one component a line, the points one a line, and `γ m`.
    pub fn to_adbench(&self) -> String {
        let n = self.x.shape()[0];
        let mut out = format!("{} {} {}\n", self.d, self.k, n);
        let lines = |t: &Tensor, width: usize, out: &mut String| {
            for row in t.data().chunks(width.max(1)) {
                let words: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
                out.push_str(&words.join(" "));
                out.push('\n');
            }
        };
        lines(&self.alphas, 1, &mut out);
        lines(&self.means, self.d, &mut out);
        lines(&self.icf, self.icf.shape()[1], &mut out);
        lines(&self.x, self.d, &mut out);
        out.push_str(&format!("{:?} {:?}\n", self.gamma, self.m));
        out
    }

    /// Reads ADBench's text format (as [`to_adbench`](Gmm::to_adbench) writes it).
    ///
    /// # Errors
    ///
    /// If a number does not parse, or the file holds too few or too many of them.
    pub fn from_adbench(text: &str) -> Result<Gmm, String> {
        let mut numbers = text.split_whitespace().map(|w| {
            w.parse::<f64>()
                .map_err(|e| format!("not a number: {w:?} ({e})"))
        });
        let mut take = |count: usize, what: &str| -> Result<Vec<f64>, String> {
            (0..count)
                .map(|_| {
                    numbers
                        .next()
                        .unwrap_or_else(|| Err(format!("the file ends in {what}")))
                })
                .collect()
        };
        let header = take(3, "the header")?;
        let [d, k, n] = [header[0], header[1], header[2]].map(|v| v as usize);
        let icf_len = d + d * d.saturating_sub(1) / 2;
        let tensor = |data: Vec<f64>, shape: &[usize]| {
            Tensor::from_vec(data, shape).map_err(|e| e.to_string())
        };
        let alphas = tensor(take(k, "the alphas")?, &[k])?;
        let means = tensor(take(k * d, "the means")?, &[k, d])?;
        let icf = tensor(take(k * icf_len, "the icf")?, &[k, icf_len])?;
        let x = tensor(take(n * d, "the points")?, &[n, d])?;
        let prior = take(2, "the Wishart prior")?;
        if numbers.next().is_some() {
            return Err("the file holds more numbers than d, k and n ask for".to_string());
        }
        Ok(Gmm {
            d,
            k,
            alphas,
            means,
            icf,
            x,
            gamma: prior[0],
            m: prior[1],
        })
    }

    /// The objective at `alphas`, `means`, `icf` (recorded on their tape); the points and the
    /// prior are this instance's.
    pub fn objective<'t>(&self, alphas: Var<'t>, means: Var<'t>, icf: Var<'t>) -> Var<'t> {
        let (d, k) = (self.d, self.k);
        let n = self.x.shape()[0];
        let tape = alphas.tape();
        let log_diag = icf.narrow(1, 0, d); // [k, d]
        let sum_qs = log_diag.sum_axis(1); // [k]
        let q_diag = log_diag.exp();
        // ADBench stores the strictly lower part column by column; tril_from_vec fills rows.
        let lower = icf
            .narrow(1, d, d * (d - 1) / 2)
            .index_select(1, &column_major_order(d))
            .tril_from_vec(d, -1); // [k, d, d]
        // The points centred on every mean, one column per point: [1, d, n] − [k, d, 1]. With
        // the components first and the points last, Q_k (xᵢ − μ_k) for every i and k is one
        // batched product, and nothing is permuted. (Q is small, [k, d, d]: building it costs
        // less than multiplying by its diagonal elementwise over all n points.)
        let q = q_diag.diag_embed() + lower; // [k, d, d]
        let points = tape.constant(self.x.transpose()).unsqueeze(0);
        let centred = points - means.unsqueeze(2); // [k, d, n]
        let q_centred = q.matmul(centred);
        let squared = q_centred.square().sum_axis(1); // [k, n]
        let inner = (alphas + sum_qs).unsqueeze(1) - squared * 0.5;
        let constant = -(n as f64) * d as f64 * 0.5 * (2.0 * PI).ln();
        let data_term = inner.logsumexp(0).sum() - alphas.logsumexp(0) * n as f64;
        constant + data_term + self.log_wishart_prior(q_diag, sum_qs, icf, k)
    }

    /// `Σ_k (½γ²(‖diag Q_k‖² + ‖lower Q_k‖²) − m·Σ log diag Q_k) − k·C`.
    fn log_wishart_prior<'t>(
        &self,
        q_diag: Var<'t>,
        sum_qs: Var<'t>,
        icf: Var<'t>,
        k: usize,
    ) -> Var<'t> {
        let (d, gamma, m) = (self.d, self.gamma, self.m);
        let lower = icf.narrow(1, d, d * (d - 1) / 2);
        let frobenius = q_diag.square().sum_axis(1) + lower.square().sum_axis(1);
        let per_component = frobenius * (0.5 * gamma * gamma) - sum_qs * m;
        let dof = d as f64 + m + 1.0;
        let c =
            dof * d as f64 * (gamma.ln() - 0.5 * 2f64.ln()) - log_gamma_distribution(0.5 * dof, d);
        per_component.sum() - k as f64 * c
    }

    /// The objective's value and its gradient with respect to alphas, means and icf.
    pub fn objective_and_gradient(&self) -> (f64, [Tensor; 3]) {
        let tape = Tape::new();
        let alphas = tape.param(self.alphas.clone());
        let means = tape.param(self.means.clone());
        let icf = tape.param(self.icf.clone());
        let objective = self.objective(alphas, means, icf);
        let grads = objective.backward();
        (
            objective.value().item(),
            [alphas, means, icf].map(|v| grads[v].clone()),
        )
    }
}

/// For the strictly lower part of a `d × d` matrix: the position in column-major order (ADBench's)
/// of each element in row-major order (`tril_from_vec`'s).
pub fn column_major_order(d: usize) -> Vec<usize> {
    let mut column_major = Vec::new(); // (row, column) of each stored element
    for j in 0..d {
        for i in j + 1..d {
            column_major.push((i, j));
        }
    }
    let mut order = Vec::new();
    for i in 0..d {
        for j in 0..i {
            order.push(
                column_major
                    .iter()
                    .position(|&c| c == (i, j))
                    .expect("below the diagonal"),
            );
        }
    }
    order
}

/// `ln Γ_p(a)`, the multivariate gamma function, for `a` a multiple of ½ (as the prior's
/// degrees of freedom make it): `¼p(p−1)·ln π + Σⱼ ln Γ(a + (1 − j)/2)`.
pub fn log_gamma_distribution(a: f64, p: usize) -> f64 {
    0.25 * (p * (p - 1)) as f64 * PI.ln()
        + (1..=p)
            .map(|j| ln_gamma_half(a + 0.5 * (1.0 - j as f64)))
            .sum::<f64>()
}

/// `ln Γ(x)` for `x` a positive multiple of ½, by `Γ(x) = (x − 1)·Γ(x − 1)` down to `Γ(1) = 1` or
/// `Γ(½) = √π` (std has no `ln_gamma` on stable Rust).
fn ln_gamma_half(x: f64) -> f64 {
    assert!(
        x > 0.0 && (2.0 * x).fract() == 0.0,
        "ln Γ({x}): not a positive multiple of ½"
    );
    let mut sum = 0.0;
    let mut y = x;
    while y > 1.0 {
        y -= 1.0;
        sum += y.ln();
    }
    if y == 0.5 { sum + 0.5 * PI.ln() } else { sum }
}

#[allow(dead_code)] // the integration test includes this file and does not call main
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let instances = match args.iter().position(|a| a == "--file") {
        Some(i) => {
            let path = args.get(i + 1).ok_or("--file needs a path")?;
            vec![Gmm::from_adbench(&std::fs::read_to_string(path)?)?]
        }
        None => [(2, 5), (10, 10), (20, 25), (64, 10)]
            .iter()
            .map(|&(d, k)| {
                // Through the file format, as ADBench's tools read their input.
                let text = Gmm::generate(d, k, 1000, 42).to_adbench();
                Gmm::from_adbench(&text)
            })
            .collect::<Result<_, _>>()?,
    };
    for gmm in &instances {
        let (value, [da, dm, dq]) = gmm.objective_and_gradient();
        let norm = |t: &Tensor| t.data().iter().map(|v| v * v).sum::<f64>().sqrt();
        println!(
            "d = {:2}, k = {:2}, n = {}: objective {value:.10e}, |∂/∂alphas| {:.4e}, \
             |∂/∂means| {:.4e}, |∂/∂icf| {:.4e}",
            gmm.d,
            gmm.k,
            gmm.x.shape()[0],
            norm(&da),
            norm(&dm),
            norm(&dq)
        );
    }
    Ok(())
}
