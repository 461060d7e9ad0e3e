"""Run tapegrad's benchmark workloads on PyTorch, JAX and micrograd (those installed) for comparison.

Not part of CI. Usage, from the repository root:

    pip install torch jax micrograd    # CPU-only jaxlib comes from PyPI; torch runs on the CPU
    python3 benches/compare/compare.py [torch|jax|micrograd ...] [--only W1a,W1b,W2,W3,W4,W5]

It prints the median time per step of each workload. Compare with `cargo bench -p tapegrad-benches` run on the same
machine, in the same session (this machine's cores are shared, so compare within one run).
The workloads, data shapes and hyper-parameters are those of benches/w*.rs; the random data is
drawn differently (numpy, not ChaCha8), which does not change the amount of work. `--only` times
a subset of the workloads (the data is drawn as for all of them), so that one can be run
right before or after tapegrad's bench for it.
"""

import math
import statistics
import time

import numpy as np


# The workloads to time (`--only`); None for all of them.
ONLY = None


def wanted(workload):
    return ONLY is None or workload in ONLY


def median_ms(fn, repeats=30, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def paired_ratio(first, second, repeats=15, warmup=2):
    """The median, over `repeats` back-to-back pairs, of second's time over first's.

    Timing each call right after the other cancels the machine's slow drift, which a ratio of
    two medians taken a minute apart does not (the benches' `PAIRED` mode, benches/common/mod.rs,
    measures tapegrad the same way)."""
    for _ in range(warmup):
        first()
        second()
    ratios = []
    for _ in range(repeats):
        start = time.perf_counter()
        first()
        middle = time.perf_counter()
        second()
        ratios.append((time.perf_counter() - middle) / (middle - start))
    return statistics.median(ratios)


def two_moons(rng, n_per_moon=50, noise=0.1):
    angle = np.pi * np.arange(n_per_moon) / (n_per_moon - 1)
    outer = np.stack([np.cos(angle), np.sin(angle)], 1)
    inner = np.stack([1 - np.cos(angle), 0.5 - np.sin(angle)], 1)
    x = np.concatenate([outer, inner]) + noise * rng.standard_normal((2 * n_per_moon, 2))
    y = np.concatenate([-np.ones(n_per_moon), np.ones(n_per_moon)])
    return x, y


def w5_data():
    """W5's batch, weights (He-uniform, zero biases) and direction, from a generator of their
    own, so that PyTorch and JAX differentiate the same loss and must agree on vᵀHv."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((128, 784))
    onehot = np.eye(10)[rng.integers(0, 10, 128)]
    bound1, bound2 = math.sqrt(6 / 784), math.sqrt(6 / 256)
    params = [rng.uniform(-bound1, bound1, (784, 256)), np.zeros(256),
              rng.uniform(-bound2, bound2, (256, 10)), np.zeros(10)]
    direction = [rng.standard_normal(p.shape) for p in params]
    return x, onehot, params, direction


def jax_workloads(rng):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    results = {}

    # W1 (b): the micrograd step, batched.
    x, y = two_moons(rng)
    sizes = [2, 16, 16, 1]
    params = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        params += [rng.uniform(-1, 1, (n_in, n_out)), np.zeros(n_out)]

    def w1_loss(params, x, y):
        h = x
        for i in range(0, len(params) - 2, 2):
            h = jax.nn.relu(h @ params[i] + params[i + 1])
        score = (h @ params[-2] + params[-1])[:, 0]
        data = jnp.mean(jax.nn.relu(1 - y * score))
        return data + 1e-4 * sum(jnp.sum(p * p) for p in params)

    @jax.jit
    def w1_step(params, x, y):
        grads = jax.grad(w1_loss)(params, x, y)
        return [p - 0.05 * g for p, g in zip(params, grads)]

    p1 = [jnp.asarray(p) for p in params]
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    if wanted("W1b"):
        results["W1 (b) batched step"] = median_ms(
            lambda: jax.block_until_ready(w1_step(p1, xj, yj)))

    # W2: 784-256-10 MLP, batch 128, softmax cross-entropy, SGD.
    x2 = jnp.asarray(rng.standard_normal((128, 784)))
    labels = rng.integers(0, 10, 128)
    onehot = jnp.asarray(np.eye(10)[labels])
    bound1, bound2 = math.sqrt(6 / 784), math.sqrt(6 / 256)
    p2 = [
        jnp.asarray(rng.uniform(-bound1, bound1, (784, 256))),
        jnp.zeros(256),
        jnp.asarray(rng.uniform(-bound2, bound2, (256, 10))),
        jnp.zeros(10),
    ]

    def w2_loss(p, x, onehot):
        h = jax.nn.relu(x @ p[0] + p[1])
        logits = h @ p[2] + p[3]
        return -jnp.sum(onehot * jax.nn.log_softmax(logits, axis=1)) / x.shape[0]

    @jax.jit
    def w2_step(p, x, onehot):
        grads = jax.grad(w2_loss)(p, x, onehot)
        return [w - 0.01 * g for w, g in zip(p, grads)]

    if wanted("W2"):
        results["W2 MLP step"] = median_ms(lambda: jax.block_until_ready(w2_step(p2, x2, onehot)))

    # W5: the Hessian-vector product of W2's loss with a tanh hidden layer (benches/w5_hvp.rs).
    x5, onehot5, p5, v5 = w5_data()
    x5, onehot5 = jnp.asarray(x5), jnp.asarray(onehot5)
    p5, v5 = [jnp.asarray(p) for p in p5], [jnp.asarray(v) for v in v5]

    def w5_loss(p, x, onehot):
        h = jnp.tanh(x @ p[0] + p[1])
        logits = h @ p[2] + p[3]
        return -jnp.sum(onehot * jax.nn.log_softmax(logits, axis=1)) / x.shape[0]

    w5_gradient = jax.jit(jax.grad(w5_loss))

    @jax.jit
    def w5_hvp(p, v, x, onehot):
        return jax.jvp(lambda q: jax.grad(w5_loss)(q, x, onehot), (p,), (v,))[1]

    if wanted("W5"):
        hv = w5_hvp(p5, v5, x5, onehot5)
        results["W5 vᵀHv (this script's data)"] = float(sum(jnp.sum(h * v) for h, v in zip(hv, v5)))
        gradient = lambda: jax.block_until_ready(w5_gradient(p5, x5, onehot5))
        hvp = lambda: jax.block_until_ready(w5_hvp(p5, v5, x5, onehot5))
        results["W5 gradient (jit)"] = median_ms(gradient, repeats=100, warmup=10)
        results["W5 HVP, forward over reverse (jit)"] = median_ms(hvp, repeats=100, warmup=10)
        results["W5 paired ratio HVP/gradient (jit)"] = paired_ratio(gradient, hvp, repeats=50)

    # W3: sum(A @ B), forward and forward + backward.
    for n in (64, 256, 1024):
        a = jnp.asarray(rng.standard_normal((n, n)))
        b = jnp.asarray(rng.standard_normal((n, n)))
        if not wanted("W3"):
            continue
        forward = jax.jit(lambda a, b: jnp.sum(a @ b))
        both = jax.jit(jax.value_and_grad(lambda a, b: jnp.sum(a @ b), argnums=(0, 1)))
        reps = 10 if n == 1024 else 30
        fwd = median_ms(lambda: jax.block_until_ready(forward(a, b)), repeats=reps)
        fb = median_ms(lambda: jax.block_until_ready(both(a, b)), repeats=reps)
        results[f"W3 n={n} forward"] = fwd
        results[f"W3 n={n} forward+backward"] = fb
        results[f"W3 n={n} ratio (fwd+bwd)/fwd"] = fb / fwd
        results[f"W3 n={n} paired ratio (fwd+bwd)/fwd"] = paired_ratio(
            lambda: jax.block_until_ready(forward(a, b)),
            lambda: jax.block_until_ready(both(a, b)),
        )
    return results


def torch_workloads(rng):
    import torch

    torch.set_num_threads(2)
    f64 = torch.float64
    results = {}

    # W1 (a): micrograd's step with 0-d tensors, one per weight and activation.
    x, y = two_moons(rng)
    sizes = [2, 16, 16, 1]
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        w = [[torch.tensor(rng.uniform(-1, 1), dtype=f64, requires_grad=True) for _ in range(n_in)]
             for _ in range(n_out)]
        b = [torch.tensor(0.0, dtype=f64, requires_grad=True) for _ in range(n_out)]
        layers.append((w, b))
    scalar_params = [p for w, b in layers for row in w for p in row] + [p for _, b in layers for p in b]

    def scalar_step():
        losses = []
        for (a, b_), yi in zip(x, y):
            h = [torch.tensor(a, dtype=f64), torch.tensor(b_, dtype=f64)]
            for i, (w, b) in enumerate(layers):
                out = [sum((wi * hi for wi, hi in zip(row, h)), bias) for row, bias in zip(w, b)]
                h = out if i == len(layers) - 1 else [torch.relu(o) for o in out]
            losses.append(torch.relu(1 + -yi * h[0]))
        loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in scalar_params)
        for p in scalar_params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in scalar_params:
                p -= 0.05 * p.grad

    if wanted("W1a"):
        results["W1 (a) scalar step"] = median_ms(scalar_step, repeats=3, warmup=1)

    # W1 (b): the same step, batched.
    xb, yb = torch.tensor(x), torch.tensor(y)
    p1 = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        p1 += [torch.tensor(rng.uniform(-1, 1, (n_in, n_out)), requires_grad=True),
               torch.zeros(n_out, dtype=f64, requires_grad=True)]

    def sgd(params, lr, loss):
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p.add_(p.grad, alpha=-lr)

    def w1_step():
        h = xb
        for i in range(0, len(p1) - 2, 2):
            h = torch.relu(h @ p1[i] + p1[i + 1])
        score = (h @ p1[-2] + p1[-1])[:, 0]
        loss = torch.mean(torch.relu(1 - yb * score)) + 1e-4 * sum(torch.sum(p * p) for p in p1)
        sgd(p1, 0.05, loss)

    if wanted("W1b"):
        results["W1 (b) batched step"] = median_ms(w1_step, repeats=200, warmup=20)

    # W2: 784-256-10 MLP, batch 128, softmax cross-entropy, SGD.
    x2 = torch.tensor(rng.standard_normal((128, 784)))
    onehot = torch.tensor(np.eye(10)[rng.integers(0, 10, 128)])
    bound1, bound2 = math.sqrt(6 / 784), math.sqrt(6 / 256)
    p2 = [torch.tensor(rng.uniform(-bound1, bound1, (784, 256)), requires_grad=True),
          torch.zeros(256, dtype=f64, requires_grad=True),
          torch.tensor(rng.uniform(-bound2, bound2, (256, 10)), requires_grad=True),
          torch.zeros(10, dtype=f64, requires_grad=True)]

    def w2_step():
        h = torch.relu(x2 @ p2[0] + p2[1])
        logits = h @ p2[2] + p2[3]
        loss = -torch.sum(onehot * torch.log_softmax(logits, dim=1)) / 128
        sgd(p2, 0.01, loss)

    if wanted("W2"):
        results["W2 MLP step"] = median_ms(w2_step, repeats=300, warmup=30)
    # The step's five products alone, as the W2 bench times tapegrad's: X·W1 and Xᵀ·G1, H·W2
    # and its two gradients G2·W2ᵀ and Hᵀ·G2 (transposes as views, as autograd passes them).
    # Drawn from a generator of their own, so that the workloads after this one see the same
    # data as before these operands were added.
    operands = np.random.default_rng(1337)
    g1 = torch.tensor(operands.standard_normal((128, 256)))
    h = torch.tensor(operands.uniform(-1, 1, (128, 256)))
    g2 = torch.tensor(operands.standard_normal((128, 10)))
    w1, w2 = p2[0].detach(), p2[2].detach()
    if wanted("W2"):
        results["W2 its five products alone"] = median_ms(
            lambda: (x2 @ w1, x2.T @ g1, h @ w2, g2 @ w2.T, h.T @ g2), repeats=300, warmup=30)

    # W3: sum(A @ B), forward and forward + backward.
    for n in (64, 256, 1024):
        a = torch.tensor(rng.standard_normal((n, n)), requires_grad=True)
        b = torch.tensor(rng.standard_normal((n, n)), requires_grad=True)
        if not wanted("W3"):
            continue
        reps = 10 if n == 1024 else 30

        def forward():
            with torch.no_grad():
                return torch.sum(a @ b)

        def both():
            a.grad = b.grad = None
            torch.sum(a @ b).backward()

        fwd = median_ms(forward, repeats=reps)
        fb = median_ms(both, repeats=reps)
        results[f"W3 n={n} forward"] = fwd
        results[f"W3 n={n} forward+backward"] = fb
        results[f"W3 n={n} ratio (fwd+bwd)/fwd"] = fb / fwd
        results[f"W3 n={n} paired ratio (fwd+bwd)/fwd"] = paired_ratio(forward, both)

    # W5: the Hessian-vector product of W2's loss with a tanh hidden layer, along a fixed random
    # direction, next to the gradient of the same loss (benches/w5_hvp.rs).
    x5, onehot5, p5, v5 = w5_data()
    x5, onehot5 = torch.tensor(x5), torch.tensor(onehot5)
    p5 = [torch.tensor(p, requires_grad=True) for p in p5]
    v5 = [torch.tensor(v) for v in v5]

    def w5_loss(p):
        h = torch.tanh(x5 @ p[0] + p[1])
        logits = h @ p[2] + p[3]
        return -torch.sum(onehot5 * torch.log_softmax(logits, dim=1)) / 128

    def w5_gradient():
        return torch.autograd.grad(w5_loss(p5), p5)

    def w5_hvp():
        grads = torch.autograd.grad(w5_loss(p5), p5, create_graph=True)
        dot = sum(torch.sum(g * v) for g, v in zip(grads, v5))
        return torch.autograd.grad(dot, p5)

    def w5_forward_over_reverse():
        from torch.func import grad, jvp
        return jvp(grad(w5_loss), (tuple(p5),), (tuple(v5),))[1]

    if wanted("W5"):
        hv = w5_hvp()
        results["W5 vᵀHv (this script's data)"] = float(sum(torch.sum(h * v) for h, v in zip(hv, v5)))
        results["W5 gradient"] = median_ms(w5_gradient, repeats=100, warmup=10)
        results["W5 HVP, reverse over reverse"] = median_ms(w5_hvp, repeats=100, warmup=10)
        results["W5 paired ratio HVP/gradient"] = paired_ratio(w5_gradient, w5_hvp, repeats=50)
        results["W5 paired ratio forward-over-reverse/gradient"] = paired_ratio(
            w5_gradient, w5_forward_over_reverse, repeats=50)

    # W4: the deep chain with 0-d tensors, ns per node of autograd's graph (2 per link).
    links = 10_000

    def chain():
        x0 = torch.tensor(0.5, dtype=f64, requires_grad=True)
        x_ = x0
        for _ in range(links):
            x_ = x_ * 1.0000001 + 0.0000001
        x_.backward()

    if wanted("W4"):
        results["W4 chain ns/node (10^4 links)"] = median_ms(chain, repeats=10) * 1e6 / (2 * links + 1)
    return results


def micrograd_workloads(rng):
    from micrograd.engine import Value
    from micrograd.nn import MLP

    x, y = two_moons(rng)
    model = MLP(2, [16, 16, 1])

    def step():
        scores = [model([Value(a), Value(b)]) for a, b in x]
        losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
        loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.05 * p.grad

    if not wanted("W1a"):
        return {}
    return {"W1 (a) scalar step (micrograd)": median_ms(step, repeats=3, warmup=1)}


def main():
    import argparse

    global ONLY
    peers = (("torch", torch_workloads), ("jax", jax_workloads), ("micrograd", micrograd_workloads))
    parser = argparse.ArgumentParser(description="tapegrad's workloads on its peers")
    parser.add_argument("peers", nargs="*", help="torch, jax, micrograd (default: all)")
    parser.add_argument("--only", help="comma-separated workloads: W1a, W1b, W2, W3, W4, W5")
    args = parser.parse_args()
    unknown = set(args.peers) - {name for name, _ in peers}
    if unknown:
        parser.error(f"unknown peers: {', '.join(sorted(unknown))}")
    if args.only:
        ONLY = set(args.only.split(","))
        unknown = ONLY - {"W1a", "W1b", "W2", "W3", "W4", "W5"}
        if unknown:
            parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    rng = np.random.default_rng(1337)
    results = {}
    chosen = set(args.peers) or {name for name, _ in peers}
    for name, workloads in peers:
        if name not in chosen:
            continue
        try:
            results.update({f"{name}: {k}": v for k, v in workloads(rng).items()})
        except ImportError as missing:
            print(f"skipping {name}: {missing}")
    for key, value in results.items():
        unit = "" if "ratio" in key or "ns/node" in key or "vᵀHv" in key else " ms"
        print(f"{key:45} {value:10.3f}{unit}")


if __name__ == "__main__":
    main()
