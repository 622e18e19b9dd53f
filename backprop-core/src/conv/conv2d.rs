//! [`Conv2d`] and [`Conv1d`]: their types, compile-time shape checks and [`Layer`]
//! implementations (the loops are in [`kernels`](super::kernels)).

use core::marker::PhantomData;

use super::kernels::{self, Direct, Geometry};
use super::{Padding, activate, fits, flatten, flatten_mut, output_len, pad_before};
use crate::Scalar;
use crate::activation::Activation;
use crate::layer::{Layer, LayerBatch, LayerKind, LayerTrace};
use crate::network::Params;

/// A 2-d convolution: `C` input channels of `H × W`, `F` filters of `K × K`, stride `S`, padding
/// `P` ([`Valid`](super::Valid) or [`Same`](super::Same)), output `F` channels of `HO × WO`.
///
/// `z[f][y][x] = b[f] + Σ_{c,i,j} w[f][c][i][j] · x[c][y·S + i - pad][x·S + j - pad]`
/// (cross-correlation, as PyTorch's `Conv2d` and JAX's `conv_general_dilated`). The weights are
/// `[out][in][kh][kw]`, PyTorch's layout; `#[repr(C)]`: the `F·C·K·K` weights, then the `F`
/// biases, so [`Params::params`] is PyTorch's `weight.flatten()` followed by `bias`.
///
/// `HO` and `WO` must be the output sizes ([`output_len`](super::output_len)): a compile error
/// otherwise, as for a kernel that does not fit or a stride that does not divide (see the
/// [module documentation](super)).
///
/// ```
/// use backprop_core::conv::{Conv2d, Valid};
/// use backprop_core::{Identity, Layer};
/// // 1 channel of 3 × 3, one 2 × 2 filter of ones, stride 1: 2 × 2 outputs.
/// let conv = Conv2d::<f64, Valid, 1, 3, 3, 1, 2, 1, 2, 2>::new([[[[1.0; 2]; 2]]], [0.5]);
/// let x = [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]];
/// assert_eq!(conv.infer::<Identity>(&x), [[[12.5, 16.5], [24.5, 28.5]]]);
/// ```
///
/// A wrong output size does not compile:
///
/// ```compile_fail
/// use backprop_core::conv::{Conv2d, Valid};
/// let conv = Conv2d::<f64, Valid, 1, 3, 3, 1, 2, 1, 3, 3>::zeroed(); // 2 × 2, not 3 × 3
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Conv2d<
    T,
    P,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const K: usize,
    const S: usize,
    const HO: usize,
    const WO: usize,
> {
    /// Weights, `w[f][c][i][j]`: filter `f`, input channel `c`, kernel row `i`, column `j`.
    pub w: [[[[T; K]; K]; C]; F],
    /// Biases, one per filter.
    pub b: [T; F],
    padding: PhantomData<P>,
}

// SAFETY: `#[repr(C)]`: `[[[[T; K]; K]; C]; F]`, then `[T; F]` (arrays have no padding and the
// alignment of `T`), then a zero-sized `PhantomData` of alignment 1: exactly `F·C·K·K + F` values
// of `T` (also asserted at compile time in `Params`).
unsafe impl<
    T: Scalar,
    P: Padding,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const K: usize,
    const S: usize,
    const HO: usize,
    const WO: usize,
> Params<T> for Conv2d<T, P, C, H, W, F, K, S, HO, WO>
{
    const LEN: usize = F * C * K * K + F;
}

impl<
    T: Scalar,
    P: Padding,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const K: usize,
    const S: usize,
    const HO: usize,
    const WO: usize,
