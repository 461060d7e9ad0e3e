#!/usr/bin/env python3
"""Reference training runs for tests/reference_training.rs, from an independent engine.

JAX computes each loss and its gradient in float64 and optax applies the optimizer; the
tapegrad test replays the same steps with tapegrad's layers, losses and optimizers and must
agree to 1e-10 relative. Regenerate with

    python3 tests/reference_training/gen.py > tests/reference_training/values.rs

(jax 0.10.2 and optax 0.2.8 were used; both are pip-installable, CPU only).

optax's rules equal PyTorch's, which tapegrad follows: sgd's trace `t = g + momentum*t`
(t starts at 0) is torch's momentum buffer with dampening 0, and `add_decayed_weights`
before the optimizer is torch's coupled `weight_decay`; adam's `m_hat / (sqrt(v_hat) + eps)`
is torch's `m / bc1 / (sqrt(v) / sqrt(bc2) + eps)` rearranged.
"""
import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np
import optax

rng = np.random.default_rng(2026)


def mlp(params, x, act):
    h = x
    n = len(params) // 2
    for i in range(n):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < n - 1:
            h = act(h)
    return h


LOSSES = {
    "mse": lambda out, t: jnp.mean((out - t) ** 2),
    "cross_entropy": lambda out, t: -jnp.mean(jax.nn.log_softmax(out, axis=1)[jnp.arange(out.shape[0]), t]),
    "bce": lambda out, t: jnp.mean(optax.sigmoid_binary_cross_entropy(out, t)),
    "hinge": lambda out, t: jnp.mean(jax.nn.relu(1.0 - t * out)),
}
ACTS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid}

# name, sizes, activation, loss, l2 (added to the loss as l2 * sum of squares), optimizer, rust optimizer, steps
CASES = [
    ("sgd_mse_tanh", [3, 5, 2], "tanh", "mse", 0.0,
     optax.sgd(0.1), "Sgd::new(0.1)", 6),
    ("sgd_nesterov_decay_cross_entropy_relu", [4, 6, 3], "relu", "cross_entropy", 0.0,
     optax.chain(optax.add_decayed_weights(1e-3), optax.sgd(0.05, momentum=0.9, nesterov=True)),
     "Sgd::new(0.05).with_momentum(0.9).with_nesterov().with_weight_decay(1e-3)", 6),
    ("sgd_momentum_hinge_l2_relu", [2, 16, 16, 1], "relu", "hinge", 1e-4,
     optax.sgd(0.05, momentum=0.5), "Sgd::new(0.05).with_momentum(0.5)", 6),
    ("adam_bce_sigmoid", [2, 4, 1], "sigmoid", "bce", 0.0,
     optax.adam(0.01), "Adam::new(0.01)", 6),
    ("adam_decay_cross_entropy_tanh", [5, 8, 4], "tanh", "cross_entropy", 0.0,
     optax.chain(optax.add_decayed_weights(1e-2), optax.adam(0.02, b1=0.8, b2=0.99, eps=1e-6)),
     "Adam::new(0.02).with_betas(0.8, 0.99).with_eps(1e-6).with_weight_decay(1e-2)", 6),
    # A long run, to the point of confident answers: rounding must not grow over the steps.
    ("adam_long_bce_relu", [3, 8, 8, 1], "relu", "bce", 0.0,
     optax.adam(0.05), "Adam::new(0.05)", 300),
]


def lit(x):
    return repr(float(x)).replace("inf", "f64::INFINITY")


def arr(a):
    a = np.asarray(a, dtype=np.float64)
    return "&[" + ", ".join(lit(x) for x in a.ravel()) + "]"


def shape(a):
    return "&[" + ", ".join(str(d) for d in np.shape(a)) + "]"


def run(name, sizes, act, loss_name, l2, opt, rust_opt, steps):
    batch = 8
    x = rng.normal(size=(batch, sizes[0]))
    if loss_name == "mse":
        t = rng.normal(size=(batch, sizes[-1]))
    elif loss_name == "cross_entropy":
        t = rng.integers(0, sizes[-1], size=batch)
    elif loss_name == "bce":
        t = rng.integers(0, 2, size=(batch, 1)).astype(np.float64)
    else:
        t = np.where(rng.integers(0, 2, size=(batch, 1)) == 1, 1.0, -1.0)
    params = []
    for a, b in zip(sizes, sizes[1:]):
        params.append(jnp.asarray(rng.uniform(-1, 1, size=(a, b))))
        params.append(jnp.asarray(rng.uniform(-0.1, 0.1, size=(b,))))

    def loss_fn(ps):
        data = LOSSES[loss_name](mlp(ps, x, ACTS[act]), t)
        return data + l2 * sum(jnp.sum(p * p) for p in ps) if l2 else data

    initial = [np.asarray(p) for p in params]
    state = opt.init(params)
    losses = []
    for _ in range(steps):
        value, grads = jax.value_and_grad(loss_fn)(params)
        losses.append(value)
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    out = []
    out.append(f"/// {name}: MLP {sizes}, {act}, {loss_name}" + (f" + {l2}·Σp²" if l2 else "") + f", {rust_opt}, {steps} steps.")
    out.append(f"pub const {name.upper()}: Case = Case {{")
    out.append(f'    name: "{name}",')
    out.append(f"    sizes: &{list(sizes)},")
    out.append(f"    activation: Activation::{act.capitalize()},")
    out.append(f"    loss: LossKind::{''.join(w.capitalize() for w in loss_name.split('_'))},")
    out.append(f"    l2: {lit(l2)},")
    out.append(f"    x: {arr(x)},")
    if loss_name == "cross_entropy":
        out.append("    targets: Targets::Classes(&[" + ", ".join(str(int(c)) for c in t) + "]),")
    else:
        out.append(f"    targets: Targets::Values({arr(t)}, {shape(t)}),")
    out.append("    initial: &[" + ", ".join(arr(p) for p in initial) + "],")
    out.append(f"    losses: {arr(losses)},")
    out.append("    final_params: &[" + ", ".join(arr(p) for p in params) + "],")
    out.append("};")
    return "\n".join(out)


def main():
    print("// GENERATED by tests/reference_training/gen.py (JAX "
          f"{jax.__version__}, optax {optax.__version__}, float64); do not edit by hand.")
    print()
    for case in CASES:
        print(run(*case))
        print()
    print("pub const CASES: &[Case] = &[" + ", ".join(c[0].upper() for c in CASES) + "];")


if __name__ == "__main__":
    main()
