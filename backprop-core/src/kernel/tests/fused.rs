use super::*;
use std::boxed::Box;
use std::vec::Vec;

/// `n` arrays of `N` values of `fill`, on the heap (the sizes here overflow a test's stack).
fn rows<const N: usize>(n: usize, seed: u64) -> Box<[[f32; N]]> {
    (0..n).map(|r| fill_f32::<N>(seed + r as u64)).collect()
}

fn matrix<const I: usize, const O: usize>(seed: u64) -> Box<[[f32; I]; O]> {
    rows::<I>(O, seed).try_into().unwrap()
}

/// The specification of every dot product of the FMA kernels.
fn spec_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [-0.0f32; 16];
    for i in 0..a.len() {
        lanes[i % 16] = a[i].mul_add(b[i], lanes[i % 16]);
    }
    let eighths: [f32; 8] = core::array::from_fn(|j| lanes[j] + lanes[j + 8]);
    let quarters: [f32; 4] = core::array::from_fn(|j| eighths[j] + eighths[j + 4]);
    (quarters[0] + quarters[2]) + (quarters[1] + quarters[3])
}

/// `|got - exact| ≤ 2 · n · ε · Σ|terms|`, the classic bound for a sum of `n` rounded terms.
fn near(got: f32, exact: f64, magnitude: f64, n: usize) {
    let bound = 2.0 * n as f64 * f64::from(f32::EPSILON) * magnitude + f64::from(f32::MIN_POSITIVE);
    assert!((f64::from(got) - exact).abs() <= bound, "{got} vs {exact} (bound {bound})");
}

/// Runs `test` on every FMA path this CPU has (AVX-512F, AVX2 and FMA), each made the path of
/// every call while it runs; says so when there is none. One such test at a time, so each runs
/// on the path it set; other tests running meanwhile take that path too, which changes nothing
/// but their speed, the paths giving the same bits (which is what this checks).
fn on_every_path(test: impl Fn()) {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut ran = false;
    for path in fma::runnable() {
        fma::set(Some(path));
        test();
        ran = true;
    }
    fma::set(fma::detect());
    if !ran {
        std::eprintln!("this CPU has neither AVX-512F nor AVX2 and FMA: the FMA kernels cannot run here");
    }
}

