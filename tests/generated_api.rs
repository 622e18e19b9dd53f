//! The generated API: sizes, constants, constructors, scalar types and numerical stability.

use backprop::{Dense, Network, Params, gradcheck, network};
use core::mem::size_of;

const IN: usize = 6;
const HIDDEN: usize = 5;

network! {
    /// Sizes given as constant expressions.
    #[loss(BinaryCrossEntropy)]
    pub struct ConstSized {
        input: IN,
        wide: Dense<{ 2 * HIDDEN }, Tanh>,
        narrow: Dense<HIDDEN, LeakyRelu>,
        output: Dense<1, Sigmoid>,
    }
}

network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Classifier { input: 4, hidden: Dense<8, Relu>, output: Dense<3, Softmax> }
}

network! {
    #[loss(HalfSquaredError)]
    pub struct Toy { input: 2, hidden: Dense<2, Sigmoid>, output: Dense<1, Sigmoid> }
}

network! {
    /// A size expression that starts with a block: valid Rust, and a valid size (found by the
    /// front end's property test, which once produced a spec like it).
    #[loss(HalfSquaredError)]
    pub struct BlockFirst { input: { 1 } + 1, hidden: Dense<{ HIDDEN } - 2, Tanh>, output: Dense<1, Identity> }
}

#[test]
fn sizes_may_start_with_a_block() {
    assert_eq!(BlockFirst::<f64>::INPUTS, 2);
    assert_eq!(BlockFirst::<f64>::PARAMS, 2 * 3 + 3 + 3 + 1);
    assert_eq!(BlockFirst::<f64>::zeroed().forward(&[1.0, 2.0]), [0.0]);
}

/// Weights baked into a `static` through the `const fn` constructors.
static BAKED: Toy<f32> =
    Toy::new(Dense::new([[0.4, 0.2], [-0.2, 0.4]], [0.0, 0.0]), Dense::new([[0.5, -0.4]], [0.1]));

#[test]
fn constants_equal_the_sizes_of_the_generated_types() {
    fn check<T: backprop::Scalar>() {
        assert_eq!(ConstSized::<T>::INPUTS, 6);
        assert_eq!(ConstSized::<T>::OUTPUTS, 1);
        assert_eq!(ConstSized::<T>::PARAMS, 6 * 10 + 10 + 10 * 5 + 5 + 5 + 1);
        assert_eq!(ConstSized::<T>::PARAM_BYTES, size_of::<ConstSized<T>>());
        assert_eq!(ConstSized::<T>::TRACE_BYTES, size_of::<ConstSizedTrace<T>>());
        assert_eq!(Classifier::<T>::PARAM_BYTES, size_of::<Classifier<T>>());
        assert_eq!(Classifier::<T>::TRACE_BYTES, size_of::<ClassifierTrace<T>>());
        assert_eq!(Classifier::<T>::TRACE_BYTES, (2 * 4 + 3 * 8 + 3 * 3) * size_of::<T>());
        assert_eq!(Toy::<T>::PARAMS, 9);
        assert_eq!(Toy::<T>::zeroed().params().len(), Toy::<T>::PARAMS);
        assert_eq!(<Toy<T> as Network<T>>::INPUTS, 2);
    }
    check::<f32>();
    check::<f64>();
    assert_eq!(Toy::<f32>::PARAM_BYTES, 36);
    assert_eq!(Toy::<f64>::PARAM_BYTES, 72);
    // The scalar defaults to f32.
    assert_eq!(size_of::<Toy>(), size_of::<Toy<f32>>());
}

#[test]
fn layer_table_describes_the_spec() {
    let layers = ConstSized::<f32>::LAYERS;
    assert_eq!(layers.len(), 3);
    assert_eq!(
        (layers[0].name, layers[0].inputs, layers[0].outputs, layers[0].activation),
        ("wide", 6, 10, "Tanh")
    );
    assert_eq!(
        (layers[1].name, layers[1].inputs, layers[1].outputs, layers[1].activation),
        ("narrow", 10, 5, "LeakyRelu")
    );
    assert_eq!(layers[2].activation, "Sigmoid");
    assert_eq!(<ConstSized<f32> as Network<f32>>::LOSS, "BinaryCrossEntropy");
}

#[test]
fn params_are_the_fields_in_declaration_order() {
    let mut net = Toy::<f64>::zeroed();
    for (k, p) in net.params_mut().iter_mut().enumerate() {
        *p = k as f64;
    }
    assert_eq!(net.hidden.w, [[0.0, 1.0], [2.0, 3.0]]);
    assert_eq!(net.hidden.b, [4.0, 5.0]);
    assert_eq!(net.output.w, [[6.0, 7.0]]);
    assert_eq!(net.output.b, [8.0]);
}

#[test]
fn a_static_network_runs() {
    let y = BAKED.forward(&[1.0, 0.5]);
    assert!((y[0] - 0.552_611_94).abs() < 1e-6, "{y:?}");
}

