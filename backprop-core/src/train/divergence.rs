//! Telling a diverging run from a noisy one: the loss far above its best for several steps.

use crate::error::TrainError;

/// When a [`Trainer`](crate::Trainer) calls training divergent, and stops with
/// [`TrainError::Diverged`] instead of taking the step.
///
/// The trainer keeps a smoothed loss (an exponential moving average of the steps' losses, each
/// step weighing [`SMOOTHING`](Self::SMOOTHING)) and the lowest value it has taken, `best`. A
/// step's loss is *above the threshold* when it exceeds `factor · max(best, floor)`; when
/// `patience` of the last `window` steps (this one included) are above it, the step is refused.
/// The defaults ([`Divergence::DEFAULT`], on in every new trainer): `factor = 1e3`,
/// `floor = 1e-3`, `patience = 5`, `window = 10`. So a run whose smoothed loss reached 0.3 is
/// stopped at the fifth step in ten with a loss above 300; one that fits its data almost exactly
/// (best near zero), at the fifth above 1. A few outlier batches, or the noise of one-sample
/// steps, do not stop it; a run whose steps alternate between a loss near zero and a huge one
/// (a saturated classifier thrown from side to side) does.
///
/// Only the losses of steps taken count. The loss's scale matters only through `floor`: with a
/// loss that is legitimately much smaller than `1e-3` at the start, lower `floor`. Set
/// [`Trainer::divergence`](crate::Trainer::divergence) to `None` to turn the check off, and
/// call [`Trainer::reset_divergence`](crate::Trainer::reset_divergence) to forget the best loss
/// (when the data or the learning rate change on purpose). A `factor` or `floor` that is NaN
/// never finds a divergence; a `patience` of `0` counts as `1`, a `window` is at most 64 steps
/// and at least `patience`.
///
/// ```
/// use backprop::{network, Divergence, Init, Sgd, TrainError, Trainer};
/// network! {
///     /// A line.
///     #[loss(HalfSquaredError)]
///     pub struct Line { input: 1, out: Dense<1, Identity> }
/// }
/// // A learning rate far too large: each step multiplies the error by about -2e3.
/// let net = Init::XavierUniform.network::<f64, Line<f64>>(1);
/// let mut trainer = Trainer::new(net, Sgd::new(1e3)?);
/// assert_eq!(trainer.divergence, Some(Divergence::DEFAULT));
/// let err = loop {
///     if let Err(e) = trainer.try_step(&[1.0], &[2.0]) {
///         break e;
///     }
/// };
/// assert!(matches!(err, TrainError::Diverged { step: 5, steps_above: 5, .. }), "{err}");
/// # Ok::<(), TrainError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Divergence {
    /// How many times the best smoothed loss a step's loss must exceed. Default `1e3`.
    pub factor: f64,
    /// The smallest best loss the threshold is taken from (so that a near-perfect fit does not
    /// make every small rise a divergence). Default `1e-3`.
    pub floor: f64,
    /// Steps above the threshold, among the last `window`, that make the error. Default `5`.
    pub patience: u32,
    /// The steps looked back on (at most 64). Default `10`.
    pub window: u32,
}

impl Divergence {
    /// `factor = 1e3`, `floor = 1e-3`, `patience = 5`, `window = 10`.
    pub const DEFAULT: Self = Self { factor: 1e3, floor: 1e-3, patience: 5, window: 10 };

    /// The weight of each step's loss in the smoothed loss: `s ← s + 0.1 (loss - s)`, starting
    /// from the first step's loss.
    pub const SMOOTHING: f64 = 0.1;
}

impl Default for Divergence {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What the trainer remembers of past losses for the divergence check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Watch {
    /// The smoothed loss; NaN before the first step.
    smoothed: f64,
    /// Its lowest value so far; infinite before the first step.
    best: f64,
    /// Bit `k` set: the step `k` steps before the last was above the threshold.
    above: u64,
}

impl Watch {
    /// Nothing seen.
    pub(crate) const NEW: Self = Self { smoothed: f64::NAN, best: f64::INFINITY, above: 0 };

