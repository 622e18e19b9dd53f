//! [`Conv2d`] and [`Conv1d`]: their types, compile-time shape checks and [`Layer`]
//! implementations (the loops are in [`kernels`]).

use core::marker::PhantomData;

use super::grads::Update;
use super::kernels::{self, Conv, Direct, Geometric, Geometry};
use super::{Padding, activate, fits, flatten, flatten_mut, output_len, pad_before};
use crate::Scalar;
use crate::activation::Activation;
use crate::layer::{Layer, LayerBatch, LayerKind, LayerTrace};
use crate::network::Params;

/// [`Default`] and the kernels' views of a convolution type ([`Geometric`], [`Conv`] and
/// [`Direct`]): its generics, the type, its sizes as a 2-d convolution (a 1-d one has height 1),
/// its geometry, and the functions that view its weights as `[[[[T; KW]; KH]; C]; F]`.
macro_rules! conv_views {
    (
        [$($generics:tt)*] $ty:ty as [$c:tt, $h:tt, $w:tt, $f:tt, $kh:tt, $kw:tt, $ho:tt, $wo:tt],
        geometry: $geometry:expr,
        weights: $view:path, $view_mut:path $(,)?
    ) => {
        impl<$($generics)*> Default for $ty {
            fn default() -> Self {
                Self::zeroed()
            }
        }

        impl<$($generics)*> Geometric for $ty {
            const SLIDING: Geometry = $geometry;
        }

        impl<$($generics)*> Conv<T, $c, $h, $w, $f, $kh, $kw, $ho, $wo> for $ty {
            #[inline(always)]
            fn kernels(&self) -> &[[[[T; $kw]; $kh]; $c]; $f] {
                $view(&self.w)
            }
            #[inline(always)]
            fn biases(&self) -> &[T; $f] {
                &self.b
            }
            #[inline(always)]
            fn parts_mut(&mut self) -> (&mut [[[[T; $kw]; $kh]; $c]; $f], &mut [T; $f]) {
                ($view_mut(&mut self.w), &mut self.b)
            }
        }

        impl<$($generics)*> Direct<T> for $ty {
            #[inline(always)]
            fn pre_activation(&self, x: &Self::Input, z: &mut Self::Output) {
                self.affine(x, z);
            }
            #[inline(always)]
            fn activate<A: Activation>(z: &Self::Output, a: &mut Self::Output) {
                activate::<A, T, $wo, $ho, $f>(flatten(z), flatten_mut(a));
            }
        }
    };
}

/// The [`Layer`] methods of a convolution (the same for [`Conv2d`] and [`Conv1d`]: the kernels
/// are reached through its [`Conv`] view).
macro_rules! conv_methods {
    () => {
        super::pool::direct_methods!();

        #[inline]
        fn backward<const ACCUMULATE: bool>(
            &self,
            x: &Self::Input,
            delta: &Self::Output,
            grad: &mut Self,
            dx: &mut Self::Input,
        ) {
            self.input_grad(delta, dx);
            self.backward_params::<ACCUMULATE>(x, delta, grad);
        }

        #[inline]
        fn backward_params<const ACCUMULATE: bool>(
            &self,
            x: &Self::Input,
            delta: &Self::Output,
            grad: &mut Self,
        ) {
            let update = if ACCUMULATE { Update::Add } else { Update::Store };
            Self::param_grads(core::slice::from_ref(x), core::slice::from_ref(delta), grad, update);
        }

        /// `dx` with the weights as they were, then `p += (-lr) · dL/dp`.
        #[inline]
        fn backward_sgd(&mut self, x: &Self::Input, delta: &Self::Output, lr: T, dx: &mut Self::Input) {
            self.input_grad(delta, dx);
            self.sgd(x, delta, lr);
        }

        #[inline]
        fn sgd(&mut self, x: &Self::Input, delta: &Self::Output, lr: T) {
            Self::param_grads(
                core::slice::from_ref(x),
                core::slice::from_ref(delta),
                self,
                Update::Step(-lr),
            );
        }

        #[inline]
        fn backward_batch<const N: usize>(
            &self,
            below: &mut LayerBatch<Self::Input, N>,
            this: &LayerBatch<Self::Output, N>,
            grad: &mut Self,
        ) {
            self.backward_tile(below, this, grad, Update::Add);
        }

        #[inline]
        fn backward_batch_params<const N: usize>(
            &self,
            xs: &[Self::Input],
            this: &LayerBatch<Self::Output, N>,
            grad: &mut Self,
        ) {
            Self::param_grads(xs, this.deltas(), grad, Update::Add);
        }

        #[inline]
        fn backward_batch_sgd<const N: usize>(
            &mut self,
            below: &mut LayerBatch<Self::Input, N>,
            this: &LayerBatch<Self::Output, N>,
            scale: T,
            lr: T,
            grad: &mut Self,
        ) {
            self.backward_tile(below, this, grad, Update::Store);
            kernels::apply(self, grad, scale, lr);
        }

        #[inline]
        fn batch_sgd<const N: usize>(
            &mut self,
            xs: &[Self::Input],
            this: &LayerBatch<Self::Output, N>,
            scale: T,
            lr: T,
            grad: &mut Self,
        ) {
            Self::param_grads(xs, this.deltas(), grad, Update::Store);
            kernels::apply(self, grad, scale, lr);
        }
    };
}

