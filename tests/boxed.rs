//! Large networks built in place on the heap: nothing of the network's size on the stack.

use backprop::{Adam, AdamW, Init, Momentum, Network, Rng, Trainer, boxed_zeroed, network};

network! {
    /// MNIST-sized: 407 kB of parameters in `f32`, 813 kB in `f64`.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Mnist { input: 784, hidden: Dense<128, Relu>, output: Dense<10, Softmax> }
}

network! {
    /// Small, for Miri.
    #[loss(HalfSquaredError)]
    pub struct Small { input: 3, hidden: Dense<4, Tanh>, output: Dense<2, Identity> }
}

const BATCH: usize = 4;

fn data<const I: usize, const O: usize>() -> ([[f32; I]; BATCH], [[f32; O]; BATCH]) {
    let mut rng = Rng::new(3);
    let xs = core::array::from_fn(|_| core::array::from_fn(|_| rng.next_f64() as f32));
    let ts = core::array::from_fn(|s| core::array::from_fn(|k| if k == s % O { 1.0 } else { 0.0 }));
    (xs, ts)
}

/// Two batch steps with AdamW on a trainer built in place, and the parameters after them.
fn train_in_place<N: Network<f32, Input = [f32; I], Output = [f32; O]>, const I: usize, const O: usize>()
-> Vec<f32> {
    let mut net = boxed_zeroed::<f32, N>();
    Init::Auto.apply(&mut *net, &mut Rng::new(11));
    let mut optimizer = AdamW::boxed(1e-3).unwrap();
    optimizer.weight_decay = 1e-4;
    let mut trainer = Trainer::boxed(net, optimizer);
    let (xs, ts) = data::<I, O>();
    for _ in 0..2 {
        trainer.try_step_batch(&xs, &ts).expect("finite data");
    }
    assert_eq!(trainer.steps(), 2);
    trainer.net.params().to_vec()
}

/// The same two steps, every value built by value as usual.
fn train_by_value<N: Network<f32, Input = [f32; I], Output = [f32; O]>, const I: usize, const O: usize>()
-> Vec<f32> {
    let net: N = Init::Auto.network(11);
    let mut trainer = Box::new(Trainer::new(net, AdamW::new(1e-3).unwrap().weight_decay(1e-4).unwrap()));
    let (xs, ts) = data::<I, O>();
    for _ in 0..2 {
        trainer.try_step_batch(&xs, &ts).expect("finite data");
    }
    trainer.net.params().to_vec()
}

/// A thread whose whole stack (256 KiB) is smaller than the network's three copies in a trainer
/// (the network, its gradient and Adam's two moments: 1.6 MB): built by value, it would overflow.
#[cfg(not(miri))]
#[test]
fn a_trainer_for_a_large_network_fits_a_small_stack() {
    let in_place = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(train_in_place::<Mnist<f32>, 784, 10>)
        .unwrap()
        .join()
        .expect("built and trained in place within 256 KiB of stack");
    let by_value = std::thread::Builder::new()
        .stack_size(64 * 1024 * 1024)
        .spawn(train_by_value::<Mnist<f32>, 784, 10>)
        .unwrap()
        .join()
        .unwrap();
    assert!(in_place.iter().zip(&by_value).all(|(a, b)| a.to_bits() == b.to_bits()));
}

#[test]
fn in_place_equals_by_value() {
    assert_eq!(train_in_place::<Small<f32>, 3, 2>(), train_by_value::<Small<f32>, 3, 2>());
}

#[test]
fn boxed_optimizers_equal_their_by_value_defaults() {
    assert_eq!(*Adam::<f64, Small<f64>>::boxed(0.5).unwrap(), Adam::new(0.5).unwrap());
    assert_eq!(*AdamW::<f64, Small<f64>>::boxed(0.5).unwrap(), AdamW::new(0.5).unwrap());
    assert_eq!(*Momentum::<f64, Small<f64>>::boxed(0.5, 0.9).unwrap(), Momentum::new(0.5, 0.9).unwrap());
    assert_eq!(*boxed_zeroed::<f64, Small<f64>>(), Small::zeroed());
}
