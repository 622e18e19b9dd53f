//! The checked trainer: a network, its optimizer and a gradient buffer.

use crate::Scalar;
use crate::error::TrainError;
use crate::network::{Network, ParamIndex, locate_param};
use crate::optim::Optimizer;
use crate::rng::{RandomSource, shuffle};

use super::{batches, fill_indices, validate, validate_sample};

/// What one [`Trainer::epoch`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochStats {
    /// The mean per-sample loss over the epoch, each sample's loss taken before the step it was
    /// part of (the running training loss, as a PyTorch loop usually prints it); NaN for an
    /// empty data set.
    pub mean_loss: f64,
    /// Samples seen.
    pub samples: usize,
    /// Optimizer steps taken: the full batches, and one for the remainder if any.
    pub steps: u64,
}

/// A network, its optimizer and a gradient buffer: the checked way to train.
///
/// Every step checks what it is given and what it computes: a non-finite input, a target the
/// loss cannot take, a non-finite loss or gradient, or an update that would make a parameter
/// non-finite is returned as a [`TrainError`] that says which sample or which step and parameter,
/// and the network and optimizer are left as they were before the step.
///
/// The trainer owns three networks' worth of values (network, gradient, and the optimizer's
/// state; Adam adds two): for large networks, build it in a `Box` or a `static`.
///
/// ```
/// use backprop::{network, Init, Sgd, TrainError, Trainer};
/// network! {
///     /// A line.
///     #[loss(HalfSquaredError)]
///     pub struct Line { input: 1, out: Dense<1, Identity> }
/// }
/// let mut trainer = Trainer::new(Init::XavierUniform.network::<f64, Line<f64>>(1), Sgd::new(0.1));
/// assert!(trainer.try_step(&[1.0], &[2.0]).is_ok());
/// let before = trainer.net.clone();
/// let err = trainer.try_step(&[f64::INFINITY], &[2.0]).unwrap_err();
/// assert!(matches!(err, TrainError::NonFiniteInput { sample: 0, feature: 0, .. }));
/// // A step whose update overflows: the loss is finite, the new weight would not be.
/// trainer.optimizer.lr = 1e300;
/// let err = trainer.try_step(&[1e10], &[-1e10]).unwrap_err();
/// assert!(matches!(err, TrainError::NonFiniteUpdate { step: 1, .. }), "{err}");
/// assert_eq!(trainer.net, before);
/// assert_eq!(trainer.steps(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct Trainer<T: Scalar, N: Network<T>, O: Optimizer<T, N>> {
    /// The network being trained.
    pub net: N,
    /// Its optimizer.
    pub optimizer: O,
    pub(crate) grads: N,
    pub(crate) steps: u64,
    pub(crate) _scalar: core::marker::PhantomData<T>,
}

impl<T: Scalar, N: Network<T>, O: Optimizer<T, N>> Trainer<T, N, O> {
    /// A trainer for `net` with `optimizer`.
    pub fn new(net: N, optimizer: O) -> Self {
        Self { net, optimizer, grads: N::zeroed(), steps: 0, _scalar: core::marker::PhantomData }
    }

    /// Optimizer steps taken so far (failed steps do not count).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The gradient of the last step (the mean over its batch).
    pub fn grads(&self) -> &N {
        &self.grads
    }

    /// The network and optimizer, giving up the trainer.
    pub fn into_parts(self) -> (N, O) {
        (self.net, self.optimizer)
    }

    /// One step on one sample; returns its loss before the step.
    pub fn try_step(&mut self, input: &N::Input, target: &N::Output) -> Result<T, TrainError> {
        self.try_step_batch::<1>(core::array::from_ref(input), core::array::from_ref(target))
    }

    /// One step on a mini-batch of `B` samples, with their mean gradient; returns their mean
    /// loss before the step.
    pub fn try_step_batch<const B: usize>(
        &mut self,
        inputs: &[N::Input; B],
        targets: &[N::Output; B],
    ) -> Result<T, TrainError> {
        for (sample, (x, t)) in inputs.iter().zip(targets).enumerate() {
            validate_sample::<T, N>(sample, x, t)?;
        }
        let loss = self.net.backward_batch(inputs, targets, &mut self.grads);
        self.apply(loss)
    }

