//! The convolution kernels' entry points: which backend runs a call ([`dispatch`]), the passes of
//! [`Conv2d`](super::Conv2d) and [`Conv1d`](super::Conv1d) (a 1-d convolution is a 2-d one of
//! height 1, with `1 × K` kernels), and the batched loops every kind of this module shares.
//!
//! The forward pass and the stride-1 input gradient are [`direct::correlate!`], the parameter
//! gradients [`grads::weight_grads`]; each is compiled once per backend, as the dense kernels are
//! (see [`kernel`](crate::kernel)): inlined into the caller for small layers (`Portable`), in a
//! function of its own from [`OUTLINE_MIN`] multiply-adds per sample (`Outlined`), compiled for
//! AVX2 and chosen at run time when the CPU has it and the build does not assume it (`Avx2`, with
//! `std` on `x86_64`); and with the `fma` feature, `f32` layers of at least `FMA_MIN`
//! multiply-adds per sample on CPUs with AVX-512F and AVX-512VL run the same loops with fused
//! multiply-adds and lane masks (`Fused`). The choice depends on the scalar, the layer's sizes and
//! the CPU, never on the batch, so a sample gives the same bits alone or in a batch. On targets
//! without vector instructions ([`scalar::SCALAR`]) the exact backends run the [`scalar`] kernels
//! (the same bits). The input gradient of a strided convolution keeps the direct loops of
//! [`strided_input_grad`].
//!
//! [`direct::correlate!`]: super::direct::correlate

use super::direct::{Columns, Plan, TILES, Tile, Weights, correlate};
use super::grads::{self, Update};
use super::lanes::{Exact, LANES, Vector};
use super::scalar::{self, SCALAR};
use super::{Contiguous, flatten, flatten_mut, flatten_tile, taps};
use crate::Scalar;
use crate::activation::Activation;
use crate::kernel::OUTLINE_MIN;
use crate::layer::{Layer, LayerBatch};

/// Multiply-adds per sample from which an `f32` convolution runs the `fma` feature's kernels (on
/// CPUs with AVX-512F and AVX-512VL): smaller layers keep the exact kernels, as the dense layers
/// below [`kernel::FMA_MIN`](crate::kernel::FMA_MIN) do.
#[cfg(all(feature = "fma", target_arch = "x86_64"))]
pub(super) const FMA_MIN: usize = crate::kernel::FMA_MIN;

/// The geometry of one convolution: stride and the zeros before the input (rows, columns).
#[derive(Clone, Copy)]
pub(super) struct Geometry {
    pub s: usize,
    pub pad_top: usize,
    pub pad_left: usize,
}

/// A kind with a stride and padding, constants of its type: the kernels compiled for it have them
/// as constants.
pub(super) trait Geometric {
    /// Stride and padding.
    const SLIDING: Geometry;
}

/// The weights of a convolution, `w[f][c][ky][kx]`: `F` filters of `C` kernels of `KH × KW`.
pub(super) type Filters<T, const C: usize, const KH: usize, const KW: usize, const F: usize> =
    [[[[T; KW]; KH]; C]; F];

