"""Reference safetensors files for the `network!` import/export tests, written with numpy only.

Run from the repository root (Python 3.11, numpy, and the `safetensors` package, which is used
only to cross-check the files this script writes itself):

    python tests/reference/safetensors_ref.py

Every random draw uses a fixed seed, so a run rewrites the committed files. The random-weight
files (small-*, flax-*) come out byte for byte the same on any machine (numpy's PCG64 streams are
stable); the trained files (iris-*, xor, digits) go through matrix products whose last bits can
depend on the BLAS numpy links, so a run elsewhere may change a few weights in their last place.
The committed files are the reference; the Rust tests never run this script.

Conventions (those of the Rust side):
  * a dense layer `hidden` with I inputs and O neurons is stored as `hidden.weight` [O, I]
    (row-major, exactly `torch.nn.Linear.weight`) and `hidden.bias` [O]; y = f(W x + b);
  * `torch.nn.Sequential` numbering: `0.weight`, `0.bias`, `2.weight`, ... (activation modules
    take the odd indices and own no tensors);
  * Flax linen, flattened with `flax.traverse_util.flatten_dict(variables, sep=".")`:
    `params.Dense_0.kernel` [I, O] (the transpose of PyTorch's weight) and `params.Dense_0.bias`.

Files written (paths relative to the repository root):

  tests/data/safetensors/small-{f32,f64,f16,bf16}.safetensors     3 -> hidden 5 tanh -> output 2 sigmoid
  tests/data/safetensors/iris-sequential-{f32,f64}.safetensors    4 -> 8 relu -> 6 tanh -> 3 softmax (trained)
  tests/data/safetensors/flax-{f32,f64}.safetensors               3 -> Dense 4 relu -> Dense 2 identity
  examples/cortex-m/baked/xor-pytorch.safetensors                 2 -> hidden 4 tanh -> output 1 sigmoid (trained)
  examples/data/digits-pytorch.safetensors                        64 -> hidden 32 relu -> output 10 softmax (trained)
  and beside each `<stem>.safetensors` except digits a `<stem>.expected.txt`; for digits,
  examples/data/digits-pytorch.txt (test accuracy of the float32 model).

Format of `<stem>.expected.txt`: lines starting with `#` are comments; every other line is
    x_1 x_2 ... x_n -> y_1 y_2 ... y_m
space-separated, each number the `repr()` of a Python float (shortest string that round-trips a
float64). Every input is exactly representable as a float32 (and so as a float64): parsing it into
an f32 or an f64 network gives exactly the value the outputs were computed from. The outputs are
the network evaluated in float64 (numpy) on the weights exactly as stored in that file (after
rounding to the file's dtype, converted exactly to float64). They are the float64 results of
numpy's own operations, not correctly rounded values; the script checks them against 50-digit
mpmath evaluations (relative difference below 1e-14) when mpmath is installed.

The file writer is our own (`write_safetensors`, the format is: 8-byte little-endian u64 header
length N, N bytes of JSON header padded with spaces to a multiple of 8, then the data). For the
dtypes numpy has (F16, F32, F64) the script checks that the bytes are identical to what
`safetensors.numpy.save_file` writes for the same tensors, and that `safetensors.numpy.load_file`
reads back the same bits. numpy has no bfloat16: BF16 is written as uint16 bit patterns
(round to nearest, ties to even, of the float32 bits), and read back with our own parser.
"""

import gzip
import json
import math
import os
import struct
import sys
import tempfile

import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TESTS_ST = os.path.join(ROOT, "tests", "data", "safetensors")
IRIS_SRC = "/work/shared/data/iris.csv"
IRIS_CSV = os.path.join(ROOT, "tests", "data", "iris.csv")
DIGITS_CSV = os.path.join(ROOT, "examples", "data", "digits.csv.gz")
XOR_DIR = os.path.join(ROOT, "examples", "cortex-m", "baked")
DIGITS_DIR = os.path.join(ROOT, "examples", "data")

DTYPE_SIZE = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}
NP_DTYPE = {"F16": np.float16, "F32": np.float32, "F64": np.float64}


# --------------------------------------------------------------------------------------------
# dtype rounding


