//! The training loop: determinism, the checked trainer's errors, mini-batch iteration and early
//! stopping; and issue 18: settings checked when made, divergence reported, empty batches
//! consistent, any random source with bounded work (each of those tests failed, hung or panicked
//! before its fix).

#[path = "../examples/common/mod.rs"]
mod common;

use std::sync::mpsc;
use std::time::Duration;

use backprop::data::{batches, fill_indices, one_hot_all, shuffle};
use backprop::error::{RngError, Setting};
use backprop::layer::ParamIndex;
use backprop::metrics::{accuracy, confusion_matrix, evaluate};
use backprop::{
    Adam, AdamW, Divergence, EarlyStop, Init, Params, RandomSource, Rng, Sgd, Stop, TrainError, Trainer,
    network,
};

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
    let mut trainer = Trainer::new(Init::Auto.network::<f32, Digits<f32>>(seed), Adam::new(3e-3).unwrap());
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
    let mut trainer = Trainer::new(Init::Auto.network::<f32, Digits<f32>>(1), Adam::new(3e-3).unwrap());
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
    let e = evaluate(&trainer.net, &test.inputs, &test.targets).unwrap();
    assert!(last < 0.3 && e.accuracy > 0.9, "loss {last}, test accuracy {}", e.accuracy);
    assert_eq!(accuracy(&trainer.net, &test.inputs, &test.targets).unwrap(), e.accuracy);
}

#[test]
fn bad_inputs_and_targets_name_the_sample() {
    let mut trainer = Trainer::new(Init::Auto.network::<f32, Digits<f32>>(3), Adam::new(1e-3).unwrap());
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
    let mut binary = Trainer::new(Init::XavierUniform.network::<f64, Binary<f64>>(1), Sgd::new(0.1).unwrap());
    let err = binary.try_step(&[0.0, 1.0], &[1.5]).unwrap_err();
    assert_eq!(
        err,
        TrainError::TargetOutOfRange { sample: 0, output: 0, value: 1.5, loss: "BinaryCrossEntropy" }
    );
    assert!(binary.try_step(&[0.0, 1.0], &[0.25]).is_ok(), "soft binary targets are fine");
}

#[test]
fn a_non_finite_step_is_reported_and_the_weights_are_kept() {
    let mut trainer =
        Trainer::new(Line::<f64>::new(backprop::Dense::new([[0.5]], [0.0])), Adam::new(0.1).unwrap());
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
    let mut sgd = Trainer::new(net.clone(), Sgd::new(1e300).unwrap());
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
    shuffle(&mut order, &mut Rng::new(5)).unwrap();
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
    let mut trainer =
        Trainer::new(Init::XavierUniform.network::<f64, Binary<f64>>(7), Adam::new(0.05).unwrap());
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
    assert!(evaluate(&trainer.net, &inputs, &targets).unwrap().loss <= 0.02);
    assert_eq!(accuracy(&trainer.net, &inputs, &targets).unwrap(), 1.0);
    assert!(trainer.net.loss(&inputs[1], &targets[1]) < 0.1);
}

/// Item 1: `Sgd::new(-0.5)` (gradient ascent) and Adam with `β₁ = 1` or `ε = 0` are refused when
/// made, and the error names the setting and its range, not the learning rate.
#[test]
fn bad_settings_are_refused_when_made() {
    let err = Sgd::<f32>::new(-0.5).unwrap_err();
    assert_eq!((err.setting, err.value), (Setting::LearningRate, -0.5));
    assert_eq!(err.to_string(), "learning rate lr = -0.5 is out of range: it must be finite and > 0");

    let adam = Adam::<f32, Digits<f32>>::new(1e-3).unwrap();
    let err = adam.clone().betas(1.0, 0.999).unwrap_err();
    assert_eq!(err.to_string(), "β₁ (beta1) = 1 is out of range: it must be in [0, 1)");
    let err = adam.eps(0.0).unwrap_err();
    assert_eq!(err.to_string(), "ε (eps) = 0 is out of range: it must be finite and > 0");
    assert_eq!(
        AdamW::<f32, Digits<f32>>::new(1e-3).unwrap().weight_decay(-1.0).unwrap_err().setting,
        Setting::WeightDecay
    );

    // Written through a field afterwards: the trainer refuses the step and says which setting.
    let mut trainer = Trainer::new(Init::Auto.network::<f32, Digits<f32>>(1), Adam::new(1e-3).unwrap());
    trainer.optimizer.beta1 = 1.0;
    let before = trainer.net.clone();
    let err = trainer.try_step(&[0.5; 64], &one_hot(3)).unwrap_err();
    assert!(matches!(err, TrainError::InvalidSetting(e) if e.setting == Setting::Beta1), "{err}");
    assert_eq!(
        err.to_string(),
        "optimizer setting: β₁ (beta1) = 1 is out of range: it must be in [0, 1); no step was taken"
    );
    assert_eq!((&trainer.net, trainer.steps()), (&before, 0));
}