/// A convolution as the kernels see it: `C` channels of `H × W` in, `F` channels of `HO × WO`
/// out, `F × C` kernels of `KH × KW` (a 1-d convolution is one row: `H = KH = HO = 1`).
pub(super) trait Conv<
    T: Scalar,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>: Layer<T, Input: Contiguous<Scalar = T>, Output: Contiguous<Scalar = T>> + Geometric
{
    /// The weights, `w[f][c][ky][kx]`.
    fn kernels(&self) -> &[[[[T; KW]; KH]; C]; F];
    /// The biases.
    fn biases(&self) -> &[T; F];
    /// Weights and biases, mutably.
    fn parts_mut(&mut self) -> (&mut Filters<T, C, KH, KW, F>, &mut [T; F]);

    /// The pre-activation `z = w ⋆ x + b` of one sample.
    #[inline(always)]
    fn pre_activation_of(&self, x: &Self::Input, z: &mut Self::Output) {
        let (w, b) = (self.kernels(), self.biases());
        dispatch::<T, Self, C, H, W, F, KH, KW, HO, WO>(Call::Forward {
            w,
            b,
            x: flatten(x),
            z: flatten_mut(z),
        });
    }

    /// `dx = wᵀ ⋆ delta`, the gradient of one sample's input (the transposed convolution).
    #[inline(always)]
    fn input_grad(&self, delta: &Self::Output, dx: &mut Self::Input) {
        let (w, delta, dx) = (self.kernels(), flatten(delta), flatten_mut(dx));
        if <Self as Geometric>::SLIDING.s == 1 {
            dispatch::<T, Self, C, H, W, F, KH, KW, HO, WO>(Call::InputGrad { w, delta, dx });
        } else {
            strided_input_grad(w, delta, dx, <Self as Geometric>::SLIDING);
        }
    }

    /// The gradient of the samples `xs` with error signals `ds` (one sample, or a tile), applied
    /// to `target`'s parameters by `update`: written or added into a gradient, or an SGD step on
    /// the layer itself.
    #[inline(always)]
    fn param_grads(xs: &[Self::Input], ds: &[Self::Output], target: &mut Self, update: Update<T>) {
        let (xs, ds, (w, b)) = (flatten_tile(xs), flatten_tile(ds), target.parts_mut());
        dispatch::<T, Self, C, H, W, F, KH, KW, HO, WO>(Call::Grads { xs, ds, w, b, update });
    }

    /// [`Layer::backward_batch`] with `update`: each sample's `dx`, then the tile's gradient in
    /// one pass.
    #[inline(always)]
    fn backward_tile<const N: usize>(
        &self,
        below: &mut LayerBatch<Self::Input, N>,
        this: &LayerBatch<Self::Output, N>,
        grad: &mut Self,
        update: Update<T>,
    ) {
        let n = below.len.min(N);
        for (dx, d) in below.delta[..n].iter_mut().zip(this.deltas()) {
            self.input_grad(d, dx);
        }
        Self::param_grads(&below.a[..n], this.deltas(), grad, update);
    }
}

/// A kernel call: its operands, in the views of [`Conv`].
pub(super) enum Call<
    'a,
    T,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
> {
    /// `z = w ⋆ x + b`.
    Forward {
        w: &'a [[[[T; KW]; KH]; C]; F],
        b: &'a [T; F],
        x: &'a [[[T; W]; H]; C],
        z: &'a mut [[[T; WO]; HO]; F],
    },
    /// `dx = wᵀ ⋆ delta` (stride 1).
    InputGrad { w: &'a [[[[T; KW]; KH]; C]; F], delta: &'a [[[T; WO]; HO]; F], dx: &'a mut [[[T; W]; H]; C] },
    /// The parameter gradients of the samples `xs`, `ds`, applied to `w` and `b`.
    Grads {
        xs: &'a [[[[T; W]; H]; C]],
        ds: &'a [[[[T; WO]; HO]; F]],
        w: &'a mut [[[[T; KW]; KH]; C]; F],
        b: &'a mut [T; F],
        update: Update<T>,
    },
}

/// A call on the vectors `V` of one backend, for layers of type `L` (whose geometry is then a
/// constant of the compiled kernel); with `SCALAR`, on the [`scalar`] kernels instead (the same
/// bits as [`Exact`]).
#[inline(always)]
pub(super) fn run<
    T: Scalar,
    V: Vector<T>,
    G: Geometric,
    const SCALAR: bool,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    call: Call<'_, T, C, H, W, F, KH, KW, HO, WO>,
) {
    let g = G::SLIDING;
    match call {
        Call::Forward { w, b, x, z } => {
            let plan = Plan { row0: 0, hi: H, wi: W, ho: HO, wo: WO, s: g.s, pt: g.pad_top, pl: g.pad_left };
            let (x, z) = (x.as_flattened().as_flattened(), z.as_flattened_mut().as_flattened_mut());
            let weights = Weights::<T, C, KH, KW, F, false>(w);
            if const { SCALAR } {
                scalar::correlate!(
                    const { Tile::pick(&scalar::TILES, F, HO, WO, 1, scalar::BUDGET) }, T, KH, KW;
                    &weights, Some(b), x, z, plan,
                );
            } else {
                correlate!(
                    const { Tile::pick(&TILES, F, HO, WO.div_ceil(LANES), V::REGISTERS, V::BUDGET) }, T, V, KH, KW;
                    &weights, Some(b), x, z, plan,
                );
            }
        }
        Call::InputGrad { w, delta, dx } => {
            let pt = KH.saturating_sub(1 + g.pad_top);
            let d = delta.as_flattened().as_flattened();
            if const { KW * WO <= COLUMNS } {
                if const { SCALAR } {
                    scalar::input_grad_by_columns::<T, C, H, W, F, KH, KW, HO, WO>(
                        w, delta, dx, pt, g.pad_left,
                    );
                } else {
                    input_grad_by_columns::<T, V, C, H, W, F, KH, KW, HO, WO>(w, d, dx, pt, g.pad_left);
                }
            } else {
                let pl = KW.saturating_sub(1 + g.pad_left);
                let plan = Plan { row0: 0, hi: HO, wi: WO, ho: H, wo: W, s: 1, pt, pl };
                let dx = dx.as_flattened_mut().as_flattened_mut();
                let weights = Weights::<T, C, KH, KW, F, true>(w);
                if const { SCALAR } {
                    scalar::correlate!(
                        const { Tile::pick(&scalar::TILES, C, H, W, 1, scalar::BUDGET) }, T, KH, KW;
                        &weights, None, d, dx, plan,
                    );
                } else {
                    correlate!(
                        const { Tile::pick(&TILES, C, H, W.div_ceil(LANES), V::REGISTERS, V::BUDGET) }, T, V, KH, KW;
                        &weights, None, d, dx, plan,
                    );
                }
            }
        }
        Call::Grads { xs, ds, w, b, update } => {
            // The filters per tile: `grads::tiles` lists them in the order of the arms below.
            macro_rules! filters {
                ($pick:expr, scalar; $($i:literal => $fb:literal;)*) => {
                    match $pick {
                        $($i => scalar::weight_grads::<T, G, C, H, W, F, KH, KW, HO, WO, $fb>(xs, ds, w, update),)*
                        _ => {}
                    }
                };
                ($pick:expr, grads; $($i:literal => $fb:literal;)*) => {
                    match $pick {
                        $($i => grads::weight_grads::<T, V, C, H, W, F, KH, KW, HO, WO, $fb>(xs, ds, g, w, update),)*
                        _ => {}
                    }
                };
            }
            if const { SCALAR } {
                filters! {
                    const { Tile::pick(&grads::tiles(KW), grads::tiles(KW)[0].ob, F, 1, 1, scalar::BUDGET) }, scalar;
                    0 => 1;
                    1 => 2;
                    2 => 3;
                    3 => 4;
                    4 => 6;
                }
            } else {
                filters! {
                    const { Tile::pick(&grads::tiles(KW), grads::tiles(KW)[0].ob, F, 1, V::REGISTERS, V::BUDGET) }, grads;
                    0 => 1;
                    1 => 2;
                    2 => 3;
                    3 => 4;
                    4 => 6;
                }
            }
            if const { SCALAR } {
                scalar::bias_grads::<T, F, HO, WO>(ds, b, update);
            } else {
                grads::bias_grads::<T, V, F, HO, WO>(ds, b, update);
            }
        }
    }
}

