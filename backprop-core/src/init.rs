//! Weight initialisation: Xavier/Glorot, He/Kaiming and PyTorch's `nn.Linear` default, for any
//! [`Network`], from a seed.
//!
//! Every value is drawn and scaled in `f64` (with `libm`) and rounded to the network's scalar
//! type once, so the same seed gives the same weights, bit for bit, on every target and with or
//! without `std`. Parameters are filled in their flat order
//! ([`Params::params`](crate::Params::params)), layer by layer as [`LayerInfo`](crate::LayerInfo)
//! describes it: the first [`weights`](crate::LayerInfo::weights) parameters are weights (for a
//! dense layer `w[o][i]` row by row, `o` the neuron), the next
//! [`biases`](crate::LayerInfo::biases) are biases.
//!
//! With `fan_in` and `fan_out` the layer's [`LayerInfo::fan_in`](crate::LayerInfo::fan_in) and
//! [`fan_out`](crate::LayerInfo::fan_out) (for a dense layer, its inputs and its neurons):
//!
//! | [`Init`] | weights | biases | PyTorch equivalent |
//! |---|---|---|---|
//! | `XavierUniform` | `U(-a, a)`, `a = √(6 / (fan_in + fan_out))` | 0 | `xavier_uniform_` (gain 1) |
//! | `XavierNormal` | `N(0, σ²)`, `σ = √(2 / (fan_in + fan_out))` | 0 | `xavier_normal_` (gain 1) |
//! | `HeUniform` | `U(-a, a)`, `a = √(6 / fan_in)` | 0 | `kaiming_uniform_(nonlinearity="relu")` |
//! | `HeNormal` | `N(0, σ²)`, `σ = √(2 / fan_in)` | 0 | `kaiming_normal_(nonlinearity="relu")` |
//! | `PyTorch` | `U(-a, a)`, `a = 1 / √fan_in` | `U(-a, a)` | `nn.Linear`'s default |
//! | `Auto` | `HeNormal` before a rectifier (`Relu`, `LeakyRelu`), `XavierUniform` otherwise, layer by layer | 0 | |
//! | `Uniform { bound }` | `U(-bound, bound)` | 0 | `uniform_(-bound, bound)` |
//! | `Normal { std }` | `N(0, std²)` | 0 | `normal_(0, std)` |
//!
//! Xavier keeps the variance of activations and of error signals about constant through layers
//! whose activation has slope 1 at 0 (tanh, sigmoid up to a factor, identity); He doubles it for
//! relu, which zeroes half of its inputs (Glorot and Bengio 2010; He et al. 2015).

use crate::Scalar;
use crate::network::Network;
use crate::rng::{RandomSource, Rng};

/// How to draw the initial weights and biases. See the [module documentation](self) for the
/// formulas.
///
/// ```
/// use backprop::{network, Init, Network, Params};
/// network! {
///     /// A digit classifier.
///     #[loss(SoftmaxCrossEntropy)]
///     pub struct Digits { input: 64, hidden: Dense<32, Relu>, output: Dense<10, Softmax> }
/// }
/// let a: Digits<f32> = Init::HeNormal.network(42);
/// let b: Digits<f32> = Init::HeNormal.network(42);
/// assert_eq!(a.params(), b.params()); // same seed, same weights
/// assert_eq!(a.hidden.b, [0.0; 32]);
/// let bound = (6.0f64 / (32.0 + 10.0)).sqrt() as f32;
/// let c: Digits<f32> = Init::XavierUniform.network(7);
/// assert!(c.output.w.as_flattened().iter().all(|w| w.abs() <= bound));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Init {
    /// Glorot & Bengio: `U(-a, a)`, `a = √(6 / (fan_in + fan_out))`; biases zero.
    XavierUniform,
    /// Glorot & Bengio: `N(0, 2 / (fan_in + fan_out))`; biases zero.
    XavierNormal,
    /// He et al., for relu: `U(-a, a)`, `a = √(6 / fan_in)`; biases zero.
    HeUniform,
    /// He et al., for relu: `N(0, 2 / fan_in)`; biases zero.
    HeNormal,
    /// PyTorch's `nn.Linear` default: weights and biases `U(-a, a)`, `a = 1 / √fan_in`.
    PyTorch,
    /// Per layer, by its activation: [`HeNormal`](Init::HeNormal) before a rectifier (an
    /// activation whose [`Activation::RECTIFIER`](crate::Activation::RECTIFIER) is true: `Relu`,
    /// `LeakyRelu`), [`XavierUniform`](Init::XavierUniform) before anything else.
    Auto,
    /// Weights `U(-bound, bound)`; biases zero.
    Uniform {
        /// Half the width of the interval.
        bound: f64,
    },
    /// Weights `N(0, std²)`; biases zero.
    Normal {
        /// The standard deviation.
        std: f64,
    },
}

