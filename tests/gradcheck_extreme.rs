//! Gradient checks where the loss is tiny next to its logits: softmax cross-entropy with the
//! right class ahead by 12 to 30 at logits near 100, and binary cross-entropy at logits of ±10 to
//! ±30 on the side of the target. The losses there are `1e-13` to `1e-5`; a loss computed as
//! `m + ln Σ - z_k` or `softplus(z) - z` carries an absolute error of an ulp of the logit
//! (`1.4e-14` at 100), which the finite differences of the gradient check divide by their step,
//! and output deltas computed as `p - 1` carry an ulp of `1`. Both are computed without
//! cancellation now (see `backprop::SoftmaxCrossEntropy`), and the check passes the same `1e-6` as
//! everywhere else.

use backprop::{Dense, GradCheck, Rng, gradcheck};

/// Worst relative error allowed, as in `tests/gradcheck.rs`.
const TOLERANCE: f64 = 1e-6;

/// The default options without the absolute floor of `1e-8`, which is above every gradient of a
/// loss of `1e-9` and would make the check vacuous there: relative errors are measured against
/// the gradient itself, or `1e-4` of the largest component (`GradCheck::relative_floor`).
fn options() -> GradCheck {
    GradCheck { floor: 0.0, ..GradCheck::default() }
}

backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Classifier { input: 3, hidden: Dense<5, Tanh>, out: Dense<4, Softmax> }
}

backprop::network! {
    #[loss(BinaryCrossEntropy)]
    pub struct Detector { input: 3, hidden: Dense<4, Tanh>, out: Dense<2, Sigmoid> }
}

fn uniform<const I: usize, const O: usize>(rng: &mut Rng, scale: f64) -> [[f64; I]; O] {
    core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform(-scale, scale)))
}

/// A classifier whose logits are `bias + O(1)`: class 2 at 100, the others `gap` and more below.
fn classifier(seed: u64, gap: f64) -> Classifier<f64> {
    let mut rng = Rng::new(seed);
    let hidden = Dense::new(uniform(&mut rng, 1.0), core::array::from_fn(|_| rng.uniform(-0.5, 0.5)));
    let out = Dense::new(uniform(&mut rng, 0.5), [100.0 - gap, 100.0 - gap - 1.5, 100.0, 100.0 - gap - 0.7]);
    Classifier::new(hidden, out)
}

/// A detector whose two logits are about `+size` and `-size`.
fn detector(seed: u64, size: f64) -> Detector<f64> {
    let mut rng = Rng::new(seed);
    let hidden = Dense::new(uniform(&mut rng, 1.0), core::array::from_fn(|_| rng.uniform(-0.5, 0.5)));
    let out = Dense::new(uniform(&mut rng, 0.5), [size, -size]);
    Detector::new(hidden, out)
}

#[test]
fn softmax_cross_entropy_with_a_dominant_right_class() {
    for gap in [12.0, 16.0, 20.0, 30.0] {
        for seed in 1..=3 {
            let net = classifier(seed, gap);
            let x = [0.3, -0.8, 0.55];
            let report = gradcheck(&net, &x, &[0.0, 0.0, 1.0, 0.0], &options());
            println!("softmax gap {gap}, seed {seed}: loss {:.3e}; {report}", report.loss);
            assert!(report.loss < 1e-4, "the right class does not dominate: loss {}", report.loss);
            assert!(report.passes(TOLERANCE), "gap {gap}, seed {seed}: {report}");
        }
    }
}

#[test]
fn binary_cross_entropy_at_large_logits() {
    for size in [10.0, 17.0, 25.0, 30.0] {
        for seed in 1..=3 {
            let net = detector(seed, size);
            let x = [-0.4, 0.9, 0.1];
            let report = gradcheck(&net, &x, &[1.0, 0.0], &options());
            println!("sigmoid logits ±{size}, seed {seed}: loss {:.3e}; {report}", report.loss);
            assert!(report.loss < 1e-3, "the logits are not large: loss {}", report.loss);
            assert!(report.passes(TOLERANCE), "size {size}, seed {seed}: {report}");
        }
    }
}
