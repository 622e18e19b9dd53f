//! Early stopping on a target loss or a plateau.

/// Why [`EarlyStop`] says to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stop {
    /// The loss reached the target.
    TargetReached,
    /// The loss has not improved by `min_delta` for `patience` epochs.
    Plateau,
    /// The loss is NaN or infinite: training has broken down (more epochs cannot help).
    NonFiniteLoss,
}

/// Early stopping: on a target loss, and optionally when the loss stops improving. A loss that
/// is NaN or infinite always stops ([`Stop::NonFiniteLoss`]), whatever the settings.
///
/// ```
/// use backprop_core::{EarlyStop, Stop};
/// let mut stop = EarlyStop::at_loss(0.1).patience(2, 0.0);
/// assert_eq!(stop.update(0.5), None);
/// assert_eq!(stop.update(0.6), None); // worse once
/// assert_eq!(stop.update(0.5), Some(Stop::Plateau)); // not better than 0.5 twice
/// let mut stop = EarlyStop::at_loss(0.1);
/// assert_eq!(stop.update(0.09), Some(Stop::TargetReached));
/// assert_eq!(EarlyStop::never().update(f64::NAN), Some(Stop::NonFiniteLoss));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EarlyStop {
    /// Stop when the loss is at or below this.
    pub target_loss: f64,
    /// Stop after this many epochs without improvement (`0`: never).
    pub patience: usize,
    /// The decrease that counts as an improvement.
    pub min_delta: f64,
    best: f64,
    waited: usize,
}

impl EarlyStop {
    /// Stops when the loss reaches `target_loss`.
    pub const fn at_loss(target_loss: f64) -> Self {
        Self { target_loss, patience: 0, min_delta: 0.0, best: f64::INFINITY, waited: 0 }
    }

    /// Never stops (for a loop that should run all its epochs).
    pub const fn never() -> Self {
        Self::at_loss(f64::NEG_INFINITY)
    }

    /// Also stops after `patience` epochs in which the loss did not go below the best so far
    /// minus `min_delta`.
    pub const fn patience(self, patience: usize, min_delta: f64) -> Self {
        Self { patience, min_delta, ..self }
    }

    /// The best loss seen.
    pub const fn best(&self) -> f64 {
        self.best
    }

    /// Records an epoch's loss; `Some` when training should stop: the loss is at or below the
    /// target, or has not improved for `patience` epochs, or is NaN or infinite (a non-finite
    /// loss is not recorded: [`best`](Self::best) and the patience count are left as they were).
    pub fn update(&mut self, loss: f64) -> Option<Stop> {
        if !loss.is_finite() {
            return Some(Stop::NonFiniteLoss);
        }
        if loss <= self.target_loss {
            return Some(Stop::TargetReached);
        }
        if loss < self.best - self.min_delta {
            self.best = loss;
            self.waited = 0;
        } else {
            self.best = self.best.min(loss);
            self.waited += 1;
            if self.patience > 0 && self.waited >= self.patience {
                return Some(Stop::Plateau);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_finite_loss_stops_and_is_not_recorded() {
        for loss in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut stop = EarlyStop::at_loss(0.1).patience(1000, 0.0);
            assert_eq!(stop.update(0.5), None);
            assert_eq!(stop.update(loss), Some(Stop::NonFiniteLoss), "{loss}");
            assert_eq!(stop.best(), 0.5);
            assert_eq!(stop.update(0.4), None, "the patience count was not advanced");
        }
        // Even with no target and no patience.
        assert_eq!(EarlyStop::never().update(f64::NAN), Some(Stop::NonFiniteLoss));
    }
}
