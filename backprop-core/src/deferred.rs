//! Single-sample SGD over a sequence of samples, with the first layer's weight updates deferred
//! and applied `K` at a time: what generated networks' `train_steps` runs.
//!
//! # Why
//!
//! A single-sample train step of a network whose first layer is large (784 × 128 `f32`: 401 kB)
//! is bound by memory, not arithmetic: it reads that layer's weights for `W x`, then reads and
//! writes them again for the update `W += step · delta xᵀ`, two multiply-adds' worth of arithmetic
//! per 12 bytes moved. Where the weights sit in L2, streaming them that way takes longer than the
//! step's arithmetic at the FMA peak (BENCHMARKS.md, "The memory floor of W4 batch 1").
//!
//! # How
//!
//! The first layer's weights after `t` deferred steps are `W₀ + Σ_{j<t} c_j x_jᵀ`, with
//! `c_j = -lr · delta_j` and `x_j` the inputs of those steps. Nothing needs them written out to
//! compute the next step:
//!
//! - forward, `(W₀ + Σ_j c_j x_jᵀ) x + b = (W₀ x + b) + Σ_j c_j (x_j · x)`: one pass over `W₀`
//!   and up to `K` dot products with the pending inputs, which sit in L1;
//! - backward, the first layer's `delta` needs the layers above it only (nobody computes the
//!   first layer's `dx`), and its biases are updated at once (they are `O` values);
//! - every `K` steps (and at the end), [`kernel::rank_update`] applies the `K` pending updates in
//!   one pass over `W`, each weight getting its `K` products in order, so that `W` ends exactly as
//!   `K` calls of [`kernel::sgd`] with those `c_j` would leave it (but for the sign of a `-0.0`
//!   weight in a row that `sgd` skips, see [`kernel::SKIP_ZERO_ROWS`]).
//!
//! A step then streams `W` once (plus a read and write every `K` steps) instead of twice and a
//! write. The trajectory is that of single-sample SGD: the same steps in exact arithmetic, and
//! within rounding of [`Network::train_step`](crate::Network::train_step) one sample at a time
//! (`W x` is summed in another order; tested in `f64` and `f32`). Layers too small to gain
//! ([`deferred_steps`] is 0 for them) are updated at every step, and then `train_steps` computes
//! the same bits as `train_step`.

use crate::activation::Activation;
use crate::kernel::{self, LANES};
use crate::layer::Layer;
use crate::layer::LayerTrace;
use crate::{Dense, Scalar};

/// Steps whose first-layer updates are deferred and applied together: the pending inputs of a
/// 784-input `f32` layer take 49 KiB, about an L1 data cache. The write-back of `W` falls to a
/// sixteenth per step, while the dot products with the pending inputs (on average half of them)
/// stay a small share of `W x` for layers of at least `2 · DEFER_STEPS` neurons (BENCHMARKS.md
/// compares 8, 16 and 32).
pub const DEFER_STEPS: usize = 16;

/// Layers of fewer multiply-adds than this (64 KiB of `f32` weights, more than the 48 KiB L1 data
/// cache of current x86 cores) are updated at every step: their weights can stay in L1, where a
/// second pass over them is cheap. Chosen from that reasoning, not measured.
pub const DEFER_MIN: usize = 16 * 1024;

/// How many steps `train_steps` defers for a first layer of `inputs × outputs`: [`DEFER_STEPS`]
/// when the layer has at least [`DEFER_MIN`] multiply-adds and at least `2 · DEFER_STEPS`
/// neurons, so that the pending inputs take at most half the room of the weights, else 0 (no
/// deferral).
///
/// ```
/// use backprop_core::deferred::deferred_steps;
/// assert_eq!(deferred_steps(784, 128), 16);
/// assert_eq!(deferred_steps(64, 32), 0); // 8 kB of f32 weights: they stay in L1
/// assert_eq!(deferred_steps(100_000, 1), 0); // the pending inputs would outweigh the weights
/// ```
pub const fn deferred_steps(inputs: usize, outputs: usize) -> usize {
    if inputs * outputs >= DEFER_MIN && outputs >= 2 * DEFER_STEPS { DEFER_STEPS } else { 0 }
}

