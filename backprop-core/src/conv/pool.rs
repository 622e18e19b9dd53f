//! Pooling: [`MaxPool2d`], [`AvgPool2d`], their 1-d forms, and the global average pools. No
//! parameters, valid windows only (no padding), the window `K` at stride `S`.

use super::kernels::{self, Direct};
use super::{Valid, activate, fits, flatten, flatten_mut, output_len};
use crate::Scalar;
use crate::activation::Activation;
use crate::layer::{Layer, LayerBatch, LayerKind, LayerTrace};
use crate::network::Params;

/// The `KH × KW` window at rows `y0 ..` and columns `x0 ..` of one channel, copied (a valid layer
/// has every element of every window; a missing one would be zero).
#[inline(always)]
fn window<T: Scalar, const W: usize, const KH: usize, const KW: usize>(
    plane: &[[T; W]],
    y0: usize,
    x0: usize,
) -> [[T; KW]; KH] {
    let mut win = [[T::ZERO; KW]; KH];
    for (wrow, row) in win.iter_mut().zip(plane.get(y0..).unwrap_or(&[])) {
        for (w, &v) in wrow.iter_mut().zip(row.get(x0..).unwrap_or(&[])) {
            *w = v;
        }
    }
    win
}

/// Calls `f(c, oy, ox, window)` for every output of max or average pooling of `KH × KW` windows
/// at stride `s`, channel by channel, row by row.
#[inline(always)]
fn each_window<
    T: Scalar,
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    x: &[[[T; W]; H]; C],
    s: usize,
    mut f: impl FnMut(usize, usize, usize, &[[T; KW]; KH]),
) {
    for (xc, c) in x.iter().zip(0..C) {
        for oy in 0..HO {
            for ox in 0..WO {
                f(c, oy, ox, &window::<T, W, KH, KW>(xc, oy.wrapping_mul(s), ox.wrapping_mul(s)));
            }
        }
    }
}

/// The first largest element of a window in row-major order, and its row and column.
#[inline(always)]
fn largest<T: Scalar, const KH: usize, const KW: usize>(win: &[[T; KW]; KH]) -> (T, usize, usize) {
    let mut best = (-T::INFINITY, 0, 0);
    let mut first = true;
    for (row, ky) in win.iter().zip(0..KH) {
        for (&v, kx) in row.iter().zip(0..KW) {
            if first || v > best.0 {
                (best, first) = ((v, ky, kx), false);
            }
        }
    }
    best
}

/// Max or average pooling of `KH × KW` windows at stride `s` over each channel: the first largest
/// value, or the sum in row-major order times `1 / (KH·KW)`.
#[inline(always)]
fn pool_forward<
    T: Scalar,
    const MAX: bool,
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    x: &[[[T; W]; H]; C],
    z: &mut [[[T; WO]; HO]; C],
    s: usize,
) {
    let inv = T::ONE / T::from_f64((KH * KW) as f64);
    each_window::<T, C, H, W, KH, KW, HO, WO>(x, s, |c, oy, ox, win| {
        z[c][oy][ox] = if MAX {
            largest(win).0
        } else {
            let mut sum = T::ZERO;
            for &v in win.as_flattened() {
                sum += v;
            }
            sum * inv
        };
    });
}

/// `dx` of max or average pooling: each output's `delta` to the first largest value of its
/// window, or `delta / (KH·KW)` to each element, added up where windows overlap.
#[inline(always)]
fn pool_backward<
    T: Scalar,
    const MAX: bool,
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    x: &[[[T; W]; H]; C],
    delta: &[[[T; WO]; HO]; C],
    dx: &mut [[[T; W]; H]; C],
    s: usize,
) {
    dx.as_flattened_mut().as_flattened_mut().fill(T::ZERO);
    let inv = T::ONE / T::from_f64((KH * KW) as f64);
    each_window::<T, C, H, W, KH, KW, HO, WO>(x, s, |c, oy, ox, win| {
        let (d, (y0, x0)) = (delta[c][oy][ox], (oy.wrapping_mul(s), ox.wrapping_mul(s)));
        if MAX {
            let (_, ky, kx) = largest(win);
            let target = dx[c].get_mut(y0.wrapping_add(ky)).and_then(|row| row.get_mut(x0.wrapping_add(kx)));
            if let Some(t) = target {
                *t += d;
            }
        } else {
            let share = d * inv;
            for row in dx[c].iter_mut().skip(y0).take(KH) {
                for t in row.iter_mut().skip(x0).take(KW) {
                    *t += share;
                }
            }
        }
    });
}

