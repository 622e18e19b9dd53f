//! The kernels against their formulas and each other, bit for bit where the design promises it;
//! the FMA kernels in [`fused`].

use super::*;

#[cfg(all(feature = "fma", target_arch = "x86_64"))]
use super::backend::fused;

/// Deterministic values in `[-1, 1)`, different for every `seed`.
fn fill<const N: usize>(seed: u64) -> [f64; N] {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    core::array::from_fn(|_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    })
}

/// [`fill`] rounded to `f32`.
fn fill_f32<const N: usize>(seed: u64) -> [f32; N] {
    fill::<N>(seed).map(|v| v as f32)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

/// Every kernel against the textbook formula, and the kernels that must agree bit for bit
/// (one sample alone or in a tile, with or without the fused update) against each other.
fn check<const I: usize, const O: usize>() {
    let w: [[f64; I]; O] = core::array::from_fn(|o| fill(o as u64 + 1));
    let b: [f64; O] = fill(99);
    let xs: [[f64; I]; 45] = core::array::from_fn(|s| fill(1000 + s as u64));
    let deltas: [[f64; O]; 45] = core::array::from_fn(|s| fill(2000 + s as u64));
    let x = &xs[0];
    let delta = &deltas[0];

    // Forward, one sample.
    let mut z = [0.0; O];
    gemv(&w, &b, x, &mut z);
    for o in 0..O {
        let naive: f64 = b[o] + (0..I).map(|i| w[o][i] * x[i]).sum::<f64>();
        assert!(close(z[o], naive), "gemv {I}x{O}: {} vs {naive}", z[o]);
        assert_eq!(z[o], affine_dot(b[o], &w[o], x));
    }

    // Backward, one sample: dx = Wᵀ delta, grad = delta xᵀ; fused SGD agrees bit for bit.
    let mut grad = [[7.0; I]; O];
    let mut dx = [0.0; I];
    backward(&w, &mut grad, x, delta, &mut dx, false);
    for i in 0..I {
        let naive: f64 = (0..O).map(|o| delta[o] * w[o][i]).sum();
        assert!(close(dx[i], naive), "backward dx {I}x{O}");
    }
    for o in 0..O {
        for i in 0..I {
            assert_eq!(grad[o][i], delta[o] * x[i]);
        }
    }
    backward(&w, &mut grad, x, delta, &mut dx, true);
    assert_eq!(grad[O - 1][I - 1], 2.0 * delta[O - 1] * x[I - 1]);
    let mut outer_grad = [[7.0; I]; O];
    outer(&mut outer_grad, x, delta, false);
    outer(&mut outer_grad, x, delta, true);
    assert_eq!(outer_grad, grad);

    let step = -0.125;
    let (mut fused, mut first) = (w, w);
    let mut dx_fused = [0.0; I];
    backward_sgd(&mut fused, x, delta, step, &mut dx_fused);
    let mut first_b = b;
    sgd(&mut first, &mut first_b, x, delta, step);
    assert_eq!(dx_fused, dx);
    for o in 0..O {
        for i in 0..I {
            assert_eq!(fused[o][i], w[o][i] + (step * delta[o]) * x[i]);
        }
    }
    assert_eq!(fused, first);
    for o in 0..O {
        assert_eq!(first_b[o], b[o] + step * delta[o]);
    }

    // A tile of samples: every sample exactly as alone, for every count up to a tile.
    for n in [1, 3, 4, 5, 6, 7, 13, BATCH_TILE] {
        let mut zs = [[0.0; O]; BATCH_TILE];
        gemm(&w, &b, &xs[..n], &mut zs[..n]);
        let mut dxs = [[0.0; I]; BATCH_TILE];
        gemm_t(&w, &deltas[..n], &mut dxs[..n]);
        for s in 0..n {
            let mut z = [0.0; O];
            gemv(&w, &b, &xs[s], &mut z);
            assert_eq!(zs[s], z, "gemm {I}x{O}, {n} samples, sample {s}");
            let mut dx = [0.0; I];
            backward(&w, &mut [[0.0; I]; O], &xs[s], &deltas[s], &mut dx, false);
            assert_eq!(dxs[s], dx, "gemm_t {I}x{O}, {n} samples, sample {s}");
        }

        // Outer products: the sum over the samples, accumulated or as a fused mean step.
        let mut grad = [[1.0; I]; O];
        let mut grad_b = [1.0; O];
        gemm_outer(&mut grad, &mut grad_b, &xs[..n], &deltas[..n]);
        let (mut wn, mut bn) = (w, b);
        let (mut mean, mut mean_b) = ([[5.0; I]; O], [5.0; O]);
        let (scale, lr) = (1.0 / n as f64, 0.25);
        gemm_outer_sgd(&mut wn, &mut bn, &mut mean, &mut mean_b, &xs[..n], &deltas[..n], scale, lr);
        for o in 0..O {
            for i in 0..I {
                let naive: f64 = (0..n).map(|s| deltas[s][o] * xs[s][i]).sum();
                assert!(close(grad[o][i], 1.0 + naive), "gemm_outer {I}x{O}, {n} samples");
                assert!(close(mean[o][i], naive * scale));
                assert_eq!(wn[o][i], w[o][i] - lr * mean[o][i]);
            }
            let naive_b: f64 = (0..n).map(|s| deltas[s][o]).sum();
            assert!(close(grad_b[o], 1.0 + naive_b) && close(mean_b[o], naive_b * scale));
            assert_eq!(bn[o], b[o] - lr * mean_b[o]);
        }

        // Deferred updates: the samples' steps one after another, as `sgd` once per sample.
        let mut ranked = w;
        rank_update(&mut ranked, &xs[..n], &deltas[..n]);
        let (mut one_by_one, mut unused_b) = (w, b);
        for s in 0..n {
            sgd(&mut one_by_one, &mut unused_b, &xs[s], &deltas[s], 1.0);
        }
        assert_eq!(ranked, one_by_one, "rank_update {I}x{O}, {n} samples");
    }
}

/// The order every exact dot product follows, written out: lane `k` sums the products `k mod 8`
/// in order from `-0.0`, then `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`, then the
/// bias (below one chunk, the bias joins lane 0 instead).
fn spec_affine(bias: f32, w: &[f32], x: &[f32]) -> f32 {
    let mut lanes = [-0.0f32; LANES];
    for i in 0..w.len() {
        lanes[i % LANES] += w[i] * x[i];
    }
    if w.len() < LANES {
        lanes[0] = bias + w[0] * x[0];
        let lane = |k: usize| (k < w.len()).then(|| lanes[k]);
        let add = |a: Option<f32>, b: Option<f32>| match (a, b) {
            (Some(a), Some(b)) => Some(a + b),
            (a, None) => a,
            (None, b) => b,
        };
        let sum = add(
            add(add(lane(0), lane(4)), add(lane(2), lane(6))),
            add(add(lane(1), lane(5)), add(lane(3), lane(7))),
        );
        return sum.unwrap();
    }
    bias + (((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7])))
}

