//! Every convolutional and pooling kind's backward pass against finite differences, in `f64`.
//!
//! For each kind × activation (Identity, Relu, Tanh, Sigmoid) × padding (Valid, Same; the pools
//! have no padding, so Valid only) × stride (1, 2; the global pools have none), with odd sizes,
//! the loss is `L = Σ r ⊙ a` for a fixed random `r`, and the parameter gradients and `dL/dx` of
//! `backward` are compared with fourth-order central differences of `L` (step `H`):
//! `(-L(+2h) + 8 L(+h) - 8 L(-h) + L(-2h)) / 12h`.
//!
//! The error of an entry is `|g - fd| / max(|g|, |fd|, FLOOR)`: relative, with an absolute floor
//! of `FLOOR = 1e-5` only for entries whose true value is about 0 (all are exact zeros of the
//! backward pass: the weights of a relu filter that never fires, the inputs no max window picks,
//! the inputs a stride skips), where it bounds the absolute error by 1e-11; the finite
//! differences' rounding there is about 1e-12. Measured: 88 cases, 8392 entries (1335 exact
//! zeros), worst relative error 7.6e-9 above the floor, worst floored error 1.2e-7.
//!
//! No kink and no tie is ever crossed, by construction:
//! - the inputs have distinct magnitudes `0.5 + (k + 0.5) / N` (`k` a permutation of `0..N`), so
//!   two inputs differ by at least `1 / N ≥ 1/250`, more than the largest step `2h = 2e-3`,
//!   and no max-pool window has a tie;
//! - with Relu, a conv's inputs are all positive and each filter's weights and bias all have one
//!   sign (alternating between filters), so `|z| ≥ |b| ≥ 0.1` everywhere (the centre tap always
//!   lies inside the input, padding adds zeros); a pool's inputs have one sign per channel
//!   (alternating), so `|z| ≥ 0.5`.

use backprop_core::conv::output_len;
use backprop_core::{
    Activation, AvgPool1d, AvgPool2d, Conv1d, Conv2d, GlobalAvgPool1d, GlobalAvgPool2d, Identity, Layer,
    LayerTrace, MaxPool1d, MaxPool2d, Relu, Same, Shape, Sigmoid, Tanh, Valid,
};

/// The finite-difference step.
const H: f64 = 1e-3;
/// The absolute floor of the error's denominator, for true values about 0.
const FLOOR: f64 = 1e-5;
/// The largest error accepted.
const TOLERANCE: f64 = 1e-6;

/// SplitMix64: a fixed stream of test values.
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn sign(&mut self) -> f64 {
        if self.next() & 1 == 0 { 1.0 } else { -1.0 }
    }

    /// Distinct magnitudes `0.5 + (k + 0.5) / n` in shuffled order, signed by `sign(i)`.
    fn distinct(&mut self, out: &mut [f64], mut sign: impl FnMut(&mut Self, usize) -> f64) {
        let n = out.len();
        let mut k: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            k.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
        for (i, (o, k)) in out.iter_mut().zip(k).enumerate() {
            *o = sign(self, i) * (0.5 + (k as f64 + 0.5) / n as f64);
        }
    }
}

#[derive(Default, Debug)]
struct Worst {
    /// The largest error (with the floor).
    error: f64,
    /// Where it was.
    at: String,
    /// The largest purely relative error among entries with `|true| ≥ FLOOR`.
    relative: f64,
    /// Entries checked, and those below the floor.
    entries: usize,
    floored: usize,
}

impl Worst {
    fn add(&mut self, case: &str, what: &str, i: usize, g: f64, fd: f64) {
        let scale = g.abs().max(fd.abs());
        let e = (g - fd).abs() / scale.max(FLOOR);
        self.entries += 1;
        if scale < FLOOR {
            self.floored += 1;
        } else {
            self.relative = self.relative.max(e);
        }
        if e > self.error || self.at.is_empty() {
            self.error = e;
            self.at = format!("{case}: {what}[{i}]: backward {g:e}, finite difference {fd:e}");
        }
    }
}

fn loss<L: Layer<f64>, A: Activation>(layer: &L, x: &L::Input, r: &L::Output) -> f64 {
    let a = layer.infer::<A>(x);
    a.flat().iter().zip(r.flat()).map(|(a, r)| a * r).sum()
}

/// Fourth-order central difference of `f` at `v0`.
fn fd(v0: f64, mut f: impl FnMut(f64) -> f64) -> f64 {
    (-f(v0 + 2.0 * H) + 8.0 * f(v0 + H) - 8.0 * f(v0 - H) + f(v0 - 2.0 * H)) / (12.0 * H)
}

