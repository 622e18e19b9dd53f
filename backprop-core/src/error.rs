//! What can go wrong with training data or a training step, said clearly.

use crate::network::ParamIndex;

/// Bad data, or a training step that went non-finite. Returned by the checked entry points
/// ([`Trainer`](crate::Trainer), [`validate_sample`](crate::validate_sample),
/// [`one_hot`](crate::one_hot)) instead of a silently wrong model.
///
/// Sample indices count in the data passed to the call that failed (the whole data set for
/// [`Trainer::epoch`](crate::Trainer::epoch), the batch for
/// [`Trainer::try_step_batch`](crate::Trainer::try_step_batch)); steps count the optimizer
/// steps of the [`Trainer`](crate::Trainer) from zero. When a step fails, the parameters and
/// the optimizer's state are those from before it.
///
/// ```
/// use backprop_core::TrainError;
/// use backprop_core::data::one_hot;
/// let err = one_hot::<f32, 10>(12).unwrap_err();
/// assert_eq!(err, TrainError::LabelOutOfRange { sample: 0, label: 12, classes: 10 });
/// assert_eq!(err.to_string(), "sample 0: class label 12 is out of range for 10 classes (0..=9)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum TrainError {
    /// An input value is infinite or NaN.
    NonFiniteInput {
        /// The sample.
        sample: usize,
        /// The input (feature) index within the sample.
        feature: usize,
        /// The value.
        value: f64,
    },
    /// A target value is infinite or NaN.
    NonFiniteTarget {
        /// The sample.
        sample: usize,
        /// The output index within the target.
        output: usize,
        /// The value.
        value: f64,
    },
    /// A class label is not below the number of classes.
    LabelOutOfRange {
        /// The sample.
        sample: usize,
        /// The label.
        label: usize,
        /// The number of classes (outputs).
        classes: usize,
    },
    /// A target value is outside what the loss accepts: negative for softmax cross-entropy,
    /// outside `[0, 1]` for binary cross-entropy.
    TargetOutOfRange {
        /// The sample.
        sample: usize,
        /// The output index within the target.
        output: usize,
        /// The value.
        value: f64,
        /// The loss, for example `"SoftmaxCrossEntropy"`.
        loss: &'static str,
    },
    /// A softmax cross-entropy target does not sum to one.
    NotADistribution {
        /// The sample.
        sample: usize,
        /// The sum of the target's values.
        sum: f64,
    },
    /// The loss of a step is infinite or NaN (computed before any parameter changed).
    NonFiniteLoss {
        /// The step.
        step: u64,
        /// The loss.
        loss: f64,
    },
    /// A gradient component of a step is infinite or NaN.
    NonFiniteGradient {
        /// The step.
        step: u64,
        /// The first such parameter.
        param: ParamIndex,
        /// Its gradient.
        value: f64,
    },
    /// The update of a step would make a parameter (or the optimizer's state for it) infinite or
    /// NaN, for example with too large a learning rate.
    NonFiniteUpdate {
        /// The step.
        step: u64,
        /// The first such parameter.
        param: ParamIndex,
    },
    /// The inputs, targets (or index order) have different lengths.
    LengthMismatch {
        /// Inputs.
        inputs: usize,
        /// Targets, or indices.
        targets: usize,
    },
}

impl core::fmt::Display for TrainError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::NonFiniteInput { sample, feature, value } => {
                write!(f, "sample {sample}: input {feature} is {value}, not a finite number")
            }
            Self::NonFiniteTarget { sample, output, value } => {
                write!(f, "sample {sample}: target {output} is {value}, not a finite number")
            }
            Self::LabelOutOfRange { sample, label, classes } => write!(
                f,
                "sample {sample}: class label {label} is out of range for {classes} classes (0..={})",
                classes.saturating_sub(1)
            ),
            Self::TargetOutOfRange { sample, output, value, loss } => {
                let range = if loss == "BinaryCrossEntropy" { "between 0 and 1" } else { "non-negative" };
                write!(f, "sample {sample}: target {output} is {value}; {loss} needs targets {range}")
            }
            Self::NotADistribution { sample, sum } => write!(
                f,
                "sample {sample}: the target sums to {sum}, not 1; SoftmaxCrossEntropy needs a probability distribution (a one-hot vector for a class label)"
            ),
            Self::NonFiniteLoss { step, loss } => {
                write!(f, "step {step}: the loss is {loss}; the parameters from before the step are kept")
            }
            Self::NonFiniteGradient { step, param, value } => write!(
                f,
                "step {step}: the gradient of {param} is {value}; the parameters from before the step are kept"
            ),
            Self::NonFiniteUpdate { step, param } => write!(
                f,
                "step {step}: the update would make {param} non-finite (learning rate too large?); the parameters from before the step are kept"
            ),
            Self::LengthMismatch { inputs, targets } => {
                write!(f, "{inputs} inputs but {targets} targets (or indices); they must pair up one to one")
            }
        }
    }
}

impl core::error::Error for TrainError {}