#[test]
fn kernels_match_the_formulas_for_every_remainder() {
    // Sizes that exercise every tail: of the 8 lanes, the 16 columns, the 8-row, 4-row and
    // 6-row blocks, and sizes below each.
    check::<1, 1>();
    check::<3, 2>();
    check::<17, 7>();
    // Under Miri (run in CI for the unsafe parameter views), the small sizes suffice: the
    // kernels are safe code.
    #[cfg(not(miri))]
    {
        check::<2, 3>();
        check::<8, 8>();
        check::<33, 13>();
        check::<40, 6>();
        check::<64, 19>();
        check::<300, 20>();
    }
}

/// In `f32`, a kernel inlined or in a function of its own (the AVX2 backend where the CPU has
/// it) gives the bits of [`affine_dot`] and of the written lane order ([`spec_affine`]), one
/// sample or a batch: checked on sizes that take each backend and every remainder of the 8 lanes. A sum of `-0.0` products stays `-0.0` (the elements past
/// the last chunk are padded with products of exactly `-0.0`, which must change nothing).
#[test]
fn f32_forward_is_the_same_bits_whichever_backend() {
    fn check<const I: usize, const O: usize>() {
        let w: [[f32; I]; O] = core::array::from_fn(|o| fill_f32(o as u64 + 7));
        let b: [f32; O] = fill_f32::<O>(5);
        let xs: [[f32; I]; 5] = core::array::from_fn(|s| fill_f32(300 + s as u64));
        let mut zs = [[0.0f32; O]; 5];
        gemm(&w, &b, &xs, &mut zs);
        for (x, batched) in xs.iter().zip(&zs) {
            let mut z = [0.0f32; O];
            gemv(&w, &b, x, &mut z);
            for o in 0..O {
                let want = affine_dot(b[o], &w[o], x).to_bits();
                assert_eq!(want, spec_affine(b[o], &w[o], x).to_bits(), "{I}x{O} affine_dot, row {o}");
                assert_eq!(z[o].to_bits(), want, "{I}x{O} gemv, row {o}");
                assert_eq!(batched[o].to_bits(), want, "{I}x{O} gemm, row {o}");
            }
        }
        // Weights of -0.0 and positive inputs: every product and every lane is -0.0.
        let (w, b, x) = ([[-0.0f32; I]; O], [-0.0f32; O], [1.0f32; I]);
        let mut z = [1.0f32; O];
        gemv(&w, &b, &x, &mut z);
        assert!(z.iter().all(|z| z.to_bits() == (-0.0f32).to_bits()), "{I}x{O}: {z:?}");
    }
    check::<3, 5>(); // below one chunk: the bias in lane 0
    check::<8, 4>(); // inlined
    check::<16, 16>(); // outlined
    check::<64, 32>();
    check::<72, 9>();
    check::<300, 3>();
    // Every remainder of the 8 lanes, inlined and outlined.
    check::<9, 9>();
    check::<10, 17>();
    check::<11, 4>();
    check::<12, 8>();
    check::<13, 33>();
    check::<14, 2>();
    check::<15, 1>();
    check::<23, 12>();
    check::<50, 32>();
    check::<100, 30>();
}