fn check<const I: usize, const O: usize>() {
    assert!(I * O >= FMA_MIN);
    if fma::path().is_none() {
        return;
    }
    assert!(fused::<f32, I, O>() && !fused::<f64, I, O>());
    let w = matrix::<I, O>(1);
    let b = fill_f32::<O>(99);
    let xs = rows::<I>(BATCH_TILE, 1000);
    let deltas = rows::<O>(BATCH_TILE, 2000);
    let (x, delta) = (&xs[0], &deltas[0]);

    // Forward: the specification, bit for bit, and near the exact sum.
    let mut z = [0.0f32; O];
    gemv(&w, &b, x, &mut z);
    for o in 0..O {
        assert_eq!(z[o].to_bits(), (b[o] + spec_dot(&w[o], x)).to_bits(), "gemv {I}x{O} row {o}");
        let exact: f64 = f64::from(b[o]) + (0..I).map(|i| f64::from(w[o][i]) * f64::from(x[i])).sum::<f64>();
        let magnitude: f64 =
            f64::from(b[o].abs()) + (0..I).map(|i| f64::from((w[o][i] * x[i]).abs())).sum::<f64>();
        near(z[o], exact, magnitude, I + 1);
    }

    // Backward: `Wᵀ delta` as specified (the sum over the rows in order), the gradient.
    let spec_dx: Vec<f32> =
        (0..I).map(|i| (0..O).fold(-0.0f32, |acc, o| delta[o].mul_add(w[o][i], acc))).collect();
    let mut grad = matrix::<I, O>(7);
    let mut dx = [0.0f32; I];
    backward(&w, &mut grad, x, delta, &mut dx, false);
    assert_eq!(dx.as_slice(), spec_dx.as_slice(), "backward {I}x{O}");
    let mut accumulated = grad.clone();
    backward(&w, &mut accumulated, x, delta, &mut dx, true);
    let mut outer_grad = matrix::<I, O>(8);
    outer(&mut outer_grad, x, delta, false);
    for o in 0..O {
        for i in 0..I {
            assert_eq!(grad[o][i], delta[o] * x[i]);
            assert_eq!(accumulated[o][i], delta[o].mul_add(x[i], grad[o][i]));
        }
    }
    assert_eq!(outer_grad, grad);
    outer(&mut outer_grad, x, delta, true);
    assert_eq!(outer_grad, accumulated);

    // The fused updates: `w = fma(step·d, x, w)`, the same in both kernels.
    let step = -0.125f32;
    let (mut fused_w, mut first) = (w.clone(), w.clone());
    let mut first_b = b;
    let mut dx_fused = [0.0f32; I];
    backward_sgd(&mut fused_w, x, delta, step, &mut dx_fused);
    sgd(&mut first, &mut first_b, x, delta, step);
    assert_eq!(dx_fused.as_slice(), spec_dx.as_slice());
    for o in 0..O {
        for i in 0..I {
            assert_eq!(fused_w[o][i], (step * delta[o]).mul_add(x[i], w[o][i]));
        }
        assert_eq!(first_b[o], b[o] + step * delta[o]);
    }
    assert_eq!(fused_w, first);

    // A tile of samples: each sample as alone; the outer products summed as specified.
    for n in [1, 3, 4, 5, 13, BATCH_TILE] {
        let mut zs = std::vec![[0.0f32; O]; n];
        gemm(&w, &b, &xs[..n], &mut zs);
        let mut dxs = std::vec![[0.0f32; I]; n];
        gemm_t(&w, &deltas[..n], &mut dxs);
        for s in 0..n {
            let mut z = [0.0f32; O];
            gemv(&w, &b, &xs[s], &mut z);
            assert_eq!(zs[s], z, "gemm {I}x{O}, {n} samples, sample {s}");
            backward(&w, &mut grad, &xs[s], &deltas[s], &mut dx, false);
            assert_eq!(dxs[s], dx, "gemm_t {I}x{O}, {n} samples, sample {s}");
        }

        // Deferred updates: `w = fma(step, x, w)` per sample in order, as `sgd` would.
        let mut ranked = w.clone();
        rank_update(&mut ranked, &xs[..n], &deltas[..n]);
        let mut one_by_one = w.clone();
        let mut unused_b = b;
        for s in 0..n {
            sgd(&mut one_by_one, &mut unused_b, &xs[s], &deltas[s], 1.0);
        }
        assert_eq!(ranked, one_by_one, "rank_update {I}x{O}, {n} samples");
        for i in [0, I / 2, I - 1] {
            let spec = (0..n).fold(w[O - 1][i], |w, s| deltas[s][O - 1].mul_add(xs[s][i], w));
            assert_eq!(ranked[O - 1][i], spec, "rank_update {I}x{O}, {n} samples");
        }

        let mut summed = matrix::<I, O>(3);
        let before = summed.clone();
        let mut summed_b = [1.0f32; O];
        gemm_outer(&mut summed, &mut summed_b, &xs[..n], &deltas[..n]);
        let (mut wn, mut bn) = (w.clone(), b);
        let (mut mean, mut mean_b) = (matrix::<I, O>(4), [5.0f32; O]);
        let (scale, lr) = (1.0 / n as f32, 0.25f32);
        gemm_outer_sgd(&mut wn, &mut bn, &mut mean, &mut mean_b, &xs[..n], &deltas[..n], scale, lr);
        for o in 0..O {
            for i in 0..I {
                let sum = (0..n).fold(-0.0f32, |acc, s| deltas[s][o].mul_add(xs[s][i], acc));
                assert_eq!(summed[o][i], before[o][i] + sum, "gemm_outer {I}x{O}, {n} samples");
                assert_eq!(mean[o][i], sum * scale);
                assert_eq!(wn[o][i], (-lr).mul_add(mean[o][i], w[o][i]));
                let exact: f64 = (0..n).map(|s| f64::from(deltas[s][o]) * f64::from(xs[s][i])).sum();
                let magnitude: f64 = (0..n).map(|s| f64::from((deltas[s][o] * xs[s][i]).abs())).sum();
                near(sum, exact, magnitude, n);
            }
            // The biases: the exact kernels' loops, as in every build.
            let sum_b = deltas[..n].iter().fold(-0.0f32, |acc, d| acc + d[o]);
            assert_eq!(summed_b[o], 1.0 + sum_b);
            assert_eq!(mean_b[o], sum_b * scale);
            assert_eq!(bn[o], b[o] - lr * mean_b[o]);
        }
    }
}

