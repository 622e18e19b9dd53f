"""Independent reference for int8 quantized inference of dense networks (spec v1,
"int8 quantized inference for `backprop` dense networks: the exact arithmetic").

Written from the spec alone, in Python integers and float64; the Rust implementation is compared
against the files this script writes, integer for integer.

Run from the repository root (deterministic; rewrites its outputs, byte for byte the same):
    /work/venv/bin/python tests/reference/quant_ref.py        (numpy + safetensors)

Writes:
  tests/data/safetensors/acts-f32.safetensors   4 -> l0 6 LeakyRelu -> l1 5 Softplus -> l2 3 Identity
      (weights: numpy default_rng(404) standard normal * 0.7, drawn in the order l0.weight [6,4],
      l0.bias, l1.weight [5,6], l1.bias, l2.weight [3,5], l2.bias, rounded to float32; metadata
      {"format": "pt"})
  tests/data/quant/{small,acts,iris,digits}.quant.txt   (format: tests/data/quant/README.md)

How the float parts are computed (everything float64):
  * Weights and biases: the stored float32 values converted exactly to float64.
  * Calibration forward pass: z[o] = b[o] + sum_i W[o][i] * x[i] is the CORRECTLY ROUNDED value of
    the exact sum (each product split exactly into two doubles with Dekker's TwoProduct, then
    math.fsum), so no summation order is baked into the files. The script also reruns the whole
    quantization with z from numpy's matmul (another summation order) and asserts that every
    integer comes out the same; for small, acts and iris it checks every z against exact
    rational arithmetic (fractions.Fraction).
    Activations: Relu z if z > 0 else 0.0; Sigmoid 1 / (1 + exp(-z)); Tanh math.tanh;
    LeakyRelu z if z > 0 else 0.01 * z; Softplus max(z, 0) + log1p(exp(-|z|));
    Softmax e_o = exp(z_o - max z), a_o = e_o / fsum(e).
  * round = round half away from zero, written out exactly (rnd below), never Python's round().
Integer parts use Python ints, with i32 wrapping made explicit where the spec says i32 (the script
asserts that no wrapping actually happens on this data).

Self-checks (asserts): the primitives on known values and on 20,000 seeded random cases against
exact rational definitions; round half away from zero on x.5, 0.49999999999999994 and values
>= 2^52; the summation-order and 1e-13 range-perturbation checks above; no table or exp_table
entry within 1e-9 of a .5 tie (so a libm one ulp off gives the same tables); the integer softmax
within the spec's 1/256 + 2^-16 of the float softmax of its dequantized input; max |dequantized
int8 output - float64 output| within a per-model bound over the samples inside the calibrated
ranges; every output computed twice from scratch comes out the same text. It prints, per model,
the max error and the float and int8 accuracies.
"""
import gzip
import math
import os
import sys
from fractions import Fraction

import numpy as np
import safetensors.numpy as stn

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(ROOT, "tests", "data", "quant")
ACTS_PATH = os.path.join(ROOT, "tests", "data", "safetensors", "acts-f32.safetensors")

I32_MIN, I32_MAX = -(2 ** 31), 2 ** 31 - 1
TABLE_ACTS = ("Sigmoid", "Tanh", "LeakyRelu", "Softplus")
FIXED_OUT = {"Sigmoid": (1.0 / 256.0, -128), "Tanh": (1.0 / 128.0, 0), "Softmax": (1.0 / 256.0, -128)}


# ---------------------------------------------------------------------------------------------
# scalar helpers
# ---------------------------------------------------------------------------------------------

def rnd(x):
    """Round half away from zero (C round, Rust f64::round) of a finite float64, as a Python int.
    floor(|x| + 0.5) is wrong for 0.49999999999999994 and for odd integers >= 2^52 (the + 0.5
    rounds up), so compare the fraction instead: |x| - floor(|x|) is exact in float64."""
    x = float(x)
    assert math.isfinite(x), x
    ax = abs(x)
    f = math.floor(ax)
    r = int(f) + (1 if ax - f >= 0.5 else 0)
    return -r if x < 0 else r


def clamp(v, lo, hi):
    return lo if v < lo else hi if v > hi else v


