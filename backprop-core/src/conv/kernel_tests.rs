//! The convolution kernels against the formula (in `f64`, the taps in the padding skipped), the
//! backends of the exact arithmetic against each other bit for bit, the `fma` feature's against
//! the formula, and a sample alone against the same sample in a batch, bit for bit.

// The reference is the formula with its indices, as written.
#![allow(clippy::needless_range_loop)]

use std::vec::Vec;

use super::grads::Update;
use super::kernels::{Call, Conv, Geometric, run};
use super::lanes::Exact;
use super::{AvgPool1d, AvgPool2d, Conv1d, Conv2d, MaxPool1d, MaxPool2d, Same, Valid};
use crate::layer::{Layer, LayerBatch, LayerTrace, Shape};
use crate::{Identity, Scalar};

/// Deterministic values in `[-1, 1)`, a different sequence for every seed.
fn fill<T: Scalar>(seed: u64, out: &mut [T]) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for v in out {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *v = T::from_f64((state >> 11) as f64 / (1u64 << 52) as f64 - 1.0);
    }
}

/// A sum as the formula gives it, in `f64`, with the sum of its terms' magnitudes and their count
/// (for a rigorous error bound).
#[derive(Clone, Copy, Default)]
struct Sum {
    value: f64,
    magnitude: f64,
    terms: usize,
}

impl Sum {
    fn add(&mut self, v: f64) {
        self.value += v;
        self.magnitude += v.abs();
        self.terms += 1;
    }

    /// Whether `got` is within the worst-case rounding of a sum of these terms in `T` (one
    /// rounding per product and per addition: `2 · terms · ε` of the magnitude), or within `1e-13`
    /// relative for `f64`.
    fn admits<T: Scalar>(&self, got: T) -> bool {
        let eps = T::EPSILON.to_f64().max(1e-13);
        (got.to_f64() - self.value).abs()
            <= 2.0 * (self.terms + 1) as f64 * eps * (self.magnitude + f64::MIN_POSITIVE)
    }
}

/// One convolution, as the kernels see it (a 1-d one is of height 1), and what the formula gives
/// for its samples: outputs, input gradients, weight and bias gradients (summed over the samples).
struct Formula {
    z: Vec<Sum>,
    dx: Vec<Sum>,
    dw: Vec<Sum>,
    db: Vec<Sum>,
}

#[allow(clippy::too_many_arguments)] // the sizes of a convolution
fn formula<
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
    b: &[T; F],
    xs: &[[[[T; W]; H]; C]],
    ds: &[[[[T; WO]; HO]; F]],
    (s, pt, pl): (usize, usize, usize),
) -> Formula {
    let n = xs.len();
    let mut r = Formula {
        z: std::vec![Sum::default(); n * F * HO * WO],
        dx: std::vec![Sum::default(); n * C * H * W],
        dw: std::vec![Sum::default(); F * C * KH * KW],
        db: std::vec![Sum::default(); F],
    };
    for (k, (x, d)) in xs.iter().zip(ds).enumerate() {
        for f in 0..F {
            for y in 0..HO {
                for xo in 0..WO {
                    let z = &mut r.z[((k * F + f) * HO + y) * WO + xo];
                    z.add(b[f].to_f64());
                    let dv = d[f][y][xo].to_f64();
                    r.db[f].add(dv);
                    for c in 0..C {
                        for ky in 0..KH {
                            for kx in 0..KW {
                                let (iy, ix) = (
                                    (y * s + ky) as isize - pt as isize,
                                    (xo * s + kx) as isize - pl as isize,
                                );
                                if iy < 0 || ix < 0 || iy >= H as isize || ix >= W as isize {
                                    continue;
                                }
                                let (iy, ix) = (iy as usize, ix as usize);
                                let (wv, xv) = (w[f][c][ky][kx].to_f64(), x[c][iy][ix].to_f64());
                                z.add(wv * xv);
                                r.dx[((k * C + c) * H + iy) * W + ix].add(wv * dv);
                                r.dw[((f * C + c) * KH + ky) * KW + kx].add(dv * xv);
                            }
                        }
                    }
                }
            }
        }
    }
    r
}

/// `got` against the formula, element by element.
fn check<T: Scalar>(what: &str, want: &[Sum], got: &[T]) {
    assert_eq!(want.len(), got.len(), "{what}: length");
    for (i, (w, &g)) in want.iter().zip(got).enumerate() {
        assert!(
            w.admits(g),
            "{what}[{i}]: {} against the formula's {} (terms {})",
            g.to_f64(),
            w.value,
            w.terms
        );
    }
}

