//! No reachable panic in the hot path, proven by the linker (the technique of dtolnay's
//! `no-panic`).
//!
//! Built for a bare-metal target (`--target thumbv7em-none-eabihf --release`, and the other two
//! targets of `.ci/run`), this is a `#![no_std]` executable whose entry point calls `forward`,
//! `forward_trace`, `backward`, `backward_accumulate`, `loss`, `train_step`, `train_steps` (with and
//! without a deferred first layer), the batch versions,
//! the optimizers' steps (`Sgd`, `Momentum`, `Adam`, `AdamW`) and the checked `Trainer` steps,
//! the training loop around them (the initialisers, `shuffle`, `Trainer::epoch` with gathered and
//! tiled batches, `try_step_indices`, `evaluate`, `accuracy`, `confusion_matrix`, `EarlyStop`),
//! `gradcheck`, parameter (de)serialisation and safetensors import and export on networks of every
//! loss, dense and convolutional (every convolution and pooling kind), in `f32`, `f64` and the
//! fixed-point `I16F16`, and int8 quantization (`QDense::quantize`
//! for every activation, and `QDense::forward` for every kind of quantized activation), on opaque
//! inputs. Its `#[panic_handler]` calls a function that exists nowhere. After
//! optimisation, the linker keeps only code reachable from the entry point (`--gc-sections`): if
//! any bounds check, overflow check, `unwrap` or other panic survived in that code, the panic
//! handler would be reachable and the link would fail with
//! `undefined symbol: backprop_hot_path_reached_a_panic`.
//!
//! Two builds in `.ci/run`: the default release profile on all three targets, and, on
//! `thumbv7em-none-eabihf`, the kernels alone (`--no-default-features`: forward, backward, the
//! fused SGD step and the batch versions) with `overflow-checks` turned on (except in `libm`,
//! whose bit manipulations are not ours to prove), which shows that no arithmetic in them can
//! overflow either. (The optimizers and the `Trainer` count steps in a `u64` with `+= 1`, and
//! gradient checking counts derivatives: those increments carry an overflow check when the checks
//! are on, so they are proven panic-free in the default release profile only.) A third build with `--features canary` adds one
//! unprovable index and must fail to link: the proof is not vacuous.
//!
//! On the host it is an ordinary program that runs the same code once (so that
//! `cargo test --workspace` and clippy build it like any other member).
#![cfg_attr(target_os = "none", no_std, no_main)]

use core::hint::black_box;

use backprop::{I16F16, ParamBytes, Scalar, network};

network! {
    /// Half squared error, sizes below one vector of accumulators.
    #[loss(HalfSquaredError)]
    pub struct Regressor { input: 3, hidden: Dense<5, Tanh>, output: Dense<2, Sigmoid> }
}

network! {
    /// Binary cross-entropy, sizes across the 8-lane chunks of the dot product.
    #[loss(BinaryCrossEntropy)]
    pub struct Detector { input: 19, a: Dense<17, Relu>, b: Dense<8, Identity>, output: Dense<3, Sigmoid> }
}

network! {
    /// A first layer large enough for `train_steps` to defer its updates (`backprop::deferred`),
    /// with rows long enough for `train_step` to skip those with nothing to add
    /// (`backprop::kernel::SKIP_ZERO_ROWS`), and not a multiple of 16 long.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Wide { input: 260, hidden: Dense<64, Relu>, output: Dense<4, Softmax> }
}

network! {
    /// Convolutions on an image, every 2-d kind: valid and same, strided, max, average and global
    /// pools, a dense layer reading a shaped output.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Vision {
        input: [2, 9, 7],
        conv1: Conv2d<4, 3, Relu>,
        pool: MaxPool2d<2, stride = 1>,
        conv2: Conv2d<3, 3, Tanh, stride = 2, padding = Same>,
        avg: AvgPool2d<2, stride = 1>,
        hidden: Dense<5, LeakyRelu>,
        output: Dense<3, Softmax>,
    }
}

