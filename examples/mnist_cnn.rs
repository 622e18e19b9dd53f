//! MNIST (28×28 pixels) with a convolutional network: two 5×5 convolutions, each followed by a
//! 2×2 max pool, and a dense head, trained with AdamW on 8,000 digits and tested on 2,000
//! others (the same split as the dense `mnist` example, which stops near 96.5%).
//!
//! ```text
//! cargo run --release --example mnist_cnn
//! ```
//!
//! Each epoch trains on the 8,000 training digits, each moved by a random shift of up to 1 pixel
//! each way, in batches of 32 through the batched kernels; the learning rate decays every epoch.
//! Prints every epoch's figures and time, the confusion matrix on the test set, and draws loss and
//! accuracy per epoch to `target/examples-out/mnist_cnn.svg`. Fails below 98.5% test accuracy.

mod common;

use std::error::Error;
use std::time::Instant;

use backprop::metrics::{confusion_matrix, evaluate};
use backprop::{AdamW, Init, Optimizer, Rng, Trainer, boxed_zeroed, network};
use indicatif::{ProgressBar, ProgressStyle};

network! {
    /// A LeNet-like classifier of 28×28 digits: 16 and 32 filters of 5×5, max pools, 128 relu
    /// units, 10 classes.
    #[loss(SoftmaxCrossEntropy)]
    pub struct MnistCnn {
        input: [1, 28, 28],
        conv1: Conv2d<16, 5, Relu>,  // [16, 24, 24]
        pool1: MaxPool2d<2>,         // [16, 12, 12]
        conv2: Conv2d<32, 5, Relu>,  // [32, 8, 8]
        pool2: MaxPool2d<2>,         // [32, 4, 4], flattened into hidden
        hidden: Dense<128, Relu>,
        output: Dense<10, Softmax>,
    }
}

const SEED: u64 = 7;
const TRAIN: usize = 8_000;
const TEST: usize = 2_000;
const EPOCHS: usize = 16;
const BATCH: usize = 16;
const LR: f32 = 2e-3;
const LR_DECAY: f32 = 0.8;
const WD: f32 = 1e-2;
/// Training digits on which the training loss and accuracy are measured after each epoch.
const TRAIN_EVAL: usize = 2_000;
/// The mark: the example fails below it.
const MIN_ACCURACY: f64 = 0.985;

fn main() -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    let data = common::load_mnist()?;
    let (train, test) = data.split(TEST, SEED);
    assert_eq!(train.len(), TRAIN);
    println!(
        "mnist_cnn: {} training and {} test samples (split with seed {SEED}), {} parameters, {} bytes of trace per sample, loaded in {:.2} s",
        train.len(),
        test.len(),
        MnistCnn::<f32>::PARAMS,
        MnistCnn::<f32>::TRACE_BYTES,
        start.elapsed().as_secs_f64()
    );

    // Network, gradient and AdamW's two moments, built in place on the heap.
    let mut net = boxed_zeroed::<f32, MnistCnn<f32>>();
    Init::Auto.apply(&mut *net, &mut Rng::new(SEED));
    let mut optimizer = AdamW::boxed(LR)?;
    optimizer.weight_decay = WD;
    let mut trainer = Trainer::boxed(net, optimizer);
    let mut order = vec![0; train.len()];
    let mut rng = Rng::new(SEED);
    let style = ProgressStyle::with_template("epoch {prefix:>2} [{bar:30}] {pos:>4}/{len} {msg}")?
        .progress_chars("=> ");
    let mut history = Vec::new();
    let mut epoch_times = Vec::new();
    let mut augmented = train.inputs.clone();
    let train_eval = train.subset(&(0..TRAIN_EVAL).collect::<Vec<_>>());
    for epoch in 1..=EPOCHS {
        let lr = LR * LR_DECAY.powi(epoch as i32 - 1);
        trainer.optimizer.set_learning_rate(lr)?;
        let bar =
            ProgressBar::new(train.len() as u64).with_style(style.clone()).with_prefix(epoch.to_string());
        let t0 = Instant::now();
        // Data augmentation: every epoch sees each digit moved by up to 1 pixel each way.
        for (moved, image) in augmented.iter_mut().zip(&train.inputs) {
            *moved = common::shift(image, rng.below(3) as isize - 1, rng.below(3) as isize - 1);
        }
        let stats =
            trainer.epoch::<BATCH, _>(&augmented, &train.targets, &mut order, &mut rng, |seen, loss| {
                bar.set_position(seen as u64);
                bar.set_message(format!("loss {loss:.4}"));
            })?;
        let took = t0.elapsed().as_secs_f64();
        epoch_times.push(took);
        bar.finish_and_clear();
        let on_train = evaluate(&trainer.net, &train_eval.inputs, &train_eval.targets)?;
        let on_test = evaluate(&trainer.net, &test.inputs, &test.targets)?;
        println!(
            "epoch {epoch:>2}: training loss {:.4} (running {:.4}), training accuracy {:5.2}%, test loss {:.4}, test accuracy {:5.2}%, {took:.2} s",
            on_train.loss,
            stats.mean_loss,
            100.0 * on_train.accuracy,
            on_test.loss,
            100.0 * on_test.accuracy
        );
        history.push(common::plot::Row {
            train_loss: on_train.loss,
            test_loss: on_test.loss,
            train_acc: on_train.accuracy,
            test_acc: on_test.accuracy,
        });
    }
    let result = evaluate(&trainer.net, &test.inputs, &test.targets)?;
    let mean_epoch = epoch_times.iter().sum::<f64>() / epoch_times.len() as f64;
    println!(
        "\ntest accuracy {:.2}% ({} of {} digits); {:.2} s per epoch of {} samples ({:.1} µs per sample), {:.1} s in all",
        100.0 * result.accuracy,
        (result.accuracy * test.len() as f64).round(),
        test.len(),
        mean_epoch,
        train.len(),
        1e6 * mean_epoch / train.len() as f64,
        start.elapsed().as_secs_f64()
    );

    let matrix = confusion_matrix::<f32, MnistCnn<f32>, 10>(&trainer.net, &test.inputs, &test.targets)?;
    println!("\nconfusion matrix on the test set (rows: true digit, columns: predicted)");
    println!("      {}", (0..10).map(|d| format!("{d:>5}")).collect::<String>());
    for (digit, row) in matrix.iter().enumerate() {
        println!("   {digit}  {}", row.iter().map(|n| format!("{n:>5}")).collect::<String>());
    }

    let svg = common::out_dir()?.join("mnist_cnn.svg");
    common::plot::curves(&svg, &history)?;
    println!("\nloss and accuracy per epoch: {}", svg.display());
    if result.accuracy < MIN_ACCURACY {
        return Err(format!(
            "test accuracy {:.2}% is below {:.1}%",
            100.0 * result.accuracy,
            100.0 * MIN_ACCURACY
        )
        .into());
    }
    Ok(())
}
