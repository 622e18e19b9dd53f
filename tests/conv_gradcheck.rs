//! Generated convolutional networks against central finite differences, through the public
//! `backprop::gradcheck`, in f64: every convolution and pooling kind, every activation but softmax
//! on a convolution, both paddings at strides 1 and 2, odd sizes, dense layers after the
//! convolutions, and all three losses. Every parameter and every input is checked; the worst
//! relative error must stay below 1e-6.

use backprop::{GradCheck, Init, Network, Params, Rng, Shape, gradcheck, network};

/// Worst relative error allowed (see `backprop::gradcheck` for the definition).
const TOLERANCE: f64 = 1e-6;

/// How far from a kink every draw must stay: relu-like pre-activations from 0, and the two largest
/// values of every max-pool window from each other. The finite-difference step (1e-4 of a
/// parameter) moves a value by far less.
const MARGIN: f64 = 1e-3;

network! {
    /// 2-d, softmax: valid stride 1 (Tanh), same stride 2 (Sigmoid), overlapping max pool, dense.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Image {
        input: [2, 7, 9],
        c1: Conv2d<3, 3, Tanh>,
        c2: Conv2d<2, 3, Sigmoid, stride = 2, padding = Same>,
        pool: MaxPool2d<2, stride = 1>,
        hidden: Dense<5, Softplus>,
        output: Dense<3, Softmax>,
    }
}

network! {
    /// 2-d, binary: valid stride 2 (Relu), same stride 1 with an even kernel (LeakyRelu), average
    /// pool at its default stride, global average pool.
    #[loss(BinaryCrossEntropy)]
    pub struct Strided {
        input: [3, 9, 13],
        c1: Conv2d<4, 3, Relu, stride = 2>,
        c2: Conv2d<3, 2, LeakyRelu, padding = Same>,
        pool: AvgPool2d<2>,
        gap: GlobalAvgPool2d,
        output: Dense<2, Sigmoid>,
    }
}

network! {
    /// 2-d, squared error: same stride 2 with an even kernel (Identity, padding uneven on both
    /// axes), max pool at its default stride, a 1 × 1 convolution (Softplus), average pool at
    /// stride 1.
    #[loss(HalfSquaredError)]
    pub struct Uneven {
        input: [1, 12, 7],
        c1: Conv2d<2, 4, Identity, stride = 2, padding = Same>,
        pool: MaxPool2d<2>,
        c2: Conv2d<3, 1, Softplus>,
        avg: AvgPool2d<2, stride = 1>,
        output: Dense<2, Identity>,
    }
}

network! {
    /// 1-d, squared error: valid stride 1 (Relu), max pool at its default stride, same stride 1
    /// (Identity).
    #[loss(HalfSquaredError)]
    pub struct Sequence {
        input: [3, 11],
        c1: Conv1d<4, 3, Relu>,
        pool: MaxPool1d<3>,
        c2: Conv1d<2, 2, Identity, padding = Same>,
        output: Dense<2, Tanh>,
    }
}

network! {
    /// 1-d, softmax: valid stride 2 (LeakyRelu), overlapping average pool at stride 2, a
    /// width-1 convolution (Tanh), dense.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Overlap {
        input: [2, 13],
        c1: Conv1d<3, 5, LeakyRelu, stride = 2>,
        pool: AvgPool1d<3, stride = 2>,
        c2: Conv1d<2, 1, Tanh>,
        hidden: Dense<4, Sigmoid>,
        output: Dense<3, Softmax>,
    }
}

network! {
    /// 1-d, binary: same stride 2 with an even kernel (Sigmoid), same stride 1 (Softplus), max
    /// pool at stride 1, global average pool.
    #[loss(BinaryCrossEntropy)]
    pub struct Padded {
        input: [2, 9],
        c1: Conv1d<3, 4, Sigmoid, stride = 2, padding = Same>,
        c2: Conv1d<2, 3, Softplus, stride = 1, padding = Same>,
        pool: MaxPool1d<2, stride = 1>,
        gap: GlobalAvgPool1d,
        output: Dense<1, Sigmoid>,
    }
}

