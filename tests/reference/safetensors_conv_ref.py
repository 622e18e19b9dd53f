"""Reference safetensors files of two small convolutional networks, in PyTorch's and Flax's
layouts, with their outputs: the conv part of `safetensors_ref.py` (whose writer, strict reader
and dtype rounding it uses).

Run from the repository root (Python 3.11, numpy, safetensors, jax; /work/venv has them):

    python tests/reference/safetensors_conv_ref.py

Every draw has a fixed seed, so a run rewrites the committed files byte for byte.

The networks (Rust: `tests/safetensors.rs`, glued by hand from the core layers):

  conv2d: input [1, 6, 6] -> conv0 Conv2d 3 filters 3x3, padding same, relu -> [3, 6, 6]
          -> pool MaxPool2d 2 (stride 2) -> [3, 3, 3] -> conv1 Conv2d 4 filters 2x2, valid, tanh
          -> [4, 2, 2] -> flatten 16 -> fc Dense 3, identity
  conv1d: input [2, 9] -> conv Conv1d 3 filters of 3, stride 2, valid, relu -> [3, 4]
          -> pool AvgPool1d 2 (stride 2) -> [3, 2] -> flatten 6 -> hidden Dense 4 tanh
          -> out Dense 2 sigmoid

Files written (tests/data/safetensors/), each F32 and F64, each with `<stem>.expected.txt`:

  conv2d-sequential-*   PyTorch, nn.Sequential names: 0.weight [3, 1, 3, 3], 3.weight [4, 3, 2, 2],
                        6.weight [3, 16] (the ReLU, MaxPool2d, Tanh and Flatten modules take indices
                        1, 2, 4 and 5), metadata {"format": "pt"}
  conv2d-flax-*         Flax linen names: params.Conv_0.kernel [3, 3, 1, 3] (HWIO),
                        params.Conv_1.kernel [2, 2, 3, 4], params.Dense_0.kernel [16, 3] whose rows
                        are in (y, x, channel) order (Flax flattens NHWC), metadata {"format": "flax"}
  conv1d-layers-*       PyTorch module attributes: conv.weight [3, 2, 3], hidden.weight [4, 6],
                        out.weight [2, 4] (the AvgPool1d attribute `pool` has no tensors)
  conv1d-flax-*         params.Conv_0.kernel [3, 2, 3] (WIO), params.Dense_0.kernel [6, 4] (rows in
                        (x, channel) order), params.Dense_1.kernel [4, 2]

`tests/reference/safetensors_conv_frameworks.py` checks the names, shapes and outputs against real
torch and flax.

Both layouts hold the same network: weights are drawn once in PyTorch's layout (default_rng, normal
x 0.5, in file order), the Flax tensors are their permutations. Inputs: 8 samples, normal, rounded
to float32, written in the Rust input order (channel, then row, then column: PyTorch's NCHW
without N). Outputs: float64, from the weights as stored in each file (rounded to its dtype):
for the PyTorch files by plain numpy loops over NCHW (cross-correlation, JAX/TF 'SAME' padding,
which for stride 1 is PyTorch's padding='same'); for the Flax files by what flax.linen computes,
in JAX with x64 (`lax.conv_general_dilated` on NHWC/HWIO, `lax.reduce_window` pools,
`x.reshape((n, -1))`, `x @ kernel + bias`). The two computations agree to 1e-13 relative on the
same weights (checked); the `.expected.txt` format is that of `safetensors_ref.py`.
"""

import itertools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_ref import TESTS_ST, fmt, rel, save_and_check  # noqa: E402

ACT = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
}

# Each network: the input shape (C, *spatial) and its layers, input to output. A conv has the
# torch / flax tensor names of its weight and bias; a pool has none.
NETWORKS = {
    "conv2d": {
        "input": (1, 6, 6),
        "seed": 2026,
        "inputs_seed": 62,
        "torch_names": "sequential",
        "layers": [
            dict(kind="conv", filters=3, k=3, stride=1, padding="same", act="relu", torch="0", flax="Conv_0"),
            dict(kind="max", k=2, stride=2),
            dict(kind="conv", filters=4, k=2, stride=1, padding="valid", act="tanh", torch="3", flax="Conv_1"),
            dict(kind="dense", outputs=3, act="identity", torch="6", flax="Dense_0"),
        ],
    },
    "conv1d": {
        "input": (2, 9),
        "seed": 1026,
        "inputs_seed": 61,
        "torch_names": "layers",
        "layers": [
            dict(kind="conv", filters=3, k=3, stride=2, padding="valid", act="relu", torch="conv", flax="Conv_0"),
            dict(kind="avg", k=2, stride=2),
            dict(kind="dense", outputs=4, act="tanh", torch="hidden", flax="Dense_0"),
            dict(kind="dense", outputs=2, act="sigmoid", torch="out", flax="Dense_1"),
        ],
    },
}