def bf16_bits(x):
    """float64 array -> uint16 bfloat16 bit patterns.

    First rounded to float32 (to nearest, ties to even), then the float32 bits are rounded to
    their top 16 bits, to nearest, ties to even. (Double rounding through float32 can differ from
    a direct float64 -> bfloat16 rounding only on exact float32 ties, which random normals never
    hit; this is also how torch converts a float32 tensor with `.to(torch.bfloat16)`.)"""
    b = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    assert not np.isnan(np.asarray(x, dtype=np.float32)).any()
    b = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    return b.astype(np.uint16)


def bf16_to_f64(bits):
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def round_to(x, dtype):
    """Round float64 values to `dtype`; returns (stored array for the file, exact float64 values)."""
    x = np.asarray(x, dtype=np.float64)
    if dtype == "BF16":
        bits = bf16_bits(x)
        return bits, bf16_to_f64(bits)
    stored = x.astype(NP_DTYPE[dtype])
    return stored, stored.astype(np.float64)


# --------------------------------------------------------------------------------------------
# safetensors writer and strict reader


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, dtype string, numpy array holding the stored values or bits).

    The layout is the one the Rust crate `safetensors` (behind the Python package) writes:
    tensors sorted by decreasing dtype size, then by name; compact JSON with "__metadata__"
    first; header padded with spaces to a multiple of 8."""
    order = sorted(tensors, key=lambda t: (-DTYPE_SIZE[t[1]], t[0]))
    header = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name, dtype, arr in order:
        arr = np.ascontiguousarray(arr)
        want = np.uint16 if dtype == "BF16" else NP_DTYPE[dtype]
        assert arr.dtype == want, (name, dtype, arr.dtype)
        data = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        assert len(data) == DTYPE_SIZE[dtype] * int(np.prod(arr.shape, dtype=np.int64))
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-len(text)) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Strict reader: returns ({name: float64 array}, {name: dtype}, metadata)."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    hdr = raw[8:8 + n]
    assert hdr[:1] == b"{", "header must start with '{'"

    def no_dupes(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), "duplicate key in header"
        return dict(pairs)

    header = json.loads(hdr.decode("utf-8"), object_pairs_hook=no_dupes)
    data = raw[8 + n:]
    metadata = header.pop("__metadata__", None)
    values, dtypes = {}, {}
    spans = []
    for name, e in header.items():
        assert set(e) == {"dtype", "shape", "data_offsets"}, (name, e)
        dt, shape, (b, end) = e["dtype"], tuple(e["shape"]), e["data_offsets"]
        count = int(np.prod(shape, dtype=np.int64))
        assert end - b == count * DTYPE_SIZE[dt], name
        chunk = data[b:end]
        if dt == "BF16":
            v = bf16_to_f64(np.frombuffer(chunk, dtype="<u2")).reshape(shape)
        else:
            v = np.frombuffer(chunk, dtype=np.dtype(NP_DTYPE[dt]).newbyteorder("<")).astype(np.float64).reshape(shape)
        values[name], dtypes[name] = v, dt
        spans.append((b, end))
    spans.sort()
    pos = 0
    for b, end in spans:
        assert b == pos, "data not contiguous"
        pos = end
    assert pos == len(data), "trailing or missing data"
    return values, dtypes, metadata


def save_and_check(path, tensors_f64, dtype, metadata=None):
    """Round float64 tensors to `dtype`, write them, check the file; return the float64 values
    exactly as stored (what the expected outputs are computed from)."""
    stored, exact = [], {}
    for name, arr in tensors_f64.items():
        s, e = round_to(arr, dtype)
        stored.append((name, dtype, s))
        exact[name] = e
    write_safetensors(path, stored, metadata)
    # 1. our strict reader gives back the exact values
    vals, dts, meta = read_safetensors(path)
    assert meta == (metadata or None), (meta, metadata)
    assert set(vals) == set(exact) and all(d == dtype for d in dts.values())
    for k in exact:
        assert vals[k].shape == exact[k].shape
        assert np.array_equal(vals[k].view(np.uint64), exact[k].view(np.uint64)), k
    # 2. the Python package writes the same bytes and reads the same bits
    try:
        import safetensors.numpy as stn
    except ImportError:
        print("  (safetensors package not installed: cross-check skipped)")
        return exact
    if dtype != "BF16":
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.safetensors")
            stn.save_file({n: a for n, _, a in stored}, p, metadata=metadata)
            assert open(p, "rb").read() == open(path, "rb").read(), f"{path}: differs from save_file"
        loaded = stn.load_file(path)
        assert set(loaded) == set(exact)
        for k in exact:
            assert loaded[k].dtype == NP_DTYPE[dtype]
            assert np.array_equal(loaded[k].astype(np.float64).view(np.uint64), exact[k].view(np.uint64)), k
    return exact


# --------------------------------------------------------------------------------------------
# networks in float64

ACT = {
    "identity": lambda z: z,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "softmax": lambda z: (lambda e: e / e.sum(axis=-1, keepdims=True))(np.exp(z - z.max(axis=-1, keepdims=True))),
}


def forward(layers, x):
    """layers: list of (W [O, I] float64, b [O] float64, activation). x: [n, I] float64."""
    for w, b, act in layers:
        x = ACT[act](x @ w.T + b)
    return x


def forward_mp(layers, x):
    """The same network in 50-digit mpmath, for a check of the float64 outputs."""
    import mpmath

    mpmath.mp.dps = 50
    v = [mpmath.mpf(float(t)) for t in x]
    for w, b, act in layers:
        z = [mpmath.fsum(mpmath.mpf(float(w[o, i])) * v[i] for i in range(w.shape[1])) + mpmath.mpf(float(b[o]))
             for o in range(w.shape[0])]
        if act == "identity":
            v = z
        elif act == "sigmoid":
            v = [1 / (1 + mpmath.exp(-t)) for t in z]
        elif act == "tanh":
            v = [mpmath.tanh(t) for t in z]
        elif act == "relu":
            v = [t if t > 0 else mpmath.mpf(0) for t in z]
        elif act == "softmax":
            e = [mpmath.exp(t) for t in z]
            s = mpmath.fsum(e)
            v = [t / s for t in e]
    return v


def fmt(v):
    return repr(float(v))


def write_expected(path, comments, layers, inputs):
    inputs = np.asarray(inputs, dtype=np.float64)
    assert np.array_equal(inputs, inputs.astype(np.float32).astype(np.float64)), "inputs must be f32-exact"
    outs = forward(layers, inputs)
    try:
        import mpmath  # noqa: F401
        worst = 0.0
        for x, y in zip(inputs, outs):
            ref = forward_mp(layers, x)
            for a, r in zip(y, ref):
                worst = max(worst, abs(float((mpmath.mpf(float(a)) - r) / r)) if r != 0 else abs(a))
        assert worst < 1e-14, worst
    except ImportError:
        pass
    lines = ["# " + c for c in comments]
    lines.append("# format: inputs -> outputs; float64 outputs from the stored weights converted exactly to float64")
    for x, y in zip(inputs, outs):
        lines.append(" ".join(fmt(t) for t in x) + " -> " + " ".join(fmt(t) for t in y))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return outs


def rel(p):
    return os.path.relpath(p, ROOT)


# --------------------------------------------------------------------------------------------
# (a) small: 3 -> hidden 5 tanh -> output 2 sigmoid, random weights, four dtypes


def make_small():
    """Equivalent PyTorch (apart from the weight values, which come from numpy):

        class Small(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.hidden = torch.nn.Linear(3, 5)    # hidden.weight [5, 3], hidden.bias [5]
                self.output = torch.nn.Linear(5, 2)    # output.weight [2, 5], output.bias [2]
            def forward(self, x):
                return torch.sigmoid(self.output(torch.tanh(self.hidden(x))))

        for dtype, tag in [(torch.float32, "f32"), (torch.float64, "f64"),
                           (torch.float16, "f16"), (torch.bfloat16, "bf16")]:
            sd = {k: v.to(dtype) for k, v in Small().state_dict().items()}
            safetensors.torch.save_file(sd, f"small-{tag}.safetensors", metadata={"format": "pt"})

    Weights: numpy default_rng(20261206), normal * 0.8, drawn in the order hidden.weight,
    hidden.bias, output.weight, output.bias, then rounded to the file's dtype (F16 and F64 from
    the float64 draw directly, BF16 via float32 as torch's `.to(torch.bfloat16)` on a float32
    tensor). Inputs: default_rng(7) normal [8, 3], rounded to float32."""
    rng = np.random.default_rng(20261206)
    w = {
        "hidden.weight": rng.standard_normal((5, 3)) * 0.8,
        "hidden.bias": rng.standard_normal(5) * 0.8,
        "output.weight": rng.standard_normal((2, 5)) * 0.8,
        "output.bias": rng.standard_normal(2) * 0.8,
    }
    inputs = np.random.default_rng(7).standard_normal((8, 3)).astype(np.float32).astype(np.float64)
    for tag, dtype in [("f32", "F32"), ("f64", "F64"), ("f16", "F16"), ("bf16", "BF16")]:
        path = os.path.join(TESTS_ST, f"small-{tag}.safetensors")
        ex = save_and_check(path, w, dtype, metadata={"format": "pt"})
        layers = [(ex["hidden.weight"], ex["hidden.bias"], "tanh"),
                  (ex["output.weight"], ex["output.bias"], "sigmoid")]
        write_expected(path.replace(".safetensors", ".expected.txt"), [
            f"{os.path.basename(path)}: {dtype}, metadata {{\"format\": \"pt\"}}",
            "network: input 3 -> hidden Dense 5 tanh -> output Dense 2 sigmoid (PyTorch names, weight [out, in])",
            "weights: default_rng(20261206) normal * 0.8, rounded to the file's dtype; inputs: default_rng(7) normal, rounded to f32",
        ], layers, inputs)
        print(f"wrote {rel(path)} ({os.path.getsize(path)} bytes)")


# --------------------------------------------------------------------------------------------
# (b) iris: nn.Sequential 4 -> 8 relu -> 6 tanh -> 3 softmax, trained


def load_iris():
    with open(IRIS_CSV) as f:
        head = f.readline().strip().split(",")
        assert head == ["150", "4", "setosa", "versicolor", "virginica"], head
        rows = [line.strip().split(",") for line in f if line.strip()]
    assert len(rows) == 150
    x = np.array([[float(t) for t in r[:4]] for r in rows])
    y = np.array([int(r[4]) for r in rows])
    return x, y


class Adam:
    """Plain Adam (beta1 0.9, beta2 0.999, eps 1e-8) in the parameters' own dtype."""

    def __init__(self, params, lr, dtype=np.float64):
        self.params, self.lr, self.dtype, self.t = params, dtype(lr), dtype, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads):
        d = self.dtype
        self.t += 1
        c1, c2 = d(1 - 0.9 ** self.t), d(1 - 0.999 ** self.t)
        for i, g in enumerate(grads):
            self.m[i] = d(0.9) * self.m[i] + d(0.1) * g
            self.v[i] = d(0.999) * self.v[i] + d(0.001) * g * g
            self.params[i] -= self.lr * (self.m[i] / c1) / (np.sqrt(self.v[i] / c2) + d(1e-8))