/// In `f32`, the row-by-row updates ([`sgd`], [`outer`]) compute the written formulas bit for
/// bit, whichever way they run (with AVX enabled at compile time, vectors written out; CI runs
/// these tests so), on rows with and without a remainder of the 8 lanes.
#[test]
fn f32_row_updates_are_the_formulas_bit_for_bit() {
    fn check<const I: usize, const O: usize>() {
        let w: [[f32; I]; O] = core::array::from_fn(|o| fill_f32(o as u64 + 11));
        let b: [f32; O] = fill_f32::<O>(3);
        let x: [f32; I] = fill_f32(77);
        let delta: [f32; O] = fill_f32::<O>(78);
        let step = -0.03125f32 * 3.0;
        let (mut updated, mut updated_b) = (w, b);
        sgd(&mut updated, &mut updated_b, &x, &delta, step);
        let mut grad = w;
        outer(&mut grad, &x, &delta, true);
        let mut fresh = [[1.0f32; I]; O];
        outer(&mut fresh, &x, &delta, false);
        for o in 0..O {
            let scaled = step * delta[o];
            assert_eq!(updated_b[o].to_bits(), (b[o] + scaled).to_bits());
            for i in 0..I {
                assert_eq!(updated[o][i].to_bits(), (w[o][i] + scaled * x[i]).to_bits(), "sgd {I}x{O}");
                assert_eq!(grad[o][i].to_bits(), (w[o][i] + delta[o] * x[i]).to_bits(), "outer += {I}x{O}");
                assert_eq!(fresh[o][i].to_bits(), (delta[o] * x[i]).to_bits(), "outer = {I}x{O}");
            }
        }
        // The deferred updates of 5 samples, each weight's products in the samples' order.
        let xs: [[f32; I]; 5] = core::array::from_fn(|s| fill_f32(90 + s as u64));
        let steps: [[f32; O]; 5] = core::array::from_fn(|s| fill_f32(95 + s as u64));
        let mut ranked = w;
        rank_update(&mut ranked, &xs, &steps);
        for o in 0..O {
            for i in 0..I {
                let spec = (0..5).fold(w[o][i], |w, s| w + steps[s][o] * xs[s][i]);
                assert_eq!(ranked[o][i].to_bits(), spec.to_bits(), "rank_update {I}x{O}");
            }
        }
    }
    check::<2, 2>(); // inlined
    check::<16, 16>(); // outlined, whole vectors
    check::<13, 40>(); // one vector and a remainder
    check::<100, 3>();
}

