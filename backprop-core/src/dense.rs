//! The dense layer `z = W x + b`, and the per-layer steps of the forward and backward passes
//! that generated networks call: one sample at a time, or a tile of samples at once.
//!
//! The loops themselves are the kernels of [`kernel`](mod@crate::kernel), whose documentation explains
//! their design (register blocking, fusion of the SGD update, exact arithmetic in a fixed order,
//! AVX2 chosen at run time with the `std` feature).

use crate::activation::Activation;
use crate::layer::{Layer, LayerBatch, LayerKind, LayerTrace, train_sequence_stepwise};
use crate::network::Params;
use crate::{Scalar, deferred, kernel};

/// A dense (fully connected) layer with `I` inputs and `O` outputs: `z = W x + b`.
///
/// `w[o]` is the row of weights into neuron `o` (`W` is `O × I`, as in PyTorch and dfdx), `b[o]`
/// its bias. The layout is `#[repr(C)]`: the `O·I` weights row by row, then the `O` biases, with no
/// padding, so a network made of layers is one contiguous run of parameters (see [`Params`]).
///
/// ```
/// use backprop_core::Dense;
/// let layer = Dense::new([[1.0f64, 2.0], [0.0, -1.0], [0.5, 0.5]], [0.0, 1.0, -1.0]);
/// let mut z = [0.0; 3];
/// layer.affine(&[1.0, 1.0], &mut z);
/// assert_eq!(z, [3.0, 0.0, 0.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Dense<T, const I: usize, const O: usize> {
    /// Weights, `O` rows of `I`: `w[o][i]` connects input `i` to neuron `o`.
    pub w: [[T; I]; O],
    /// Biases, one per neuron.
    pub b: [T; O],
}

// SAFETY: `Dense` is `#[repr(C)]` with two fields, `[[T; I]; O]` then `[T; O]`. Arrays have no
// padding and the alignment of `T`, so the second field starts right after the first and the
// struct is exactly `I·O + O` values of `T` (also asserted at compile time in `Params`).
unsafe impl<T: Scalar, const I: usize, const O: usize> Params<T> for Dense<T, I, O> {
    const LEN: usize = I * O + O;
}

impl<T: Scalar, const I: usize, const O: usize> Default for Dense<T, I, O> {
    fn default() -> Self {
        Self::zeroed()
    }
}

impl<T: Scalar, const I: usize, const O: usize> Dense<T, I, O> {
    /// Inputs per neuron.
    pub const INPUTS: usize = I;
    /// Neurons.
    pub const OUTPUTS: usize = O;
    /// Parameters: `I·O` weights and `O` biases.
    pub const PARAMS: usize = I * O + O;

    /// A layer from its weights (`O` rows of `I`) and biases; usable in a `const` or `static`.
    pub const fn new(w: [[T; I]; O], b: [T; O]) -> Self {
        Self { w, b }
    }

    /// A layer whose weights and biases are all zero.
    pub const fn zeroed() -> Self {
        Self { w: [[T::ZERO; I]; O], b: [T::ZERO; O] }
    }

    /// `z = W x + b`.
    #[inline]
    pub fn affine(&self, x: &[T; I], z: &mut [T; O]) {
        kernel::gemv(&self.w, &self.b, x, z);
    }
}

impl<T: Scalar, const I: usize, const O: usize> Layer<T> for Dense<T, I, O> {
    type Input = [T; I];
    type Output = [T; O];

    const KIND: LayerKind = LayerKind::Dense;
    const WEIGHTS: usize = I * O;
    const FAN_IN: usize = I;
    const FAN_OUT: usize = O;
    const ZEROED: Self = Self::zeroed();

    /// Inference: `A(W x + b)`, storing nothing.
    #[inline]
    fn infer<A: Activation>(&self, x: &[T; I]) -> [T; O] {
        let mut z = [T::ZERO; O];
        self.affine(x, &mut z);
        let mut a = [T::ZERO; O];
        A::forward(&z, &mut a);
        a
    }

    /// The forward pass that stores: `trace.z = W x + b`, `trace.a = A(trace.z)`.
    #[inline]
    fn forward<A: Activation>(&self, x: &[T; I], trace: &mut LayerTrace<[T; O]>) {
        self.affine(x, &mut trace.z);
        A::forward(&trace.z, &mut trace.a);
    }

    /// Backward through the affine map, given this layer's error signal `delta = dL/dz` and its
    /// input `x`: writes `dL/dx = Wᵀ delta` into `dx`, and the gradients `dL/dW = delta xᵀ`,
    /// `dL/db = delta` into `grad` (added to what `grad` holds when `ACCUMULATE`, else written).
    #[inline]
    fn backward<const ACCUMULATE: bool>(&self, x: &[T; I], delta: &[T; O], grad: &mut Self, dx: &mut [T; I]) {
        kernel::backward(&self.w, &mut grad.w, x, delta, dx, ACCUMULATE);
        bias_grad::<T, O, ACCUMULATE>(delta, &mut grad.b);
    }