> Conv2d<T, P, C, H, W, F, K, S, HO, WO>
{
    /// The compile-time shape check, evaluated by every constructor.
    const CHECK: () = {
        assert!(C > 0 && F > 0, "Conv2d: the channels C and filters F must be at least 1");
        assert!(K > 0 && S > 0, "Conv2d: the kernel K and the stride S must be at least 1");
        assert!(H > 0 && W > 0, "Conv2d: the input H × W is empty");
        assert!(
            P::SAME || (K <= H && K <= W),
            "Conv2d: the kernel K is larger than the input H × W; use a smaller kernel, or padding Same"
        );
        assert!(
            P::SAME || ((H - K).is_multiple_of(S) && (W - K).is_multiple_of(S)),
            "Conv2d: the stride S does not divide H - K or W - K (the last rows or columns would be \
             dropped); change the stride or kernel size, or use padding Same"
        );
        assert!(
            fits::<P>(H, K, S, HO),
            "Conv2d: HO is not the output height: (H - K) / S + 1 with padding Valid, ceil(H / S) with Same"
        );
        assert!(
            fits::<P>(W, K, S, WO),
            "Conv2d: WO is not the output width: (W - K) / S + 1 with padding Valid, ceil(W / S) with Same"
        );
    };

    /// Output height.
    pub const OUT_HEIGHT: usize = output_len::<P>(H, K, S);
    /// Output width.
    pub const OUT_WIDTH: usize = output_len::<P>(W, K, S);
    /// Parameters: `F·C·K·K` weights and `F` biases.
    pub const PARAMS: usize = F * C * K * K + F;

    const GEOMETRY: Geometry =
        Geometry { s: S, pad_top: pad_before::<P>(H, K, S), pad_left: pad_before::<P>(W, K, S) };

    /// A layer from its weights (`[out][in][kh][kw]`) and biases; usable in a `const`.
    pub const fn new(w: [[[[T; K]; K]; C]; F], b: [T; F]) -> Self {
        let () = Self::CHECK;
        Self { w, b, padding: PhantomData }
    }

    /// A layer whose weights and biases are all zero.
    pub const fn zeroed() -> Self {
        Self::new([[[[T::ZERO; K]; K]; C]; F], [T::ZERO; F])
    }

    /// The pre-activation `z = w ⋆ x + b`.
    #[inline]
    pub fn affine(&self, x: &[[[T; W]; H]; C], z: &mut [[[T; WO]; HO]; F]) {
        let () = Self::CHECK;
        kernels::forward(&self.w, &self.b, x, z, Self::GEOMETRY);
    }
}

impl<
    T: Scalar,
    P: Padding,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const K: usize,
    const S: usize,
    const HO: usize,
    const WO: usize,
> Default for Conv2d<T, P, C, H, W, F, K, S, HO, WO>
{
    fn default() -> Self {
        Self::zeroed()
    }
}

impl<
    T: Scalar,
    P: Padding,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const K: usize,
    const S: usize,
    const HO: usize,
    const WO: usize,
> Direct<T> for Conv2d<T, P, C, H, W, F, K, S, HO, WO>
{
    #[inline(always)]
    fn pre_activation(&self, x: &[[[T; W]; H]; C], z: &mut [[[T; WO]; HO]; F]) {
        self.affine(x, z);
    }
    #[inline(always)]
    fn activate<A: Activation>(z: &[[[T; WO]; HO]; F], a: &mut [[[T; WO]; HO]; F]) {
        activate::<A, T, WO, HO, F>(z, a);
    }
}

impl<
    T: Scalar,
    P: Padding,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const K: usize,
    const S: usize,
    const HO: usize,
    const WO: usize,
