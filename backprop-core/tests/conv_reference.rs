//! The convolutional layers against JAX: five small networks composed by hand from the layers'
//! trait methods (as `network!` composes them), every value of `tests/data/conv/*.txt`
//! (written by `tests/reference/conv_ref.py`) to 1e-12: forward (`z` and `a` of every layer),
//! loss, every delta, `dL/dx`, every gradient and one SGD step, by the fused single-sample path
//! and by the batched path.

use backprop_core::conv::{flatten, flatten_batch, flatten_mut, flatten_tile};
use backprop_core::layer::LayerBatch;
use backprop_core::{
    AvgPool1d, AvgPool2d, BinaryCrossEntropy, Conv1d, Conv2d, Dense, GlobalAvgPool1d, GlobalAvgPool2d,
    HalfSquaredError, Identity, Layer, LayerTrace, MaxPool1d, MaxPool2d, Relu, Same, Shape, Sigmoid, Softmax,
    SoftmaxCrossEntropy, Tanh, Valid,
};

const TOLERANCE: f64 = 1e-12;

struct Reference {
    name: &'static str,
    values: Vec<(String, Vec<f64>)>,
}

impl Reference {
    fn load(name: &'static str) -> Self {
        let path = format!("{}/../tests/data/conv/{name}.txt", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let values = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let mut words = l.split_whitespace();
                let key = words.next().unwrap().to_string();
                (key, words.map(|w| w.parse::<f64>().unwrap()).collect())
            })
            .collect();
        Self { name, values }
    }

    fn get(&self, key: &str) -> &[f64] {
        &self.values.iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("{}: no {key}", self.name)).1
    }

    fn shape<S: Shape<Scalar = f64>>(&self, key: &str) -> S {
        let mut s = S::ZERO;
        s.flat_mut().copy_from_slice(self.get(key));
        s
    }

    fn layer<L: Layer<f64>>(&self, j: usize) -> L {
        let mut l = L::ZEROED;
        if L::LEN > 0 {
            let (w, b) = (self.get(&format!("w{j}")), self.get(&format!("b{j}")));
            l.params_mut()[..L::WEIGHTS].copy_from_slice(w);
            l.params_mut()[L::WEIGHTS..].copy_from_slice(b);
        }
        l
    }

    /// The largest difference, relative to `max(1, |reference|)`; fails above the tolerance.
    fn check(&self, key: &str, got: &[f64]) -> f64 {
        let want = self.get(key);
        assert_eq!(want.len(), got.len(), "{}: {key}: length", self.name);
        let worst = want.iter().zip(got).map(|(w, g)| (w - g).abs() / w.abs().max(1.0)).fold(0.0, f64::max);
        assert!(
            worst <= TOLERANCE,
            "{}: {key}: off by {worst:e}\n  want {want:?}\n  got  {got:?}",
            self.name
        );
        worst
    }

    fn check_grad<L: Layer<f64>>(&self, j: usize, prefix: &str, g: &L) -> f64 {
        if L::LEN == 0 {
            return 0.0;
        }
        let p = g.params();
        self.check(&format!("{prefix}w{j}"), &p[..L::WEIGHTS])
            .max(self.check(&format!("{prefix}b{j}"), &p[L::WEIGHTS..]))
    }
}

fn lr(r: &Reference) -> f64 {
    r.get("lr")[0]
}

fn one<S: Copy>(x: &S) -> [S; 1] {
    [*x]
}