/// One pooling kind (max or average) in 2-d and 1-d, with everything but the docs shared.
macro_rules! pool_kind {
    ($two:ident, $one:ident, $max:expr, $kind2:ident, $kind1:ident, $what:literal, $example2:literal, $example1:literal) => {
        #[doc = concat!("2-d ", $what, " pooling: `C` channels of `H × W`, windows of `K × K` at stride `S`, output `C` channels of `HO × WO`, `HO = (H - K) / S + 1`.")]
        ///
        /// No parameters, no padding. The window must fit the input and the stride must divide
        /// `H - K` and `W - K`; `HO` and `WO` must be the output sizes: compile errors otherwise.
        ///
        /// ```
        #[doc = $example2]
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq)]
        #[repr(C)]
        pub struct $two<T, const C: usize, const H: usize, const W: usize, const K: usize, const S: usize, const HO: usize, const WO: usize> {
            none: [T; 0],
        }

        // SAFETY: `#[repr(C)]` with one field `[T; 0]`: size 0, the alignment of `T`, no scalar.
        unsafe impl<T: Scalar, const C: usize, const H: usize, const W: usize, const K: usize, const S: usize, const HO: usize, const WO: usize> Params<T>
            for $two<T, C, H, W, K, S, HO, WO>
        {
            const LEN: usize = 0;
        }

        impl<T: Scalar, const C: usize, const H: usize, const W: usize, const K: usize, const S: usize, const HO: usize, const WO: usize>
            $two<T, C, H, W, K, S, HO, WO>
        {
            const CHECK: () = {
                assert!(C > 0 && H > 0 && W > 0, concat!(stringify!($two), ": the input C × H × W is empty"));
                assert!(K > 0 && S > 0, concat!(stringify!($two), ": the window K and the stride S must be at least 1"));
                assert!(K <= H && K <= W, concat!(stringify!($two), ": the window K is larger than the input H × W; use a smaller window"));
                assert!(
                    (H - K).is_multiple_of(S) && (W - K).is_multiple_of(S),
                    concat!(stringify!($two), ": the stride S does not divide H - K or W - K (the last rows or columns would be dropped); change the window or the stride")
                );
                assert!(
                    fits::<Valid>(H, K, S, HO) && fits::<Valid>(W, K, S, WO),
                    concat!(stringify!($two), ": HO × WO is not the output size: HO = (H - K) / S + 1, WO = (W - K) / S + 1")
                );
            };

            /// Output height.
            pub const OUT_HEIGHT: usize = output_len::<Valid>(H, K, S);
            /// Output width.
            pub const OUT_WIDTH: usize = output_len::<Valid>(W, K, S);

            /// The layer (it has no parameters); usable in a `const`.
            pub const fn new() -> Self {
                let () = Self::CHECK;
                Self { none: [] }
            }

            /// The same as [`new`](Self::new).
            pub const fn zeroed() -> Self {
                Self::new()
            }
        }

        impl<T: Scalar, const C: usize, const H: usize, const W: usize, const K: usize, const S: usize, const HO: usize, const WO: usize> Default
            for $two<T, C, H, W, K, S, HO, WO>
        {
            fn default() -> Self {
                Self::new()
            }
        }

        impl<T: Scalar, const C: usize, const H: usize, const W: usize, const K: usize, const S: usize, const HO: usize, const WO: usize> Direct<T>
            for $two<T, C, H, W, K, S, HO, WO>
        {
            #[inline(always)]
            fn pre_activation(&self, x: &[[[T; W]; H]; C], z: &mut [[[T; WO]; HO]; C]) {
                let () = Self::CHECK;
                pool_forward::<T, $max, C, H, W, K, K, HO, WO>(x, z, S);
            }
            #[inline(always)]
            fn activate<A: Activation>(z: &[[[T; WO]; HO]; C], a: &mut [[[T; WO]; HO]; C]) {
                activate::<A, T, WO, HO, C>(z, a);
            }
        }

        impl<T: Scalar, const C: usize, const H: usize, const W: usize, const K: usize, const S: usize, const HO: usize, const WO: usize> Layer<T>
            for $two<T, C, H, W, K, S, HO, WO>
        {
            type Input = [[[T; W]; H]; C];
            type Output = [[[T; WO]; HO]; C];
            const KIND: LayerKind = LayerKind::$kind2;
            const GEOMETRY: crate::layer::Geometry = crate::layer::Geometry::sliding::<Valid>(&[C, H, W], &[C, HO, WO], K, S);
            const WEIGHTS: usize = 0;
            const FAN_IN: usize = K * K;
            const FAN_OUT: usize = 1;
            const ZEROED: Self = Self::new();
            pool_methods!();
            #[inline]
            fn backward_params<const ACCUMULATE: bool>(&self, _: &Self::Input, _: &Self::Output, _: &mut Self) {}
            #[inline]
            fn backward_sgd(&mut self, x: &Self::Input, delta: &Self::Output, _: T, dx: &mut Self::Input) {
                pool_backward::<T, $max, C, H, W, K, K, HO, WO>(x, delta, dx, S);
            }
            #[inline]
            fn backward<const ACCUMULATE: bool>(&self, x: &Self::Input, delta: &Self::Output, _: &mut Self, dx: &mut Self::Input) {
                pool_backward::<T, $max, C, H, W, K, K, HO, WO>(x, delta, dx, S);
            }
        }

        #[doc = concat!("1-d ", $what, " pooling: `C` channels of length `L`, windows of `K` at stride `S`, output `C` channels of `LO = (L - K) / S + 1`.")]
        ///
        /// No parameters, no padding; the checks are the 2-d ones.
        ///
        /// ```
        #[doc = $example1]
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq)]
        #[repr(C)]
        pub struct $one<T, const C: usize, const L: usize, const K: usize, const S: usize, const LO: usize> {
            none: [T; 0],
        }

        // SAFETY: `#[repr(C)]` with one field `[T; 0]`: size 0, the alignment of `T`, no scalar.
        unsafe impl<T: Scalar, const C: usize, const L: usize, const K: usize, const S: usize, const LO: usize> Params<T> for $one<T, C, L, K, S, LO> {
            const LEN: usize = 0;
        }

        impl<T: Scalar, const C: usize, const L: usize, const K: usize, const S: usize, const LO: usize> $one<T, C, L, K, S, LO> {
            const CHECK: () = {
                assert!(C > 0 && L > 0, concat!(stringify!($one), ": the input C × L is empty"));
                assert!(K > 0 && S > 0, concat!(stringify!($one), ": the window K and the stride S must be at least 1"));
                assert!(K <= L, concat!(stringify!($one), ": the window K is longer than the input L; use a smaller window"));
                assert!(
                    (L - K).is_multiple_of(S),
                    concat!(stringify!($one), ": the stride S does not divide L - K (the last positions would be dropped); change the window or the stride")
                );
                assert!(fits::<Valid>(L, K, S, LO), concat!(stringify!($one), ": LO is not the output length (L - K) / S + 1"));
            };

            /// Output length.
            pub const OUT_LEN: usize = output_len::<Valid>(L, K, S);

            /// The layer (it has no parameters); usable in a `const`.
            pub const fn new() -> Self {
                let () = Self::CHECK;
                Self { none: [] }
            }

            /// The same as [`new`](Self::new).
            pub const fn zeroed() -> Self {
                Self::new()
            }
        }

        impl<T: Scalar, const C: usize, const L: usize, const K: usize, const S: usize, const LO: usize> Default for $one<T, C, L, K, S, LO> {
            fn default() -> Self {
                Self::new()
            }
        }

        impl<T: Scalar, const C: usize, const L: usize, const K: usize, const S: usize, const LO: usize> Direct<T> for $one<T, C, L, K, S, LO> {
            #[inline(always)]
            fn pre_activation(&self, x: &[[T; L]; C], z: &mut [[T; LO]; C]) {
                let () = Self::CHECK;
                pool_forward::<T, $max, C, 1, L, 1, K, 1, LO>(flatten(x), flatten_mut(z), S);
            }
            #[inline(always)]
            fn activate<A: Activation>(z: &[[T; LO]; C], a: &mut [[T; LO]; C]) {
                activate::<A, T, LO, 1, C>(flatten(z), flatten_mut(a));
            }
        }

        impl<T: Scalar, const C: usize, const L: usize, const K: usize, const S: usize, const LO: usize> Layer<T> for $one<T, C, L, K, S, LO> {
            type Input = [[T; L]; C];
            type Output = [[T; LO]; C];
            const KIND: LayerKind = LayerKind::$kind1;
            const GEOMETRY: crate::layer::Geometry = crate::layer::Geometry::sliding::<Valid>(&[C, L], &[C, LO], K, S);
            const WEIGHTS: usize = 0;
            const FAN_IN: usize = K;
            const FAN_OUT: usize = 1;
            const ZEROED: Self = Self::new();
            pool_methods!();
            #[inline]
            fn backward_params<const ACCUMULATE: bool>(&self, _: &Self::Input, _: &Self::Output, _: &mut Self) {}
            #[inline]
            fn backward_sgd(&mut self, x: &Self::Input, delta: &Self::Output, _: T, dx: &mut Self::Input) {
                pool_backward::<T, $max, C, 1, L, 1, K, 1, LO>(flatten(x), flatten(delta), flatten_mut(dx), S);
            }
            #[inline]
            fn backward<const ACCUMULATE: bool>(&self, x: &Self::Input, delta: &Self::Output, _: &mut Self, dx: &mut Self::Input) {
                pool_backward::<T, $max, C, 1, L, 1, K, 1, LO>(flatten(x), flatten(delta), flatten_mut(dx), S);
            }
        }
    };
}