#[test]
fn fma_kernels_follow_their_specification() {
    // Every tail (of the 16 lanes, of the 8-, 4-, 3- and 2-chunk blocks, of the 8-, 4- and 2-row
    // tiles), and the W4 layer; on each path.
    on_every_path(|| {
        check::<64, 64>();
        check::<100, 45>();
        check::<33, 130>();
        check::<300, 17>();
        check::<17, 241>();
        check::<4100, 1>();
        check::<16, 515>(); // one whole vector per row, every row-tile remainder
        check::<784, 128>();
    });
}

/// The FMA kernel skips the same rows (of 6 rows, 683 inputs or more are big enough for it;
/// 700 has a partial vector, 1024 has none).
#[test]
fn fma_sgd_leaves_long_rows_with_a_zero_signal_alone() {
    on_every_path(|| {
        assert!(fused::<f32, 700, 6>() && fused::<f32, 1024, 6>());
        check_zero_rows::<f32, 700>(|w, s, x| s.mul_add(x, w));
        check_zero_rows::<f32, 1024>(|w, s, x| s.mul_add(x, w));
    });
}

/// The aligned loads of rows that are a multiple of 16 long (`fma::dot_tile`) give the same bits
/// wherever the weights and the inputs lie: every offset from a 64-byte boundary, for the
/// weights and for the inputs independently, on each path. At offsets 0 and 8 both lie at the same
/// offset, and `gemm` reads the inputs in place; at the others it copies them.
#[test]
fn fma_results_do_not_depend_on_alignment() {
    fn check<const I: usize, const O: usize>() {
        if fma::path().is_none() {
            return;
        }
        let w = matrix::<I, O>(21);
        let b = fill_f32::<O>(22);
        let xs = rows::<I>(9, 23);
        let want: Vec<[f32; O]> =
            xs.iter().map(|x| core::array::from_fn(|o| b[o] + spec_dot(&w[o], x))).collect();
        // Room for any offset: 16 floats more than the data, plus the alignment itself.
        let mut w_buffer = std::vec![0.0f32; I * O + 32];
        let mut x_buffer = std::vec![0.0f32; 9 * I + 32];
        for offset in 0..16 {
            let w_at = w_buffer.as_ptr().align_offset(64) + offset;
            let x_at = x_buffer.as_ptr().align_offset(64) + (offset * 7) % 16;
            w_buffer[w_at..w_at + I * O].copy_from_slice(w.as_flattened());
            x_buffer[x_at..x_at + 9 * I].copy_from_slice(xs.as_flattened());
            let (placed_w, _) = w_buffer[w_at..].as_chunks::<I>();
            let placed_w: &[[f32; I]; O] = placed_w[..O].try_into().unwrap();
            let placed_xs = &x_buffer[x_at..].as_chunks::<I>().0[..9];
            let mut zs = [[0.0f32; O]; 9];
            gemm(placed_w, &b, placed_xs, &mut zs);
            for s in 0..9 {
                let mut z = [0.0f32; O];
                gemv(placed_w, &b, &placed_xs[s], &mut z);
                assert_eq!(z, want[s], "gemv {I}x{O}, weights at offset {offset}, sample {s}");
                assert_eq!(zs[s], want[s], "gemm {I}x{O}, weights at offset {offset}, sample {s}");
            }
        }
    }
    on_every_path(|| {
        check::<64, 64>();
        check::<784, 13>();
    });
}