/// A first layer borrowed for a sequence of single-sample SGD steps, its weight updates deferred
/// and applied `K` at a time (see the [module](self) documentation). The updates still pending
/// are applied by [`flush`](Self::flush) and when the value is dropped, so the layer is up to date
/// whenever the borrow ends, even by a panic. With `K = 0` every update is applied at once.
///
/// Holds `K` inputs and `K` scaled error signals: `K · (I + O)` scalars, on the stack (57 KiB
/// for a 784-128 `f32` layer with `K` = 16, twice that in `f64`).
///
/// ```
/// use backprop_core::{Dense, Identity, Layer, LayerTrace};
/// use backprop_core::deferred::Deferred;
///
/// let mut deferred_layer = Dense::<f64, 2, 1>::new([[0.5, -0.25]], [0.0]);
/// let mut plain_layer = deferred_layer;
/// let samples = [([1.0, 2.0], [0.5]), ([0.5, 1.0], [-1.0])];
/// let mut trace = LayerTrace::zeroed();
/// {
///     let mut layer = Deferred::<f64, 2, 1, 4>::new(&mut deferred_layer);
///     for (x, target) in &samples {
///         layer.forward::<Identity>(x, &mut trace);
///         trace.delta[0] = trace.a[0] - target[0]; // half squared error
///         layer.sgd(x, &trace.delta, 0.125);
///     }
/// } // dropped: the pending updates are applied
/// for (x, target) in &samples {
///     plain_layer.forward::<Identity>(x, &mut trace);
///     trace.delta[0] = trace.a[0] - target[0];
///     plain_layer.sgd(x, &trace.delta, 0.125);
/// }
/// assert_eq!(deferred_layer, plain_layer); // exact here: every value is a short binary fraction
/// ```
pub struct Deferred<'a, T: Scalar, const I: usize, const O: usize, const K: usize> {
    layer: &'a mut Dense<T, I, O>,
    /// Steps pending, `< K` between calls.
    pending: usize,
    /// The inputs of the pending steps.
    inputs: [[T; I]; K],
    /// `-lr · delta` of the pending steps.
    steps: [[T; O]; K],
}

impl<'a, T: Scalar, const I: usize, const O: usize, const K: usize> Deferred<'a, T, I, O, K> {
    /// Borrows `layer`, with no update pending.
    #[inline]
    pub fn new(layer: &'a mut Dense<T, I, O>) -> Self {
        Self { layer, pending: 0, inputs: [[T::ZERO; I]; K], steps: [[T::ZERO; O]; K] }
    }

    /// The layer's forward pass as if every pending update had been applied: `trace.z = W x + b`
    /// with `W = W₀ + Σ_j c_j x_jᵀ`, computed as `(W₀ x + b) + Σ_j c_j (x_j · x)`, the pending
    /// steps `j` in order; `trace.a = A(trace.z)`.
    #[inline]
    pub fn forward<A: Activation>(&self, x: &[T; I], trace: &mut LayerTrace<[T; O]>) {
        self.layer.affine(x, &mut trace.z);
        if self.pending > 0 {
            let mut dots = [T::ZERO; K];
            self.pending_dots(x, &mut dots);
            for (step, &dot) in self.steps.iter().zip(&dots).take(self.pending) {
                for (z, &c) in trace.z.iter_mut().zip(step) {
                    *z += c * dot;
                }
            }
        }
        A::forward(&trace.z, &mut trace.a);
    }

