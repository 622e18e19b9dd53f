//! MNIST (28×28 pixels): a 784-128-10 relu/softmax network trained with AdamW on 8,000 digits
//! and tested on 2,000 others.
//!
//! ```text
//! cargo run --release --example mnist
//! ```
//!
//! The 10,000 bundled digits are split with a fixed seed. Each epoch trains on the 8,000 training
//! digits, each moved by a random shift of up to 1 pixel each way (data augmentation: without it this
//! network overfits 8,000 digits and stops near 94%). AdamW, with the learning rate decayed every
//! epoch. Prints the time of every epoch.

mod common;

use std::error::Error;
use std::time::Instant;

use backprop::metrics::{confusion_matrix, evaluate};
use backprop::{AdamW, EarlyStop, Init, Optimizer, Rng, Trainer, boxed_zeroed, network};
use indicatif::{ProgressBar, ProgressStyle};

network! {
    /// Classifies a 28×28 digit: 784 pixels, 128 relu units, 10 classes; `MnistInt8` is its int8
    /// form.
    #[loss(SoftmaxCrossEntropy)]
    #[quantized(MnistInt8)]
    pub struct Mnist {
        input: 784,
        hidden: Dense<128, Relu>,
        output: Dense<10, Softmax>,
    }
}

const SEED: u64 = 7;
const TRAIN: usize = 8_000;
const TEST: usize = 2_000;
const EPOCHS: usize = 15;
const BATCH: usize = 32;
const LR: f32 = 2e-3;
const LR_DECAY: f32 = 0.85;
const WD: f32 = 1e-2;

fn main() -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    let data = common::load_mnist()?;
    let (train, test) = data.split(TEST, SEED);
    assert_eq!(train.len(), TRAIN);
    println!(
        "mnist: {} training and {} test samples (split with seed {SEED}), {} parameters, loaded in {:.2} s",
        train.len(),
        test.len(),
        Mnist::<f32>::PARAMS,
        start.elapsed().as_secs_f64()
    );

    // Network, gradient and Adam's two moments: 4 × 407 kB, built in place on the heap (by
    // value, each would pass through the stack first). The same weights as `Init::network(SEED)`.
    let mut net = boxed_zeroed::<f32, Mnist<f32>>();
    Init::Auto.apply(&mut *net, &mut Rng::new(SEED));
    let mut optimizer = AdamW::boxed(LR)?;
    optimizer.weight_decay = WD;
    let mut trainer = Trainer::boxed(net, optimizer);
    let mut order = vec![0; train.len()];
    let mut rng = Rng::new(SEED);
    let mut stop = EarlyStop::never();
    let style = ProgressStyle::with_template("epoch {prefix:>2} [{bar:30}] {pos:>4}/{len} {msg}")?
        .progress_chars("=> ");
    let mut epoch_times = Vec::new();
    let mut augmented = train.inputs.clone();
    for epoch in 1..=EPOCHS {
        // Step decay: the learning rate falls by LR_DECAY every epoch.
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
        let on_test = evaluate(&trainer.net, &test.inputs, &test.targets)?;
        println!(
            "epoch {epoch:>2}: training loss {:.4}, test loss {:.4}, test accuracy {:5.2}%, {took:.2} s",
            stats.mean_loss,
            on_test.loss,
            100.0 * on_test.accuracy
        );
        if stop.update(stats.mean_loss).is_some() {
            break;
        }
    }
    let result = evaluate(&trainer.net, &test.inputs, &test.targets)?;
    let mean_epoch = epoch_times.iter().sum::<f64>() / epoch_times.len() as f64;
    println!(
        "\ntest accuracy {:.2}% on {} digits; {:.2} s per epoch of {} samples ({:.1} µs per sample), {:.1} s in all",
        100.0 * result.accuracy,
        test.len(),
        mean_epoch,
        train.len(),
        1e6 * mean_epoch / train.len() as f64,
        start.elapsed().as_secs_f64()
    );
    // Post-training int8 quantization, calibrated on the (unshifted) training inputs. The int8
    // network is about 100 KiB and `quantize` returns it by value, so it is built on a thread
    // with a stack of its own: the main thread keeps to the 192 KiB that CI gives it.
    let net = &trainer.net;
    let int8 = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn_scoped(scope, || net.quantize(&train.inputs).map(Box::new))
            .map(|handle| handle.join())
    })?
    .map_err(|_| "the quantization thread panicked")??;
    common::compare_int8(result.accuracy, &test, |x| {
        common::first_max(&int8.forward(&int8.quantize_input(x)))
    })?;

    let matrix = confusion_matrix::<f32, Mnist<f32>, 10>(&trainer.net, &test.inputs, &test.targets)?;
    println!("\nconfusion matrix on the test set (rows: true digit, columns: predicted)");
    println!("      {}", (0..10).map(|d| format!("{d:>5}")).collect::<String>());
    for (digit, row) in matrix.iter().enumerate() {
        println!("   {digit}  {}", row.iter().map(|n| format!("{n:>5}")).collect::<String>());
    }
    if result.accuracy < 0.95 {
        return Err(format!("test accuracy {:.2}% is below 95%", 100.0 * result.accuracy).into());
    }
    Ok(())
}