    /// One step on the samples `indices` of a data set, whatever their number (the mean gradient
    /// over them, accumulated sample by sample); for a batch size known only at run time, or the
    /// last partial batch of an epoch. Sample indices in errors are indices into the data set.
    ///
    /// # Panics
    ///
    /// When an index is out of bounds.
    pub fn try_step_indices(
        &mut self,
        inputs: &[N::Input],
        targets: &[N::Output],
        indices: &[usize],
    ) -> Result<T, TrainError> {
        for &i in indices {
            validate_sample::<T, N>(i, &inputs[i], &targets[i])?;
        }
        self.step_indices_unchecked(inputs, targets, indices)
    }

    fn step_indices_unchecked(
        &mut self,
        inputs: &[N::Input],
        targets: &[N::Output],
        indices: &[usize],
    ) -> Result<T, TrainError> {
        self.grads.set_zero();
        let mut trace = N::new_trace();
        let mut total = T::ZERO;
        for &i in indices {
            self.net.forward_trace(&inputs[i], &mut trace);
            total += self.net.backward_accumulate(&mut trace, &targets[i], &mut self.grads);
        }
        if indices.is_empty() {
            return Ok(T::ZERO);
        }
        let scale = T::ONE / T::from_f64(indices.len() as f64);
        self.grads.scale(scale);
        self.apply(total * scale)
    }

    /// The checks and the update that follow a backward pass over a batch with mean `loss`.
    fn apply(&mut self, loss: T) -> Result<T, TrainError> {
        let step = self.steps;
        if !loss.is_finite() {
            return Err(TrainError::NonFiniteLoss { step, loss: loss.to_f64() });
        }
        if let Some(i) = self.grads.first_non_finite() {
            return Err(TrainError::NonFiniteGradient {
                step,
                param: param_index::<T, N>(i),
                value: self.grads.params()[i].to_f64(),
            });
        }
        self.optimizer
            .try_step(&mut self.net, &self.grads)
            .map_err(|i| TrainError::NonFiniteUpdate { step, param: param_index::<T, N>(i) })?;
        self.steps += 1;
        Ok(loss)
    }

    /// One epoch: checks the whole data set first ([`validate`]), sets `order` to a fresh
    /// shuffle of `0..n` drawn from `rng`, then takes one step per mini-batch of `B` samples
    /// and one on the remaining `n % B` samples, if any. After each step, `on_step(samples
    /// seen so far, mean loss of the step)` is called (for a progress bar).
    ///
    /// `order` must have one entry per sample; its contents on entry do not matter.
    pub fn epoch<const B: usize, R: RandomSource + ?Sized>(
        &mut self,
        inputs: &[N::Input],
        targets: &[N::Output],
        order: &mut [usize],
        rng: &mut R,
        mut on_step: impl FnMut(usize, T),
    ) -> Result<EpochStats, TrainError> {
        validate::<T, N>(inputs, targets)?;
        if order.len() != inputs.len() {
            return Err(TrainError::LengthMismatch { inputs: inputs.len(), targets: order.len() });
        }
        fill_indices(order);
        shuffle(order, rng);
        let (mut total, mut seen, mut steps) = (0.0, 0, 0);
        let mut it = batches::<_, _, B>(inputs, targets, order)?;
        // Each batch is gathered once, here, rather than taken from the iterator, which returns it
        // by value through an `Option`: for 32 MNIST digits that put three 100 KB copies in this
        // frame, and the example then needed a 384 KiB stack.
        while let Some(indices) = it.advance() {
            // Filled in place (`array::from_fn` built a second copy and moved it).
            let mut xs = [inputs[indices[0]]; B];
            let mut ts = [targets[indices[0]]; B];
            for ((x, t), &i) in xs.iter_mut().zip(&mut ts).zip(indices) {
                (*x, *t) = (inputs[i], targets[i]);
            }
            let loss = self.net.backward_batch(&xs, &ts, &mut self.grads);
            let loss = self.apply(loss)?;
            total += loss.to_f64() * B as f64;
            seen += B;
            steps += 1;
            on_step(seen, loss);
        }
        let rest = it.remainder();
        if !rest.is_empty() {
            let loss = self.step_indices_unchecked(inputs, targets, rest)?;
            total += loss.to_f64() * rest.len() as f64;
            seen += rest.len();
            steps += 1;
            on_step(seen, loss);
        }
        Ok(EpochStats { mean_loss: total / seen as f64, samples: seen, steps })
    }
}

/// The layer, row and column of flat parameter `i` of `N`.
fn param_index<T: Scalar, N: Network<T>>(i: usize) -> ParamIndex {
    // `i < N::LEN`, which the layers add up to, so the fallback is never taken.
    locate_param(N::LAYERS, i).unwrap_or(ParamIndex::Bias { layer: "?", row: i })
}
