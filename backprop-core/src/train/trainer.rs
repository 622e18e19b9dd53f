//! The checked trainer: a network, its optimizer and a gradient buffer.

use crate::Scalar;
use crate::error::TrainError;
use crate::layer::{ParamIndex, locate_param};
use crate::network::Network;
use crate::optim::Optimizer;
use crate::rng::{RandomSource, shuffle};

use super::divergence::{Divergence, Watch};
use super::{batches, fill_indices, validate, validate_sample};

/// The most samples [`Trainer::epoch`] copies onto the stack at a time to make a mini-batch, whatever
/// its batch size: [`BATCH_TILE`](crate::kernel::BATCH_TILE), the tile the batched kernels work in.
pub const GATHER: usize = crate::kernel::BATCH_TILE;

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
/// loss cannot take, a non-finite loss or gradient, an optimizer setting out of range, a loss that
/// has been diverging (see [`Divergence`], on by default), or an update that would make a
/// parameter non-finite is returned as a [`TrainError`] that says which sample or which step and
/// parameter, and the network and optimizer are left as they were before the step.
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
/// let mut trainer = Trainer::new(Init::XavierUniform.network::<f64, Line<f64>>(1), Sgd::new(0.1)?);
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
/// // A setting written through a field is checked before the next step.
/// trainer.optimizer.lr = -0.1;
/// assert!(matches!(trainer.try_step(&[1.0], &[2.0]), Err(TrainError::InvalidSetting(_))));
/// # Ok::<(), TrainError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Trainer<T: Scalar, N: Network<T>, O: Optimizer<T, N>> {
    /// The network being trained.
    pub net: N,
    /// Its optimizer.
    pub optimizer: O,
    /// When a step is refused as diverging ([`TrainError::Diverged`]); `None` turns the check
    /// off. Default [`Divergence::DEFAULT`].
    pub divergence: Option<Divergence>,
    pub(crate) grads: N,
    pub(crate) steps: u64,
    pub(crate) watch: Watch,
    pub(crate) _scalar: core::marker::PhantomData<T>,
}

impl<T: Scalar, N: Network<T>, O: Optimizer<T, N>> Trainer<T, N, O> {
    /// A trainer for `net` with `optimizer`, with the divergence check on
    /// ([`Divergence::DEFAULT`]).
    pub fn new(net: N, optimizer: O) -> Self {
        Self {
            net,
            optimizer,
            divergence: Some(Divergence::DEFAULT),
            grads: N::zeroed(),
            steps: 0,
            watch: Watch::NEW,
            _scalar: core::marker::PhantomData,
        }
    }

