//! # backprop
//!
//! Declare a neural network with [`network!`]; get a struct whose forward pass, backward pass
//! (backpropagation) and training step are plain, fixed-size, allocation-free Rust over
//! const-generic arrays. `#![no_std]`, no allocator: the same code runs on a laptop and on a
//! microcontroller.
//!
//! ```
//! use backprop::{network, Dense};
//!
//! network! {
//!     /// The chapter's toy network: two inputs, two sigmoid hidden neurons, one sigmoid output.
//!     #[loss(HalfSquaredError)]
//!     pub struct Toy {
//!         input: 2,
//!         hidden: Dense<2, Sigmoid>,
//!         output: Dense<1, Sigmoid>,
//!     }
//! }
//!
//! let mut net = Toy::<f64>::new(
//!     Dense::new([[0.5, -0.3], [0.8, 0.2]], [0.0, 0.0]),
//!     Dense::new([[1.0, -1.0]], [0.1]),
//! );
//! let mut trace = ToyTrace::zeroed();
//! let y = net.forward_trace(&[1.0, 0.5], &mut trace); // stores every z and a
//! let mut grads = Toy::zeroed();
//! let loss = net.backward(&mut trace, &[1.0], &mut grads); // fills every gradient
//! assert!(loss > 0.0 && y[0] < 1.0);
//! println!("error signals of the hidden layer: {:?}", trace.hidden.delta);
//! println!("dL/dw for the first output weight: {}", grads.output.w[0][0]);
//! let before = net.loss(&[1.0, 0.5], &[1.0]);
//! net.train_step(&[1.0, 0.5], &[1.0], 0.5);
//! assert!(net.loss(&[1.0, 0.5], &[1.0]) < before);
//! ```
//!
//! # The public API
//!
//! | what | where |
//! |---|---|
//! | declare a network | [`network!`]; what it generates implements [`Network`] and [`Params`] |
//! | layers | [`Dense`], through the [`Layer`] trait; [`LayerTrace`] (a layer's `z`, `a`, `delta`); [`LayerInfo`], [`LayerKind`]; module [`layer`] |
//! | activations | [`Identity`], [`Sigmoid`], [`Tanh`], [`Relu`], [`LeakyRelu`], [`Softplus`], [`Softmax`]; your own through [`Elementwise`] or [`Activation`] |
//! | losses | [`HalfSquaredError`], [`BinaryCrossEntropy`], [`SoftmaxCrossEntropy`], the [`Loss`] trait |
//! | scalars | [`Scalar`]: `f32`, `f64`, and [`I16F16`] (Q16.16 fixed point, for cores without an FPU); module [`fixed`] |
//! | initialisers, randomness | [`Init`]; [`Rng`], [`RandomSource`] |
//! | optimizers | [`Sgd`], [`Momentum`], [`Adam`], [`AdamW`], the [`Optimizer`] trait; module [`optim`] |
//! | training loop | [`Trainer`], [`EarlyStop`], [`Stop`], [`EpochStats`], [`Divergence`]; errors [`TrainError`], [`SettingError`], module [`error`] |
//! | data | module [`data`]: one-hot targets, validation, shuffling, mini-batches |
//! | metrics | module [`metrics`]: predictions, accuracy, mean loss, confusion matrix |
//! | gradient checking | [`gradcheck()`], [`GradCheck`], [`GradReport`]; module [`gradcheck`](mod@gradcheck) |
//! | weights to and from bytes | [`ParamBytes`], [`ParamsError`]; module [`serialize`] |
//! | weights from and to PyTorch and JAX | [`Safetensors`], [`Naming`], [`SafetensorsError`]; module [`safetensors`]; `#[weights(...)]` in [`network!`] |
//! | int8 quantized inference | module [`quant`]: [`QDense`](quant::QDense), [`QParams`](quant::QParams), [`Range`](quant::Range), [`QuantError`](quant::QuantError); integer-only forward pass |
//! | big networks on the heap (`alloc`) | [`boxed_zeroed`] |
//!
//! Everything else (the kernels, the deferred updates of `train_steps`, the batch tiles) is
//! machinery of generated code, reached through a hidden module, and may change in any release.
#![no_std]