/// How one layer's weights are drawn, once [`Init`] is resolved for it.
#[derive(Clone, Copy)]
enum Draw {
    Uniform(f64),
    Normal(f64),
}

impl Draw {
    fn sample<R: RandomSource + ?Sized>(self, rng: &mut R) -> f64 {
        match self {
            Self::Uniform(a) => rng.uniform(-a, a),
            Self::Normal(s) => s * rng.normal(),
        }
    }
}

impl Init {
    /// The weight distribution for a layer, and the bias bound (`None`: zero biases).
    fn resolve(self, fan_in: usize, fan_out: usize, rectifier: bool) -> (Draw, Option<f64>) {
        let (fi, fo) = (fan_in as f64, fan_out as f64);
        match self {
            Self::XavierUniform => (Draw::Uniform(libm::sqrt(6.0 / (fi + fo))), None),
            Self::XavierNormal => (Draw::Normal(libm::sqrt(2.0 / (fi + fo))), None),
            Self::HeUniform => (Draw::Uniform(libm::sqrt(6.0 / fi)), None),
            Self::HeNormal => (Draw::Normal(libm::sqrt(2.0 / fi)), None),
            Self::PyTorch => {
                let a = 1.0 / libm::sqrt(fi);
                (Draw::Uniform(a), Some(a))
            }
            Self::Auto if rectifier => Self::HeNormal.resolve(fan_in, fan_out, rectifier),
            Self::Auto => Self::XavierUniform.resolve(fan_in, fan_out, rectifier),
            Self::Uniform { bound } => (Draw::Uniform(bound), None),
            Self::Normal { std } => (Draw::Normal(std), None),
        }
    }

    /// Overwrites every weight and bias of `net`, drawing from `rng`.
    ///
    /// ```
    /// use backprop::{network, Init, Rng};
    /// network! {
    ///     /// XOR.
    ///     #[loss(BinaryCrossEntropy)]
    ///     pub struct Xor { input: 2, hidden: Dense<4, Tanh>, output: Dense<1, Sigmoid> }
    /// }
    /// let mut net = Xor::<f64>::zeroed();
    /// Init::XavierNormal.apply(&mut net, &mut Rng::new(1));
    /// assert!(net.hidden.w[0][0] != 0.0);
    /// ```
    pub fn apply<T: Scalar, N: Network<T>, R: RandomSource + ?Sized>(self, net: &mut N, rng: &mut R) {
        let params = net.params_mut();
        debug_assert_eq!(N::LAYERS.iter().map(|l| l.params()).sum::<usize>(), params.len());
        // Layer by layer, its weights then its biases, in one pass over the flat parameters (a
        // `LAYERS` shorter than the parameters leaves the rest as they were; the debug assertion
        // above catches that mismatch in a hand-written network).
        let mut rest = &mut params[..];
        for layer in N::LAYERS {
            let (draw, bias) = self.resolve(layer.fan_in, layer.fan_out, layer.rectifier);
            let (w, after) = rest.split_at_mut(layer.weights.min(rest.len()));
            let (b, after) = after.split_at_mut(layer.biases.min(after.len()));
            for p in w {
                *p = T::from_f64(draw.sample(rng));
            }
            for p in b {
                *p = match bias {
                    Some(a) => T::from_f64(rng.uniform(-a, a)),
                    None => T::ZERO,
                };
            }
            rest = after;
        }
    }