network! {
    /// A dense layer straight on a shaped input (flattened).
    #[loss(HalfSquaredError)]
    pub struct Flat {
        input: [2, 3, 5],
        hidden: Dense<4, Relu>,
        output: Dense<2, Identity>,
    }
}

/// The smallest gap between the largest and the second largest value of a pool window, over
/// every window of `k × k` (or `k` for `h = 1`) at stride `s` of `c` channels of `h × w`.
fn pool_gap(a: &[f64], c: usize, h: usize, w: usize, k: usize, s: usize) -> f64 {
    let (kh, ho, wo) =
        (if h == 1 { 1 } else { k }, if h == 1 { 1 } else { (h - k) / s + 1 }, (w - k) / s + 1);
    let mut gap = f64::INFINITY;
    for ch in 0..c {
        for oy in 0..ho {
            for ox in 0..wo {
                let mut values: Vec<f64> = (0..kh)
                    .flat_map(|i| (0..k).map(move |j| (oy * s + i, ox * s + j)))
                    .map(|(y, x)| a[(ch * h + y) * w + x])
                    .collect();
                values.sort_by(|p, q| q.total_cmp(p));
                gap = gap.min(values[0] - values[1]);
            }
        }
    }
    gap
}

/// The smallest `|z|`.
fn min_abs(z: &[f64]) -> f64 {
    z.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()))
}

/// Targets for each loss: any values (squared error), probabilities (binary), a distribution
/// that is not one-hot (softmax).
#[derive(Clone, Copy)]
enum Target {
    Values,
    Probabilities,
    Distribution,
}

/// A network (PyTorch's initialisation from `seed`), an input in `[-1, 1)` and a target, drawn
/// again until `margin` of the network and input is at least [`MARGIN`].
fn draw<N: Network<f64>>(
    seed: u64,
    target: Target,
    margin: impl Fn(&N::Trace) -> f64,
) -> (N, N::Input, N::Output) {
    for attempt in 0..1_000 {
        let mut rng = Rng::new(seed * 1_000 + attempt);
        let net: N = Init::PyTorch.network(seed * 1_000 + attempt);
        let mut trace = N::new_trace();
        let mut x = *N::input_grad(&trace);
        x.as_mut().iter_mut().for_each(|v| *v = rng.uniform(-1.0, 1.0));
        let mut t = *N::trace_output(&trace);
        let t_values = t.as_mut();
        for v in t_values.iter_mut() {
            *v = match target {
                Target::Values => rng.uniform(-1.0, 1.0),
                Target::Probabilities | Target::Distribution => rng.uniform(0.05, 0.95),
            };
        }
        if let Target::Distribution = target {
            let sum: f64 = t_values.iter().sum();
            t_values.iter_mut().for_each(|v| *v /= sum);
        }
        net.forward_trace(&x, &mut trace);
        if margin(&trace) >= MARGIN {
            return (net, x, t);
        }
    }
    panic!("no draw keeps every kink at a distance");
}

/// The full gradient check; returns the worst relative error.
fn check<N: Network<f64>>(what: &str, net: &N, x: &N::Input, t: &N::Output) -> f64 {
    let report = gradcheck(net, x, t, &GradCheck::default());
    assert_eq!(report.checked, N::LEN + N::INPUTS, "{what}: every parameter and input");
    assert!(report.passes(TOLERANCE), "{what}: {report}");
    assert!(report.worst_relative_error() > 0.0, "{what}: the check compared something");
    // Shown with `cargo test --test conv_gradcheck -- --nocapture`.
    println!("{what}: {report}");
    report.worst_relative_error()
}

#[test]
fn conv2d_valid_and_same_with_max_pool_and_softmax() {
    for seed in 0..3 {
        let (net, x, t) =
            draw::<Image<f64>>(seed, Target::Distribution, |tr| pool_gap(tr.c2.a.flat(), 2, 3, 4, 2, 1));
        check("Image", &net, &x, &t);
    }
}