#[test]
fn softmax_cross_entropy_is_finite_for_logits_of_magnitude_100_in_f32() {
    // Weights that drive the logits to about ±100.
    let mut net = Classifier::<f32>::zeroed();
    net.hidden.w[0] = [1.0, 0.0, 0.0, 0.0];
    net.output.w =
        [[100.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [-100.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0; 8]];
    let x = [1.0, 0.0, 0.0, 0.0];
    let mut trace = ClassifierTrace::zeroed();
    net.forward_trace(&x, &mut trace);
    assert_eq!(trace.output.z, [100.0, -100.0, 0.0]);

    let mut grads = Classifier::zeroed();
    // The true class is the one with logit -100: the loss is about 200, finite.
    let loss = net.backward(&mut trace, &[0.0, 1.0, 0.0], &mut grads);
    assert!((loss - 200.0).abs() < 1e-3, "loss {loss}");
    assert!(grads.params().iter().all(|g| g.is_finite()), "a gradient is not finite");
    assert!(trace.input_grad.iter().all(|g| g.is_finite()));
    assert!(trace.output.a.iter().all(|a| a.is_finite()));
    // dL/dz = softmax(z) - t = (1, -1, 0) to f32 precision.
    assert!((trace.output.delta[0] - 1.0).abs() < 1e-6 && (trace.output.delta[1] + 1.0).abs() < 1e-6);
    // The loss alone, through the inference path, is finite too.
    assert!(net.loss(&x, &[0.0, 1.0, 0.0]).is_finite());
}

#[test]
fn f32_and_f64_agree_to_f32_precision() {
    let mut rng = backprop::Rng::new(5);
    let mut net64 = ConstSized::<f64>::zeroed();
    for p in net64.params_mut() {
        *p = rng.uniform(-1.0, 1.0);
    }
    let mut net32 = ConstSized::<f32>::zeroed();
    for (p32, &p64) in net32.params_mut().iter_mut().zip(net64.params()) {
        *p32 = p64 as f32;
    }
    let x64: [f64; 6] = core::array::from_fn(|_| rng.uniform(-1.0, 1.0));
    let x32 = x64.map(|v| v as f32);
    let (mut t32, mut t64) = (ConstSizedTrace::zeroed(), ConstSizedTrace::zeroed());
    let (mut g32, mut g64) = (ConstSized::<f32>::zeroed(), ConstSized::<f64>::zeroed());
    net32.forward_trace(&x32, &mut t32);
    net64.forward_trace(&x64, &mut t64);
    let l32 = net32.backward(&mut t32, &[1.0], &mut g32);
    let l64 = net64.backward(&mut t64, &[1.0], &mut g64);

    let close = |a: f32, b: f64, what: &str| {
        let tolerance = 1e-5 * b.abs().max(1.0);
        assert!((f64::from(a) - b).abs() <= tolerance, "{what}: f32 {a} vs f64 {b}");
    };
    close(l32, l64, "loss");
    for (a, b) in g32.params().iter().zip(g64.params()) {
        close(*a, *b, "gradient");
    }
    for (a, b) in t32.input_grad.iter().zip(&t64.input_grad) {
        close(*a, *b, "input gradient");
    }
    close(net32.forward(&x32)[0], net64.forward(&x64)[0], "output");
}

#[test]
fn accumulate_adds_and_backward_overwrites() {
    let net =
        Toy::<f64>::new(Dense::new([[0.4, 0.2], [-0.2, 0.4]], [0.0, 0.0]), Dense::new([[0.5, -0.4]], [0.1]));
    let mut trace = ToyTrace::zeroed();
    net.forward_trace(&[1.0, 0.5], &mut trace);
    let mut once = Toy::zeroed();
    net.backward(&mut trace, &[1.0], &mut once);
    let mut twice = Toy::zeroed();
    net.backward_accumulate(&mut trace, &[1.0], &mut twice);
    net.backward_accumulate(&mut trace, &[1.0], &mut twice);
    for (a, b) in once.params().iter().zip(twice.params()) {
        assert_eq!(2.0 * a, *b);
    }
    // backward overwrites whatever was there.
    net.backward(&mut trace, &[1.0], &mut twice);
    assert_eq!(once, twice);
}

#[test]
fn inference_equals_the_traced_forward_pass() {
    let mut rng = backprop::Rng::new(8);
    let mut net = Classifier::<f32>::zeroed();
    for p in net.params_mut() {
        *p = rng.uniform(-1.0, 1.0) as f32;
    }
    let x = [0.5, -0.25, 1.0, 0.0];
    let mut trace = ClassifierTrace::zeroed();
    assert_eq!(net.forward(&x), net.forward_trace(&x, &mut trace));
    assert_eq!(trace.input, x);
    assert_eq!(<Classifier<f32> as Network<f32>>::trace_output(&trace), &trace.output.a);
}

#[test]
fn gradcheck_is_usable_on_const_sized_networks() {
    let mut rng = backprop::Rng::new(21);
    let mut net = ConstSized::<f64>::zeroed();
    for p in net.params_mut() {
        *p = rng.uniform(-1.0, 1.0);
    }
    let report = gradcheck(&net, &[0.1, -0.2, 0.3, 0.9, -0.7, 0.5], &[1.0], &backprop::GradCheck::default());
    assert!(report.passes(1e-6), "{report}");
}

#[test]
fn mini_batch_loss_and_gradient_are_the_means() {
    let mut rng = backprop::Rng::new(3);
    let mut net = Classifier::<f64>::zeroed();
    for p in net.params_mut() {
        *p = rng.uniform(-1.0, 1.0);
    }
    let inputs: [[f64; 4]; 3] = core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform(-1.0, 1.0)));
    let targets = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]];
    let mut batch = Classifier::zeroed();
    let loss = net.backward_batch(&inputs, &targets, &mut batch);

    let mut sum = Classifier::<f64>::zeroed();
    let mut trace = ClassifierTrace::zeroed();
    let mut expected_loss = 0.0;
    for (x, t) in inputs.iter().zip(&targets) {
        let mut g = Classifier::zeroed();
        net.forward_trace(x, &mut trace);
        expected_loss += net.backward(&mut trace, t, &mut g);
        for (s, g) in sum.params_mut().iter_mut().zip(g.params()) {
            *s += g;
        }
    }
    assert!((loss - expected_loss / 3.0).abs() < 1e-12);
    for (b, s) in batch.params().iter().zip(sum.params()) {
        assert!((b - s / 3.0).abs() < 1e-12);
    }
}
