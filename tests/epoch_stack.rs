//! Issue 18, item 4: `Trainer::epoch::<B>` copies at most `GATHER` samples onto the stack, whatever
//! `B`. With 10 MNIST-sized samples, `epoch::<1024>` used to put 1,024 inputs (3.2 MB) in its
//! frame and overflow a 2 MiB thread's stack (which aborts this whole test binary, hence its own
//! file).

use backprop::{Init, Rng, Sgd, Trainer, network};

network! {
    /// MNIST-sized inputs; a small hidden layer keeps the test fast.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Mnist {
        input: 784,
        hidden: Dense<16, Relu>,
        output: Dense<10, Softmax>,
    }
}

/// `n` samples: pixel values from the generator, class `i % 10`.
fn data(n: usize) -> (Vec<[f32; 784]>, Vec<[f32; 10]>) {
    let mut rng = Rng::new(5);
    let inputs = (0..n).map(|_| std::array::from_fn(|_| rng.next_f64() as f32)).collect();
    let targets = (0..n).map(|i| std::array::from_fn(|k| f32::from(u8::from(k == i % 10)))).collect();
    (inputs, targets)
}

#[test]
fn a_batch_of_1024_fits_a_2_mib_stack() {
    let trainer = Box::new(Trainer::new(Init::Auto.network::<f32, Mnist<f32>>(1), Sgd::new(0.01).unwrap()));
    let worker = std::thread::Builder::new().stack_size(2 << 20).spawn(move || {
        let mut trainer = trainer;
        let mut rng = Rng::new(1);
        // Fewer samples than a batch: only the remainder step.
        let (inputs, targets) = data(10);
        let mut order = vec![0; inputs.len()];
        let stats = trainer.epoch::<1024, _>(&inputs, &targets, &mut order, &mut rng, |_, _| {}).unwrap();
        assert_eq!((stats.samples, stats.steps), (10, 1));
        // One full batch of 1,024, gathered 32 at a time, and a remainder.
        let (inputs, targets) = data(1100);
        let mut order = vec![0; inputs.len()];
        let stats = trainer.epoch::<1024, _>(&inputs, &targets, &mut order, &mut rng, |_, _| {}).unwrap();
        assert_eq!((stats.samples, stats.steps), (1100, 2));
        assert!(stats.mean_loss.is_finite());
    });
    worker.unwrap().join().unwrap();
}
