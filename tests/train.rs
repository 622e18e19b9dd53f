//! The training loop: determinism, the checked trainer's errors, mini-batch iteration and early
//! stopping.

#[path = "../examples/common/mod.rs"]
mod common;

use backprop::data::{batches, fill_indices, one_hot_all, shuffle};
use backprop::layer::ParamIndex;
use backprop::metrics::{accuracy, evaluate};
use backprop::{Adam, EarlyStop, Init, Params, Rng, Sgd, Stop, TrainError, Trainer, network};

network! {
    /// The digits network of the example.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Digits {
        input: 64,
        hidden: Dense<32, Relu>,
        output: Dense<10, Softmax>,
    }
}

network! {
    /// A line, for steps whose numbers are easy to reason about.
    #[loss(HalfSquaredError)]
    pub struct Line {
        input: 1,
        out: Dense<1, Identity>,
    }
}

network! {
    /// Binary classification.
    #[loss(BinaryCrossEntropy)]
    pub struct Binary {
        input: 2,
        hidden: Dense<8, Tanh>,
        output: Dense<1, Sigmoid>,
    }
}

/// Two epochs of the digits example's training from `seed`; the trained parameters' bits.
fn train_digits(seed: u64) -> Vec<u32> {
    let data = common::load_digits().expect("the bundled digits load");
    let (train, _) = data.split(360, seed);
    let mut trainer = Trainer::new(Init::Auto.network::<f32, Digits<f32>>(seed), Adam::new(3e-3));
    let mut order = vec![0; train.len()];
    let mut rng = Rng::new(seed);
    for _ in 0..2 {
        trainer.epoch::<16, _>(&train.inputs, &train.targets, &mut order, &mut rng, |_, _| {}).unwrap();
    }
    trainer.net.params().iter().map(|p| p.to_bits()).collect()
}

#[test]
fn equal_seeds_give_bit_identical_weights() {
    let a = train_digits(2024);
    let b = train_digits(2024);
    assert_eq!(a.len(), Digits::<f32>::PARAMS);
    assert!(a == b, "two runs from seed 2024 differ");
    let c = train_digits(2025);
    assert!(a != c, "a different seed gives different weights");
}

#[test]
fn digits_learn_in_a_few_epochs() {
    let data = common::load_digits().unwrap();
    let (train, test) = data.split(360, 1);
    let mut trainer = Trainer::new(Init::Auto.network::<f32, Digits<f32>>(1), Adam::new(3e-3));
    let mut order = vec![0; train.len()];
    let mut rng = Rng::new(1);
    let mut last = f64::INFINITY;
    for _ in 0..5 {
        let stats =
            trainer.epoch::<16, _>(&train.inputs, &train.targets, &mut order, &mut rng, |_, _| {}).unwrap();
        assert_eq!(stats.samples, train.len());
        assert_eq!(stats.steps, train.len().div_ceil(16) as u64);
        last = stats.mean_loss;
    }
    let e = evaluate(&trainer.net, &test.inputs, &test.targets);
    assert!(last < 0.3 && e.accuracy > 0.9, "loss {last}, test accuracy {}", e.accuracy);
    assert_eq!(accuracy(&trainer.net, &test.inputs, &test.targets), e.accuracy);
}

