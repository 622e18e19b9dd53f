//! The [`Network`] trait that every `network!` implements, and the pieces it is built from.

use crate::Scalar;
use crate::layer::LayerInfo;

/// A value that is exactly [`LEN`](Params::LEN) contiguous scalars: a layer, a network, its
/// gradient or an optimizer's state. Gives a flat view of all of them as one slice.
///
/// ```
/// use backprop_core::{Dense, Params};
/// let mut layer = Dense::<f32, 2, 1>::new([[1.0, 2.0]], [3.0]);
/// assert_eq!(layer.params(), &[1.0, 2.0, 3.0]);
/// layer.params_mut()[2] = 0.0;
/// assert_eq!(layer.b, [0.0]);
/// ```
///
/// # Safety
///
/// An implementor must be `#[repr(C)]` (or `#[repr(transparent)]`) and consist of exactly `LEN`
/// values of `T` with no padding and nothing else: fields that are arrays of `T`, or other
/// `Params<T>` types such as [`Dense`](crate::Dense). The size is also checked at compile time
/// when [`params`](Params::params) is first used.
pub unsafe trait Params<T: Scalar>: Sized {
    /// The number of scalars.
    const LEN: usize;

    /// All parameters, in declaration order (per layer: weights row by row, then biases).
    #[inline(always)]
    fn params(&self) -> &[T] {
        const { assert!(size_of::<Self>() == Self::LEN * size_of::<T>()) };
        const { assert!(align_of::<Self>() == align_of::<T>()) };
        // SAFETY: by the trait's contract `Self` is `LEN` contiguous, initialised `T`s (the two
        // assertions above back up the size and alignment); the slice borrows `self`.
        unsafe { core::slice::from_raw_parts((self as *const Self).cast::<T>(), Self::LEN) }
    }

    /// All parameters, mutably.
    #[inline(always)]
    fn params_mut(&mut self) -> &mut [T] {
        const { assert!(size_of::<Self>() == Self::LEN * size_of::<T>()) };
        const { assert!(align_of::<Self>() == align_of::<T>()) };
        // SAFETY: as in `params`; every bit pattern of `T` (f32/f64) is a valid value, so writes
        // through the slice cannot break an invariant of `Self`; the slice borrows `self` uniquely.
        unsafe { core::slice::from_raw_parts_mut((self as *mut Self).cast::<T>(), Self::LEN) }
    }

    /// Sets every parameter to zero.
    #[inline]
    fn set_zero(&mut self) {
        self.params_mut().fill(T::ZERO);
    }

    /// Multiplies every parameter by `factor` (for example `1 / samples` after accumulating
    /// gradients).
    ///
    /// ```
    /// use backprop_core::{Dense, Params};
    /// let mut g = Dense::<f64, 1, 1>::new([[4.0]], [2.0]);
    /// g.scale(0.5);
    /// assert_eq!(g.params(), &[2.0, 1.0]);
    /// ```
    #[inline]
    fn scale(&mut self, factor: T) {
        for p in self.params_mut() {
            *p *= factor;
        }
    }

    /// The flat index of the first parameter that is infinite or NaN, if any.
    ///
    /// ```
    /// use backprop_core::{Dense, Params};
    /// let mut g = Dense::<f32, 2, 1>::zeroed();
    /// assert_eq!(g.first_non_finite(), None);
    /// g.b[0] = f32::NAN;
    /// assert_eq!(g.first_non_finite(), Some(2));
    /// ```
    #[inline]
    fn first_non_finite(&self) -> Option<usize> {
        self.params().iter().position(|p| !p.is_finite())
    }
}

/// The mini-batch SGD step as [`Network::train_step_batch`] defines it, unfused: the mean
/// gradient by [`Network::backward_batch`], then `p -= lr · g`. Generated networks use it for
/// batches larger than one tile.
pub fn train_step_batch_unfused<T: Scalar, N: Network<T>, const B: usize>(
    net: &mut N,
    inputs: &[N::Input; B],
    targets: &[N::Output; B],
    lr: T,
    grads: &mut N,
) -> T {
    const { assert!(B > 0, "a batch needs at least one sample: B must be at least 1") };
    let loss = net.backward_batch(inputs, targets, grads);
    for (p, &g) in net.params_mut().iter_mut().zip(grads.params()) {
        *p -= lr * g;
    }
    loss
}

