//! The loop around the gradient: data checks, shuffled mini-batches, a checked trainer, metrics
//! and early stopping. Nothing here allocates: data sets are slices (or arrays) the caller owns.
//!
//! ```
//! use backprop::{network, Adam, EarlyStop, Init, Rng, Trainer, evaluate};
//! network! {
//!     /// XOR.
//!     #[loss(BinaryCrossEntropy)]
//!     pub struct Xor { input: 2, hidden: Dense<8, Tanh>, output: Dense<1, Sigmoid> }
//! }
//! let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
//! let targets = [[0.0], [1.0], [1.0], [0.0]];
//! let mut trainer = Trainer::new(Init::XavierUniform.network::<f64, Xor<f64>>(7), Adam::new(0.05));
//! let mut order = [0; 4];
//! let mut rng = Rng::new(7);
//! let mut stop = EarlyStop::at_loss(0.01);
//! for _ in 0..2000 {
//!     let stats = trainer.epoch::<2, _>(&inputs, &targets, &mut order, &mut rng, |_, _| {}).unwrap();
//!     if stop.update(stats.mean_loss).is_some() {
//!         break;
//!     }
//! }
//! assert_eq!(evaluate(&trainer.net, &inputs, &targets).accuracy, 1.0);
//! ```

use crate::Scalar;
use crate::error::TrainError;
use crate::network::{Network, ParamIndex, locate_param};
use crate::optim::Optimizer;
use crate::rng::{RandomSource, shuffle};

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
/// use backprop_core::one_hot;
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
/// use backprop_core::{TrainError, one_hot_all};
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
/// use backprop::{network, TrainError, validate_sample};
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

/// The index of the largest value (the first one on ties; NaN never wins). `0` for an empty slice.
///
/// ```
/// assert_eq!(backprop_core::argmax(&[0.1f32, 0.7, 0.2]), 1);
/// ```
pub fn argmax<T: Scalar>(values: &[T]) -> usize {
    let mut best: Option<(usize, T)> = None;
    for (i, &v) in values.iter().enumerate() {
        // `partial_cmp` with itself is `None` only for NaN.
        if v.partial_cmp(&v).is_some() && best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map_or(0, |(i, _)| i)
}

/// The class a vector stands for: its [`argmax`], or for a single output (a sigmoid with binary
/// cross-entropy) `1` if it is at least `0.5`, else `0`.
pub fn class_of<T: Scalar>(values: &[T]) -> usize {
    match values {
        [y] => usize::from(*y >= T::HALF),
        _ => argmax(values),
    }
}

/// The class the network predicts for `x` ([`class_of`] its output).
pub fn predict<T: Scalar, N: Network<T>>(net: &N, x: &N::Input) -> usize {
    class_of(net.forward(x).as_ref())
}

/// Mean loss and accuracy of a network on a data set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// The mean per-sample loss (summed in `f64`).
    pub loss: f64,
    /// The fraction of samples whose predicted class ([`predict`]) is the target's class
    /// ([`class_of`] the target), in `[0, 1]`.
    pub accuracy: f64,
    /// Samples evaluated.
    pub samples: usize,
}

/// The mean loss and the accuracy of `net` on `inputs` and `targets` (paired up to the shorter).
/// Both are `NaN` for an empty data set.
///
/// ```
/// use backprop::{network, Dense, evaluate};
/// network! {
///     /// Two classes.
///     #[loss(SoftmaxCrossEntropy)]
///     pub struct Two { input: 1, output: Dense<2, Softmax> }
/// }
/// // Class 1 exactly when x > 0.
/// let net = Two::<f64>::new(Dense::new([[-1.0], [1.0]], [0.0, 0.0]));
/// let e = evaluate(&net, &[[2.0], [-1.0], [3.0]], &[[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]);
/// assert_eq!(e.accuracy, 2.0 / 3.0);
/// assert_eq!(e.samples, 3);
/// ```
pub fn evaluate<T: Scalar, N: Network<T>>(net: &N, inputs: &[N::Input], targets: &[N::Output]) -> Evaluation {
    let (mut loss, mut correct, mut samples) = (0.0, 0usize, 0usize);
    for (x, t) in inputs.iter().zip(targets) {
        let y = net.forward(x);
        loss += net.loss(x, t).to_f64();
        correct += usize::from(class_of(y.as_ref()) == class_of(t.as_ref()));
        samples += 1;
    }
    let n = samples as f64;
    Evaluation { loss: loss / n, accuracy: correct as f64 / n, samples }
}

/// The fraction of samples classified right (see [`evaluate`]).
pub fn accuracy<T: Scalar, N: Network<T>>(net: &N, inputs: &[N::Input], targets: &[N::Output]) -> f64 {
    let correct = inputs.iter().zip(targets).filter(|(x, t)| predict(net, x) == class_of(t.as_ref())).count();
    correct as f64 / inputs.len().min(targets.len()) as f64
}

/// The mean per-sample loss (see [`evaluate`]).
pub fn mean_loss<T: Scalar, N: Network<T>>(net: &N, inputs: &[N::Input], targets: &[N::Output]) -> f64 {
    let sum: f64 = inputs.iter().zip(targets).map(|(x, t)| net.loss(x, t).to_f64()).sum();
    sum / inputs.len().min(targets.len()) as f64
}

