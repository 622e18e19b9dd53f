//! What can go wrong with training data, an optimizer's settings, a random source or a training
//! step, said clearly.
//!
//! Every error is a small `Copy` value that implements [`Display`](core::fmt::Display) and
//! [`Error`](core::error::Error), and allocates nothing.

use crate::layer::ParamIndex;

/// An optimizer setting, as named in a [`SettingError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setting {
    /// The learning rate `lr`: finite and `> 0`.
    LearningRate,
    /// The momentum `μ`: in `[0, 1)`; in `(0, 1)` with Nesterov momentum.
    Momentum,
    /// The dampening `τ`: in `[0, 1]`; exactly `0` with Nesterov momentum.
    Dampening,
    /// Adam's first-moment decay `β₁`: in `[0, 1)`.
    Beta1,
    /// Adam's second-moment decay `β₂`: in `[0, 1)`.
    Beta2,
    /// Adam's `ε`: finite and `> 0`.
    Eps,
    /// The weight decay `λ`: finite and `≥ 0`.
    WeightDecay,
}

impl Setting {
    /// The setting's name and symbol, for example `"learning rate lr"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::LearningRate => "learning rate lr",
            Self::Momentum => "momentum μ",
            Self::Dampening => "dampening τ",
            Self::Beta1 => "β₁ (beta1)",
            Self::Beta2 => "β₂ (beta2)",
            Self::Eps => "ε (eps)",
            Self::WeightDecay => "weight decay λ",
        }
    }

    /// The values the setting accepts, in words (without Nesterov's stricter ranges).
    pub const fn range(self) -> &'static str {
        match self {
            Self::LearningRate | Self::Eps => "finite and > 0",
            Self::Momentum | Self::Beta1 | Self::Beta2 => "in [0, 1)",
            Self::Dampening => "in [0, 1]",
            Self::WeightDecay => "finite and >= 0",
        }
    }

    /// Whether `value` is in [`range`](Self::range). NaN never is.
    ///
    /// ```
    /// use backprop_core::error::Setting;
    /// assert!(Setting::Beta2.accepts(0.999));
    /// assert!(!Setting::Beta2.accepts(1.0));
    /// assert!(!Setting::LearningRate.accepts(f64::NAN));
    /// ```
    pub const fn accepts(self, value: f64) -> bool {
        match self {
            Self::LearningRate | Self::Eps => value.is_finite() && value > 0.0,
            Self::Momentum | Self::Beta1 | Self::Beta2 => value >= 0.0 && value < 1.0,
            Self::Dampening => value >= 0.0 && value <= 1.0,
            Self::WeightDecay => value.is_finite() && value >= 0.0,
        }
    }

    /// `Ok(value)` if the setting accepts it, else the error that names the setting and range.
    ///
    /// ```
    /// use backprop_core::error::Setting;
    /// let err = Setting::LearningRate.check(-0.5).unwrap_err();
    /// assert_eq!(err.to_string(), "learning rate lr = -0.5 is out of range: it must be finite and > 0");
    /// ```
    pub const fn check(self, value: f64) -> Result<f64, SettingError> {
        if self.accepts(value) {
            Ok(value)
        } else {
            Err(SettingError { setting: self, value, expected: self.range() })
        }
    }

    /// `value` if the setting accepts it; otherwise a panic, which in a `const` is a compile-time
    /// error. For settings written as constants:
    ///
    /// ```
    /// use backprop_core::{Sgd, error::Setting};
    /// const LR: f64 = Setting::LearningRate.valid(0.05);
    /// let sgd = Sgd::new(LR).unwrap(); // cannot fail: LR was checked when compiled
    /// # assert_eq!(sgd.lr, 0.05);
    /// ```
    ///
    /// ```compile_fail
    /// use backprop_core::error::Setting;
    /// const LR: f64 = Setting::LearningRate.valid(-0.05); // error: the learning rate is out of range
    /// ```
    ///
    /// # Panics
    ///
    /// When the value is out of range (at compile time in a `const`).
    #[track_caller]
    pub const fn valid(self, value: f64) -> f64 {
        assert!(self.accepts(value), "an optimizer setting is out of range (see Setting::range)");
        value
    }
}

