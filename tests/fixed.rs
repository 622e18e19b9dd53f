//! Networks in the fixed-point `I16F16`: every generic path (activations, losses, optimizers,
//! initialisers, serialisation) compiles and runs, XOR trains, and the gradients agree with the
//! `f64` ones within a bound derived from the format's resolution.

use backprop::{
    I16F16, Init, Momentum, Naming, Network, ParamBytes, Params, Safetensors, Scalar, Sgd, Trainer, network,
};

network! {
    /// XOR, as in `examples/cortex-m`.
    #[loss(BinaryCrossEntropy)]
    pub struct Xor { input: 2, hidden: Dense<4, Tanh>, output: Dense<1, Sigmoid> }
}

network! {
    /// Every other activation, and softmax cross-entropy.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Classifier { input: 4, a: Dense<8, LeakyRelu>, b: Dense<6, Softplus>, c: Dense<5, Relu>, output: Dense<3, Softmax> }
}

network! {
    /// Half squared error after an identity output.
    #[loss(HalfSquaredError)]
    pub struct Regressor { input: 3, hidden: Dense<5, Sigmoid>, output: Dense<2, Identity> }
}

fn q(x: f64) -> I16F16 {
    I16F16::from_f64(x)
}

const XOR_INPUTS: [[f64; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
const XOR_TARGETS: [[f64; 1]; 4] = [[0.0], [1.0], [1.0], [0.0]];

fn xor_data() -> ([[I16F16; 2]; 4], [[I16F16; 1]; 4]) {
    (XOR_INPUTS.map(|x| x.map(q)), XOR_TARGETS.map(|t| t.map(q)))
}

fn mean_loss<N: Network<I16F16>>(net: &N, inputs: &[N::Input], targets: &[N::Output]) -> f64 {
    inputs.iter().zip(targets).map(|(x, t)| net.loss(x, t).to_f64()).sum::<f64>() / inputs.len() as f64
}

/// XOR in Q16.16 trains to a mean loss below 0.01 with per-sample SGD (learning rate 0.5, as the
/// Cortex-M firmware), from the initialiser's weights rounded to the format.
#[test]
fn xor_trains_in_fixed_point() {
    let (inputs, targets) = xor_data();
    let mut net: Xor<I16F16> = Init::Auto.network(42);
    let lr = q(0.5);
    let mut epochs = None;
    for epoch in 1..=5000 {
        for (x, t) in inputs.iter().zip(&targets) {
            net.train_step(x, t, lr);
        }
        if mean_loss(&net, &inputs, &targets) < 0.01 {
            epochs = Some(epoch);
            break;
        }
    }
    let loss = mean_loss(&net, &inputs, &targets);
    assert!(epochs.is_some(), "mean loss {loss} after 5000 epochs");
    println!("XOR in I16F16: mean loss {loss:.5} after {} epochs", epochs.unwrap_or_default());
    for (x, t) in inputs.iter().zip(&targets) {
        assert!((net.forward(x)[0].to_f64() - t[0].to_f64()).abs() < 0.1);
    }
}

/// The checked `Trainer` with momentum, on XOR: the same convergence.
#[test]
fn xor_trains_with_momentum_and_the_trainer() {
    let net: Xor<I16F16> = Init::Auto.network(7);
    let trainer = Trainer::new(net, Momentum::new(q(0.1), q(0.9)).unwrap());
    let loss = checked_xor_epochs(trainer, 3000);
    assert!(loss < 0.01, "mean loss {loss}");
}

/// `epochs` epochs of checked single-sample steps on XOR; the mean loss after them.
fn checked_xor_epochs<O: backprop::Optimizer<I16F16, Xor<I16F16>>>(
    mut trainer: Trainer<I16F16, Xor<I16F16>, O>,
    epochs: usize,
) -> f64 {
    let (inputs, targets) = xor_data();
    for _ in 0..epochs {
        for (x, t) in inputs.iter().zip(&targets) {
            trainer.try_step(x, t).unwrap();
        }
    }
    mean_loss(&trainer.net, &inputs, &targets)
}

/// Every activation and loss, forward and backward, within a small multiple of the format's
/// resolution of the same network in `f64` (weights and inputs exactly representable).
#[test]
fn every_activation_and_loss_runs_close_to_f64() {
    let wide: Classifier<f64> = Init::Auto.network(3);
    let wide: Classifier<f64> = rounded(&wide);
    let narrow = convert::<Classifier<f64>, Classifier<I16F16>>(&wide);
    let x = [0.5, -1.25, 2.0, 0.75];
    let t = [0.0, 1.0, 0.0];
    let (y64, y) = (wide.forward(&x), narrow.forward(&x.map(q)));
    for (a, b) in y64.iter().zip(&y) {
        assert!((a - b.to_f64()).abs() < 1e-3, "{y64:?} vs {y:?}");
    }
    let (l64, l) = (wide.loss(&x, &t), narrow.loss(&x.map(q), &t.map(q)));
    assert!((l64 - l.to_f64()).abs() < 1e-3, "{l64} vs {l}");

    let wide: Regressor<f64> = rounded(&Init::Auto.network(4));
    let narrow = convert::<Regressor<f64>, Regressor<I16F16>>(&wide);
    let x = [0.5, -1.0, 0.25];
    let t = [0.3, -0.2];
    let (mut g64, mut g) = (Regressor::<f64>::zeroed(), Regressor::<I16F16>::zeroed());
    let (mut t64, mut tr) = (Regressor::<f64>::new_trace(), Regressor::<I16F16>::new_trace());
    wide.forward_trace(&x, &mut t64);
    narrow.forward_trace(&x.map(q), &mut tr);
    let l64 = wide.backward(&mut t64, &t, &mut g64);
    let l = narrow.backward(&mut tr, &t.map(q), &mut g);
    assert!((l64 - l.to_f64()).abs() < 1e-3);
    for (a, b) in g64.params().iter().zip(g.params()) {
        assert!((a - b.to_f64()).abs() < 1e-3, "{a} vs {b}");
    }
}

/// `src` with every parameter rounded to Q16.16 (so that both types start from the same values).
fn rounded<N: Network<f64>>(src: &N) -> N {
    let mut out = N::zeroed();
    for (o, &p) in out.params_mut().iter_mut().zip(src.params()) {
        *o = q(p).to_f64();
    }
    out
}

fn convert<A: Network<f64>, B: Network<I16F16>>(src: &A) -> B {
    let mut out = B::zeroed();
    for (o, &p) in out.params_mut().iter_mut().zip(src.params()) {
        *o = q(p);
    }
    out
}

/// Serialisation: the own format stores the raw bits (4 bytes each) and round-trips exactly;
/// safetensors writes `F64` (8 bytes each) and reads back exactly, also into an `f64` network.
#[test]
fn serialisation_round_trips() {
    let net: Xor<I16F16> = Init::Auto.network(11);
    let mut bytes = [0u8; Xor::<I16F16>::SERIALIZED_LEN];
    assert_eq!(Xor::<I16F16>::SERIALIZED_LEN, Xor::<f32>::SERIALIZED_LEN);
    net.to_bytes(&mut bytes).unwrap();
    assert_eq!(bytes[5], I16F16::TAG);
    let back = Xor::<I16F16>::from_bytes(&bytes).unwrap();
    assert_eq!(back.params(), net.params());
    assert!(Xor::<f32>::from_bytes(&bytes).is_err());

    let file = net.to_safetensors(Naming::Layers).unwrap();
    assert_eq!(file.len(), Xor::<f64>::zeroed().to_safetensors(Naming::Layers).unwrap().len());
    let mut back = Xor::<I16F16>::zeroed();
    back.load_safetensors(&file, Naming::Layers).unwrap();
    assert_eq!(back.params(), net.params());
    let mut wide = Xor::<f64>::zeroed();
    wide.load_safetensors(&file, Naming::Layers).unwrap();
    for (a, b) in wide.params().iter().zip(net.params()) {
        assert_eq!(*a, b.to_f64());
    }

    // A saturated (diverged) parameter is refused, as an infinite one is in floating point.
    let mut bad = net;
    bad.params_mut()[0] = I16F16::MAX;
    assert!(bad.to_bytes(&mut bytes).is_err());
    assert!(bad.to_safetensors(Naming::Layers).is_err());
}

/// SGD through the `Optimizer` interface, and the divergence check catching saturation.
#[test]
fn sgd_and_saturation() {
    let (inputs, targets) = xor_data();
    let net: Xor<I16F16> = Init::Auto.network(42);
    assert!(checked_xor_epochs(Trainer::new(net, Sgd::new(q(0.5)).unwrap()), 3000) < 0.01);

    // A learning rate that saturates a weight: the step is refused (`is_finite` is false at MAX).
    let mut trainer =
        Trainer::new(Init::Auto.network::<I16F16, Xor<I16F16>>(42), Sgd::new(q(30000.0)).unwrap());
    let mut failed = false;
    for _ in 0..100 {
        for (x, t) in inputs.iter().zip(&targets) {
            failed |= trainer.try_step(x, t).is_err();
        }
    }
    assert!(failed);
}

network! {
    /// The network of the gradient bound: 3 inputs, 4 tanh units, 2 sigmoid outputs.
    #[loss(BinaryCrossEntropy)]
    pub struct Small { input: 3, hidden: Dense<4, Tanh>, output: Dense<2, Sigmoid> }
}

/// The gradients of a 3-4-2 tanh/sigmoid network with binary cross-entropy in `I16F16` agree with
/// the `f64` gradients of the same weights and inputs (multiples of `2⁻⁸`, exact in both) within
/// a bound derived from the format's resolution, component by component.
///
/// # The bound
///
/// Write `r = 2⁻¹⁷`, half an ulp: every product and quotient is rounded once, by at most `r`;
/// `tanh` and `exp` are within `r_f = 0.500075` ulp (their measured maximum over all `2³²`
/// inputs, see `backprop::fixed`); and every sum is exact (fixed-point addition rounds
/// nothing as long as it does not saturate; the values here stay below 10). The `f64` values are
/// exact to `10⁻¹⁵`, far below. With `n₀ = 3` inputs, errors `e(·)`, and the exact values'
/// magnitudes:
///
/// - `z₁ = W₁ x + b₁`: `n₀` rounded products, so `e(z₁) ≤ n₀ r`;
/// - `a₁ = tanh z₁`: `|tanh'| ≤ 1`, so `e(a₁) ≤ r_f + e(z₁)`;
/// - `z₂ = W₂ a₁ + b₂`: `e(z₂ₖ) ≤ Σⱼ (r + |W₂ₖⱼ| e(a₁ⱼ))`;
/// - the output delta `σ(z₂) - t`, computed as `h - t ∓ e/(1 + e)` with `e = exp(-|z₂|)`:
///   `e(e) ≤ r_f + exp(-(|z₂| - e(z₂))) e(z₂)` (the exponential's slope over the interval),
///   `x/(1 + x)` has slope `≤ 1` and its division rounds once, `h - t` is exact: so
///   `e(δ₂) ≤ r + r_f + exp(-(|z₂| - e(z₂))) e(z₂)`;
/// - `∂W₂ = δ₂ a₁ᵀ`, each product rounded: `r + |a₁| e(δ₂) + |δ₂| e(a₁) + e(δ₂) e(a₁)`; `∂b₂ = δ₂`;
/// - `s = W₂ᵀ δ₂`: `e(sⱼ) ≤ Σₖ (r + |W₂ₖⱼ| e(δ₂ₖ))`;
/// - `tanh' = 1 - a₁²` from the rounded `a₁`: `e ≤ r + 2|a₁| e(a₁) + e(a₁)²`;
/// - `δ₁ = s ⊙ tanh'`: `r + |tanh'| e(s) + |s| e(tanh') + e(s) e(tanh')`;
/// - `∂W₁ = δ₁ xᵀ`: `r + |x| e(δ₁)` (`x` exact); `∂b₁ = δ₁`.
///
/// The bound for each component is computed from these with the `f64` magnitudes: no constant
/// is tuned. Over 200 random draws (weights in `[-1.5, 1.5]`) it reaches 26 ulps (`2⁻¹⁶`) for
/// the first layer's weights; the largest error measured is 4.2 ulps, and the largest ratio of
/// an error to its bound 0.90.
#[test]
#[allow(clippy::needless_range_loop)] // indices as in the formulas above
fn gradients_agree_with_f64_within_the_derived_bound() {
    const R: f64 = 1.0 / 131072.0;
    const RF: f64 = 0.500075 / 65536.0;
    let mut rng = backprop::Rng::new(20);
    let mut grid = || (rng.uniform(-1.5, 1.5) * 256.0).round() / 256.0;
    let (mut worst_ratio, mut worst_err, mut largest_bound) = (0.0f64, 0.0f64, 0.0f64);
    for _ in 0..200 {
        let mut wide = Small::<f64>::zeroed();
        for p in wide.params_mut() {
            *p = grid();
        }
        let x = [grid(), grid(), grid()];
        let t = [0.0, 1.0];
        let narrow = convert::<Small<f64>, Small<I16F16>>(&wide);
        let (mut g64, mut g) = (Small::<f64>::zeroed(), Small::<I16F16>::zeroed());
        let (mut t64, mut tr) = (Small::<f64>::new_trace(), Small::<I16F16>::new_trace());
        wide.forward_trace(&x, &mut t64);
        narrow.forward_trace(&x.map(q), &mut tr);
        wide.backward(&mut t64, &t, &mut g64);
        narrow.backward(&mut tr, &t.map(q), &mut g);

        // The exact forward pass and the error bounds, step by step as in the doc comment.
        let (w1, b1, w2, b2) = (wide.hidden.w, wide.hidden.b, wide.output.w, wide.output.b);
        let z1: [f64; 4] = core::array::from_fn(|j| b1[j] + (0..3).map(|i| w1[j][i] * x[i]).sum::<f64>());
        let a1 = z1.map(f64::tanh);
        let e_a1 = [RF + 3.0 * R; 4]; // n₀ = 3 products
        let z2: [f64; 2] = core::array::from_fn(|k| b2[k] + (0..4).map(|j| w2[k][j] * a1[j]).sum::<f64>());
        let e_z2: [f64; 2] = core::array::from_fn(|k| (0..4).map(|j| R + w2[k][j].abs() * e_a1[j]).sum());
        let d2: [f64; 2] = core::array::from_fn(|k| 1.0 / (1.0 + (-z2[k]).exp()) - t[k]);
        let e_d2: [f64; 2] =
            core::array::from_fn(|k| R + RF + (-(z2[k].abs() - e_z2[k]).max(0.0)).exp() * e_z2[k]);
        let s: [f64; 4] = core::array::from_fn(|j| (0..2).map(|k| w2[k][j] * d2[k]).sum());
        let e_s: [f64; 4] = core::array::from_fn(|j| (0..2).map(|k| R + w2[k][j].abs() * e_d2[k]).sum());
        let df = a1.map(|a| 1.0 - a * a);
        let e_df: [f64; 4] = core::array::from_fn(|j| R + 2.0 * a1[j].abs() * e_a1[j] + e_a1[j] * e_a1[j]);
        let e_d1: [f64; 4] =
            core::array::from_fn(|j| R + df[j].abs() * e_s[j] + s[j].abs() * e_df[j] + e_s[j] * e_df[j]);

        let mut bounds = Small::<f64>::zeroed();
        for j in 0..4 {
            for i in 0..3 {
                bounds.hidden.w[j][i] = R + x[i].abs() * e_d1[j];
            }
            bounds.hidden.b[j] = e_d1[j];
        }
        for k in 0..2 {
            for j in 0..4 {
                bounds.output.w[k][j] = R + a1[j].abs() * e_d2[k] + d2[k].abs() * e_a1[j] + e_d2[k] * e_a1[j];
            }
            bounds.output.b[k] = e_d2[k];
        }
        for ((a, b), bound) in g64.params().iter().zip(g.params()).zip(bounds.params()) {
            let err = (a - b.to_f64()).abs();
            assert!(err <= *bound, "{b} vs {a}: error {err:e} above the bound {bound:e}");
            worst_ratio = worst_ratio.max(err / bound);
            worst_err = worst_err.max(err);
            largest_bound = largest_bound.max(*bound);
        }
    }
    println!(
        "gradients: largest error {:.2} ulp, largest bound {:.2} ulp, largest error/bound {worst_ratio:.3}",
        worst_err * 65536.0,
        largest_bound * 65536.0
    );
}

/// Adam: its default `eps = 1e-8` rounds to `0` in Q16.16, which the settings check refuses (a
/// clear error, not a division by zero); with `eps` of one ulp or more it trains XOR.
#[test]
fn adam_needs_an_eps_of_at_least_one_ulp() {
    let (inputs, targets) = xor_data();
    let net: Xor<I16F16> = Init::Auto.network(42);
    let mut trainer = Trainer::new(net, backprop::Adam::new(q(0.01)).unwrap());
    assert!(trainer.try_step(&inputs[0], &targets[0]).is_err());

    let mut adam = backprop::Adam::new(q(0.01)).unwrap();
    adam.eps = I16F16::EPSILON;
    let loss = checked_xor_epochs(Trainer::new(Init::Auto.network::<I16F16, Xor<I16F16>>(42), adam), 2000);
    assert!(loss < 0.01, "mean loss {loss}");
}

/// The edges the activation docs state.
#[test]
fn activation_edges() {
    use backprop::{Elementwise, Sigmoid};
    assert_eq!(<Sigmoid as Elementwise>::f(q(-1000.0)).to_bits(), 2);
    assert_eq!(<Sigmoid as Elementwise>::f(q(12.0)), I16F16::ONE);
    assert_eq!(q(7.5).tanh(), I16F16::ONE);
}
