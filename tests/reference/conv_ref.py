"""Reference values for the convolutional layers, computed with JAX outside the Rust code.

For five small networks (conv / pool / flatten / dense stacks, odd sizes, every padding and
stride 1 and 2), writes `tests/data/conv/<name>.txt`: the inputs (x, target, lr, every layer's
parameters), then the forward pass (z and a of every layer), the loss, every delta (dL/dz), every
gradient and the parameters after one SGD step. The Rust test
`backprop-core/tests/conv_reference.rs` builds the same network from the layers' trait methods
and agrees to 1e-12.

Convolutions are `lax.conv_general_dilated` with ('NCHW', 'OIHW', 'NCHW') (PyTorch's layouts,
cross-correlation) and JAX's 'SAME' / 'VALID' padding; pools are `lax.reduce_window`;
gradients and deltas come from `jax.grad` (deltas as the gradient with respect to a zero offset
added to each layer's z). Flattening is `reshape(-1)` (C, H, W order, PyTorch's `flatten(1)`).

Run: python tests/reference/conv_ref.py   (jax[cpu] 0.10.2, numpy; jax_enable_x64)
"""
import os

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

jax.config.update("jax_enable_x64", True)

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "conv")

ACT = {
    "identity": lambda z: z,
    "relu": lambda z: jnp.maximum(z, 0.0),
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "softmax": jax.nn.softmax,
}


def conv(x, w, b, stride, padding, dims):
    # x: (C, *spatial) for one sample; w: (F, C, *kernel).
    lhs = x[None]
    spec = ("NCH", "OIH", "NCH") if dims == 1 else ("NCHW", "OIHW", "NCHW")
    z = lax.conv_general_dilated(
        lhs, w, (stride,) * dims, padding.upper(), dimension_numbers=spec, precision=lax.Precision.HIGHEST
    )[0]
    return z + b.reshape((-1,) + (1,) * dims)


def pool(x, kind, k, s, dims):
    win = (1,) + (k,) * dims
    strides = (1,) + (s,) * dims
    if kind == "max":
        return lax.reduce_window(x, -jnp.inf, lax.max, win, strides, "VALID")
    return lax.reduce_window(x, 0.0, lax.add, win, strides, "VALID") / (k**dims)


def layer_z(spec, p, x):
    kind = spec["kind"]
    if kind in ("conv1d", "conv2d"):
        return conv(x, p["w"], p["b"], spec["stride"], spec["padding"], 1 if kind == "conv1d" else 2)
    if kind in ("maxpool1d", "maxpool2d", "avgpool1d", "avgpool2d"):
        return pool(x, kind[:3], spec["k"], spec["stride"], int(kind[-2]))
    if kind == "gap":
        return x.reshape(x.shape[0], -1).mean(axis=1)
    if kind == "dense":
        return p["w"] @ x.reshape(-1) + p["b"]
    raise ValueError(kind)


def loss_of(name, z, a, t):
    if name == "half_squared":
        return 0.5 * jnp.sum((a - t) ** 2)
    if name == "bce":  # on the logits, as the Rust loss
        return jnp.sum(jax.nn.softplus(z) - t * z)
    if name == "softmax_ce":
        return -jnp.sum(t * jax.nn.log_softmax(z))
    raise ValueError(name)


def run(net, params, x, t, offsets):
    zs, as_ = [], []
    for spec, p, off in zip(net["layers"], params, offsets):
        z = layer_z(spec, p, x) + off
        a = ACT[spec["act"]](z)
        zs.append(z)
        as_.append(a)
        x = a
    return loss_of(net["loss"], zs[-1], as_[-1], t), (zs, as_)


def init(net, rng, x):
    params = []
    for spec in net["layers"]:
        kind = spec["kind"]
        p = {}
        if kind in ("conv1d", "conv2d"):
            c = x.shape[0]
            ks = (spec["k"],) * (1 if kind == "conv1d" else 2)
            p["w"] = rng.uniform(-0.6, 0.6, (spec["filters"], c) + ks)
            p["b"] = rng.uniform(-0.3, 0.3, (spec["filters"],))
        elif kind == "dense":
            p["w"] = rng.uniform(-0.6, 0.6, (spec["out"], x.size))
            p["b"] = rng.uniform(-0.3, 0.3, (spec["out"],))
        params.append(p)
        x = layer_z(spec, {k: jnp.asarray(v) for k, v in p.items()}, jnp.asarray(x))
        x = np.asarray(x)
    return params