/// Samples per test.
const SAMPLES: usize = 3;

/// Layer `L` of `T` with parameters, inputs and error signals from `seed`, checked through the
/// [`Layer`] methods: against the formula, and each sample alone against the tile, bit for bit.
fn layer<
    T: Scalar,
    L: Conv<T, C, H, W, F, KH, KW, HO, WO>,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    seed: u64,
) {
    let mut l = L::ZEROED;
    fill(seed, l.params_mut());
    let mut xs = [<L::Input as Shape>::ZERO; SAMPLES];
    let mut ds = [<L::Output as Shape>::ZERO; SAMPLES];
    for (k, (x, d)) in xs.iter_mut().zip(&mut ds).enumerate() {
        fill(seed + 10 + k as u64, x.flat_mut());
        fill(seed + 20 + k as u64, d.flat_mut());
    }
    let g = <L as super::kernels::Geometric>::SLIDING;
    let x3: &[[[[T; W]; H]; C]] = super::flatten_tile(&xs);
    let d3: &[[[[T; WO]; HO]; F]] = super::flatten_tile(&ds);
    let want = formula(l.kernels(), l.biases(), x3, d3, (g.s, g.pad_top, g.pad_left));

    // One sample at a time.
    let (mut zs, mut dxs) = (Vec::new(), Vec::new());
    let mut grad = L::ZEROED;
    for (k, (x, d)) in xs.iter().zip(&ds).enumerate() {
        let mut t = LayerTrace::<L::Output>::zeroed();
        l.forward::<Identity>(x, &mut t);
        zs.extend_from_slice(t.z.flat());
        let mut dx = <L::Input as Shape>::ZERO;
        if k == 0 {
            l.backward::<false>(x, d, &mut grad, &mut dx);
        } else {
            l.backward::<true>(x, d, &mut grad, &mut dx);
        }
        dxs.extend_from_slice(dx.flat());
    }
    check("z", &want.z, &zs);
    check("dx", &want.dx, &dxs);
    let (gw, gb) = grad.params().split_at(L::WEIGHTS);
    check("dw, sample by sample", &want.dw, gw);
    check("db, sample by sample", &want.db, gb);

    // The tile: the same outputs and input gradients, bit for bit; the gradient within rounding.
    let mut this = LayerBatch::<L::Output>::zeroed();
    l.forward_batch::<Identity, { crate::kernel::BATCH_TILE }>(&xs, &mut this);
    assert_eq!(this.z[..SAMPLES].iter().flat_map(|z| z.flat()).copied().collect::<Vec<T>>(), zs, "z: tile");
    this.delta[..SAMPLES].copy_from_slice(&ds);
    let mut below = LayerBatch::<L::Input>::zeroed();
    below.len = SAMPLES;
    below.a[..SAMPLES].copy_from_slice(&xs);
    let mut tile = L::ZEROED;
    l.backward_batch(&mut below, &this, &mut tile);
    assert_eq!(
        below.delta[..SAMPLES].iter().flat_map(|d| d.flat()).copied().collect::<Vec<T>>(),
        dxs,
        "dx: tile"
    );
    let (tw, tb) = tile.params().split_at(L::WEIGHTS);
    check("dw, tile", &want.dw, tw);
    check("db, tile", &want.db, tb);

    // One sample: the tile's SGD step is the sample's, bit for bit.
    let (mut alone, mut tiled, mut scratch) = (l.clone(), l, L::ZEROED);
    alone.sgd(&xs[0], &ds[0], T::HALF);
    this.len = 1;
    tiled.batch_sgd(&xs[..1], &this, T::ONE, T::HALF, &mut scratch);
    assert!(alone == tiled, "one sample: sgd and batch_sgd differ");
}

/// `layer` for `f64` and `f32` of one shape (`$kind<T, …>`).
macro_rules! both {
    ($seed:literal, $kind:ident<$($p:tt),*> as [$($dim:tt),*]) => {
        layer::<f64, $kind<f64, $($p),*>, $($dim),*>($seed);
        layer::<f32, $kind<f32, $($p),*>, $($dim),*>($seed);
    };
}

