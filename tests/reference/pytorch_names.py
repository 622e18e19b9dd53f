"""Real PyTorch writes the same names, shapes, dtypes and headers as our reference files.

Run from the repository root, with torch and safetensors installed (a venv outside the project;
`pip install torch safetensors numpy` from PyPI takes about a minute here, 5 GB):

    python tests/reference/pytorch_names.py > tests/reference/pytorch_names.txt

For every PyTorch-layout file written by tests/reference/safetensors_ref.py it builds the
equivalent torch model, saves `model.state_dict()` (converted to the file's dtype) with
`safetensors.torch.save_file` and the same metadata, and checks that the names, shapes and dtypes
are those of our file, and that the whole JSON header is byte for byte the same (only the weight
values differ). Then:
  * torch's own conversions reproduce our rounded files: small-f32 `.to(torch.bfloat16)` is
    small-bf16 bit for bit, and small-f64 `.to(torch.float16)` is small-f16;
  * `safetensors.torch.load_file` reads every file, BF16 included, to the same values as the
    float64 expected outputs were computed from (checked by running the model in float64 on the
    inputs of `<stem>.expected.txt`: equal within 1e-14 relative, as the only difference is the
    order of float64 operations);
  * examples/data/digits-pytorch.safetensors loads into the torch module with
    `load_state_dict(safetensors.torch.load_file(...))` and gives the test accuracy written in
    examples/data/digits-pytorch.txt.
Exits non-zero on any difference.
"""

import gzip
import json
import os
import struct
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import load_file, save_file

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ST = os.path.join(ROOT, "tests", "data", "safetensors")
DTYPES = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32, "F64": torch.float64}


class TwoLayer(torch.nn.Module):
    def __init__(self, i, h, o, act, out_act):
        super().__init__()
        self.hidden = torch.nn.Linear(i, h)
        self.output = torch.nn.Linear(h, o)
        self.act, self.out_act = act, out_act

    def forward(self, x):
        return self.out_act(self.output(self.act(self.hidden(x))))


def identity(x):
    return x


def softmax(x):
    return torch.softmax(x, dim=-1)


def sequential():
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 6), torch.nn.Tanh(),
                               torch.nn.Linear(6, 3), torch.nn.Softmax(dim=-1))


MODELS = [  # (path relative to the root, model factory, metadata)
    ("tests/data/safetensors/small-f32.safetensors", lambda: TwoLayer(3, 5, 2, torch.tanh, torch.sigmoid), {"format": "pt"}),
    ("tests/data/safetensors/small-f64.safetensors", lambda: TwoLayer(3, 5, 2, torch.tanh, torch.sigmoid), {"format": "pt"}),
    ("tests/data/safetensors/small-f16.safetensors", lambda: TwoLayer(3, 5, 2, torch.tanh, torch.sigmoid), {"format": "pt"}),
    ("tests/data/safetensors/small-bf16.safetensors", lambda: TwoLayer(3, 5, 2, torch.tanh, torch.sigmoid), {"format": "pt"}),
    ("tests/data/safetensors/iris-sequential-f32.safetensors", sequential, None),
    ("tests/data/safetensors/iris-sequential-f64.safetensors", sequential, None),
    ("examples/cortex-m/baked/xor-pytorch.safetensors", lambda: TwoLayer(2, 4, 1, torch.tanh, torch.sigmoid), {"format": "pt"}),
    ("examples/data/digits-pytorch.safetensors", lambda: TwoLayer(64, 32, 10, torch.relu, softmax), {"format": "pt"}),
]