fn one_hot(class: usize) -> [f32; 10] {
    let mut t = [0.0; 10];
    t[class] = 1.0;
    t
}

/// Item 2: `Sgd::new(1e30)` used to take 2,000 steps, every one `Ok`, at a loss of 5.5e29 (the
/// sigmoid saturates, so the loss stays finite and the gradient bounded).
#[test]
fn a_diverging_run_is_stopped_and_the_step_named() {
    let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    let targets = [[0.0], [1.0], [1.0], [0.0]];
    let run = |divergence: Option<Divergence>| {
        let net = Init::XavierUniform.network::<f32, Binary<f32>>(7);
        let mut trainer = Trainer::new(net, Sgd::new(1e30).unwrap());
        trainer.divergence = divergence;
        let mut last = Ok(0.0);
        for (x, t) in inputs.iter().zip(&targets).cycle().take(2000) {
            last = trainer.try_step(x, t);
            if last.is_err() {
                break;
            }
        }
        (trainer.steps(), last)
    };
    // Without the check, the run of the issue: 2,000 steps, every one `Ok`.
    let (steps, last) = run(None);
    assert_eq!(steps, 2000);
    assert!(last.unwrap() > 1e20);

    let (steps, last) = run(Some(Divergence::DEFAULT));
    let err = last.unwrap_err();
    let TrainError::Diverged { step, loss, best, steps_above } = err else { panic!("{err}") };
    assert_eq!(steps_above, Divergence::DEFAULT.patience);
    assert!(step < 20 && step == steps, "{err}");
    assert!(loss > 1e3 * best, "{err}");
    assert!(err.to_string().starts_with(&format!("step {step}: training is diverging")), "{err}");

    // A sound run is not stopped: the digits example's settings, 3 epochs of 16-sample steps.
    let data = common::load_digits().unwrap();
    let mut trainer = Trainer::new(Init::Auto.network::<f32, Digits<f32>>(1), Adam::new(3e-3).unwrap());
    let (mut order, mut rng) = (vec![0; data.len()], Rng::new(1));
    for _ in 0..3 {
        trainer.epoch::<16, _>(&data.inputs, &data.targets, &mut order, &mut rng, |_, _| {}).unwrap();
    }
}

/// Item 2: a NaN output bias used to give an accuracy of 1.0 on targets of class 0.
#[test]
fn a_non_finite_prediction_is_wrong() {
    let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    let targets = [[0.0]; 4];
    let mut net = Init::XavierUniform.network::<f64, Binary<f64>>(1);
    net.output.b[0] = f64::NAN;
    let e = evaluate(&net, &inputs, &targets).unwrap();
    assert_eq!((e.accuracy, e.samples, e.non_finite), (0.0, 4, 4));
    assert_eq!(accuracy(&net, &inputs, &targets).unwrap(), 0.0);
    assert_eq!(confusion_matrix::<f64, Binary<f64>, 2>(&net, &inputs, &targets).unwrap(), [[0, 0], [0, 0]]);
    // And a NaN epoch loss stops early stopping, which used to count it as "no improvement".
    assert_eq!(EarlyStop::at_loss(0.01).update(e.loss), Some(Stop::NonFiniteLoss));
}

/// Item 3: a step on no samples is no step, for AdamW too (whose decay used to shrink the
/// weights on a `B = 0` batch while `try_step_indices(&[])` did nothing). `B = 0` itself no
/// longer compiles: see the `compile_fail` examples of `Trainer::try_step_batch` and `batches`.
#[test]
fn an_empty_batch_is_no_step() {
    let mut trainer =
        Trainer::new(Init::XavierUniform.network::<f64, Binary<f64>>(1), AdamW::new(0.1).unwrap());
    let before = trainer.clone();
    let err = trainer.try_step_indices(&[[0.0, 1.0]], &[[1.0]], &[]).unwrap_err();
    assert_eq!(err, TrainError::EmptyBatch);
    assert_eq!((&trainer.net, &trainer.optimizer, trainer.steps()), (&before.net, &before.optimizer, 0));
    assert!(trainer.try_step_indices(&[[0.0, 1.0]], &[[1.0]], &[0]).is_ok());
    assert_eq!(trainer.steps(), 1);
}

