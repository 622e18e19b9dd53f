//! Zero heap allocations in the hot paths, counted by a `#[global_allocator]`.
//!
//! The allocator counts allocations made by the current thread only (the test harness runs tests
//! on several threads), and each measurement runs the code first once to warm up, then counts a
//! second run. Every operation of the [`Network`] trait, gradient checking, (de)serialisation,
//! every optimizer, the checked [`Trainer`] steps and epoch, and the initialisers are measured on
//! a network of each loss and on convolutional networks of every kind, in `f32` and `f64`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use backprop::gradcheck::GradCheckMode;
use backprop::{
    Adam, AdamW, GradCheck, Init, Momentum, Network, Optimizer, ParamBytes, Rng, Scalar, Sgd, Trainer,
    gradcheck, network,
};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; counting touches only a const-initialised
// thread-local `Cell` (no allocation, no destructor).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(mut f: impl FnMut()) -> usize {
    f(); // warm-up: lazily initialised thread-locals and the like are not the code under test
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn the_counter_counts() {
    assert_eq!(allocations(|| drop(black_box(Vec::<u8>::with_capacity(16)))), 1);
    assert_eq!(allocations(|| drop(black_box(Box::new([0u64; 4])))), 1);
    assert_eq!(allocations(|| _ = black_box([0u8; 64])), 0);
}

network! {
    /// Half squared error.
    #[loss(HalfSquaredError)]
    pub struct Regressor { input: 3, hidden: Dense<5, Tanh>, output: Dense<2, Sigmoid> }
}

network! {
    /// Binary cross-entropy, sizes across the dot product's 8-lane chunks.
    #[loss(BinaryCrossEntropy)]
    pub struct Detector { input: 19, a: Dense<17, Relu>, b: Dense<8, Softplus>, output: Dense<3, Sigmoid> }
}

network! {
    /// Softmax cross-entropy.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Classifier { input: 4, a: Dense<8, LeakyRelu>, b: Dense<6, Identity>, output: Dense<3, Softmax> }
}

fn seeded<T: Scalar, N: Network<T>>(seed: u64) -> N {
    let mut rng = Rng::new(seed);
    let mut net = N::zeroed();
    for p in net.params_mut() {
        *p = T::from_f64(rng.uniform(-0.5, 0.5));
    }
    net
}

fn sample<T: Scalar, N: Network<T>>(seed: u64) -> (N::Input, N::Output) {
    let mut rng = Rng::new(seed);
    let trace = N::new_trace();
    let mut x = *N::input_grad(&trace);
    for v in x.as_mut() {
        *v = T::from_f64(rng.uniform(-1.0, 1.0));
    }
    // A one-hot target fits every loss.
    let mut t = *N::trace_output(&trace);
    t.as_mut()[0] = T::ONE;
    (x, t)
}

