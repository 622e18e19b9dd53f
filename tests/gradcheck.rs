//! Every analytic gradient against central finite differences, in f64: every activation as a
//! hidden layer with every loss, at widths 1, 7, 17 and 33; deep mixed stacks; relu networks with
//! inactive units; and the random-direction mode.

use backprop::gradcheck::GradCheckMode;
use backprop::{GradCheck, Network, Params, Rng, gradcheck};

/// Worst relative error allowed (see `backprop::gradcheck` for the definition).
const TOLERANCE: f64 = 1e-6;

/// Fills every parameter with a uniform value in `[-scale, scale)`.
fn randomize<N: Network<f64>>(net: &mut N, rng: &mut Rng, scale: f64) {
    for p in net.params_mut() {
        *p = rng.uniform(-scale, scale);
    }
}

/// The smallest `|z|` over every layer of the forward pass.
fn min_abs_z<N: Network<f64>>(net: &N, x: &N::Input, z_of: impl Fn(&N::Trace) -> Vec<f64>) -> f64 {
    let mut trace = N::new_trace();
    net.forward_trace(x, &mut trace);
    z_of(&trace).iter().fold(f64::INFINITY, |m, z| m.min(z.abs()))
}

fn random_array<const N: usize>(rng: &mut Rng, low: f64, high: f64) -> [f64; N] {
    core::array::from_fn(|_| rng.uniform(low, high))
}

/// A softmax target distribution that is not one-hot (to exercise the general formula too).
fn distribution<const N: usize>(rng: &mut Rng) -> [f64; N] {
    let raw: [f64; N] = random_array(rng, 0.1, 1.0);
    let sum: f64 = raw.iter().sum();
    raw.map(|v| v / sum)
}

fn check<N: Network<f64>>(what: &str, net: &N, x: &N::Input, target: &N::Output) {
    let report = gradcheck(net, x, target, &GradCheck::default());
    assert!(report.checked == N::LEN + N::INPUTS, "{what}: checked {} derivatives", report.checked);
    assert!(report.passes(TOLERANCE), "{what}: {report}");
    // Shown with `cargo test --test gradcheck -- --nocapture`.
    println!("{what}: {report}");
}

/// For one hidden activation and width, three networks, one per loss, each with its output.
macro_rules! every_loss {
    ($module:ident, $act:ident, $width:literal, relu_like = $relu_like:literal) => {
        mod $module {
            use super::*;

            backprop::network! {
                #[loss(HalfSquaredError)]
                pub struct Hse { input: 3, hidden: Dense<$width, $act>, output: Dense<2, Tanh> }
            }
            backprop::network! {
                #[loss(BinaryCrossEntropy)]
                pub struct Bce { input: 3, hidden: Dense<$width, $act>, output: Dense<2, Sigmoid> }
            }
            backprop::network! {
                #[loss(SoftmaxCrossEntropy)]
                pub struct Sce { input: 3, hidden: Dense<$width, $act>, output: Dense<4, Softmax> }
            }

            /// Draws weights and an input until no pre-activation sits within 1e-3 of a kink
            /// (for relu-like activations); returns the seed's network and input.
            fn draw<N: Network<f64, Input = [f64; 3]>>(
                seed: u64,
                z_of: impl Fn(&N::Trace) -> Vec<f64>,
            ) -> (N, [f64; 3]) {
                for attempt in 0..10_000 {
                    let mut rng = Rng::new(seed * 10_000 + attempt);
                    let mut net = N::zeroed();
                    randomize(&mut net, &mut rng, 1.0);
                    let x = random_array(&mut rng, -1.0, 1.0);
                    if !$relu_like || min_abs_z(&net, &x, &z_of) > 1e-3 {
                        return (net, x);
                    }
                }
                panic!("no draw keeps every z away from 0");
            }

            #[test]
            fn half_squared_error() {
                let (net, x) = draw::<Hse<f64>>(1, |t| [&t.hidden.z[..], &t.output.z[..]].concat());
                let target = random_array(&mut Rng::new(2), -1.0, 1.0);
                check(concat!(stringify!($act), " ", $width, " hse"), &net, &x, &target);
            }

            #[test]
            fn binary_cross_entropy() {
                let (net, x) = draw::<Bce<f64>>(3, |t| [&t.hidden.z[..], &t.output.z[..]].concat());
                check(concat!(stringify!($act), " ", $width, " bce"), &net, &x, &[1.0, 0.25]);
            }

            #[test]
            fn softmax_cross_entropy() {
                let (net, x) = draw::<Sce<f64>>(5, |t| [&t.hidden.z[..], &t.output.z[..]].concat());
                check(
                    concat!(stringify!($act), " ", $width, " sce one-hot"),
                    &net,
                    &x,
                    &[0.0, 0.0, 1.0, 0.0],
                );
                let target = distribution(&mut Rng::new(6));
                check(concat!(stringify!($act), " ", $width, " sce soft"), &net, &x, &target);
            }

            #[test]
            fn relu_units_are_inactive_somewhere() {
                // The relu draws must include dead units, or the test proves less than it says.
                if $relu_like && $width >= 7 {
                    let (net, x) = draw::<Hse<f64>>(1, |t| [&t.hidden.z[..], &t.output.z[..]].concat());
                    let mut trace = <Hse<f64> as Network<f64>>::new_trace();
                    net.forward_trace(&x, &mut trace);
                    assert!(trace.hidden.z.iter().any(|&z| z < 0.0), "{:?}", trace.hidden.z);
                }
            }
        }
    };
}

