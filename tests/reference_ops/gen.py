#!/usr/bin/env python3
"""Reference values of issue 14's ops for tests/reference_ops.rs, from an independent engine.

JAX computes each case's value and its vector-Jacobian product with a fixed cotangent, in
float64; the tapegrad test records the same expression and must agree to 1e-12 relative.
Regenerate with

    python3 tests/reference_ops/gen.py > tests/reference_ops/values.rs

(jax 0.10.2 was used; pip-installable, CPU only). Each case is one line of values.rs: its name
(the runner's `match` maps it to tapegrad's expression, written beside JAX's here), the
inputs, the value, the cotangent and each input's gradient, every tensor as shape and data.
"""
import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np

rng = np.random.default_rng(14)


def tril_from_vec(v, n, k):
    rows, cols = np.tril_indices(n, k)
    out = jnp.zeros(v.shape[:-1] + (n, n))
    return out.at[..., rows, cols].set(v)


def layer_norm(x):
    centred = x - x.mean(-1, keepdims=True)
    return centred / jnp.sqrt(x.var(-1, keepdims=True) + 1e-5)


def where_scores(x):
    mask = jnp.tril(jnp.ones((3, 3))) > 0
    return jax.nn.softmax(jnp.where(mask, x, -jnp.inf), axis=-1)


GATHER_INDEX = np.array([[2, 0], [1, 1], [0, 2]])
# Rows with one zero, two, one and one, columns with two, one, two and none: where a gradient
# computed as z / x would be NaN.
ZEROS = np.array([[0.0, 1.5, -2.0, 0.5], [0.0, 0.0, 3.0, -1.0], [2.0, 0.5, 0.0, 0.25],
                  [1.0, 2.0, 0.0, 3.0]])