/// Runs `f` on a thread with a stack for the tiles of a LeNet layer (2.7 MB in `f64`).
fn with_big_stack(f: impl FnOnce() + Send + 'static) {
    let thread = std::thread::Builder::new().stack_size(64 << 20).spawn(f).expect("a test thread");
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn every_shape_agrees_with_the_formula_alone_and_in_a_tile() {
    with_big_stack(every_shape);
}

fn every_shape() {
    // Miri checks the memory accesses (the views of the parameters and planes), not the
    // arithmetic that the native runs check: two tiny shapes, a 2-d one with padding and a stride
    // and a 1-d one (the 2-d view of height 1). The shapes below took it over a quarter of an hour.
    both!(21, Conv2d<Same, 2, 5, 6, 2, 3, 2, 3, 3> as [2, 5, 6, 2, 3, 3, 3, 3]);
    both!(22, Conv1d<Valid, 1, 7, 2, 3, 1, 5> as [1, 1, 7, 2, 1, 3, 1, 5]);
    if cfg!(miri) {
        return;
    }
    both!(4, Conv2d<Same, 2, 9, 9, 3, 4, 1, 9, 9> as [2, 9, 9, 3, 4, 4, 9, 9]);
    both!(6, Conv2d<Valid, 2, 9, 11, 5, 3, 2, 4, 5> as [2, 9, 11, 5, 3, 3, 4, 5]);
    // LeNet's two convolutions.
    both!(1, Conv2d<Valid, 1, 28, 28, 6, 5, 1, 24, 24> as [1, 28, 28, 6, 5, 5, 24, 24]);
    both!(2, Conv2d<Valid, 6, 12, 12, 16, 5, 1, 8, 8> as [6, 12, 12, 16, 5, 5, 8, 8]);
    // Padding, rows of 13 (a partial vector), an even kernel (asymmetric padding), a stride.
    both!(3, Conv2d<Same, 3, 12, 13, 8, 5, 1, 12, 13> as [3, 12, 13, 8, 5, 5, 12, 13]);
    both!(5, Conv2d<Same, 3, 13, 11, 4, 3, 2, 7, 6> as [3, 13, 11, 4, 3, 3, 7, 6]);
    // One row: padding, and a kernel row longer than a tile's taps.
    both!(7, Conv1d<Same, 4, 40, 8, 5, 1, 40> as [4, 1, 40, 8, 1, 5, 1, 40]);
    both!(8, Conv1d<Valid, 2, 50, 4, 11, 1, 40> as [2, 1, 50, 4, 1, 11, 1, 40]);
    // Rows too long for the column sums of the input gradient: the transposed correlation.
    both!(9, Conv1d<Same, 2, 300, 3, 5, 1, 300> as [2, 1, 300, 3, 1, 5, 1, 300]);
}

/// The backends of this CPU on one `f32` shape, against [`Exact`] (bit for bit) and the formula.
#[cfg(all(target_arch = "x86_64", not(miri)))]
fn backends<
    L: Conv<f32, C, H, W, F, KH, KW, HO, WO>,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    seed: u64,
) {
    let mut l = L::ZEROED;
    fill(seed, l.params_mut());
    let mut xs = [[[[0.0f32; W]; H]; C]; SAMPLES];
    let mut ds = [[[[0.0f32; WO]; HO]; F]; SAMPLES];
    fill(seed + 1, xs.as_flattened_mut().as_flattened_mut().as_flattened_mut());
    fill(seed + 2, ds.as_flattened_mut().as_flattened_mut().as_flattened_mut());
    let g = <L as super::kernels::Geometric>::SLIDING;
    let want = formula(l.kernels(), l.biases(), &xs, &ds, (g.s, g.pad_top, g.pad_left));
    // Forward, input gradient (stride 1) and parameter gradients of every sample with the vectors
    // `V` (through `go`, which runs `run` with the target features `V` needs).
    let results = |go: &dyn Fn(Call<'_, f32, C, H, W, F, KH, KW, HO, WO>)| {
        let (w, b) = (l.kernels(), l.biases());
        let (mut zs, mut dxs) = (Vec::new(), Vec::new());
        for (x, d) in xs.iter().zip(&ds) {
            let mut z = [[[0.0f32; WO]; HO]; F];
            go(Call::Forward { w, b, x, z: &mut z });
            zs.extend_from_slice(z.as_flattened().as_flattened());
            let mut dx = [[[0.0f32; W]; H]; C];
            if g.s == 1 {
                go(Call::InputGrad { w, delta: d, dx: &mut dx });
            }
            dxs.extend_from_slice(dx.as_flattened().as_flattened());
        }
        let mut grad = L::ZEROED;
        let (gw, gb) = grad.parts_mut();
        go(Call::Grads { xs: &xs, ds: &ds, w: gw, b: gb, update: Update::Store });
        (zs, dxs, grad.params().to_vec())
    };
    let exact = results(&|call| run::<f32, Exact<f32>, L, false, C, H, W, F, KH, KW, HO, WO>(call));
    let params: Vec<Sum> = want.dw.iter().chain(&want.db).copied().collect();
    check("z, exact", &want.z, &exact.0);
    if g.s == 1 {
        check("dx, exact", &want.dx, &exact.1);
    }
    check("grad, exact", &params, &exact.2);
    if std::is_x86_feature_detected!("avx2") {
        /// `run` on AVX2 vectors.
        #[target_feature(enable = "avx2")]
        fn avx<
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
            call: Call<'_, f32, C, H, W, F, KH, KW, HO, WO>,
        ) {
            run::<f32, super::ymm::Avx, G, false, C, H, W, F, KH, KW, HO, WO>(call)
        }
        // SAFETY: the CPU has AVX2.
        let avx = results(&|call| unsafe { avx::<L, C, H, W, F, KH, KW, HO, WO>(call) });
        assert!(avx == exact, "AVX2 vectors and exact arrays differ");
    }
    #[cfg(feature = "fma")]
    if super::kernels::fused_available() {
        // SAFETY: the CPU has the features (`fused_available`).
        let fused =
            results(&|call| unsafe { super::kernels::fused::<f32, L, C, H, W, F, KH, KW, HO, WO>(call) });
        check("z, fused", &want.z, &fused.0);
        if g.s == 1 {
            check("dx, fused", &want.dx, &fused.1);
        }
        check("grad, fused", &params, &fused.2);
    }
}