/// Checks one layer with activation `A` at input `x`; `N` is the output's length.
fn check<L: Layer<f64> + Copy, A: Activation, const N: usize>(
    case: &str,
    layer: L,
    x: L::Input,
    r: &L::Output,
    worst: &mut Worst,
) {
    assert_eq!(N, <L::Output as Shape>::LEN);
    // Backward: delta = r ⊙ f'(z), then the layer's backward pass.
    let mut trace = LayerTrace::<L::Output>::zeroed();
    layer.forward::<A>(&x, &mut trace);
    let mut flat = LayerTrace::<[f64; N]>::zeroed();
    flat.z.copy_from_slice(trace.z.flat());
    flat.a.copy_from_slice(trace.a.flat());
    flat.delta.copy_from_slice(r.flat());
    flat.activation_backward::<A>();
    trace.delta.flat_mut().copy_from_slice(&flat.delta);
    let (mut grad, mut dx) = (L::ZEROED, L::Input::ZERO);
    layer.backward::<false>(&x, &trace.delta, &mut grad, &mut dx);

    for (i, &g) in grad.params().iter().enumerate() {
        let d = fd(layer.params()[i], |v| {
            let mut m = layer;
            m.params_mut()[i] = v;
            loss::<L, A>(&m, &x, r)
        });
        let what = if i < L::WEIGHTS { "dw" } else { "db" };
        let j = if i < L::WEIGHTS { i } else { i - L::WEIGHTS };
        worst.add(case, what, j, g, d);
    }
    for (i, &g) in dx.flat().iter().enumerate() {
        let d = fd(x.flat()[i], |v| {
            let mut y = x;
            y.flat_mut()[i] = v;
            loss::<L, A>(&layer, &y, r)
        });
        worst.add(case, "dx", i, g, d);
    }
}

fn is_relu<A: Activation>() -> bool {
    core::any::type_name::<A>() == core::any::type_name::<Relu>()
}

/// A conv layer's parameters: random signs, or one sign per filter of `filter_len` weights for Relu.
fn conv_params<L: Layer<f64>>(s: &mut Stream, relu: bool, filters: usize) -> L {
    let mut l = L::ZEROED;
    let per = L::WEIGHTS / filters;
    let p = l.params_mut();
    let (w, b) = p.split_at_mut(L::WEIGHTS);
    for (i, w) in w.iter_mut().enumerate() {
        let sign = if relu { if (i / per).is_multiple_of(2) { 1.0 } else { -1.0 } } else { s.sign() };
        *w = sign * s.uniform(0.2, 1.0);
    }
    for (f, b) in b.iter_mut().enumerate() {
        let sign = if relu { if f.is_multiple_of(2) { 1.0 } else { -1.0 } } else { s.sign() };
        *b = sign * s.uniform(0.1, 0.5);
    }
    l
}

fn input<S: Shape<Scalar = f64>>(s: &mut Stream, relu: bool, channel_len: Option<usize>) -> S {
    let mut x = S::ZERO;
    s.distinct(x.flat_mut(), |s, i| match (relu, channel_len) {
        (true, None) => 1.0,
        (true, Some(n)) if (i / n).is_multiple_of(2) => 1.0,
        (true, Some(_)) => -1.0,
        (false, _) => s.sign(),
    });
    x
}

fn target<S: Shape<Scalar = f64>>(s: &mut Stream) -> S {
    let mut r = S::ZERO;
    r.flat_mut().iter_mut().for_each(|r| *r = s.uniform(-1.0, 1.0));
    r
}

macro_rules! for_activations {
    ($f:ident, $($args:tt)*) => {
        $f!(Identity, $($args)*);
        $f!(Relu, $($args)*);
        $f!(Tanh, $($args)*);
        $f!(Sigmoid, $($args)*);
    };
}