def wrap32(v):
    """Two's complement i32 wrapping of a Python int."""
    return ((v + 2 ** 31) % 2 ** 32) - 2 ** 31


def checked32(v, what):
    assert I32_MIN <= v <= I32_MAX, f"i32 overflow in {what}: {v}"
    return v


def trunc_div(n, d):
    """Integer division truncating toward zero (C / Rust), d > 0."""
    q = abs(n) // d
    return q if n >= 0 else -q


# ---------------------------------------------------------------------------------------------
# gemmlowp / TFLite Micro primitives
# ---------------------------------------------------------------------------------------------

def saturating_rounding_doubling_high_mul(a, b):
    assert I32_MIN <= a <= I32_MAX and I32_MIN <= b <= I32_MAX
    if a == I32_MIN and b == I32_MIN:
        return I32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    r = trunc_div(ab + nudge, 1 << 31)
    assert I32_MIN <= r <= I32_MAX
    return r


def rounding_divide_by_pot(x, exponent):
    assert 0 <= exponent <= 31 and I32_MIN <= x <= I32_MAX
    mask = (1 << exponent) - 1
    remainder = x & mask          # Python's & on negative ints is two's complement
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)   # >> is arithmetic


def multiply_by_quantized_multiplier(x, multiplier, shift):
    left = max(shift, 0)
    right = max(-shift, 0)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(wrap32(x * (1 << left)), multiplier), right)


def quantize_multiplier(m):
    m = float(m)
    if m == 0.0:
        return 0, 0
    q, e = math.frexp(m)
    q_fixed = rnd(q * 2.0 ** 31)
    if q_fixed == 2 ** 31:
        q_fixed //= 2
        e += 1
    if e < -31:
        q_fixed, e = 0, 0
    if e > 30:
        e, q_fixed = 30, 2 ** 31 - 1
    return q_fixed, e


def qparams(lo, hi):
    lo = min(lo, 0.0)
    hi = max(hi, 0.0)
    scale = (hi - lo) / 255.0
    if scale == 0.0:
        scale = 1.0
    zp = clamp(rnd(-128.0 - lo / scale), -128, 127)
    return scale, zp


def quantize(x, qp):
    scale, zp = qp
    return clamp(rnd(x / scale) + zp, -128, 127)