// The CPU's backends: not Miri's business (it runs the exact arrays in the test above).
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[test]
fn every_backend_of_this_cpu_agrees() {
    backends::<Conv2d<f32, Valid, 1, 28, 28, 6, 5, 1, 24, 24>, 1, 28, 28, 6, 5, 5, 24, 24>(11);
    backends::<Conv2d<f32, Valid, 6, 12, 12, 16, 5, 1, 8, 8>, 6, 12, 12, 16, 5, 5, 8, 8>(12);
    backends::<Conv2d<f32, Same, 3, 12, 13, 8, 5, 1, 12, 13>, 3, 12, 13, 8, 5, 5, 12, 13>(13);
    backends::<Conv2d<f32, Same, 3, 13, 11, 4, 3, 2, 7, 6>, 3, 13, 11, 4, 3, 3, 7, 6>(14);
    backends::<Conv1d<f32, Valid, 2, 50, 4, 11, 1, 40>, 2, 1, 50, 4, 1, 11, 1, 40>(15);
    backends::<Conv1d<f32, Same, 2, 300, 3, 5, 1, 300>, 2, 1, 300, 3, 1, 5, 1, 300>(16);
}

/// Pooling layer `L` of `KH × KW` windows against the formula: the first largest value of each
/// window (or the mean), and the error signal to it (or spread evenly), summed where windows
/// overlap.
#[allow(clippy::too_many_arguments)] // the sizes of a pool
fn pool<
    L: Layer<f64>,
    const C: usize,
    const H: usize,
    const W: usize,
    const KH: usize,
    const KW: usize,
    const S: usize,
    const HO: usize,
    const WO: usize,
