#!/usr/bin/env python3
"""Reference values for tests/reference.rs from an independent autodiff engine: forward values
and vector-Jacobian products computed by JAX in float64.

    pip install jax    (the CPU jaxlib from PyPI)
    python3 tests/reference/gen.py > tests/reference/values.rs

Each case names its inputs (params, which get gradients, and constants), one JAX expression and
the tapegrad expression that computes the same function. For an output with more than one
element, the loss is sum(out * C) for a fixed cotangent C with distinct, non-zero values, so the
Rust side runs out.backward_with(C); a one-element output runs out.backward(). values.rs holds
one case a line: the tapegrad expression as a function of its inputs, the inputs, JAX's value,
the cotangent and each param's gradient. The output is deterministic: the same JAX version
prints the same file.
"""

import json
import math

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np

jax.config.update("jax_enable_x64", True)

# ---------------------------------------------------------------------------------------------
# Inputs

X23 = [[0.7, -1.3, 2.1], [-0.4, 1.9, -2.6]]  # mixed signs, away from 0, no ties
POS23 = [[0.3, 1.7, 2.9], [0.45, 3.6, 5.2]]  # for ln, sqrt, powf
A23 = [[1.5, -0.8, 2.3], [-1.2, 0.6, 3.1]]
B23 = [[0.9, 2.2, -1.7], [1.4, -0.5, 2.6]]  # also a denominator: away from 0
A3 = [-0.6, 1.1, 2.4]
B3 = [0.7, -1.9, 2.4]
A21 = [[1.3], [-2.2]]
B13 = [[0.8, -1.6, 2.7]]
SA = 1.8  # shape []
SB = -0.65  # shape []
X232 = [  # shape [2, 3, 2], no ties along any axis
    [[0.5, -1.2], [2.3, 0.1], [-0.7, 1.6]],
    [[1.4, 0.9], [-2.1, 3.3], [0.2, -0.35]],
]
M34 = [[0.5, -1.1, 0.3, 2.0], [1.7, 0.4, -0.9, -0.25], [-0.6, 1.3, 0.8, 1.1]]
BIG = [[1000.0, 1001.0, 999.0], [-3.0, 0.0, 2.0]]  # must not overflow
DOMINANT = [[1000.0, 990.0, 985.0], [1000.5, 1000.25, 970.0]]  # one element dominates row 0
KINK = [[-1.5, 0.0, 2.0], [0.0, -0.0, 3.5]]  # +0.0 and -0.0
TIES1 = [[2.0, 5.0, 5.0], [7.0, 7.0, 7.0]]  # ties along axis 1
TIES0 = [[4.0, 5.0, -1.0], [4.0, 2.0, -1.0]]  # ties along axis 0
XC = [[0.2, -1.0, 0.5], [1.5, 0.3, -0.8], [-0.4, 0.9, 1.2], [0.7, -0.6, -1.1]]  # [4, 3]
W32 = [[0.3, -0.7], [1.1, 0.25], [-0.5, 0.9]]
B2 = [0.1, -0.2]
T42 = [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]  # one-hot targets
P23 = [[1.0, 0.0, 0.25], [0.0, 1.0, 0.5]]  # binary targets and probabilities
Y23 = [[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]]  # labels of +-1

# ---------------------------------------------------------------------------------------------
# Cases: (name, inputs, JAX expression, tapegrad expression, ignore reason or None, note or None)
# inputs: (variable, value, "param" | "const"); the expressions use the variable names.

CASES = []


def case(name, inputs, jax_expr, rust_expr, ignore=None, note=None):
    assert name not in [c[0] for c in CASES], name
    CASES.append((name, inputs, jax_expr, rust_expr, ignore, note))


def p(var, value):
    return (var, value, "param")


def c(var, value):
    return (var, value, "const")


# Elementwise ops on a [2, 3] input.
case("neg", [p("x", X23)], "-x", "-x")
case("step", [p("x", X23)], "jnp.where(x > 0, 1.0, 0.0)", "x.step()")
case("relu", [p("x", X23)], "jax.nn.relu(x)", "x.relu()")
case("sigmoid", [p("x", X23)], "jax.nn.sigmoid(x)", "x.sigmoid()")
case("softplus", [p("x", X23)], "jax.nn.softplus(x)", "x.softplus()")
case("softplus_extremes", [p("x", BIG)], "jax.nn.softplus(x)", "x.softplus()")
case("softplus_at_zero", [p("x", KINK)], "jax.nn.softplus(x)", "x.softplus()")
case("tanh", [p("x", X23)], "jnp.tanh(x)", "x.tanh()")
case("exp", [p("x", X23)], "jnp.exp(x)", "x.exp()")
case("ln", [p("x", POS23)], "jnp.log(x)", "x.ln()")
case("sqrt", [p("x", POS23)], "jnp.sqrt(x)", "x.sqrt()")
case("abs", [p("x", X23)], "jnp.abs(x)", "x.abs()")
for tag, pw in [("2", 2.0), ("0_5", 0.5), ("neg_1_5", -1.5), ("3", 3.0)]:
    case(f"powf_{tag}", [p("x", POS23)], f"jnp.power(x, {pw!r})", f"x.powf({pw!r})")