/// [`sgd`] on `O = 6` rows whose error signals are `+0`, `-0`, a value, the smallest positive
/// one (whose scaled value underflows to zero), another value and `+0`, with an infinite
/// input: rows of at least [`SKIP_ZERO_ROWS`] inputs with a zero scaled signal keep their bits
/// (the formula would have made the infinite column NaN, and turned the `-0.0` weight of row
/// 1, whose scaled signal is `+0`, into `+0.0`); shorter rows, and every row with a signal, get `update(w, step·delta, x)`
/// bit for bit, their biases `b + step·delta`.
fn check_zero_rows<T: Scalar, const I: usize>(update: impl Fn(T, T, T) -> T) {
    const O: usize = 6;
    let from = |v: f64| T::from_f64(v);
    let bits = |v: T| v.to_f64().to_bits();
    let mut w: [[T; I]; O] = core::array::from_fn(|o| fill::<I>(o as u64 + 31).map(from));
    w[1][3] = -T::ZERO;
    let b: [T; O] = fill::<O>(37).map(from);
    let mut x: [T; I] = fill::<I>(38).map(|v| from(v.abs() + 0.5));
    x[7] = T::INFINITY;
    let smallest = T::MIN_POSITIVE * T::EPSILON;
    let delta = [T::ZERO, -T::ZERO, from(0.75), smallest, from(-0.5), T::ZERO];
    let step = from(-0.125);
    assert!(step * smallest == T::ZERO, "the smallest signal's step underflows");

    let (mut updated, mut updated_b) = (w, b);
    sgd(&mut updated, &mut updated_b, &x, &delta, step);
    for o in 0..O {
        let scaled = step * delta[o];
        let skipped = I >= SKIP_ZERO_ROWS && scaled == T::ZERO;
        let want_b = if skipped { b[o] } else { b[o] + scaled };
        assert_eq!(bits(updated_b[o]), bits(want_b), "bias {o}, {I} inputs");
        for i in 0..I {
            let want = if skipped { w[o][i] } else { update(w[o][i], scaled, x[i]) };
            let (got, want) = (updated[o][i], want);
            let same = bits(got) == bits(want) || (got.to_f64().is_nan() && want.to_f64().is_nan());
            assert!(same, "{} row {o} column {i}, {I} inputs: {got:?} vs {want:?}", T::NAME);
        }
    }
    // One deferred step is the same SGD step, to the bit.
    let mut ranked = w;
    let steps = delta.map(|d| step * d);
    rank_update(&mut ranked, core::slice::from_ref(&x), core::slice::from_ref(&steps));
    for o in 0..O {
        let (r, u) = (ranked[o], updated[o]);
        let same = |i: usize| bits(r[i]) == bits(u[i]) || (r[i].to_f64().is_nan() && u[i].to_f64().is_nan());
        assert!((0..I).all(same), "rank_update of one sample, row {o}, {I} inputs");
    }
    // What skipping changes, and what it leaves: the infinite column and the `-0.0` weight.
    let long = I >= SKIP_ZERO_ROWS;
    assert_eq!(updated[0][7].to_f64().is_nan(), !long);
    assert_eq!(updated[1][3].to_f64().is_sign_negative(), long);
    assert!(updated[2][7].to_f64().is_infinite() && updated[2][0] != w[2][0]);
}