def header(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    return raw[8:8 + n], json.loads(raw[8:8 + n])


def fail(msg):
    print("FAIL", msg)
    sys.exit(1)


def read_expected(path):
    rows = []
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        a, b = line.split("->")
        rows.append(([float(t) for t in a.split()], [float(t) for t in b.split()]))
    return rows


def main():
    torch.manual_seed(0)
    print(f"# torch {torch.__version__.split('+')[0]}; output of tests/reference/pytorch_names.py")
    with tempfile.TemporaryDirectory() as tmp:
        for rel, make, meta in MODELS:
            path = os.path.join(ROOT, rel)
            ours_raw, ours = header(path)
            dts = {e["dtype"] for k, e in ours.items() if k != "__metadata__"}
            assert len(dts) == 1
            dt = dts.pop()
            model = make()
            sd = {k: v.to(DTYPES[dt]) for k, v in model.state_dict().items()}
            p = os.path.join(tmp, "m.safetensors")
            save_file(sd, p, metadata=meta)
            theirs_raw, theirs = header(p)
            print(f"{rel}: {type(model).__name__ if not isinstance(model, torch.nn.Sequential) else 'nn.Sequential'}, "
                  f"metadata {json.dumps(theirs.get('__metadata__'))}")
            for k in sorted(k for k in theirs if k != "__metadata__"):
                print(f"  {k} {theirs[k]['dtype']} {theirs[k]['shape']}")
            names_t = {k: (e["dtype"], e["shape"]) for k, e in theirs.items() if k != "__metadata__"}
            names_o = {k: (e["dtype"], e["shape"]) for k, e in ours.items() if k != "__metadata__"}
            if names_t != names_o:
                fail(f"{rel}: torch {names_t} != ours {names_o}")
            if theirs_raw != ours_raw:
                fail(f"{rel}: headers differ:\n  torch {theirs_raw!r}\n  ours  {ours_raw!r}")
            print("  same names, shapes, dtypes; JSON header byte for byte identical")

            # the file loads into the model and runs the expected lines in float64
            m64 = make().double()  # float64 parameters: every stored dtype widens exactly
            m64.load_state_dict(load_file(path))
            exp = path.replace(".safetensors", ".expected.txt")
            if os.path.exists(exp):
                worst = 0.0
                for x, y in read_expected(exp):
                    with torch.no_grad():
                        out = m64(torch.tensor([x], dtype=torch.float64))[0].numpy()
                    worst = max(worst, float(np.max(np.abs(out - np.array(y)) / np.abs(np.array(y)))))
                if worst > 1e-14:
                    fail(f"{rel}: torch float64 forward differs from {os.path.basename(exp)} by {worst:.3g} relative")
                print(f"  load_state_dict(load_file(...)) in float64 reproduces {os.path.basename(exp)} "
                      f"(largest relative difference {'0' if worst == 0 else f'{worst:.1e}'})")

    # torch's own rounding gives our F16 and BF16 files
    f32, f64 = load_file(os.path.join(ST, "small-f32.safetensors")), load_file(os.path.join(ST, "small-f64.safetensors"))
    bf16, f16 = load_file(os.path.join(ST, "small-bf16.safetensors")), load_file(os.path.join(ST, "small-f16.safetensors"))
    for k in sorted(f32):
        if not torch.equal(f32[k].to(torch.bfloat16).view(torch.int16), bf16[k].view(torch.int16)):
            fail(f"small-bf16 {k}: not small-f32 .to(torch.bfloat16)")
        if not torch.equal(f64[k].to(torch.float16).view(torch.int16), f16[k].view(torch.int16)):
            fail(f"small-f16 {k}: not small-f64 .to(torch.float16)")
    print("small-bf16 == small-f32 .to(torch.bfloat16) and small-f16 == small-f64 .to(torch.float16), bit for bit")

    # digits: the torch module gives the recorded accuracy
    model = TwoLayer(64, 32, 10, torch.relu, identity)
    model.load_state_dict(load_file(os.path.join(ROOT, "examples", "data", "digits-pytorch.safetensors")))
    with gzip.open(os.path.join(ROOT, "examples", "data", "digits.csv.gz"), "rt") as f:
        rows = np.array([[int(v) for v in line.split(",")] for line in f if line.strip()])
    test = rows[np.arange(len(rows)) % 5 == 0]
    x = torch.tensor(test[:, :64] / 16.0, dtype=torch.float32)
    with torch.no_grad():
        pred = model(x).argmax(1).numpy()
    correct = int((pred == test[:, 64]).sum())
    recorded = dict(line.split() for line in open(os.path.join(ROOT, "examples", "data", "digits-pytorch.txt")))
    print(f"digits-pytorch.safetensors in torch (float32): {correct}/{len(test)} correct, accuracy {correct / len(test):.4f}"
          f" (digits-pytorch.txt: {recorded['correct']}/{recorded['test_samples']})")
    if correct != int(recorded["correct"]):
        fail("digits accuracy differs")
    print("all checks passed")


if __name__ == "__main__":
    main()
