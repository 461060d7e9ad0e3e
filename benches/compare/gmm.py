"""ADBench's Gaussian mixture objective in PyTorch, for the GMM benchmark of docs/performance.md.

The same program as examples/gmm.rs, line for line (batched over the components, the
triangles filled from icf, one batched matmul), written from ADBench's definition of the
objective; float64 on the CPU. Not part of CI. From the repository root:

    pip install torch
    python3 benches/compare/gmm.py --reference FILE    # objective and gradient, one a line
    python3 benches/compare/gmm.py --time target/gmm   # the files `cargo bench --bench gmm` wrote
    python3 benches/compare/gmm.py --time target/gmm d20_K25   # the files whose name has d20_K25

`--reference` prints the objective and then the gradient with respect to alphas, means and icf
(row-major), one number per line, for comparing with `cargo run --example gmm -- --file FILE`.
`--time` times the objective and the gradient back to back
(the median of 20 pairs, and the median of their ratios) on every gmm_d*_K*.txt in the folder.
"""

import math
import pathlib
import statistics
import sys
import time

import torch


def read(path):
    lines = pathlib.Path(path).read_text().splitlines()
    d, k, n = (int(v) for v in lines[0].split())
    rows = [[float(v) for v in line.split()] for line in lines[1:]]
    block = lambda start, count: torch.tensor(rows[start:start + count], dtype=torch.float64)
    alphas = block(0, k).reshape(k)
    means = block(k, k)
    icf = block(2 * k, k)
    x = block(3 * k, n)
    gamma, m = rows[3 * k + n]
    return alphas, means, icf, x, gamma, int(m)


def column_major_positions(d):
    """The positions in ADBench's column-by-column strictly lower triangle of its elements in
    row-by-row order (torch.tril_indices's)."""
    start = lambda c: sum(d - i - 1 for i in range(c))
    return [start(c) + r - c - 1 for r in range(1, d) for c in range(r)]


def objective(alphas, means, icf, x, gamma, m):
    n, d = x.shape
    k = alphas.shape[0]
    log_diagonal = icf[:, :d]
    diagonal = torch.exp(log_diagonal)
    sum_qs = log_diagonal.sum(1)
    below = icf[:, d:]
    q = torch.diag_embed(diagonal)                               # [K, d, d]
    if d > 1:
        rows, cols = torch.tril_indices(d, d, -1)
        lower = torch.zeros(k, d, d, dtype=torch.float64)
        lower[:, rows, cols] = below[:, column_major_positions(d)]
        q = q + lower
    centred = x.t().unsqueeze(0) - means.unsqueeze(2)          # [K, d, n]
    q_centred = q @ centred
    mahalanobis = (q_centred ** 2).sum(1)                       # [K, n]
    inner = (alphas + sum_qs).unsqueeze(1) - 0.5 * mahalanobis
    log_likelihood = torch.logsumexp(inner, 0).sum()
    frobenius = (diagonal ** 2).sum() + (below ** 2).sum()
    prior = 0.5 * gamma * gamma * frobenius - m * sum_qs.sum()
    n_p = d + m + 1
    prior_constant = n_p * d * math.log(gamma / math.sqrt(2)) - torch.special.multigammaln(
        torch.tensor(0.5 * n_p, dtype=torch.float64), d)
    constant = -n * d * 0.5 * math.log(2 * math.pi)
    return log_likelihood - n * torch.logsumexp(alphas, 0) + prior + (constant - k * prior_constant)


def gradient(alphas, means, icf, x, gamma, m):
    params = [p.clone().requires_grad_() for p in (alphas, means, icf)]
    loss = objective(*params, x, gamma, m)
    return loss, torch.autograd.grad(loss, params)


def reference(path):
    loss, grads = gradient(*read(path))
    for value in [loss.item()] + [v for g in grads for v in g.reshape(-1).tolist()]:
        print(repr(value))


def timed(fn):
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def time_folder(folder, name_filter=""):
    torch.set_num_threads(2)
    print("d\tK\tobjective ms\tgradient ms\tratio")
    for path in sorted(pathlib.Path(folder).glob("gmm_d*_K*.txt"),
                       key=lambda p: [int(s) for s in p.stem[5:].split("_K")]):
        if name_filter not in path.stem:
            continue
        data = read(path)
        run_objective = lambda: objective(*data)  # its inputs need no gradient: no graph
        run_gradient = lambda: gradient(*data)
        warm = time.perf_counter()
        while time.perf_counter() - warm < 1.0:
            run_objective()
            run_gradient()
        pairs = [(timed(run_objective), timed(run_gradient)) for _ in range(20)]
        objective_ms = statistics.median(a for a, _ in pairs)
        gradient_ms = statistics.median(b for _, b in pairs)
        ratio = statistics.median(b / a for a, b in pairs)
        d, k = path.stem[5:].split("_K")
        print(f"{d}\t{k}\t{objective_ms:.3f}\t{gradient_ms:.3f}\t{ratio:.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--reference"]:
        reference(sys.argv[2])
    elif sys.argv[1:2] == ["--time"]:
        time_folder(sys.argv[2], *sys.argv[3:4])
    else:
        sys.exit(__doc__)