    /// Forgets the losses seen by the divergence check (its best loss and its count of steps
    /// above the threshold), as in a new trainer: after a change of data or of learning rate
    /// that is meant to raise the loss.
    pub fn reset_divergence(&mut self) {
        self.watch = Watch::NEW;
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
    /// loss before the step. `B = 0` does not compile:
    ///
    /// ```compile_fail
    /// use backprop::{network, Init, Sgd, Trainer};
    /// network! {
    ///     /// A line.
    ///     #[loss(HalfSquaredError)]
    ///     pub struct Line { input: 1, out: Dense<1, Identity> }
    /// }
    /// let mut trainer = Trainer::new(Init::XavierUniform.network::<f64, Line<f64>>(1), Sgd::new(0.1).unwrap());
    /// trainer.try_step_batch::<0>(&[], &[]); // error: a batch of zero samples
    /// ```
    pub fn try_step_batch<const B: usize>(
        &mut self,
        inputs: &[N::Input; B],
        targets: &[N::Output; B],
    ) -> Result<T, TrainError> {
        const { assert!(B > 0, "a batch of zero samples: B must be at least 1") };
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
    /// No indices is [`TrainError::EmptyBatch`]: no step is taken (as a batch of `B = 0` samples
    /// does not compile); inputs and targets of different lengths are
    /// [`TrainError::LengthMismatch`], an index past their end [`TrainError::IndexOutOfRange`].
    pub fn try_step_indices(
        &mut self,
        inputs: &[N::Input],
        targets: &[N::Output],
        indices: &[usize],
    ) -> Result<T, TrainError> {
        if inputs.len() != targets.len() {
            return Err(TrainError::LengthMismatch { inputs: inputs.len(), targets: targets.len() });
        }
        if let Some(&index) = indices.iter().find(|&&i| i >= inputs.len()) {
            return Err(TrainError::IndexOutOfRange { index, samples: inputs.len() });
        }
        for &i in indices {
            let (x, t) = sample(inputs, targets, i)?;
            validate_sample::<T, N>(i, x, t)?;
        }
        self.step_indices_unchecked(inputs, targets, indices)
    }

    fn step_indices_unchecked(
        &mut self,
        inputs: &[N::Input],
        targets: &[N::Output],
        indices: &[usize],
    ) -> Result<T, TrainError> {
        if indices.is_empty() {
            return Err(TrainError::EmptyBatch);
        }
        self.grads.set_zero();
        let total = self.accumulate_indices(inputs, targets, indices)?;
        let scale = T::ONE / T::from_f64(indices.len() as f64);
        self.grads.scale(scale);
        self.apply(total * scale)
    }

    /// Adds the gradients of the samples `indices` to `grads`, one at a time; their summed loss.
    fn accumulate_indices(
        &mut self,
        inputs: &[N::Input],
        targets: &[N::Output],
        indices: &[usize],
    ) -> Result<T, TrainError> {
        let mut trace = N::new_trace();
        let mut total = T::ZERO;
        for &i in indices {
            let (x, t) = sample(inputs, targets, i)?;
            self.net.forward_trace(x, &mut trace);
            total += self.net.backward_accumulate(&mut trace, t, &mut self.grads);
        }
        Ok(total)
    }

    /// The checks and the update that follow a backward pass over a batch with mean `loss`.
    fn apply(&mut self, loss: T) -> Result<T, TrainError> {
        let step = self.steps;
        self.optimizer.check_settings()?;
        if !loss.is_finite() {
            return Err(TrainError::NonFiniteLoss { step, loss: loss.to_f64() });
        }
        let watch = match &self.divergence {
            Some(settings) => self.watch.observe(settings, step, loss.to_f64())?,
            None => self.watch,
        };
        if let Some(i) = self.grads.first_non_finite() {
            return Err(TrainError::NonFiniteGradient {
                step,
                param: param_index::<T, N>(i),
                value: self.grads.params().get(i).map_or(f64::NAN, |g| g.to_f64()),
            });
        }
        self.optimizer
            .try_step(&mut self.net, &self.grads)
            .map_err(|i| TrainError::NonFiniteUpdate { step, param: param_index::<T, N>(i) })?;
        self.steps += 1;
        self.watch = watch;
        Ok(loss)
    }

    /// One epoch: checks the whole data set first ([`validate`]), sets `order` to a fresh
    /// shuffle of `0..n` drawn from `rng`, then takes one step per mini-batch of `B` samples
    /// and one on the remaining `n % B` samples, if any. After each step, `on_step(samples
    /// seen so far, mean loss of the step)` is called (for a progress bar). `B = 0` does not
    /// compile.
    ///
    /// `order` must have one entry per sample; its contents on entry do not matter.
    ///
    /// **Stack.** Whatever `B`, the samples of a batch are copied onto the stack at most
    /// [`GATHER`] (32) at a time: at most `32 · (size_of::<N::Input>() + size_of::<N::Output>())`
    /// bytes (about 100 KiB for 784 `f32` inputs), on top of what the network's
    /// [`backward_batch`](Network::backward_batch) of up to 32 samples uses (a generated network:
    /// `3 · 32` scalars per neuron). A batch of up to 32 samples is one
    /// [`backward_batch::<B>`](Network::backward_batch); a larger one is gathered and
    /// accumulated 32 samples at a time ([`backward_batch_accumulate::<32>`](Network::backward_batch_accumulate),
    /// the tile the generated networks split a batch into anyway, so a multiple of 32 gives the
    /// bits of one `backward_batch::<B>`), then the last `B % 32` one by one.
    pub fn epoch<const B: usize, R: RandomSource + ?Sized>(
        &mut self,
        inputs: &[N::Input],
        targets: &[N::Output],
        order: &mut [usize],
        rng: &mut R,
        mut on_step: impl FnMut(usize, T),
    ) -> Result<EpochStats, TrainError> {
        const { assert!(B > 0, "a batch of zero samples: B must be at least 1") };
        validate::<T, N>(inputs, targets)?;
        if order.len() != inputs.len() {
            return Err(TrainError::LengthMismatch { inputs: inputs.len(), targets: order.len() });
        }
        fill_indices(order);
        shuffle(order, rng)?;
        let (mut total, mut seen, mut steps) = (0.0, 0, 0);
        let mut it = batches::<_, _, B>(inputs, targets, order)?;
        while let Some(indices) = it.advance() {
            let loss = if B <= GATHER {
                self.step_gathered::<B>(inputs, targets, indices)?
            } else {
                self.step_tiled(inputs, targets, indices)?
            };
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

    /// One step on the `B` samples `indices` (`B <= GATHER`), copied into arrays for
    /// `backward_batch`. Not inlined: its arrays are in its own frame, which `epoch` calls only
    /// for batches of up to [`GATHER`] samples.
    #[inline(never)]
    fn step_gathered<const B: usize>(
        &mut self,
        inputs: &[N::Input],
        targets: &[N::Output],
        indices: &[usize],
    ) -> Result<T, TrainError> {
        // Each batch is gathered once, here, filled in place: the iterator's `Option` of two
        // arrays, or `array::from_fn`, put extra copies in the frame.
        let (x, t) = first_sample(inputs, targets, indices)?;
        let mut xs = [*x; B];
        let mut ts = [*t; B];
        fill(&mut xs, &mut ts, inputs, targets, indices)?;
        let loss = backward_gathered(&self.net, &xs, &ts, &mut self.grads);
        self.apply(loss)
    }

    /// One step on the samples `indices` (more than [`GATHER`]), gathered and accumulated
    /// [`GATHER`] at a time, then the rest one by one.
    #[inline(never)]
    fn step_tiled(
        &mut self,
        inputs: &[N::Input],
        targets: &[N::Output],
        indices: &[usize],
    ) -> Result<T, TrainError> {
        self.grads.set_zero();
        let (x, t) = first_sample(inputs, targets, indices)?;
        let mut xs = [*x; GATHER];
        let mut ts = [*t; GATHER];
        let mut total = T::ZERO;
        let mut tiles = indices.chunks_exact(GATHER);
        for tile in &mut tiles {
            fill(&mut xs, &mut ts, inputs, targets, tile)?;
            total += self.net.backward_batch_accumulate(&xs, &ts, &mut self.grads);
        }
        total += self.accumulate_indices(inputs, targets, tiles.remainder())?;
        let scale = T::ONE / T::from_f64(indices.len() as f64);
        self.grads.scale(scale);
        self.apply(total * scale)
    }
}

/// Sample `i` of a data set, or [`TrainError::IndexOutOfRange`]. The callers have checked their
/// indices already; looking up with `get` keeps a panic path out of the training loop (the
/// no-panic proof links `Trainer::epoch`).
#[inline(always)]
fn sample<'a, X, Y>(inputs: &'a [X], targets: &'a [Y], i: usize) -> Result<(&'a X, &'a Y), TrainError> {
    match (inputs.get(i), targets.get(i)) {
        (Some(x), Some(t)) => Ok((x, t)),
        _ => Err(TrainError::IndexOutOfRange { index: i, samples: inputs.len().min(targets.len()) }),
    }
}

/// [`Network::backward_batch`] in a frame of its own: inlined into
/// [`step_gathered`](Trainer::step_gathered), LLVM kept another copy of the batch beside the
/// gathered one (a 200 KiB frame for 32 MNIST digits, past the 192 KiB `mnist` runs on).
#[inline(never)]
fn backward_gathered<T: Scalar, N: Network<T>, const B: usize>(
    net: &N,
    xs: &[N::Input; B],
    ts: &[N::Output; B],
    grads: &mut N,
) -> T {
    net.backward_batch(xs, ts, grads)
}

/// The first of the samples `indices` (sample 0 when there are none), to fill the arrays a batch is
/// gathered into. The caller repeats it by reference (`[*x; B]`): bound to a local first, or
/// returned inside a `Result`, the arrays got a second copy in the frame (a 32-sample MNIST batch
/// is 100 KiB, and `mnist` runs on 192 KiB).
#[inline(always)]
fn first_sample<'a, X, Y>(
    inputs: &'a [X],
    targets: &'a [Y],
    indices: &[usize],
) -> Result<(&'a X, &'a Y), TrainError> {
    sample(inputs, targets, indices.first().map_or(0, |&i| i))
}

/// Copies the samples `indices` into `xs` and `ts`, in order, as far as both reach.
#[inline(always)]
fn fill<X: Copy, Y: Copy>(
    xs: &mut [X],
    ts: &mut [Y],
    inputs: &[X],
    targets: &[Y],
    indices: &[usize],
) -> Result<(), TrainError> {
    for ((x, t), &i) in xs.iter_mut().zip(ts).zip(indices) {
        let (&xi, &ti) = sample(inputs, targets, i)?;
        (*x, *t) = (xi, ti);
    }
    Ok(())
}

/// The layer, row and column of flat parameter `i` of `N`.
fn param_index<T: Scalar, N: Network<T>>(i: usize) -> ParamIndex {
    // `i < N::LEN`, which the layers add up to, so the fallback is never taken.
    locate_param(N::LAYERS, i).unwrap_or(ParamIndex::Bias { layer: "?", row: i })
}
