//! `backprop` without `std` or `alloc`, as thiserror's `tests/no-std`.
//!
//! The crate is `#![no_std]`: it builds for `thumbv7em-none-eabihf`, `thumbv6m-none-eabi` and
//! `riscv32imc-unknown-none-elf` (see `.ci/run`), which proves that the facade, the core and the
//! code `network!` expands to name only `core`. On the host, `cargo test` runs the same functions.
#![no_std]

use backprop::{Dense, GradCheck, Network, ParamBytes, Params, Rng, Scalar, gradcheck, network};

network! {
    /// Half squared error after a sigmoid output.
    #[loss(HalfSquaredError)]
    pub struct Regressor { input: 2, hidden: Dense<3, Tanh>, output: Dense<1, Sigmoid> }
}

network! {
    /// Binary cross-entropy, two hidden layers.
    #[loss(BinaryCrossEntropy)]
    pub struct Detector { input: 5, a: Dense<9, Relu>, b: Dense<4, Softplus>, output: Dense<2, Sigmoid> }
}

network! {
    /// Softmax cross-entropy.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Classifier { input: 4, hidden: Dense<6, LeakyRelu>, output: Dense<3, Softmax> }
}

network! {
    /// Convolutions on an image: a convolution, a max pool, a global average pool.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Vision {
        input: [1, 6, 6],
        conv: Conv2d<3, 3, Tanh>,
        pool: MaxPool2d<2>,
        gap: GlobalAvgPool2d,
        output: Dense<2, Softmax>,
    }
}

network! {
    /// A convolution on a signal, same padding, and an average pool.
    #[loss(BinaryCrossEntropy)]
    pub struct Signal {
        input: [2, 8],
        conv: Conv1d<2, 3, Relu, padding = Same>,
        pool: AvgPool1d<2>,
        output: Dense<1, Sigmoid>,
    }
}

/// A network from a fixed seed, weights uniform in `±1/√inputs` of each layer.
pub fn seeded<T: Scalar, N: Network<T>>(seed: u64) -> N {
    let mut rng = Rng::new(seed);
    let mut net = N::zeroed();
    let mut params = net.params_mut().iter_mut();
    for layer in N::LAYERS {
        let bound = 1.0 / Scalar::sqrt(layer.inputs as f64);
        for p in params.by_ref().take(layer.params()) {
            *p = T::from_f64(rng.uniform(-bound, bound));
        }
    }
    net
}

/// One SGD step on one sample: returns the loss before and after.
pub fn one_step<T: Scalar, N: Network<T>>(net: &mut N, x: &N::Input, t: &N::Output, lr: T) -> (T, T) {
    let before = net.train_step(x, t, lr);
    (before, net.loss(x, t))
}

/// The worst relative error of a full gradient check in `f64`.
pub fn worst_gradcheck_error<N: Network<f64>>(net: &N, x: &N::Input, t: &N::Output) -> f64 {
    gradcheck(net, x, t, &GradCheck::default()).worst_relative_error()
}

/// Parameters to bytes and back, in a stack buffer: `true` when the copy is exact and a
/// truncated buffer is refused without touching the network.
pub fn round_trip<T: Scalar, N: ParamBytes<T> + PartialEq>(net: &N) -> bool {
    let mut buffer = [0u8; 1024];
    let Ok(len) = net.to_bytes(&mut buffer) else { return false };
    let mut copy = N::zeroed();
    let loaded = copy.load_bytes(&buffer[..len]).is_ok() && copy == *net;
    let refused = copy.load_bytes(&buffer[..len - 1]).is_err() && copy == *net;
    loaded && refused
}