>(
    max: bool,
    seed: u64,
) {
    let l = L::ZEROED;
    let (mut x, mut d) = (<L::Input as Shape>::ZERO, <L::Output as Shape>::ZERO);
    fill(seed, x.flat_mut());
    fill(seed + 1, d.flat_mut());
    // Ties: every third value is the same, so some windows hold two largest values.
    for v in x.flat_mut().iter_mut().step_by(3) {
        *v = 0.5;
    }
    let (xv, dv) = (x.flat(), d.flat());
    let (mut z, mut dx) = (std::vec![0.0; C * HO * WO], std::vec![0.0; C * H * W]);
    for c in 0..C {
        for y in 0..HO {
            for xo in 0..WO {
                let at = |ky: usize, kx: usize| (c * H + y * S + ky) * W + xo * S + kx;
                let o = (c * HO + y) * WO + xo;
                let window = (0..KH).flat_map(|ky| (0..KW).map(move |kx| (ky, kx)));
                if max {
                    let (mut best, mut arg) = (f64::NEG_INFINITY, 0);
                    for (ky, kx) in window {
                        if xv[at(ky, kx)] > best {
                            (best, arg) = (xv[at(ky, kx)], at(ky, kx));
                        }
                    }
                    z[o] = best;
                    dx[arg] += dv[o];
                } else {
                    z[o] = window.clone().map(|(ky, kx)| xv[at(ky, kx)]).sum::<f64>() / (KH * KW) as f64;
                    for (ky, kx) in window {
                        dx[at(ky, kx)] += dv[o] / (KH * KW) as f64;
                    }
                }
            }
        }
    }
    let mut t = LayerTrace::<L::Output>::zeroed();
    l.forward::<Identity>(&x, &mut t);
    let mut got_dx = <L::Input as Shape>::ZERO;
    let mut grad = L::ZEROED;
    l.backward::<false>(&x, &d, &mut grad, &mut got_dx);
    for (&g, &w) in t.z.flat().iter().zip(&z).chain(got_dx.flat().iter().zip(&dx)) {
        assert!((g - w).abs() <= 1e-14 * (1.0 + w.abs()), "{}: {g} against {w}", core::any::type_name::<L>());
    }
}

#[test]
fn pools_agree_with_the_formula() {
    pool::<MaxPool2d<f64, 2, 8, 8, 2, 2, 4, 4>, 2, 8, 8, 2, 2, 2, 4, 4>(true, 1);
    pool::<MaxPool2d<f64, 2, 7, 9, 3, 2, 3, 4>, 2, 7, 9, 3, 3, 2, 3, 4>(true, 2);
    pool::<AvgPool2d<f64, 2, 8, 8, 2, 2, 4, 4>, 2, 8, 8, 2, 2, 2, 4, 4>(false, 3);
    pool::<AvgPool2d<f64, 3, 7, 7, 3, 1, 5, 5>, 3, 7, 7, 3, 3, 1, 5, 5>(false, 4);
    pool::<MaxPool1d<f64, 3, 9, 3, 3, 3>, 3, 1, 9, 1, 3, 3, 1, 3>(true, 5);
    pool::<AvgPool1d<f64, 2, 5, 2, 1, 4>, 2, 1, 5, 1, 2, 1, 1, 4>(false, 6);
}

/// Every tile shape sums each output in the same order: the same bits whichever
/// [`Tile::pick`](super::direct::Tile::pick) chooses, on a shape with padding, a partial vector
/// and several rows and channels per tile (and a budget of four vectors picks the smallest).
#[test]
fn every_tile_gives_the_same_bits() {
    use super::direct::{Plan, TILES, Tile, Weights, correlate};
    const C: usize = 3;
    const F: usize = 7;
    let mut w = [[[[0.0f64; 3]; 3]; C]; F];
    let (mut b, mut x) = ([0.0f64; F], [[[0.0f64; 11]; 9]; C]);
    fill(1, w.as_flattened_mut().as_flattened_mut().as_flattened_mut());
    fill(2, &mut b);
    fill(3, x.as_flattened_mut().as_flattened_mut());
    let plan = Plan { row0: 0, hi: 9, wi: 11, ho: 9, wo: 11, s: 1, pt: 1, pl: 1 };
    let out = |pick: usize| {
        let mut z = [[[0.0f64; 11]; 9]; F];
        let (xf, zf) = (x.as_flattened().as_flattened(), z.as_flattened_mut().as_flattened_mut());
        // A runtime `pick`: every arm of the macro is compiled.
        correlate!(pick, f64, Exact<f64>, 3, 3; &Weights::<f64, C, 3, 3, F, false>(&w), Some(&b), xf, zf, plan);
        z
    };
    let first = out(0);
    // Under Miri, which checks memory accesses (minutes for every tile), the widest and the last.
    for pick in (1..TILES.len()).filter(|&pick| !cfg!(miri) || pick == 7 || pick == TILES.len() - 1) {
        assert!(out(pick) == first, "tile {:?} differs", TILES[pick]);
    }
    assert_eq!(TILES[Tile::pick(&TILES, F, 9, 2, 1, 4)], Tile { ob: 1, r: 1, q: 1 });
}

