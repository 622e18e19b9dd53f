//! The numerics of [`backprop`](https://docs.rs/backprop): everything a network declared with
//! `network!` computes, written once as const-generic kernels.
//!
//! `#![no_std]`, no allocator, no dependency but `libm`. The macro writes only the glue: one
//! call per layer and direction into [`Dense`]'s kernels, an [`Activation`] and a [`Loss`].
//!
//! Conventions, used throughout:
//! - a dense layer computes `z = W x + b`, `a = f(z)`, with `W` stored `[out][in]`;
//! - the error signal of a layer is `delta = dL/dz`; `dL/dW = delta xᵀ`, `dL/db = delta`, and the
//!   previous layer's signal is `(Wᵀ delta) ⊙ f'(z_prev)`; `relu'(0) = 0`;
//! - SGD is `p ← p - lr · g`.
//!
//! Training around the kernels: [`Init`] (Xavier, He, PyTorch's default, from a seed),
//! optimizers ([`Sgd`], [`Momentum`], [`Adam`], [`AdamW`]) whose state has the network's own
//! type, mini-batches with the batch size as a const generic ([`Network::backward_batch`],
//! [`batches`]), and the checked [`Trainer`], whose errors ([`TrainError`]) say which sample or
//! step went wrong.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod activation;
#[cfg(feature = "alloc")]
pub mod boxed;
pub mod deferred;
pub mod dense;
pub mod error;
pub mod gradcheck;
pub mod init;
pub mod kernel;
pub mod loss;
pub mod network;
pub mod optim;
pub mod rng;
pub mod scalar;
pub mod serialize;
pub mod train;

pub use activation::{Activation, Elementwise, Identity, LeakyRelu, Relu, Sigmoid, Softmax, Softplus, Tanh};
#[cfg(feature = "alloc")]
pub use boxed::boxed_zeroed;
pub use deferred::Deferred;
pub use dense::Dense;
pub use error::{SettingError, TrainError};
pub use gradcheck::{
    GradCheck, GradCheckMode, GradComparison, GradLocation, GradReport, gradcheck, gradcheck_with,
};
pub use init::Init;
pub use loss::{BinaryCrossEntropy, HalfSquaredError, Loss, SoftmaxCrossEntropy};
pub use network::{
    LayerBatch, LayerInfo, LayerTrace, Network, ParamIndex, Params, locate_param, train_step_batch_unfused,
};
pub use optim::{Adam, AdamW, Momentum, Optimizer, Sgd};
pub use rng::{RandomSource, Rng, shuffle};
pub use scalar::Scalar;
pub use serialize::{ParamBytes, ParamsError};
pub use train::{
    Batches, Divergence, EarlyStop, EpochStats, Evaluation, Label, Stop, Trainer, accuracy, argmax, batches,
    class_of, confusion_matrix, evaluate, fill_indices, mean_loss, one_hot, one_hot_all, predict,
    try_predict, validate, validate_sample,
};