#[test]
fn sgd_leaves_long_rows_with_a_zero_signal_alone() {
    check_zero_rows::<f64, 300>(|w, s, x| w + s * x);
    check_zero_rows::<f64, { SKIP_ZERO_ROWS - 1 }>(|w, s, x| w + s * x);
    check_zero_rows::<f32, 300>(|w, s, x| w + s * x);
    check_zero_rows::<f32, { SKIP_ZERO_ROWS }>(|w, s, x| w + s * x);
    check_zero_rows::<f32, 13>(|w, s, x| w + s * x);
}

/// Random `f32`s: sign and mantissa at random, exponents within 2^±16, so sums round and cancel.
#[cfg_attr(miri, allow(dead_code))] // for the x86 tests, which Miri does not run
fn random_f32s<const N: usize>(state: &mut u32) -> [f32; N] {
    core::array::from_fn(|_| {
        *state ^= *state << 13;
        *state ^= *state >> 17;
        *state ^= *state << 5;
        let exponent = 127 - 16 + (*state >> 23) % 33;
        f32::from_bits((*state & 0x807f_ffff) | (exponent << 23))
    })
}

/// The `x86_64` vectors reduce 8 lanes as [`Array`](lanes::Array) does, bit for bit, on values of
/// every magnitude and sign.
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[test]
fn x86_reductions_are_the_portable_one_bit_for_bit() {
    use lanes::Lanes as _;
    let mut state = 0x2545_f491_u32;
    let avx = std::is_x86_feature_detected!("avx").then(|| unsafe { x86::Avx::new() });
    for _ in 0..100_000 {
        let lanes: [f32; 8] = random_f32s(&mut state);
        let portable = portable::reduce::<f32, 8>(|k| lanes[k]).to_bits();
        let plain = lanes::Array::<f32>::new();
        assert_eq!(plain.reduce(plain.load(&lanes)).to_bits(), portable, "{lanes:?}");
        let sse = x86::Sse2;
        assert_eq!(sse.reduce(sse.load(&lanes)).to_bits(), portable, "{lanes:?}");
        if let Some(avx) = avx {
            assert_eq!(avx.reduce(avx.load(&lanes)).to_bits(), portable, "{lanes:?}");
        }
    }
}