def out_len(n, k, s, padding):
    """Output positions and zeros padded before, as JAX's 'SAME'/'VALID' (and the Rust crate)."""
    if padding == "same":
        out = -(-n // s)
        return out, max((out - 1) * s + k - n, 0) // 2
    assert (n - k) % s == 0, "the Rust layers require the stride to divide n - k"
    return (n - k) // s + 1, 0


def shapes(net):
    """The shape (C, *spatial) or (features,) at each layer's input, and at the end."""
    shape, out = tuple(net["input"]), []
    for layer in net["layers"]:
        out.append(shape)
        if layer["kind"] == "conv":
            spatial = tuple(out_len(n, layer["k"], layer["stride"], layer["padding"])[0] for n in shape[1:])
            shape = (layer["filters"],) + spatial
        elif layer["kind"] in ("max", "avg"):
            shape = (shape[0],) + tuple(out_len(n, layer["k"], layer["stride"], "valid")[0] for n in shape[1:])
        else:
            shape = (layer["outputs"],)
    out.append(shape)
    return out


def draw_torch(net):
    """Weights in PyTorch's layout: {name: float64 array}, drawn in layer order, weight first."""
    rng = np.random.default_rng(net["seed"])
    params = {}
    for layer, shape in zip(net["layers"], shapes(net)):
        if layer["kind"] == "conv":
            w = (layer["filters"], shape[0]) + (layer["k"],) * (len(shape) - 1)
            params[layer["torch"] + ".weight"] = rng.standard_normal(w) * 0.5
            params[layer["torch"] + ".bias"] = rng.standard_normal(layer["filters"]) * 0.5
        elif layer["kind"] == "dense":
            params[layer["torch"] + ".weight"] = rng.standard_normal((layer["outputs"], int(np.prod(shape)))) * 0.5
            params[layer["torch"] + ".bias"] = rng.standard_normal(layer["outputs"]) * 0.5
    return params


def to_flax(net, torch):
    """The same weights as a flax.linen model holds them (flattened with sep='.')."""
    flax = {}
    for layer, shape in zip(net["layers"], shapes(net)):
        if layer["kind"] in ("max", "avg"):
            continue
        w, b = torch[layer["torch"] + ".weight"], torch[layer["torch"] + ".bias"]
        if layer["kind"] == "conv":
            kernel = np.moveaxis(w, (0, 1), (-1, -2))  # [F, C, *k] -> [*k, C, F]
        elif len(shape) > 1:
            # The dense layer after a conv or pool: Flax's input is the NHWC activation
            # flattened, rows (y, x, c); ours are (c, y, x).
            kernel = np.moveaxis(w.reshape((w.shape[0],) + shape), 1, -1).reshape(w.shape[0], -1).T
        else:
            kernel = w.T
        flax[f"params.{layer['flax']}.kernel"] = np.ascontiguousarray(kernel)
        flax[f"params.{layer['flax']}.bias"] = b
    return flax


def forward_numpy(net, p, x):
    """PyTorch semantics on one sample x (C, *spatial), plain loops; p in PyTorch's layout."""
    for layer in net["layers"]:
        if layer["kind"] == "conv":
            w, b = p[layer["torch"] + ".weight"], p[layer["torch"] + ".bias"]
            k, s, dims = layer["k"], layer["stride"], x.ndim - 1
            geo = [out_len(n, k, s, layer["padding"]) for n in x.shape[1:]]
            padded = np.zeros((x.shape[0],) + tuple((o - 1) * s + k for o, _ in geo))
            for c in range(x.shape[0]):
                src = tuple(slice(0, min(n, padded.shape[1 + i] - before)) for i, (n, (_, before)) in enumerate(zip(x.shape[1:], geo)))
                dst = tuple(slice(before, before + sl.stop) for sl, (_, before) in zip(src, geo))
                padded[(c,) + dst] = x[(c,) + src]
            z = np.zeros((w.shape[0],) + tuple(o for o, _ in geo))
            for f in range(w.shape[0]):
                for pos in itertools.product(*(range(o) for o, _ in geo)):
                    window = padded[(slice(None),) + tuple(slice(q * s, q * s + k) for q in pos)]
                    z[(f,) + pos] = b[f] + np.sum(w[f] * window)
            x = ACT[layer["act"]](z)
            assert dims in (1, 2)
        elif layer["kind"] in ("max", "avg"):
            k, s = layer["k"], layer["stride"]
            outs = [out_len(n, k, s, "valid")[0] for n in x.shape[1:]]
            z = np.zeros((x.shape[0],) + tuple(outs))
            for c in range(x.shape[0]):
                for pos in itertools.product(*(range(o) for o in outs)):
                    window = x[(c,) + tuple(slice(q * s, q * s + k) for q in pos)]
                    z[(c,) + pos] = window.max() if layer["kind"] == "max" else window.mean()
            x = z
        else:
            w, b = p[layer["torch"] + ".weight"], p[layer["torch"] + ".bias"]
            x = ACT[layer["act"]](w @ x.reshape(-1) + b)
    return x


def forward_flax(net, p, xs):
    """What the flax.linen model computes, in JAX, on a batch xs (N, C, *spatial); p in Flax's
    layout. The input is moved to channels-last, as a Flax model takes it."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    x = jnp.moveaxis(jnp.asarray(xs, dtype=jnp.float64), 1, -1)
    for layer in net["layers"]:
        dims = x.ndim - 2
        if layer["kind"] == "conv":  # flax.linen.Conv
            kernel, bias = p[f"params.{layer['flax']}.kernel"], p[f"params.{layer['flax']}.bias"]
            spec = ("NWC", "WIO", "NWC") if dims == 1 else ("NHWC", "HWIO", "NHWC")
            x = lax.conv_general_dilated(
                x, jnp.asarray(kernel), (layer["stride"],) * dims, layer["padding"].upper(),
                dimension_numbers=spec, precision=lax.Precision.HIGHEST,
            ) + jnp.asarray(bias)
            x = {"relu": jax.nn.relu, "tanh": jnp.tanh}[layer["act"]](x)
        elif layer["kind"] in ("max", "avg"):  # flax.linen.max_pool / avg_pool
            win, strides = (1,) + (layer["k"],) * dims + (1,), (1,) + (layer["stride"],) * dims + (1,)
            if layer["kind"] == "max":
                x = lax.reduce_window(x, -jnp.inf, lax.max, win, strides, "VALID")
            else:
                x = lax.reduce_window(x, 0.0, lax.add, win, strides, "VALID") / layer["k"] ** dims
        else:  # x.reshape((n, -1)), then flax.linen.Dense
            x = x.reshape((x.shape[0], -1))
            kernel, bias = p[f"params.{layer['flax']}.kernel"], p[f"params.{layer['flax']}.bias"]
            z = jnp.matmul(x, jnp.asarray(kernel), precision=lax.Precision.HIGHEST) + jnp.asarray(bias)
            x = {"identity": lambda v: v, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid}[layer["act"]](z)
    return np.asarray(x)


def write_expected(path, comments, inputs, outputs):
    lines = ["# " + c for c in comments]
    lines.append("# format: inputs -> outputs; inputs in (channel, row, column) order; float64 outputs "
                 "from the stored weights converted exactly to float64")
    for x, y in zip(inputs, outputs):
        lines.append(" ".join(fmt(t) for t in x.reshape(-1)) + " -> " + " ".join(fmt(t) for t in y))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def make(name):
    net = NETWORKS[name]
    torch = draw_torch(net)
    flax = to_flax(net, torch)
    inputs = np.random.default_rng(net["inputs_seed"]).standard_normal((8,) + net["input"])
    inputs = inputs.astype(np.float32).astype(np.float64)
    dims = " -> ".join("x".join(map(str, s)) for s in shapes(net))
    torch_stem = f"{name}-{net['torch_names']}"
    for tag, dtype in [("f32", "F32"), ("f64", "F64")]:
        path = os.path.join(TESTS_ST, f"{torch_stem}-{tag}.safetensors")
        stored = save_and_check(path, torch, dtype, metadata={"format": "pt"})
        outs = np.array([forward_numpy(net, stored, x) for x in inputs])
        write_expected(path.replace(".safetensors", ".expected.txt"), [
            f"{os.path.basename(path)}: {dtype}, metadata {{\"format\": \"pt\"}}; PyTorch layout ({net['torch_names']} names)",
            f"network {name}: {dims}; weights default_rng({net['seed']}) normal * 0.5; "
            f"inputs default_rng({net['inputs_seed']}) normal, rounded to f32",
            "outputs: numpy loops over NCHW (cross-correlation)",
        ], inputs, outs)
        print(f"wrote {rel(path)} ({os.path.getsize(path)} bytes)")

        path = os.path.join(TESTS_ST, f"{name}-flax-{tag}.safetensors")
        stored_flax = save_and_check(path, flax, dtype, metadata={"format": "flax"})
        flax_outs = forward_flax(net, stored_flax, inputs)
        # Same weights (rounded alike: a permutation commutes with rounding), two computations.
        worst = float(np.max(np.abs(flax_outs - outs) / np.maximum(np.abs(outs), 1.0)))
        assert worst < 1e-13, (name, tag, worst)
        assert all(np.array_equal(stored_flax[k], v) for k, v in to_flax(net, stored).items())
        write_expected(path.replace(".safetensors", ".expected.txt"), [
            f"{os.path.basename(path)}: {dtype}, metadata {{\"format\": \"flax\"}}; Flax linen layout (channels-last)",
            f"network {name}: {dims}; the weights of {torch_stem}-{tag} permuted to Flax's layout",
            f"outputs: flax.linen's operations in JAX on NHWC (equal to the numpy NCHW ones within {worst:.1e})",
        ], inputs, flax_outs)
        print(f"wrote {rel(path)} ({os.path.getsize(path)} bytes); numpy vs JAX {worst:.1e}")


def main():
    make("conv2d")
    make("conv1d")


if __name__ == "__main__":
    sys.exit(main())