    /// A new network initialised from the built-in [`Rng`] seeded with `seed`.
    ///
    /// ```
    /// use backprop::{network, Init, Params};
    /// network! {
    ///     /// XOR.
    ///     #[loss(BinaryCrossEntropy)]
    ///     pub struct Xor { input: 2, hidden: Dense<4, Tanh>, output: Dense<1, Sigmoid> }
    /// }
    /// let net: Xor<f64> = Init::PyTorch.network(5);
    /// assert!(net.params().iter().all(|p| p.abs() <= 1.0 / 2f64.sqrt()));
    /// ```
    pub fn network<T: Scalar, N: Network<T>>(self, seed: u64) -> N {
        let mut net = N::zeroed();
        self.apply(&mut net, &mut Rng::new(seed));
        net
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{LayerInfo, LayerTrace};
    use crate::network::Params;
    use crate::{Dense, HalfSquaredError, Layer, Relu, Scalar, Sigmoid};

    /// A two-layer network (3 → 4 relu → 2 sigmoid, half squared error) written by hand as
    /// `network!` would generate it, so that the core's unit tests do not need the macro (whose
    /// code names the facade's copy of this crate, another type in a unit test).
    #[derive(Clone, Debug, PartialEq)]
    #[repr(C)]
    struct Net<T> {
        a: Dense<T, 3, 4>,
        b: Dense<T, 4, 2>,
    }

    /// What its forward pass stores and its backward pass writes.
    #[derive(Clone, Debug)]
    struct NetTrace<T> {
        input: [T; 3],
        a: LayerTrace<[T; 4]>,
        b: LayerTrace<[T; 2]>,
        input_grad: [T; 3],
    }

    unsafe impl<T: Scalar> Params<T> for Net<T> {
        const LEN: usize = 3 * 4 + 4 + 4 * 2 + 2;
    }

    impl<T: Scalar> Net<T> {
        fn backward_impl<const ACCUMULATE: bool>(
            &self,
            t: &mut NetTrace<T>,
            target: &[T; 2],
            grads: &mut Self,
        ) -> T {
            let loss = t.b.loss_delta::<HalfSquaredError, Sigmoid>(target);
            self.b.backward::<ACCUMULATE>(&t.a.a, &t.b.delta, &mut grads.b, &mut t.a.delta);
            t.a.activation_backward::<Relu>();
            self.a.backward::<ACCUMULATE>(&t.input, &t.a.delta, &mut grads.a, &mut t.input_grad);
            loss
        }
    }

    impl<T: Scalar> Network<T> for Net<T> {
        type Input = [T; 3];
        type Output = [T; 2];
        type Trace = NetTrace<T>;
        const INPUTS: usize = 3;
        const OUTPUTS: usize = 2;
        const LAYERS: &'static [LayerInfo] = &[
            LayerInfo::of::<T, Dense<T, 3, 4>, Relu>("a"),
            LayerInfo::of::<T, Dense<T, 4, 2>, Sigmoid>("b"),
        ];
        const LOSS: &'static str = "HalfSquaredError";
        fn zeroed() -> Self {
            Self { a: Dense::zeroed(), b: Dense::zeroed() }
        }
        fn new_trace() -> NetTrace<T> {
            NetTrace {
                input: [T::ZERO; 3],
                a: LayerTrace::zeroed(),
                b: LayerTrace::zeroed(),
                input_grad: [T::ZERO; 3],
            }
        }
        fn forward(&self, x: &[T; 3]) -> [T; 2] {
            self.b.infer::<Sigmoid>(&self.a.infer::<Relu>(x))
        }
        fn forward_trace(&self, x: &[T; 3], t: &mut NetTrace<T>) -> [T; 2] {
            t.input = *x;
            self.a.forward::<Relu>(&t.input, &mut t.a);
            self.b.forward::<Sigmoid>(&t.a.a, &mut t.b);
            t.b.a
        }
        fn backward(&self, t: &mut NetTrace<T>, target: &[T; 2], grads: &mut Self) -> T {
            self.backward_impl::<false>(t, target, grads)
        }
        fn backward_accumulate(&self, t: &mut NetTrace<T>, target: &[T; 2], grads: &mut Self) -> T {
            self.backward_impl::<true>(t, target, grads)
        }
        fn input_grad(t: &NetTrace<T>) -> &[T; 3] {
            &t.input_grad
        }
        fn trace_output(t: &NetTrace<T>) -> &[T; 2] {
            &t.b.a
        }
        fn loss(&self, x: &[T; 3], target: &[T; 2]) -> T {
            let mut t = Self::new_trace();
            self.forward_trace(x, &mut t);
            t.b.loss::<HalfSquaredError, Sigmoid>(target)
        }
        fn train_step(&mut self, x: &[T; 3], target: &[T; 2], lr: T) -> T {
            let mut t = Self::new_trace();
            self.forward_trace(x, &mut t);
            let loss = t.b.loss_delta::<HalfSquaredError, Sigmoid>(target);
            self.b.backward_sgd(&t.a.a, &t.b.delta, lr, &mut t.a.delta);
            t.a.activation_backward::<Relu>();
            self.a.sgd(&t.input, &t.a.delta, lr);
            loss
        }
    }

