//! A `#![no_std]` user crate: `std` is not in scope (it is linked only so that this test can
//! have a `main`, from a private module, which does not add it to the crate's prelude), so the
//! generated code compiles only if it names `core` alone.
#![no_std]
#![deny(warnings)]

mod runtime {
    extern crate std;
}

backprop::network! {
    /// A network in a `no_std` crate.
    #[loss(BinaryCrossEntropy)]
    pub struct Tiny {
        input: 3,
        hidden: Dense<4, Tanh>,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {
    let mut net = Tiny::<f32>::zeroed();
    let mut trace = TinyTrace::zeroed();
    let y = net.forward_trace(&[1.0, 2.0, 3.0], &mut trace);
    assert!((y[0] - 0.5).abs() < 1e-6);
    let loss = net.train_step(&[1.0, 2.0, 3.0], &[1.0], 0.1);
    assert!(loss > 0.0);
}