/// The bits of `v`, sign of zero included.
fn bits<T: Scalar>(v: &[T]) -> Vec<u64> {
    v.iter().map(|v| v.to_f64().to_bits()).collect()
}

/// The scalar kernels of cores without vector units against the exact vector kernels on one shape,
/// bit for bit (signs of zeros included): forward, input gradient (stride 1) and parameter
/// gradients, with error signals of `+0` and `-0` (whole filters, and scattered) and for odd
/// seeds inputs of one sign, for lanes whose sums are zeros.
fn scalar_agrees<
    T: Scalar,
    L: Conv<T, C, H, W, F, KH, KW, HO, WO>,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    seed: u64,
) {
    let mut l = L::ZEROED;
    fill(seed, l.params_mut());
    let mut xs = [[[[T::ZERO; W]; H]; C]; SAMPLES];
    let mut ds = [[[[T::ZERO; WO]; HO]; F]; SAMPLES];
    fill(seed + 1, xs.as_flattened_mut().as_flattened_mut().as_flattened_mut());
    fill(seed + 2, ds.as_flattened_mut().as_flattened_mut().as_flattened_mut());
    for (k, v) in xs.as_flattened_mut().as_flattened_mut().as_flattened_mut().iter_mut().enumerate() {
        // Odd seeds: inputs of one sign (as pixels are), so that `-0 · x` lanes sum to `-0`.
        if seed % 2 == 1 && *v < T::ZERO {
            *v = -*v;
        }
        if k % 5 == 0 {
            *v = if k % 2 == 0 || seed % 2 == 1 { T::ZERO } else { -T::ZERO };
        }
    }
    for d in &mut ds {
        for (k, v) in d.as_flattened_mut().as_flattened_mut().iter_mut().enumerate() {
            if k % 3 == 0 {
                *v = if k % 2 == 0 { T::ZERO } else { -T::ZERO };
            }
        }
        d[0].as_flattened_mut().fill(-T::ZERO);
        if F > 1 {
            d[F - 1].as_flattened_mut().fill(T::ZERO);
        }
    }
    let g = <L as Geometric>::SLIDING;
    let results = |go: &dyn Fn(Call<'_, T, C, H, W, F, KH, KW, HO, WO>)| {
        let (w, b) = (l.kernels(), l.biases());
        let (mut zs, mut dxs) = (Vec::new(), Vec::new());
        for (x, d) in xs.iter().zip(&ds) {
            let mut z = [[[T::ZERO; WO]; HO]; F];
            go(Call::Forward { w, b, x, z: &mut z });
            zs.extend_from_slice(z.as_flattened().as_flattened());
            let mut dx = [[[T::ZERO; W]; H]; C];
            if g.s == 1 {
                go(Call::InputGrad { w, delta: d, dx: &mut dx });
            }
            dxs.extend_from_slice(dx.as_flattened().as_flattened());
        }
        let mut grads = Vec::new();
        for n in [1, SAMPLES] {
            let mut grad = L::ZEROED;
            let (gw, gb) = grad.parts_mut();
            go(Call::Grads { xs: &xs[..n], ds: &ds[..n], w: gw, b: gb, update: Update::Store });
            grads.extend_from_slice(grad.params());
        }
        (bits(&zs), bits(&dxs), bits(&grads))
    };
    let vector = results(&|call| run::<T, Exact<T>, L, false, C, H, W, F, KH, KW, HO, WO>(call));
    let scalar = results(&|call| run::<T, Exact<T>, L, true, C, H, W, F, KH, KW, HO, WO>(call));
    let name = core::any::type_name::<L>();
    assert!(scalar.0 == vector.0, "{name}: forward, scalar and vector kernels differ");
    assert!(scalar.1 == vector.1, "{name}: input gradient, scalar and vector kernels differ");
    assert!(scalar.2 == vector.2, "{name}: parameter gradients, scalar and vector kernels differ");
}

/// `scalar_agrees` for `f64` and `f32` of one shape (`$kind<T, …>`).
macro_rules! scalar_both {
    ($seed:literal, $kind:ident<$($p:tt),*> as [$($dim:tt),*]) => {
        scalar_agrees::<f64, $kind<f64, $($p),*>, $($dim),*>($seed);
        scalar_agrees::<f32, $kind<f32, $($p),*>, $($dim),*>($seed);
    };
}

