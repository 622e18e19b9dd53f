//! The dense layer `z = W x + b` and its const-generic kernels.
//!
//! Every loop of a generated network lives here, written once for all sizes. The kernels are
//! arranged so that LLVM vectorises them without fast-math:
//!
//! - forward is a row-wise dot product (`W` is stored `[out][in]`, so a row is contiguous), summed
//!   in [`LANES`] independent accumulators: floating-point addition is not reassociated by the
//!   compiler, so one accumulator would run at one add per add-latency;
//! - backward is a sequence of `axpy`s over the same rows (`dx += delta_o · W_o`,
//!   `dW_o += delta_o · x`), which need no reduction and vectorise as they are;
//! - the fused SGD step updates row `o` right after reading it for `dx`, so a training step
//!   touches `W` once in the backward pass instead of twice.

use crate::Scalar;
use crate::activation::Activation;
use crate::network::{LayerTrace, Params};

/// Independent accumulators in the dot-product kernel: eight `f32` fill one 256-bit vector.
pub const LANES: usize = 8;

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
        for ((z, row), &b) in z.iter_mut().zip(&self.w).zip(&self.b) {
            *z = b + dot(row, x);
        }
    }

    /// Inference: `A(W x + b)`, storing nothing.
    #[inline]
    pub fn infer<A: Activation>(&self, x: &[T; I]) -> [T; O] {
        let mut z = [T::ZERO; O];
        self.affine(x, &mut z);
        let mut a = [T::ZERO; O];
        A::forward(&z, &mut a);
        a
    }

    /// The forward pass that stores: `trace.z = W x + b`, `trace.a = A(trace.z)`.
    #[inline]
    pub fn forward<A: Activation>(&self, x: &[T; I], trace: &mut LayerTrace<T, O>) {
        self.affine(x, &mut trace.z);
        A::forward(&trace.z, &mut trace.a);
    }

    /// Backward through the affine map, given this layer's error signal `delta = dL/dz` and its
    /// input `x`: writes `dL/dx = Wᵀ delta` into `dx`, and the gradients `dL/dW = delta xᵀ`,
    /// `dL/db = delta` into `grad` (added to what `grad` holds when `ACCUMULATE`, else written).
    #[inline]
    pub fn backward<const ACCUMULATE: bool>(
        &self,
        x: &[T; I],
        delta: &[T; O],
        grad: &mut Self,
        dx: &mut [T; I],
    ) {
        dx.fill(T::ZERO);
        for ((row, grad_row), &d) in self.w.iter().zip(&mut grad.w).zip(delta) {
            axpy(d, row, dx);
            store_scaled::<T, I, ACCUMULATE>(d, x, grad_row);
        }
        store_scaled::<T, O, ACCUMULATE>(T::ONE, delta, &mut grad.b);
    }

    /// As [`backward`](Self::backward), for the first layer when `dL/dx` is not wanted.
    #[inline]
    pub fn backward_params<const ACCUMULATE: bool>(&self, x: &[T; I], delta: &[T; O], grad: &mut Self) {
        for (grad_row, &d) in grad.w.iter_mut().zip(delta) {
            store_scaled::<T, I, ACCUMULATE>(d, x, grad_row);
        }
        store_scaled::<T, O, ACCUMULATE>(T::ONE, delta, &mut grad.b);
    }

    /// Backward and SGD update in one pass over `W`: writes `dx = Wᵀ delta` with the weights as
    /// they were, then applies `W -= lr · delta xᵀ`, `b -= lr · delta`, row by row.
    #[inline]
    pub fn backward_sgd(&mut self, x: &[T; I], delta: &[T; O], lr: T, dx: &mut [T; I]) {
        dx.fill(T::ZERO);
        for (row, &d) in self.w.iter_mut().zip(delta) {
            axpy(d, row, dx);
            axpy(-lr * d, x, row);
        }
        axpy(-lr, delta, &mut self.b);
    }

    /// The SGD update `W -= lr · delta xᵀ`, `b -= lr · delta`, for the first layer (no `dx`).
    #[inline]
    pub fn sgd(&mut self, x: &[T; I], delta: &[T; O], lr: T) {
        for (row, &d) in self.w.iter_mut().zip(delta) {
            axpy(-lr * d, x, row);
        }
        axpy(-lr, delta, &mut self.b);
    }
}

/// `Σ a_i b_i`, summed in [`LANES`] independent accumulators (then a pairwise reduction).
#[inline(always)]
pub fn dot<T: Scalar, const N: usize>(a: &[T; N], b: &[T; N]) -> T {
    let (a_chunks, a_tail) = a.as_chunks::<LANES>();
    let (b_chunks, b_tail) = b.as_chunks::<LANES>();
    let mut acc = [T::ZERO; LANES];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for k in 0..LANES {
            acc[k] += x[k] * y[k];
        }
    }
    for ((acc, &x), &y) in acc.iter_mut().zip(a_tail).zip(b_tail) {
        *acc += x * y;
    }
    // Pairwise reduction: 8 -> 4 -> 2 -> 1.
    let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
    ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7))
}

/// `y += alpha · x`.
#[inline(always)]
pub fn axpy<T: Scalar, const N: usize>(alpha: T, x: &[T; N], y: &mut [T; N]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

/// `y = alpha · x`, or `y += alpha · x` when `ACCUMULATE`.
#[inline(always)]
fn store_scaled<T: Scalar, const N: usize, const ACCUMULATE: bool>(alpha: T, x: &[T; N], y: &mut [T; N]) {
    if ACCUMULATE {
        axpy(alpha, x, y);
    } else {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = alpha * x;
        }
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
        assert_eq!(z, [1.0 - 4.0 + 2.0 + 0.1, 0.25 + 12.0 - 0.2]);
        let a: [f64; 19] = core::array::from_fn(|i| i as f64);
        let b: [f64; 19] = core::array::from_fn(|i| 1.0 - i as f64 * 0.5);
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert_eq!(dot(&a, &b), naive);
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