for tag, pw in [("2", 2.0), ("3", 3.0)]:
    case(f"powf_{tag}_mixed_signs", [p("x", X23)], f"jnp.power(x, {pw!r})", f"x.powf({pw!r})")

# Binary ops, with numpy broadcasting, Var op Var.
OPS = [("add", "+"), ("sub", "-"), ("mul", "*"), ("div", "/")]
PAIRS = [
    ("2x3_2x3", A23, B23),
    ("2x3_3", A23, B3),
    ("2x1_1x3", A21, B13),
    ("2x3_scalar", A23, SB),
    ("scalar_2x3", SA, B23),
    ("3_2x3", A3, B23),
]
for op, sym in OPS:
    for tag, a, b in PAIRS:
        case(f"{op}_{tag}", [p("a", a), p("b", b)], f"a {sym} b", f"a {sym} b")

# Binary ops with an f64 on either side.
for name, expr in [
    ("add_f64_right", "a + 2.5"),
    ("add_f64_left", "2.5 + a"),
    ("sub_f64_right", "a - 2.5"),
    ("sub_f64_left", "2.5 - a"),
    ("mul_f64_right", "a * -1.7"),
    ("mul_f64_left", "2.5 * a"),
    ("div_f64_right", "a / 4.0"),
    ("div_f64_right_inexact", "a / 0.3"),
    ("div_f64_left", "3.0 / a"),
]:
    case(name, [p("a", A23)], expr, expr)

# Matmul: numpy's 1-D / 2-D rules.
case("matmul_2x3_3x4", [p("a", A23), p("b", M34)], "a @ b", "a.matmul(b)")
case("matmul_2x3_3", [p("a", A23), p("b", B3)], "a @ b", "a.matmul(b)")
case("matmul_3_3x4", [p("a", A3), p("b", M34)], "a @ b", "a.matmul(b)")
case("matmul_3_3", [p("a", A3), p("b", B3)], "a @ b", "a.matmul(b)")
case("matmul_const_lhs", [c("a", A23), p("b", M34)], "a @ b", "a.matmul(b)")

# Reductions and shape ops.
case("sum", [p("x", X23)], "jnp.sum(x)", "x.sum()")
case("mean", [p("x", X23)], "jnp.mean(x)", "x.mean()")
case("transpose", [p("x", X23)], "x.T", "x.transpose()")
case("reshape_3x2", [p("x", X23)], "jnp.reshape(x, (3, 2))", "x.reshape(&[3, 2])")
case("reshape_6", [p("x", X23)], "jnp.reshape(x, (6,))", "x.reshape(&[6])")
case("reshape_2x3x2_to_3x4", [p("x", X232)], "jnp.reshape(x, (3, 4))", "x.reshape(&[3, 4])")
case("broadcast_to_2x3_to_2x2x3", [p("x", X23)], "jnp.broadcast_to(x, (2, 2, 3))", "x.broadcast_to(&[2, 2, 3])")
case("broadcast_to_3_to_2x3", [p("x", A3)], "jnp.broadcast_to(x, (2, 3))", "x.broadcast_to(&[2, 3])")
case("broadcast_to_2x1_to_2x3", [p("x", A21)], "jnp.broadcast_to(x, (2, 3))", "x.broadcast_to(&[2, 3])")
case("broadcast_to_scalar_to_2x3", [p("x", SA)], "jnp.broadcast_to(x, (2, 3))", "x.broadcast_to(&[2, 3])")

AXIS_OPS = [
    ("sum_axis", "jnp.sum(x, axis={ax})", "x.sum_axis({ax})"),
    ("mean_axis", "jnp.mean(x, axis={ax})", "x.mean_axis({ax})"),
    ("max_axis", "jnp.max(x, axis={ax})", "x.max_axis({ax})"),
    ("softmax", "jax.nn.softmax(x, axis={ax})", "x.softmax({ax})"),
    ("log_softmax", "jax.nn.log_softmax(x, axis={ax})", "x.log_softmax({ax})"),
    ("logsumexp", "jax.nn.logsumexp(x, axis={ax})", "x.logsumexp({ax})"),
]
for op, jx, rs in AXIS_OPS:
    for ax in (0, 1):
        case(f"{op}_{ax}_of_2x3", [p("x", X23)], jx.format(ax=ax), rs.format(ax=ax))
    for ax in (0, 1, 2):
        case(f"{op}_{ax}_of_2x3x2", [p("x", X232)], jx.format(ax=ax), rs.format(ax=ax))