/// The forward methods of every kind of this module, from its [`Direct`] implementation.
macro_rules! direct_methods {
    () => {
        #[inline]
        fn infer<A: Activation>(&self, x: &Self::Input) -> Self::Output {
            let mut z = <Self::Output as crate::layer::Shape>::ZERO;
            self.pre_activation(x, &mut z);
            let mut a = <Self::Output as crate::layer::Shape>::ZERO;
            <Self as Direct<T>>::activate::<A>(&z, &mut a);
            a
        }
        #[inline]
        fn forward<A: Activation>(&self, x: &Self::Input, trace: &mut LayerTrace<Self::Output>) {
            self.pre_activation(x, &mut trace.z);
            <Self as Direct<T>>::activate::<A>(&trace.z, &mut trace.a);
        }
        #[inline]
        fn forward_batch<A: Activation, const N: usize>(
            &self,
            xs: &[Self::Input],
            out: &mut LayerBatch<Self::Output, N>,
        ) {
            kernels::forward_batch::<T, Self, A, N>(self, xs, out);
        }
    };
}
pub(super) use direct_methods;

/// The methods of a kind without parameters that are the same for every such kind.
macro_rules! pool_methods {
    () => {
        direct_methods!();
        #[inline]
        fn sgd(&mut self, _: &Self::Input, _: &Self::Output, _: T) {}
        #[inline]
        fn backward_batch<const N: usize>(
            &self,
            below: &mut LayerBatch<Self::Input, N>,
            this: &LayerBatch<Self::Output, N>,
            grad: &mut Self,
        ) {
            kernels::backward_batch_input(self, below, this, grad);
        }
        #[inline]
        fn backward_batch_params<const N: usize>(
            &self,
            _: &[Self::Input],
            _: &LayerBatch<Self::Output, N>,
            _: &mut Self,
        ) {
        }
        #[inline]
        fn backward_batch_sgd<const N: usize>(
            &mut self,
            below: &mut LayerBatch<Self::Input, N>,
            this: &LayerBatch<Self::Output, N>,
            _: T,
            _: T,
            grad: &mut Self,
        ) {
            kernels::backward_batch_input(self, below, this, grad);
        }
        #[inline]
        fn batch_sgd<const N: usize>(
            &mut self,
            _: &[Self::Input],
            _: &LayerBatch<Self::Output, N>,
            _: T,
            _: T,
            _: &mut Self,
        ) {
        }
    };
}

