//! A user's own activation, named by its path in the spec: its gradients checked against central
//! differences in f64, `Init::Auto` following its `RECTIFIER` flag, and a network trained with it.

use backprop::{Elementwise, GradCheck, Init, Params, Rng, Scalar, Sigmoid, gradcheck};

/// SiLU (swish): `f(z) = z σ(z)`, `f'(z) = σ(z) (1 + z (1 - σ(z)))`. Near zero for negative `z`,
/// so `Init::Auto` treats it as a rectifier.
#[derive(Clone, Copy, Debug, Default)]
pub struct Swish;

impl Elementwise for Swish {
    const NAME: &'static str = "Swish";
    const FORMULA: &'static str = "z / (1 + e^-z)";
    const RECTIFIER: bool = true;
    fn f<T: Scalar>(z: T) -> T {
        z * Sigmoid::f(z)
    }
    fn df<T: Scalar>(z: T, _: T) -> T {
        let s = Sigmoid::f(z);
        s * (T::ONE + z * (T::ONE - s))
    }
}

/// `f(z) = z²/2 + z` (smooth, not a rectifier), in a module of its own: reached as `self::...`.
mod shapes {
    use backprop::{Elementwise, Scalar};

    #[derive(Clone, Copy, Debug, Default)]
    pub struct HalfSquarePlus;

    impl Elementwise for HalfSquarePlus {
        const NAME: &'static str = "HalfSquarePlus";
        const FORMULA: &'static str = "z^2 / 2 + z";
        fn f<T: Scalar>(z: T) -> T {
            z * z * T::HALF + z
        }
        fn df<T: Scalar>(z: T, _: T) -> T {
            z + T::ONE
        }
    }
}

backprop::network! {
    /// XOR with a swish hidden layer.
    #[loss(BinaryCrossEntropy)]
    pub struct SwishXor { input: 2, hidden: Dense<8, crate::Swish>, output: Dense<1, Sigmoid> }
}

backprop::network! {
    /// Two user activations, one of them on the output.
    #[loss(HalfSquaredError)]
    pub struct Mixed { input: 3, first: Dense<5, self::shapes::HalfSquarePlus>, second: Dense<4, crate::Swish>, output: Dense<2, self::shapes::HalfSquarePlus> }
}

#[test]
fn the_spec_records_the_users_activation() {
    let names: Vec<_> = SwishXor::<f32>::LAYERS.iter().map(|l| (l.name, l.activation, l.rectifier)).collect();
    assert_eq!(names, [("hidden", "Swish", true), ("output", "Sigmoid", false)]);
    assert_eq!(Mixed::<f64>::LAYERS[0].activation, "HalfSquarePlus");
}

#[test]
fn gradients_of_user_activations_match_central_differences() {
    let mut rng = Rng::new(7);
    for _ in 0..5 {
        let mut net = Mixed::<f64>::zeroed();
        for p in net.params_mut() {
            *p = rng.uniform(-0.8, 0.8);
        }
        let x = [rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)];
        let target = [rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)];
        let report = gradcheck(&net, &x, &target, &GradCheck::default());
        assert_eq!(report.checked, Mixed::<f64>::PARAMS + 3);
        assert!(report.worst_relative_error() <= 1e-6, "{report}");

        let mut net: SwishXor<f64> = Init::Auto.network(rng.next_u64());
        net.hidden.b = core::array::from_fn(|_| rng.uniform(-0.5, 0.5));
        let report = gradcheck(&net, &[0.3, -0.7], &[1.0], &GradCheck::default());
        assert!(report.worst_relative_error() <= 1e-6, "{report}");
    }
}

#[test]
fn a_swish_network_learns_xor() {
    const DATA: [([f32; 2], [f32; 1]); 4] =
        [([0.0, 0.0], [0.0]), ([0.0, 1.0], [1.0]), ([1.0, 0.0], [1.0]), ([1.0, 1.0], [0.0])];
    let mut net: SwishXor<f32> = Init::Auto.network(3);
    let mean_loss = |net: &SwishXor<f32>| DATA.iter().map(|(x, t)| net.loss(x, t)).sum::<f32>() / 4.0;
    let before = mean_loss(&net);
    for _ in 0..3000 {
        for (x, t) in &DATA {
            net.train_step(x, t, 0.5);
        }
    }
    let after = mean_loss(&net);
    assert!(after < 0.05 && after < before / 10.0, "loss {before} -> {after}");
    for (x, t) in &DATA {
        assert_eq!(net.forward(x)[0].round(), t[0], "xor{x:?}");
    }
}
