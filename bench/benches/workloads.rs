//! Issue 6's benchmarks: every workload, inference and train step, for the generated network and
//! both hand-written baselines in the same run, and the FMA peak.
//!
//! ```text
//! cargo bench -p backprop-bench --bench workloads            # BENCH_SECS=1.5 by default
//! cargo run -p backprop-bench --bin report -- target/criterion
//! ```
//!
//! Criterion ids: `<workload>/{infer,train}/{generated,straight,accum}` (`w4_mnist_seq`: `train`
//! only, per call of 64 steps) and
//! `fma_peak/{avx2_256,avx512_512,portable,gemm_loop_avx512,unfused_avx2_256}`,
//! `memory/{read_401k,rmw_401k}`,
//! `kernel_tails/<kernel>/<I>x<O>`. `BENCH_SECS` sets the measurement time of each
//! benchmark (the warm-up is a third of it).
//!
//! Single-sample benchmarks cycle through `SAMPLES` fixed samples (the index wraps with a mask),
//! so the network keeps learning something and the branch predictor cannot memorise one input.
//! Each implementation trains its own copy of the same initial weights.

use std::hint::black_box;
use std::time::Duration;

use backprop::Network;
use backprop_bench::baseline::{Baseline, accum, straight};
use backprop_bench::workload::{
    BATCH, DATA_SEED, LR, SAMPLES, SEQUENCE, Zeroable, boxed_zeroed, data, generated,
};
use backprop_bench::{memory, nets, peak};
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main,
    measurement::WallTime,
};

/// The measurement time from `BENCH_SECS` (seconds, default 1.5).
fn seconds() -> f64 {
    match std::env::var("BENCH_SECS") {
        Ok(s) => s.trim().parse().unwrap_or_else(|_| panic!("BENCH_SECS={s:?} is not a number of seconds")),
        Err(_) => 1.5,
    }
}

fn config() -> Criterion {
    let secs = seconds();
    Criterion::default()
        .warm_up_time(Duration::from_secs_f64(secs / 3.0))
        .measurement_time(Duration::from_secs_f64(secs))
        .sample_size(40)
        .without_plots()
}

/// A hand-written network with the generated one's parameters, and a zeroed gradient buffer for
/// it, both on the heap (in that order, as every benchmark allocates them).
fn hand_written<B: Baseline<I, O>, const I: usize, const O: usize>(params: &[f32]) -> (Box<B>, Box<B>) {
    let (mut net, grads) = (boxed_zeroed::<B>(), boxed_zeroed::<B>());
    net.load(params);
    (net, grads)
}

/// The three implementations of one workload, one sample per step.
fn single<N, S, A, const I: usize, const O: usize>(c: &mut Criterion, id: &str)
where
    N: Network<f32, Input = [f32; I], Output = [f32; O]> + Zeroable,
    S: Baseline<I, O>,
    A: Baseline<I, O>,
{
    const MASK: usize = SAMPLES - 1;
    let mut net = generated::<N>();
    let (mut s, mut s_grads) = hand_written::<S, I, O>(net.params());
    let (mut a, mut a_grads) = hand_written::<A, I, O>(net.params());
    let (xs, ts) = data::<I, O, SAMPLES>(DATA_SEED);
    let mut group = c.benchmark_group(id);

    let mut k = 0;
    group.bench_function(BenchmarkId::new("infer", "generated"), |b| {
        b.iter(|| {
            k = (k + 1) & MASK;
            net.forward(black_box(&xs[k]))
        })
    });
    group.bench_function(BenchmarkId::new("infer", "straight"), |b| {
        b.iter(|| {
            k = (k + 1) & MASK;
            s.forward(black_box(&xs[k]))
        })
    });
    group.bench_function(BenchmarkId::new("infer", "accum"), |b| {
        b.iter(|| {
            k = (k + 1) & MASK;
            a.forward(black_box(&xs[k]))
        })
    });

    group.bench_function(BenchmarkId::new("train", "generated"), |b| {
        b.iter(|| {
            k = (k + 1) & MASK;
            net.train_step(black_box(&xs[k]), black_box(&ts[k]), black_box(LR))
        })
    });
    group.bench_function(BenchmarkId::new("train", "straight"), |b| {
        b.iter(|| {
            k = (k + 1) & MASK;
            s.train_step(black_box(&xs[k]), black_box(&ts[k]), black_box(LR), &mut s_grads)
        })
    });
    group.bench_function(BenchmarkId::new("train", "accum"), |b| {
        b.iter(|| {
            k = (k + 1) & MASK;
            a.train_step(black_box(&xs[k]), black_box(&ts[k]), black_box(LR), &mut a_grads)
        })
    });
    group.finish();
}