def adam_train(params, grad_fn, steps, lr, batches=None, dtype=np.float64):
    opt = Adam(params, lr, dtype)
    for t in range(1, steps + 1):
        opt.step(grad_fn(params, batches(t) if batches else None))
    return params


def init_linear(rng, o, i, dtype=np.float64):
    """PyTorch's default nn.Linear init: U(-1/sqrt(i), 1/sqrt(i)) for weight and bias."""
    k = 1.0 / math.sqrt(i)
    return rng.uniform(-k, k, (o, i)).astype(dtype), rng.uniform(-k, k, o).astype(dtype)


def make_iris():
    """Equivalent PyTorch:

        model = torch.nn.Sequential(
            torch.nn.Linear(4, 8), torch.nn.ReLU(),     # 0.weight [8, 4], 0.bias [8]
            torch.nn.Linear(8, 6), torch.nn.Tanh(),     # 2.weight [6, 8], 2.bias [6]
            torch.nn.Linear(6, 3))                      # 4.weight [3, 6], 4.bias [3]
        # trained with torch.nn.CrossEntropyLoss (softmax is applied by the loss; the network's
        # output layer is `softmax(W x + b)`), full batch of all 150 raw samples, Adam lr 0.01
        safetensors.torch.save_file(model.state_dict(), "iris-sequential-f32.safetensors")
        safetensors.torch.save_file({k: v.double() for k, v in model.state_dict().items()},
                                    "iris-sequential-f64.safetensors")

    Here: PyTorch-style uniform init from default_rng(150), trained in float64, full batch,
    Adam lr 0.01 for 400 steps, on the raw measurements (no scaling). No metadata."""
    x, y = load_iris()
    t = np.eye(3)[y]
    rng = np.random.default_rng(150)
    params = []
    for o, i in [(8, 4), (6, 8), (3, 6)]:
        params += list(init_linear(rng, o, i))

    def grad(p, _):
        w0, b0, w1, b1, w2, b2 = p
        z0 = x @ w0.T + b0
        a0 = np.maximum(z0, 0)
        z1 = a0 @ w1.T + b1
        a1 = np.tanh(z1)
        out = ACT["softmax"](a1 @ w2.T + b2)
        d2 = (out - t) / len(x)
        d1 = (d2 @ w2) * (1 - a1 * a1)
        d0 = (d1 @ w1) * (z0 > 0)
        return [d0.T @ x, d0.sum(0), d1.T @ a0, d1.sum(0), d2.T @ a1, d2.sum(0)]

    params = adam_train(params, grad, 400, 0.01)
    names = ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    w = dict(zip(names, params))
    accs = {}
    for tag, dtype in [("f32", "F32"), ("f64", "F64")]:
        path = os.path.join(TESTS_ST, f"iris-sequential-{tag}.safetensors")
        ex = save_and_check(path, w, dtype)
        layers = [(ex["0.weight"], ex["0.bias"], "relu"), (ex["2.weight"], ex["2.bias"], "tanh"),
                  (ex["4.weight"], ex["4.bias"], "softmax")]
        out = forward(layers, x)
        acc = float((out.argmax(1) == y).mean())
        loss = float(-np.log(out[np.arange(150), y]).mean())
        accs[tag] = acc
        inputs = x[:8].astype(np.float32).astype(np.float64)
        write_expected(path.replace(".safetensors", ".expected.txt"), [
            f"{os.path.basename(path)}: {dtype}, no metadata; nn.Sequential names",
            "network: input 4 -> 0 Linear 8 relu -> 2 Linear 6 tanh -> 4 Linear 3 softmax",
            "trained on tests/data/iris.csv (raw measurements, no scaling), Adam lr 0.01, 400 full-batch steps",
            f"training-set accuracy of these stored weights {acc:.4f} ({int(round(acc * 150))}/150), mean cross-entropy {loss:.4f}",
            "inputs: the first 8 rows of tests/data/iris.csv, rounded to float32 (so 5.1 is written 5.099999904632568)",
        ], layers, inputs)
        print(f"wrote {rel(path)} ({os.path.getsize(path)} bytes): iris training accuracy {acc:.4f}, loss {loss:.4f}")
    return accs