#[test]
fn conv2d_valid_dense() {
    type C0 = Conv2d<f64, Valid, 3, 5, 7, 2, 3, 1, 3, 5>;
    type D1 = Dense<f64, 30, 3>;
    let r = Reference::load("conv2d_valid_dense");
    let (c0, d1): (C0, D1) = (r.layer(0), r.layer(1));
    let x: [[[f64; 7]; 5]; 3] = r.shape("x");
    let t: [f64; 3] = r.shape("target");

    let (mut t0, mut t1) = (LayerTrace::zeroed(), LayerTrace::zeroed());
    c0.forward::<Tanh>(&x, &mut t0);
    d1.forward::<Softmax>(flatten(&t0.a), &mut t1);
    let loss = t1.loss_delta::<SoftmaxCrossEntropy, Softmax>(&t);
    let (mut g0, mut g1, mut dx) = (C0::ZEROED, D1::ZEROED, Shape::ZERO);
    d1.backward::<false>(flatten(&t0.a), &t1.delta, &mut g1, flatten_mut(&mut t0.delta));
    t0.activation_backward::<Tanh>();
    c0.backward::<false>(&x, &t0.delta, &mut g0, &mut dx);

    let mut worst = 0.0f64;
    for (key, v) in [("z0", t0.z.flat()), ("a0", t0.a.flat()), ("z1", &t1.z), ("a1", &t1.a)] {
        worst = worst.max(r.check(key, v));
    }
    worst = worst.max(r.check("loss", &[loss]));
    worst = worst.max(r.check("delta0", t0.delta.flat())).max(r.check("delta1", &t1.delta));
    worst = worst.max(r.check("dx", dx.flat()));
    worst = worst.max(r.check_grad(0, "grad_", &g0)).max(r.check_grad(1, "grad_", &g1));

    // One SGD step, fused, top-down as generated code does it.
    let (mut s0, mut s1) = (c0, d1);
    s1.backward_sgd(flatten(&t0.a), &t1.delta, lr(&r), &mut [0.0; 30]);
    s0.sgd(&x, &t0.delta, lr(&r));
    worst = worst.max(r.check_grad(0, "sgd_", &s0)).max(r.check_grad(1, "sgd_", &s1));

    // The batched path, one sample: the same bits.
    let (mut b0, mut b1) = (LayerBatch::zeroed(), LayerBatch::zeroed());
    let xs = one(&x);
    c0.forward_batch::<Tanh, 1>(&xs, &mut b0);
    d1.forward_batch::<Softmax, 1>(flatten_tile(b0.outputs()), &mut b1);
    assert_eq!((b0.a[0], b1.a[0]), (t0.a, t1.a));
    b1.loss_delta::<SoftmaxCrossEntropy, Softmax>(&[t]);
    let (mut q0, mut q1) = (c0, d1);
    let (mut h0, mut h1) = (C0::ZEROED, D1::ZEROED);
    q1.backward_batch_sgd(flatten_batch(&mut b0), &b1, 1.0, lr(&r), &mut h1);
    b0.activation_backward::<Tanh>();
    q0.batch_sgd(&xs, &b0, 1.0, lr(&r), &mut h0);
    assert_eq!(q0, s0); // the same bits; the dense layer's batched kernels round differently
    worst = worst.max(r.check_grad(1, "sgd_", &q1));
    eprintln!("conv2d_valid_dense: worst {worst:e}");
}