#[cfg(feature = "alloc")]
#[doc(inline)]
pub use backprop_core::boxed_zeroed;
#[doc(inline)]
pub use backprop_core::{
    Activation, Adam, AdamW, BinaryCrossEntropy, Dense, Divergence, EarlyStop, Elementwise, EpochStats,
    GradCheck, GradReport, HalfSquaredError, I16F16, Identity, Init, Layer, LayerInfo, LayerKind, LayerTrace,
    LeakyRelu, Loss, Momentum, Naming, Network, Optimizer, ParamBytes, Params, ParamsError, RandomSource,
    Relu, Rng, Safetensors, SafetensorsError, Scalar, SettingError, Sgd, Shape, Sigmoid, Softmax,
    SoftmaxCrossEntropy, Softplus, Stop, Tanh, TrainError, Trainer, gradcheck,
};
#[doc(inline)]
pub use backprop_core::{
    activation, conv, data, error, fixed, init, layer, loss, metrics, optim, quant, rng, safetensors,
    serialize,
};

#[doc(hidden)]
pub use backprop_core::{deferred, kernel};

/// Declares a network. See the [crate documentation](crate) and the README for the syntax.
///
/// ```
/// backprop::network! {
///     /// A digit classifier.
///     #[loss(SoftmaxCrossEntropy)]
///     pub struct Digits {
///         input: 64,
///         hidden: Dense<32, Relu>,
///         output: Dense<10, Softmax>,
///     }
/// }
/// assert_eq!(Digits::<f32>::PARAMS, 64 * 32 + 32 + 32 * 10 + 10);
/// ```
///
/// # Attributes above `struct`
///
/// - `#[loss(Name)]`, required: `HalfSquaredError`, `BinaryCrossEntropy` or `SoftmaxCrossEntropy`.
/// - `#[network(crate = path::to::backprop)]`: where the runtime is, when it was renamed.
/// - `#[weights(NAME = "file.safetensors")]`, any number: the macro reads the safetensors file
///   at compile time and adds `pub const NAME: Self` to the network for `f32` and `f64` (or
///   only one with `scalar = f32`), built by the `const fn` constructors, so the weights can sit
///   in a `static` in flash with no parsing at run time. The path is relative to the file that
///   invokes the macro (as `include_bytes!`); `naming = Layers` (the default,
///   `hidden.weight`), `Sequential` (`0.weight`) or `Flax` (`params.Dense_0.kernel`), as
///   [`Naming`]. A missing or extra tensor, a shape that differs from the spec, a dtype other
///   than F64, F32, F16 or BF16, a non-finite value or an unreadable file is a compile error on
///   the path, naming the tensor and both shapes; the build reruns when the file changes.
///
/// ```text
/// network! {
///     #[loss(BinaryCrossEntropy)]
///     #[weights(PYTORCH = "../baked/xor-pytorch.safetensors", scalar = f32)]
///     pub struct Xor { input: 2, hidden: Dense<4, Tanh>, output: Dense<1, Sigmoid> }
/// }
/// static NET: Xor<f32> = Xor::PYTORCH;
/// ```
#[macro_export]
macro_rules! network {
    ($($spec:tt)*) => {
        $crate::__private::network_impl! { $crate; $($spec)* }
    };
}

/// The tokens given, in builds with the `alloc` feature; nothing otherwise. Generated code wraps
/// its heap constructors in it: the user's crate cannot see this crate's features.
#[cfg(feature = "alloc")]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_alloc {
    ($($tokens:tt)*) => { $($tokens)* };
}

/// See the `alloc` version.
#[cfg(not(feature = "alloc"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __with_alloc {
    ($($tokens:tt)*) => {};
}

/// What generated code names. Not public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use backprop_core::__private::*;
    pub use backprop_macros::network_impl;
}

/// The README's Rust examples, compiled and run as doctests so that they cannot drift from the
/// API (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
