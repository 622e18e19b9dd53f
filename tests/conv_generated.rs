//! The code `network!` generates for a convolutional network, on the LeNet-like network of the
//! README: its constants against hand-computed numbers, its layer descriptions, the flat public
//! API with shaped traces, every pass equal bit for bit to the same core calls glued by hand, and
//! its parameters through bytes and back.

use backprop::conv::{flatten, flatten_mut};
use backprop::layer::LayerKind;
use backprop::{
    Identity, Init, Layer, LayerTrace, Network, ParamBytes, Params, ParamsError, Relu, Rng, Shape, Softmax,
    SoftmaxCrossEntropy, Tanh, network,
};

network! {
    /// LeNet-like: two convolutions, two pools, two dense layers.
    #[loss(SoftmaxCrossEntropy)]
    pub struct LeNet {
        input: [1, 28, 28],
        conv1: Conv2d<6, 5, Relu>,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<16, 5, Tanh, stride = 1, padding = Same>,
        pool2: AvgPool2d<3, stride = 3>,
        hidden: Dense<120, Relu>,
        output: Dense<10, Softmax>,
    }
}

network! {
    /// `LeNet` with an average pool where it has a max pool: the same parameters, another kind.
    #[loss(SoftmaxCrossEntropy)]
    pub struct LeNetAvg {
        input: [1, 28, 28],
        conv1: Conv2d<6, 5, Relu>,
        pool1: AvgPool2d<2>,
        conv2: Conv2d<16, 5, Tanh, stride = 1, padding = Same>,
        pool2: AvgPool2d<3, stride = 3>,
        hidden: Dense<120, Relu>,
        output: Dense<10, Softmax>,
    }
}

/// The side of `LeNetConst`'s input.
const SIDE: usize = 28;
/// The kernel of `LeNetConst`'s convolutions.
const KERNEL: usize = 5;

network! {
    /// `LeNet` with sizes from constants: the compiler computes the output sizes.
    #[loss(SoftmaxCrossEntropy)]
    pub struct LeNetConst {
        input: [1, SIDE, SIDE],
        conv1: Conv2d<{ 2 * 3 }, KERNEL, Relu>,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<16, KERNEL, Tanh, stride = 1, padding = Same>,
        pool2: AvgPool2d<{ KERNEL - 2 }, stride = 3>,
        hidden: Dense<120, Relu>,
        output: Dense<10, Softmax>,
    }
}

/// Counted by hand: `F·C·K·K + F` per convolution, `in·out + out` per dense layer, none for a pool.
const PARAMS: usize = (6 * 5 * 5 + 6) + (16 * 6 * 5 * 5 + 16) + (16 * 4 * 4 * 120 + 120) + (120 * 10 + 10);

/// The trace, counted by hand: the input and its gradient, and `z`, `a`, `delta` of every layer.
const TRACE_SCALARS: usize = 2 * 784 + 3 * (6 * 24 * 24 + 6 * 12 * 12 + 16 * 12 * 12 + 16 * 4 * 4 + 120 + 10);