/// Item 4's arithmetic: a batch larger than the gathering tile gives the same step as one
/// `try_step_batch` on the same samples in the same order, bit for bit when the batch is a
/// multiple of the tile, within rounding otherwise.
#[test]
fn large_batches_are_gathered_in_tiles_to_the_same_step() {
    fn compare<const B: usize>(exact: bool) {
        let data = common::load_digits().unwrap();
        let (inputs, targets) = (&data.inputs[..B], &data.targets[..B]);
        let net = Init::Auto.network::<f32, Digits<f32>>(3);
        let mut by_epoch = Trainer::new(net.clone(), Sgd::new(0.1).unwrap());
        let mut order = vec![0; B];
        by_epoch.epoch::<B, _>(inputs, targets, &mut order, &mut Rng::new(9), |_, _| {}).unwrap();

        let mut same_order = vec![0; B];
        fill_indices(&mut same_order);
        shuffle(&mut same_order, &mut Rng::new(9)).unwrap();
        assert_eq!(order, same_order);
        let xs: [[f32; 64]; B] = std::array::from_fn(|k| inputs[order[k]]);
        let ts: [[f32; 10]; B] = std::array::from_fn(|k| targets[order[k]]);
        let mut by_batch = Trainer::new(net, Sgd::new(0.1).unwrap());
        by_batch.try_step_batch(&xs, &ts).unwrap();
        for (i, (a, b)) in by_epoch.net.params().iter().zip(by_batch.net.params()).enumerate() {
            if exact {
                assert_eq!(a.to_bits(), b.to_bits(), "B = {B}, parameter {i}: {a} vs {b}");
            } else {
                assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "B = {B}, parameter {i}: {a} vs {b}");
            }
        }
    }
    compare::<16>(true);
    compare::<32>(true);
    compare::<64>(true);
    compare::<96>(true);
    compare::<45>(false);
}

/// Item 5: a source stuck at zero made `shuffle`, and so `Trainer::epoch`, loop forever.
#[test]
fn a_stuck_random_source_still_ends_an_epoch() {
    struct Zero;
    impl RandomSource for Zero {
        fn next_u64(&mut self) -> u64 {
            0
        }
    }
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.5, 0.5]];
        let targets = [[0.0], [1.0], [1.0], [0.0], [1.0]];
        let mut trainer =
            Trainer::new(Init::XavierUniform.network::<f64, Binary<f64>>(1), Sgd::new(0.1).unwrap());
        let mut order = [0; 5];
        let stats = trainer.epoch::<2, _>(&inputs, &targets, &mut order, &mut Zero, |_, _| {});
        let mut sorted = order;
        sorted.sort_unstable();
        done.send((stats.map(|s| s.samples), sorted)).unwrap();
    });
    let (stats, sorted) = finished.recv_timeout(Duration::from_secs(60)).expect("the epoch did not end");
    assert_eq!(stats, Ok(5));
    assert_eq!(sorted, [0, 1, 2, 3, 4], "the order is still a permutation");
}

/// Item 5: a source whose `below` returns an out-of-range value made the epoch panic on an index.
#[test]
fn an_out_of_range_random_value_is_an_error() {
    struct Liar;
    impl RandomSource for Liar {
        fn next_u64(&mut self) -> u64 {
            7
        }
        fn below(&mut self, n: usize) -> usize {
            n + 3
        }
    }
    let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]];
    let targets = [[0.0], [1.0], [1.0]];
    let mut trainer =
        Trainer::new(Init::XavierUniform.network::<f64, Binary<f64>>(1), Sgd::new(0.1).unwrap());
    let mut order = [0; 3];
    let err = trainer.epoch::<2, _>(&inputs, &targets, &mut order, &mut Liar, |_, _| {}).unwrap_err();
    assert_eq!(err, TrainError::Random(RngError::OutOfRange { value: 6, bound: 3 }));
    assert_eq!(err.to_string(), "the random source's below(3) returned 6, which is not below 3");
    assert_eq!(trainer.steps(), 0);
}

#[test]
fn slices_that_do_not_pair_up_are_errors_not_truncations() {
    let net = Init::XavierUniform.network::<f64, Binary<f64>>(2);
    let inputs = [[0.0, 1.0], [1.0, 0.0]];
    let targets = [[1.0]];
    let mismatch = TrainError::LengthMismatch { inputs: 2, targets: 1 };
    assert_eq!(evaluate(&net, &inputs, &targets).unwrap_err(), mismatch);
    assert_eq!(accuracy(&net, &inputs, &targets).unwrap_err(), mismatch);
    assert_eq!(backprop::metrics::mean_loss(&net, &inputs, &targets).unwrap_err(), mismatch);
    assert_eq!(confusion_matrix::<f64, Binary<f64>, 2>(&net, &inputs, &targets).unwrap_err(), mismatch);

    let mut trainer = Trainer::new(net.clone(), Sgd::new(0.1).unwrap());
    assert_eq!(trainer.try_step_indices(&inputs, &targets, &[0]).unwrap_err(), mismatch);
    let targets = [[1.0], [0.0]];
    assert_eq!(
        trainer.try_step_indices(&inputs, &targets, &[1, 2]).unwrap_err(),
        TrainError::IndexOutOfRange { index: 2, samples: 2 }
    );
    assert_eq!(trainer.net, net, "no step was taken");
}
