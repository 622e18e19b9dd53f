//! The toy network, as a user crate that holds itself to `clippy::pedantic`: the workspace's
//! `cargo clippy --all-targets -- -D warnings` checks that the generated code triggers no
//! pedantic lint. Also the example the README expands with
//! `cargo expand -p backprop-macros --example pedantic` (the README expands the root `toy` example).
#![deny(clippy::pedantic, missing_docs)]

use backprop::{Dense, network};

/// A constant size, to show how const sizes expand.
const HIDDEN: usize = 2;

network! {
    /// The chapter's toy network: two inputs, two sigmoid hidden neurons, one sigmoid output.
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        hidden: Dense<HIDDEN, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }
}

network! {
    /// Eight layers: one `new` argument per layer, past clippy's default limit of seven.
    #[loss(HalfSquaredError)]
    pub struct Deep {
        input: 2,
        l1: Dense<2, Tanh>,
        l2: Dense<2, Tanh>,
        l3: Dense<2, Tanh>,
        l4: Dense<2, Tanh>,
        l5: Dense<2, Tanh>,
        l6: Dense<2, Tanh>,
        l7: Dense<2, Tanh>,
        out: Dense<1, Identity>,
    }
}

fn main() {
    let deep = Deep::<f32>::new(
        Dense::zeroed(),
        Dense::zeroed(),
        Dense::zeroed(),
        Dense::zeroed(),
        Dense::zeroed(),
        Dense::zeroed(),
        Dense::zeroed(),
        Dense::zeroed(),
    );
    println!("deep network output: {:?}", deep.forward(&[1.0, 0.5]));
    let mut net =
        Toy::<f64>::new(Dense::new([[0.4, 0.2], [-0.2, 0.4]], [0.0, 0.0]), Dense::new([[0.5, -0.4]], [0.1]));
    let mut trace = ToyTrace::zeroed();
    let y = net.forward_trace(&[1.0, 0.5], &mut trace);
    let mut grads = Toy::zeroed();
    let loss = net.backward(&mut trace, &[1.0], &mut grads);
    println!("y = {y:?}, loss = {loss:.6}, hidden deltas = {:?}", trace.hidden.delta);
    for _ in 0..100 {
        net.train_step(&[1.0, 0.5], &[1.0], 0.5);
    }
    println!("after 100 steps: y = {:?}", net.forward(&[1.0, 0.5]));
}