fn sample(seed: u64) -> ([f32; 784], [f32; 10]) {
    let mut rng = Rng::new(seed);
    let x = core::array::from_fn(|_| rng.uniform(-1.0, 1.0) as f32);
    let mut t = [0.0; 10];
    t[seed as usize % 10] = 1.0;
    (x, t)
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// `z`, `a` and `delta` of two traces, bit for bit.
fn same_trace<S: Shape<Scalar = f32>>(what: &str, generated: &LayerTrace<S>, hand: &LayerTrace<S>) {
    assert_eq!(bits(generated.z.flat()), bits(hand.z.flat()), "{what}.z");
    assert_eq!(bits(generated.a.flat()), bits(hand.a.flat()), "{what}.a");
    assert_eq!(bits(generated.delta.flat()), bits(hand.delta.flat()), "{what}.delta");
}

#[test]
fn constants_are_the_hand_computed_ones() {
    assert_eq!(PARAMS, 34_622);
    assert_eq!(LeNet::<f32>::PARAMS, PARAMS);
    assert_eq!(LeNet::<f32>::PARAM_BYTES, 4 * PARAMS);
    assert_eq!(LeNet::<f64>::PARAM_BYTES, 8 * PARAMS);
    assert_eq!(size_of::<LeNet<f32>>(), 4 * PARAMS, "the pools take no room");
    assert_eq!(TRACE_SCALARS, 22_598);
    assert_eq!(LeNet::<f32>::TRACE_BYTES, 4 * TRACE_SCALARS);
    assert_eq!(LeNet::<f64>::TRACE_BYTES, 8 * TRACE_SCALARS);
    assert_eq!((LeNet::<f32>::INPUTS, LeNet::<f32>::OUTPUTS), (784, 10));
    assert_eq!(<LeNet<f32> as Network<f32>>::INPUTS, 784);
    assert_eq!(LeNet::<f32>::zeroed().params().len(), PARAMS);
}

#[test]
fn layers_describe_every_kind() {
    let layers = LeNet::<f32>::LAYERS;
    let kinds: Vec<LayerKind> = layers.iter().map(|l| l.kind).collect();
    use LayerKind::*;
    assert_eq!(kinds, [Conv2d, MaxPool2d, Conv2d, AvgPool2d, Dense, Dense]);
    let shapes: Vec<(usize, usize)> = layers.iter().map(|l| (l.inputs, l.outputs)).collect();
    assert_eq!(shapes, [(784, 3456), (3456, 864), (864, 2304), (2304, 256), (256, 120), (120, 10)]);
    let weights: Vec<(usize, usize)> = layers.iter().map(|l| (l.weights, l.biases)).collect();
    assert_eq!(weights, [(150, 6), (0, 0), (2400, 16), (0, 0), (30_720, 120), (1200, 10)]);
    let activations: Vec<&str> = layers.iter().map(|l| l.activation).collect();
    assert_eq!(activations, ["Relu", "Identity", "Tanh", "Identity", "Relu", "Softmax"]);
    assert_eq!((layers[0].fan_in, layers[2].fan_in), (25, 150));
    assert_eq!(layers.iter().map(|l| l.params()).sum::<usize>(), PARAMS);
}

/// The input is flat (`[T; C·H·W]`, PyTorch's `flatten(1)` order) and every trace has its layer's
/// shape: `trace.conv1.a[c][y][x]`.
#[test]
fn traces_are_shaped_and_the_input_flat() {
    let net: LeNet<f32> = Init::Auto.network(1);
    let (x, _) = sample(2);
    let mut trace = LeNetTrace::zeroed();
    let y = net.forward_trace(&x, &mut trace);
    assert_eq!(trace.input, x);
    let image: &[[[f32; 28]; 28]; 1] = flatten(&trace.input);
    assert_eq!(image[0][3][5], x[3 * 28 + 5]);
    let conv1: &[[[f32; 24]; 24]; 6] = &trace.conv1.a;
    assert_eq!(conv1[4][7][9], trace.conv1.a.flat()[(4 * 24 + 7) * 24 + 9]);
    let pool2: &[[[f32; 4]; 4]; 16] = &trace.pool2.a;
    let hidden_input: &[f32; 256] = flatten(pool2);
    assert_eq!(hidden_input[(11 * 4 + 2) * 4 + 3], pool2[11][2][3]);
    assert_eq!(trace.output.a, y);
    assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-5, "a softmax output");
}