def self_check_primitives():
    assert saturating_rounding_doubling_high_mul(I32_MIN, I32_MIN) == I32_MAX
    assert saturating_rounding_doubling_high_mul(I32_MAX, I32_MAX) == I32_MAX - 1
    assert saturating_rounding_doubling_high_mul(1 << 30, 1 << 30) == 1 << 29
    assert saturating_rounding_doubling_high_mul(-(1 << 30), 1 << 30) == -(1 << 29)
    # 3 * 2^30 / 2^31 = 1.5 -> 2 (nudge up); -1.5 -> -1 (TFLite's nudge rounds negative half up)
    assert saturating_rounding_doubling_high_mul(3, 1 << 30) == 2
    assert saturating_rounding_doubling_high_mul(-3, 1 << 30) == -1
    assert saturating_rounding_doubling_high_mul(I32_MIN, I32_MAX) == -I32_MAX
    for (x, e), want in {(-3, 1): -2, (3, 1): 2, (-5, 2): -1, (5, 2): 1, (-6, 2): -2, (6, 2): 2,
                         (-7, 2): -2, (7, 2): 2, (-1, 1): -1, (1, 1): 1, (0, 5): 0, (12345, 0): 12345,
                         (I32_MIN, 31): -1, (I32_MAX, 31): 1, (-(1 << 30), 31): -1, ((1 << 30) - 1, 31): 0,
                         (I32_MIN, 1): -(1 << 30), (-2, 2): -1, (2, 2): 1, (-1, 31): 0}.items():
        got = rounding_divide_by_pot(x, e)
        assert got == want, (x, e, got, want)
    assert quantize_multiplier(1.0) == (2 ** 30, 1)
    assert quantize_multiplier(0.5) == (2 ** 30, 0)
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(0.75) == (3 * 2 ** 29, 0)
    assert quantize_multiplier(2.0 ** -40) == (0, 0)               # e = -39 < -31
    assert quantize_multiplier(2.0 ** -32) == (2 ** 30, -31)       # e = -31 kept
    assert quantize_multiplier(2.0 ** 40) == (2 ** 31 - 1, 30)
    assert quantize_multiplier(1.0 - 2.0 ** -53) == (2 ** 30, 1)   # q_fixed rounds to 2^31
    assert multiply_by_quantized_multiplier(1000, *quantize_multiplier(0.5)) == 500
    assert multiply_by_quantized_multiplier(-1000, *quantize_multiplier(0.25)) == -250
    assert multiply_by_quantized_multiplier(3, *quantize_multiplier(0.5)) == 2     # 1.5 -> 2
    assert multiply_by_quantized_multiplier(-3, *quantize_multiplier(0.5)) == -1   # -1.5 -> -1 (the nudge)
    assert multiply_by_quantized_multiplier(-3, *quantize_multiplier(0.25)) == -1  # -0.75 -> -1
    assert multiply_by_quantized_multiplier(-6, *quantize_multiplier(0.25)) == -2  # -1.5 -> -2 (shift rounds away)
    assert multiply_by_quantized_multiplier(100, *quantize_multiplier(3.0)) == 300
    # randomized: rounding_divide_by_pot is x / 2^e rounded half away from zero, exactly;
    # saturating_rounding_doubling_high_mul is a*b / 2^31 rounded half up (toward +inf)
    rng = np.random.default_rng(1)
    for _ in range(20000):
        x = int(rng.integers(I32_MIN, I32_MAX, endpoint=True))
        e = int(rng.integers(0, 31, endpoint=True))
        fr = Fraction(x, 2 ** e)
        want = math.floor(abs(fr) + Fraction(1, 2)) * (1 if fr >= 0 else -1)
        assert rounding_divide_by_pot(x, e) == want, (x, e)
        a = int(rng.integers(I32_MIN, I32_MAX, endpoint=True)) >> int(rng.integers(0, 31))
        b = int(rng.integers(0, I32_MAX, endpoint=True))
        assert saturating_rounding_doubling_high_mul(a, b) == math.floor(Fraction(a * b, 2 ** 31) + Fraction(1, 2)), (a, b)
    # round half away from zero
    for x, want in [(0.5, 1), (-0.5, -1), (1.5, 2), (-1.5, -2), (2.5, 3), (-2.5, -3), (0.49999999999999994, 0),
                    (-0.49999999999999994, 0), (0.0, 0), (-0.0, 0), (1.4999999999999998, 1), (2.0 ** 52 + 1, 2 ** 52 + 1),
                    (-(2.0 ** 52 + 1), -(2 ** 52 + 1)), (2.0 ** 52 - 0.5, 2 ** 52), (4503599627370495.5, 4503599627370496),
                    (1e300, int(1e300)), (-127.5, -128), (127.49999999999999, 127)]:
        assert rnd(x) == want, (x, rnd(x), want)
    assert qparams(0.0, 0.0) == (1.0, -128)
    assert qparams(-1.0, 1.0) == (2.0 / 255.0, rnd(-128.0 + 127.5))     # -0.5 -> -1
    assert qparams(-1.0, 1.0)[1] == -1
    assert qparams(0.5, 2.0) == (2.0 / 255.0, -128)
    assert qparams(-3.0, -1.0) == (3.0 / 255.0, 127)
    # an exact tie that the digits inputs hit (pixel 8 -> 0.5, input range [0, 1], scale 1/255):
    # 0.5 / (1 / 255) is exactly 127.5 in float64, rounded away from zero to 128
    assert 0.5 / (1.0 / 255.0) == 127.5 and quantize(0.5, qparams(0.0, 1.0)) == 0
    assert quantize(-0.5, (1.0 / 255.0, 0)) == -128


# ---------------------------------------------------------------------------------------------
# float forward (calibration)
# ---------------------------------------------------------------------------------------------

def split(a):
    c = a * 134217729.0   # 2^27 + 1 (Veltkamp)
    hi = c - (c - a)
    return hi, a - hi