    /// As [`backward`](Self::backward), for the first layer when `dL/dx` is not wanted.
    #[inline]
    fn backward_params<const ACCUMULATE: bool>(&self, x: &[T; I], delta: &[T; O], grad: &mut Self) {
        kernel::outer(&mut grad.w, x, delta, ACCUMULATE);
        bias_grad::<T, O, ACCUMULATE>(delta, &mut grad.b);
    }

    /// Backward and SGD update in one pass over `W`: writes `dx = Wᵀ delta` with the weights as
    /// they were, then applies `W -= lr · delta xᵀ`, `b -= lr · delta`.
    #[inline]
    fn backward_sgd(&mut self, x: &[T; I], delta: &[T; O], lr: T, dx: &mut [T; I]) {
        bias_sgd(&mut self.b, delta, lr);
        kernel::backward_sgd(&mut self.w, x, delta, -lr, dx);
    }

    /// The SGD update `W -= lr · delta xᵀ`, `b -= lr · delta`, for the first layer (no `dx`).
    #[inline]
    fn sgd(&mut self, x: &[T; I], delta: &[T; O], lr: T) {
        kernel::sgd(&mut self.w, &mut self.b, x, delta, -lr);
    }

    /// The forward pass over a tile of samples (at most `N`; any more are ignored): `out.z[s] = W xs[s] + b`, `out.a[s] = A(out.z[s])`, each equal to what
    /// [`forward`](Self::forward) computes for that sample alone.
    #[inline]
    fn forward_batch<A: Activation, const N: usize>(&self, xs: &[[T; I]], out: &mut LayerBatch<[T; O], N>) {
        let xs = &xs[..xs.len().min(N)];
        out.len = xs.len();
        let (z, a) = (&mut out.z[..xs.len()], &mut out.a[..xs.len()]);
        kernel::gemm(&self.w, &self.b, xs, z);
        for (z, a) in z.iter().zip(a) {
            A::forward(z, a);
        }
    }

    /// Backward over a tile: from this layer's `this.delta`, writes `below.delta = Wᵀ delta` for
    /// every sample (`dL/da` of the layer below, which its activation then turns into `dL/dz`),
    /// and adds `Σ_s delta_s a_sᵀ` and `Σ_s delta_s` to `grad`.
    #[inline]
    fn backward_batch<const N: usize>(
        &self,
        below: &mut LayerBatch<[T; I], N>,
        this: &LayerBatch<[T; O], N>,
        grad: &mut Self,
    ) {
        kernel::gemm_t(&self.w, this.deltas(), below.deltas_mut());
        kernel::gemm_outer(&mut grad.w, &mut grad.b, below.outputs(), this.deltas());
    }

    /// As [`backward_batch`](Self::backward_batch), for the first layer, whose input `xs` is the
    /// samples themselves: adds to `grad` only.
    #[inline]
    fn backward_batch_params<const N: usize>(
        &self,
        xs: &[[T; I]],
        this: &LayerBatch<[T; O], N>,
        grad: &mut Self,
    ) {
        kernel::gemm_outer(&mut grad.w, &mut grad.b, xs, this.deltas());
    }

    /// Backward over a tile with the SGD step fused: writes `below.delta = Wᵀ delta` (with the
    /// weights as they were), `grad = scale · Σ_s delta_s a_sᵀ` (the mean gradient for
    /// `scale = 1 / samples`), then `W -= lr · grad`; the same for the biases.
    #[inline]
    fn backward_batch_sgd<const N: usize>(
        &mut self,
        below: &mut LayerBatch<[T; I], N>,
        this: &LayerBatch<[T; O], N>,
        scale: T,
        lr: T,
        grad: &mut Self,
    ) {
        kernel::gemm_t(&self.w, this.deltas(), below.deltas_mut());
        kernel::gemm_outer_sgd(
            &mut self.w,
            &mut self.b,
            &mut grad.w,
            &mut grad.b,
            below.outputs(),
            this.deltas(),
            scale,
            lr,
        );
    }

    /// As [`backward_batch_sgd`](Self::backward_batch_sgd), for the first layer (input `xs`).
    #[inline]
    fn batch_sgd<const N: usize>(
        &mut self,
        xs: &[[T; I]],
        this: &LayerBatch<[T; O], N>,
        scale: T,
        lr: T,
        grad: &mut Self,
    ) {
        kernel::gemm_outer_sgd(
            &mut self.w,
            &mut self.b,
            &mut grad.w,
            &mut grad.b,
            xs,
            this.deltas(),
            scale,
            lr,
        );
    }