/// `forward`, `forward_trace`, `backward` and `train_step` make exactly the core calls a hand
/// would: the same bits.
#[test]
fn generated_passes_are_the_core_calls_glued_by_hand() {
    let net: LeNet<f32> = Init::Auto.network(3);
    let (x, t) = sample(4);
    let lr = 0.05f32;

    let mut trace = LeNetTrace::zeroed();
    let y = net.forward_trace(&x, &mut trace);
    let mut grads = LeNet::zeroed();
    let loss = net.backward(&mut trace, &t, &mut grads);

    let xs: &[[[f32; 28]; 28]; 1] = flatten(&x);
    let (mut t1, mut t2, mut t3) = (LayerTrace::zeroed(), LayerTrace::zeroed(), LayerTrace::zeroed());
    let (mut t4, mut t5, mut t6) = (LayerTrace::zeroed(), LayerTrace::zeroed(), LayerTrace::zeroed());
    net.conv1.forward::<Relu>(xs, &mut t1);
    net.pool1.forward::<Identity>(&t1.a, &mut t2);
    net.conv2.forward::<Tanh>(&t2.a, &mut t3);
    net.pool2.forward::<Identity>(&t3.a, &mut t4);
    net.hidden.forward::<Relu>(flatten(&t4.a), &mut t5);
    net.output.forward::<Softmax>(&t5.a, &mut t6);
    assert_eq!(bits(&net.forward(&x)), bits(&t6.a), "forward");
    assert_eq!(bits(&y), bits(&t6.a), "forward_trace");
    let (mut by_hand, mut dx) = (LeNet::<f32>::zeroed(), [0.0f32; 784]);
    let hand_loss = t6.loss_delta::<SoftmaxCrossEntropy, Softmax>(&t);
    net.output.backward::<false>(&t5.a, &t6.delta, &mut by_hand.output, &mut t5.delta);
    t5.activation_backward::<Relu>();
    net.hidden.backward::<false>(flatten(&t4.a), &t5.delta, &mut by_hand.hidden, flatten_mut(&mut t4.delta));
    t4.activation_backward::<Identity>();
    net.pool2.backward::<false>(&t3.a, &t4.delta, &mut by_hand.pool2, &mut t3.delta);
    t3.activation_backward::<Tanh>();
    net.conv2.backward::<false>(&t2.a, &t3.delta, &mut by_hand.conv2, &mut t2.delta);
    t2.activation_backward::<Identity>();
    net.pool1.backward::<false>(&t1.a, &t2.delta, &mut by_hand.pool1, &mut t1.delta);
    t1.activation_backward::<Relu>();
    net.conv1.backward::<false>(xs, &t1.delta, &mut by_hand.conv1, flatten_mut(&mut dx));
    assert_eq!(loss.to_bits(), hand_loss.to_bits(), "loss");
    same_trace("conv1", &trace.conv1, &t1);
    same_trace("pool1", &trace.pool1, &t2);
    same_trace("conv2", &trace.conv2, &t3);
    same_trace("pool2", &trace.pool2, &t4);
    same_trace("hidden", &trace.hidden, &t5);
    same_trace("output", &trace.output, &t6);
    assert_eq!(bits(&trace.input_grad), bits(&dx), "input_grad");
    assert_eq!(bits(grads.params()), bits(by_hand.params()), "gradients");
    assert!(grads.conv1.w.as_flattened().as_flattened().as_flattened().iter().any(|&g| g != 0.0));

    // The training step: SGD fused into the backward pass, top down, `dx` with the old weights.
    let mut stepped = net.clone();
    let step_loss = stepped.train_step(&x, &t, lr);
    let mut hand = net.clone();
    let mut d5 = [0.0f32; 120];
    hand.output.backward_sgd(&t5.a, &t6.delta, lr, &mut d5);
    let mut u5 = LayerTrace { z: t5.z, a: t5.a, delta: d5 };
    u5.activation_backward::<Relu>();
    let mut u4 = LayerTrace { z: t4.z, a: t4.a, delta: t4.delta };
    hand.hidden.backward_sgd(flatten(&t4.a), &u5.delta, lr, flatten_mut(&mut u4.delta));
    u4.activation_backward::<Identity>();
    let mut u3 = LayerTrace { z: t3.z, a: t3.a, delta: t3.delta };
    hand.pool2.backward_sgd(&t3.a, &u4.delta, lr, &mut u3.delta);
    u3.activation_backward::<Tanh>();
    let mut u2 = LayerTrace { z: t2.z, a: t2.a, delta: t2.delta };
    hand.conv2.backward_sgd(&t2.a, &u3.delta, lr, &mut u2.delta);
    u2.activation_backward::<Identity>();
    let mut u1 = LayerTrace { z: t1.z, a: t1.a, delta: t1.delta };
    hand.pool1.backward_sgd(&t1.a, &u2.delta, lr, &mut u1.delta);
    u1.activation_backward::<Relu>();
    hand.conv1.sgd(xs, &u1.delta, lr);
    assert_eq!(step_loss.to_bits(), loss.to_bits());
    assert_eq!(bits(stepped.params()), bits(hand.params()), "parameters after train_step");
    assert_ne!(bits(stepped.params()), bits(net.params()), "the step changed them");

    // `train_steps` over one sample is `train_step`.
    let mut sequenced = net.clone();
    let total = sequenced.train_steps([(&x, &t)], lr);
    assert_eq!(total.to_bits(), loss.to_bits());
    assert_eq!(bits(sequenced.params()), bits(stepped.params()), "train_steps");
}