def two_product(a, b):
    """Arrays a, b -> (p, e) with p + e == a * b exactly (no over/underflow here)."""
    p = a * b
    ah, al = split(a)
    bh, bl = split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def dense_z_exact(w, b, x):
    """x [n, I] -> z [n, O], every element the correctly rounded b[o] + sum_i w[o][i] x[i]."""
    n, (o_, i_) = x.shape[0], w.shape
    p, e = two_product(w[None, :, :], x[:, None, :])          # [n, O, I]
    terms = np.concatenate([p, e, np.broadcast_to(b[None, :, None], (n, o_, 1))], axis=2)
    z = np.empty((n, o_))
    for r in range(n):
        for o in range(o_):
            z[r, o] = math.fsum(terms[r, o].tolist())
    return z


def dense_z_numpy(w, b, x):
    return x @ w.T + b


def act_float(name, z):
    """z [n, O] float64 -> a [n, O], elementwise with Python's math (libm) functions."""
    if name == "Softmax":
        out = np.empty_like(z)
        for r in range(z.shape[0]):
            m = max(z[r].tolist())
            e = [math.exp(v - m) for v in z[r].tolist()]
            s = math.fsum(e)
            out[r] = [v / s for v in e]
        return out
    f = {
        "Identity": lambda v: v,
        "Relu": lambda v: v if v > 0 else 0.0,
        "Sigmoid": lambda v: 1.0 / (1.0 + math.exp(-v)),
        "Tanh": math.tanh,
        "LeakyRelu": lambda v: v if v > 0 else 0.01 * v,
        "Softplus": lambda v: max(v, 0.0) + math.log1p(math.exp(-abs(v))),
    }[name]
    return np.array([[f(v) for v in row] for row in z.tolist()], dtype=np.float64).reshape(z.shape)


def forward_float(layers, x, dense_z=dense_z_exact):
    """Returns the list of (z, a) per layer."""
    out = []
    for w, b, act in layers:
        z = dense_z(w, b, x)
        x = act_float(act, z)
        out.append((z, x))
    return out


def check_exact_z(layers, x, zs):
    """Every z equals the exact rational value rounded to nearest float64."""
    for (w, b, _), (z, a) in zip(layers, zs):
        W = [[Fraction(v) for v in row] for row in w.tolist()]
        B = [Fraction(v) for v in b.tolist()]
        for r in range(x.shape[0]):
            xr = [Fraction(v) for v in x[r].tolist()]
            for o in range(w.shape[0]):
                exact = B[o] + sum(wi * xi for wi, xi in zip(W[o], xr))
                assert float(exact) == z[r, o], "TwoProduct + fsum is not correctly rounded"
        x = a


# ---------------------------------------------------------------------------------------------
# quantization
# ---------------------------------------------------------------------------------------------

def act_table_fn(name):
    return {
        "Sigmoid": lambda z: 1.0 / (1.0 + math.exp(-z)),
        "Tanh": math.tanh,
        "LeakyRelu": lambda z: z if z > 0 else 0.01 * z,
        "Softplus": lambda z: max(z, 0.0) + math.log1p(math.exp(-abs(z))),
    }[name]


def quantize_network(layers, calib):
    """layers: list of (W [O, I] f64, b [O] f64, act). calib: [n, I] f64. Returns a dict."""
    acts = forward_float(layers, calib)
    return quantize_from_ranges(layers, calib, acts)


