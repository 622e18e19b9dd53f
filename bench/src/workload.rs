//! What the benchmarks run: the workloads' shapes and flop counts, their deterministic data, and
//! heap allocation in place for networks too large to pass through the stack.

use backprop::{Init, Network, Rng};

/// The learning rate of every train step (plain SGD).
pub const LR: f32 = 0.01;

/// The seed of the initial weights (`Init::Auto`: He normal before relu, Xavier uniform otherwise).
pub const WEIGHT_SEED: u64 = 6;

/// The seed of the inputs and targets.
pub const DATA_SEED: u64 = 2024;

/// Distinct samples a single-sample benchmark cycles through (a power of two: the index wraps with
/// a mask, so the cycling costs one `and`, the same for every implementation).
pub const SAMPLES: usize = 16;

/// Samples in a mini-batch of W4.
pub const BATCH: usize = 32;

/// Single-sample steps per timed call of the sequence workload (`train_steps` over that many
/// samples): four rounds of the first layer's deferred updates.
pub const SEQUENCE: usize = 64;

/// Types for which all-zero bits are a valid value (`f32`, arrays of it, and structs made only of
/// those).
///
/// # Safety
///
/// Implement only for types whose every field, recursively, is an `f32` (or a zero-sized marker),
/// so that the all-zero bit pattern is a valid value (`0.0` everywhere).
pub unsafe trait Zeroable: Sized {}

// SAFETY: the all-zero `f32` is `+0.0`.
unsafe impl Zeroable for f32 {}
// SAFETY: an array has no padding and holds only `T`s, which are zeroable.
unsafe impl<T: Zeroable, const N: usize> Zeroable for [T; N] {}

/// A zeroed `T` allocated directly on the heap: never built on the stack and moved (a W4 network
/// is about 400 kB; the default build may not elide the copy of `Box::new(T::zeroed())`).
pub fn boxed_zeroed<T: Zeroable>() -> Box<T> {
    use std::alloc::{Layout, alloc_zeroed, handle_alloc_error};
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        // SAFETY: a dangling, aligned pointer is a valid `Box` of a zero-sized type, and all-zero
        // bits (no bits) are a valid `T` by the `Zeroable` contract.
        return unsafe { Box::from_raw(core::ptr::NonNull::<T>::dangling().as_ptr()) };
    }
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { alloc_zeroed(layout) }.cast::<T>();
    if ptr.is_null() {
        handle_alloc_error(layout);
    }
    // SAFETY: `ptr` was allocated by the global allocator with `T`'s layout, as `Box` requires;
    // every byte is zero, which is a valid `T` by the `Zeroable` contract. (`Box::new_zeroed`
    // does the same, but needs Rust 1.92.)
    unsafe { Box::from_raw(ptr) }
}

/// A generated network on the heap, initialised in place from [`WEIGHT_SEED`] with `Init::Auto`.
pub fn generated<N: Network<f32> + Zeroable>() -> Box<N> {
    let mut net = boxed_zeroed::<N>();
    Init::Auto.apply(&mut *net, &mut Rng::new(WEIGHT_SEED));
    net
}

/// `N` vectors of `D` values, on the heap.
pub type Samples<const D: usize, const N: usize> = Box<[[f32; D]; N]>;

/// `N` inputs uniform in `[0, 1)` and targets: one-hot for several outputs, `0` or `1` for one
/// output; drawn from `seed`, in place on the heap.
pub fn data<const I: usize, const O: usize, const N: usize>(seed: u64) -> (Samples<I, N>, Samples<O, N>) {
    let mut rng = Rng::new(seed);
    let mut xs = boxed_zeroed::<[[f32; I]; N]>();
    let mut ts = boxed_zeroed::<[[f32; O]; N]>();
    for (x, t) in xs.iter_mut().zip(ts.iter_mut()) {
        for v in x.iter_mut() {
            *v = rng.next_f64() as f32;
        }
        if O == 1 {
            t[0] = rng.below(2) as f32;
        } else {
            t[rng.below(O)] = 1.0;
        }
    }
    (xs, ts)
}

/// One workload of issue 6, as the report needs it.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// The criterion group: `target/criterion/<id>/{infer,train}/{generated,straight,accum}`.
    pub id: &'static str,
    /// A human-readable name for the tables.
    pub name: &'static str,
    /// Every dense layer as `(inputs, outputs)`, input to output.
    pub layers: &'static [(usize, usize)],
    /// Samples per step: 1, or [`BATCH`] (one SGD update per batch).
    pub batch: usize,
    /// Steps per timed call: 1, or [`SEQUENCE`] single-sample steps in a row (the times in the
    /// tables are per step: the call's median divided by this).
    pub steps: usize,
}