    #[test]
    fn the_hand_written_network_passes_its_gradient_check() {
        let net: Net<f64> = Init::XavierUniform.network(9);
        let report = crate::gradcheck(&net, &[0.3, -0.8, 1.1], &[1.0, 0.0], &crate::GradCheck::default());
        assert!(report.checked > 0 && report.passes(1e-6), "{report:?}");
        let (mut stepped, mut fused) = (net.clone(), net.clone());
        let mut grads = Net::zeroed();
        stepped.backward_batch(&[[0.3, -0.8, 1.1]], &[[1.0, 0.0]], &mut grads);
        for (p, g) in stepped.params_mut().iter_mut().zip(grads.params()) {
            *p -= 0.5 * g;
        }
        fused.train_step(&[0.3, -0.8, 1.1], &[1.0, 0.0], 0.5);
        for (a, b) in stepped.params().iter().zip(fused.params()) {
            assert!((a - b).abs() < 1e-15, "{a} vs {b}");
        }
    }

    /// `Init::XavierUniform` with seed 2024, in f64: recorded once from a Python implementation of
    /// SplitMix64 and `low + (high - low) · u`, `u = (word >> 11) · 2⁻⁵³`, `a = sqrt(6 / (fi + fo))`
    /// (Python's `math.sqrt`, correctly rounded like `libm::sqrt`), written independently of this
    /// file. No transcendental function is involved, so the values are exact to the last bit.
    const XAVIER_UNIFORM_2024: [f64; 26] = [
        0.22731760277266422,
        -0.7457815893382489,
        -0.3729644772292017,
        -0.7106840785131485,
        0.6121113908505924,
        0.09706538134720955,
        -0.6726015144536654,
        0.17839477062289433,
        -0.6131662424138125,
        -0.135435023613942,
        -0.0711845618471566,
        0.6239746929968755,
        0.0,
        0.0,
        0.0,
        0.0,
        0.6880454846350379,
        0.3229298330149082,
        -0.7088911443537049,
        0.377549021981467,
        0.9834989398647522,
        -0.32193730402113396,
        0.6168980650155698,
        -0.10743402226189058,
        0.0,
        0.0,
    ];

    #[test]
    fn xavier_uniform_matches_an_independent_implementation_bit_for_bit() {
        let net: Net<f64> = Init::XavierUniform.network(2024);
        assert_eq!(net.params(), &XAVIER_UNIFORM_2024[..]);
        // In f32, the same values rounded once.
        let net32: Net<f32> = Init::XavierUniform.network(2024);
        for (a, b) in net32.params().iter().zip(&XAVIER_UNIFORM_2024) {
            assert_eq!(*a, *b as f32);
        }
    }