/// Scalars of the stack buffer of [`input_grad_by_columns`] (4 KiB of `f32`): a block of rows of
/// the column sums of one channel, `KW · WO` per row.
const COLUMNS: usize = 1024;

/// `dx = wᵀ ⋆ delta` for stride 1 in two steps, channel by channel and in blocks of rows: first
/// the column sums `a[kx][y][x] = Σ_{f,ky} w[f][c][ky][kx] · delta[f][y + pt - ky][x]` (the
/// correlation [`Columns`] with whole vectors of `delta`'s columns: no lane is wasted on the
/// columns past the edges of `delta`, as the transposed correlation of `dx`'s columns would waste
/// them), then `dx[c][y][x + kx - pl] += a[kx][y][x]`, `kx` in order. `pt` is `KH - 1 - pad_top`.
#[inline(always)]
fn input_grad_by_columns<
    T: Scalar,
    V: Vector<T>,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    w: &Filters<T, C, KH, KW, F>,
    d: &[T],
    dx: &mut [[[T; W]; H]; C],
    pt: usize,
    pl: usize,
) {
    let mut columns = [T::ZERO; COLUMNS];
    let rows = (COLUMNS / (KW * WO).max(1)).clamp(1, H.max(1));
    dx.as_flattened_mut().as_flattened_mut().fill(T::ZERO);
    for (dxc, c) in dx.iter_mut().zip(0..C) {
        for row0 in (0..H).step_by(rows) {
            let rows = rows.min(H.saturating_sub(row0));
            let plane = rows.wrapping_mul(WO).max(1);
            let plan = Plan { row0, hi: HO, wi: WO, ho: rows, wo: WO, s: 1, pt, pl: 0 };
            let a = columns.get_mut(..KW.wrapping_mul(plane)).unwrap_or(&mut []);
            correlate!(
                const { Tile::pick(&TILES, KW, H, WO.div_ceil(LANES), V::REGISTERS, V::BUDGET) }, T, V, KH, 1;
                &Columns { w, c }, None, d, a, plan,
            );
            for (plane, kx) in a.chunks_exact(plane).zip(0..KW) {
                // Column `x` of `a` goes to column `x + kx - pl` of `dx`, inside the row.
                let (skip, at) = (pl.saturating_sub(kx), kx.saturating_sub(pl));
                for (arow, dxrow) in plane.chunks_exact(WO.max(1)).zip(dxc.iter_mut().skip(row0)) {
                    for (t, &v) in dxrow.iter_mut().skip(at).zip(arow.iter().skip(skip)) {
                        *t += v;
                    }
                }
            }
        }
    }
}

