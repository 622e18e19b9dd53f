//! The loop around the gradient: data checks, shuffled mini-batches, a checked trainer, metrics
//! and early stopping. Nothing here allocates: data sets are slices (or arrays) the caller owns.
//!
//! ```
//! use backprop::{network, Adam, EarlyStop, Init, Rng, Trainer};
//! use backprop::metrics::evaluate;
//! network! {
//!     /// XOR.
//!     #[loss(BinaryCrossEntropy)]
//!     pub struct Xor { input: 2, hidden: Dense<8, Tanh>, output: Dense<1, Sigmoid> }
//! }
//! let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
//! let targets = [[0.0], [1.0], [1.0], [0.0]];
//! let mut trainer = Trainer::new(Init::XavierUniform.network::<f64, Xor<f64>>(7), Adam::new(0.05)?);
//! let mut order = [0; 4];
//! let mut rng = Rng::new(7);
//! let mut stop = EarlyStop::at_loss(0.01);
//! for _ in 0..2000 {
//!     let stats = trainer.epoch::<2, _>(&inputs, &targets, &mut order, &mut rng, |_, _| {})?;
//!     if stop.update(stats.mean_loss).is_some() {
//!         break;
//!     }
//! }
//! assert_eq!(evaluate(&trainer.net, &inputs, &targets)?.accuracy, 1.0);
//! # Ok::<(), backprop::TrainError>(())
//! ```

mod batches;
mod divergence;
mod early_stop;
mod metrics;
mod trainer;

pub use batches::{Batches, batches};
pub use divergence::Divergence;
#[cfg(feature = "alloc")]
pub(crate) use divergence::Watch;
pub use early_stop::{EarlyStop, Stop};
pub use metrics::{
    Evaluation, accuracy, argmax, class_of, confusion_matrix, evaluate, mean_loss, predict, try_predict,
};
pub use trainer::{EpochStats, GATHER, Trainer};

use crate::Scalar;
use crate::error::TrainError;
use crate::network::Network;

/// A class label: an unsigned integer type.
pub trait Label: Copy {
    /// The label as an index; `usize::MAX` if it does not fit (so it is out of range for any
    /// number of classes, never wrapped into range).
    fn index(self) -> usize;
}

macro_rules! impl_label {
    ($($t:ty),*) => {$(
        impl Label for $t {
            #[inline]
            fn index(self) -> usize {
                usize::try_from(self).unwrap_or(usize::MAX)
            }
        }
    )*};
}
impl_label!(u8, u16, u32, u64, usize);

/// The one-hot target of a class label among `K` classes; an error if `label >= K`.
///
/// ```
/// use backprop_core::data::one_hot;
/// assert_eq!(one_hot::<f32, 4>(2), Ok([0.0, 0.0, 1.0, 0.0]));
/// assert!(one_hot::<f32, 4>(4).is_err());
/// ```
pub fn one_hot<T: Scalar, const K: usize>(label: usize) -> Result<[T; K], TrainError> {
    if label >= K {
        return Err(TrainError::LabelOutOfRange { sample: 0, label, classes: K });
    }
    let mut t = [T::ZERO; K];
    t[label] = T::ONE;
    Ok(t)
}

/// Writes the one-hot target of every label into `targets`; the error names the first sample
/// whose label is out of range.
///
/// ```
/// use backprop_core::TrainError;
/// use backprop_core::data::one_hot_all;
/// let mut targets = [[0.0f32; 3]; 3];
/// assert_eq!(one_hot_all(&[2u8, 0, 1], &mut targets), Ok(()));
/// assert_eq!(targets[0], [0.0, 0.0, 1.0]);
/// let err = one_hot_all(&[0u8, 3, 1], &mut targets).unwrap_err();
/// assert_eq!(err, TrainError::LabelOutOfRange { sample: 1, label: 3, classes: 3 });
/// ```
pub fn one_hot_all<T: Scalar, L: Label, const K: usize>(
    labels: &[L],
    targets: &mut [[T; K]],
) -> Result<(), TrainError> {
    if labels.len() != targets.len() {
        return Err(TrainError::LengthMismatch { inputs: labels.len(), targets: targets.len() });
    }
    for (sample, (&label, t)) in labels.iter().zip(targets).enumerate() {
        *t = one_hot(label.index()).map_err(|_| TrainError::LabelOutOfRange {
            sample,
            label: label.index(),
            classes: K,
        })?;
    }
    Ok(())
}