#[test]
fn conv2d_strided_relu_average_and_global_pools_binary() {
    for seed in 0..3 {
        let (net, x, t) = draw::<Strided<f64>>(seed, Target::Probabilities, |tr| {
            min_abs(tr.c1.z.flat()).min(min_abs(tr.c2.z.flat()))
        });
        check("Strided", &net, &x, &t);
    }
}

#[test]
fn conv2d_uneven_same_padding_max_pool_squared_error() {
    for seed in 0..3 {
        let (net, x, t) =
            draw::<Uneven<f64>>(seed, Target::Values, |tr| pool_gap(tr.c1.a.flat(), 2, 6, 4, 2, 2));
        check("Uneven", &net, &x, &t);
    }
}

#[test]
fn conv1d_relu_max_pool_squared_error() {
    for seed in 0..3 {
        let (net, x, t) = draw::<Sequence<f64>>(seed, Target::Values, |tr| {
            min_abs(tr.c1.z.flat()).min(pool_gap(tr.c1.a.flat(), 4, 1, 9, 3, 3))
        });
        check("Sequence", &net, &x, &t);
    }
}

#[test]
fn conv1d_strided_overlapping_average_pool_softmax() {
    for seed in 0..3 {
        let (net, x, t) = draw::<Overlap<f64>>(seed, Target::Distribution, |tr| min_abs(tr.c1.z.flat()));
        check("Overlap", &net, &x, &t);
    }
}

#[test]
fn conv1d_same_padding_global_pool_binary() {
    for seed in 0..3 {
        let (net, x, t) =
            draw::<Padded<f64>>(seed, Target::Probabilities, |tr| pool_gap(tr.c2.a.flat(), 2, 1, 5, 2, 1));
        check("Padded", &net, &x, &t);
    }
}

#[test]
fn dense_on_a_shaped_input() {
    for seed in 0..3 {
        let (net, x, t) = draw::<Flat<f64>>(seed, Target::Values, |tr| min_abs(&tr.hidden.z));
        check("Flat", &net, &x, &t);
    }
}

/// The shapes the spec implies, and that the margins above read the right traces.
#[test]
fn output_shapes_follow_the_spec() {
    let trace = ImageTrace::<f64>::zeroed();
    let _: &[[[f64; 7]; 5]; 3] = &trace.c1.a;
    let _: &[[[f64; 4]; 3]; 2] = &trace.c2.a;
    let _: &[[[f64; 3]; 2]; 2] = &trace.pool.a;
    let trace = UnevenTrace::<f64>::zeroed();
    let _: &[[[f64; 4]; 6]; 2] = &trace.c1.a;
    let _: &[[[f64; 2]; 3]; 2] = &trace.pool.a;
    let _: &[[[f64; 1]; 2]; 3] = &trace.avg.a;
    let trace = OverlapTrace::<f64>::zeroed();
    let _: &[[f64; 5]; 3] = &trace.c1.a;
    let _: &[[f64; 2]; 3] = &trace.pool.a;
    let _: &[[f64; 2]; 2] = &trace.c2.a;
    let trace = PaddedTrace::<f64>::zeroed();
    let _: &[[f64; 5]; 3] = &trace.c1.a;
    let _: &[[f64; 5]; 2] = &trace.c2.a;
    let _: &[[f64; 4]; 2] = &trace.pool.a;
    let _: &[f64; 2] = &trace.gap.a;
    assert_eq!(<Strided<f64> as Network<f64>>::INPUTS, 3 * 9 * 13);
    assert_eq!(Strided::<f64>::PARAMS, (4 * 3 * 9 + 4) + (3 * 4 * 4 + 3) + (2 * 3 + 2));
    assert_eq!(Flat::<f64>::PARAMS, 30 * 4 + 4 + 4 * 2 + 2);
    assert_eq!(Sequence::<f64>::zeroed().params().len(), (4 * 3 * 3 + 4) + (2 * 4 * 2 + 2) + (2 * 6 + 2));
}