> Layer<T> for Conv2d<T, P, C, H, W, F, K, S, HO, WO>
{
    type Input = [[[T; W]; H]; C];
    type Output = [[[T; WO]; HO]; F];

    const KIND: LayerKind = LayerKind::Conv2d;
    const GEOMETRY: crate::layer::Geometry =
        crate::layer::Geometry::sliding::<P>(&[C, H, W], &[F, HO, WO], K, S);
    const WEIGHTS: usize = F * C * K * K;
    const FAN_IN: usize = C * K * K;
    const FAN_OUT: usize = F * K * K;
    const ZEROED: Self = Self::zeroed();

    #[inline]
    fn infer<A: Activation>(&self, x: &Self::Input) -> Self::Output {
        let mut z = [[[T::ZERO; WO]; HO]; F];
        self.affine(x, &mut z);
        let mut a = [[[T::ZERO; WO]; HO]; F];
        activate::<A, T, WO, HO, F>(&z, &mut a);
        a
    }

    #[inline]
    fn forward<A: Activation>(&self, x: &Self::Input, trace: &mut LayerTrace<Self::Output>) {
        self.affine(x, &mut trace.z);
        activate::<A, T, WO, HO, F>(&trace.z, &mut trace.a);
    }

    /// `dx = wᵀ ⋆ delta` (the transposed convolution), `dL/dw[f][c][i][j] = Σ delta[f] · x[c]`
    /// over the taps, `dL/db[f] = Σ delta[f]`.
    #[inline]
    fn backward<const ACCUMULATE: bool>(
        &self,
        x: &Self::Input,
        delta: &Self::Output,
        grad: &mut Self,
        dx: &mut Self::Input,
    ) {
        kernels::input_grad(&self.w, delta, dx, Self::GEOMETRY);
        self.backward_params::<ACCUMULATE>(x, delta, grad);
    }

    #[inline]
    fn backward_params<const ACCUMULATE: bool>(
        &self,
        x: &Self::Input,
        delta: &Self::Output,
        grad: &mut Self,
    ) {
        let gw = grad.w.as_flattened_mut().as_flattened_mut().as_flattened_mut();
        kernels::store_grads::<T, ACCUMULATE, C, H, W, F, K, K, HO, WO>(
            x,
            delta,
            Self::GEOMETRY,
            gw,
            &mut grad.b,
        );
    }

    /// `dx` with the weights as they were, then `p += (-lr) · dL/dp`.
    #[inline]
    fn backward_sgd(&mut self, x: &Self::Input, delta: &Self::Output, lr: T, dx: &mut Self::Input) {
        kernels::input_grad(&self.w, delta, dx, Self::GEOMETRY);
        self.sgd(x, delta, lr);
    }

    #[inline]
    fn sgd(&mut self, x: &Self::Input, delta: &Self::Output, lr: T) {
        let w = self.w.as_flattened_mut().as_flattened_mut().as_flattened_mut();
        kernels::sgd::<T, C, H, W, F, K, K, HO, WO>(x, delta, Self::GEOMETRY, w, &mut self.b, lr);
    }

    #[inline]
    fn forward_batch<A: Activation>(&self, xs: &[Self::Input], out: &mut LayerBatch<Self::Output>) {
        kernels::forward_batch::<T, Self, A>(self, xs, out);
    }

    #[inline]
    fn backward_batch(
        &self,
        below: &mut LayerBatch<Self::Input>,
        this: &LayerBatch<Self::Output>,
        grad: &mut Self,
    ) {
        kernels::backward_batch(self, below, this, grad);
    }

    #[inline]
    fn backward_batch_params(&self, xs: &[Self::Input], this: &LayerBatch<Self::Output>, grad: &mut Self) {
        kernels::backward_batch_params(self, xs, this, grad);
    }

    #[inline]
    fn backward_batch_sgd(
        &mut self,
        below: &mut LayerBatch<Self::Input>,
        this: &LayerBatch<Self::Output>,
        scale: T,
        lr: T,
        grad: &mut Self,
    ) {
        grad.set_zero();
        kernels::backward_batch(self, below, this, grad);
        kernels::apply(self, grad, scale, lr);
    }

    #[inline]
    fn batch_sgd(
        &mut self,
        xs: &[Self::Input],
        this: &LayerBatch<Self::Output>,
        scale: T,
        lr: T,
        grad: &mut Self,
    ) {
        grad.set_zero();
        kernels::backward_batch_params(self, xs, this, grad);
        kernels::apply(self, grad, scale, lr);
    }
}

/// A 1-d convolution: `C` input channels of length `L`, `F` filters of width `K`, stride `S`,
/// padding `P`, output `F` channels of length `LO`.
///
/// `z[f][x] = b[f] + Σ_{c,j} w[f][c][j] · x[c][x·S + j - pad]`, PyTorch's `Conv1d`; weights
/// `[out][in][k]`, then biases (`#[repr(C)]`). `LO` must be the output length
/// ([`output_len`](super::output_len)); the other checks are [`Conv2d`]'s. The kernel is
/// [`Conv2d`]'s on one row.
///
/// ```
/// use backprop_core::conv::{Conv1d, Same};
/// use backprop_core::{Identity, Layer};
/// // 1 channel of 4, one filter [1, 2, 1], same padding: 4 outputs.
/// let conv = Conv1d::<f64, Same, 1, 4, 1, 3, 1, 4>::new([[[1.0, 2.0, 1.0]]], [0.0]);
/// assert_eq!(conv.infer::<Identity>(&[[1.0, 0.0, 0.0, 2.0]]), [[2.0, 1.0, 2.0, 4.0]]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Conv1d<
    T,
    P,
    const C: usize,
    const L: usize,
    const F: usize,
    const K: usize,
    const S: usize,
    const LO: usize,
> {
    /// Weights, `w[f][c][j]`: filter `f`, input channel `c`, kernel position `j`.
    pub w: [[[T; K]; C]; F],
    /// Biases, one per filter.
    pub b: [T; F],
    padding: PhantomData<P>,
}

// SAFETY: as for `Conv2d`: `F·C·K` weights, then `F` biases, then a zero-sized `PhantomData`.
unsafe impl<
    T: Scalar,
    P: Padding,
    const C: usize,
    const L: usize,
    const F: usize,
    const K: usize,
    const S: usize,
    const LO: usize,
