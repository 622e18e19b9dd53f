"""Independent reference for tests/optim.rs: every optimizer's update rule, written from the
algorithm boxes of PyTorch's documentation (torch.optim.SGD / Adam / AdamW), run in 50-digit
decimal arithmetic. Hyperparameters and starting values are the exact binary64 values the
Rust test uses (Decimal(float) is exact). Run: python3 tests/reference/optim.py
"""
from decimal import Decimal as D, getcontext

getcontext().prec = 50

W0 = [[0.5, -0.25], [0.125, 1.0]]
B0 = [0.1, -0.2]
XS = [[1.0, 2.0], [-1.5, 0.5]]
TS = [[0.5, -1.0], [1.0, 0.25]]


def flat(w, b):
    return [w[0][0], w[0][1], w[1][0], w[1][1], b[0], b[1]]


def grad(p):
    """Mean gradient of 0.5 * |W x + b - t|^2 over the two samples; p flat as above."""
    w = [[p[0], p[1]], [p[2], p[3]]]
    b = [p[4], p[5]]
    g = [D(0)] * 6
    for x, t in zip(XS, TS):
        x = [D(v) for v in x]
        t = [D(v) for v in t]
        r = [w[o][0] * x[0] + w[o][1] * x[1] + b[o] - t[o] for o in range(2)]
        for o in range(2):
            g[2 * o] += r[o] * x[0]
            g[2 * o + 1] += r[o] * x[1]
            g[4 + o] += r[o]
    return [v / 2 for v in g]


def sgd(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, steps=3):
    lr, mu, tau, wd = D(lr), D(momentum), D(dampening), D(weight_decay)
    p = [D(v) for v in flat(W0, B0)]
    buf = None
    out = []
    for t in range(1, steps + 1):
        g = grad(p)
        g = [gi + wd * pi for gi, pi in zip(g, p)]
        if mu != 0:
            if t > 1:
                buf = [mu * bi + (1 - tau) * gi for bi, gi in zip(buf, g)]
            else:
                buf = list(g)
            if nesterov:
                g = [gi + mu * bi for gi, bi in zip(g, buf)]
            else:
                g = buf
        p = [pi - lr * gi for pi, gi in zip(p, g)]
        out += p
    return out


def adam(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False, steps=3):
    lr, b1, b2, eps, wd = D(lr), D(betas[0]), D(betas[1]), D(eps), D(weight_decay)
    p = [D(v) for v in flat(W0, B0)]
    m = [D(0)] * 6
    v = [D(0)] * 6
    out = []
    for t in range(1, steps + 1):
        g = grad(p)
        if decoupled:
            p = [pi * (1 - lr * wd) for pi in p]
        elif wd != 0:
            g = [gi + wd * pi for gi, pi in zip(g, p)]
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
        v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
        mhat = [mi / (1 - b1 ** t) for mi in m]
        vhat = [vi / (1 - b2 ** t) for vi in v]
        p = [pi - lr * mh / (vh.sqrt() + eps) for pi, mh, vh in zip(p, mhat, vhat)]
        out += p
    return out


CASES = [
    ("SGD_LR_0_1", sgd(0.1)),
    ("SGD_WD", sgd(0.1, weight_decay=0.01)),
    ("MOMENTUM", sgd(0.1, momentum=0.9)),
    ("MOMENTUM_DAMPENED_WD", sgd(0.1, momentum=0.9, dampening=0.5, weight_decay=0.01)),
    ("NESTEROV", sgd(0.1, momentum=0.9, nesterov=True)),
    ("ADAM", adam(0.1)),
    ("ADAM_L2", adam(0.1, weight_decay=0.1)),
    ("ADAM_BETAS_EPS", adam(0.05, betas=(0.8, 0.99), eps=1e-3)),
    ("ADAMW", adam(0.1, weight_decay=0.1, decoupled=True)),
]

for name, values in CASES:
    print(f"const {name}: [[f64; 6]; 3] = [")
    for s in range(3):
        print("    [" + ", ".join(format(values[6 * s + i], ".20e") for i in range(6)) + "],")
    print("];")