    /// `dots[j] = x_j · x` for the pending steps (at least; the rest of a block of 8 too), 8 rows
    /// of a `W x` at a time.
    #[inline]
    fn pending_dots(&self, x: &[T; I], dots: &mut [T; K]) {
        let (blocks, rest) = self.inputs.as_chunks::<LANES>();
        let (dot_blocks, dot_rest) = dots.as_chunks_mut::<LANES>();
        let needed = self.pending.div_ceil(LANES);
        for (block, out) in blocks.iter().zip(dot_blocks).take(needed) {
            kernel::gemv(block, &[-T::ZERO; LANES], x, out);
        }
        let done = blocks.len() * LANES;
        for (input, out) in rest.iter().zip(dot_rest).take(self.pending.saturating_sub(done)) {
            *out = kernel::dot(input, x);
        }
    }

    /// The SGD step of the layer for input `x` and error signal `delta = dL/dz`: the biases at
    /// once, `b += -lr · delta`; the weights' `W += -lr · delta xᵀ` deferred, and applied with the
    /// others pending when `K` are.
    #[inline]
    pub fn sgd(&mut self, x: &[T; I], delta: &[T; O], lr: T) {
        if K == 0 {
            return self.layer.sgd(x, delta, lr);
        }
        let step = -lr;
        let n = self.pending.min(K - 1);
        for ((b, c), &d) in self.layer.b.iter_mut().zip(&mut self.steps[n]).zip(delta) {
            // As `kernel::sgd`: the bias gets the same scaled error signal as its row.
            *c = step * d;
            *b += *c;
        }
        self.inputs[n] = *x;
        self.pending = n + 1;
        if self.pending == K {
            self.flush();
        }
    }

    /// Applies the pending updates to the weights: afterwards the layer is what `sgd` at every
    /// step would have made it (given the same error signals), bit for bit (but for the sign of
    /// a `-0.0` weight, see [`kernel::rank_update`]).
    #[inline]
    pub fn flush(&mut self) {
        let n = self.pending.min(K);
        if n > 0 {
            kernel::rank_update(&mut self.layer.w, &self.inputs[..n], &self.steps[..n]);
        }
        self.pending = 0;
    }

    /// Steps whose weight updates are pending.
    #[inline]
    pub fn pending(&self) -> usize {
        self.pending
    }
}

impl<T: Scalar, const I: usize, const O: usize, const K: usize> Drop for Deferred<'_, T, I, O, K> {
    fn drop(&mut self) {
        self.flush();
    }
}

impl<T: Scalar, const I: usize, const O: usize, const K: usize> core::fmt::Debug
    for Deferred<'_, T, I, O, K>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Deferred")
            .field("inputs", &I)
            .field("outputs", &O)
            .field("pending", &self.pending)
            .finish()
    }
}