/// Every exact kernel on `f32` gives the same bits on every instruction set: plain Rust
/// ([`Array`](lanes::Array) lanes, as on targets without vectors written out), and on `x86_64`
/// SSE2 vectors and, where the CPU has it, AVX vectors. Sizes with and without remainders.
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[test]
fn exact_kernels_are_the_same_bits_on_every_instruction_set() {
    use std::vec::Vec;
    /// Every kernel's outputs on one instruction set, as bits.
    fn run<Y: lanes::Isa, const I: usize, const O: usize>(isa: Y, seed: u32) -> Vec<u32> {
        let mut state = seed;
        let w: [[f32; I]; O] = core::array::from_fn(|_| random_f32s(&mut state));
        let b: [f32; O] = random_f32s(&mut state);
        let xs: [[f32; I]; 13] = core::array::from_fn(|_| random_f32s(&mut state));
        let deltas: [[f32; O]; 13] = core::array::from_fn(|_| random_f32s(&mut state));
        let mut out = Vec::new();
        let mut bits = |v: &[f32]| out.extend(v.iter().map(|v| v.to_bits()));
        let mut z = [0.0; O];
        portable::gemv(isa, &w, &b, &xs[0], &mut z);
        bits(&z);
        let mut zs = [[0.0; O]; 13];
        portable::gemm(isa, &w, &b, &xs, &mut zs);
        bits(zs.as_flattened());
        for accumulate in [false, true] {
            let (mut grad, mut dx) = (w, [0.0; I]);
            portable::backward(isa, &w, &mut grad, &xs[1], &deltas[1], &mut dx, accumulate);
            bits(grad.as_flattened());
            bits(&dx);
            let mut grad = w;
            portable::outer(isa, &mut grad, &xs[2], &deltas[2], accumulate);
            bits(grad.as_flattened());
        }
        let (mut updated, mut dx) = (w, [0.0; I]);
        portable::backward_sgd(isa, &mut updated, &xs[3], &deltas[3], -0.25, &mut dx);
        bits(updated.as_flattened());
        bits(&dx);
        let (mut updated, mut updated_b) = (w, b);
        portable::sgd(isa, &mut updated, &mut updated_b, &xs[4], &deltas[4], -0.25);
        bits(updated.as_flattened());
        bits(&updated_b);
        let mut dxs = [[0.0; I]; 13];
        portable::gemm_t(isa, &w, &deltas, &mut dxs);
        bits(dxs.as_flattened());
        let (mut grad, mut grad_b) = (w, b);
        portable::gemm_outer(isa, &mut grad, &mut grad_b, &xs, &deltas, None);
        bits(grad.as_flattened());
        bits(&grad_b);
        let (mut wn, mut bn, mut grad, mut grad_b) = (w, b, w, b);
        let sgd = Some((&mut wn, &mut bn, 1.0 / 13.0, 0.5));
        portable::gemm_outer(isa, &mut grad, &mut grad_b, &xs, &deltas, sgd);
        for v in [wn.as_flattened(), &bn, grad.as_flattened(), &grad_b] {
            bits(v);
        }
        let mut ranked = w;
        portable::rank_update(isa, &mut ranked, &xs, &deltas);
        bits(ranked.as_flattened());
        out
    }
    fn check<const I: usize, const O: usize>() {
        let avx = std::is_x86_feature_detected!("avx").then(|| unsafe { x86::Avx::new() });
        for seed in [0x2545_f491, 0x9e37_79b9, 77] {
            let plain = run::<_, I, O>(lanes::Plain, seed);
            assert!(plain == run::<_, I, O>(x86::Sse2, seed), "{I}x{O}: SSE2 against plain Rust");
            if let Some(avx) = avx {
                assert!(plain == run::<_, I, O>(avx, seed), "{I}x{O}: AVX against plain Rust");
            }
        }
    }
    check::<3, 5>();
    check::<8, 8>();
    check::<16, 16>();
    check::<17, 7>();
    check::<40, 13>();
    check::<64, 32>();
    check::<100, 30>();
}

/// `data` copied into `buffer` at `offset` floats past a 64-byte boundary, as rows of `N` (for
/// tests of kernels whose loads depend on alignment).
#[cfg(target_arch = "x86_64")]
#[cfg_attr(miri, allow(dead_code))] // as `random_f32s`
fn place<'a, const N: usize>(buffer: &'a mut [f32], data: &[[f32; N]], offset: usize) -> &'a mut [[f32; N]] {
    let at = buffer.as_ptr().align_offset(64) + offset;
    buffer[at..at + data.len() * N].copy_from_slice(data.as_flattened());
    &mut buffer[at..].as_chunks_mut::<N>().0[..data.len()]
}