/// The batched outer products (`fma::backward::outer_tiles`) count their chunks from the
/// alignment of the matrix they update and copy the samples to it: the same bits wherever the
/// weights, the gradient and the samples lie, each at every offset from a 64-byte boundary, for
/// a batch tile of samples (copied) and one sample more (read in place).
#[test]
fn fma_outer_products_do_not_depend_on_alignment() {
    fn check<const I: usize, const O: usize>() {
        if fma::path().is_none() {
            return;
        }
        let (w, grad) = (matrix::<I, O>(31), matrix::<I, O>(32));
        for n in [5, BATCH_TILE, BATCH_TILE + 1] {
            let xs = rows::<I>(n, 33);
            let deltas = rows::<O>(n, 34);
            let sum = |o: usize, i: usize| (0..n).fold(-0.0f32, |acc, s| deltas[s][o].mul_add(xs[s][i], acc));
            let ranked = |o: usize, i: usize| (0..n).fold(w[o][i], |w, s| deltas[s][o].mul_add(xs[s][i], w));
            let (scale, lr) = (1.0 / n as f32, 0.5f32);
            let mut buffers = [(); 4].map(|()| std::vec![0.0f32; I * O + 32]);
            let mut x_buffer = std::vec![0.0f32; n * I + 32];
            for offset in 0..16 {
                let [wb, gb, sb, rb] = &mut buffers;
                let placed_w: &mut [[f32; I]; O] = place(wb, &w[..], offset).try_into().unwrap();
                let placed_grad: &mut [[f32; I]; O] =
                    place(gb, &grad[..], (offset * 5 + 3) % 16).try_into().unwrap();
                let placed_xs = place(&mut x_buffer, &xs, (offset * 7) % 16);
                let (mut b, mut grad_b) = ([0.0f32; O], [0.0f32; O]);
                gemm_outer_sgd(placed_w, &mut b, placed_grad, &mut grad_b, placed_xs, &deltas, scale, lr);
                let summed: &mut [[f32; I]; O] = place(sb, &grad[..], (offset * 3) % 16).try_into().unwrap();
                gemm_outer(summed, &mut grad_b, placed_xs, &deltas);
                let updated: &mut [[f32; I]; O] = place(rb, &w[..], (offset * 11) % 16).try_into().unwrap();
                rank_update(updated, placed_xs, &deltas);
                for o in 0..O {
                    for i in 0..I {
                        assert_eq!(
                            placed_grad[o][i],
                            sum(o, i) * scale,
                            "gemm_outer_sgd's mean, {n} samples, offset {offset}, [{o}][{i}]"
                        );
                        assert_eq!(
                            placed_w[o][i],
                            (-lr).mul_add(sum(o, i) * scale, w[o][i]),
                            "gemm_outer_sgd, {n} samples, offset {offset}, [{o}][{i}]"
                        );
                        assert_eq!(
                            summed[o][i],
                            grad[o][i] + sum(o, i),
                            "gemm_outer, {n} samples, offset {offset}, [{o}][{i}]"
                        );
                        assert_eq!(
                            updated[o][i],
                            ranked(o, i),
                            "rank_update, {n} samples, offset {offset}, [{o}][{i}]"
                        );
                    }
                }
            }
        }
    }
    on_every_path(|| {
        check::<64, 64>();
        check::<784, 13>();
    });
}

/// Below [`FMA_MIN`], with rows shorter than [`FMA_MIN_INPUTS`], and for `f64`, the exact
/// kernels run, feature or not.
#[test]
fn small_layers_short_rows_and_f64_keep_the_exact_kernels() {
    assert!(!fused::<f32, 63, 65>() && !fused::<f64, 784, 128>());
    assert!(!fused::<f32, 8, 4096>() && !fused::<f32, 15, 4096>() && !fused::<f32, 1, 8192>());
}
