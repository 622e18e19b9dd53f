//! Generated convolutional networks against JAX: the five networks of `tests/data/conv/*.txt`
//! (written by `tests/reference/conv_ref.py`, and checked layer by layer in
//! `backprop-core/tests/conv_reference.rs`), declared with `network!` and loaded with the same
//! parameters. Every value to 1e-12: each layer's `z`, `a` and `delta`, the loss, `dL/dx`, every
//! gradient and one SGD step, through `forward_trace`/`backward`/`train_step` and through the
//! batched `backward_batch::<1>`/`train_step_batch::<1>`.

use backprop::{Network, Shape, network};

const TOLERANCE: f64 = 1e-12;

network! {
    /// `conv2d_valid_dense`.
    #[loss(SoftmaxCrossEntropy)]
    pub struct ValidDense { input: [3, 5, 7], c0: Conv2d<2, 3, Tanh>, d1: Dense<3, Softmax> }
}

network! {
    /// `conv2d_same_s2_avgpool`.
    #[loss(BinaryCrossEntropy)]
    pub struct SameAvg {
        input: [3, 5, 7],
        c0: Conv2d<2, 3, Relu, stride = 2, padding = Same>,
        p1: AvgPool2d<2, stride = 1>,
        d2: Dense<2, Sigmoid>,
    }
}

network! {
    /// `conv1d_same_maxpool`.
    #[loss(HalfSquaredError)]
    pub struct SameMax {
        input: [2, 9],
        c0: Conv1d<3, 3, Tanh, padding = Same>,
        p1: MaxPool1d<3>,
        d2: Dense<2, Identity>,
    }
}

network! {
    /// `lenet_like`.
    #[loss(SoftmaxCrossEntropy)]
    pub struct LenetLike {
        input: [2, 7, 9],
        c0: Conv2d<3, 3, Sigmoid, stride = 2>,
        c1: Conv2d<2, 2, Relu, padding = Same>,
        p2: MaxPool2d<2, stride = 1>,
        g3: GlobalAvgPool2d,
        d4: Dense<3, Softmax>,
    }
}

network! {
    /// `conv1d_valid_s2_gap`.
    #[loss(BinaryCrossEntropy)]
    pub struct ValidGap {
        input: [2, 11],
        c0: Conv1d<2, 3, Relu, stride = 2>,
        p1: AvgPool1d<2, stride = 1>,
        c2: Conv1d<3, 2, Identity, stride = 2, padding = Same>,
        g3: GlobalAvgPool1d,
        d4: Dense<1, Sigmoid>,
    }
}

/// One reference file: `key value value ...` lines.
struct Reference {
    name: &'static str,
    values: Vec<(String, Vec<f64>)>,
}

impl Reference {
    fn load(name: &'static str) -> Self {
        let path = format!("{}/tests/data/conv/{name}.txt", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let values = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let mut words = l.split_whitespace();
                let key = words.next().expect("a key").to_string();
                (key, words.map(|w| w.parse::<f64>().expect("a number")).collect())
            })
            .collect();
        Self { name, values }
    }

    fn find(&self, key: &str) -> Option<&[f64]> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| &v[..])
    }

    fn get(&self, key: &str) -> &[f64] {
        self.find(key).unwrap_or_else(|| panic!("{}: no {key}", self.name))
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

    /// Every layer's parameters against `{prefix}w{j}` and `{prefix}b{j}`.
    fn check_params<N: Network<f64>>(&self, prefix: &str, net: &N) -> f64 {
        let mut rest = net.params();
        let mut worst = 0.0f64;
        for (j, layer) in N::LAYERS.iter().enumerate() {
            let (w, tail) = rest.split_at(layer.weights);
            let (b, tail) = tail.split_at(layer.biases);
            rest = tail;
            if layer.params() > 0 {
                worst = worst
                    .max(self.check(&format!("{prefix}w{j}"), w))
                    .max(self.check(&format!("{prefix}b{j}"), b));
            }
        }
        assert!(rest.is_empty());
        worst
    }
}

/// Copies `values` into an array of the same length.
fn array<A: AsMut<[f64]>>(mut a: A, values: &[f64]) -> A {
    a.as_mut().copy_from_slice(values);
    a
}

