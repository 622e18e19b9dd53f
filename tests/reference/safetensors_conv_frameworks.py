"""Real PyTorch and Flax hold the conv reference files' tensors under the same names and shapes,
and compute the outputs recorded beside them.

Run from the repository root, once with torch and once with flax installed (venvs outside the
project: `pip install torch safetensors numpy`, `pip install flax safetensors numpy`):

    python tests/reference/safetensors_conv_frameworks.py torch
    python tests/reference/safetensors_conv_frameworks.py flax

(the output of both is kept in tests/reference/safetensors_conv_frameworks.txt).

For each file written by tests/reference/safetensors_conv_ref.py it builds the model that the file
describes in that framework, and checks:
  * the names and shapes of the model's parameters (PyTorch's `state_dict()`, Flax's
    `flatten_dict(model.init(...), sep=".")`) are exactly the file's;
  * PyTorch: `safetensors.torch.save_file` of the model's `state_dict()`, in the file's dtype and
    with its metadata, writes the same JSON header, byte for byte;
  * the model, given the file's tensors (`load_state_dict(load_file(...))`; Flax:
    `unflatten_dict` of `safetensors.numpy.load_file`), run in float64 on the inputs of
    `<stem>.expected.txt` (reshaped NCHW, or moved to NHWC for Flax), gives the outputs recorded
    there within 1e-12 relative.
Exits non-zero on any difference.
"""

import json
import os
import struct
import sys
import tempfile

import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ST = os.path.join(ROOT, "tests", "data", "safetensors")
INPUT = {"conv2d": (1, 6, 6), "conv1d": (2, 9)}


def expected(stem):
    xs, ys = [], []
    for line in open(os.path.join(ST, stem + ".expected.txt")):
        if line.startswith("#") or not line.strip():
            continue
        x, y = line.split(" -> ")
        xs.append([float(t) for t in x.split()])
        ys.append([float(t) for t in y.split()])
    return np.array(xs), np.array(ys)


def header(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    return raw[8:8 + n], json.loads(raw[8:8 + n])


def close(stem, got, want):
    worst = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1.0)))
    assert worst <= 1e-12, (stem, worst)
    return worst


def torch_models():
    import torch
    from torch import nn

    class Conv1dNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(2, 3, 3, stride=2)
            self.pool = nn.AvgPool1d(2)
            self.hidden = nn.Linear(6, 4)
            self.out = nn.Linear(4, 2)

        def forward(self, x):
            x = self.pool(torch.relu(self.conv(x)))
            return torch.sigmoid(self.out(torch.tanh(self.hidden(x.flatten(1)))))

    conv2d = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(3, 4, 2), nn.Tanh(), nn.Flatten(), nn.Linear(16, 3),
    )
    return {"conv2d-sequential": conv2d, "conv1d-layers": Conv1dNet()}


def check_torch():
    import torch
    from safetensors.torch import load_file, save_file

    dtypes = {"F32": torch.float32, "F64": torch.float64}
    for stem, model in torch_models().items():
        for tag in ["f32", "f64"]:
            path = os.path.join(ST, f"{stem}-{tag}.safetensors")
            raw, hdr = header(path)
            meta = hdr.pop("__metadata__")
            dtype = {e["dtype"] for e in hdr.values()}.pop()
            sd = model.state_dict()
            assert {k: list(v.shape) for k, v in sd.items()} == {k: e["shape"] for k, e in hdr.items()}, stem
            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "x.safetensors")
                save_file({k: v.to(dtypes[dtype]).contiguous() for k, v in sd.items()}, p, metadata=meta)
                assert header(p)[0] == raw, f"{stem}-{tag}: torch writes another header"
            model.load_state_dict(load_file(path))
            model.double()
            xs, ys = expected(f"{stem}-{tag}")
            name = stem.split("-")[0]
            with torch.no_grad():
                got = model(torch.tensor(xs.reshape((-1,) + INPUT[name]))).numpy()
            worst = close(stem, got, ys)
            print(f"ok   {stem}-{tag}: torch {torch.__version__} names, shapes and header equal; "
                  f"outputs within {worst:.1e}")


def check_flax():
    import flax
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    from flax.traverse_util import flatten_dict, unflatten_dict
    from safetensors.numpy import load_file

    jax.config.update("jax_enable_x64", True)
    highest = jax.lax.Precision.HIGHEST

    class Conv2dNet(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Conv(3, (3, 3), padding="SAME", precision=highest)(x))
            x = nn.max_pool(x, (2, 2), strides=(2, 2))
            x = jnp.tanh(nn.Conv(4, (2, 2), padding="VALID", precision=highest)(x))
            return nn.Dense(3, precision=highest)(x.reshape((x.shape[0], -1)))

    class Conv1dNet(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Conv(3, (3,), strides=(2,), padding="VALID", precision=highest)(x))
            x = nn.avg_pool(x, (2,), strides=(2,))
            x = jnp.tanh(nn.Dense(4, precision=highest)(x.reshape((x.shape[0], -1))))
            return nn.sigmoid(nn.Dense(2, precision=highest)(x))

    for name, model in [("conv2d", Conv2dNet()), ("conv1d", Conv1dNet())]:
        nhwc = INPUT[name][1:] + INPUT[name][:1]
        init = flatten_dict(model.init(jax.random.PRNGKey(0), jnp.zeros((1,) + nhwc)), sep=".")
        for tag in ["f32", "f64"]:
            stem = f"{name}-flax-{tag}"
            tensors = load_file(os.path.join(ST, stem + ".safetensors"))
            assert {k: v.shape for k, v in init.items()} == {k: v.shape for k, v in tensors.items()}, stem
            variables = unflatten_dict({k: jnp.asarray(v, jnp.float64) for k, v in tensors.items()}, sep=".")
            xs, ys = expected(stem)
            x = np.moveaxis(xs.reshape((-1,) + INPUT[name]), 1, -1)
            got = np.asarray(model.apply(variables, jnp.asarray(x)))
            worst = close(stem, got, ys)
            print(f"ok   {stem}: flax {flax.__version__} names and shapes equal; outputs within {worst:.1e}")


def main(argv):
    if len(argv) != 2 or argv[1] not in ("torch", "flax"):
        print(__doc__)
        return 2
    check_torch() if argv[1] == "torch" else check_flax()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