/// [`Layer::train_sequence`](crate::Layer::train_sequence) of a dense first layer, its weight
/// updates deferred [`DEFER_STEPS`] at a time.
#[inline]
pub(crate) fn train_sequence<'s, T, A, X, S, F, const I: usize, const O: usize>(
    layer: &mut Dense<T, I, O>,
    samples: S,
    lr: T,
    trace: &mut LayerTrace<[T; O]>,
    mut above: F,
) -> T
where
    T: Scalar,
    A: Activation,
    X: 's + ?Sized,
    S: IntoIterator<Item = (&'s [T; I], &'s X)>,
    F: FnMut(&mut LayerTrace<[T; O]>, &X) -> T,
{
    let mut layer = Deferred::<T, I, O, DEFER_STEPS>::new(layer);
    let mut total = T::ZERO;
    for (x, target) in samples {
        layer.forward::<A>(x, trace);
        total += above(trace, target);
        layer.sgd(x, &trace.delta, lr);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Identity, Sigmoid};

    /// Short binary fractions in `[-1, 1)`: products and sums of a few of them are exact in `f64`.
    fn dyadic<const N: usize>(seed: usize) -> [f64; N] {
        core::array::from_fn(|i| (((i * 7 + seed * 13) % 16) as f64 - 8.0) / 8.0)
    }

    /// `steps` single-sample SGD steps of one identity layer with half squared error, deferred `K`
    /// at a time and one by one.
    fn both<const I: usize, const O: usize, const K: usize>(
        steps: usize,
        lr: f64,
    ) -> (Dense<f64, I, O>, Dense<f64, I, O>) {
        let start = Dense::new(core::array::from_fn(dyadic), dyadic(99));
        let sample = |s: usize| (dyadic::<I>(1000 + s), dyadic::<O>(2000 + s));
        let (mut deferred, mut plain) = (start, start);
        let mut trace = LayerTrace::zeroed();
        {
            let mut layer = Deferred::<f64, I, O, K>::new(&mut deferred);
            for s in 0..steps {
                let (x, t) = sample(s);
                layer.forward::<Identity>(&x, &mut trace);
                let delta = core::array::from_fn(|o| trace.a[o] - t[o]);
                layer.sgd(&x, &delta, lr);
                assert_eq!(layer.pending(), if K == 0 { 0 } else { (s + 1) % K });
            }
        }
        for s in 0..steps {
            let (x, t) = sample(s);
            plain.forward::<Identity>(&x, &mut trace);
            let delta = core::array::from_fn(|o| trace.a[o] - t[o]);
            plain.sgd(&x, &delta, lr);
        }
        (deferred, plain)
    }

    #[test]
    fn deferred_steps_are_the_same_steps_in_exact_arithmetic() {
        // lr = 1/64 and at most 3 steps: every value stays a binary fraction short enough for
        // `f64`, so both orders of summation are exact and must agree bit for bit. K = 2 and 3
        // cover a flush in the middle, at the end, and none; 19 inputs a leftover column and a
        // block of pending dots past the first 8.
        for steps in 0..=3 {
            let (d, p) = both::<19, 7, 2>(steps, 1.0 / 64.0);
            assert_eq!(d, p, "{steps} steps, K = 2");
            let (d, p) = both::<19, 7, 3>(steps, 1.0 / 64.0);
            assert_eq!(d, p, "{steps} steps, K = 3");
            let (d, p) = both::<40, 13, 0>(steps, 1.0 / 64.0);
            assert_eq!(d, p, "{steps} steps, K = 0");
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "safe code, minutes under Miri; the exact test runs the same paths there")]
    fn deferred_steps_stay_within_rounding_of_one_by_one() {
        // 41 steps of a layer big enough for the dispatched kernels, K = 16 and K = 9 (a block of
        // pending dots and a row past it): rounding differs, nothing else.
        fn check<const K: usize>() {
            let (d, p) = both::<100, 40, K>(41, 0.01);
            let (d, p) = (crate::Params::params(&d), crate::Params::params(&p));
            for (a, b) in d.iter().zip(p) {
                assert!((a - b).abs() <= 1e-13 * (1.0 + b.abs()), "K = {K}: {a} vs {b}");
            }
            assert_ne!(d, p, "K = {K}: some rounding should differ, or the test checks nothing");
        }
        check::<16>();
        check::<9>();
    }

    #[test]
    fn forward_sees_the_pending_updates() {
        let mut layer = Dense::<f64, 3, 2>::new([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]], [0.0, 1.0]);
        let mut expected = layer;
        let x = [1.0, 2.0, 3.0];
        let delta = [0.5, -1.0];
        expected.sgd(&x, &delta, 0.25);
        let mut deferred = Deferred::<f64, 3, 2, 4>::new(&mut layer);
        deferred.sgd(&x, &delta, 0.25);
        assert_eq!(deferred.pending(), 1);
        let (mut got, mut want) = (LayerTrace::zeroed(), LayerTrace::zeroed());
        deferred.forward::<Sigmoid>(&[0.5, -1.0, 2.0], &mut got);
        expected.forward::<Sigmoid>(&[0.5, -1.0, 2.0], &mut want);
        assert_eq!(got, want);
        drop(deferred);
        assert_eq!(layer, expected);
    }
}