/// The three implementations on mini-batches of [`BATCH`]: inference is the generated network's
/// `forward_batch::<BATCH>` (the matrix-matrix kernels) and `BATCH` forward passes of the
/// hand-written ones, a train step the mean loss and one update.
fn batch<N, S, A, const I: usize, const O: usize>(c: &mut Criterion, id: &str)
where
    N: Network<f32, Input = [f32; I], Output = [f32; O]> + Zeroable,
    S: Baseline<I, O>,
    A: Baseline<I, O>,
{
    let (mut net, mut n_grads) = (generated::<N>(), boxed_zeroed::<N>());
    let (mut s, mut s_grads) = hand_written::<S, I, O>(net.params());
    let (mut a, mut a_grads) = hand_written::<A, I, O>(net.params());
    let (xs, ts) = data::<I, O, BATCH>(DATA_SEED);
    let mut group = c.benchmark_group(id);
    group.sampling_mode(SamplingMode::Flat);

    fn infer_all<const I: usize, const O: usize>(
        g: &mut BenchmarkGroup<'_, WallTime>,
        name: &str,
        xs: &[[f32; I]],
        f: impl Fn(&[f32; I]) -> [f32; O],
    ) {
        g.bench_function(BenchmarkId::new("infer", name), |b| {
            b.iter(|| {
                for x in xs {
                    black_box(f(black_box(x)));
                }
            })
        });
    }
    group.bench_function(BenchmarkId::new("infer", "generated"), |b| {
        b.iter(|| net.forward_batch::<BATCH>(black_box(&xs)))
    });
    infer_all(&mut group, "straight", &xs[..], |x| s.forward(x));
    infer_all(&mut group, "accum", &xs[..], |x| a.forward(x));

    group.bench_function(BenchmarkId::new("train", "generated"), |b| {
        b.iter(|| net.train_step_batch::<BATCH>(black_box(&xs), black_box(&ts), black_box(LR), &mut n_grads))
    });
    group.bench_function(BenchmarkId::new("train", "straight"), |b| {
        b.iter(|| s.train_step_batch::<BATCH>(black_box(&xs), black_box(&ts), black_box(LR), &mut s_grads))
    });
    group.bench_function(BenchmarkId::new("train", "accum"), |b| {
        b.iter(|| a.train_step_batch::<BATCH>(black_box(&xs), black_box(&ts), black_box(LR), &mut a_grads))
    });
    group.finish();
}

/// The three implementations on [`SEQUENCE`] single-sample train steps in a row: the generated
/// network's `train_steps` (the first layer's updates deferred, `backprop::deferred`) against
/// `train_step` in a loop for the hand-written ones. Criterion's time is per call; the report
/// divides it by `SEQUENCE`.
fn sequence<N, S, A, const I: usize, const O: usize>(c: &mut Criterion, id: &str)
where
    N: Network<f32, Input = [f32; I], Output = [f32; O]> + Zeroable,
    S: Baseline<I, O>,
    A: Baseline<I, O>,
{
    let mut net = generated::<N>();
    let (mut s, mut s_grads) = hand_written::<S, I, O>(net.params());
    let (mut a, mut a_grads) = hand_written::<A, I, O>(net.params());
    let (xs, ts) = data::<I, O, SEQUENCE>(DATA_SEED);
    let mut group = c.benchmark_group(id);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function(BenchmarkId::new("train", "generated"), |b| {
        b.iter(|| net.train_steps(black_box(&xs).iter().zip(black_box(&ts).iter()), black_box(LR)))
    });
    group.bench_function(BenchmarkId::new("train", "straight"), |b| {
        b.iter(|| {
            let samples = black_box(&xs).iter().zip(black_box(&ts).iter());
            samples.fold(0.0, |total, (x, t)| total + s.train_step(x, t, black_box(LR), &mut s_grads))
        })
    });
    group.bench_function(BenchmarkId::new("train", "accum"), |b| {
        b.iter(|| {
            let samples = black_box(&xs).iter().zip(black_box(&ts).iter());
            samples.fold(0.0, |total, (x, t)| total + a.train_step(x, t, black_box(LR), &mut a_grads))
        })
    });
    group.finish();
}