NETS = [
    # conv2d valid s1 tanh -> flatten -> dense softmax
    dict(name="conv2d_valid_dense", input=(3, 5, 7), loss="softmax_ce", target=[0.0, 1.0, 0.0], layers=[
        dict(kind="conv2d", filters=2, k=3, stride=1, padding="valid", act="tanh"),
        dict(kind="dense", out=3, act="softmax"),
    ]),
    # conv2d same s2 relu -> avgpool2d 2/1 -> flatten -> dense sigmoid
    dict(name="conv2d_same_s2_avgpool", input=(3, 5, 7), loss="bce", target=[1.0, 0.0], layers=[
        dict(kind="conv2d", filters=2, k=3, stride=2, padding="same", act="relu"),
        dict(kind="avgpool2d", k=2, stride=1, act="identity"),
        dict(kind="dense", out=2, act="sigmoid"),
    ]),
    # conv1d same s1 tanh -> maxpool1d 3/3 -> flatten -> dense identity
    dict(name="conv1d_same_maxpool", input=(2, 9), loss="half_squared", target=[0.5, -0.25], layers=[
        dict(kind="conv1d", filters=3, k=3, stride=1, padding="same", act="tanh"),
        dict(kind="maxpool1d", k=3, stride=3, act="identity"),
        dict(kind="dense", out=2, act="identity"),
    ]),
    # conv2d valid s2 sigmoid -> conv2d same s1 (even kernel) relu -> maxpool2d -> gap -> dense
    dict(name="lenet_like", input=(2, 7, 9), loss="softmax_ce", target=[0.0, 0.0, 1.0], layers=[
        dict(kind="conv2d", filters=3, k=3, stride=2, padding="valid", act="sigmoid"),
        dict(kind="conv2d", filters=2, k=2, stride=1, padding="same", act="relu"),
        dict(kind="maxpool2d", k=2, stride=1, act="identity"),
        dict(kind="gap", act="identity"),
        dict(kind="dense", out=3, act="softmax"),
    ]),
    # conv1d valid s2 relu -> avgpool1d 2/2 -> conv1d same s2 identity -> gap -> dense sigmoid
    dict(name="conv1d_valid_s2_gap", input=(2, 11), loss="bce", target=[1.0], layers=[
        dict(kind="conv1d", filters=2, k=3, stride=2, padding="valid", act="relu"),
        dict(kind="avgpool1d", k=2, stride=1, act="identity"),
        dict(kind="conv1d", filters=3, k=2, stride=2, padding="same", act="identity"),
        dict(kind="gap", act="identity"),
        dict(kind="dense", out=1, act="sigmoid"),
    ]),
]


def fmt(name, arr):
    flat = np.asarray(arr, dtype=np.float64).reshape(-1)
    return name + " " + " ".join(repr(float(v)) for v in flat) + "\n"


def main():
    os.makedirs(OUT, exist_ok=True)
    for i, net in enumerate(NETS):
        rng = np.random.default_rng(1000 + i)
        x = rng.uniform(-1.0, 1.0, net["input"])
        t = np.asarray(net["target"])
        lr = 0.1
        params = init(net, rng, x)
        jparams = [{k: jnp.asarray(v) for k, v in p.items()} for p in params]
        _, (zs, _) = run(net, jparams, jnp.asarray(x), jnp.asarray(t), [0.0] * len(params))
        offsets = [jnp.zeros_like(z) for z in zs]

        def f(ps, offs):
            return run(net, ps, jnp.asarray(x), jnp.asarray(t), offs)[0]

        loss, (zs, as_) = run(net, jparams, jnp.asarray(x), jnp.asarray(t), offsets)
        gp, gd = jax.grad(f, argnums=(0, 1))(jparams, offsets)
        lines = [fmt("x", x), fmt("target", t), fmt("lr", [lr])]
        for j, p in enumerate(params):
            for k in ("w", "b"):
                if k in p:
                    lines.append(fmt(f"{k}{j}", p[k]))
        for j, (z, a) in enumerate(zip(zs, as_)):
            lines.append(fmt(f"z{j}", z))
            lines.append(fmt(f"a{j}", a))
        lines.append(fmt("loss", [loss]))
        for j, d in enumerate(gd):
            lines.append(fmt(f"delta{j}", d))
        # dL/dx of the input, for the first layer's input gradient.
        gx = jax.grad(lambda xx: run(net, jparams, xx, jnp.asarray(t), offsets)[0])(jnp.asarray(x))
        lines.append(fmt("dx", gx))
        for j, g in enumerate(gp):
            for k in ("w", "b"):
                if k in g:
                    lines.append(fmt(f"grad_{k}{j}", g[k]))
                    lines.append(fmt(f"sgd_{k}{j}", params[j][k] - lr * np.asarray(g[k])))
        with open(os.path.join(OUT, net["name"] + ".txt"), "w") as out:
            out.write(f"# {net['name']}: generated by tests/reference/conv_ref.py (JAX {jax.__version__})\n")
            out.writelines(lines)
        print(net["name"], float(loss))


if __name__ == "__main__":
    main()
