//! Handwritten digits (UCI, 8×8 pixels): a 64-32-10 relu/softmax network trained with Adam.
//!
//! ```text
//! cargo run --release --example digits
//! ```
//!
//! Splits the 1,797 digits into 1,437 for training and 360 for testing with a fixed seed, trains
//! with a progress bar per epoch, prints the confusion matrix on the test set, saves the weights,
//! reloads them and checks that the predictions are identical, and plots loss and accuracy per
//! epoch to `target/examples-out/digits.svg`.

mod common;

use std::error::Error;
use std::time::Instant;

use backprop::metrics::{confusion_matrix, evaluate, predict};
use backprop::{Adam, Init, Params, Rng, Trainer, network};
use indicatif::{ProgressBar, ProgressStyle};

network! {
    /// Classifies an 8×8 digit: 64 pixels, 32 relu units, 10 classes; `DigitsInt8` is its int8
    /// form.
    #[loss(SoftmaxCrossEntropy)]
    #[quantized(DigitsInt8)]
    pub struct Digits {
        input: 64,
        hidden: Dense<32, Relu>,
        output: Dense<10, Softmax>,
    }
}

const SEED: u64 = 2024;
const TEST: usize = 360;
const EPOCHS: usize = 30;
const BATCH: usize = 16;

fn main() -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    let data = common::load_digits()?;
    let (train, test) = data.split(TEST, SEED);
    println!("digits: {} training and {} test samples (split with seed {SEED})", train.len(), test.len());

    let net: Digits<f32> = Init::Auto.network(SEED);
    let mut trainer = Trainer::new(net, Adam::new(3e-3)?);
    let mut order = vec![0; train.len()];
    let mut rng = Rng::new(SEED);
    let mut history = Vec::new();
    let style = ProgressStyle::with_template("epoch {prefix:>2} [{bar:30}] {pos:>4}/{len} {msg}")?
        .progress_chars("=> ");
    for epoch in 1..=EPOCHS {
        let bar =
            ProgressBar::new(train.len() as u64).with_style(style.clone()).with_prefix(epoch.to_string());
        let stats = trainer.epoch::<BATCH, _>(
            &train.inputs,
            &train.targets,
            &mut order,
            &mut rng,
            |seen, loss| {
                bar.set_position(seen as u64);
                bar.set_message(format!("loss {loss:.4}"));
            },
        )?;
        bar.finish_and_clear();
        let on_train = evaluate(&trainer.net, &train.inputs, &train.targets)?;
        let on_test = evaluate(&trainer.net, &test.inputs, &test.targets)?;
        println!(
            "epoch {epoch:>2}: loss {:.4} (running {:.4}), train accuracy {:5.1}%, test loss {:.4}, test accuracy {:5.1}%",
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
    let trained = start.elapsed();
    let net = trainer.net;
    let result = evaluate(&net, &test.inputs, &test.targets)?;
    println!(
        "\ntest accuracy {:.2}% ({} of {}), test loss {:.4}; loaded, trained and evaluated in {:.2} s",
        100.0 * result.accuracy,
        (result.accuracy * test.len() as f64).round(),
        test.len(),
        result.loss,
        trained.as_secs_f64()
    );

    // Post-training int8 quantization, calibrated on the training inputs.
    let int8 = net.quantize(&train.inputs)?;
    common::compare_int8(result.accuracy, &test, |x| {
        common::first_max(&int8.forward(&int8.quantize_input(x)))
    })?;

    let matrix = confusion_matrix::<f32, Digits<f32>, 10>(&net, &test.inputs, &test.targets)?;
    println!("\nconfusion matrix on the test set (rows: true digit, columns: predicted)");
    println!("      {}", (0..10).map(|d| format!("{d:>4}")).collect::<String>());
    for (digit, row) in matrix.iter().enumerate() {
        println!("   {digit}  {}", row.iter().map(|n| format!("{n:>4}")).collect::<String>());
    }

    // Save, reload into a zeroed network, and compare every prediction and output bit for bit.
    let out = common::out_dir()?;
    let weights = out.join("digits.weights");
    common::save_weights(&weights, net.params())?;
    let mut reloaded = Digits::<f32>::zeroed();
    common::load_weights(&weights, reloaded.params_mut())?;
    let same = test.inputs.iter().all(|x| {
        predict(&net, x) == predict(&reloaded, x)
            && net.forward(x).map(f32::to_bits) == reloaded.forward(x).map(f32::to_bits)
    });
    if !same {
        return Err("the reloaded network predicts differently".into());
    }
    println!(
        "\nsaved {} parameters to {} ({} bytes), reloaded: all {} test predictions identical",
        Digits::<f32>::PARAMS,
        weights.display(),
        std::fs::metadata(&weights)?.len(),
        test.len()
    );

    let svg = out.join("digits.svg");
    common::plot::curves(&svg, &history)?;
    println!("loss and accuracy per epoch: {}", svg.display());
    if result.accuracy < 0.95 {
        return Err(format!("test accuracy {:.2}% is below 95%", 100.0 * result.accuracy).into());
    }
    Ok(())
}