pool_kind!(
    MaxPool2d,
    MaxPool1d,
    true,
    MaxPool2d,
    MaxPool1d,
    "max",
    "use backprop_core::conv::MaxPool2d;\nuse backprop_core::{Identity, Layer};\nlet pool = MaxPool2d::<f32, 1, 2, 4, 2, 2, 1, 2>::new();\nassert_eq!(pool.infer::<Identity>(&[[[1.0, 5.0, 0.0, 0.0], [2.0, 3.0, 0.0, -1.0]]]), [[[5.0, 0.0]]]);",
    "use backprop_core::conv::MaxPool1d;\nuse backprop_core::{Identity, Layer};\nlet pool = MaxPool1d::<f32, 1, 5, 3, 2, 2>::new();\nassert_eq!(pool.infer::<Identity>(&[[1.0, 5.0, 0.0, 2.0, -1.0]]), [[5.0, 2.0]]);"
);

pool_kind!(
    AvgPool2d,
    AvgPool1d,
    false,
    AvgPool2d,
    AvgPool1d,
    "average",
    "use backprop_core::conv::AvgPool2d;\nuse backprop_core::{Identity, Layer};\nlet pool = AvgPool2d::<f32, 1, 2, 4, 2, 2, 1, 2>::new();\nassert_eq!(pool.infer::<Identity>(&[[[1.0, 5.0, 0.0, 0.0], [2.0, 4.0, 0.0, -1.0]]]), [[[3.0, -0.25]]]);",
    "use backprop_core::conv::AvgPool1d;\nuse backprop_core::{Identity, Layer};\nlet pool = AvgPool1d::<f32, 1, 4, 2, 2, 2>::new();\nassert_eq!(pool.infer::<Identity>(&[[1.0, 5.0, 0.0, 2.0]]), [[3.0, 1.0]]);"
);

