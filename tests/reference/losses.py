"""Independent reference for tests/loss_reference.rs: every loss and every output delta at
extreme logits, in 500-digit arithmetic (mpmath), rounded correctly to f32 and f64.

Each input is first converted to the binary value the Rust test uses (numpy.float32 / float),
and that binary value is taken exactly; the exact results are then rounded to nearest (ties to
even) in the format, subnormals included. Losses and deltas are written from their definitions,
not from the Rust formulas, and evaluated as written: 500 digits resolve every term of this grid
(the largest logit gap is below 1000, so no e^-gap is below 1e-435 next to 1), except the
+-3e38 logits, whose tiny terms (e^-3e38) only decide values that round to zero anyway. Every
line is computed again at 1000 digits and must come out the same.

  hse  (identity output)  L = 1/2 sum (z - t)^2             delta = z - t
  bce  (sigmoid output)   L = sum ln(1 + e^z) - t z         delta = 1 / (1 + e^-z) - t
  sce  (softmax output)   L = sum t_j (ln sum_i e^z_i - z_j)   delta_j = p_j sum(t) - t_j

Output: tests/reference/losses.txt, one case a line:
  <loss> <f32|f64> <n> z <n hex bits> t <n hex bits> L <bits> d <n bits>
where an expected value is the hex bit pattern of the correctly rounded exact value, or `exact0`
when the exact value is zero (not merely rounded to zero: a value is called exactly zero only when
every logit gap is below 1000, so that 500 digits resolve it).
Run: /work/venv/bin/python tests/reference/losses.py  (python3 -m venv + pip install mpmath numpy)
"""
import os
import struct

import mpmath
import numpy as np
from mpmath import mp, mpf

DIGITS = (500, 1000)

FORMATS = {
    # name: (precision bits, smallest normal exponent, bits width)
    "f32": (24, -126, 32),
    "f64": (53, -1022, 64),
}


def as_binary(x, fmt):
    """The value the Rust test holds for literal x: (exact mpf, hex bits)."""
    if fmt == "f32":
        v = np.float32(x)
        return mpf(float(v)), "0x%08x" % struct.unpack("<I", struct.pack("<f", float(v)))[0]
    v = float(x)
    return mpf(v), "0x%016x" % struct.unpack("<Q", struct.pack("<d", v))[0]


def round_to(v, fmt):
    """Hex bits of v rounded to nearest-even in fmt (subnormals on the fixed grid)."""
    p, emin, width = FORMATS[fmt]
    if v == 0:
        r = 0.0
    else:
        _, e = mpmath.frexp(v)  # v = m 2^e, 1/2 <= |m| < 1
        spacing = mpmath.ldexp(1, max(e - 1, emin) - (p - 1))
        r = mpmath.nint(v / spacing) * spacing  # nint rounds half to even
        r = float(r)  # exact: r has at most p significant bits
        largest = float((2 - mpmath.ldexp(1, 1 - p)) * mpmath.ldexp(1, 1 - emin))
        if abs(r) > largest:  # beyond the largest finite value: rounds to infinity
            r = float("inf") if r > 0 else float("-inf")
    if fmt == "f32":
        return "0x%08x" % struct.unpack("<I", struct.pack("<f", r))[0]
    return "0x%016x" % struct.unpack("<Q", struct.pack("<d", r))[0]


def out(v, fmt, resolved):
    return "exact0" if v == 0 and resolved else round_to(v, fmt)


def softplus(z):
    return mpmath.log(1 + mpmath.exp(z))


def sigmoid(z):
    return 1 / (1 + mpmath.exp(-z))


def hse(z, t):
    d = [zi - ti for zi, ti in zip(z, t)]
    return sum(di * di for di in d) / 2, d


def bce(z, t):
    loss = sum(softplus(zi) - ti * zi for zi, ti in zip(z, t))
    return loss, [sigmoid(zi) - ti for zi, ti in zip(z, t)]


def sce(z, t):
    lse = mpmath.log(sum(mpmath.exp(zi) for zi in z))
    total = sum(t)
    loss = sum(tj * (lse - zj) for zj, tj in zip(z, t))
    return loss, [mpmath.exp(zj - lse) * total - tj for zj, tj in zip(z, t)]


LOSSES = {"hse": hse, "bce": bce, "sce": sce}