/// Checks one sample for the network `N`: every input and target value finite, and the target
/// valid for the network's loss (a probability distribution for softmax cross-entropy, values in
/// `[0, 1]` for binary cross-entropy). `sample` is the index reported in the error.
///
/// The sum of a softmax cross-entropy target must be within `√ε` of one (`3.5e-4` in `f32`,
/// `1.5e-8` in `f64`): enough for soft labels computed in the type, far too tight for a target
/// that is not a distribution at all.
///
/// ```
/// use backprop::{network, TrainError};
/// use backprop::data::validate_sample;
/// network! {
///     /// Three classes.
///     #[loss(SoftmaxCrossEntropy)]
///     pub struct Classes { input: 2, output: Dense<3, Softmax> }
/// }
/// type C = Classes<f32>;
/// assert_eq!(validate_sample::<f32, C>(0, &[0.5, 1.0], &[0.0, 1.0, 0.0]), Ok(()));
/// assert!(matches!(
///     validate_sample::<f32, C>(4, &[f32::NAN, 1.0], &[0.0, 1.0, 0.0]),
///     Err(TrainError::NonFiniteInput { sample: 4, feature: 0, .. })
/// ));
/// assert!(matches!(
///     validate_sample::<f32, C>(0, &[0.5, 1.0], &[0.0, 2.0, 0.0]),
///     Err(TrainError::NotADistribution { sample: 0, sum: 2.0 })
/// ));
/// ```
pub fn validate_sample<T: Scalar, N: Network<T>>(
    sample: usize,
    input: &N::Input,
    target: &N::Output,
) -> Result<(), TrainError> {
    if let Some((feature, &x)) = input.as_ref().iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(TrainError::NonFiniteInput { sample, feature, value: x.to_f64() });
    }
    let target = target.as_ref();
    if let Some((output, &t)) = target.iter().enumerate().find(|(_, t)| !t.is_finite()) {
        return Err(TrainError::NonFiniteTarget { sample, output, value: t.to_f64() });
    }
    let out_of_range = |output: usize, t: T| TrainError::TargetOutOfRange {
        sample,
        output,
        value: t.to_f64(),
        loss: N::LOSS,
    };
    match N::LOSS {
        "SoftmaxCrossEntropy" => {
            if let Some((output, &t)) = target.iter().enumerate().find(|(_, t)| **t < T::ZERO) {
                return Err(out_of_range(output, t));
            }
            let sum: f64 = target.iter().map(|t| t.to_f64()).sum();
            if libm::fabs(sum - 1.0) > libm::sqrt(T::EPSILON.to_f64()) {
                return Err(TrainError::NotADistribution { sample, sum });
            }
        }
        "BinaryCrossEntropy" => {
            if let Some((output, &t)) = target.iter().enumerate().find(|(_, t)| **t < T::ZERO || **t > T::ONE)
            {
                return Err(out_of_range(output, t));
            }
        }
        _ => {}
    }
    Ok(())
}

/// [`validate_sample`] for every sample of a data set; the error names the first bad sample.
pub fn validate<T: Scalar, N: Network<T>>(
    inputs: &[N::Input],
    targets: &[N::Output],
) -> Result<(), TrainError> {
    if inputs.len() != targets.len() {
        return Err(TrainError::LengthMismatch { inputs: inputs.len(), targets: targets.len() });
    }
    for (sample, (x, t)) in inputs.iter().zip(targets).enumerate() {
        validate_sample::<T, N>(sample, x, t)?;
    }
    Ok(())
}

/// Sets `order` to `0, 1, 2, …`.
pub fn fill_indices(order: &mut [usize]) {
    for (i, o) in order.iter_mut().enumerate() {
        *o = i;
    }
}