/// On a CPU with AVX-512F and DQ, the exact batched kernels run on 512-bit vectors
/// (`backend::Avx512`: the outer products 16 columns per vector, `W x` two samples per vector):
/// bit for bit those of the 8-lane kernels in plain Rust, for every remainder of rows, columns
/// and pairs of samples, 1 to 33 samples (zeros of both signs among the values, and infinities in
/// `W x`), and several offsets of the matrices and the samples from a 64-byte boundary.
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[test]
fn exact_batch_kernels_on_512_bits_are_the_8_lane_bits() {
    use backend::Backend;
    use std::vec::Vec;
    fn check<const I: usize, const O: usize>() {
        let mut state = 0x1234_5678 ^ (I * 131 + O) as u32;
        let w: Vec<[f32; I]> = (0..O).map(|_| random_f32s(&mut state)).collect();
        let grad: Vec<[f32; I]> = (0..O).map(|_| random_f32s(&mut state)).collect();
        let b: [f32; O] = random_f32s(&mut state);
        let mut buffers = [(); 3].map(|()| std::vec![0.0f32; I * O + 32]);
        for n in [1, 2, 5, 7, 12, 16, BATCH_TILE - 1, BATCH_TILE, BATCH_TILE + 1] {
            let mut xs: Vec<[f32; I]> = (0..n).map(|_| random_f32s(&mut state)).collect();
            let mut deltas: Vec<[f32; O]> = (0..n).map(|_| random_f32s(&mut state)).collect();
            xs[0][0] = -0.0;
            xs[0][1 % I] = 0.0;
            deltas[n - 1][O - 1] = 0.0;
            if n > 1 {
                deltas[1] = [-0.0; O];
            }
            let mut x_buffer = std::vec![0.0f32; n * I + 32];
            for offset in [0, 1, 4, 9, 15] {
                let placed_xs: &[[f32; I]] = place(&mut x_buffer, &xs, (offset * 7) % 16);
                let [wb, gb, rb] = &mut buffers;
                let wide_w: &mut [[f32; I]; O] = place(wb, &w, offset).try_into().unwrap();
                let wide_grad: &mut [[f32; I]; O] =
                    place(gb, &grad, (offset * 5 + 3) % 16).try_into().unwrap();
                let mut wide_b = b;
                let mut wide_grad_b = b;
                let (scale, lr) = (1.0 / n as f32, 0.5f32);
                let sgd = Some((&mut *wide_w, &mut wide_b, scale, lr));
                // SAFETY: `T` is `f32` and the CPU has AVX-512F, as `Avx512` requires.
                unsafe { backend::Avx512::gemm_outer(wide_grad, &mut wide_grad_b, placed_xs, &deltas, sgd) };
                let mut narrow_w: [[f32; I]; O] = w.clone().try_into().unwrap();
                let mut narrow_grad: [[f32; I]; O] = grad.clone().try_into().unwrap();
                let (mut narrow_b, mut narrow_grad_b) = (b, b);
                let sgd = Some((&mut narrow_w, &mut narrow_b, scale, lr));
                portable::gemm_outer(lanes::Plain, &mut narrow_grad, &mut narrow_grad_b, &xs, &deltas, sgd);
                let at = |what: &str| std::format!("{what} {I}x{O}, {n} samples, offset {offset}");
                let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same(wide_grad.as_flattened(), narrow_grad.as_flattened()),
                    "{}",
                    at("mean gradient")
                );
                assert!(same(wide_w.as_flattened(), narrow_w.as_flattened()), "{}", at("weights"));
                assert!(same(&wide_b, &narrow_b) && same(&wide_grad_b, &narrow_grad_b), "{}", at("biases"));

                let summed: &mut [[f32; I]; O] = place(gb, &grad, offset).try_into().unwrap();
                let mut summed_b = b;
                // SAFETY: as above.
                unsafe { backend::Avx512::gemm_outer(summed, &mut summed_b, placed_xs, &deltas, None) };
                let mut narrow: [[f32; I]; O] = grad.clone().try_into().unwrap();
                let mut narrow_b = b;
                portable::gemm_outer(lanes::Plain, &mut narrow, &mut narrow_b, &xs, &deltas, None);
                assert!(same(summed.as_flattened(), narrow.as_flattened()), "{}", at("summed gradient"));

                let mut infinite = w.clone();
                infinite[0][1 % I] = f32::INFINITY;
                infinite[O - 1][I - 1] = f32::NEG_INFINITY;
                let placed_w: &mut [[f32; I]; O] =
                    place(rb, &infinite, (offset * 3) % 16).try_into().unwrap();
                let placed_w = &*placed_w;
                let (mut wide_zs, mut narrow_zs) = (std::vec![[0.0f32; O]; n], std::vec![[0.0f32; O]; n]);
                // SAFETY: as above.
                unsafe { backend::Avx512::gemm(placed_w, &b, placed_xs, &mut wide_zs) };
                portable::gemm(lanes::Plain, placed_w, &b, &xs, &mut narrow_zs);
                assert!(same(wide_zs.as_flattened(), narrow_zs.as_flattened()), "{}", at("W x"));

                let ranked: &mut [[f32; I]; O] = place(rb, &w, (offset * 3) % 16).try_into().unwrap();
                // SAFETY: as above.
                unsafe { backend::Avx512::rank_update(ranked, placed_xs, &deltas) };
                let mut narrow: [[f32; I]; O] = w.clone().try_into().unwrap();
                portable::rank_update(lanes::Plain, &mut narrow, &xs, &deltas);
                assert!(same(ranked.as_flattened(), narrow.as_flattened()), "{}", at("rank update"));
            }
        }
    }
    if !backend::has_avx512() {
        std::println!(
            "no AVX-512F and DQ here (or BACKPROP_EXACT=avx2): the 512-bit exact kernels are not tested"
        );
        return;
    }
    check::<3, 5>();
    check::<8, 9>();
    check::<16, 16>();
    check::<17, 7>();
    check::<40, 13>();
    check::<64, 32>();
    check::<100, 30>();
    check::<784, 13>();
}