#[test]
fn conv2d_same_s2_avgpool() {
    type C0 = Conv2d<f64, Same, 3, 5, 7, 2, 3, 2, 3, 4>;
    type P1 = AvgPool2d<f64, 2, 3, 4, 2, 1, 2, 3>;
    type D2 = Dense<f64, 12, 2>;
    let r = Reference::load("conv2d_same_s2_avgpool");
    let (c0, p1, d2): (C0, P1, D2) = (r.layer(0), r.layer(1), r.layer(2));
    let x: [[[f64; 7]; 5]; 3] = r.shape("x");
    let t: [f64; 2] = r.shape("target");

    let (mut t0, mut t1, mut t2) = (LayerTrace::zeroed(), LayerTrace::zeroed(), LayerTrace::zeroed());
    c0.forward::<Relu>(&x, &mut t0);
    p1.forward::<Identity>(&t0.a, &mut t1);
    d2.forward::<Sigmoid>(flatten(&t1.a), &mut t2);
    let loss = t2.loss_delta::<BinaryCrossEntropy, Sigmoid>(&t);
    let (mut g0, mut g1, mut g2, mut dx) = (C0::ZEROED, P1::ZEROED, D2::ZEROED, Shape::ZERO);
    d2.backward::<false>(flatten(&t1.a), &t2.delta, &mut g2, flatten_mut(&mut t1.delta));
    t1.activation_backward::<Identity>();
    p1.backward::<false>(&t0.a, &t1.delta, &mut g1, &mut t0.delta);
    t0.activation_backward::<Relu>();
    c0.backward::<false>(&x, &t0.delta, &mut g0, &mut dx);

    let mut worst = 0.0f64;
    for (key, v) in [
        ("z0", t0.z.flat()),
        ("a0", t0.a.flat()),
        ("z1", t1.z.flat()),
        ("a1", t1.a.flat()),
        ("z2", &t2.z),
        ("a2", &t2.a),
    ] {
        worst = worst.max(r.check(key, v));
    }
    worst = worst.max(r.check("loss", &[loss]));
    for (key, v) in
        [("delta0", t0.delta.flat()), ("delta1", t1.delta.flat()), ("delta2", &t2.delta), ("dx", dx.flat())]
    {
        worst = worst.max(r.check(key, v));
    }
    worst = worst.max(r.check_grad(0, "grad_", &g0)).max(r.check_grad(2, "grad_", &g2));

    let (mut s0, mut s1, mut s2) = (c0, p1, d2);
    let (mut d1, mut d0) = ([[[0.0; 3]; 2]; 2], [[[0.0; 4]; 3]; 2]);
    s2.backward_sgd(flatten(&t1.a), &t2.delta, lr(&r), flatten_mut(&mut d1));
    s1.backward_sgd(&t0.a, &d1, lr(&r), &mut d0);
    let mut u0 = LayerTrace { z: t0.z, a: t0.a, delta: d0 };
    u0.activation_backward::<Relu>();
    assert_eq!(u0.delta, t0.delta);
    s0.sgd(&x, &u0.delta, lr(&r));
    worst = worst.max(r.check_grad(0, "sgd_", &s0)).max(r.check_grad(2, "sgd_", &s2));
    assert_eq!(s1, p1);
    eprintln!("conv2d_same_s2_avgpool: worst {worst:e}");
}

#[test]
fn conv1d_same_maxpool() {
    type C0 = Conv1d<f64, Same, 2, 9, 3, 3, 1, 9>;
    type P1 = MaxPool1d<f64, 3, 9, 3, 3, 3>;
    type D2 = Dense<f64, 9, 2>;
    let r = Reference::load("conv1d_same_maxpool");
    let (c0, p1, d2): (C0, P1, D2) = (r.layer(0), r.layer(1), r.layer(2));
    let x: [[f64; 9]; 2] = r.shape("x");
    let t: [f64; 2] = r.shape("target");

    let (mut t0, mut t1, mut t2) = (LayerTrace::zeroed(), LayerTrace::zeroed(), LayerTrace::zeroed());
    c0.forward::<Tanh>(&x, &mut t0);
    p1.forward::<Identity>(&t0.a, &mut t1);
    d2.forward::<Identity>(flatten(&t1.a), &mut t2);
    let loss = t2.loss_delta::<HalfSquaredError, Identity>(&t);
    let (mut g0, mut g1, mut g2, mut dx) = (C0::ZEROED, P1::ZEROED, D2::ZEROED, Shape::ZERO);
    d2.backward::<false>(flatten(&t1.a), &t2.delta, &mut g2, flatten_mut(&mut t1.delta));
    p1.backward::<false>(&t0.a, &t1.delta, &mut g1, &mut t0.delta);
    t0.activation_backward::<Tanh>();
    c0.backward::<false>(&x, &t0.delta, &mut g0, &mut dx);

    let mut worst = r.check("loss", &[loss]);
    for (key, v) in [
        ("z0", t0.z.flat()),
        ("a0", t0.a.flat()),
        ("z1", t1.z.flat()),
        ("a1", t1.a.flat()),
        ("z2", &t2.z[..]),
        ("a2", &t2.a[..]),
        ("delta0", t0.delta.flat()),
        ("delta1", t1.delta.flat()),
        ("delta2", &t2.delta[..]),
        ("dx", dx.flat()),
    ] {
        worst = worst.max(r.check(key, v));
    }
    worst = worst.max(r.check_grad(0, "grad_", &g0)).max(r.check_grad(2, "grad_", &g2));
    let mut s0 = c0;
    s0.sgd(&x, &t0.delta, lr(&r));
    worst = worst.max(r.check_grad(0, "sgd_", &s0));
    eprintln!("conv1d_same_maxpool: worst {worst:e}");
}

