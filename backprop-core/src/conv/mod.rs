//! Convolutional layers: [`Conv1d`], [`Conv2d`], max and average pooling ([`MaxPool1d`],
//! [`MaxPool2d`], [`AvgPool1d`], [`AvgPool2d`]), global average pooling ([`GlobalAvgPool1d`],
//! [`GlobalAvgPool2d`]), and flattening ([`flatten`]) between them and [`Dense`](crate::Dense).
//!
//! # Shapes
//!
//! A sample with channels is a nested array in PyTorch's `NCHW` order without the `N`: channels ×
//! length is `[[T; L]; C]`, channels × height × width is `[[[T; W]; H]; C]`, so a trace reads
//! `trace.conv1.a[c][y][x]`. Both implement [`Shape`]; their elements are contiguous in memory,
//! row after row, channel after channel (arrays have no padding).
//!
//! Every size is a const generic, so every shape is checked at compile time. Stable Rust cannot
//! compute an array length from generic sizes (no `generic_const_exprs`), so the output sizes are
//! parameters too (`HO`, `WO`, `LO`), and the layer checks them against the sizes it computes in a
//! `const` assertion: a wrong one is a compile error that says which size is wrong and how it is
//! computed. `network!` computes them; by hand, [`output_len`] does.
//!
//! # Padding
//!
//! [`Valid`]: no padding; the output has `(n - k) / s + 1` positions, and the kernel must fit
//! (`k ≤ n`) and the stride must divide `n - k`: a compile error otherwise (PyTorch would drop the
//! last rows silently). [`Same`]: the output has `ceil(n / s)` positions (`n` for stride 1), and
//! the input is padded with zeros by `max((out - 1) · s + k - n, 0)` in all, half of it (rounded
//! down) before and the rest after, as JAX's and TensorFlow's `'SAME'` define it; for stride 1
//! this is also PyTorch's `padding='same'` (which has no stride above 1).
//!
//! # Flattening
//!
//! Flattening is free: a `[[[T; W]; H]; C]` is `C·H·W` contiguous scalars, the same memory as a
//! `[T; C·H·W]` in `C, H, W` order (PyTorch's `flatten(1)`). [`flatten`] and [`flatten_mut`]
//! view one as the other (checked at compile time to be the same size), so a [`Dense`](crate::Dense)
//! layer after a convolutional stack reads the pool's `a` and writes the pool's `delta` in place,
//! with no copy and no extra layer; [`flatten_tile`] and [`flatten_batch`] do the same for a
//! tile of samples.
//!
//! # Activations
//!
//! A layer's activation is applied to each row (the last axis) of its output: for the elementwise
//! activations that is every element. [`Softmax`](crate::Softmax) would normalise each row
//! separately, which is rarely what is meant; `network!` keeps it for dense layers.
//!
//! # Kernels
//!
//! Register-blocked direct convolution, allocation-free, with the dense kernels' choice of code
//! at run time (see [`kernel`](crate::kernel)): output rows are cut into vectors of 8 columns, and
//! a tile of a few filters × a few vectors is summed in registers over every tap (input channel,
//! kernel row, kernel column) before it is stored, each input vector loaded once per tap for the
//! tile's filters and each weight broadcast once for its vectors. The input gradient of a
//! stride-1 convolution is the same loop over the error signals with the kernels transposed and
//! turned; the weight gradients keep a tile of filters × the taps of a kernel row in registers
//! over all the samples of a batch, and are written once per batch. `f32` layers run 256-bit AVX2
//! code where the CPU has it (chosen at run time with `std`), and with the `fma` feature, on CPUs
//! with AVX-512F and AVX-512VL, fused multiply-adds for layers of at least
//! [`FMA_MIN`](crate::kernel::FMA_MIN) multiply-adds per sample. Targets without vector
//! instructions (a Cortex-M4F, say: not x86, x86_64, aarch64, NEON or `simd128`) compile scalar
//! register tiles instead, which sum in the same order and give the same bits. The loops use
//! iterators, `get` and wrapping offsets: no unchecked index, no allocation, no panic; the scratch
//! on the stack is a tile of registers' worth.
//!
//! The sums run in a fixed order that depends on the sizes alone: each output is the bias, then
//! the products of its taps in order (input channel, kernel row, kernel column); each weight
//! gradient sums eight lanes (columns `l mod 8`) over samples, rows and vectors, then the lanes in
//! a fixed tree. So a sample gives the same bits alone or in a batch, and the exact backends the
//! same bits as each other. A tap in the padding reads a zero: it adds `w · 0`, which changes a
//! sum only in the sign of a zero and for an infinite weight. [`Conv1d`] is [`Conv2d`]'s kernels
//! on one row, and the 1-d pools are the 2-d ones on one row; max and average pooling share their
//! loops.