> Params<T> for Conv1d<T, P, C, L, F, K, S, LO>
{
    const LEN: usize = F * C * K + F;
}

/// `[[[T; K]; C]; F]` as `[[[[T; K]; 1]; C]; F]`: the same memory.
#[inline(always)]
fn as_rows<T: Scalar, const K: usize, const C: usize, const F: usize>(
    w: &[[[T; K]; C]; F],
) -> &[[[[T; K]; 1]; C]; F] {
    const { assert!(size_of::<[[[T; K]; C]; F]>() == size_of::<[[[[T; K]; 1]; C]; F]>()) };
    // SAFETY: both are `F·C·K` contiguous `T` (arrays have no padding; an array of one element is
    // that element), with the alignment of `T`; the reference keeps the borrow of `w`.
    unsafe { &*(w as *const [[[T; K]; C]; F]).cast::<[[[[T; K]; 1]; C]; F]>() }
}

impl<
    T: Scalar,
    P: Padding,
    const C: usize,
    const L: usize,
    const F: usize,
    const K: usize,
    const S: usize,
    const LO: usize,
> Conv1d<T, P, C, L, F, K, S, LO>
{
    /// The compile-time shape check, evaluated by every constructor.
    const CHECK: () = {
        assert!(C > 0 && F > 0, "Conv1d: the channels C and filters F must be at least 1");
        assert!(K > 0 && S > 0, "Conv1d: the kernel K and the stride S must be at least 1");
        assert!(L > 0, "Conv1d: the input length L is zero");
        assert!(
            P::SAME || K <= L,
            "Conv1d: the kernel K is longer than the input L; use a smaller kernel, or padding Same"
        );
        assert!(
            P::SAME || (L - K).is_multiple_of(S),
            "Conv1d: the stride S does not divide L - K (the last positions would be dropped); \
             change the stride or kernel size, or use padding Same"
        );
        assert!(
            fits::<P>(L, K, S, LO),
            "Conv1d: LO is not the output length: (L - K) / S + 1 with padding Valid, ceil(L / S) with Same"
        );
    };

    /// Output length.
    pub const OUT_LEN: usize = output_len::<P>(L, K, S);
    /// Parameters: `F·C·K` weights and `F` biases.
    pub const PARAMS: usize = F * C * K + F;

    const GEOMETRY: Geometry = Geometry { s: S, pad_top: 0, pad_left: pad_before::<P>(L, K, S) };

    /// A layer from its weights (`[out][in][k]`) and biases; usable in a `const`.
    pub const fn new(w: [[[T; K]; C]; F], b: [T; F]) -> Self {
        let () = Self::CHECK;
        Self { w, b, padding: PhantomData }
    }

    /// A layer whose weights and biases are all zero.
    pub const fn zeroed() -> Self {
        Self::new([[[T::ZERO; K]; C]; F], [T::ZERO; F])
    }

    /// The pre-activation `z = w ⋆ x + b`.
    #[inline]
    pub fn affine(&self, x: &[[T; L]; C], z: &mut [[T; LO]; F]) {
        let () = Self::CHECK;
        let x: &[[[T; L]; 1]; C] = flatten(x);
        let z: &mut [[[T; LO]; 1]; F] = flatten_mut(z);
        kernels::forward(as_rows(&self.w), &self.b, x, z, Self::GEOMETRY);
    }
}

impl<
    T: Scalar,
    P: Padding,
    const C: usize,
    const L: usize,
    const F: usize,
    const K: usize,
    const S: usize,
    const LO: usize,
> Default for Conv1d<T, P, C, L, F, K, S, LO>
{
    fn default() -> Self {
        Self::zeroed()
    }
}

impl<
    T: Scalar,
    P: Padding,
    const C: usize,
    const L: usize,
    const F: usize,
    const K: usize,
    const S: usize,
    const LO: usize,
> Direct<T> for Conv1d<T, P, C, L, F, K, S, LO>
{
    #[inline(always)]
    fn pre_activation(&self, x: &[[T; L]; C], z: &mut [[T; LO]; F]) {
        self.affine(x, z);
    }
    #[inline(always)]
    fn activate<A: Activation>(z: &[[T; LO]; F], a: &mut [[T; LO]; F]) {
        activate::<A, T, LO, 1, F>(flatten(z), flatten_mut(a));
    }
}

impl<
    T: Scalar,
    P: Padding,
    const C: usize,
    const L: usize,
    const F: usize,
    const K: usize,
    const S: usize,
    const LO: usize,