#[test]
fn lenet_like() {
    type C0 = Conv2d<f64, Valid, 2, 7, 9, 3, 3, 2, 3, 4>;
    type C1 = Conv2d<f64, Same, 3, 3, 4, 2, 2, 1, 3, 4>;
    type P2 = MaxPool2d<f64, 2, 3, 4, 2, 1, 2, 3>;
    type G3 = GlobalAvgPool2d<f64, 2, 2, 3>;
    type D4 = Dense<f64, 2, 3>;
    let r = Reference::load("lenet_like");
    let (c0, c1, p2, g3, d4): (C0, C1, P2, G3, D4) =
        (r.layer(0), r.layer(1), r.layer(2), r.layer(3), r.layer(4));
    let x: [[[f64; 9]; 7]; 2] = r.shape("x");
    let t: [f64; 3] = r.shape("target");

    let mut t0 = LayerTrace::zeroed();
    let mut t1 = LayerTrace::zeroed();
    let mut t2 = LayerTrace::zeroed();
    let mut t3 = LayerTrace::zeroed();
    let mut t4 = LayerTrace::zeroed();
    c0.forward::<Sigmoid>(&x, &mut t0);
    c1.forward::<Relu>(&t0.a, &mut t1);
    p2.forward::<Identity>(&t1.a, &mut t2);
    g3.forward::<Identity>(&t2.a, &mut t3);
    d4.forward::<Softmax>(&t3.a, &mut t4);
    let loss = t4.loss_delta::<SoftmaxCrossEntropy, Softmax>(&t);
    let (mut gc0, mut gc1, mut gd4, mut dx) = (C0::ZEROED, C1::ZEROED, D4::ZEROED, Shape::ZERO);
    d4.backward::<false>(&t3.a, &t4.delta, &mut gd4, &mut t3.delta);
    g3.backward::<false>(&t2.a, &t3.delta, &mut G3::new(), &mut t2.delta);
    p2.backward::<false>(&t1.a, &t2.delta, &mut P2::new(), &mut t1.delta);
    t1.activation_backward::<Relu>();
    c1.backward::<false>(&t0.a, &t1.delta, &mut gc1, &mut t0.delta);
    t0.activation_backward::<Sigmoid>();
    c0.backward::<false>(&x, &t0.delta, &mut gc0, &mut dx);

    let mut worst = r.check("loss", &[loss]);
    for (key, v) in [
        ("z0", t0.z.flat()),
        ("a0", t0.a.flat()),
        ("z1", t1.z.flat()),
        ("a1", t1.a.flat()),
        ("z2", t2.z.flat()),
        ("a2", t2.a.flat()),
        ("z3", &t3.z[..]),
        ("a3", &t3.a[..]),
        ("z4", &t4.z[..]),
        ("a4", &t4.a[..]),
        ("delta0", t0.delta.flat()),
        ("delta1", t1.delta.flat()),
        ("delta2", t2.delta.flat()),
        ("delta3", &t3.delta[..]),
        ("delta4", &t4.delta[..]),
        ("dx", dx.flat()),
    ] {
        worst = worst.max(r.check(key, v));
    }
    worst = worst.max(r.check_grad(0, "grad_", &gc0)).max(r.check_grad(1, "grad_", &gc1));
    worst = worst.max(r.check_grad(4, "grad_", &gd4));

    // The fused SGD step of the middle convolution: dx with the old weights, then the update.
    let mut s1 = c1;
    let mut d0 = [[[0.0; 4]; 3]; 3];
    s1.backward_sgd(&t0.a, &t1.delta, lr(&r), &mut d0);
    let mut u0 = LayerTrace { z: t0.z, a: t0.a, delta: d0 };
    u0.activation_backward::<Sigmoid>();
    assert_eq!(u0.delta, t0.delta);
    let mut s0 = c0;
    s0.sgd(&x, &t0.delta, lr(&r));
    worst = worst.max(r.check_grad(0, "sgd_", &s0)).max(r.check_grad(1, "sgd_", &s1));
    eprintln!("lenet_like: worst {worst:e}");
}