mod conv2d;
mod direct;
mod grads;
#[cfg(test)]
mod kernel_tests;
mod kernels;
mod lanes;
mod pool;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod ymm;

pub use conv2d::{Conv1d, Conv2d};
pub use pool::{AvgPool1d, AvgPool2d, GlobalAvgPool1d, GlobalAvgPool2d, MaxPool1d, MaxPool2d};

use crate::Scalar;
use crate::activation::Activation;
use crate::layer::{LayerBatch, LayerTrace, Shape};

/// How a convolution pads its input: [`Valid`] or [`Same`] (see the [module documentation](self)).
pub trait Padding: Copy + Default + core::fmt::Debug + PartialEq + 'static {
    /// Whether the input is padded so that the output has `ceil(n / s)` positions.
    const SAME: bool;
    /// The name in a `network!` spec: `"valid"` or `"same"`.
    const NAME: &'static str;
}

/// No padding: every output sees a full window of the input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Valid;

/// Zero padding so that the output has `ceil(n / s)` positions, the odd one at the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Same;

impl Padding for Valid {
    const SAME: bool = false;
    const NAME: &'static str = "valid";
}

impl Padding for Same {
    const SAME: bool = true;
    const NAME: &'static str = "same";
}

/// Output positions of a window `k` at stride `s` over `n` positions: `(n - k) / s + 1` for
/// [`Valid`] (`0` when the window does not fit), `ceil(n / s)` for [`Same`].
///
/// ```
/// use backprop_core::conv::{Same, Valid, output_len};
/// assert_eq!(output_len::<Valid>(28, 5, 1), 24);
/// assert_eq!(output_len::<Valid>(7, 3, 2), 3);
/// assert_eq!(output_len::<Same>(7, 3, 2), 4);
/// assert_eq!(output_len::<Same>(5, 3, 1), 5);
/// ```
pub const fn output_len<P: Padding>(n: usize, k: usize, s: usize) -> usize {
    if s == 0 {
        0
    } else if P::SAME {
        n.div_ceil(s)
    } else if k > n {
        0
    } else {
        (n - k) / s + 1
    }
}

/// Zeros added before the input: half of `max((out - 1) · s + k - n, 0)`, rounded down, for
/// [`Same`]; `0` for [`Valid`].
///
/// ```
/// use backprop_core::conv::{Same, Valid, pad_before};
/// assert_eq!(pad_before::<Same>(5, 3, 1), 1);
/// assert_eq!(pad_before::<Same>(6, 4, 1), 1); // 3 in all: 1 before, 2 after
/// assert_eq!(pad_before::<Same>(7, 3, 2), 1);
/// assert_eq!(pad_before::<Valid>(7, 3, 2), 0);
/// ```
pub const fn pad_before<P: Padding>(n: usize, k: usize, s: usize) -> usize {
    if !P::SAME || s == 0 {
        return 0;
    }
    let out = n.div_ceil(s);
    let span = out.saturating_sub(1).saturating_mul(s).saturating_add(k);
    span.saturating_sub(n) / 2
}

/// Whether a window `k` at stride `s` fits `n` positions with padding `P` and gives `out`
/// positions: the check behind every layer's compile-time assertion.
pub(crate) const fn fits<P: Padding>(n: usize, k: usize, s: usize, out: usize) -> bool {
    n > 0
        && k > 0
        && s > 0
        && (P::SAME || (k <= n && (n - k).is_multiple_of(s)))
        && out == output_len::<P>(n, k, s)
}

/// The first tap of kernel offset `k`: the first output position `o` whose input position
/// `o·s + k - pad` is not in the padding before the input, and that input position.
#[inline(always)]
fn first_tap(k: usize, pad: usize, s: usize) -> (usize, usize) {
    if k >= pad {
        (0, k.wrapping_sub(pad))
    } else {
        let o = pad.wrapping_sub(k).div_ceil(s);
        (o, o.wrapping_mul(s).wrapping_add(k).wrapping_sub(pad))
    }
}