for op, jx, rs in AXIS_OPS[3:]:
    for ax in (0, 1):
        case(f"{op}_{ax}_near_1000", [p("x", BIG)], jx.format(ax=ax), rs.format(ax=ax))
    case(f"{op}_1_dominant_near_1000", [p("x", DOMINANT)], jx.format(ax=1), rs.format(ax=1))

# Kink conventions.
case("relu_kink", [p("x", KINK)], "jax.nn.relu(x)", "x.relu()", note="relu'(0) = 0, also at -0.0")
case("step_kink", [p("x", KINK)], "jnp.where(x > 0, 1.0, 0.0)", "x.step()", note="step(0) = 0, step' = 0")
# abs at 0: JAX's jnp.abs differentiates to 1 at ±0 (select(x >= 0, g, -g)); tapegrad follows
# PyTorch's sign(0) = 0 (tapegrad follows PyTorch at kinks), so the case below pins that convention through sign(x)·x.
case(
    "abs_kink_sign_zero",
    [p("x", KINK)],
    "jnp.sign(x) * x",
    "x.abs()",
    note="sign(x)*x equals |x| everywhere, and JAX differentiates it to sign(x), so sign(0) = 0: "
    "tapegrad's documented abs'(0) = 0",
)
case("max_axis_ties_1", [p("x", TIES1)], "jnp.max(x, axis=1)", "x.max_axis(1)", note="tied maxima share the gradient evenly")
case("max_axis_ties_0", [p("x", TIES0)], "jnp.max(x, axis=0)", "x.max_axis(0)", note="tied maxima share the gradient evenly")

# prod: its gradient is the product of the other elements, exact at zeros (one zero: only that
# element's derivative is nonzero; two: all are 0).
for ax in (0, 1):
    case(f"prod_axis_{ax}_of_2x3", [p("x", X23)], f"jnp.prod(x, axis={ax})", f"x.prod_axis({ax})")
for ax in (0, -1):
    case(f"prod_axis_{ax}_of_2x3x2", [p("x", X232)], f"jnp.prod(x, axis={ax})", f"x.prod_axis({ax})")
case("prod_axis_keepdim_1_of_2x3x2", [p("x", X232)], "jnp.prod(x, axis=1, keepdims=True)",
     "x.prod_axis_keepdim(1)")
case("prod_of_2x3x2", [p("x", X232)], "jnp.prod(x)", "x.prod()")
case("prod_axis_1_zeros", [p("x", KINK)], "jnp.prod(x, axis=1)", "x.prod_axis(1)",
     note="row 0 has one zero, row 1 two (+0 and -0): no z/x")
case("prod_axis_0_zeros", [p("x", KINK)], "jnp.prod(x, axis=0)", "x.prod_axis(0)",
     note="column 0 has one zero, column 1 two (+0 and -0), column 2 none")

# Composites.
case(
    "composite_tanh_mse",
    [c("x", XC), p("w", W32), p("b", B2)],
    "jnp.mean(jnp.tanh(x @ w + b) ** 2)",
    "(x.matmul(w) + b).tanh().powf(2.0).mean()",
)
case(
    "composite_cross_entropy",
    [c("x", XC), p("w", W32), p("b", B2), c("t", T42)],
    "-jnp.mean(jnp.sum(t * jax.nn.log_softmax(x @ w + b, axis=1), axis=1))",
    "-(t * (x.matmul(w) + b).log_softmax(1)).sum_axis(1).mean()",
)
case(
    "composite_mlp",
    [c("x", XC), p("w", W32), p("v", [[0.6, -1.4, 0.35], [-0.8, 0.45, 1.2]])],
    "jax.nn.sigmoid(jax.nn.relu(x @ w) @ v)",
    "x.matmul(w).relu().matmul(v).sigmoid()",
)
case(
    "composite_reuse",
    [p("a", POS23), p("b", B3)],
    "jnp.sum(a * a + jnp.exp(a) / a - jnp.sqrt(a) * b)",
    "(a * a + a.exp() / a - a.sqrt() * b).sum()",
    note="a is read four times: its gradient accumulates",
)