/// An optimizer setting out of its range: returned by the optimizers' constructors and
/// builder methods ([`Sgd::new`](crate::Sgd::new), [`Adam::betas`](crate::Adam::betas), …), by
/// [`Optimizer::set_learning_rate`](crate::Optimizer::set_learning_rate), and (as
/// [`TrainError::InvalidSetting`]) by a [`Trainer`](crate::Trainer) step when a setting was
/// changed through a public field.
///
/// ```
/// use backprop_core::{Sgd, error::{Setting, SettingError}};
/// let err = Sgd::<f64>::new(-0.5).unwrap_err();
/// assert_eq!(err.setting, Setting::LearningRate);
/// assert_eq!(err.to_string(), "learning rate lr = -0.5 is out of range: it must be finite and > 0");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SettingError {
    /// The setting.
    pub setting: Setting,
    /// The value given (converted to `f64`).
    pub value: f64,
    /// The values it accepts, in words: [`Setting::range`], or a stricter range where another
    /// setting narrows it (Nesterov momentum).
    pub expected: &'static str,
}

impl core::fmt::Display for SettingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} = {} is out of range: it must be {}", self.setting.name(), self.value, self.expected)
    }
}

impl core::error::Error for SettingError {}

/// A [`RandomSource`](crate::RandomSource) that broke its contract.
///
/// ```
/// use backprop_core::data::shuffle;
/// use backprop_core::{RandomSource, error::RngError};
/// /// A source whose `below` ignores its bound.
/// struct Broken;
/// impl RandomSource for Broken {
///     fn next_u64(&mut self) -> u64 { 0 }
///     fn below(&mut self, _n: usize) -> usize { 7 }
/// }
/// let err = shuffle(&mut [1, 2, 3], &mut Broken).unwrap_err();
/// assert_eq!(err, RngError::OutOfRange { value: 7, bound: 3 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RngError {
    /// [`below(bound)`](crate::RandomSource::below) returned `value`, which is not below `bound`.
    OutOfRange {
        /// The value returned.
        value: usize,
        /// The exclusive bound asked for.
        bound: usize,
    },
}

impl core::fmt::Display for RngError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::OutOfRange { value, bound } => {
                write!(f, "the random source's below({bound}) returned {value}, which is not below {bound}")
            }
        }
    }
}

impl core::error::Error for RngError {}

/// Bad data, or a training step that went non-finite. Returned by the checked entry points
/// ([`Trainer`](crate::Trainer), [`validate_sample`](crate::data::validate_sample),
/// [`one_hot`](crate::data::one_hot)) instead of a silently wrong model.
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
    /// An optimizer setting is out of range (set through a public field after construction, which
    /// the constructors would have refused). Checked before every [`Trainer`](crate::Trainer)
    /// step; nothing changed.
    InvalidSetting(SettingError),
    /// A sample index past the end of the data set.
    IndexOutOfRange {
        /// The index.
        index: usize,
        /// Samples in the data set.
        samples: usize,
    },
    /// The loss has been far above its best in several recent steps: training is diverging (see
    /// [`Divergence`](crate::Divergence) for the thresholds). The step was not taken.
    Diverged {
        /// The step that would have been taken.
        step: u64,
        /// Its loss (the mean over its batch).
        loss: f64,
        /// The best smoothed loss so far, which the threshold is a multiple of.
        best: f64,
        /// Recent steps whose loss was above the threshold, this one included.
        steps_above: u32,
    },
    /// A step on no samples ([`Trainer::try_step_indices`](crate::Trainer::try_step_indices) with
    /// no indices): there is no gradient, so no step is taken.
    EmptyBatch,
    /// The random source broke its contract (while shuffling an epoch).
    Random(RngError),
}

impl From<SettingError> for TrainError {
    fn from(e: SettingError) -> Self {
        Self::InvalidSetting(e)
    }
}

impl From<RngError> for TrainError {
    fn from(e: RngError) -> Self {
        Self::Random(e)
    }
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
            Self::InvalidSetting(e) => write!(f, "optimizer setting: {e}; no step was taken"),
            Self::IndexOutOfRange { index, samples } => {
                write!(
                    f,
                    "sample index {index} is past the end of a data set of {samples} samples; no step was taken"
                )
            }
            Self::Diverged { step, loss, best, steps_above } => write!(
                f,
                "step {step}: training is diverging: the loss is {loss}, and {steps_above} recent steps had a loss far above the best (smoothed) loss of {best} (learning rate too large?); the parameters from before the step are kept"
            ),
            Self::EmptyBatch => write!(f, "a step on no samples: there is no gradient, so no step was taken"),
            Self::Random(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for TrainError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::InvalidSetting(e) => Some(e),
            Self::Random(e) => Some(e),
            _ => None,
        }
    }
}
