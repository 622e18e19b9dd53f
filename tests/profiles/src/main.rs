//! The five workloads of `bench/` (W1–W5), declared in a user crate whose release profile is
//! `codegen-units = 1` and `lto = "fat"`, the profile of embedded and release-tuned crates
//! (issue 17). CI builds it in that profile and in cargo's default one and runs both: each prints,
//! per workload, a hash of the bits of every output, loss and parameter after a fixed sequence of
//! forward passes (one sample, and a batch, which must agree) and training steps, so a profile
//! that breaks the build, or changes a result, is caught. It times nothing: `bench/profiles.sh`
//! measures the profiles.
//!
//! ```text
//! cargo run --release --manifest-path tests/profiles/Cargo.toml
//! ```

use backprop::{Init, Network, Rng, network};

network! {
    /// W1: the chapter's toy network, 2-2-1.
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        hidden: Dense<2, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }
}

network! {
    /// W2: XOR, 2-8-1.
    #[loss(HalfSquaredError)]
    pub struct Xor {
        input: 2,
        hidden: Dense<8, Tanh>,
        output: Dense<1, Sigmoid>,
    }
}

network! {
    /// W3: the UCI digits, 64-32-10.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Digits {
        input: 64,
        hidden: Dense<32, Relu>,
        output: Dense<10, Softmax>,
    }
}

network! {
    /// W4: MNIST, 784-128-10.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Mnist {
        input: 784,
        hidden: Dense<128, Relu>,
        output: Dense<10, Softmax>,
    }
}

network! {
    /// W5: 16 inputs, 8 hidden layers of 16 sigmoid units, 1 sigmoid output.
    #[loss(HalfSquaredError)]
    pub struct Deep {
        input: 16,
        l1: Dense<16, Sigmoid>,
        l2: Dense<16, Sigmoid>,
        l3: Dense<16, Sigmoid>,
        l4: Dense<16, Sigmoid>,
        l5: Dense<16, Sigmoid>,
        l6: Dense<16, Sigmoid>,
        l7: Dense<16, Sigmoid>,
        l8: Dense<16, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }
}

/// Samples in a batch, as in the benchmarks.
const BATCH: usize = 32;

/// FNV-1a over the bits of `f32`s.
#[derive(Clone, Copy)]
struct Hash(u64);

impl Hash {
    fn add(&mut self, values: &[f32]) {
        for v in values {
            for byte in v.to_bits().to_le_bytes() {
                self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
}

/// A batch of inputs and their targets.
type Samples<const I: usize, const O: usize> = Box<([[f32; I]; BATCH], [[f32; O]; BATCH])>;

/// Inputs uniform in [0, 1) and one-hot targets (0 or 1 for one output), drawn from `rng`.
fn samples<const I: usize, const O: usize>(rng: &mut Rng) -> Samples<I, O> {
    let mut data = Box::new(([[0.0; I]; BATCH], [[0.0; O]; BATCH]));
    for (x, t) in data.0.iter_mut().zip(data.1.iter_mut()) {
        x.iter_mut().for_each(|v| *v = rng.next_f64() as f32);
        t[if O == 1 { 0 } else { rng.below(O) }] = if O == 1 { rng.below(2) as f32 } else { 1.0 };
    }
    data
}

/// Every kind of step on one workload; returns the hash of everything it computed.
fn run<N, const I: usize, const O: usize>(seed: u64) -> u64
where
    N: Network<f32, Input = [f32; I], Output = [f32; O]>,
{
    let mut rng = Rng::new(seed);
    let mut net: Box<N> = Box::new(Init::Auto.network(seed));
    let mut grads: Box<N> = Box::new(N::zeroed());
    let data = samples::<I, O>(&mut rng);
    let (xs, ts) = (&data.0, &data.1);
    let mut hash = Hash(0xcbf2_9ce4_8422_2325);
    for (x, t) in xs.iter().zip(ts).take(4) {
        hash.add(&net.forward(x));
        hash.add(&[net.loss(x, t), net.train_step(x, t, 0.01)]);
    }
    hash.add(&[net.train_step_batch::<BATCH>(xs, ts, 0.01, &mut grads)]);
    hash.add(&[net.train_steps(xs.iter().zip(ts), 0.01)]);
    let batch = net.forward_batch(xs);
    for (x, out) in xs.iter().zip(&batch) {
        assert_eq!(out.map(f32::to_bits), net.forward(x).map(f32::to_bits), "a batch is its samples");
        hash.add(out);
    }
    hash.add(net.params());
    hash.0
}

fn main() {
    println!("W1 toy 2-2-1: {:016x}", run::<Toy<f32>, 2, 1>(1));
    println!("W2 xor 2-8-1: {:016x}", run::<Xor<f32>, 2, 1>(2));
    println!("W3 digits 64-32-10: {:016x}", run::<Digits<f32>, 64, 10>(3));
    println!("W4 mnist 784-128-10: {:016x}", run::<Mnist<f32>, 784, 10>(4));
    println!("W5 deep 16-(16x8)-1: {:016x}", run::<Deep<f32>, 16, 1>(5));
}