/// A 2-d convolution: `C` input channels of `H × W`, `F` filters of `K × K`, stride `S`, padding
/// `P` ([`Valid`](super::Valid) or [`Same`](super::Same)), output `F` channels of `HO × WO`.
///
/// `z[f][y][x] = b[f] + Σ_{c,i,j} w[f][c][i][j] · x[c][y·S + i - pad][x·S + j - pad]`
/// (cross-correlation, as PyTorch's `Conv2d` and JAX's `conv_general_dilated`). The weights are
/// `[out][in][kh][kw]`, PyTorch's layout; `#[repr(C)]`: the `F·C·K·K` weights, then the `F`
/// biases, so [`Params::params`] is PyTorch's `weight.flatten()` followed by `bias`.
///
/// `HO` and `WO` must be the output sizes ([`output_len`]): a compile error
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
        self.pre_activation_of(x, z);
    }
}

conv_views! {
    [T: Scalar, P: Padding, const C: usize, const H: usize, const W: usize, const F: usize, const K: usize,
     const S: usize, const HO: usize, const WO: usize]
    Conv2d<T, P, C, H, W, F, K, S, HO, WO> as [C, H, W, F, K, K, HO, WO],
    geometry: Geometry { s: S, pad_top: pad_before::<P>(H, K, S), pad_left: pad_before::<P>(W, K, S) },
    weights: core::convert::identity, core::convert::identity,
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

    conv_methods!();
}

/// A 1-d convolution: `C` input channels of length `L`, `F` filters of width `K`, stride `S`,
/// padding `P`, output `F` channels of length `LO`.
///
/// `z[f][x] = b[f] + Σ_{c,j} w[f][c][j] · x[c][x·S + j - pad]`, PyTorch's `Conv1d`; weights
/// `[out][in][k]`, then biases (`#[repr(C)]`). `LO` must be the output length
/// ([`output_len`]); the other checks are [`Conv2d`]'s. The kernel is
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

/// [`as_rows`], mutably.
#[inline(always)]
fn as_rows_mut<T: Scalar, const K: usize, const C: usize, const F: usize>(
    w: &mut [[[T; K]; C]; F],
) -> &mut [[[[T; K]; 1]; C]; F] {
    const { assert!(size_of::<[[[T; K]; C]; F]>() == size_of::<[[[[T; K]; 1]; C]; F]>()) };
    // SAFETY: as in `as_rows`; the reference keeps the unique borrow of `w`.
    unsafe { &mut *(w as *mut [[[T; K]; C]; F]).cast::<[[[[T; K]; 1]; C]; F]>() }
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
        self.pre_activation_of(x, z);
    }
}

conv_views! {
    [T: Scalar, P: Padding, const C: usize, const L: usize, const F: usize, const K: usize, const S: usize,
     const LO: usize]
    Conv1d<T, P, C, L, F, K, S, LO> as [C, 1, L, F, 1, K, 1, LO],
    geometry: Geometry { s: S, pad_top: 0, pad_left: pad_before::<P>(L, K, S) },
    weights: as_rows, as_rows_mut,
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

    conv_methods!();
}