def quantize_from_ranges(layers, calib, acts, perturb=None):
    """perturb: optional function applied to every layer's (lo, hi) range (robustness checks)."""
    in_lo, in_hi = float(calib.min()), float(calib.max())
    net = {"input": qparams(in_lo, in_hi), "input_range": (in_lo, in_hi), "layers": []}
    inq = net["input"]
    for (w, b, act), (z, a) in zip(layers, acts):
        o_, i_ = w.shape
        rz = (float(z.min()), float(z.max()))
        ra = (float(a.min()), float(a.max()))
        if perturb:
            rz, ra = perturb(rz), perturb(ra)
        zq = qparams(*rz)
        if act == "Identity":
            out = zq
        elif act in FIXED_OUT:
            out = FIXED_OUT[act]
        else:   # Relu and every other elementwise activation
            out = qparams(*ra)
        target = out if act in ("Relu", "Identity") else zq
        wq, bq, mult, shift = [], [], [], []
        for o in range(o_):
            row = w[o].tolist()
            s_w = max(abs(v) for v in row) / 127.0
            if s_w == 0.0:
                s_w = 1.0
            wq.append([clamp(rnd(v / s_w), -127, 127) for v in row])
            prod = inq[0] * s_w
            bq.append(clamp(rnd(float(b[o]) / prod), I32_MIN, I32_MAX))
            m, s = quantize_multiplier(prod / target[0])
            mult.append(m)
            shift.append(s)
        layer = {"act": act, "I": i_, "O": o_, "range_z": rz, "range_a": ra, "zq": zq, "out": out,
                 "target": target, "w": wq, "b": bq, "multiplier": mult, "shift": shift}
        if act in TABLE_ACTS:
            f = act_table_fn(act)
            table = []
            for q in range(-128, 128):
                zr = zq[0] * (q - zq[1])
                t = f(zr) / out[0]
                # far from a .5 tie, so a libm that differs from this one by an ulp gives the same entry
                assert abs(abs(t) - math.floor(abs(t)) - 0.5) > 1e-9, (act, q, t)
                table.append(clamp(rnd(t) + out[1], -128, 127))
            layer["table"] = table
        if act == "Softmax":
            ex = [65536.0 * math.exp(-zq[0] * d) for d in range(256)]
            assert all(abs(t - math.floor(t) - 0.5) > 1e-9 for t in ex)   # no libm-sensitive tie
            layer["exp_table"] = [rnd(t) for t in ex]
            assert layer["exp_table"][0] == 65536
        net["layers"].append(layer)
        inq = out
    return net


def integers_of(net):
    """Every integer of a quantized network (zero points, weights, biases, multipliers, shifts,
    tables), for comparisons; the scales are compared separately, to 1e-12 relative."""
    keys = ("w", "b", "multiplier", "shift", "table", "exp_table")
    return (net["input"][1], [(l["zq"][1], l["out"][1]) + tuple(str(l.get(k)) for k in keys) for l in net["layers"]])


def scales_close(n1, n2):
    s1 = [n1["input"][0]] + [v for l in n1["layers"] for v in (l["zq"][0], l["out"][0])]
    s2 = [n2["input"][0]] + [v for l in n2["layers"] for v in (l["zq"][0], l["out"][0])]
    return all(abs(a - b) <= 1e-12 * abs(a) for a, b in zip(s1, s2))


