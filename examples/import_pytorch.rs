//! Weights trained outside this library, in PyTorch's format, evaluated here.
//!
//! `examples/data/digits-pytorch.safetensors` holds a 64-32-10 relu/softmax digit classifier
//! trained by `tests/reference/safetensors_ref.py` on the bundled UCI digits (rows whose index
//! is not a multiple of 5), with the tensor names and layout that
//! `safetensors.torch.save_file(model.state_dict(), ...)` gives a PyTorch module with
//! `nn.Linear` attributes `hidden` and `output` (`tests/reference/pytorch_names.py` checks that
//! against real PyTorch). This example loads the file at run time, and the macro bakes the same
//! file into a constant at compile time. Both are evaluated on the 360 test rows (index a multiple
//! of 5), and the example fails unless they get the count the Python side recorded in
//! `examples/data/digits-pytorch.txt`. It then writes the network back out as safetensors, which
//! Python re-imports exactly (`tests/reference/safetensors_check.py`).
//!
//! ```text
//! cargo run --release --example import_pytorch
//! ```

mod common;

use std::error::Error;

use backprop::metrics::predict;
use backprop::{Naming, Safetensors, network};

network! {
    /// The PyTorch module `Digits` (`hidden = nn.Linear(64, 32)`, relu,
    /// `output = nn.Linear(32, 10)`), its softmax in the loss as with `nn.CrossEntropyLoss`.
    #[loss(SoftmaxCrossEntropy)]
    #[weights(BAKED = "data/digits-pytorch.safetensors", scalar = f32)]
    pub struct Digits { input: 64, hidden: Dense<32, Relu>, output: Dense<10, Softmax> }
}

fn main() -> Result<(), Box<dyn Error>> {
    let path = common::data_dir().join("digits-pytorch.safetensors");
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut net = Digits::<f32>::zeroed();
    net.load_safetensors(&bytes, Naming::Layers)?;
    println!("loaded {} ({} bytes, {} parameters)", path.display(), bytes.len(), Digits::<f32>::PARAMS);
    if net != Digits::BAKED {
        return Err("the file loaded at run time differs from the one baked at compile time".into());
    }

    let digits = common::load_digits()?;
    let test: Vec<usize> = (0..digits.len()).filter(|i| i % 5 == 0).collect();
    let correct =
        test.iter().filter(|&&i| predict(&net, &digits.inputs[i]) == usize::from(digits.labels[i])).count();
    println!(
        "test accuracy here: {:.2}% ({correct} of {}), the same rows as the Python side",
        100.0 * correct as f64 / test.len() as f64,
        test.len()
    );

    let recorded = std::fs::read_to_string(common::data_dir().join("digits-pytorch.txt"))?;
    let python: usize = recorded
        .lines()
        .find_map(|l| l.strip_prefix("correct "))
        .ok_or("digits-pytorch.txt has no `correct` line")?
        .trim()
        .parse()?;
    println!(
        "test accuracy in Python: {:.2}% ({python} of {})",
        100.0 * python as f64 / test.len() as f64,
        test.len()
    );
    if correct != python {
        return Err(format!("{correct} right here, {python} in Python").into());
    }

    let out = common::out_dir()?.join("digits-pytorch.safetensors");
    std::fs::write(&out, net.to_safetensors(Naming::Layers)?)?;
    println!("wrote {} (load it with safetensors.torch.load_file)", out.display());
    Ok(())
}