/// The FMA peak: every kernel this CPU can run (see `backprop_bench::peak`).
fn fma_peak(c: &mut Criterion) {
    let mut group = c.benchmark_group("fma_peak");
    let mut any = false;
    if peak::fma_avx2(0.5).is_some() {
        any = true;
        group.bench_function("avx2_256", |b| b.iter(|| peak::fma_avx2(black_box(0.5))));
    }
    if peak::fma_avx512(0.5).is_some() {
        any = true;
        group.bench_function("avx512_512", |b| b.iter(|| peak::fma_avx512(black_box(0.5))));
    }
    let tile = peak::LoopTile::boxed();
    if peak::gemm_loop_avx512(&tile).is_some() {
        group.bench_function("gemm_loop_avx512", |b| b.iter(|| peak::gemm_loop_avx512(black_box(&tile))));
    }
    if peak::unfused_avx2(0.5).is_some() {
        group.bench_function("unfused_avx2_256", |b| b.iter(|| peak::unfused_avx2(black_box(0.5))));
    }
    if !any {
        group.bench_function("portable", |b| b.iter(|| peak::fma_portable(black_box(0.5))));
    }
    group.finish();
}

/// The memory floor of the W4 single-sample train step (see `backprop_bench::memory`).
fn memory_floor(c: &mut Criterion) {
    let mut m = memory::Matrix::boxed(0.001);
    let x: [f32; memory::COLS] = core::array::from_fn(|i| (i % 7) as f32 * 0.01);
    let d: [f32; memory::ROWS] = core::array::from_fn(|o| (o % 5) as f32 * -1e-6);
    let mut group = c.benchmark_group("memory");
    group.bench_function("read_401k", |b| b.iter(|| memory::read(black_box(&m))));
    group.bench_function("rmw_401k", |b| {
        b.iter(|| memory::read_modify_write(black_box(&mut m), black_box(&x), black_box(&d)))
    });
    group.finish();
}

/// The activation cost alone, which bounds the tiny networks (W1, W2): 1,024 values in
/// `[-5, 5)`, through the crate's activations (`Activation::forward`) and through `std`'s and
/// `libm`'s functions written out.
fn activations(c: &mut Criterion) {
    use backprop::{Activation, Scalar, Sigmoid, Tanh};
    let z: [f32; ACTIVATION_VALUES] =
        core::array::from_fn(|i| i as f32 * (10.0 / ACTIVATION_VALUES as f32) - 5.0);
    let mut a = [0.0f32; ACTIVATION_VALUES];
    let mut group = c.benchmark_group("activations");
    let mut bench = |name: &str, f: &dyn Fn(&[f32; ACTIVATION_VALUES], &mut [f32; ACTIVATION_VALUES])| {
        let (function, source) = name.split_once('/').expect("function/source");
        group.bench_function(BenchmarkId::new(function, source), |b| {
            b.iter(|| f(black_box(&z), black_box(&mut a)))
        });
    };
    bench("exp/backprop", &|z, a| a.iter_mut().zip(z).for_each(|(a, &z)| *a = Scalar::exp(z)));
    bench("exp/std", &|z, a| a.iter_mut().zip(z).for_each(|(a, &z)| *a = z.exp()));
    bench("exp/libm", &|z, a| a.iter_mut().zip(z).for_each(|(a, &z)| *a = libm::expf(z)));
    bench("sigmoid/backprop", &|z, a| Sigmoid::forward(z, a));
    bench("sigmoid/std", &|z, a| a.iter_mut().zip(z).for_each(|(a, &z)| *a = 1.0 / (1.0 + (-z).exp())));
    bench("tanh/backprop", &|z, a| Tanh::forward(z, a));
    bench("tanh/std", &|z, a| a.iter_mut().zip(z).for_each(|(a, &z)| *a = z.tanh()));
    bench("tanh/libm", &|z, a| a.iter_mut().zip(z).for_each(|(a, &z)| *a = libm::tanhf(z)));
    group.finish();
}