every_loss!(identity_1, Identity, 1, relu_like = false);
every_loss!(identity_7, Identity, 7, relu_like = false);
every_loss!(identity_17, Identity, 17, relu_like = false);
every_loss!(identity_33, Identity, 33, relu_like = false);
every_loss!(sigmoid_1, Sigmoid, 1, relu_like = false);
every_loss!(sigmoid_7, Sigmoid, 7, relu_like = false);
every_loss!(sigmoid_17, Sigmoid, 17, relu_like = false);
every_loss!(sigmoid_33, Sigmoid, 33, relu_like = false);
every_loss!(tanh_1, Tanh, 1, relu_like = false);
every_loss!(tanh_7, Tanh, 7, relu_like = false);
every_loss!(tanh_17, Tanh, 17, relu_like = false);
every_loss!(tanh_33, Tanh, 33, relu_like = false);
every_loss!(relu_1, Relu, 1, relu_like = true);
every_loss!(relu_7, Relu, 7, relu_like = true);
every_loss!(relu_17, Relu, 17, relu_like = true);
every_loss!(relu_33, Relu, 33, relu_like = true);
every_loss!(leaky_relu_1, LeakyRelu, 1, relu_like = true);
every_loss!(leaky_relu_7, LeakyRelu, 7, relu_like = true);
every_loss!(leaky_relu_17, LeakyRelu, 17, relu_like = true);
every_loss!(leaky_relu_33, LeakyRelu, 33, relu_like = true);
every_loss!(softplus_1, Softplus, 1, relu_like = false);
every_loss!(softplus_7, Softplus, 7, relu_like = false);
every_loss!(softplus_17, Softplus, 17, relu_like = false);
every_loss!(softplus_33, Softplus, 33, relu_like = false);

backprop::network! {
    /// Six layers, every activation, odd widths.
    #[loss(HalfSquaredError)]
    pub struct DeepMixed {
        input: 5,
        l1: Dense<7, Tanh>,
        l2: Dense<17, Softplus>,
        l3: Dense<9, Sigmoid>,
        l4: Dense<13, LeakyRelu>,
        l5: Dense<6, Relu>,
        out: Dense<3, Identity>,
    }
}

backprop::network! {
    /// Five layers ending in softmax cross-entropy.
    #[loss(SoftmaxCrossEntropy)]
    pub struct DeepClassifier {
        input: 4,
        a: Dense<8, Sigmoid>,
        b: Dense<8, Tanh>,
        c: Dense<8, Softplus>,
        d: Dense<8, Identity>,
        out: Dense<5, Softmax>,
    }
}

backprop::network! {
    /// Softmax output with half squared error: the loss goes through the softmax Jacobian.
    #[loss(HalfSquaredError)]
    pub struct SoftmaxHse { input: 3, hidden: Dense<4, Tanh>, out: Dense<3, Softmax> }
}

fn deep_mixed_zs(t: &DeepMixedTrace<f64>) -> Vec<f64> {
    [&t.l1.z[..], &t.l2.z[..], &t.l3.z[..], &t.l4.z[..], &t.l5.z[..], &t.out.z[..]].concat()
}

#[test]
fn deep_mixed_stack() {
    let mut found = 0;
    for seed in 0..200 {
        let mut rng = Rng::new(seed);
        let mut net = DeepMixed::<f64>::zeroed();
        randomize(&mut net, &mut rng, 0.8);
        let x = random_array(&mut rng, -1.0, 1.0);
        if min_abs_z(&net, &x, deep_mixed_zs) <= 1e-3 {
            continue;
        }
        let target = random_array(&mut rng, -1.0, 1.0);
        check("deep mixed", &net, &x, &target);
        found += 1;
        if found == 5 {
            return;
        }
    }
    panic!("too few draws keep every z away from the relu kinks");
}

#[test]
fn deep_softmax_classifier() {
    let mut rng = Rng::new(11);
    let mut net = DeepClassifier::<f64>::zeroed();
    randomize(&mut net, &mut rng, 1.0);
    let x = random_array(&mut rng, -1.0, 1.0);
    check("deep classifier", &net, &x, &[0.0, 1.0, 0.0, 0.0, 0.0]);
}

#[test]
fn softmax_output_with_half_squared_error() {
    let mut rng = Rng::new(12);
    let mut net = SoftmaxHse::<f64>::zeroed();
    randomize(&mut net, &mut rng, 1.5);
    let x = random_array(&mut rng, -1.0, 1.0);
    check("softmax hse", &net, &x, &[1.0, 0.0, 0.0]);
}