/// A network declared with `network!`: the interface through which generic code (gradient
/// checking, optimizers, training loops, serialisation) works on any of them.
///
/// Gradients have the type of the network itself: a gradient is a point in parameter space, so
/// `grads.hidden.w[o][i]` is `dL/dw` for `net.hidden.w[o][i]`, and `params()` of both line up.
///
/// ```
/// use backprop_core::{Network, Scalar};
/// /// The mean loss of any network over a data set.
/// fn mean_loss<T: Scalar, N: Network<T>>(net: &N, data: &[(N::Input, N::Output)]) -> T {
///     let sum = data.iter().fold(T::ZERO, |s, (x, t)| s + net.loss(x, t));
///     sum / T::from_f64(data.len() as f64)
/// }
/// ```
pub trait Network<T: Scalar>: Params<T> + Clone {
    /// `[T; INPUTS]`.
    type Input: Copy + AsRef<[T]> + AsMut<[T]> + core::fmt::Debug;
    /// `[T; OUTPUTS]`.
    type Output: Copy + AsRef<[T]> + AsMut<[T]> + core::fmt::Debug;
    /// What the forward pass stores and the backward pass writes: the input, `z`, `a` and
    /// `delta` of every layer, and the input gradient.
    type Trace: Clone + core::fmt::Debug;

    /// Inputs of the network.
    const INPUTS: usize;
    /// Outputs of the network.
    const OUTPUTS: usize;
    /// The layers, input to output.
    const LAYERS: &'static [LayerInfo];
    /// The loss's name, for example `"SoftmaxCrossEntropy"`.
    const LOSS: &'static str;

    /// A network whose parameters are all zero (also the starting value of a gradient).
    fn zeroed() -> Self;
    /// A trace of zeros.
    fn new_trace() -> Self::Trace;
    /// Inference: the output for input `x`, storing nothing.
    fn forward(&self, x: &Self::Input) -> Self::Output;
    /// Inference on a batch: the output for every input, the same bits as
    /// [`forward`](Network::forward) on each. Generated networks run it through the matrix-matrix
    /// kernels, in tiles of the network's `BATCH_TILE` samples (32, fewer for wide layers: see
    /// [`batch_tile`](crate::kernel::batch_tile)); this default calls `forward` once per input.
    ///
    /// ```
    /// use backprop::{Init, Network, network};
    /// network! {
    ///     #[loss(SoftmaxCrossEntropy)]
    ///     struct Digits { input: 64, hidden: Dense<32, Relu>, output: Dense<10, Softmax> }
    /// }
    /// let net: Digits<f32> = Init::Auto.network(7);
    /// let inputs: [[f32; 64]; 40] = core::array::from_fn(|s| core::array::from_fn(|i| ((s * 64 + i) % 13) as f32 / 13.0));
    /// let batch = net.forward_batch(&inputs);
    /// for (input, output) in inputs.iter().zip(&batch) {
    ///     assert_eq!(output.map(f32::to_bits), net.forward(input).map(f32::to_bits));
    /// }
    /// ```
    fn forward_batch<const B: usize>(&self, inputs: &[Self::Input; B]) -> [Self::Output; B] {
        core::array::from_fn(|s| self.forward(&inputs[s]))
    }
    /// The forward pass that stores the input and every layer's `z` and `a` in `trace`; returns
    /// the output.
    fn forward_trace(&self, x: &Self::Input, trace: &mut Self::Trace) -> Self::Output;
    /// The backward pass after [`forward_trace`](Network::forward_trace): writes every gradient
    /// into `grads`, every layer's `delta` and the input gradient into `trace`; returns the loss.
    fn backward(&self, trace: &mut Self::Trace, target: &Self::Output, grads: &mut Self) -> T;
    /// As [`backward`](Network::backward), but adds the gradients to what `grads` holds.
    fn backward_accumulate(&self, trace: &mut Self::Trace, target: &Self::Output, grads: &mut Self) -> T;
    /// The input gradient `dL/dx` written by the last backward pass.
    fn input_grad(trace: &Self::Trace) -> &Self::Input;
    /// The output stored in the trace by the last forward pass.
    fn trace_output(trace: &Self::Trace) -> &Self::Output;
    /// The loss for one sample, storing nothing.
    fn loss(&self, x: &Self::Input, target: &Self::Output) -> T;
    /// One SGD step on one sample (forward, backward, `p -= lr · g` fused into the backward
    /// pass); returns the loss before the step.
    fn train_step(&mut self, x: &Self::Input, target: &Self::Output, lr: T) -> T;