/// The exact kernels on layers whose input count is not a multiple of the 16 columns a register
/// tile holds, nor always of the 8 lanes of a dot product (`kernel_tails/<kernel>/<I>x<O>`): `W x`
/// for one sample and for a tile of 32, the fused backward pass of one sample, and the batched
/// `Wᵀ delta` and fused outer-product step of a tile of 32 samples. Before the leftover columns
/// were summed together (BENCHMARKS.md, "Leftover columns"), each of them was a pass of its own
/// over the rows, one dependent add after another.
fn kernel_tails(c: &mut Criterion) {
    let mut group = c.benchmark_group("kernel_tails");
    tails::<12, 64>(&mut group);
    tails::<24, 64>(&mut group);
    tails::<50, 32>(&mut group);
    tails::<100, 30>(&mut group);
    group.finish();
}

fn tails<const I: usize, const O: usize>(group: &mut BenchmarkGroup<'_, WallTime>) {
    use backprop::kernel;
    let value = |k: usize| ((k * 7919) % 23) as f32 * 0.01 - 0.11;
    let mut w: Box<[[f32; I]; O]> = boxed_zeroed();
    w.iter_mut().flatten().enumerate().for_each(|(k, w)| *w = value(k));
    let mut grad: Box<[[f32; I]; O]> = boxed_zeroed();
    let (mut b, mut grad_b) = ([0.0f32; O], [0.0f32; O]);
    let xs: Vec<[f32; I]> = (0..kernel::BATCH_TILE).map(|s| core::array::from_fn(|i| value(s + i))).collect();
    let deltas: Vec<[f32; O]> =
        (0..kernel::BATCH_TILE).map(|s| core::array::from_fn(|o| value(3 * s + o) * 1e-3)).collect();
    let mut dxs = [[0.0f32; I]; kernel::BATCH_TILE];
    let shape = format!("{I}x{O}");
    let mut zs = [[0.0f32; O]; kernel::BATCH_TILE];
    group.bench_function(BenchmarkId::new("gemv", &shape), |bench| {
        bench.iter(|| kernel::gemv(black_box(&w), black_box(&b), black_box(&xs[0]), &mut zs[0]))
    });
    group.bench_function(BenchmarkId::new("gemm_32", &shape), |bench| {
        bench.iter(|| kernel::gemm(black_box(&w), black_box(&b), black_box(&xs[..]), &mut zs[..]))
    });
    // Steps of -1e-9: the weights stay put for as long as criterion runs.
    group.bench_function(BenchmarkId::new("backward_sgd", &shape), |bench| {
        bench.iter(|| {
            kernel::backward_sgd(&mut w, black_box(&xs[0]), black_box(&deltas[0]), -1e-9, &mut dxs[0])
        })
    });
    group.bench_function(BenchmarkId::new("gemm_t_32", &shape), |bench| {
        bench.iter(|| kernel::gemm_t(black_box(&*w), black_box(&deltas[..]), &mut dxs[..]))
    });
    group.bench_function(BenchmarkId::new("gemm_outer_sgd_32", &shape), |bench| {
        bench.iter(|| {
            let (xs, deltas) = (black_box(&xs[..]), black_box(&deltas[..]));
            kernel::gemm_outer_sgd(&mut w, &mut b, &mut grad, &mut grad_b, xs, deltas, 1.0 / 32.0, 1e-9)
        })
    });
}

/// Values per call of the activation benchmarks.
const ACTIVATION_VALUES: usize = 1024;

fn w1(c: &mut Criterion) {
    single::<nets::Toy, straight::Toy, accum::Toy, 2, 1>(c, "w1_toy");
}

fn w2(c: &mut Criterion) {
    single::<nets::Xor, straight::Xor, accum::Xor, 2, 1>(c, "w2_xor");
}

fn w3(c: &mut Criterion) {
    single::<nets::Digits, straight::Digits, accum::Digits, 64, 10>(c, "w3_digits");
}

fn w4(c: &mut Criterion) {
    single::<nets::Mnist, straight::Mnist, accum::Mnist, 784, 10>(c, "w4_mnist_b1");
    batch::<nets::Mnist, straight::Mnist, accum::Mnist, 784, 10>(c, "w4_mnist_b32");
    sequence::<nets::Mnist, straight::Mnist, accum::Mnist, 784, 10>(c, "w4_mnist_seq");
}

fn w5(c: &mut Criterion) {
    single::<nets::Deep, straight::Deep, accum::Deep, 16, 1>(c, "w5_deep");
}

criterion_group! {
    name = benches;
    config = config();
    targets = fma_peak, memory_floor, activations, kernel_tails, w1, w2, w3, w4, w5
}
criterion_main!(benches);