/// The pairs (output position, input position) of kernel offset `k` along one axis, as items of
/// `out` and `inp`: output `o` meets input `o·s + k - pad`; those in the padding are skipped.
#[inline(always)]
fn taps<A: IntoIterator, B: IntoIterator>(
    out: A,
    inp: B,
    k: usize,
    pad: usize,
    s: usize,
) -> core::iter::Zip<core::iter::Skip<A::IntoIter>, core::iter::StepBy<core::iter::Skip<B::IntoIter>>> {
    let (o, i) = first_tap(k, pad, s);
    out.into_iter().skip(o).zip(inp.into_iter().skip(i).step_by(s))
}

/// A [`Shape`] whose memory is exactly its [`LEN`](Shape::LEN) scalars, contiguous, with the
/// alignment of the scalar: the nested arrays `[T; N]`, `[[T; L]; C]` and `[[[T; W]; H]; C]`.
///
/// # Safety
///
/// An implementation promises that `Self` has the size and alignment of `[Self::Scalar; LEN]`
/// and that every bit pattern is valid: [`flatten`] reinterprets one as the other.
pub unsafe trait Contiguous: Shape {}

// SAFETY: an array is its elements, contiguous, with their alignment; nested arrays likewise.
unsafe impl<T: Scalar, const N: usize> Contiguous for [T; N] {}
// SAFETY: as above.
unsafe impl<T: Scalar, const L: usize, const C: usize> Contiguous for [[T; L]; C] {}
// SAFETY: as above.
unsafe impl<T: Scalar, const W: usize, const H: usize, const C: usize> Contiguous for [[[T; W]; H]; C] {}

/// Channels × length.
impl<T: Scalar, const L: usize, const C: usize> Shape for [[T; L]; C] {
    type Scalar = T;
    const LEN: usize = L * C;
    const ZERO: Self = [[T::ZERO; L]; C];
    #[inline(always)]
    fn flat(&self) -> &[T] {
        self.as_flattened()
    }
    #[inline(always)]
    fn flat_mut(&mut self) -> &mut [T] {
        self.as_flattened_mut()
    }
}

/// Channels × height × width.
impl<T: Scalar, const W: usize, const H: usize, const C: usize> Shape for [[[T; W]; H]; C] {
    type Scalar = T;
    const LEN: usize = W * H * C;
    const ZERO: Self = [[[T::ZERO; W]; H]; C];
    #[inline(always)]
    fn flat(&self) -> &[T] {
        self.as_flattened().as_flattened()
    }
    #[inline(always)]
    fn flat_mut(&mut self) -> &mut [T] {
        self.as_flattened_mut().as_flattened_mut()
    }
}

/// Checks at compile time that `A` and `B` are the same memory.
const fn same_memory<A: Contiguous, B: Contiguous<Scalar = A::Scalar>>() {
    assert!(
        A::LEN == B::LEN && size_of::<A>() == size_of::<B>() && align_of::<A>() == align_of::<B>(),
        "flattening or reshaping between shapes of different sizes: the dense layer after a \
         convolution or pool must have as many inputs as its channels × height × width"
    );
}

/// `x` viewed as another shape of the same scalars, for example a pool's output
/// `[[[T; W]; H]; C]` as the input `[T; C·H·W]` of a dense layer (PyTorch's `flatten(1)`
/// order). The sizes must agree: a compile error otherwise.
///
/// ```
/// use backprop_core::conv::flatten;
/// let x = [[[1.0f32, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]];
/// let flat: &[f32; 8] = flatten(&x);
/// assert_eq!(flat, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
/// let back: &[[[f32; 2]; 2]; 2] = flatten(flat);
/// assert_eq!(back, &x);
/// ```
#[inline(always)]
pub fn flatten<A: Contiguous, B: Contiguous<Scalar = A::Scalar>>(x: &A) -> &B {
    const { same_memory::<A, B>() };
    // SAFETY: by `Contiguous`, `A` and `B` are both `LEN` contiguous scalars with the scalar's
    // alignment, every bit pattern valid; the assertion above makes the sizes and alignments
    // equal. The reference keeps the borrow of `x`.
    unsafe { &*(x as *const A).cast::<B>() }
}