# --------------------------------------------------------------------------------------------
# (c) flax: 3 -> Dense 4 relu -> Dense 2 identity, Flax layout


def make_flax():
    """Equivalent Flax:

        class Mlp(flax.linen.Module):
            @flax.linen.compact
            def __call__(self, x):
                x = flax.linen.relu(flax.linen.Dense(4)(x))   # params.Dense_0.kernel [3, 4], .bias [4]
                return flax.linen.Dense(2)(x)                 # params.Dense_1.kernel [4, 2], .bias [2]

        variables = Mlp().init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))
        flat = flax.traverse_util.flatten_dict(variables, sep=".")
        safetensors.flax.save_file(flat, "flax-f32.safetensors")
        # and with jax_enable_x64, the float64 parameters to flax-f64.safetensors

    Here: default_rng(3) normal * 0.8 drawn in the order Dense_0.kernel [3, 4], Dense_0.bias,
    Dense_1.kernel [4, 2], Dense_1.bias; y = relu(x @ K0 + b0) @ K1 + b1. Metadata
    {"format": "flax"}. Inputs: default_rng(11) normal [8, 3], rounded to float32."""
    rng = np.random.default_rng(3)
    w = {
        "params.Dense_0.kernel": rng.standard_normal((3, 4)) * 0.8,
        "params.Dense_0.bias": rng.standard_normal(4) * 0.8,
        "params.Dense_1.kernel": rng.standard_normal((4, 2)) * 0.8,
        "params.Dense_1.bias": rng.standard_normal(2) * 0.8,
    }
    inputs = np.random.default_rng(11).standard_normal((8, 3)).astype(np.float32).astype(np.float64)
    for tag, dtype in [("f32", "F32"), ("f64", "F64")]:
        path = os.path.join(TESTS_ST, f"flax-{tag}.safetensors")
        ex = save_and_check(path, w, dtype, metadata={"format": "flax"})
        # kernels are [in, out]: the PyTorch-layout weight is the transpose
        layers = [(ex["params.Dense_0.kernel"].T, ex["params.Dense_0.bias"], "relu"),
                  (ex["params.Dense_1.kernel"].T, ex["params.Dense_1.bias"], "identity")]
        write_expected(path.replace(".safetensors", ".expected.txt"), [
            f"{os.path.basename(path)}: {dtype}, metadata {{\"format\": \"flax\"}}; Flax linen names, kernel [in, out]",
            "network: input 3 -> Dense_0 4 relu -> Dense_1 2 identity; y = relu(x K0 + b0) K1 + b1",
            "weights: default_rng(3) normal * 0.8; inputs: default_rng(11) normal, rounded to f32",
        ], layers, inputs)
        print(f"wrote {rel(path)} ({os.path.getsize(path)} bytes)")