/// The global average pools: a mean per channel, `[T; C]` out, which a dense layer takes as it is.
macro_rules! global_pool {
    ($name:ident, $kind:ident, [$($dim:ident),*], $input:ty, $doc:literal, $example:literal) => {
        #[doc = $doc]
        ///
        /// No parameters. The output feeds a [`Dense`](crate::Dense) layer of `C` inputs directly.
        ///
        /// ```
        #[doc = $example]
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq)]
        #[repr(C)]
        pub struct $name<T, const C: usize, $(const $dim: usize),*> {
            none: [T; 0],
        }

        // SAFETY: `#[repr(C)]` with one field `[T; 0]`: size 0, the alignment of `T`, no scalar.
        unsafe impl<T: Scalar, const C: usize, $(const $dim: usize),*> Params<T> for $name<T, C, $($dim),*> {
            const LEN: usize = 0;
        }

        impl<T: Scalar, const C: usize, $(const $dim: usize),*> $name<T, C, $($dim),*> {
            const CHECK: () = assert!(C > 0 && 1 $(* $dim)* > 0, concat!(stringify!($name), ": the input is empty"));
            /// Positions averaged per channel.
            const AREA: usize = 1 $(* $dim)*;

            /// The layer (it has no parameters); usable in a `const`.
            pub const fn new() -> Self {
                let () = Self::CHECK;
                Self { none: [] }
            }

            /// The same as [`new`](Self::new).
            pub const fn zeroed() -> Self {
                Self::new()
            }
        }

        impl<T: Scalar, const C: usize, $(const $dim: usize),*> Default for $name<T, C, $($dim),*> {
            fn default() -> Self {
                Self::new()
            }
        }

        impl<T: Scalar, const C: usize, $(const $dim: usize),*> Direct<T> for $name<T, C, $($dim),*> {
            #[inline(always)]
            fn pre_activation(&self, x: &$input, z: &mut [T; C]) {
                let () = Self::CHECK;
                let inv = T::ONE / T::from_f64(Self::AREA as f64);
                for (z, xc) in z.iter_mut().zip(x) {
                    let mut sum = T::ZERO;
                    for &v in crate::layer::Shape::flat(xc) {
                        sum += v;
                    }
                    *z = sum * inv;
                }
            }
            #[inline(always)]
            fn activate<A: Activation>(z: &[T; C], a: &mut [T; C]) {
                A::forward(z, a);
            }
        }

        impl<T: Scalar, const C: usize, $(const $dim: usize),*> Layer<T> for $name<T, C, $($dim),*> {
            type Input = $input;
            type Output = [T; C];
            const KIND: LayerKind = LayerKind::$kind;
            const GEOMETRY: crate::layer::Geometry = crate::layer::Geometry::global(&[C, $($dim),*]);
            const WEIGHTS: usize = 0;
            const FAN_IN: usize = Self::AREA;
            const FAN_OUT: usize = 1;
            const ZEROED: Self = Self::new();
            pool_methods!();
            #[inline]
            fn backward_params<const ACCUMULATE: bool>(&self, _: &Self::Input, _: &Self::Output, _: &mut Self) {}
            #[inline]
            fn backward_sgd(&mut self, x: &Self::Input, delta: &Self::Output, _: T, dx: &mut Self::Input) {
                self.backward::<false>(x, delta, &mut Self::new(), dx);
            }
            #[inline]
            fn backward<const ACCUMULATE: bool>(&self, _: &Self::Input, delta: &Self::Output, _: &mut Self, dx: &mut Self::Input) {
                let inv = T::ONE / T::from_f64(Self::AREA as f64);
                for (dxc, &d) in dx.iter_mut().zip(delta) {
                    let share = d * inv;
                    for v in crate::layer::Shape::flat_mut(dxc) {
                        *v = share;
                    }
                }
            }
        }
    };
}

global_pool!(
    GlobalAvgPool2d,
    GlobalAvgPool2d,
    [H, W],
    [[[T; W]; H]; C],
    "Global average pooling over `C` channels of `H × W`: the mean of each channel, `[T; C]` out.",
    "use backprop_core::conv::GlobalAvgPool2d;\nuse backprop_core::{Identity, Layer};\nlet pool = GlobalAvgPool2d::<f32, 2, 1, 2>::new();\nassert_eq!(pool.infer::<Identity>(&[[[1.0, 3.0]], [[0.0, -1.0]]]), [2.0, -0.5]);"
);

global_pool!(
    GlobalAvgPool1d,
    GlobalAvgPool1d,
    [L],
    [[T; L]; C],
    "Global average pooling over `C` channels of length `L`: the mean of each channel, `[T; C]` out.",
    "use backprop_core::conv::GlobalAvgPool1d;\nuse backprop_core::{Identity, Layer};\nlet pool = GlobalAvgPool1d::<f32, 2, 2>::new();\nassert_eq!(pool.infer::<Identity>(&[[1.0, 3.0], [0.0, -1.0]]), [2.0, -0.5]);"
);