/// The confusion matrix of a `K`-class classifier: `m[true][predicted]` counts samples.
/// Classes at or above `K` are not counted.
///
/// ```
/// use backprop::{network, Dense, confusion_matrix};
/// network! {
///     /// Two classes.
///     #[loss(SoftmaxCrossEntropy)]
///     pub struct Two { input: 1, output: Dense<2, Softmax> }
/// }
/// let net = Two::<f64>::new(Dense::new([[-1.0], [1.0]], [0.0, 0.0]));
/// let (xs, ts) = ([[2.0], [-1.0], [3.0]], [[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]);
/// let m = confusion_matrix::<f64, Two<f64>, 2>(&net, &xs, &ts);
/// assert_eq!(m, [[1, 1], [0, 1]]);
/// ```
pub fn confusion_matrix<T: Scalar, N: Network<T>, const K: usize>(
    net: &N,
    inputs: &[N::Input],
    targets: &[N::Output],
) -> [[usize; K]; K] {
    let mut m = [[0; K]; K];
    for (x, t) in inputs.iter().zip(targets) {
        let (truth, guess) = (class_of(t.as_ref()), predict(net, x));
        if truth < K && guess < K {
            m[truth][guess] += 1;
        }
    }
    m
}

/// Sets `order` to `0, 1, 2, …`.
pub fn fill_indices(order: &mut [usize]) {
    for (i, o) in order.iter_mut().enumerate() {
        *o = i;
    }
}

/// The mini-batches of one pass over a data set, in the order of an index array: each item is
/// `B` inputs and their `B` targets, copied into arrays (as the batch methods of [`Network`]
/// take them). Only full batches are yielded; the indices of the last `len % B` samples are in
/// [`remainder`](Batches::remainder) (PyTorch's `drop_last`, with the rest still at hand).
///
/// ```
/// use backprop_core::{Rng, batches, fill_indices, shuffle};
/// let inputs = [[0.0f32], [1.0], [2.0], [3.0], [4.0]];
/// let targets = [[0.0f32], [10.0], [20.0], [30.0], [40.0]];
/// let mut order = [0; 5];
/// fill_indices(&mut order);
/// shuffle(&mut order, &mut Rng::new(1));
/// let mut it = batches::<_, _, 2>(&inputs, &targets, &order).unwrap();
/// assert_eq!(it.len(), 2);
/// for (xs, ts) in &mut it {
///     for (x, t) in xs.iter().zip(&ts) {
///         assert_eq!(t[0], 10.0 * x[0]);
///     }
/// }
/// assert_eq!(it.remainder().len(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct Batches<'a, X, Y, const B: usize> {
    inputs: &'a [X],
    targets: &'a [Y],
    order: &'a [usize],
    next: usize,
}

/// The mini-batches of `B` samples of `inputs` and `targets` in the order `order` (indices into
/// both). An error if `inputs` and `targets` differ in length.
///
/// # Panics
///
/// When an index of `order` is out of bounds, as slice indexing does.
pub fn batches<'a, X: Copy, Y: Copy, const B: usize>(
    inputs: &'a [X],
    targets: &'a [Y],
    order: &'a [usize],
) -> Result<Batches<'a, X, Y, B>, TrainError> {
    if inputs.len() != targets.len() {
        return Err(TrainError::LengthMismatch { inputs: inputs.len(), targets: targets.len() });
    }
    Ok(Batches { inputs, targets, order, next: 0 })
}

impl<'a, X: Copy, Y: Copy, const B: usize> Batches<'a, X, Y, B> {
    /// The indices left over after the full batches: fewer than `B`.
    pub fn remainder(&self) -> &'a [usize] {
        let full = self.order.len().checked_div(B).map_or(0, |batches| batches * B);
        &self.order[full..]
    }

    /// The indices of the next full batch, if there is one, and a step past it.
    fn advance(&mut self) -> Option<&'a [usize]> {
        let end = self.next.checked_add(B)?;
        if B == 0 || end > self.order.len() {
            return None;
        }
        let indices = &self.order[self.next..end];
        self.next = end;
        Some(indices)
    }
}

impl<X: Copy, Y: Copy, const B: usize> Iterator for Batches<'_, X, Y, B> {
    type Item = ([X; B], [Y; B]);

    fn next(&mut self) -> Option<Self::Item> {
        let idx = self.advance()?;
        Some((core::array::from_fn(|k| self.inputs[idx[k]]), core::array::from_fn(|k| self.targets[idx[k]])))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.order.len() - self.next.min(self.order.len())).checked_div(B).unwrap_or(0);
        (left, Some(left))
    }
}

impl<X: Copy, Y: Copy, const B: usize> ExactSizeIterator for Batches<'_, X, Y, B> {}

/// Why [`EarlyStop`] says to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The loss reached the target.
    TargetReached,
    /// The loss has not improved by `min_delta` for `patience` epochs.
    Plateau,
}

/// Early stopping: on a target loss, and optionally when the loss stops improving.
///
/// ```
/// use backprop_core::{EarlyStop, Stop};
/// let mut stop = EarlyStop::at_loss(0.1).patience(2, 0.0);
/// assert_eq!(stop.update(0.5), None);
/// assert_eq!(stop.update(0.6), None); // worse once
/// assert_eq!(stop.update(0.5), Some(Stop::Plateau)); // not better than 0.5 twice
/// let mut stop = EarlyStop::at_loss(0.1);
/// assert_eq!(stop.update(0.09), Some(Stop::TargetReached));
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

    /// Records an epoch's loss; `Some` when training should stop.
    pub fn update(&mut self, loss: f64) -> Option<Stop> {
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