/// The scalar kernels (which cores without vector units build) give the vector kernels' bits.
#[test]
fn the_scalar_kernels_give_the_vector_bits() {
    with_big_stack(|| {
        // The Cortex-M4F digits classifier's convolution (rows of 6 of a vector's 8 lanes).
        scalar_both!(31, Conv2d<Valid, 1, 8, 8, 8, 3, 1, 6, 6> as [1, 8, 8, 8, 3, 3, 6, 6]);
        scalar_both!(32, Conv2d<Same, 2, 5, 6, 2, 3, 2, 3, 3> as [2, 5, 6, 2, 3, 3, 3, 3]);
        scalar_both!(33, Conv1d<Valid, 1, 7, 2, 3, 1, 5> as [1, 1, 7, 2, 1, 3, 1, 5]);
        if cfg!(miri) {
            return;
        }
        scalar_both!(34, Conv2d<Same, 3, 12, 13, 8, 5, 1, 12, 13> as [3, 12, 13, 8, 5, 5, 12, 13]);
        scalar_both!(35, Conv2d<Same, 3, 13, 11, 4, 3, 2, 7, 6> as [3, 13, 11, 4, 3, 3, 7, 6]);
        scalar_both!(36, Conv2d<Same, 2, 9, 9, 3, 4, 1, 9, 9> as [2, 9, 9, 3, 4, 4, 9, 9]);
        scalar_both!(37, Conv2d<Valid, 6, 12, 12, 16, 5, 1, 8, 8> as [6, 12, 12, 16, 5, 5, 8, 8]);
        scalar_both!(38, Conv1d<Same, 4, 40, 8, 5, 1, 40> as [4, 1, 40, 8, 1, 5, 1, 40]);
        scalar_both!(39, Conv1d<Valid, 2, 50, 4, 11, 1, 40> as [2, 1, 50, 4, 1, 11, 1, 40]);
        scalar_both!(40, Conv1d<Same, 2, 300, 3, 5, 1, 300> as [2, 1, 300, 3, 1, 5, 1, 300]);
        scalar_both!(41, Conv1d<Same, 2, 21, 3, 9, 2, 11> as [2, 1, 21, 3, 1, 9, 1, 11]);
    });
}

/// Every scalar tile gives the bits of the vector kernels' tile of one row ([`TILES`]'s last,
/// which is what the scalar tiles follow: a kernel row outside the input left out, a column
/// outside it adding `0 · w`), signs of zero sums included.
///
/// [`TILES`]: super::direct::TILES
#[test]
fn every_scalar_tile_gives_the_bits_of_a_row_tile() {
    use super::direct::{Plan, TILES, Weights, correlate};
    const C: usize = 2;
    const F: usize = 7;
    let mut w = [[[[0.0f64; 3]; 3]; C]; F];
    let (mut b, mut x) = ([0.0f64; F], [[[0.0f64; 11]; 9]; C]);
    fill(1, w.as_flattened_mut().as_flattened_mut().as_flattened_mut());
    fill(2, &mut b);
    fill(3, x.as_flattened_mut().as_flattened_mut());
    // Zero sums: a filter of zeros with a bias of `-0`, and zero rows of the input.
    w[1] = [[[-0.0; 3]; 3]; C];
    b[1] = -0.0;
    b[2] = -0.0;
    w[2][0] = [[0.0; 3]; 3];
    x[1][4] = [-0.0; 11];
    x[1][5] = [0.0; 11];
    let plan = Plan { row0: 0, hi: 9, wi: 11, ho: 9, wo: 11, s: 1, pt: 1, pl: 1 };
    let (xf, weights) = (x.as_flattened().as_flattened(), Weights::<f64, C, 3, 3, F, false>(&w));
    let mut want = [[[0.0f64; 11]; 9]; F];
    let zf = want.as_flattened_mut().as_flattened_mut();
    correlate!(TILES.len() - 1, f64, Exact<f64>, 3, 3; &weights, Some(&b), xf, zf, plan);
    for pick in 0..super::scalar::TILES.len() {
        let mut z = [[[0.0f64; 11]; 9]; F];
        let zf = z.as_flattened_mut().as_flattened_mut();
        // A runtime `pick`: every arm of the macro is compiled.
        super::scalar::correlate!(pick, f64, 3, 3; &weights, Some(&b), xf, zf, plan);
        let (got, want) = (z.as_flattened().as_flattened(), want.as_flattened().as_flattened());
        assert!(bits(got) == bits(want), "scalar tile {:?} differs", super::scalar::TILES[pick]);
    }
}