    /// The state after a step of finite loss `loss` (step number `step`), or the error if it makes
    /// `patience` of the last `window` steps above the threshold.
    pub(crate) fn observe(self, settings: &Divergence, step: u64, loss: f64) -> Result<Self, TrainError> {
        let threshold = settings.factor * self.best.max(settings.floor);
        let above = (self.above << 1) | u64::from(loss > threshold);
        let patience = settings.patience.max(1);
        let window = settings.window.clamp(patience.min(64), 64);
        let recent = if window >= 64 { above } else { above & ((1u64 << window) - 1) };
        let steps_above = recent.count_ones();
        if loss > threshold && steps_above >= patience {
            return Err(TrainError::Diverged { step, loss, best: self.best, steps_above });
        }
        let smoothed = if self.smoothed.is_nan() {
            loss
        } else {
            self.smoothed + Divergence::SMOOTHING * (loss - self.smoothed)
        };
        Ok(Self { smoothed, best: self.best.min(smoothed), above })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(settings: &Divergence, losses: impl IntoIterator<Item = f64>) -> Result<Watch, TrainError> {
        losses
            .into_iter()
            .enumerate()
            .try_fold(Watch::NEW, |w, (step, loss)| w.observe(settings, step as u64, loss))
    }

    #[test]
    fn noise_and_outliers_are_not_divergence() {
        let d = Divergence::DEFAULT;
        // One-sample steps: mostly tiny losses, a large one now and then.
        let noisy = (0..10_000).map(|i| if i % 7 == 0 { 15.0 } else { 1e-4 });
        assert!(run(&d, noisy).is_ok());
        // Four outliers in a row far above the best are not five, nor four in every ten steps.
        let spikes = (0..100).map(|i| if (50..54).contains(&i) { 1e9 } else { 0.3 });
        assert!(run(&d, spikes).is_ok());
        let spikes = (0..1000).map(|i| if i > 20 && i % 10 < 4 { 1e9 } else { 0.3 });
        assert!(run(&d, spikes).is_ok());
        // A near-perfect fit that rises a thousandfold stays below the floor's threshold of 1.
        assert!(run(&d, (0..100).map(|i| if i < 50 { 1e-9 } else { 1e-6 })).is_ok());
    }

    #[test]
    fn a_loss_that_keeps_growing_is() {
        let d = Divergence::DEFAULT;
        // Powers of ten by multiplication (exact), not `powi` (which Miri perturbs in the last bits).
        let growing = core::iter::successors(Some(0.5f64), |x| Some(x * 10.0)).take(100);
        let err = run(&d, growing).unwrap_err();
        // Best 0.5 (the first loss): threshold 500; losses 5e3, 5e4, ... from step 4 on.
        assert_eq!(err, TrainError::Diverged { step: 8, loss: 5e7, best: 0.5, steps_above: 5 });
        #[cfg(feature = "std")]
        assert!(std::string::ToString::to_string(&err).starts_with("step 8: training is diverging"), "{err}");
        // Turned down: patience 0 counts as 1; a NaN factor never fires.
        let eager = Divergence { patience: 0, ..d };
        assert!(matches!(run(&eager, [1.0, 2e3]), Err(TrainError::Diverged { step: 1, .. })));
        let off = Divergence { factor: f64::NAN, ..d };
        assert!(run(&off, core::iter::successors(Some(1.0f64), |x| Some(x * 10.0)).take(100)).is_ok());
        // Steps that alternate between a perfect fit and a huge loss: the fifth huge one in ten.
        let alternating = (0..100).map(|i| if i % 2 == 1 { 1e30 } else { 0.0 });
        let alternating = core::iter::once(0.7).chain(alternating);
        assert!(matches!(run(&d, alternating), Err(TrainError::Diverged { step: 10, steps_above: 5, .. })));
    }
}