def line_at(digits, kind, fmt, zs, ts):
    with mp.workdps(digits):
        z = [as_binary(v, fmt) for v in zs]
        t = [as_binary(v, fmt) for v in ts]
        loss, delta = LOSSES[kind]([v for v, _ in z], [v for v, _ in t])
        spread = max(v for v, _ in z) - (min(v for v, _ in z) if kind == "sce" else 0)
        resolved = max(spread, max(abs(v) for v, _ in z)) < 1000 if kind != "hse" else True
        return " ".join(
            [kind, fmt, str(len(zs)), "z"]
            + [b for _, b in z]
            + ["t"]
            + [b for _, b in t]
            + ["L", out(loss, fmt, resolved), "d"]
            + [out(d, fmt, resolved) for d in delta]
        )


def line(kind, fmt, zs, ts):
    first, again = (line_at(d, kind, fmt, zs, ts) for d in DIGITS)
    assert first == again, (first, again)
    return first


def cases():
    out_lines = []
    for fmt in ("f32", "f64"):
        # Half squared error on an identity output (moderate values: the loss is a sum of squares).
        for zs, ts in [
            ([0.5, -2.0], [1.0, 1.0]),
            ([1.0 + 2**-20, 1e-8], [1.0, 0.0]),
            ([100.0, -3.5], [99.75, -3.5]),
            ([0.3, 0.7], [0.1, 0.9]),
            ([1e-20, -1e10], [0.0, 1.0]),
        ]:
            out_lines.append(line("hse", fmt, zs, ts))

        # Binary cross-entropy on a sigmoid output: one logit per line, every target.
        mags = [0.0, 1e-8, 0.5, 1.0, 2.0, 10.0, 17.0, 20.0, 30.0, 37.0, 50.0, 87.0, 88.0, 100.0,
                103.0, 700.0, 709.0, 745.0, 746.0, 1000.0, 3e38]
        targets = [1.0, 0.0, 0.5, 0.25, 0.9, 1e-3, 0.999]
        for mag in mags:
            for z in ([mag, -mag] if mag != 0.0 else [0.0, -0.0]):
                for t in targets:
                    out_lines.append(line("bce", fmt, [z], [t]))
        # Two outputs at once (the loss is their sum).
        for zs, ts in [([17.0, -17.0], [1.0, 0.0]), ([30.0, 0.5], [1.0, 0.25]), ([-10.0, 10.0], [0.0, 1.0])]:
            out_lines.append(line("bce", fmt, zs, ts))

        # Softmax cross-entropy.
        def onehots(n):
            return [[1.0 if j == k else 0.0 for j in range(n)] for k in range(n)]

        def soft(n):
            u = [1.0 / n] * n
            peaked = [0.9] + [0.1 / (n - 1)] * (n - 1)
            tail = [0.0] * (n - 1) + [1.0]  # one-hot, last class
            mixed = [0.5, 0.5] + [0.0] * (n - 2)
            return [u, peaked, tail, mixed]

        logit_sets = []
        for gap in [5.0, 10.0, 17.0, 20.0, 30.0, 40.0, 60.0, 88.0, 104.0, 200.0, 720.0, 745.0]:
            for n in (2, 3, 10):
                # The first class dominates by `gap`; the others spread below it.
                top = 100.0 + 0.3
                logit_sets.append([top] + [top - gap - 0.37 * j for j in range(n - 1)])
        for n in (2, 3, 10):
            logit_sets.append([100.0] * n)  # all tied
            logit_sets.append([100.0, 100.0] + [100.0 - 25.0 - j for j in range(n - 2)])  # top tie
            logit_sets.append([-100.0] + [100.0 + 0.1 * j for j in range(n - 1)])  # one far below
            logit_sets.append([100.0] + [-100.1 - 3.3 * j for j in range(n - 1)])  # inexact gaps
            logit_sets.append([1e-8 * (j - 1) for j in range(n)])  # nearly tied near 0
            logit_sets.append([0.1 * j * (-1) ** j for j in range(n)])
            logit_sets.append([30.0 - 7.0 * j for j in range(n)])
        logit_sets.append([3e38, -3e38, 0.0])
        for zs in logit_sets:
            n = len(zs)
            for ts in onehots(n) + soft(n):
                out_lines.append(line("sce", fmt, zs, ts))
    return out_lines


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    lines = cases()
    with open(os.path.join(here, "losses.txt"), "w") as f:
        f.write("# Generated by tests/reference/losses.py (mpmath, 500 digits); see its docstring.\n")
        for s in lines:
            f.write(s + "\n")
    print(len(lines), "cases")