/// [`flatten`], mutably: a dense layer's backward pass writes `dL/dx` into the pool's `delta`
/// through it.
///
/// ```
/// use backprop_core::conv::flatten_mut;
/// let mut d = [[0.0f64; 3]; 2];
/// let flat: &mut [f64; 6] = flatten_mut(&mut d);
/// flat[4] = 1.0;
/// assert_eq!(d[1][1], 1.0);
/// ```
#[inline(always)]
pub fn flatten_mut<A: Contiguous, B: Contiguous<Scalar = A::Scalar>>(x: &mut A) -> &mut B {
    const { same_memory::<A, B>() };
    // SAFETY: as in `flatten`; the reference keeps the unique borrow of `x`.
    unsafe { &mut *(x as *mut A).cast::<B>() }
}

/// [`flatten`] for a tile of samples (a dense layer's batched forward pass reads the pool's
/// outputs through it).
///
/// ```
/// use backprop_core::conv::flatten_tile;
/// let xs = [[[1.0f32, 2.0]; 2], [[3.0, 4.0]; 2]];
/// let flat: &[[f32; 4]] = flatten_tile(&xs);
/// assert_eq!(flat, &[[1.0, 2.0, 1.0, 2.0], [3.0, 4.0, 3.0, 4.0]]);
/// ```
#[inline(always)]
pub fn flatten_tile<A: Contiguous, B: Contiguous<Scalar = A::Scalar>>(xs: &[A]) -> &[B] {
    const { same_memory::<A, B>() };
    // SAFETY: as in `flatten`, element by element: `[A]` and `[B]` have the same layout and
    // length.
    unsafe { core::slice::from_raw_parts(xs.as_ptr().cast::<B>(), xs.len()) }
}

/// [`flatten`] for a layer's whole tile of traces: a dense layer's batched backward pass writes
/// the pool's `delta` through it.
///
/// ```
/// use backprop_core::conv::flatten_batch;
/// use backprop_core::layer::LayerBatch;
/// let mut pool = LayerBatch::<[[f64; 2]; 3]>::zeroed();
/// pool.len = 1;
/// let flat: &mut LayerBatch<[f64; 6]> = flatten_batch(&mut pool);
/// flat.delta[0][5] = 1.0;
/// assert_eq!(pool.delta[0][2][1], 1.0);
/// ```
#[inline(always)]
pub fn flatten_batch<A: Contiguous, B: Contiguous<Scalar = A::Scalar>, const N: usize>(
    batch: &mut LayerBatch<A, N>,
) -> &mut LayerBatch<B, N> {
    const { same_memory::<A, B>() };
    // SAFETY: `LayerBatch` is `#[repr(C)]`, its fields (`usize`, then three arrays of the shape)
    // laid out in order; `A` and `B` have the same size and alignment, so `LayerBatch<A, N>` and
    // `LayerBatch<B, N>` have the same layout, field for field, and every bit pattern of the
    // arrays is valid.
    unsafe { &mut *(batch as *mut LayerBatch<A, N>).cast::<LayerBatch<B, N>>() }
}

/// `a = A(z)` row by row.
#[inline(always)]
pub(crate) fn activate<A: Activation, T: Scalar, const W: usize, const H: usize, const C: usize>(
    z: &[[[T; W]; H]; C],
    a: &mut [[[T; W]; H]; C],
) {
    for (z, a) in z.as_flattened().iter().zip(a.as_flattened_mut()) {
        A::forward(z, a);
    }
}

/// `delta ← A'(z) ⊙ delta` row by row.
#[inline(always)]
fn activate_backward<A: Activation, T: Scalar, const W: usize, const H: usize, const C: usize>(
    z: &[[[T; W]; H]; C],
    a: &[[[T; W]; H]; C],
    delta: &mut [[[T; W]; H]; C],
) {
    for ((z, a), d) in z.as_flattened().iter().zip(a.as_flattened()).zip(delta.as_flattened_mut()) {
        A::backward(z, a, d);
    }
}