/// The `fma` feature's kernels, on a CPU with AVX-512F: bit for bit against their written
/// specification (16 lanes of `mul_add` in order from `-0.0`, then the fixed tree), close to
/// the exact sums in `f64`, and the same bits for a sample alone or in a batch and for
/// `Wᵀ delta` whichever kernel computes it.
#[cfg(all(feature = "fma", target_arch = "x86_64"))]
mod fused;

#[test]
fn unused_lanes_cost_nothing_and_change_nothing() {
    // `-0.0` is the identity of addition: a product of `-0.0` stays `-0.0`.
    assert_eq!(dot(&[-0.0f64], &[1.0]).to_bits(), (-0.0f64).to_bits());
    assert_eq!(dot(&[2.0f32, 3.0], &[4.0, 5.0]), 23.0);
}

/// The batched kernels take one entry per sample in each slice; slices of different lengths are
/// the caller's bug, which debug builds catch (here `gemm` would have written the outputs of
/// samples 1, 2 and 5).
#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "one output per sample")]
fn gemm_rejects_slices_of_different_lengths() {
    gemm(&[[1.0f64]], &[0.0], &[[1.0], [2.0], [3.0], [4.0], [5.0]], &mut [[0.0]; 3]);
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "one output per sample")]
fn gemm_t_rejects_slices_of_different_lengths() {
    gemm_t(&[[1.0f64]], &[[1.0], [2.0]], &mut [[0.0]; 3]);
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "one error signal per sample")]
fn gemm_outer_rejects_slices_of_different_lengths() {
    gemm_outer(&mut [[0.0f64]], &mut [0.0], &[[1.0], [2.0]], &[[1.0]]);
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "one step per sample")]
fn rank_update_rejects_slices_of_different_lengths() {
    rank_update(&mut [[0.0f64]], &[[1.0], [2.0], [3.0]], &[[1.0], [2.0]]);
}