# An infinite element, and a product that overflows where the others' products do not.
HUGE = np.array([[np.inf, 2.0, 3.0], [1e300, 1e300, 2.0], [-np.inf, 0.5, -4.0]])
# name, shapes of the inputs (or fixed inputs, as arrays), low and high of the uniform values
# of the random ones, JAX's function
CASES = [
    ("log1p", [(2, 3)], (-0.5, 2.0), jnp.log1p),
    ("expm1", [(2, 3)], (-2.0, 2.0), jnp.expm1),
    ("maximum", [(2, 3), (3,)], (-2.0, 2.0), jnp.maximum),
    ("minimum", [(2, 3), (2, 1)], (-2.0, 2.0), jnp.minimum),
    ("clamp", [(2, 3)], (-2.0, 2.0), lambda x: jnp.clip(x, -0.5, 0.7)),
    ("where_causal_softmax", [(2, 3, 3)], (-2.0, 2.0), where_scores),
    ("sum_keepdim_neg", [(2, 3, 4)], (-2.0, 2.0), lambda x: x / x.sum(-1, keepdims=True)),
    ("mean_keepdim", [(3, 3)], (-2.0, 2.0), lambda x: x - x.mean(1, keepdims=True)),
    ("max_keepdim", [(3, 4)], (-2.0, 2.0), lambda x: jnp.exp(x - x.max(-1, keepdims=True))),
    ("min_axis", [(3, 4)], (-2.0, 2.0), lambda x: x.min(0)),
    ("logsumexp_keepdim", [(2, 5)], (-2.0, 2.0),
     lambda x: x - jax.scipy.special.logsumexp(x, axis=-1, keepdims=True)),
    ("var_unbiased", [(3, 4)], (-2.0, 2.0), lambda x: jnp.var(x, axis=-1, ddof=1)),
    ("std_biased", [(3, 4)], (-2.0, 2.0), lambda x: jnp.std(x, axis=0)),
    ("layer_norm", [(2, 3, 4)], (-2.0, 2.0), layer_norm),
    ("permute", [(2, 3, 4)], (-2.0, 2.0), lambda x: jnp.transpose(x, (2, 0, 1)) ** 2),
    ("swap_axes", [(2, 3, 4)], (-2.0, 2.0), lambda x: jnp.sin(jnp.swapaxes(x, -1, 0))),
    ("unsqueeze_squeeze", [(2, 3)], (-2.0, 2.0),
     lambda x: jnp.squeeze(jnp.expand_dims(x, -1) * 2.0, 2)),
    ("narrow", [(3, 5)], (-2.0, 2.0), lambda x: jnp.exp(x[:, 1:4])),
    ("slice_step", [(3, 7)], (-2.0, 2.0), lambda x: x[:, 1:7:3] ** 3),
    ("index_select_repeats", [(4, 3)], (-2.0, 2.0), lambda x: jnp.tanh(x[jnp.array([3, 0, 3, 1])])),
    ("gather", [(3, 4)], (-2.0, 2.0),
     lambda x: jnp.take_along_axis(x, jnp.array(GATHER_INDEX), axis=1) ** 2),
    ("concat", [(2, 3), (2, 2)], (-2.0, 2.0),
     lambda a, b: jnp.sin(jnp.concatenate([a, b, a], axis=1))),
    ("stack", [(2, 3), (2, 3)], (-2.0, 2.0), lambda a, b: jnp.stack([a, b * b], axis=1)),
    ("split", [(2, 5)], (-2.0, 2.0), lambda x: x[:, :2].sum(1) * x[:, 2:].prod(1)),
    ("tril", [(2, 3, 3)], (-2.0, 2.0), lambda x: jnp.exp(jnp.tril(x, -1))),
    ("triu", [(3, 4)], (-2.0, 2.0), lambda x: jnp.triu(x, 1) ** 2),
    ("tril_from_vec", [(2, 6)], (-2.0, 2.0),
     lambda v: (lambda l: l @ jnp.swapaxes(l, -1, -2))(tril_from_vec(v, 3, 0))),
    ("diag_embed_diagonal", [(2, 3)], (-2.0, 2.0),
     lambda d: jnp.diagonal(jnp.exp(jax.vmap(jnp.diag)(d)), axis1=-2, axis2=-1) + 0.0),
    ("batched_matmul", [(2, 3, 4), (4, 5)], (-2.0, 2.0), jnp.matmul),
    ("batched_matmul_broadcast", [(2, 1, 3, 4), (3, 4, 2)], (-2.0, 2.0), jnp.matmul),
    ("batched_matmul_vector", [(4,), (2, 4, 3)], (-2.0, 2.0), jnp.matmul),
    ("cross_entropy_masked", [(3, 4)], (-2.0, 2.0),
     lambda z: -jnp.mean(jax.nn.log_softmax(jnp.where(jnp.arange(4) == 3, -jnp.inf, z), axis=1)
                         [jnp.arange(3), jnp.array([0, 2, 1])])),
    ("prod_axis", [(3, 4)], (-2.0, 2.0), lambda x: jnp.prod(x, axis=-1)),
    ("prod_axis_keepdim", [(2, 3, 4)], (0.5, 2.0), lambda x: x * jnp.prod(x, axis=1, keepdims=True)),
    ("prod", [(2, 3)], (-2.0, 2.0), lambda x: jnp.sin(jnp.prod(x))),
    ("prod_zeros", [ZEROS], None, lambda x: jnp.prod(x, axis=-1)),
    ("prod_zeros_axis0", [ZEROS], None, lambda x: jnp.sin(jnp.prod(x, axis=0))),
    ("prod_infinite", [HUGE], None, lambda x: jnp.prod(x, axis=1)),
]


def number(v):
    if np.isnan(v):
        return "f64::NAN"
    if np.isinf(v):
        return "f64::INFINITY" if v > 0 else "f64::NEG_INFINITY"
    return repr(float(v))


def rust(t):
    t = np.asarray(t, dtype=np.float64)
    data = ", ".join(number(v) for v in t.reshape(-1))
    return "(&[" + ", ".join(str(d) for d in t.shape) + "], &[" + data + "])"


def main():
    print("// GENERATED by tests/reference_ops/gen.py (JAX 0.10.2, float64); do not edit by hand.")
    print("// One case a line: name, inputs, value, cotangent, gradients; each tensor (shape, data).")
    print()
    print("#[rustfmt::skip]")
    print("pub const CASES: &[Case] = &[")
    for name, shapes, bounds, f in CASES:
        inputs = [s if isinstance(s, np.ndarray) else rng.uniform(*bounds, size=s) for s in shapes]
        value, vjp = jax.vjp(f, *[jnp.asarray(x) for x in inputs])
        cotangent = rng.uniform(-1.0, 1.0, size=np.shape(value))
        grads = vjp(jnp.asarray(cotangent))
        fields = [
            f'"{name}"',
            "&[" + ", ".join(rust(x) for x in inputs) + "]",
            rust(value),
            rust(cotangent),
            "&[" + ", ".join(rust(g) for g in grads) + "]",
        ]
        print("    Case { name: " + fields[0] + ", inputs: " + fields[1] + ", value: " + fields[2]
              + ", cotangent: " + fields[3] + ", grads: " + fields[4] + " },")
    print("];")


if __name__ == "__main__":
    main()