impl<T: Scalar, const L: usize, const C: usize> LayerTrace<[[T; L]; C]> {
    /// For a hidden layer: turns `delta`, which holds `dL/da`, into `dL/dz` (row by row).
    #[inline]
    pub fn activation_backward<A: Activation>(&mut self) {
        let z: &[[[T; L]; 1]; C] = flatten(&self.z);
        let a: &[[[T; L]; 1]; C] = flatten(&self.a);
        activate_backward::<A, T, L, 1, C>(z, a, flatten_mut(&mut self.delta));
    }
}

impl<T: Scalar, const W: usize, const H: usize, const C: usize> LayerTrace<[[[T; W]; H]; C]> {
    /// For a hidden layer: turns `delta`, which holds `dL/da`, into `dL/dz` (row by row).
    ///
    /// ```
    /// use backprop_core::{LayerTrace, Relu};
    /// let mut t = LayerTrace::<[[[f64; 2]; 1]; 1]>::zeroed();
    /// t.z = [[[-1.0, 1.0]]];
    /// t.delta = [[[5.0, 5.0]]];
    /// t.activation_backward::<Relu>();
    /// assert_eq!(t.delta, [[[0.0, 5.0]]]);
    /// ```
    #[inline]
    pub fn activation_backward<A: Activation>(&mut self) {
        activate_backward::<A, T, W, H, C>(&self.z, &self.a, &mut self.delta);
    }
}

impl<T: Scalar, const L: usize, const C: usize, const N: usize> LayerBatch<[[T; L]; C], N> {
    /// For a hidden layer: turns every sample's `delta` from `dL/da` into `dL/dz`.
    #[inline]
    pub fn activation_backward<A: Activation>(&mut self) {
        let n = self.len.min(N);
        for ((z, a), d) in self.z[..n].iter().zip(&self.a[..n]).zip(&mut self.delta[..n]) {
            let z: &[[[T; L]; 1]; C] = flatten(z);
            let a: &[[[T; L]; 1]; C] = flatten(a);
            activate_backward::<A, T, L, 1, C>(z, a, flatten_mut(d));
        }
    }
}

impl<T: Scalar, const W: usize, const H: usize, const C: usize, const N: usize>
    LayerBatch<[[[T; W]; H]; C], N>
{
    /// For a hidden layer: turns every sample's `delta` from `dL/da` into `dL/dz`.
    #[inline]
    pub fn activation_backward<A: Activation>(&mut self) {
        let n = self.len.min(N);
        for ((z, a), d) in self.z[..n].iter().zip(&self.a[..n]).zip(&mut self.delta[..n]) {
            activate_backward::<A, T, W, H, C>(z, a, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_matches_jax_same() {
        // JAX: out = ceil(n / s), total = max((out - 1) s + k - n, 0), before = total // 2.
        for n in 1..12usize {
            for k in 1..6 {
                for s in 1..4 {
                    let out = n.div_ceil(s);
                    let total = ((out - 1) * s + k).saturating_sub(n);
                    assert_eq!(output_len::<Same>(n, k, s), out);
                    assert_eq!(pad_before::<Same>(n, k, s), total / 2);
                    if k <= n {
                        assert_eq!(output_len::<Valid>(n, k, s), (n - k) / s + 1);
                    }
                }
            }
        }
    }

    #[test]
    fn taps_skip_the_padding() {
        // n = 5, k = 3, pad 1, stride 2: outputs 0, 1, 2 meet inputs -1+j, 1+j, 3+j.
        let pairs = |j: usize| taps(0..3, 0..5, j, 1, 2).collect::<heapless_pairs::Pairs>();
        assert_eq!(pairs(0).0[..pairs(0).1], [(1, 1), (2, 3)]);
        assert_eq!(pairs(1).0[..pairs(1).1], [(0, 0), (1, 2), (2, 4)]);
        assert_eq!(pairs(2).0[..pairs(2).1], [(0, 1), (1, 3)]);
    }

    mod heapless_pairs {
        pub struct Pairs(pub [(usize, usize); 8], pub usize);
        impl FromIterator<(usize, usize)> for Pairs {
            fn from_iter<I: IntoIterator<Item = (usize, usize)>>(iter: I) -> Self {
                let mut p = Pairs([(0, 0); 8], 0);
                for (slot, x) in p.0.iter_mut().zip(iter) {
                    *slot = x;
                    p.1 += 1;
                }
                p
            }
        }
    }
}