> Layer<T> for Conv1d<T, P, C, L, F, K, S, LO>
{
    type Input = [[T; L]; C];
    type Output = [[T; LO]; F];

    const KIND: LayerKind = LayerKind::Conv1d;
    const GEOMETRY: crate::layer::Geometry = crate::layer::Geometry::sliding::<P>(&[C, L], &[F, LO], K, S);
    const WEIGHTS: usize = F * C * K;
    const FAN_IN: usize = C * K;
    const FAN_OUT: usize = F * K;
    const ZEROED: Self = Self::zeroed();

    #[inline]
    fn infer<A: Activation>(&self, x: &Self::Input) -> Self::Output {
        let mut z = [[T::ZERO; LO]; F];
        self.affine(x, &mut z);
        let mut a = [[T::ZERO; LO]; F];
        <Self as Direct<T>>::activate::<A>(&z, &mut a);
        a
    }

    #[inline]
    fn forward<A: Activation>(&self, x: &Self::Input, trace: &mut LayerTrace<Self::Output>) {
        self.affine(x, &mut trace.z);
        <Self as Direct<T>>::activate::<A>(&trace.z, &mut trace.a);
    }

    #[inline]
    fn backward<const ACCUMULATE: bool>(
        &self,
        x: &Self::Input,
        delta: &Self::Output,
        grad: &mut Self,
        dx: &mut Self::Input,
    ) {
        let d: &[[[T; LO]; 1]; F] = flatten(delta);
        let dx: &mut [[[T; L]; 1]; C] = flatten_mut(dx);
        kernels::input_grad(as_rows(&self.w), d, dx, Self::GEOMETRY);
        self.backward_params::<ACCUMULATE>(x, delta, grad);
    }

    #[inline]
    fn backward_params<const ACCUMULATE: bool>(
        &self,
        x: &Self::Input,
        delta: &Self::Output,
        grad: &mut Self,
    ) {
        let gw = grad.w.as_flattened_mut().as_flattened_mut();
        let x: &[[[T; L]; 1]; C] = flatten(x);
        let d: &[[[T; LO]; 1]; F] = flatten(delta);
        kernels::store_grads::<T, ACCUMULATE, C, 1, L, F, 1, K, 1, LO>(x, d, Self::GEOMETRY, gw, &mut grad.b);
    }

    #[inline]
    fn backward_sgd(&mut self, x: &Self::Input, delta: &Self::Output, lr: T, dx: &mut Self::Input) {
        let d: &[[[T; LO]; 1]; F] = flatten(delta);
        let dx: &mut [[[T; L]; 1]; C] = flatten_mut(dx);
        kernels::input_grad(as_rows(&self.w), d, dx, Self::GEOMETRY);
        self.sgd(x, delta, lr);
    }

    #[inline]
    fn sgd(&mut self, x: &Self::Input, delta: &Self::Output, lr: T) {
        let w = self.w.as_flattened_mut().as_flattened_mut();
        let x: &[[[T; L]; 1]; C] = flatten(x);
        let d: &[[[T; LO]; 1]; F] = flatten(delta);
        kernels::sgd::<T, C, 1, L, F, 1, K, 1, LO>(x, d, Self::GEOMETRY, w, &mut self.b, lr);
    }

    #[inline]
    fn forward_batch<A: Activation>(&self, xs: &[Self::Input], out: &mut LayerBatch<Self::Output>) {
        kernels::forward_batch::<T, Self, A>(self, xs, out);
    }

    #[inline]
    fn backward_batch(
        &self,
        below: &mut LayerBatch<Self::Input>,
        this: &LayerBatch<Self::Output>,
        grad: &mut Self,
    ) {
        kernels::backward_batch(self, below, this, grad);
    }

    #[inline]
    fn backward_batch_params(&self, xs: &[Self::Input], this: &LayerBatch<Self::Output>, grad: &mut Self) {
        kernels::backward_batch_params(self, xs, this, grad);
    }

    #[inline]
    fn backward_batch_sgd(
        &mut self,
        below: &mut LayerBatch<Self::Input>,
        this: &LayerBatch<Self::Output>,
        scale: T,
        lr: T,
        grad: &mut Self,
    ) {
        grad.set_zero();
        kernels::backward_batch(self, below, this, grad);
        kernels::apply(self, grad, scale, lr);
    }

    #[inline]
    fn batch_sgd(
        &mut self,
        xs: &[Self::Input],
        this: &LayerBatch<Self::Output>,
        scale: T,
        lr: T,
        grad: &mut Self,
    ) {
        grad.set_zero();
        kernels::backward_batch_params(self, xs, this, grad);
        kernels::apply(self, grad, scale, lr);
    }
}