def forward_int8(net, x, trace=None):
    """x: list of floats. Returns (x_q, y) lists of ints. trace (a list) receives the int8 z_q
    of a softmax layer."""
    xq = [quantize(v, net["input"]) for v in x]
    v, in_zp = xq, net["input"][1]
    for layer in net["layers"]:
        act, target, out = layer["act"], layer["target"], layer["out"]
        accs = []
        for o in range(layer["O"]):
            exact = layer["b"][o] + sum(wi * (xi - in_zp) for wi, xi in zip(layer["w"][o], v))
            acc = wrap32(exact)       # i32 arithmetic (wrapping) ...
            checked32(exact, "accumulator")   # ... which never actually wraps here
            acc = multiply_by_quantized_multiplier(acc, layer["multiplier"][o], layer["shift"][o])
            acc = checked32(acc + target[1], "adding the zero point")
            accs.append(acc)
        if act == "Identity":
            y = [clamp(a, -128, 127) for a in accs]
        elif act == "Relu":
            y = [clamp(a, max(-128, out[1]), 127) for a in accs]
        elif act in TABLE_ACTS:
            y = [layer["table"][clamp(a, -128, 127) + 128] for a in accs]
        elif act == "Softmax":
            zq = [clamp(a, -128, 127) for a in accs]
            if trace is not None:
                trace.append(zq)
            m = max(zq)
            e = [layer["exp_table"][m - q] for q in zq]
            s = sum(e)
            y = [clamp((ei * 256 + s // 2) // s - 128, -128, 127) for ei in e]
        else:
            raise ValueError(act)
        v, in_zp = y, out[1]
    return xq, v


# ---------------------------------------------------------------------------------------------
# models and data
# ---------------------------------------------------------------------------------------------

def load_layers(rel, names, acts):
    t = stn.load_file(os.path.join(ROOT, rel))
    for k, v in t.items():
        assert v.dtype == np.float32, (rel, k, v.dtype)
    layers = []
    for n, a in zip(names, acts):
        w = t[f"{n}.weight"].astype(np.float64)
        b = t[f"{n}.bias"].astype(np.float64)
        assert w.ndim == 2 and b.shape == (w.shape[0],)
        layers.append((w, b, a))
    for (w1, _, _), (w2, _, _) in zip(layers, layers[1:]):
        assert w2.shape[1] == w1.shape[0]
    assert sorted(t) == sorted(f"{n}.{p}" for n in names for p in ("weight", "bias")), sorted(t)
    return layers


def make_acts_file():
    old = open(ACTS_PATH, "rb").read() if os.path.exists(ACTS_PATH) else None
    rng = np.random.default_rng(404)
    shapes = [("l0", 6, 4), ("l1", 5, 6), ("l2", 3, 5)]
    tensors = {}
    for name, o, i in shapes:
        tensors[f"{name}.weight"] = (rng.standard_normal((o, i)) * 0.7).astype(np.float32)
        tensors[f"{name}.bias"] = (rng.standard_normal(o) * 0.7).astype(np.float32)
    stn.save_file(tensors, ACTS_PATH, metadata={"format": "pt"})
    back = stn.load_file(ACTS_PATH)
    for k, v in tensors.items():
        assert back[k].dtype == np.float32 and np.array_equal(back[k].view(np.uint32), v.view(np.uint32)), k
    new = open(ACTS_PATH, "rb").read()
    print(f"{os.path.relpath(ACTS_PATH, ROOT)}: {'unchanged' if old == new else 'written (new or changed)'}")


def f32_normals(seed, shape):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32).astype(np.float64)


def load_iris():
    lines = open(os.path.join(ROOT, "tests", "data", "iris.csv")).read().split("\n")
    assert lines[0].startswith("150,4,")
    rows = [l.split(",") for l in lines[1:] if l.strip()]
    assert len(rows) == 150
    x = np.array([[float(v) for v in r[:4]] for r in rows], dtype=np.float64)
    y = [int(r[4]) for r in rows]
    return x, y


def load_digits():
    with gzip.open(os.path.join(ROOT, "examples", "data", "digits.csv.gz"), "rt") as f:
        rows = [[int(v) for v in l.split(",")] for l in f.read().split("\n") if l.strip()]
    assert len(rows) == 1797 and all(len(r) == 65 for r in rows)
    x = np.array([r[:64] for r in rows], dtype=np.float64) / 16.0
    y = [r[64] for r in rows]
    return x, y


def argmax(v):
    best = 0
    for i in range(1, len(v)):
        if v[i] > v[best]:
            best = i
    return best


def models():
    small_layers = load_layers("tests/data/safetensors/small-f32.safetensors", ["hidden", "output"], ["Tanh", "Sigmoid"])
    small_samples = np.concatenate([f32_normals(6, (64, 3)), np.array([[4.0, -4.0, 4.0], [-4.0, 4.0, -4.0]])])
    yield dict(name="small", source="tests/data/safetensors/small-f32.safetensors", naming="Layers",
               layers=small_layers, calib=f32_normals(5, (256, 3)), samples=small_samples, labels=None,
               write_floats=True, write_calib=True,
               notes=["calibration: numpy default_rng(5).normal(size=(256, 3)) rounded to float32",
                      "samples: default_rng(6).normal(size=(64, 3)) rounded to float32, then [4, -4, 4] and [-4, 4, -4]"])

    acts_layers = load_layers("tests/data/safetensors/acts-f32.safetensors", ["l0", "l1", "l2"],
                              ["LeakyRelu", "Softplus", "Identity"])
    yield dict(name="acts", source="tests/data/safetensors/acts-f32.safetensors", naming="Layers",
               layers=acts_layers, calib=f32_normals(7, (256, 4)), samples=f32_normals(8, (64, 4)), labels=None,
               write_floats=True, write_calib=True,
               notes=["calibration: numpy default_rng(7).normal(size=(256, 4)) rounded to float32",
                      "samples: default_rng(8).normal(size=(64, 4)) rounded to float32"])

    ix, iy = load_iris()
    iris_layers = load_layers("tests/data/safetensors/iris-sequential-f32.safetensors", ["0", "2", "4"],
                              ["Relu", "Tanh", "Softmax"])
    yield dict(name="iris", source="tests/data/safetensors/iris-sequential-f32.safetensors", naming="Sequential",
               layers=iris_layers, calib=ix, samples=ix, labels=iy, write_floats=True, write_calib=True,
               notes=["calibration and samples: the 150 rows of tests/data/iris.csv, measurements parsed as float64 (not rounded to float32)"])

    dx, dy = load_digits()
    tr = [i for i in range(len(dy)) if i % 5 != 0]
    te = [i for i in range(len(dy)) if i % 5 == 0]
    digits_layers = load_layers("examples/data/digits-pytorch.safetensors", ["hidden", "output"], ["Relu", "Softmax"])
    yield dict(name="digits", source="examples/data/digits-pytorch.safetensors", naming="Layers",
               layers=digits_layers, calib=dx[tr], samples=dx[te], labels=[dy[i] for i in te],
               write_floats=False, write_calib=False,
               notes=["data: examples/data/digits.csv.gz, inputs = pixels / 16.0",
                      "calibration: the 1437 rows with 0-based index i % 5 != 0 (not listed)",
                      "samples: the 360 rows with i % 5 == 0, in order (inputs not listed: '-')"])


# ---------------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------------

def fl(v):
    v = float(v)
    assert math.isfinite(v)
    return repr(v)


def ints(v):
    return " ".join(str(int(t)) for t in v)


def run_model(md, check_z_exact):
    layers, calib, samples = md["layers"], md["calib"], md["samples"]
    net = quantize_network(layers, calib)
    # robustness: another summation order must give the same integers
    alt = quantize_from_ranges(layers, calib, forward_float(layers, calib, dense_z_numpy))
    assert integers_of(alt) == integers_of(net), f"{md['name']}: summation order changes an integer"
    assert scales_close(alt, net), f"{md['name']}: summation order changes a scale"
    # stronger: moving every calibrated z and a bound by 1e-13 relative (far more than any
    # summation order can) changes no integer
    fwd = forward_float(layers, calib)
    for dlo in (-1e-13, 1e-13):
        for dhi in (-1e-13, 1e-13):
            moved = quantize_from_ranges(layers, calib, fwd, lambda r: (r[0] * (1 + dlo), r[1] * (1 + dhi)))
            assert integers_of(moved) == integers_of(net), f"{md['name']}: a 1e-13 range change moves an integer"
    if check_z_exact:
        check_exact_z(layers, calib, forward_float(layers, calib))

    float_all = forward_float(layers, samples)
    float_out = float_all[-1][1]
    # samples whose float forward stays inside the calibrated ranges (input and every z): no int8
    # saturation, so the error is quantization error only
    in_range = np.all((samples >= net["input_range"][0]) & (samples <= net["input_range"][1]), axis=1)
    for l, (z, _) in zip(net["layers"], float_all):
        in_range &= np.all((z >= l["range_z"][0]) & (z <= l["range_z"][1]), axis=1)
    lines = [f"# {md['name']}: int8 quantization reference (spec v1), written by tests/reference/quant_ref.py"]
    lines += [f"# {n}" for n in md["notes"]]
    lines += [f"# network input range (raw, before including 0): {fl(net['input_range'][0])} {fl(net['input_range'][1])}",
              f"model {md['name']}",
              f"source {md['source']} naming {md['naming']}",
              f"input {fl(net['input'][0])} {net['input'][1]}"]
    for k, l in enumerate(net["layers"]):
        lines += [f"layer {k} {l['act']} {l['I']} {l['O']}",
                  f"range_z {fl(l['range_z'][0])} {fl(l['range_z'][1])}",
                  f"range_a {fl(l['range_a'][0])} {fl(l['range_a'][1])}",
                  f"zq {fl(l['zq'][0])} {l['zq'][1]}",
                  f"out {fl(l['out'][0])} {l['out'][1]}",
                  "w " + ints(v for row in l["w"] for v in row),
                  "b " + ints(l["b"]),
                  "multiplier " + ints(l["multiplier"]),
                  "shift " + ints(l["shift"])]
        if "table" in l:
            lines.append("table " + ints(l["table"]))
        if "exp_table" in l:
            lines.append("exp_table " + ints(l["exp_table"]))
        lines.append("end")
    if md["write_calib"]:
        for x in calib.tolist():
            lines.append("calibrate " + " ".join(fl(v) for v in x))
    out_scale, out_zp = net["layers"][-1]["out"]
    max_err = max_err_in = 0.0
    right_f = right_q = 0
    for r, x in enumerate(samples.tolist()):
        trace = []
        xq, y = forward_int8(net, x, trace)
        if trace:   # the spec's bound on the integer softmax, against the float softmax of its input
            zs = net["layers"][-1]["zq"]
            zd = [zs[0] * (t - zs[1]) for t in trace[0]]
            e = [math.exp(t - max(zd)) for t in zd]
            p = [t / math.fsum(e) for t in e]
            for pi, yi in zip(p, y):
                assert abs((yi + 128) / 256.0 - pi) <= 1 / 256 + 2.0 ** -16, (md["name"], r, trace, y)
        fx = " ".join(fl(v) for v in x) if md["write_floats"] else "-"
        lines.append(f"sample {fx} -> {ints(xq)} -> {ints(y)}")
        deq = [out_scale * (q - out_zp) for q in y]
        err = max(abs(d - f) for d, f in zip(deq, float_out[r].tolist()))
        max_err = max(max_err, err)
        if in_range[r]:
            max_err_in = max(max_err_in, err)
        if md["labels"] is not None:
            right_f += argmax(float_out[r].tolist()) == md["labels"][r]
            right_q += argmax(y) == md["labels"][r]
    n = len(samples)
    if md["labels"] is not None:
        lines.append(f"accuracy float {right_f} {n} int8 {right_q} {n}")
    errs = (max_err, max_err_in, int(in_range.sum()), n)
    return "\n".join(lines) + "\n", errs, (right_f, right_q, n) if md["labels"] is not None else None, net


# Sane bounds on max |dequantized int8 output - float64 output| over the samples that stay inside
# the calibrated ranges (input and every z): the error of a few roundings carried through the
# layers and amplified by the activations (iris: a z step of the tanh layer is 0.078, and the
# softmax sharpens it). Samples outside the calibrated ranges saturate; their error is printed,
# not bounded.
MAX_ERR_IN_RANGE = {"small": 0.03, "acts": 0.1, "iris": 0.15, "digits": 0.15}


def main():
    self_check_primitives()
    make_acts_file()
    os.makedirs(OUT_DIR, exist_ok=True)
    summary = []
    for md in models():
        text, errs, acc, net = run_model(md, check_z_exact=md["name"] != "digits")
        # deterministic: a second run from scratch gives the same text
        text2, _, _, _ = run_model(md, check_z_exact=False)
        assert text == text2, f"{md['name']}: not deterministic"
        path = os.path.join(OUT_DIR, f"{md['name']}.quant.txt")
        old = open(path).read() if os.path.exists(path) else None
        with open(path, "w") as f:
            f.write(text)
        print(f"{os.path.relpath(path, ROOT)}: {'unchanged' if old == text else 'written (new or changed)'}")
        step = net["layers"][-1]["out"][0]
        err, err_in, n_in, n = errs
        msg = (f"{md['name']}: max |dequantized - float| = {err:.6g} ({err / step:.2f} output steps) over {n} samples; "
               f"{err_in:.6g} ({err_in / step:.2f} steps) over the {n_in} inside the calibrated ranges")
        if acc:
            msg += f"; accuracy float {acc[0]}/{acc[2]}, int8 {acc[1]}/{acc[2]}"
        print(msg)
        assert err_in <= MAX_ERR_IN_RANGE[md['name']], msg
    return 0


if __name__ == "__main__":
    sys.exit(main())