    /// Single-sample SGD over a sequence; a layer of at least
    /// [`DEFER_MIN`](crate::deferred::DEFER_MIN) multiply-adds defers its weight updates and
    /// applies them [`DEFER_STEPS`](crate::deferred::DEFER_STEPS) at a time
    /// ([`deferred`](mod@crate::deferred)): the same steps within rounding. A smaller one is updated
    /// at every step, with the bits of [`sgd`](Layer::sgd) at every step.
    #[inline]
    fn train_sequence<'s, A, X, S, F>(
        &mut self,
        samples: S,
        lr: T,
        trace: &mut LayerTrace<[T; O]>,
        above: F,
    ) -> T
    where
        A: Activation,
        X: 's + ?Sized,
        S: IntoIterator<Item = (&'s [T; I], &'s X)>,
        F: FnMut(&mut LayerTrace<[T; O]>, &X) -> T,
    {
        if deferred::deferred_steps(I, O) == 0 {
            train_sequence_stepwise::<T, Self, A, X, S, F>(self, samples, lr, trace, above)
        } else {
            deferred::train_sequence::<T, A, X, S, F, I, O>(self, samples, lr, trace, above)
        }
    }
}

/// `grad_b = delta`, or `grad_b += delta` when `ACCUMULATE`.
#[inline(always)]
fn bias_grad<T: Scalar, const O: usize, const ACCUMULATE: bool>(delta: &[T; O], grad_b: &mut [T; O]) {
    for o in 0..O {
        grad_b[o] = if ACCUMULATE { grad_b[o] + delta[o] } else { delta[o] };
    }
}

/// `b -= lr · delta`, written `b += (-lr) · delta` as the weights' update is.
#[inline(always)]
fn bias_sgd<T: Scalar, const O: usize>(b: &mut [T; O], delta: &[T; O], lr: T) {
    for o in 0..O {
        b[o] += -lr * delta[o];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Identity;

    fn layer() -> Dense<f64, 3, 2> {
        Dense::new([[1.0, -2.0, 0.5], [0.25, 0.0, 3.0]], [0.1, -0.2])
    }

    #[test]
    fn affine_and_dot() {
        let mut z = [0.0; 2];
        layer().affine(&[1.0, 2.0, 4.0], &mut z);
        // The kernels' order for 3 inputs: the bias starts lane 0, lanes 0 and 2 are added, then
        // lane 1: `((b + w0 x0) + w2 x2) + w1 x1`.
        assert_eq!(z, [((0.1 + 1.0) + 2.0) - 4.0, ((-0.2 + 0.25) + 12.0) + 0.0]);
        let a: [f64; 19] = core::array::from_fn(|i| i as f64);
        let b: [f64; 19] = core::array::from_fn(|i| 1.0 - i as f64 * 0.5);
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert_eq!(kernel::dot(&a, &b), naive);
    }

    #[test]
    fn backward_is_the_transpose_and_the_outer_product() {
        let l = layer();
        let x = [1.0, 2.0, 4.0];
        let delta = [0.5, -1.0];
        let mut g = Dense::zeroed();
        let mut dx = [9.0; 3];
        l.backward::<false>(&x, &delta, &mut g, &mut dx);
        assert_eq!(dx, [0.5 - 0.25, -1.0, 0.25 - 3.0]);
        assert_eq!(g.w, [[0.5, 1.0, 2.0], [-1.0, -2.0, -4.0]]);
        assert_eq!(g.b, delta);
        l.backward::<true>(&x, &delta, &mut g, &mut dx);
        assert_eq!(g.b, [1.0, -2.0]);
        let mut g2 = Dense::zeroed();
        l.backward_params::<false>(&x, &delta, &mut g2);
        assert_eq!(g2.w, [[0.5, 1.0, 2.0], [-1.0, -2.0, -4.0]]);
    }

    #[test]
    fn fused_sgd_equals_backward_then_update() {
        let x = [1.0, 2.0, 4.0];
        let delta = [0.5, -1.0];
        let lr = 0.1;
        let mut fused = layer();
        let mut dx_fused = [0.0; 3];
        fused.backward_sgd(&x, &delta, lr, &mut dx_fused);

        let mut plain = layer();
        let mut g = Dense::zeroed();
        let mut dx = [0.0; 3];
        plain.backward::<false>(&x, &delta, &mut g, &mut dx);
        for (p, g) in plain.params_mut().iter_mut().zip(g.params()) {
            *p -= lr * g;
        }
        assert_eq!(dx, dx_fused);
        assert_eq!(plain, fused);

        let mut first = layer();
        first.sgd(&x, &delta, lr);
        assert_eq!(first, plain);
    }

    #[test]
    fn infer_matches_forward() {
        let l = layer();
        let mut t = LayerTrace::zeroed();
        l.forward::<Identity>(&[1.0, 2.0, 3.0], &mut t);
        assert_eq!(l.infer::<Identity>(&[1.0, 2.0, 3.0]), t.a);
        assert_eq!(t.z, t.a);
    }

    #[test]
    fn params_are_weights_then_biases() {
        let l = layer();
        assert_eq!(l.params(), &[1.0, -2.0, 0.5, 0.25, 0.0, 3.0, 0.1, -0.2]);
        assert_eq!(Dense::<f32, 3, 2>::PARAMS, 8);
    }
}
