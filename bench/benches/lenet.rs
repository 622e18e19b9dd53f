//! The LeNet-like workload (issue 19): the network `network!` generates
//! (`backprop_bench::lenet::net`) against the hand-written direct convolution
//! (`backprop_bench::lenet::direct`), in the same run, with this core's FMA peak.
//!
//! ```text
//! cargo bench -p backprop-bench --bench lenet          # BENCH_SECS=1.5 by default
//! bench/lenet.sh                                       # the four builds, interleaved, and the table
//! ```
//!
//! Criterion ids: `lenet_<mode>/<impl>` with modes `infer` (one sample), `train_b1` (one
//! sample's SGD step), `train_b32` (one SGD step on a mini-batch of 32) and `conv_b32` (the two
//! convolutional layers' share of such a step on one 32-sample tile, library only), impls `generated` and
//! `direct`; `lenet_parts/<pass>`, each pass of that share (and of the first pool) alone;
//! `lenet_peak/{avx2_256,avx512_512}`, the FMA peak measured in the same run.
//! Single-sample benchmarks cycle through `SAMPLES` images.

use std::hint::black_box;
use std::time::Duration;

use backprop::conv::flatten_tile;
use backprop::layer::LayerBatch;
use backprop::{Identity, Layer, Network, Params, Relu};
use backprop_bench::lenet::{self, BATCH, CLASSES, INPUTS, direct, net};
use backprop_bench::peak;
use backprop_bench::workload::{DATA_SEED, LR, SAMPLES, WEIGHT_SEED, boxed_zeroed};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};

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
        .sample_size(30)
        .without_plots()
}

/// Both networks with the same initial parameters, each with a gradient buffer, on the heap.
fn networks() -> (Box<net::LeNet>, Box<net::LeNet>, Box<direct::LeNet>, Box<direct::LeNet>) {
    let params = lenet::initial_params(WEIGHT_SEED);
    let (mut generated, grads) = (boxed_zeroed::<net::LeNet>(), boxed_zeroed::<net::LeNet>());
    generated.params_mut().copy_from_slice(&params);
    let (mut hand, hand_grads) = (boxed_zeroed::<direct::LeNet>(), boxed_zeroed::<direct::LeNet>());
    hand.load(&params);
    (generated, grads, hand, hand_grads)
}

fn single(c: &mut Criterion) {
    const MASK: usize = SAMPLES - 1;
    let (mut generated, _, mut hand, mut hand_grads) = networks();
    let (xs, ts) = lenet::images::<SAMPLES>(DATA_SEED);
    let mut k = 0;
    let mut group = c.benchmark_group("lenet_infer");
    group.bench_function("generated", |b| {
        b.iter(|| {
            k = (k + 1) & MASK;
            generated.forward(black_box(&xs[k]))
        })
    });
    group.bench_function("direct", |b| {
        b.iter(|| {
            k = (k + 1) & MASK;
            hand.forward(black_box(&xs[k]))
        })
    });
    group.finish();
    let mut group = c.benchmark_group("lenet_train_b1");
    group.bench_function("generated", |b| {
        b.iter(|| {
            k = (k + 1) & MASK;
            generated.train_step(black_box(&xs[k]), black_box(&ts[k]), black_box(LR))
        })
    });
    group.bench_function("direct", |b| {
        b.iter(|| {
            k = (k + 1) & MASK;
            hand.train_step(black_box(&xs[k]), black_box(&ts[k]), black_box(LR), &mut hand_grads)
        })
    });
    group.finish();
}

fn batch(c: &mut Criterion) {
    let (mut generated, mut grads, mut hand, mut hand_grads) = networks();
    let (xs, ts) = lenet::images::<BATCH>(DATA_SEED);
    let mut group = c.benchmark_group("lenet_train_b32");
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("generated", |b| {
        b.iter(|| generated.train_step_batch(black_box(&xs), black_box(&ts), black_box(LR), &mut grads))
    });
    group.bench_function("direct", |b| {
        b.iter(|| hand.train_step_batch(black_box(&xs), black_box(&ts), black_box(LR), &mut hand_grads))
    });
    group.finish();

    // The convolutional layers alone, on the tiles of one real step; a tiny learning rate keeps
    // the weights where they are for as long as criterion runs (the error signals stay those of
    // that step).
    let mut tiles = net::ConvTiles::of(&generated, &xs, &ts);
    let mut group = c.benchmark_group("lenet_conv_b32");
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("generated", |b| {
        b.iter(|| {
            net::conv_layers_step(&mut generated, black_box(&xs), &mut tiles, black_box(1e-9), &mut grads)
        })
    });
    group.finish();

    // Where that time goes: each pass of the convolutional layers and of the first pool alone,
    // on the same tiles (the backward passes write the gradient scratch, not the layers).
    let mut group = c.benchmark_group("lenet_parts");
    group.sampling_mode(SamplingMode::Flat);
    let images: &[net::Image] = flatten_tile(&xs[..]);
    let (conv1, pool1, conv2) = tiles.parts();
    let mut pooled = LayerBatch::<net::Pool1Out, BATCH>::zeroed();
    group.bench_function("conv1_forward", |b| {
        b.iter(|| generated.conv1.forward_batch::<Relu, BATCH>(black_box(images), conv1))
    });
    group.bench_function("conv1_weight_grads", |b| {
        b.iter(|| generated.conv1.backward_batch_params(black_box(images), conv1, &mut grads.conv1))
    });
    group.bench_function("pool1_forward", |b| {
        b.iter(|| generated.pool1.forward_batch::<Identity, BATCH>(black_box(conv1.outputs()), &mut pooled))
    });
    group.bench_function("pool1_backward", |b| {
        b.iter(|| generated.pool1.backward_batch(conv1, black_box(pool1), &mut grads.pool1))
    });
    group.bench_function("conv2_forward", |b| {
        b.iter(|| generated.conv2.forward_batch::<Relu, BATCH>(black_box(pool1.outputs()), conv2))
    });
    group.bench_function("conv2_weight_grads", |b| {
        b.iter(|| generated.conv2.backward_batch_params(black_box(pool1.outputs()), conv2, &mut grads.conv2))
    });
    group.bench_function("conv2_backward", |b| {
        b.iter(|| generated.conv2.backward_batch(pool1, black_box(conv2), &mut grads.conv2))
    });
    group.finish();
}

/// The FMA peak in the same run (see `backprop_bench::peak`).
fn fma_peak(c: &mut Criterion) {
    let mut group = c.benchmark_group("lenet_peak");
    if peak::fma_avx2(0.5).is_some() {
        group.bench_function("avx2_256", |b| b.iter(|| peak::fma_avx2(black_box(0.5))));
    }
    if peak::fma_avx512(0.5).is_some() {
        group.bench_function("avx512_512", |b| b.iter(|| peak::fma_avx512(black_box(0.5))));
    }
    group.finish();
}

/// The shapes these benchmarks assume (a cheap check that the data matches the networks).
const _: () = assert!(INPUTS == 784 && CLASSES == 10 && BATCH == 32);

criterion_group! {
    name = benches;
    config = config();
    targets = fma_peak, single, batch
}
criterion_main!(benches);