/// Every operation, each counted on its own, must make no allocation.
fn check_no_allocations<T: Scalar, N: ParamBytes<T> + PartialEq>() {
    let mut net: N = seeded(1);
    let (x, t) = sample::<T, N>(2);
    let mut trace = N::new_trace();
    let mut grads = N::zeroed();
    let lr = T::from_f64(0.01);
    let xs = [x; 4];
    let ts = [t; 4];
    let mut bytes = vec![0u8; N::SERIALIZED_LEN];
    let name = core::any::type_name::<N>();

    let mut ops: Vec<(&str, usize)> = Vec::new();
    ops.push((
        "forward",
        allocations(|| {
            black_box(net.forward(black_box(&x)));
        }),
    ));
    ops.push((
        "forward_trace",
        allocations(|| {
            black_box(net.forward_trace(&x, &mut trace));
        }),
    ));
    ops.push((
        "backward",
        allocations(|| {
            black_box(net.backward(&mut trace, &t, &mut grads));
        }),
    ));
    ops.push((
        "backward_accumulate",
        allocations(|| {
            black_box(net.backward_accumulate(&mut trace, &t, &mut grads));
        }),
    ));
    ops.push((
        "loss",
        allocations(|| {
            black_box(net.loss(&x, &t));
        }),
    ));
    ops.push((
        "train_step",
        allocations(|| {
            black_box(net.train_step(&x, &t, lr));
        }),
    ));
    ops.push((
        "train_steps",
        allocations(|| {
            black_box(net.train_steps(xs.iter().zip(&ts), lr));
        }),
    ));
    ops.push((
        "backward_batch",
        allocations(|| {
            black_box(net.backward_batch(&xs, &ts, &mut grads));
        }),
    ));
    ops.push((
        "train_step_batch",
        allocations(|| {
            black_box(net.train_step_batch(&xs, &ts, lr, &mut grads));
        }),
    ));
    ops.push((
        "gradcheck (full)",
        allocations(|| {
            black_box(gradcheck(&net, &x, &t, &GradCheck::default()));
        }),
    ));
    let directions =
        GradCheck { mode: GradCheckMode::Directions { count: 5, seed: 3 }, ..GradCheck::default() };
    ops.push((
        "gradcheck (directions)",
        allocations(|| {
            black_box(gradcheck(&net, &x, &t, &directions));
        }),
    ));
    ops.push((
        "to_bytes",
        allocations(|| {
            assert!(black_box(net.to_bytes(&mut bytes)).is_ok());
        }),
    ));
    ops.push((
        "load_bytes",
        allocations(|| {
            assert!(black_box(net.load_bytes(&bytes)).is_ok());
        }),
    ));
    ops.push((
        "load_bytes (corrupt)",
        allocations(|| {
            assert!(black_box(net.load_bytes(&bytes[1..])).is_err());
        }),
    ));

    // The measured code really ran: gradcheck compared derivatives.
    assert!(gradcheck(&net, &x, &t, &GradCheck::default()).checked > 0);

    // Optimizers: `step` and the checked `try_step` on a real gradient.
    net.forward_trace(&x, &mut trace);
    net.backward(&mut trace, &t, &mut grads);
    let lr = T::from_f64(0.01);
    ops.push(("Sgd", optimizer_allocations(Sgd::new(lr).unwrap(), &mut net, &grads)));
    ops.push((
        "Sgd + weight decay",
        optimizer_allocations(Sgd::new(lr).unwrap().weight_decay(lr).unwrap(), &mut net, &grads),
    ));
    ops.push((
        "Momentum",
        optimizer_allocations(Momentum::new(lr, T::from_f64(0.9)).unwrap(), &mut net, &grads),
    ));
    ops.push((
        "Nesterov",
        optimizer_allocations(Momentum::nesterov(lr, T::from_f64(0.9)).unwrap(), &mut net, &grads),
    ));
    ops.push(("Adam", optimizer_allocations(Adam::new(lr).unwrap(), &mut net, &grads)));
    ops.push((
        "AdamW",
        optimizer_allocations(AdamW::new(lr).unwrap().weight_decay(lr).unwrap(), &mut net, &grads),
    ));

    // The checked training loop, on a small data set.
    let inputs = [x, x, x, x, x];
    let targets = [t, t, t, t, t];
    let mut order = [0usize; 5];
    let mut rng = Rng::new(4);
    let mut trainer = Trainer::new(net.clone(), Adam::new(lr).unwrap());
    ops.push((
        "Trainer::try_step",
        allocations(|| {
            assert!(black_box(trainer.try_step(&x, &t)).is_ok());
        }),
    ));
    ops.push((
        "Trainer::try_step_batch",
        allocations(|| {
            assert!(black_box(trainer.try_step_batch(&xs, &ts)).is_ok());
        }),
    ));
    ops.push((
        "Trainer::try_step_indices",
        allocations(|| {
            assert!(black_box(trainer.try_step_indices(&inputs, &targets, &[4, 0, 2])).is_ok());
        }),
    ));
    ops.push((
        "Trainer::epoch",
        allocations(|| {
            let stats = trainer.epoch::<2, _>(&inputs, &targets, &mut order, &mut rng, |_, _| ());
            assert!(black_box(stats).is_ok());
        }),
    ));
    assert!(trainer.steps() > 0);

    // Initialisers.
    ops.push((
        "Init::apply (Auto)",
        allocations(|| {
            Init::Auto.apply(&mut net, &mut rng);
        }),
    ));
    ops.push((
        "Init::network (XavierNormal)",
        allocations(|| {
            black_box(Init::XavierNormal.network::<T, N>(5));
        }),
    ));

    let failures: Vec<_> = ops.iter().filter(|(_, n)| *n != 0).collect();
    assert!(failures.is_empty(), "{name}: allocations in {failures:?}");
    assert_eq!(ops.len(), 26);
}