#[test]
fn bad_inputs_and_targets_name_the_sample() {
    let mut trainer = Trainer::new(Init::Auto.network::<f32, Digits<f32>>(3), Adam::new(1e-3));
    let before = trainer.net.clone();
    let mut inputs = vec![[0.5f32; 64]; 10];
    let mut targets = vec![[0.0f32; 10]; 10];
    one_hot_all(&[0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9], &mut targets).unwrap();
    let mut order = vec![0; 10];
    let mut rng = Rng::new(1);

    inputs[7][12] = f32::NAN;
    let err = trainer.epoch::<4, _>(&inputs, &targets, &mut order, &mut rng, |_, _| {}).unwrap_err();
    assert!(
        matches!(err, TrainError::NonFiniteInput { sample: 7, feature: 12, value } if value.is_nan()),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "sample 7: input 12 is NaN, not a finite number");
    inputs[7][12] = 0.5;

    targets[3] = [0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let err = trainer.epoch::<4, _>(&inputs, &targets, &mut order, &mut rng, |_, _| {}).unwrap_err();
    assert_eq!(err, TrainError::NotADistribution { sample: 3, sum: 2.0 });
    assert!(err.to_string().contains("sums to 2, not 1"), "{err}");

    targets[3] = [1.5, -0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let err = trainer.epoch::<4, _>(&inputs, &targets, &mut order, &mut rng, |_, _| {}).unwrap_err();
    assert_eq!(
        err,
        TrainError::TargetOutOfRange { sample: 3, output: 1, value: -0.5, loss: "SoftmaxCrossEntropy" }
    );

    targets[3] = [f32::INFINITY; 10];
    let err = trainer.epoch::<4, _>(&inputs, &targets, &mut order, &mut rng, |_, _| {}).unwrap_err();
    assert!(matches!(err, TrainError::NonFiniteTarget { sample: 3, output: 0, .. }));

    let err = trainer.epoch::<4, _>(&inputs[..9], &targets, &mut order, &mut rng, |_, _| {}).unwrap_err();
    assert_eq!(err, TrainError::LengthMismatch { inputs: 9, targets: 10 });

    // Labels out of range are caught where they become targets.
    let err = one_hot_all(&[0u8, 1, 10], &mut targets[..3]).unwrap_err();
    assert_eq!(err, TrainError::LabelOutOfRange { sample: 2, label: 10, classes: 10 });
    assert_eq!(err.to_string(), "sample 2: class label 10 is out of range for 10 classes (0..=9)");

    // Nothing was trained on bad data.
    assert_eq!(trainer.net, before);
    assert_eq!(trainer.steps(), 0);

    // In a batch step, the sample index is the index within the batch.
    let mut batch = [[0.5f32; 64]; 3];
    batch[2][0] = f32::NEG_INFINITY;
    let err = trainer.try_step_batch::<3>(&batch, &[targets[0]; 3]).unwrap_err();
    assert!(matches!(err, TrainError::NonFiniteInput { sample: 2, feature: 0, .. }));

    // Binary cross-entropy takes targets in [0, 1].
    let mut binary = Trainer::new(Init::XavierUniform.network::<f64, Binary<f64>>(1), Sgd::new(0.1));
    let err = binary.try_step(&[0.0, 1.0], &[1.5]).unwrap_err();
    assert_eq!(
        err,
        TrainError::TargetOutOfRange { sample: 0, output: 0, value: 1.5, loss: "BinaryCrossEntropy" }
    );
    assert!(binary.try_step(&[0.0, 1.0], &[0.25]).is_ok(), "soft binary targets are fine");
}

#[test]
fn a_non_finite_step_is_reported_and_the_weights_are_kept() {
    let mut trainer = Trainer::new(Line::<f64>::new(backprop::Dense::new([[0.5]], [0.0])), Adam::new(0.1));
    for _ in 0..3 {
        trainer.try_step(&[1.0], &[2.0]).unwrap();
    }
    let (net, adam) = (trainer.net.clone(), trainer.optimizer.clone());

    // z = 0.5 · 1e200 overflows nothing, but (z - t)² does: the loss is infinite.
    let err = trainer.try_step(&[1e200], &[0.0]).unwrap_err();
    assert!(matches!(err, TrainError::NonFiniteLoss { step: 3, loss } if loss == f64::INFINITY), "{err:?}");
    assert_eq!(err.to_string(), "step 3: the loss is inf; the parameters from before the step are kept");
    assert_eq!((&trainer.net, &trainer.optimizer), (&net, &adam));

    // A finite loss whose gradient overflows: z = 1e-50 · 1e200 = 1e150, L = ½ 1e300, but
    // dL/dw = z · x = 1e350.
    trainer.net.out.w[0][0] = 1e-50;
    let net = trainer.net.clone();
    let err = trainer.try_step(&[1e200], &[0.0]).unwrap_err();
    assert_eq!(
        err,
        TrainError::NonFiniteGradient {
            step: 3,
            param: ParamIndex::Weight { layer: "out", row: 0, col: 0 },
            value: f64::INFINITY
        }
    );
    assert_eq!(
        err.to_string(),
        "step 3: the gradient of out.w[0][0] is inf; the parameters from before the step are kept"
    );
    assert_eq!((&trainer.net, &trainer.optimizer), (&net, &adam));

    // An update that overflows: SGD with an absurd learning rate.
    let mut sgd = Trainer::new(net.clone(), Sgd::new(1e300));
    let err = sgd.try_step(&[1e10], &[-1e10]).unwrap_err();
    assert!(matches!(err, TrainError::NonFiniteUpdate { step: 0, .. }), "{err:?}");
    assert_eq!(sgd.net, net);

    // The trainer carries on after an error.
    assert!(trainer.try_step(&[1.0], &[2.0]).is_ok());
    assert_eq!(trainer.steps(), 4);
}

#[test]
fn batches_visit_every_sample_once() {
    let inputs: Vec<[f32; 1]> = (0..23).map(|i| [i as f32]).collect();
    let targets: Vec<[f32; 1]> = (0..23).map(|i| [i as f32 * 2.0]).collect();
    let mut order = vec![0; 23];
    fill_indices(&mut order);
    shuffle(&mut order, &mut Rng::new(5));
    let it = batches::<_, _, 5>(&inputs, &targets, &order).unwrap();
    assert_eq!(it.len(), 4);
    let rest = it.remainder().to_vec();
    let mut seen = vec![0; 23];
    for (xs, ts) in it {
        for (x, t) in xs.iter().zip(&ts) {
            assert_eq!(t[0], 2.0 * x[0]);
            seen[x[0] as usize] += 1;
        }
    }
    for i in rest {
        seen[i] += 1;
    }
    assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
    assert!(batches::<_, _, 5>(&inputs, &targets[..3], &order).is_err());
}

#[test]
fn early_stop_on_target_loss() {
    let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    let targets = [[0.0], [1.0], [1.0], [0.0]];
    let mut trainer = Trainer::new(Init::XavierUniform.network::<f64, Binary<f64>>(7), Adam::new(0.05));
    let mut order = [0; 4];
    let mut rng = Rng::new(7);
    let mut stop = EarlyStop::at_loss(0.02).patience(200, 0.0);
    let mut epochs = 0;
    let reason = loop {
        let stats = trainer.epoch::<4, _>(&inputs, &targets, &mut order, &mut rng, |_, _| {}).unwrap();
        epochs += 1;
        if let Some(reason) = stop.update(stats.mean_loss) {
            break reason;
        }
        assert!(epochs < 5000, "no stop");
    };
    assert_eq!(reason, Stop::TargetReached);
    assert!(evaluate(&trainer.net, &inputs, &targets).loss <= 0.02);
    assert_eq!(accuracy(&trainer.net, &inputs, &targets), 1.0);
    assert!(trainer.net.loss(&inputs[1], &targets[1]) < 0.1);
}