/// The exact kernels as a backend with the attribute given (`#[inline(always)]`,
/// `#[inline(never)]`, or `#[target_feature(enable = "avx2")]`), on `ymm::Avx`
/// vectors for `f32` when AVX2 is there (`$avx`), on [`Exact`] ones otherwise: the same bits.
macro_rules! exact_backend {
    ($name:ident, #[$attribute:meta], $avx:expr) => {
        /// [`run`] with the exact arithmetic.
        ///
        /// # Safety
        ///
        /// The instructions the attribute enables run on this CPU.
        #[$attribute]
        unsafe fn $name<
            T: Scalar,
            G: Geometric,
            const C: usize,
            const H: usize,
            const W: usize,
            const F: usize,
            const KH: usize,
            const KW: usize,
            const HO: usize,
            const WO: usize,
        >(
            call: Call<'_, T, C, H, W, F, KH, KW, HO, WO>,
        ) {
            #[cfg(target_arch = "x86_64")]
            if const { $avx && T::TAG == 4 } {
                // SAFETY: `T` is `f32` (only `f32` has the tag 4).
                let call = unsafe { as_f32(call) };
                return run::<f32, super::ymm::Avx, G, false, C, H, W, F, KH, KW, HO, WO>(call);
            }
            run::<T, Exact<T>, G, SCALAR, C, H, W, F, KH, KW, HO, WO>(call)
        }
    };
}
exact_backend!(portable, #[inline(always)], cfg!(target_feature = "avx2"));
exact_backend!(outlined, #[inline(never)], cfg!(target_feature = "avx2"));
#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
exact_backend!(avx2, #[target_feature(enable = "avx2")], true);

/// `call` as the call of `f32` it is.
///
/// # Safety
///
/// `T` is `f32`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn as_f32<
    'a,
    T: Scalar,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    call: Call<'a, T, C, H, W, F, KH, KW, HO, WO>,
) -> Call<'a, f32, C, H, W, F, KH, KW, HO, WO> {
    let call = core::mem::ManuallyDrop::new(call);
    // SAFETY: `T` is `f32` (the caller's), so `Call<T, ..>` and `Call<f32, ..>` are the same type;
    // the original is not used again (and has nothing to drop).
    unsafe { core::ptr::read((&*call as *const Call<'a, T, C, H, W, F, KH, KW, HO, WO>).cast()) }
}

/// [`run`] with fused multiply-adds (the `fma` feature).
///
/// # Safety
///
/// `T` is `f32`, and the CPU has AVX2, FMA, AVX-512F and AVX-512VL ([`fused_available`]).
#[cfg(all(feature = "fma", target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(super) unsafe fn fused<
    T: Scalar,
    G: Geometric,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    call: Call<'_, T, C, H, W, F, KH, KW, HO, WO>,
) {
    // SAFETY: `T` is `f32` (the caller's).
    let call = unsafe { as_f32(call) };
    run::<f32, super::ymm::Fused, G, false, C, H, W, F, KH, KW, HO, WO>(call)
}

/// Whether the `fma` feature's convolution kernels can run here: the CPU has AVX-512F (the dense
/// FMA kernels' check) and AVX-512VL (256-bit vectors with masks and 32 registers).
#[cfg(all(feature = "fma", target_arch = "x86_64"))]
#[inline(always)]
pub(super) fn fused_available() -> bool {
    #[cfg(target_feature = "avx512vl")]
    let vl = true;
    #[cfg(all(not(target_feature = "avx512vl"), feature = "std"))]
    let vl = std::is_x86_feature_detected!("avx512vl");
    #[cfg(all(not(target_feature = "avx512vl"), not(feature = "std")))]
    let vl = false;
    vl && crate::kernel::avx512_available()
}

/// Runs `call` for a layer of geometry `G` on the backend for its scalar, its multiply-adds per
/// sample and the CPU (see the module documentation).
#[inline(always)]
fn dispatch<
    T: Scalar,
    G: Geometric,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    call: Call<'_, T, C, H, W, F, KH, KW, HO, WO>,
) {
    // Every condition but the CPU checks is a `const` block, so that a debug build too compiles
    // only the backends a layer can take.
    #[cfg(all(feature = "fma", target_arch = "x86_64"))]
    if const { T::TAG == 4 && F * C * KH * KW * HO * WO >= FMA_MIN } && fused_available() {
        // SAFETY: `T` is `f32` (only `f32` has the tag 4) and the CPU has the features.
        return unsafe { fused::<T, G, C, H, W, F, KH, KW, HO, WO>(call) };
    }
    #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
    if const { F * C * KH * KW * HO * WO >= OUTLINE_MIN } && crate::kernel::has_avx2() {
        // SAFETY: the CPU has AVX2.
        return unsafe { avx2::<T, G, C, H, W, F, KH, KW, HO, WO>(call) };
    }
    if const { F * C * KH * KW * HO * WO >= OUTLINE_MIN } {
        // SAFETY: no instruction beyond the build's.
        unsafe { outlined::<T, G, C, H, W, F, KH, KW, HO, WO>(call) }
    } else {
        // SAFETY: as above.
        unsafe { portable::<T, G, C, H, W, F, KH, KW, HO, WO>(call) }
    }
}

/// The input gradient of a strided convolution, directly: each weight times the error signals of
/// its taps, added into `dx` (from zero; per input, the products in the order filters, kernel
/// rows, kernel columns).
#[inline(always)]
fn strided_input_grad<
    T: Scalar,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    w: &[[[[T; KW]; KH]; C]; F],
    delta: &[[[T; WO]; HO]; F],
    dx: &mut [[[T; W]; H]; C],
    g: Geometry,
) {
    dx.as_flattened_mut().as_flattened_mut().fill(T::ZERO);
    for (df, wf) in delta.iter().zip(w) {
        for (dxc, wc) in dx.iter_mut().zip(wf) {
            for (wrow, ky) in wc.iter().zip(0..KH) {
                for (&wv, kx) in wrow.iter().zip(0..KW) {
                    for (drow, dxrow) in taps(df.iter(), dxc.iter_mut(), ky, g.pad_top, g.s) {
                        for (&d, dxv) in taps(drow.iter(), dxrow.iter_mut(), kx, g.pad_left, g.s) {
                            *dxv += wv * d;
                        }
                    }
                }
            }
        }
    }
}

/// What the shared batched passes need of a kind beyond [`Layer`]: its pre-activation alone and
/// its activation.
pub(super) trait Direct<T: Scalar>: Layer<T> {
    /// `z` for input `x`.
    fn pre_activation(&self, x: &Self::Input, z: &mut Self::Output);
    /// `a = A(z)`.
    fn activate<A: Activation>(z: &Self::Output, a: &mut Self::Output);
}

/// [`Layer::forward_batch`], sample by sample.
#[inline(always)]
pub(super) fn forward_batch<T: Scalar, L: Direct<T>, A: Activation, const N: usize>(
    layer: &L,
    xs: &[L::Input],
    out: &mut LayerBatch<L::Output, N>,
) {
    out.len = xs.len().min(N);
    for ((x, z), a) in xs.iter().zip(&mut out.z).zip(&mut out.a) {
        layer.pre_activation(x, z);
        L::activate::<A>(z, a);
    }
}

/// [`Layer::backward_batch`] of a kind without parameters: `below.delta` written sample by sample.
#[inline(always)]
pub(super) fn backward_batch_input<T: Scalar, L: Layer<T>, const N: usize>(
    layer: &L,
    below: &mut LayerBatch<L::Input, N>,
    this: &LayerBatch<L::Output, N>,
    grad: &mut L,
) {
    let n = below.len.min(N);
    let (xs, dxs) = (&below.a[..n], &mut below.delta[..n]);
    for ((x, dx), d) in xs.iter().zip(dxs).zip(this.deltas()) {
        layer.backward::<true>(x, d, grad, dx);
    }
}

/// `grad ← scale · grad`, then `p += (-lr) · grad`.
#[inline(always)]
pub(super) fn apply<T: Scalar, L: Layer<T>>(layer: &mut L, grad: &mut L, scale: T, lr: T) {
    grad.scale(scale);
    for (p, &g) in layer.params_mut().iter_mut().zip(grad.params()) {
        *p += -lr * g;
    }
}