/// Allocations of one optimizer's `step` and `try_step`, both of which must change the network.
fn optimizer_allocations<T: Scalar, N: Network<T> + PartialEq, O: Optimizer<T, N>>(
    mut optimizer: O,
    net: &mut N,
    grads: &N,
) -> usize {
    let before = net.clone();
    let n = allocations(|| {
        optimizer.step(net, grads);
        assert!(black_box(optimizer.try_step(net, grads)).is_ok());
    });
    assert!(*net != before, "the optimizer stepped");
    n
}

#[test]
fn half_squared_error_allocates_nothing() {
    check_no_allocations::<f32, Regressor<f32>>();
    check_no_allocations::<f64, Regressor<f64>>();
}

#[test]
fn binary_cross_entropy_allocates_nothing() {
    check_no_allocations::<f32, Detector<f32>>();
    check_no_allocations::<f64, Detector<f64>>();
}

#[test]
fn softmax_cross_entropy_allocates_nothing() {
    check_no_allocations::<f32, Classifier<f32>>();
    check_no_allocations::<f64, Classifier<f64>>();
}

network! {
    /// Every 2-d convolutional kind: convolutions valid and same, strided, max, average and
    /// global pools.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Image {
        input: [2, 9, 7],
        conv1: Conv2d<4, 3, Relu>,
        pool: MaxPool2d<2, stride = 1>,
        conv2: Conv2d<3, 3, Tanh, stride = 2, padding = Same>,
        avg: AvgPool2d<2, stride = 1>,
        gap: GlobalAvgPool2d,
        output: Dense<3, Softmax>,
    }
}

network! {
    /// Every 1-d convolutional kind.
    #[loss(BinaryCrossEntropy)]
    pub struct Signal {
        input: [3, 11],
        conv: Conv1d<5, 3, Sigmoid, stride = 2>,
        pool: MaxPool1d<2, stride = 1>,
        avg: AvgPool1d<2>,
        gap: GlobalAvgPool1d,
        output: Dense<2, Sigmoid>,
    }
}

#[test]
fn convolutional_networks_allocate_nothing() {
    check_no_allocations::<f32, Image<f32>>();
    check_no_allocations::<f64, Image<f64>>();
    check_no_allocations::<f32, Signal<f32>>();
    check_no_allocations::<f64, Signal<f64>>();
}

network! {
    /// A first layer large enough for `train_steps` to defer its updates (`backprop::deferred`).
    #[loss(SoftmaxCrossEntropy)]
    pub struct Wide { input: 128, hidden: Dense<128, Relu>, output: Dense<4, Softmax> }
}

#[test]
fn deferred_train_steps_allocate_nothing() {
    fn check<T: Scalar>() {
        const { assert!(backprop::deferred::deferred_steps(128, 128) > 0) };
        let mut net: Box<Wide<T>> = backprop::boxed_zeroed();
        let mut rng = Rng::new(4);
        for p in backprop::Params::params_mut(&mut *net) {
            *p = T::from_f64(rng.uniform(-0.5, 0.5));
        }
        let samples: Vec<_> = (0..40).map(|s| sample::<T, Wide<T>>(s)).collect();
        let n = allocations(|| {
            black_box(net.train_steps(samples.iter().map(|(x, t)| (x, t)), T::from_f64(0.01)));
        });
        assert_eq!(n, 0, "train_steps allocated");
        assert!(net.output.b.iter().any(|&b| b != T::ZERO), "the network trained");
    }
    check::<f32>();
    check::<f64>();
}