#[test]
fn every_kind_agrees_with_finite_differences() {
    let mut s = Stream(0x5EED_C0DE);
    let mut worst = Worst::default();
    let mut cases = 0;

    // Conv2d<T, P, C, H, W, F, K, S, HO, WO> on 2 × 7 × 9, 3 filters.
    macro_rules! conv2d {
        ($a:ident, $p:ident, $k:literal, $st:literal) => {{
            const HO: usize = output_len::<$p>(7, $k, $st);
            const WO: usize = output_len::<$p>(9, $k, $st);
            type L = Conv2d<f64, $p, 2, 7, 9, 3, $k, $st, HO, WO>;
            let relu = is_relu::<$a>();
            let layer: L = conv_params(&mut s, relu, 3);
            let x = input(&mut s, relu, None);
            let r = target(&mut s);
            let case = concat!("Conv2d<", stringify!($p), ", K=", $k, ", S=", $st, ">, ", stringify!($a));
            check::<L, $a, { 3 * HO * WO }>(case, layer, x, &r, &mut worst);
            cases += 1;
        }};
    }
    // Conv1d<T, P, C, L, F, K, S, LO> on 2 × 11, 3 filters.
    macro_rules! conv1d {
        ($a:ident, $p:ident, $k:literal, $st:literal) => {{
            const LO: usize = output_len::<$p>(11, $k, $st);
            type L = Conv1d<f64, $p, 2, 11, 3, $k, $st, LO>;
            let relu = is_relu::<$a>();
            let layer: L = conv_params(&mut s, relu, 3);
            let x = input(&mut s, relu, None);
            let r = target(&mut s);
            let case = concat!("Conv1d<", stringify!($p), ", K=", $k, ", S=", $st, ">, ", stringify!($a));
            check::<L, $a, { 3 * LO }>(case, layer, x, &r, &mut worst);
            cases += 1;
        }};
    }
    // The 2-d pools <T, C, H, W, K, S, HO, WO> on 2 × 7 × 9.
    macro_rules! pool2d {
        ($a:ident, $kind:ident, $st:literal) => {{
            const HO: usize = output_len::<Valid>(7, 3, $st);
            const WO: usize = output_len::<Valid>(9, 3, $st);
            type L = $kind<f64, 2, 7, 9, 3, $st, HO, WO>;
            let relu = is_relu::<$a>();
            let x = input(&mut s, relu, Some(7 * 9));
            let r = target(&mut s);
            let case = concat!(stringify!($kind), "<K=3, S=", $st, ">, ", stringify!($a));
            check::<L, $a, { 2 * HO * WO }>(case, L::ZEROED, x, &r, &mut worst);
            cases += 1;
        }};
    }
    // The 1-d pools <T, C, L, K, S, LO> on 2 × 11.
    macro_rules! pool1d {
        ($a:ident, $kind:ident, $st:literal) => {{
            const LO: usize = output_len::<Valid>(11, 3, $st);
            type L = $kind<f64, 2, 11, 3, $st, LO>;
            let relu = is_relu::<$a>();
            let x = input(&mut s, relu, Some(11));
            let r = target(&mut s);
            let case = concat!(stringify!($kind), "<K=3, S=", $st, ">, ", stringify!($a));
            check::<L, $a, { 2 * LO }>(case, L::ZEROED, x, &r, &mut worst);
            cases += 1;
        }};
    }
    macro_rules! global {
        ($a:ident,) => {{
            type G2 = GlobalAvgPool2d<f64, 3, 7, 9>;
            let relu = is_relu::<$a>();
            let x = input(&mut s, relu, Some(7 * 9));
            let r = target(&mut s);
            check::<G2, $a, 3>(concat!("GlobalAvgPool2d, ", stringify!($a)), G2::ZEROED, x, &r, &mut worst);
            type G1 = GlobalAvgPool1d<f64, 3, 11>;
            let x = input(&mut s, relu, Some(11));
            let r = target(&mut s);
            check::<G1, $a, 3>(concat!("GlobalAvgPool1d, ", stringify!($a)), G1::ZEROED, x, &r, &mut worst);
            cases += 2;
        }};
    }

    for_activations!(conv2d, Valid, 3, 1);
    for_activations!(conv2d, Valid, 3, 2);
    for_activations!(conv2d, Same, 3, 1);
    for_activations!(conv2d, Same, 3, 2);
    // An even kernel: Same pads asymmetrically (0 before, 1 after for stride 1).
    for_activations!(conv2d, Same, 2, 1);
    for_activations!(conv2d, Same, 2, 2);
    for_activations!(conv1d, Valid, 3, 1);
    for_activations!(conv1d, Valid, 3, 2);
    for_activations!(conv1d, Same, 3, 1);
    for_activations!(conv1d, Same, 3, 2);
    for_activations!(conv1d, Same, 2, 1);
    for_activations!(conv1d, Same, 2, 2);
    for_activations!(pool2d, MaxPool2d, 1);
    for_activations!(pool2d, MaxPool2d, 2);
    for_activations!(pool2d, AvgPool2d, 1);
    for_activations!(pool2d, AvgPool2d, 2);
    for_activations!(pool1d, MaxPool1d, 1);
    for_activations!(pool1d, MaxPool1d, 2);
    for_activations!(pool1d, AvgPool1d, 1);
    for_activations!(pool1d, AvgPool1d, 2);
    for_activations!(global,);

    eprintln!(
        "{cases} cases, {} entries ({} below the floor {FLOOR:e}): worst error {:e} at {}; worst relative error above the floor {:e}",
        worst.entries, worst.floored, worst.error, worst.at, worst.relative
    );
    assert!(worst.error <= TOLERANCE, "worst error {:e} at {}", worst.error, worst.at);
}