/// `train_steps` is `train_step` on each sample in order, bit for bit (a convolution first has
/// no deferred updates).
#[test]
fn train_steps_is_train_step_in_order() {
    let mut net: LeNet<f32> = Init::Auto.network(5);
    let samples: Vec<([f32; 784], [f32; 10])> = (0..3).map(sample).collect();
    let mut one_by_one = net.clone();
    let mut sum = 0.0;
    for (x, t) in &samples {
        sum += one_by_one.train_step(x, t, 0.02);
    }
    let total = net.train_steps(samples.iter().map(|(x, t)| (x, t)), 0.02);
    assert_eq!(total.to_bits(), sum.to_bits());
    assert_eq!(bits(net.params()), bits(one_by_one.params()));
}

/// Parameters to bytes and back; the header records each layer's kind, so a network whose layers
/// hold the same parameters under other kinds is refused.
#[test]
fn parameters_round_trip_through_bytes() {
    let net: LeNet<f32> = Init::Auto.network(6);
    let mut bytes = vec![0u8; LeNet::<f32>::SERIALIZED_LEN];
    assert_eq!(net.to_bytes(&mut bytes), Ok(LeNet::<f32>::SERIALIZED_LEN));
    let back = LeNet::<f32>::from_bytes(&bytes).expect("the bytes load");
    assert_eq!(bits(back.params()), bits(net.params()));
    let mut loaded = LeNet::<f32>::zeroed();
    loaded.load_bytes(&bytes).expect("the bytes load in place");
    assert_eq!(loaded, net);

    assert_eq!(LeNetAvg::<f32>::PARAMS, LeNet::<f32>::PARAMS);
    match LeNetAvg::<f32>::from_bytes(&bytes) {
        Err(ParamsError::LayerKind { layer, index, expected, .. }) => {
            assert_eq!((layer, index, expected), ("pool1", 1, LayerKind::AvgPool2d));
        }
        other => panic!("loaded into another architecture: {other:?}"),
    }
}

/// Output sizes computed by the compiler from constants are those the macro computes from
/// literals: the same types, the same bits.
#[test]
fn constant_sizes_give_the_literal_network() {
    assert_eq!(LeNetConst::<f32>::PARAMS, PARAMS);
    assert_eq!(LeNetConst::<f32>::TRACE_BYTES, LeNet::<f32>::TRACE_BYTES);
    assert_eq!(LeNetConst::<f32>::LAYERS, LeNet::<f32>::LAYERS);
    let trace = LeNetConstTrace::<f32>::zeroed();
    let _: &[[[f32; 24]; 24]; 6] = &trace.conv1.a;
    let _: &[[[f32; 12]; 12]; 6] = &trace.pool1.a;
    let _: &[[[f32; 4]; 4]; 16] = &trace.pool2.a;
    let net: LeNet<f32> = Init::Auto.network(8);
    let mut constant = LeNetConst::<f32>::zeroed();
    constant.params_mut().copy_from_slice(net.params());
    let (x, t) = sample(9);
    assert_eq!(bits(&constant.forward(&x)), bits(&net.forward(&x)));
    let (mut a, mut b) = (net.clone(), constant.clone());
    assert_eq!(a.train_step(&x, &t, 0.1).to_bits(), b.train_step(&x, &t, 0.1).to_bits());
    assert_eq!(bits(a.params()), bits(b.params()));
}