    /// Single-sample SGD over a sequence of samples: one step per sample, in order, as
    /// [`train_step`](Network::train_step) on each would make; returns the sum of the losses,
    /// each before its step.
    ///
    /// Generated networks whose first layer is large defer that layer's weight updates and
    /// apply them [`DEFER_STEPS`](crate::deferred::DEFER_STEPS) at a time, in one pass over the
    /// weights instead of one per sample (see [`deferred`](crate::deferred)): the same steps,
    /// within rounding (the first layer's `W x` is summed in another order), and faster when
    /// that layer is too large for L1 (BENCHMARKS.md has the figures). Otherwise, the same bits
    /// as `train_step` on each sample.
    ///
    /// ```
    /// use backprop_core::{Network, Scalar};
    /// /// One epoch of plain SGD in the order given; the mean loss before each step.
    /// fn epoch<T: Scalar, N: Network<T>>(net: &mut N, data: &[(N::Input, N::Output)], lr: T) -> T {
    ///     let total = net.train_steps(data.iter().map(|(x, t)| (x, t)), lr);
    ///     total / T::from_f64(data.len().max(1) as f64)
    /// }
    /// ```
    fn train_steps<'s, S>(&mut self, samples: S, lr: T) -> T
    where
        S: IntoIterator<Item = (&'s Self::Input, &'s Self::Output)>,
        Self::Input: 's,
        Self::Output: 's,
    {
        samples.into_iter().fold(T::ZERO, |total, (x, target)| total + self.train_step(x, target, lr))
    }

    /// Adds the gradients of `B` samples to `grads` (their sum, not their mean) and returns the
    /// sum of their losses. `B` is known at compile time.
    ///
    /// This is gradient accumulation across calls: after calls totalling `n` samples,
    /// `grads.scale(1 / n)` gives the mean gradient of all of them, equal (up to rounding) to one
    /// [`backward_batch`](Network::backward_batch) over the `n` samples, whatever the split.
    /// Set `grads` to zero ([`Params::set_zero`]) before the first call.
    fn backward_batch_accumulate<const B: usize>(
        &self,
        inputs: &[Self::Input; B],
        targets: &[Self::Output; B],
        grads: &mut Self,
    ) -> T {
        const { assert!(B > 0, "a batch needs at least one sample: B must be at least 1") };
        let mut trace = Self::new_trace();
        let mut total = T::ZERO;
        for (x, t) in inputs.iter().zip(targets) {
            self.forward_trace(x, &mut trace);
            total += self.backward_accumulate(&mut trace, t, grads);
        }
        total
    }

    /// The mean loss of a mini-batch of `B` samples, with `grads` set to the mean of the
    /// per-sample gradients (written, not added). `B` is known at compile time.
    ///
    /// A batch of no sample does not compile:
    ///
    /// ```compile_fail
    /// backprop::network! {
    ///     #[loss(HalfSquaredError)]
    ///     pub struct Line { input: 1, output: Dense<1, Identity> }
    /// }
    /// use backprop::Network;
    /// let net = Line::<f64>::zeroed();
    /// let mut grads = Line::zeroed();
    /// net.backward_batch::<0>(&[], &[], &mut grads); // error: B must be at least 1
    /// ```
    fn backward_batch<const B: usize>(
        &self,
        inputs: &[Self::Input; B],
        targets: &[Self::Output; B],
        grads: &mut Self,
    ) -> T {
        const { assert!(B > 0, "a batch needs at least one sample: B must be at least 1") };
        grads.set_zero();
        let total = self.backward_batch_accumulate(inputs, targets, grads);
        let scale = T::ONE / T::from_f64(B as f64);
        grads.scale(scale);
        total * scale
    }

    /// One SGD step on a mini-batch: `p -= lr · mean gradient`; returns the mean loss before the
    /// step. `grads` is scratch space (its contents on entry do not matter; on return it holds the
    /// mean gradient).
    fn train_step_batch<const B: usize>(
        &mut self,
        inputs: &[Self::Input; B],
        targets: &[Self::Output; B],
        lr: T,
        grads: &mut Self,
    ) -> T {
        const { assert!(B > 0, "a batch needs at least one sample: B must be at least 1") };
        train_step_batch_unfused(self, inputs, targets, lr, grads)
    }
}