/// Builds the network from the reference's parameters, runs every pass and compares every value;
/// `layers` gives each layer's `z`, `a` and `delta` from the trace. Returns the worst error.
fn reproduce<N: Network<f64>>(name: &'static str, layers: impl Fn(&N::Trace) -> Vec<[&[f64]; 3]>) -> f64 {
    let r = Reference::load(name);
    let mut net = N::zeroed();
    let mut params = net.params_mut();
    for (j, layer) in N::LAYERS.iter().enumerate() {
        if layer.params() > 0 {
            let (w, b) = (r.get(&format!("w{j}")), r.get(&format!("b{j}")));
            let (pw, rest) = params.split_at_mut(w.len());
            let (pb, rest) = rest.split_at_mut(b.len());
            pw.copy_from_slice(w);
            pb.copy_from_slice(b);
            params = rest;
        }
    }
    assert!(params.is_empty(), "{name}: every parameter set");
    let x = array(*N::input_grad(&N::new_trace()), r.get("x"));
    let t = array(*N::trace_output(&N::new_trace()), r.get("target"));
    let lr = r.get("lr")[0];

    let mut trace = N::new_trace();
    let y = net.forward_trace(&x, &mut trace);
    let mut grads = N::zeroed();
    let loss = net.backward(&mut trace, &t, &mut grads);
    let mut worst = r.check("loss", &[loss]);
    for (j, [z, a, delta]) in layers(&trace).into_iter().enumerate() {
        for (key, got) in [(format!("z{j}"), z), (format!("a{j}"), a), (format!("delta{j}"), delta)] {
            // `conv1d_valid_s2_gap` records no `a3` (its `a3` is its `z3`).
            if r.find(&key).is_some() {
                worst = worst.max(r.check(&key, got));
            }
        }
    }
    worst = worst.max(r.check("dx", N::input_grad(&trace).as_ref()));
    worst = worst.max(r.check_params("grad_", &grads));
    assert_eq!(net.forward(&x).as_ref(), y.as_ref(), "{name}: inference is the traced forward pass");
    assert_eq!(net.loss(&x, &t).to_bits(), loss.to_bits(), "{name}: `loss` is the loss of `backward`");

    let mut stepped = net.clone();
    assert_eq!(stepped.train_step(&x, &t, lr).to_bits(), loss.to_bits());
    worst = worst.max(r.check_params("sgd_", &stepped));

    let mut batch_grads = N::zeroed();
    let batch_loss = net.backward_batch::<1>(&[x], &[t], &mut batch_grads);
    worst = worst.max(r.check("loss", &[batch_loss])).max(r.check_params("grad_", &batch_grads));
    let mut batch_stepped = net.clone();
    batch_stepped.train_step_batch::<1>(&[x], &[t], lr, &mut batch_grads);
    worst = worst.max(r.check_params("sgd_", &batch_stepped));
    println!("{name}: worst {worst:e}");
    worst
}

#[test]
fn conv2d_valid_dense() {
    reproduce::<ValidDense<f64>>("conv2d_valid_dense", |t| {
        vec![[t.c0.z.flat(), t.c0.a.flat(), t.c0.delta.flat()], [&t.d1.z, &t.d1.a, &t.d1.delta]]
    });
}

#[test]
fn conv2d_same_s2_avgpool() {
    reproduce::<SameAvg<f64>>("conv2d_same_s2_avgpool", |t| {
        vec![
            [t.c0.z.flat(), t.c0.a.flat(), t.c0.delta.flat()],
            [t.p1.z.flat(), t.p1.a.flat(), t.p1.delta.flat()],
            [&t.d2.z, &t.d2.a, &t.d2.delta],
        ]
    });
}

#[test]
fn conv1d_same_maxpool() {
    reproduce::<SameMax<f64>>("conv1d_same_maxpool", |t| {
        vec![
            [t.c0.z.flat(), t.c0.a.flat(), t.c0.delta.flat()],
            [t.p1.z.flat(), t.p1.a.flat(), t.p1.delta.flat()],
            [&t.d2.z, &t.d2.a, &t.d2.delta],
        ]
    });
}

#[test]
fn lenet_like() {
    reproduce::<LenetLike<f64>>("lenet_like", |t| {
        vec![
            [t.c0.z.flat(), t.c0.a.flat(), t.c0.delta.flat()],
            [t.c1.z.flat(), t.c1.a.flat(), t.c1.delta.flat()],
            [t.p2.z.flat(), t.p2.a.flat(), t.p2.delta.flat()],
            [&t.g3.z, &t.g3.a, &t.g3.delta],
            [&t.d4.z, &t.d4.a, &t.d4.delta],
        ]
    });
}

#[test]
fn conv1d_valid_s2_gap() {
    reproduce::<ValidGap<f64>>("conv1d_valid_s2_gap", |t| {
        vec![
            [t.c0.z.flat(), t.c0.a.flat(), t.c0.delta.flat()],
            [t.p1.z.flat(), t.p1.a.flat(), t.p1.delta.flat()],
            [t.c2.z.flat(), t.c2.a.flat(), t.c2.delta.flat()],
            [&t.g3.z, &t.g3.a, &t.g3.delta],
            [&t.d4.z, &t.d4.a, &t.d4.delta],
        ]
    });
}