network! {
    /// Convolutions on a signal, every 1-d kind, first layer a convolution.
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

network! {
    /// Softmax cross-entropy, three layers, every other activation.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Classifier { input: 4, a: Dense<8, LeakyRelu>, b: Dense<6, Softplus>, output: Dense<3, Softmax> }
}

/// Every hot-path entry point of one network, on inputs the optimiser cannot see through.
#[inline(never)]
fn exercise<T: Scalar, N: ParamBytes<T>>() {
    let mut net: N = black_box(N::zeroed());
    let x: N::Input = black_box(*N::input_grad(&N::new_trace()));
    let t: N::Output = black_box(*N::trace_output(&N::new_trace()));
    let lr = black_box(T::HALF);

    black_box(net.forward(&x));
    let mut trace = N::new_trace();
    black_box(net.forward_trace(&x, &mut trace));
    let mut grads = N::zeroed();
    black_box(net.backward(&mut trace, &t, &mut grads));
    black_box(net.backward_accumulate(&mut trace, &t, &mut grads));
    black_box(net.loss(&x, &t));
    black_box(net.train_step(&x, &t, lr));
    black_box(&mut net);

    let samples = black_box([(x, t); 3]);
    black_box(net.train_steps(samples.iter().map(|(x, t)| (x, t)), lr));
    black_box(&mut net);

    let xs = black_box([x; 4]);
    let ts = black_box([t; 4]);
    black_box(net.backward_batch(&xs, &ts, &mut grads));
    black_box(net.train_step_batch(&xs, &ts, lr, &mut grads));
    black_box(&mut net);

    #[cfg(feature = "optimizers")]
    exercise_optimizers::<T, N>(net, &grads, &x, &t, &xs, &ts, lr);
}

/// The training step with an optimizer: the optimizers themselves, and the checked `Trainer`.
#[cfg(feature = "optimizers")]
#[inline(never)]
fn exercise_optimizers<T: Scalar, N: ParamBytes<T>>(
    mut net: N,
    grads: &N,
    x: &N::Input,
    t: &N::Output,
    xs: &[N::Input; 4],
    ts: &[N::Output; 4],
    lr: T,
) {
    use backprop::{Adam, AdamW, Momentum, Optimizer, Sgd, Trainer};

    // The constructors check their settings (an opaque `lr` may be out of range): each
    // optimizer runs only if it was made.
    if let Ok(mut sgd) = Sgd::new(lr).and_then(|s| s.weight_decay(lr)) {
        sgd.step(&mut net, grads);
        black_box(sgd.try_step(&mut net, grads).ok());
        black_box(Optimizer::<T, N>::set_learning_rate(&mut sgd, lr).ok());
    }
    if let Ok(mut momentum) = Momentum::nesterov(lr, black_box(T::HALF)) {
        momentum.step(&mut net, grads);
        black_box(momentum.try_step(&mut net, grads).ok());
    }
    if let Ok(mut adam) = AdamW::new(lr) {
        adam.step(&mut net, grads);
        black_box(adam.try_step(&mut net, grads).ok());
    }
    if let Ok(adam) = Adam::new(lr) {
        let mut trainer = Trainer::new(net, adam);
        black_box(trainer.try_step(x, t).ok());
        black_box(trainer.try_step_batch(xs, ts).ok());
        black_box(&mut trainer);
    }
}

/// The training loop around the steps: initialisers, shuffling, `Trainer::epoch` (several batch
/// sizes, so both its gathered and its tiled paths), evaluation and early stopping, on a data set
/// the optimiser cannot see through.
#[cfg(feature = "optimizers")]
#[inline(never)]
fn exercise_training<T: Scalar, N: ParamBytes<T>>() {
    use backprop::data::shuffle;
    use backprop::metrics::{accuracy, confusion_matrix, evaluate};
    use backprop::{EarlyStop, Init, Rng, Sgd, Trainer};

    let mut rng = Rng::new(black_box(7));
    let mut net: N = Init::Auto.network(black_box(3));
    for init in [Init::XavierUniform, Init::HeNormal, Init::Auto] {
        black_box(init).apply(&mut net, &mut rng);
    }
    let inputs: [N::Input; 5] = black_box([*N::input_grad(&N::new_trace()); 5]);
    let targets: [N::Output; 5] = black_box([*N::trace_output(&N::new_trace()); 5]);
    let mut order = black_box([0usize; 5]);
    shuffle(&mut order, &mut rng).ok();
    black_box(&order);
    if let Ok(sgd) = Sgd::new(black_box(T::HALF)) {
        let mut trainer = Trainer::new(net, sgd);
        black_box(trainer.epoch::<2, _>(&inputs, &targets, &mut order, &mut rng, |_, _| {}).ok());
        black_box(trainer.epoch::<40, _>(&inputs, &targets, &mut order, &mut rng, |_, _| {}).ok());
        black_box(trainer.try_step_indices(&inputs, &targets, black_box(&[4, 0])).ok());
        let net = &trainer.net;
        black_box(evaluate(net, &inputs, &targets).ok());
        black_box(accuracy(net, &inputs, &targets).ok());
        black_box(confusion_matrix::<T, N, 3>(net, &inputs, &targets).ok());
    }
    let mut stop = EarlyStop::at_loss(black_box(1e-3)).patience(black_box(3), 1e-4);
    black_box(stop.update(black_box(0.5)));
    black_box(stop.update(black_box(f64::NAN)));
}

/// Gradient checking and serialisation: not the hot path, but neither should panic.
#[cfg(feature = "tools")]
#[inline(never)]
fn exercise_tools<T: Scalar, N: ParamBytes<T>>() {
    use backprop::gradcheck::GradCheckMode;
    use backprop::{GradCheck, Naming, Safetensors, gradcheck};

    let net: N = black_box(N::zeroed());
    let x: N::Input = black_box(*N::input_grad(&N::new_trace()));
    let t: N::Output = black_box(*N::trace_output(&N::new_trace()));
    black_box(gradcheck(&net, &x, &t, &GradCheck::default()));
    let directions = GradCheck {
        mode: GradCheckMode::Directions { count: black_box(3), seed: 1 },
        ..GradCheck::default()
    };
    black_box(gradcheck(&net, &x, &t, &directions));

    let mut bytes = [0u8; 4096];
    let len = black_box(&net).to_bytes(&mut bytes);
    black_box(len.ok());
    let mut loaded: N = black_box(N::zeroed());
    let input = black_box(&bytes[..]);
    black_box(loaded.load_bytes(input).err());
    black_box(&mut loaded);

    // Safetensors: every naming, reading opaque bytes and writing.
    for naming in [Naming::Layers, Naming::Sequential, Naming::Flax] {
        let naming = black_box(naming);
        black_box(black_box(&net).write_safetensors(naming, &mut bytes).ok());
        black_box(loaded.load_safetensors(black_box(&bytes[..]), naming).err());
        black_box(N::safetensors_len(naming).ok());
    }
    black_box(backprop::safetensors::SafeTensors::parse(black_box(&bytes[..])).map(|f| f.len()).ok());
    black_box(&mut loaded);
}

/// Quantized inference: `QDense::forward` with every kind of activation, on opaque layers (any
/// field values) and inputs.
#[inline(never)]
fn exercise_quant() {
    use backprop::quant::{QActivation, QDense, QParams};

    let params = QParams { scale: 1.0, zero_point: 0 };
    for activation in [
        QActivation::Clamp { min: -128, max: 127 },
        QActivation::Table([0; 256]),
        QActivation::Softmax([1; 256]),
    ] {
        let layer: QDense<19, 7> = black_box(QDense {
            w: [[1; 19]; 7],
            b: [0; 7],
            multiplier: [1 << 30; 7],
            shift: [0; 7],
            input: params,
            z: params,
            output: params,
            activation,
        });
        black_box(layer.forward(&black_box([0; 19])));
    }
}

/// Quantizing a float layer (in `f64` with `libm`): every activation, the parameters and ranges,
/// and the fixed-point primitives, on opaque values.
#[cfg(feature = "tools")]
#[inline(never)]
fn exercise_quantize<A: backprop::Activation>() {
    use backprop::Dense;
    use backprop::quant::{QDense, QParams, Range, arith};

    let dense = black_box(Dense::<f32, 19, 7>::zeroed());
    let mut range = black_box(Range::EMPTY);
    range.include(&black_box([0.5f32; 19]));
    let input = QParams::from_range(black_box(range));
    if let Ok(q) = QDense::quantize::<f32, A>(&dense, input, range, black_box(range)) {
        black_box(q.output.dequantize_all(&q.forward(&input.quantize_all(&black_box([0.25f32; 19])))));
    }
    let (m, shift) = arith::quantize_multiplier(black_box(0.3));
    black_box(arith::multiply_by_quantized_multiplier(black_box(1000), m, shift));
}

/// Every hot-path method of one layer kind, called through `Layer` directly (generated networks
/// call the same methods: see `Vision` and `Signal`).
#[inline(never)]
fn exercise_layer<T: Scalar, L: backprop::Layer<T>, A: backprop::Activation>() {
    use backprop::layer::LayerBatch;
    let mut layer: L = black_box(L::ZEROED);
    let x: L::Input = black_box(<L::Input as backprop::Shape>::ZERO);
    let lr = black_box(T::HALF);
    black_box(layer.infer::<A>(&x));
    let mut trace = backprop::LayerTrace::zeroed();
    layer.forward::<A>(&x, &mut trace);
    let delta = black_box(trace.a);
    let (mut grad, mut dx) = (L::ZEROED, <L::Input as backprop::Shape>::ZERO);
    layer.backward::<false>(&x, &delta, &mut grad, &mut dx);
    layer.backward::<true>(&x, &delta, &mut grad, &mut dx);
    layer.backward_params::<true>(&x, &delta, &mut grad);
    layer.backward_sgd(&x, &delta, lr, &mut dx);
    layer.sgd(&x, &delta, lr);
    black_box((&grad, &dx));
    let xs = black_box([x; 3]);
    // A tile of 4 samples, not the default 32: generated networks pick theirs (`batch_tile`).
    let mut below = LayerBatch::<L::Input, 4>::zeroed();
    let mut this = LayerBatch::<L::Output, 4>::zeroed();
    below.len = black_box(3);
    layer.forward_batch::<A, 4>(black_box(&xs[..]), &mut this);
    layer.backward_batch(&mut below, &this, &mut grad);
    layer.backward_batch_params(&xs, &this, &mut grad);
    layer.backward_batch_sgd(&mut below, &this, lr, lr, &mut grad);
    layer.batch_sgd(&xs, &this, lr, lr, &mut grad);
    black_box((&layer, &grad, &below));
}

/// The convolutional kinds, in `T`, with the flattening into a dense layer.
fn exercise_conv<T: Scalar>() {
    use backprop::conv::*;
    use backprop::{Relu, Sigmoid, Tanh};
    exercise_layer::<T, Conv2d<T, Valid, 3, 5, 7, 2, 3, 1, 3, 5>, Relu>();
    exercise_layer::<T, Conv2d<T, Same, 3, 5, 7, 2, 3, 2, 3, 4>, Tanh>();
    exercise_layer::<T, Conv1d<T, Same, 2, 9, 3, 3, 1, 9>, Sigmoid>();
    exercise_layer::<T, Conv1d<T, Valid, 2, 11, 2, 3, 2, 5>, Relu>();
    exercise_layer::<T, MaxPool2d<T, 2, 5, 7, 3, 2, 2, 3>, backprop::Identity>();
    exercise_layer::<T, AvgPool2d<T, 2, 4, 6, 2, 2, 2, 3>, backprop::Identity>();
    exercise_layer::<T, MaxPool1d<T, 3, 9, 3, 3, 3>, backprop::Identity>();
    exercise_layer::<T, AvgPool1d<T, 2, 5, 2, 1, 4>, backprop::Identity>();
    exercise_layer::<T, GlobalAvgPool2d<T, 2, 3, 4>, backprop::Identity>();
    exercise_layer::<T, GlobalAvgPool1d<T, 3, 5>, backprop::Identity>();
    let pooled = black_box([[[T::HALF; 3]; 2]; 2]);
    let flat: &[T; 12] = flatten(&pooled);
    black_box(flat);
    let mut d = black_box([[[T::HALF; 3]; 2]; 2]);
    let flat: &mut [T; 12] = flatten_mut(&mut d);
    black_box(flat);
}

fn run() {
    exercise_conv::<f32>();
    exercise_conv::<f64>();
    exercise::<f32, Regressor<f32>>();
    exercise::<f64, Regressor<f64>>();
    exercise::<f32, Detector<f32>>();
    exercise::<f64, Detector<f64>>();
    exercise::<f32, Classifier<f32>>();
    exercise::<f64, Classifier<f64>>();
    exercise::<f32, Wide<f32>>();
    exercise::<f64, Wide<f64>>();
    exercise::<f32, Vision<f32>>();
    exercise::<f64, Vision<f64>>();
    exercise::<f32, Signal<f32>>();
    exercise::<f64, Signal<f64>>();
    exercise_quant();
    exercise::<I16F16, Vision<I16F16>>();
    exercise::<I16F16, Regressor<I16F16>>();
    exercise::<I16F16, Detector<I16F16>>();
    exercise::<I16F16, Classifier<I16F16>>();
    exercise::<I16F16, Wide<I16F16>>();
    #[cfg(feature = "optimizers")]
    {
        exercise_training::<f32, Regressor<f32>>();
        exercise_training::<f64, Classifier<f64>>();
        exercise_training::<f32, Wide<f32>>();
        exercise_training::<f32, Vision<f32>>();
        exercise_training::<f64, Signal<f64>>();
    }
    #[cfg(feature = "tools")]
    {
        exercise_tools::<f32, Regressor<f32>>();
        exercise_tools::<f64, Detector<f64>>();
        exercise_tools::<f64, Classifier<f64>>();
        exercise_tools::<f32, Vision<f32>>();
        exercise_tools::<f64, Signal<f64>>();
        exercise_quantize::<backprop::Identity>();
        exercise_quantize::<backprop::Relu>();
        exercise_quantize::<backprop::Sigmoid>();
        exercise_quantize::<backprop::Tanh>();
        exercise_quantize::<backprop::Softmax>();
        exercise_quantize::<backprop::LeakyRelu>();
        exercise_quantize::<backprop::Softplus>();
    }
    #[cfg(feature = "canary")]
    {
        // An index the optimiser cannot prove in bounds: its panic path must break the link.
        let data = black_box([1u8, 2, 3]);
        black_box(data[black_box(7)]);
    }
}

#[cfg(target_os = "none")]
mod bare_metal;

#[cfg(not(target_os = "none"))]
fn main() {
    run();
    println!("no-panic: hot path exercised on the host; the proof is the bare-metal link");
}