/// Everything above on the five networks: `true` when every step lowers the loss, every
/// gradient check passes at `1e-6` and every round trip through bytes is exact. Callable from
/// firmware.
pub fn smoke_test() -> bool {
    let mut ok = true;

    let mut r: Regressor<f32> = seeded(1);
    let (before, after) = one_step(&mut r, &[0.5, -1.0], &[0.9], 0.5);
    ok &= after < before;
    let r64: Regressor<f64> = seeded(1);
    ok &= worst_gradcheck_error(&r64, &[0.5, -1.0], &[0.9]) < 1e-6;

    let mut d: Detector<f32> = seeded(2);
    let x = [0.1, -0.4, 0.9, 0.3, -0.7];
    let (before, after) = one_step(&mut d, &x, &[1.0, 0.0], 0.1);
    ok &= after < before;
    let d64: Detector<f64> = seeded(2);
    ok &= worst_gradcheck_error(&d64, &[0.1, -0.4, 0.9, 0.3, -0.7], &[1.0, 0.0]) < 1e-6;

    // `new` is a `const fn`: a network can be built in a `static`.
    static ZERO: Classifier<f32> = Classifier::new(Dense::zeroed(), Dense::zeroed());
    let mut c = ZERO.clone();
    c.params_mut().copy_from_slice(seeded::<f32, Classifier<f32>>(3).params());
    let (before, after) = one_step(&mut c, &[1.0, 0.0, -1.0, 0.5], &[0.0, 1.0, 0.0], 0.1);
    ok &= after < before;
    let c64: Classifier<f64> = seeded(3);
    ok &= worst_gradcheck_error(&c64, &[1.0, 0.0, -1.0, 0.5], &[0.0, 1.0, 0.0]) < 1e-6;

    ok &= round_trip(&r) && round_trip(&d64) && round_trip(&c);

    // Convolutional networks: a flat input read as channels × height × width.
    let image: [f64; 36] = core::array::from_fn(|i| ((i * 7) % 11) as f64 / 11.0 - 0.5);
    let mut v: Vision<f32> = seeded(4);
    let (before, after) = one_step(&mut v, &image.map(|p| p as f32), &[1.0, 0.0], 0.5);
    ok &= after < before;
    let v64: Vision<f64> = seeded(4);
    ok &= worst_gradcheck_error(&v64, &image, &[1.0, 0.0]) < 1e-6;
    let signal: [f64; 16] = core::array::from_fn(|i| ((i * 5) % 7) as f64 / 7.0 - 0.4);
    let mut s: Signal<f32> = seeded(5);
    let (before, after) = one_step(&mut s, &signal.map(|p| p as f32), &[1.0], 0.5);
    ok &= after < before;
    let s64: Signal<f64> = seeded(5);
    ok &= worst_gradcheck_error(&s64, &signal, &[1.0]) < 1e-6;
    ok &= round_trip(&v) && round_trip(&s64);
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trains_and_gradchecks_without_std() {
        assert!(smoke_test());
    }

    #[test]
    fn the_conv_network_reads_its_flat_input_as_an_image() {
        let v: Vision<f64> = seeded(4);
        let image: [f64; 36] = core::array::from_fn(|i| i as f64 / 36.0);
        let mut trace = VisionTrace::zeroed();
        let y = v.forward_trace(&image, &mut trace);
        let pixels: &[[[f64; 6]; 6]; 1] = backprop::conv::flatten(&trace.input);
        assert_eq!(pixels[0][2][3], image[2 * 6 + 3]);
        let mut grads = Vision::zeroed();
        let loss = v.backward(&mut trace, &[0.0, 1.0], &mut grads);
        assert!(loss > 0.0 && y[1] < 1.0);
        assert!(trace.input_grad.iter().any(|&g| g != 0.0));
        let e = worst_gradcheck_error(&v, &image, &[0.0, 1.0]);
        assert!(e > 0.0 && e < 1e-6, "{e}");
    }

    #[test]
    fn each_network_learns_a_step_and_passes_gradcheck() {
        let mut c: Classifier<f64> = seeded(3);
        let x = [1.0, 0.0, -1.0, 0.5];
        let t = [0.0, 1.0, 0.0];
        let (before, after) = one_step(&mut c, &x, &t, 0.1);
        assert!(after < before, "{before} -> {after}");
        let e = worst_gradcheck_error(&c, &x, &t);
        assert!(e < 1e-6, "{e}");
        assert!(e > 0.0, "the check compared something");
    }
}