# --------------------------------------------------------------------------------------------
# (e) XOR for the Cortex-M firmware


def make_xor():
    """Equivalent PyTorch:

        class Xor(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.hidden = torch.nn.Linear(2, 4)   # hidden.weight [4, 2], hidden.bias [4]
                self.output = torch.nn.Linear(4, 1)   # output.weight [1, 4], output.bias [1]
            def forward(self, x):
                return torch.sigmoid(self.output(torch.tanh(self.hidden(x))))
        # trained with torch.nn.BCELoss on the 4 XOR samples
        safetensors.torch.save_file(model.state_dict(), "xor-pytorch.safetensors",
                                    metadata={"format": "pt"})

    Here: init normal * 1.0 from default_rng(4), trained in float64 with full-batch Adam lr 0.05
    until the mean binary cross-entropy of the float32-rounded weights is below 0.01 and every
    prediction is on its side of 0.5 by at least 0.1 (checked every 50 steps)."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    t = np.array([0, 1, 1, 0], dtype=np.float64)
    rng = np.random.default_rng(4)
    params = [rng.standard_normal((4, 2)), rng.standard_normal(4), rng.standard_normal((1, 4)), rng.standard_normal(1)]

    def grad(p, _):
        w0, b0, w1, b1 = p
        a = np.tanh(x @ w0.T + b0)
        out = ACT["sigmoid"](a @ w1.T + b1)[:, 0]
        d1 = ((out - t) / 4)[:, None]
        d0 = (d1 @ w1) * (1 - a * a)
        return [d0.T @ x, d0.sum(0), d1.T @ a, d1.sum(0)]

    def evaluate(p):
        q = [a.astype(np.float32).astype(np.float64) for a in p]
        out = forward([(q[0], q[1], "tanh"), (q[2], q[3], "sigmoid")], x)[:, 0]
        bce = float(-(t * np.log(out) + (1 - t) * np.log(1 - out)).mean())
        return out, bce

    opt = Adam(params, 0.05)
    for steps in range(1, 5001):
        opt.step(grad(params, None))
        if steps % 50 == 0:
            out, bce = evaluate(params)
            if bce < 0.01 and np.all(np.where(t == 1, out - 0.5, 0.5 - out) >= 0.1):
                break
    else:
        raise SystemExit("XOR did not converge")
    p = params
    w = dict(zip(["hidden.weight", "hidden.bias", "output.weight", "output.bias"], p))
    path = os.path.join(XOR_DIR, "xor-pytorch.safetensors")
    ex = save_and_check(path, w, "F32", metadata={"format": "pt"})
    layers = [(ex["hidden.weight"], ex["hidden.bias"], "tanh"), (ex["output.weight"], ex["output.bias"], "sigmoid")]
    out = write_expected(path.replace(".safetensors", ".expected.txt"), [
        "xor-pytorch.safetensors: F32, metadata {\"format\": \"pt\"}",
        "network: input 2 -> hidden Dense 4 tanh -> output Dense 1 sigmoid (PyTorch names, weight [out, in])",
        f"trained on the 4 XOR samples, binary cross-entropy, Adam lr 0.05, {steps} full-batch steps from default_rng(4) normal init",
        f"mean binary cross-entropy of the stored float32 weights (in float64): {bce:.6f}",
    ], layers, x)
    print(f"wrote {rel(path)} ({os.path.getsize(path)} bytes): {steps} steps, mean BCE {bce:.6f}, "
          f"predictions {' '.join(f'{v:.6f}' for v in out[:, 0])}")
    return out[:, 0], bce, steps


# --------------------------------------------------------------------------------------------
# (f) digits: 64 -> hidden 32 relu -> output 10 softmax, float32


def make_digits():
    """Equivalent PyTorch:

        class Digits(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.hidden = torch.nn.Linear(64, 32)   # hidden.weight [32, 64], hidden.bias [32]
                self.output = torch.nn.Linear(32, 10)   # output.weight [10, 32], output.bias [10]
            def forward(self, x):
                return self.output(torch.relu(self.hidden(x)))   # logits; softmax in the loss
        # trained with torch.nn.CrossEntropyLoss, Adam lr 0.003, mini-batches of 32, 40 epochs
        safetensors.torch.save_file(model.state_dict(), "digits-pytorch.safetensors",
                                    metadata={"format": "pt"})

    Here everything is float32 numpy: PyTorch-style uniform init from default_rng(64), each epoch
    a permutation of the 1437 training rows from default_rng(1797), Adam lr 0.003, batch 32,
    40 epochs. Test rows: 0-based row index i with i % 5 == 0 (360 rows). Inputs: pixels / 16."""
    with gzip.open(DIGITS_CSV, "rt") as f:
        rows = np.array([[int(v) for v in line.split(",")] for line in f if line.strip()])
    assert rows.shape == (1797, 65)
    x = (rows[:, :64] / 16.0).astype(np.float32)
    y = rows[:, 64]
    test = np.arange(1797) % 5 == 0
    xtr, ytr, xte, yte = x[~test], y[~test], x[test], y[test]
    assert len(xte) == 360
    ttr = np.eye(10, dtype=np.float32)[ytr]
    rng = np.random.default_rng(64)
    params = list(init_linear(rng, 32, 64, np.float32)) + list(init_linear(rng, 10, 32, np.float32))
    order_rng = np.random.default_rng(1797)
    batch, epochs = 32, 40
    per_epoch = (len(xtr) + batch - 1) // batch
    perms = [order_rng.permutation(len(xtr)) for _ in range(epochs)]

    def batches(step):
        e, k = divmod(step - 1, per_epoch)
        return perms[e][k * batch:(k + 1) * batch]

    def grad(p, idx):
        w0, b0, w1, b1 = p
        xb, tb = xtr[idx], ttr[idx]
        z0 = xb @ w0.T + b0
        a0 = np.maximum(z0, np.float32(0))
        out = ACT["softmax"](a0 @ w1.T + b1)
        d1 = (out - tb) / np.float32(len(idx))
        d0 = (d1 @ w1) * (z0 > 0)
        g = [d0.T @ xb, d0.sum(0), d1.T @ a0, d1.sum(0)]
        assert all(a.dtype == np.float32 for a in g)
        return g

    params = adam_train(params, grad, epochs * per_epoch, 0.003, batches, np.float32)
    assert all(a.dtype == np.float32 for a in params)
    w = dict(zip(["hidden.weight", "hidden.bias", "output.weight", "output.bias"], params))
    path = os.path.join(DIGITS_DIR, "digits-pytorch.safetensors")
    save_and_check(path, {k: v.astype(np.float64) for k, v in w.items()}, "F32", metadata={"format": "pt"})
    logits = np.maximum(xte @ w["hidden.weight"].T + w["hidden.bias"], np.float32(0)) @ w["output.weight"].T + w["output.bias"]
    assert logits.dtype == np.float32
    correct = int((logits.argmax(1) == yte).sum())
    acc = correct / 360
    assert acc > 0.95, acc
    with open(os.path.join(DIGITS_DIR, "digits-pytorch.txt"), "w") as f:
        f.write(f"test_samples 360\ncorrect {correct}\naccuracy {acc:.4f}\n")
    print(f"wrote {rel(path)} ({os.path.getsize(path)} bytes): digits test accuracy {acc:.4f} ({correct}/360)")
    return acc, correct


def main():
    if not os.path.exists(IRIS_CSV):
        import shutil
        os.makedirs(os.path.dirname(IRIS_CSV), exist_ok=True)
        shutil.copyfile(IRIS_SRC, IRIS_CSV)
    make_small()
    make_iris()
    make_flax()
    make_xor()
    make_digits()


if __name__ == "__main__":
    sys.exit(main())