    #[test]
    fn equal_seeds_give_identical_weights_and_seeds_differ() {
        for init in [
            Init::XavierUniform,
            Init::XavierNormal,
            Init::HeUniform,
            Init::HeNormal,
            Init::PyTorch,
            Init::Auto,
        ] {
            let a: Net<f32> = init.network(11);
            let b: Net<f32> = init.network(11);
            let c: Net<f32> = init.network(12);
            let bits = |n: &Net<f32>| n.params().iter().map(|p| p.to_bits()).collect::<Vec26>();
            assert!(bits(&a) == bits(&b), "{init:?}");
            assert!(bits(&a) != bits(&c), "{init:?}");
        }
    }

    /// The bit patterns of the 26 parameters (the crate is `no_std`, also in its tests).
    #[derive(PartialEq)]
    struct Vec26([u32; 26]);
    impl FromIterator<u32> for Vec26 {
        fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
            let mut out = [0; 26];
            for (o, b) in out.iter_mut().zip(iter) {
                *o = b;
            }
            Vec26(out)
        }
    }

    #[test]
    fn bounds_and_biases_follow_the_formulas() {
        let net: Net<f64> = Init::HeUniform.network(3);
        let a = libm::sqrt(6.0 / 3.0);
        assert!(net.a.w.as_flattened().iter().all(|w| w.abs() < a));
        let b = libm::sqrt(6.0 / 4.0);
        assert!(net.b.w.as_flattened().iter().all(|w| w.abs() < b));
        assert_eq!(net.a.b, [0.0; 4]);

        let torch: Net<f64> = Init::PyTorch.network(3);
        let a = 1.0 / libm::sqrt(3.0);
        assert!(torch.a.params().iter().all(|w| w.abs() < a));
        assert!(torch.a.b.iter().any(|&b| b != 0.0), "PyTorch's default draws biases too");

        // Auto: He normal on the relu layer, Xavier uniform on the sigmoid one, drawn in order.
        let auto: Net<f64> = Init::Auto.network(5);
        let mut rng = Rng::new(5);
        let sigma = libm::sqrt(2.0 / 3.0);
        for &w in auto.a.w.as_flattened() {
            assert_eq!(w, sigma * rng.normal());
        }
        let bound = libm::sqrt(6.0 / 6.0);
        for &w in auto.b.w.as_flattened() {
            assert_eq!(w, rng.uniform(-bound, bound));
        }
    }

    #[test]
    fn sample_moments_match_the_target_variances() {
        // A wide layer so the sample variance is meaningful: 20_000 weights of a 200 → 100 layer
        // (2_000 of a 50 → 40 layer under Miri, which is about a thousand times slower and has
        // no unsafe code to check here beyond `params`).
        const FAN_IN: usize = if cfg!(miri) { 50 } else { 200 };
        const FAN_OUT: usize = if cfg!(miri) { 40 } else { 100 };
        const N: usize = FAN_IN * FAN_OUT;
        let (fi, fo) = (FAN_IN as f64, FAN_OUT as f64);
        let moments = |init: Init| {
            let (draw, _) = init.resolve(FAN_IN, FAN_OUT, true);
            let mut layer = Dense::<f64, FAN_IN, FAN_OUT>::zeroed();
            let mut rng = Rng::new(77);
            for w in layer.w.as_flattened_mut() {
                *w = draw.sample(&mut rng);
            }
            let ws = &layer.params()[..N];
            let mean = ws.iter().sum::<f64>() / N as f64;
            let var = ws.iter().map(|w| (w - mean) * (w - mean)).sum::<f64>() / N as f64;
            (mean, var)
        };
        // The relative standard error of a sample variance is at most √(2 / N) (normal weights;
        // uniform ones do better): allow five of them, 5 % for 20_000 weights.
        let tolerance = 5.0 * libm::sqrt(2.0 / N as f64);
        for (init, expected) in [
            (Init::XavierUniform, 2.0 / (fi + fo)),
            (Init::XavierNormal, 2.0 / (fi + fo)),
            (Init::HeUniform, 2.0 / fi),
            (Init::HeNormal, 2.0 / fi),
        ] {
            let (mean, var) = moments(init);
            assert!(
                (var / expected - 1.0).abs() < tolerance,
                "{init:?}: variance {var}, expected {expected}"
            );
            assert!(mean.abs() < 4.0 * libm::sqrt(expected / N as f64), "{init:?}: mean {mean}");
        }
    }
}