# The losses of tapegrad::loss, against JAX formulas written independently of tapegrad's.
case("loss_mse", [p("x", X23), p("t", KINK)], "jnp.mean((x - t) ** 2)", "tapegrad::loss::mse(x, t)")
case(
    "loss_cross_entropy",
    [p("x", XC)],
    "-jnp.mean(jax.nn.log_softmax(x, axis=1)[jnp.arange(4), jnp.array([0, 2, 1, 2])])",
    "tapegrad::loss::cross_entropy(x, &[0, 2, 1, 2])",
)
case(
    "loss_cross_entropy_big",
    [p("x", BIG)],
    "-jnp.mean(jax.nn.log_softmax(x, axis=1)[jnp.arange(2), jnp.array([2, 0])])",
    "tapegrad::loss::cross_entropy(x, &[2, 0])",
)
case(
    "loss_binary_cross_entropy_with_logits",
    [p("x", X23), c("t", P23)],
    "jnp.mean(-t * jax.nn.log_sigmoid(x) - (1.0 - t) * jax.nn.log_sigmoid(-x))",
    "tapegrad::loss::binary_cross_entropy_with_logits(x, t)",
)
case(
    "loss_binary_cross_entropy_with_logits_confident",
    [p("x", [[20.0, -25.0, 30.0], [-35.0, 40.0, 0.0]]), c("t", [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])],
    "jnp.mean(-t * jax.nn.log_sigmoid(x) - (1.0 - t) * jax.nn.log_sigmoid(-x))",
    "tapegrad::loss::binary_cross_entropy_with_logits(x, t)",
)
case(
    "loss_hinge",
    [p("x", X23), c("y", Y23)],
    "jnp.mean(jax.nn.relu(1.0 - y * x))",
    "tapegrad::loss::hinge(x, y)",
)

# ---------------------------------------------------------------------------------------------
# Evaluation with JAX


def cotangent(n):
    """n distinct, non-zero, non-dyadic values, the same on every run."""
    vals = [round(1.9 * math.sin(2.3 * k + 0.7), 3) for k in range(n)]
    assert len(set(vals)) == n and 0.0 not in vals, vals
    return vals


def evaluate(inputs, jax_expr):
    arrays = [jnp.asarray(np.array(v, dtype=np.float64)) for _, v, _ in inputs]
    names = [n for n, _, _ in inputs]
    params = [i for i, (_, _, kind) in enumerate(inputs) if kind == "param"]

    def f(*ps):
        env = dict(zip(names, arrays))
        for i, x in zip(params, ps):
            env[names[i]] = x
        return eval(jax_expr, {"jax": jax, "jnp": jnp}, env)

    out, vjp = jax.vjp(f, *[arrays[i] for i in params])
    assert out.dtype == jnp.float64, out.dtype
    shape = tuple(out.shape)
    n = int(np.prod(shape))
    cot = [1.0] if n == 1 else cotangent(n)
    grads = vjp(jnp.asarray(np.array(cot, dtype=np.float64).reshape(shape)))
    return out, cot, dict(zip([names[i] for i in params], grads))


# ---------------------------------------------------------------------------------------------
# Rust output: one case a line


def lit(x):
    x = float(x)
    assert math.isfinite(x), x
    return repr(x)


def flat(v):
    return np.array(v, dtype=np.float64).reshape(-1).tolist()


def shape_of(v):
    return list(np.array(v, dtype=np.float64).shape)


def data(shape, values):
    return "(&[{}], &[{}])".format(", ".join(map(str, shape)), ", ".join(lit(x) for x in values))


def string(text):
    """A Rust string literal (JSON's escapes are Rust's for these texts)."""
    return json.dumps(text, ensure_ascii=False)


def emit_case(name, inputs, jax_expr, rust_expr, ignore, note):
    assert ignore is None, "an ignored case needs a runner that skips it"
    out, cot, grads = evaluate(inputs, jax_expr)
    names = ", ".join(var for var, _, _ in inputs)
    bind = f"let &[{names}] = v else {{ unreachable!() }};"
    function = f"|v| {{ {bind} {rust_expr} }}"
    ins = ", ".join(
        f"({'true' if kind == 'param' else 'false'}, {data(shape_of(value), flat(value))})"
        for _, value, kind in inputs
    )
    gs = ", ".join(data(shape_of(value), flat(grads[var])) for var, value, kind in inputs if kind == "param")
    oshape = list(out.shape)
    return (
        f"    Case {{ name: {string(name)}, rust: {string(rust_expr)}, jax: {string(jax_expr)}, "
        f"note: {string(note or '')}, "
        f"f: {function}, inputs: &[{ins}], value: {data(oshape, flat(out))}, "
        f"cotangent: {data(oshape, cot)}, grads: &[{gs}] }},"
    )


def main():
    print(f"// GENERATED by tests/reference/gen.py (JAX {jax.__version__}, jaxlib {jaxlib.__version__},")
    print("// float64); do not edit by hand. One case a line: the tapegrad expression, its inputs")
    print("// ((is a param, (shape, data))), JAX's value, the cotangent and each param's gradient.")
    print()
    print("#[rustfmt::skip]")
    print("pub const CASES: &[Case] = &[")
    for cs in CASES:
        print(emit_case(*cs))
    print("];")


if __name__ == "__main__":
    main()