impl Workload {
    /// Nominal flops of one inference step: `2·in·out` per dense layer and sample (biases and
    /// activations not counted).
    pub fn infer_flops(&self) -> f64 {
        self.batch as f64 * self.macs() * 2.0
    }

    /// Nominal flops of one train step: per sample and dense layer `2·in·out` forward and
    /// `4·in·out` backward (`dx` and `dW`, also for the first layer, whose `dx` nobody computes),
    /// and `2·in·out` per layer for the SGD update, which happens once per step (once per batch).
    pub fn train_flops(&self) -> f64 {
        self.batch as f64 * self.macs() * 6.0 + self.macs() * 2.0
    }

    /// Flops a train step actually executes: [`train_flops`](Self::train_flops) without the
    /// first layer's `dx = Wᵀ delta` (`2·in·out` per sample), which the nominal count includes
    /// and nobody computes.
    pub fn executed_train_flops(&self) -> f64 {
        let (i, o) = self.layers[0];
        self.train_flops() - self.batch as f64 * 2.0 * (i * o) as f64
    }

    /// `Σ in·out` over the layers.
    fn macs(&self) -> f64 {
        self.layers.iter().map(|&(i, o)| (i * o) as f64).sum()
    }
}

/// W5: eight hidden layers 16 → 16, then the output layer 16 → 1.
const DEEP_LAYERS: [(usize, usize); 9] =
    [(16, 16), (16, 16), (16, 16), (16, 16), (16, 16), (16, 16), (16, 16), (16, 16), (16, 1)];

/// The workloads, in the order of the tables.
pub const WORKLOADS: [Workload; 7] = [
    Workload { id: "w1_toy", name: "W1 toy 2-2-1", layers: &[(2, 2), (2, 1)], batch: 1, steps: 1 },
    Workload { id: "w2_xor", name: "W2 xor 2-8-1", layers: &[(2, 8), (8, 1)], batch: 1, steps: 1 },
    Workload {
        id: "w3_digits",
        name: "W3 digits 64-32-10",
        layers: &[(64, 32), (32, 10)],
        batch: 1,
        steps: 1,
    },
    Workload {
        id: "w4_mnist_b1",
        name: "W4 mnist 784-128-10",
        layers: &[(784, 128), (128, 10)],
        batch: 1,
        steps: 1,
    },
    Workload {
        id: "w4_mnist_b32",
        name: "W4 mnist 784-128-10, batch 32",
        layers: &[(784, 128), (128, 10)],
        batch: BATCH,
        steps: 1,
    },
    Workload {
        id: "w4_mnist_seq",
        name: "W4 mnist 784-128-10, `train_steps` over 64 samples",
        layers: &[(784, 128), (128, 10)],
        batch: 1,
        steps: SEQUENCE,
    },
    Workload { id: "w5_deep", name: "W5 deep 16-(16×8)-1", layers: &DEEP_LAYERS, batch: 1, steps: 1 },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flop_counts() {
        let toy = WORKLOADS[0];
        assert_eq!(toy.infer_flops(), 12.0);
        assert_eq!(toy.train_flops(), 48.0);
        let b32 = WORKLOADS[4];
        let macs = (784 * 128 + 128 * 10) as f64;
        assert_eq!(b32.infer_flops(), 32.0 * 2.0 * macs);
        assert_eq!(b32.train_flops(), 32.0 * 6.0 * macs + 2.0 * macs);
        assert_eq!(b32.executed_train_flops(), b32.train_flops() - 32.0 * 2.0 * 784.0 * 128.0);
        assert_eq!(WORKLOADS[5].train_flops(), WORKLOADS[3].train_flops(), "flops per step");
        assert_eq!(WORKLOADS[6].layers.len(), 9);
        assert_eq!(WORKLOADS[6].layers[8], (16, 1));
    }

    #[test]
    fn data_is_deterministic_and_targets_are_one_hot() {
        let (xs, ts) = data::<4, 3, 8>(1);
        let (ys, us) = data::<4, 3, 8>(1);
        assert_eq!(xs, ys);
        assert_eq!(ts, us);
        assert!(xs.as_flattened().iter().all(|x| (0.0..=1.0).contains(x)));
        assert!(ts.iter().all(|t| t.iter().sum::<f32>() == 1.0));
    }
}
