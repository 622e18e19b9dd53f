//! The chapter's toy 2-2-1 network (act 2), every number derived by hand.
//!
//! Weights, input and target (the chapter lost its numbers; these are chosen so that the hidden
//! pre-activations are round and the hidden error signals come out about ten times smaller than
//! the output's, as the chapter observes):
//!
//! ```text
//! x = (1, 0.5), t = 1
//! hidden: W = [[0.4, 0.2], [-0.2, 0.4]], b = (0, 0), sigmoid
//! output: W = [[0.5, -0.4]],             b = 0.1,    sigmoid
//! loss:   L = ½ (y - t)²
//! ```
//!
//! The expected values below were computed from these formulas with 50-digit decimal arithmetic
//! (Python's `decimal`, `exp` from its context), independently of the crate.

// The expected values keep all the digits of the derivation, more than an f64 holds.
#![allow(clippy::excessive_precision)]

use backprop::{Dense, network};

network! {
    /// The chapter's toy network.
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        hidden: Dense<2, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }
}

fn toy() -> Toy<f64> {
    Toy::new(Dense::new([[0.4, 0.2], [-0.2, 0.4]], [0.0, 0.0]), Dense::new([[0.5, -0.4]], [0.1]))
}

const X: [f64; 2] = [1.0, 0.5];
const TARGET: [f64; 1] = [1.0];

fn close(actual: f64, expected: f64, what: &str) {
    assert!((actual - expected).abs() <= 1e-12, "{what}: got {actual:.17}, expected {expected:.17}");
}

#[test]
fn forward_pass_matches_the_hand_derivation() {
    let net = toy();
    let mut trace = ToyTrace::zeroed();
    let y = net.forward_trace(&X, &mut trace);

    // z_h = W_h x + b_h = (0.4·1 + 0.2·0.5, -0.2·1 + 0.4·0.5) = (0.5, 0)
    close(trace.hidden.z[0], 0.5, "z_h1");
    close(trace.hidden.z[1], 0.0, "z_h2");
    // a_h = σ(z_h) = (σ(0.5), σ(0)) = (0.622459331201854564..., 0.5)
    close(trace.hidden.a[0], 0.622_459_331_201_854_564_6, "a_h1");
    close(trace.hidden.a[1], 0.5, "a_h2");
    // z_o = 0.5·σ(0.5) - 0.4·0.5 + 0.1 = 0.5·σ(0.5) - 0.1 = 0.211229665600927282...
    close(trace.output.z[0], 0.211_229_665_600_927_282_3, "z_o");
    // y = σ(z_o) = 0.552611941871061785...
    close(trace.output.a[0], 0.552_611_941_871_061_785_7, "y");
    close(y[0], trace.output.a[0], "returned output");
    assert_eq!(net.forward(&X), y, "inference equals the stored forward pass");
}

#[test]
fn backward_pass_matches_the_hand_derivation() {
    let net = toy();
    let mut trace = ToyTrace::zeroed();
    net.forward_trace(&X, &mut trace);
    let mut grads = Toy::zeroed();
    let loss = net.backward(&mut trace, &TARGET, &mut grads);

    // L = ½ (y - t)² = ½ (0.552611941871061785... - 1)² = 0.100078037278191099...
    close(loss, 0.100_078_037_278_191_099_3, "loss");

    // Output error signal: δ_o = (y - t) · σ'(z_o) = (y - t) · y (1 - y) = -0.110608637037891388...
    let delta_o = -0.110_608_637_037_891_388_4;
    close(trace.output.delta[0], delta_o, "δ_o");
    // Output gradients: ∂L/∂w_o,j = δ_o · a_h,j ; ∂L/∂b_o = δ_o
    close(grads.output.w[0][0], -0.068_849_378_235_754_553_58, "∂L/∂w_o1 = δ_o σ(0.5)");
    close(grads.output.w[0][1], -0.055_304_318_518_945_694_22, "∂L/∂w_o2 = δ_o · 0.5");
    close(grads.output.b[0], delta_o, "∂L/∂b_o");

    // Hidden error signals: δ_h,j = δ_o · w_o,j · σ'(z_h,j)
    //   δ_h1 = δ_o · 0.5 · σ(0.5)(1 - σ(0.5)) = -0.012996720152731626...
    //   δ_h2 = δ_o · (-0.4) · 0.25           =  0.011060863703789138...
    close(trace.hidden.delta[0], -0.012_996_720_152_731_626_30, "δ_h1");
    close(trace.hidden.delta[1], 0.011_060_863_703_789_138_84, "δ_h2");
    // ... about ten times smaller than δ_o: ratios 0.1175... and exactly -0.1.
    close(trace.hidden.delta[0] / trace.output.delta[0], 0.117_501_856_100_797_244_5, "δ_h1 / δ_o");
    close(trace.hidden.delta[1] / trace.output.delta[0], -0.1, "δ_h2 / δ_o");

    // Hidden gradients: ∂L/∂w_h,ji = δ_h,j · x_i ; ∂L/∂b_h,j = δ_h,j
    close(grads.hidden.w[0][0], -0.012_996_720_152_731_626_30, "∂L/∂w_h11");
    close(grads.hidden.w[0][1], -0.006_498_360_076_365_813_152, "∂L/∂w_h12");
    close(grads.hidden.w[1][0], 0.011_060_863_703_789_138_84, "∂L/∂w_h21");
    close(grads.hidden.w[1][1], 0.005_530_431_851_894_569_422, "∂L/∂w_h22");
    close(grads.hidden.b[0], -0.012_996_720_152_731_626_30, "∂L/∂b_h1");
    close(grads.hidden.b[1], 0.011_060_863_703_789_138_84, "∂L/∂b_h2");

    // Input gradient: ∂L/∂x_i = Σ_j w_h,ji δ_h,j
    //   = (0.4 δ_h1 - 0.2 δ_h2, 0.2 δ_h1 + 0.4 δ_h2)
    close(trace.input_grad[0], -0.007_410_860_801_850_478_290, "∂L/∂x1");
    close(trace.input_grad[1], 0.001_825_001_450_969_330_277, "∂L/∂x2");
}

#[test]
fn one_sgd_step_is_p_minus_lr_g() {
    let lr = 0.5;
    let net = toy();
    let mut trace = ToyTrace::zeroed();
    net.forward_trace(&X, &mut trace);
    let mut grads = Toy::zeroed();
    let loss = net.backward(&mut trace, &TARGET, &mut grads);

    let mut stepped = toy();
    let step_loss = stepped.train_step(&X, &TARGET, lr);
    assert_eq!(step_loss, loss, "train_step returns the loss before the step");
    let mut expected = toy();
    for (p, g) in backprop::Params::params_mut(&mut expected).iter_mut().zip(backprop::Params::params(&grads))
    {
        *p -= lr * g;
    }
    for (a, b) in backprop::Params::params(&stepped).iter().zip(backprop::Params::params(&expected)) {
        close(*a, *b, "stepped parameter");
    }
    // w_o1 after one step: 0.5 - 0.5 · (-0.068849378235754553...) = 0.534424689117877276...
    close(stepped.output.w[0][0], 0.534_424_689_117_877_276_8, "w_o1 after the step");
    assert!(stepped.loss(&X, &TARGET) < loss);
}