#[test]
fn conv1d_valid_s2_gap() {
    type C0 = Conv1d<f64, Valid, 2, 11, 2, 3, 2, 5>;
    type P1 = AvgPool1d<f64, 2, 5, 2, 1, 4>;
    type C2 = Conv1d<f64, Same, 2, 4, 3, 2, 2, 2>;
    type G3 = GlobalAvgPool1d<f64, 3, 2>;
    type D4 = Dense<f64, 3, 1>;
    let r = Reference::load("conv1d_valid_s2_gap");
    let (c0, p1, c2, g3, d4): (C0, P1, C2, G3, D4) =
        (r.layer(0), r.layer(1), r.layer(2), r.layer(3), r.layer(4));
    let x: [[f64; 11]; 2] = r.shape("x");
    let t: [f64; 1] = r.shape("target");

    let mut t0 = LayerTrace::zeroed();
    let mut t1 = LayerTrace::zeroed();
    let mut t2 = LayerTrace::zeroed();
    let mut t3 = LayerTrace::zeroed();
    let mut t4 = LayerTrace::zeroed();
    c0.forward::<Relu>(&x, &mut t0);
    p1.forward::<Identity>(&t0.a, &mut t1);
    c2.forward::<Identity>(&t1.a, &mut t2);
    g3.forward::<Identity>(&t2.a, &mut t3);
    d4.forward::<Sigmoid>(&t3.a, &mut t4);
    let loss = t4.loss_delta::<BinaryCrossEntropy, Sigmoid>(&t);
    let (mut gc0, mut gc2, mut gd4, mut dx) = (C0::ZEROED, C2::ZEROED, D4::ZEROED, Shape::ZERO);
    d4.backward::<false>(&t3.a, &t4.delta, &mut gd4, &mut t3.delta);
    g3.backward::<false>(&t2.a, &t3.delta, &mut G3::new(), &mut t2.delta);
    c2.backward::<false>(&t1.a, &t2.delta, &mut gc2, &mut t1.delta);
    p1.backward::<false>(&t0.a, &t1.delta, &mut P1::new(), &mut t0.delta);
    t0.activation_backward::<Relu>();
    c0.backward::<false>(&x, &t0.delta, &mut gc0, &mut dx);

    let mut worst = r.check("loss", &[loss]);
    for (key, v) in [
        ("z0", t0.z.flat()),
        ("a0", t0.a.flat()),
        ("z1", t1.z.flat()),
        ("a1", t1.a.flat()),
        ("z2", t2.z.flat()),
        ("a2", t2.a.flat()),
        ("z3", &t3.z[..]),
        ("z4", &t4.z[..]),
        ("a4", &t4.a[..]),
        ("delta0", t0.delta.flat()),
        ("delta1", t1.delta.flat()),
        ("delta2", t2.delta.flat()),
        ("delta3", &t3.delta[..]),
        ("delta4", &t4.delta[..]),
        ("dx", dx.flat()),
    ] {
        worst = worst.max(r.check(key, v));
    }
    worst = worst.max(r.check_grad(0, "grad_", &gc0)).max(r.check_grad(2, "grad_", &gc2));
    worst = worst.max(r.check_grad(4, "grad_", &gd4));
    let (mut s0, mut s2) = (c0, c2);
    s2.backward_sgd(&t1.a, &t2.delta, lr(&r), &mut [[0.0; 4]; 2]);
    s0.sgd(&x, &t0.delta, lr(&r));
    worst = worst.max(r.check_grad(0, "sgd_", &s0)).max(r.check_grad(2, "sgd_", &s2));
    eprintln!("conv1d_valid_s2_gap: worst {worst:e}");
}
