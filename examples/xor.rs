//! XOR, the classic: two inputs, four tanh units, one sigmoid output, trained from a fixed seed.
//!
//! ```text
//! cargo run --release --example xor
//! ```
//!
//! No single layer can separate XOR; one hidden layer can. Trains on the four cases with full
//! batches (the batch size, 4, is a const generic) and SGD with momentum until the loss is below
//! 0.01, then prints the outputs.

use std::error::Error;

use backprop::metrics::accuracy;
use backprop::{EarlyStop, Init, Momentum, Network, Optimizer, Stop, network};

network! {
    /// XOR: 2 inputs, 4 tanh hidden units, 1 sigmoid output.
    #[loss(BinaryCrossEntropy)]
    pub struct Xor {
        input: 2,
        hidden: Dense<4, Tanh>,
        output: Dense<1, Sigmoid>,
    }
}

const SEED: u64 = 1;
const INPUTS: [[f64; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
const TARGETS: [[f64; 1]; 4] = [[0.0], [1.0], [1.0], [0.0]];

fn main() -> Result<(), Box<dyn Error>> {
    let mut net: Xor<f64> = Init::XavierUniform.network(SEED);
    let mut optimizer = Momentum::new(0.5, 0.9)?;
    let mut grads = Xor::zeroed();
    let mut stop = EarlyStop::at_loss(0.01);
    let mut converged = false;
    for epoch in 0..=5000 {
        let loss = net.backward_batch(&INPUTS, &TARGETS, &mut grads);
        if epoch % 50 == 0 || loss <= 0.01 {
            println!("epoch {epoch:>4}: loss {loss:.5}");
        }
        if stop.update(loss) == Some(Stop::TargetReached) {
            println!("converged after {epoch} epochs (seed {SEED})");
            converged = true;
            break;
        }
        optimizer.step(&mut net, &grads);
    }
    for (x, t) in INPUTS.iter().zip(&TARGETS) {
        println!("{} xor {} = {:.4} (target {})", x[0], x[1], net.forward(x)[0], t[0]);
    }
    let acc = accuracy(&net, &INPUTS, &TARGETS)?;
    if !converged || acc < 1.0 {
        return Err(format!("did not converge: best loss {:.4}, accuracy {acc}", stop.best()).into());
    }
    Ok(())
}
