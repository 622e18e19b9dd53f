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
//! [`batches`](data::batches)), and the checked [`Trainer`], whose errors ([`TrainError`]) say which sample or
//! step went wrong.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod activation;
#[cfg(feature = "alloc")]
pub mod boxed;
pub mod conv;
#[doc(hidden)]
pub mod deferred;
pub mod dense;
pub mod error;
pub mod fixed;
pub mod gradcheck;
pub mod init;
#[doc(hidden)]
pub mod kernel;
pub mod layer;
pub mod loss;
pub mod network;
pub mod optim;
pub mod quant;
pub mod rng;
pub mod safetensors;
pub mod scalar;
pub mod serialize;
pub mod train;

/// Preparing data: one-hot targets, validation of samples, shuffling, mini-batches.
pub mod data {
    pub use crate::rng::shuffle;
    pub use crate::train::{
        Batches, Label, batches, class_of, fill_indices, one_hot, one_hot_all, validate, validate_sample,
    };
}

/// Measuring a network on data: predictions, accuracy, mean loss, confusion matrix.
pub mod metrics {
    pub use crate::train::{
        Evaluation, accuracy, argmax, confusion_matrix, evaluate, mean_loss, predict, try_predict,
    };
}

pub use activation::{Activation, Elementwise, Identity, LeakyRelu, Relu, Sigmoid, Softmax, Softplus, Tanh};
#[cfg(feature = "alloc")]
pub use boxed::boxed_zeroed;
pub use conv::{
    AvgPool1d, AvgPool2d, Conv1d, Conv2d, GlobalAvgPool1d, GlobalAvgPool2d, MaxPool1d, MaxPool2d, Same, Valid,
};
pub use dense::Dense;
pub use error::{SettingError, TrainError};
pub use fixed::I16F16;
pub use gradcheck::{GradCheck, GradReport, gradcheck};
pub use init::Init;
pub use layer::{Layer, LayerInfo, LayerKind, LayerTrace, Shape};
pub use loss::{BinaryCrossEntropy, HalfSquaredError, Loss, SoftmaxCrossEntropy};
pub use network::{Network, Params};
pub use optim::{Adam, AdamW, Momentum, Optimizer, Sgd};
pub use rng::{RandomSource, Rng};
pub use safetensors::{Naming, Safetensors, SafetensorsError};
pub use scalar::Scalar;
pub use serialize::{ParamBytes, ParamsError};
pub use train::{Divergence, EarlyStop, EpochStats, Stop, Trainer};

/// What generated code and the facade name, and nothing else: not public API, may change in any
/// release. Listed one by one (as `thiserror`'s `private` module is), so that nothing reaches
/// generated code by accident.
#[doc(hidden)]
pub mod __private {
    pub use crate::activation::{Activation, Identity, LeakyRelu, Relu, Sigmoid, Softmax, Softplus, Tanh};
    pub use crate::conv::{
        AvgPool1d, AvgPool2d, Conv1d, Conv2d, GlobalAvgPool1d, GlobalAvgPool2d, MaxPool1d, MaxPool2d, Same,
        Valid, flatten, flatten_batch, flatten_mut, flatten_tile, output_len,
    };
    pub use crate::dense::Dense;
    pub use crate::kernel::{BATCH_TILE, batch_tile};
    pub use crate::layer::{Layer, LayerBatch, LayerInfo, LayerTrace};
    pub use crate::loss::{BinaryCrossEntropy, HalfSquaredError, SoftmaxCrossEntropy};
    pub use crate::network::{Network, Params, train_step_batch_unfused};
    pub use crate::quant::{QDense, QParams, QuantError, Range};
    pub use crate::scalar::Scalar;
    #[cfg(feature = "alloc")]
    pub use {crate::boxed::boxed_zeroed, alloc::boxed::Box};
}