#[test]
fn random_directions_agree_with_the_backward_pass() {
    let mut rng = Rng::new(13);
    let mut net = DeepClassifier::<f64>::zeroed();
    randomize(&mut net, &mut rng, 1.0);
    let x = random_array(&mut rng, -1.0, 1.0);
    let target = [0.0, 0.0, 0.0, 1.0, 0.0];
    let options =
        GradCheck { mode: GradCheckMode::Directions { count: 16, seed: 99 }, ..GradCheck::default() };
    let report = gradcheck(&net, &x, &target, &options);
    assert_eq!(report.checked, 16 + 4);
    assert!(report.passes(TOLERANCE), "{report}");

    // One derivative by a plain two-point central difference, written out here, independently
    // of the checker's stencil.
    let mut grads = DeepClassifier::<f64>::zeroed();
    let mut trace = DeepClassifierTrace::zeroed();
    net.forward_trace(&x, &mut trace);
    net.backward(&mut trace, &target, &mut grads);
    let numeric = {
        let h = 1e-5;
        let (mut plus, mut minus) = (net.clone(), net.clone());
        plus.c.w[3][2] += h;
        minus.c.w[3][2] -= h;
        (plus.loss(&x, &target) - minus.loss(&x, &target)) / (2.0 * h)
    };
    assert!((grads.c.w[3][2] - numeric).abs() < 1e-8);
}

/// A network whose backward pass is deliberately wrong (the output gradient is doubled), checked
/// through the same `gradcheck`: the report must fail and name the place.
mod wrong_gradients {
    use super::*;
    use backprop::layer::ParamIndex;
    use backprop::{Dense, LayerInfo};

    backprop::network! {
        #[loss(HalfSquaredError)]
        pub struct Inner { input: 2, hidden: Dense<3, Tanh>, output: Dense<1, Identity> }
    }

    #[derive(Clone, Debug)]
    #[repr(transparent)]
    pub struct Broken(Inner<f64>);

    // SAFETY: `#[repr(transparent)]` over a `Params<f64>` type of the same length.
    unsafe impl Params<f64> for Broken {
        const LEN: usize = Inner::<f64>::PARAMS;
    }

    impl Network<f64> for Broken {
        type Input = [f64; 2];
        type Output = [f64; 1];
        type Trace = InnerTrace<f64>;
        const INPUTS: usize = 2;
        const OUTPUTS: usize = 1;
        const LAYERS: &'static [LayerInfo] = Inner::<f64>::LAYERS;
        const LOSS: &'static str = "HalfSquaredError";
        fn zeroed() -> Self {
            Broken(Inner::zeroed())
        }
        fn new_trace() -> InnerTrace<f64> {
            InnerTrace::zeroed()
        }
        fn forward(&self, x: &[f64; 2]) -> [f64; 1] {
            self.0.forward(x)
        }
        fn forward_trace(&self, x: &[f64; 2], trace: &mut InnerTrace<f64>) -> [f64; 1] {
            self.0.forward_trace(x, trace)
        }
        fn backward(&self, trace: &mut InnerTrace<f64>, target: &[f64; 1], grads: &mut Self) -> f64 {
            let loss = self.0.backward(trace, target, &mut grads.0);
            grads.0.output.w[0][1] *= 2.0; // the bug
            loss
        }
        fn backward_accumulate(
            &self,
            trace: &mut InnerTrace<f64>,
            target: &[f64; 1],
            grads: &mut Self,
        ) -> f64 {
            self.0.backward_accumulate(trace, target, &mut grads.0)
        }
        fn input_grad(trace: &InnerTrace<f64>) -> &[f64; 2] {
            &trace.input_grad
        }
        fn trace_output(trace: &InnerTrace<f64>) -> &[f64; 1] {
            &trace.output.a
        }
        fn loss(&self, x: &[f64; 2], target: &[f64; 1]) -> f64 {
            self.0.loss(x, target)
        }
        fn train_step(&mut self, x: &[f64; 2], target: &[f64; 1], lr: f64) -> f64 {
            self.0.train_step(x, target, lr)
        }
    }

    #[test]
    fn the_report_fails_and_names_the_parameter() {
        let net = Broken(Inner::new(
            Dense::new([[0.3, -0.2], [0.5, 0.1], [-0.4, 0.6]], [0.1, 0.0, -0.1]),
            Dense::new([[0.7, -0.5, 0.2]], [0.05]),
        ));
        let report = gradcheck(&net, &[0.5, -1.0], &[2.0], &GradCheck::default());
        assert!(!report.passes(1e-3), "{report}");
        let worst = report.worst.unwrap();
        assert_eq!(
            worst.location,
            backprop::gradcheck::GradLocation::Param(ParamIndex::Weight { layer: "output", row: 0, col: 1 })
        );
        assert!((worst.analytic / worst.numeric - 2.0).abs() < 1e-6);

        let options =
            GradCheck { mode: GradCheckMode::Directions { count: 4, seed: 1 }, ..GradCheck::default() };
        assert!(!gradcheck(&net, &[0.5, -1.0], &[2.0], &options).passes(1e-3));
    }
}
