//! The hand-written baselines: the workloads' networks written directly in fixed-size Rust, the way
//! a careful engineer would without a macro, to measure the generated code against.
//!
//! Both versions share this module: the [`Layer`] (`[[f32; I]; O]` weights, row `o` holding the
//! weights into neuron `o`, as in `backprop::Dense`), the activations and output heads
//! ([`act`]), the networks ([`Mlp2`] for W1 to W4, [`Deep`] for W5) with their forward pass that
//! stores `z` and `a`, their backward pass computing the error signals layer by layer, and the SGD
//! update. They differ only in the four linear-algebra kernels of [`Kernels`]:
//!
//! - [`straight::Straight`]: straight loops, the textbook formulas: `z_o = b_o + Σ_i w_oi x_i`
//!   in one accumulator, `dx_i = Σ_o w_oi δ_o` column by column, `dW = δ xᵀ`, `W -= lr · dW`.
//! - [`accum::Accum`]: dot products in 16 independent accumulators (floating-point addition is
//!   not reassociated without fast-math, so one accumulator runs at one add per add-latency and
//!   does not vectorise), `dx = Σ_o δ_o W_o` as `axpy`s over contiguous rows, and `mul_add` when
//!   the build targets FMA (`-C target-cpu=native`); rustc never contracts `a * b + c` into an
//!   FMA by itself.
//!
//! **The update is a separate pass** in both, as in a normal implementation (and in PyTorch's
//! `loss.backward(); opt.step()`): the backward pass writes the gradients into a second network
//! of the same shape (`grads`, allocated once by the caller), then `p -= lr · g` walks every
//! parameter. The generated `train_step` fuses the update into the backward pass instead (one pass
//! over `W` fewer); that fusion is part of what the benchmark measures. A mini-batch accumulates
//! the gradients of its samples and applies `p -= (lr / B) · Σ g` once.
//!
//! Everything is `f32`, with `f32::exp` and `f32::tanh` from `std`.

pub mod accum;
pub mod straight;

use core::marker::PhantomData;

use crate::workload::Zeroable;

/// The kernels, activation and head a network is made with (types only, no data).
type Kinds<T> = PhantomData<fn() -> T>;

/// A dense layer `z = W x + b` with `I` inputs and `O` outputs.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Layer<const I: usize, const O: usize> {
    /// Weights: `w[o][i]` connects input `i` to neuron `o`.
    pub w: [[f32; I]; O],
    /// Biases, one per neuron.
    pub b: [f32; O],
}

// SAFETY: two arrays of `f32`.
unsafe impl<const I: usize, const O: usize> Zeroable for Layer<I, O> {}

impl<const I: usize, const O: usize> Layer<I, O> {
    /// Copies the layer's parameters from the front of `params` (the weights row by row, then
    /// the biases: the order of `backprop::Params`) and returns the rest.
    ///
    /// # Panics
    ///
    /// If `params` holds fewer than `I·O + O` values.
    pub fn load<'a>(&mut self, params: &'a [f32]) -> &'a [f32] {
        let (w, rest) = params.split_at(I * O);
        let (b, rest) = rest.split_at(O);
        self.w.as_flattened_mut().copy_from_slice(w);
        self.b.copy_from_slice(b);
        rest
    }

    /// Appends the layer's parameters to `out`, in the order of [`load`](Self::load).
    pub fn store(&self, out: &mut Vec<f32>) {
        out.extend_from_slice(self.w.as_flattened());
        out.extend_from_slice(&self.b);
    }
}

/// The linear algebra of a dense layer: the only difference between the two baselines.
pub trait Kernels {
    /// `z = W x + b`.
    fn affine<const I: usize, const O: usize>(layer: &Layer<I, O>, x: &[f32; I], z: &mut [f32; O]);
    /// `dx = Wᵀ δ`: the error signal passed down to the layer's input.
    fn input_grad<const I: usize, const O: usize>(layer: &Layer<I, O>, delta: &[f32; O], dx: &mut [f32; I]);
    /// `dW = δ xᵀ`, `db = δ`: written into `grad`, or added to it when `ACCUMULATE`.
    fn param_grad<const I: usize, const O: usize, const ACCUMULATE: bool>(
        x: &[f32; I],
        delta: &[f32; O],
        grad: &mut Layer<I, O>,
    );
    /// The SGD update `W -= lr · dW`, `b -= lr · db`.
    fn update<const I: usize, const O: usize>(layer: &mut Layer<I, O>, grad: &Layer<I, O>, lr: f32);
}

/// Activations and output heads, written directly with `std`'s `f32` functions.
pub mod act {
    /// An element-wise activation of a hidden layer.
    pub trait Hidden {
        /// `a = f(z)`.
        fn f(z: f32) -> f32;
        /// `f'(z)`, given `z` and `a = f(z)`.
        fn df(z: f32, a: f32) -> f32;
    }

    /// `1 / (1 + e^-z)`; `f' = a (1 - a)`.
    pub struct Sigmoid;
    impl Hidden for Sigmoid {
        #[inline(always)]
        fn f(z: f32) -> f32 {
            1.0 / (1.0 + (-z).exp())
        }
        #[inline(always)]
        fn df(_: f32, a: f32) -> f32 {
            a * (1.0 - a)
        }
    }

    /// `tanh z`; `f' = 1 - a²`.
    pub struct Tanh;
    impl Hidden for Tanh {
        #[inline(always)]
        fn f(z: f32) -> f32 {
            z.tanh()
        }
        #[inline(always)]
        fn df(_: f32, a: f32) -> f32 {
            1.0 - a * a
        }
    }

    /// `max(z, 0)`; `f' = 1` for `z > 0`, else 0.
    pub struct Relu;
    impl Hidden for Relu {
        #[inline(always)]
        fn f(z: f32) -> f32 {
            z.max(0.0)
        }
        #[inline(always)]
        fn df(z: f32, _: f32) -> f32 {
            if z > 0.0 { 1.0 } else { 0.0 }
        }
    }

    /// The output layer's activation with its loss.
    pub trait Head {
        /// `a = f(z)` for the output layer.
        fn forward<const N: usize>(z: &[f32; N], a: &mut [f32; N]);
        /// The loss of one sample, and `delta = dL/dz`.
        fn loss_delta<const N: usize>(
            z: &[f32; N],
            a: &[f32; N],
            target: &[f32; N],
            delta: &mut [f32; N],
        ) -> f32;
    }

    /// Sigmoid output, `L = ½ Σ (a - t)²`, `δ = (a - t) a (1 - a)`.
    pub struct SigmoidHalfSquared;
    impl Head for SigmoidHalfSquared {
        #[inline]
        fn forward<const N: usize>(z: &[f32; N], a: &mut [f32; N]) {
            for (a, &z) in a.iter_mut().zip(z) {
                *a = Sigmoid::f(z);
            }
        }
        #[inline]
        fn loss_delta<const N: usize>(
            _: &[f32; N],
            a: &[f32; N],
            target: &[f32; N],
            delta: &mut [f32; N],
        ) -> f32 {
            let mut loss = 0.0;
            for ((d, &a), &t) in delta.iter_mut().zip(a).zip(target) {
                let e = a - t;
                loss += e * e;
                *d = e * a * (1.0 - a);
            }
            0.5 * loss
        }
    }

    /// Softmax output with cross-entropy, `L = Σ t_i (logsumexp(z) - z_i)` (from the logits, so
    /// finite for any `z`), `δ = a - t` (targets summing to one).
    pub struct SoftmaxCrossEntropy;
    impl Head for SoftmaxCrossEntropy {
        #[inline]
        fn forward<const N: usize>(z: &[f32; N], a: &mut [f32; N]) {
            let max = z.iter().fold(f32::NEG_INFINITY, |m, &z| m.max(z));
            let mut sum = 0.0;
            for (a, &z) in a.iter_mut().zip(z) {
                *a = (z - max).exp();
                sum += *a;
            }
            let inv = 1.0 / sum;
            for a in a.iter_mut() {
                *a *= inv;
            }
        }
        #[inline]
        fn loss_delta<const N: usize>(
            z: &[f32; N],
            a: &[f32; N],
            target: &[f32; N],
            delta: &mut [f32; N],
        ) -> f32 {
            let max = z.iter().fold(f32::NEG_INFINITY, |m, &z| m.max(z));
            let lse = max + z.iter().map(|&z| (z - max).exp()).sum::<f32>().ln();
            let mut loss = 0.0;
            for (((d, &a), &t), &z) in delta.iter_mut().zip(a).zip(target).zip(z) {
                loss += t * (lse - z);
                *d = a - t;
            }
            loss
        }
    }
}

/// The interface the benchmarks and the agreement tests use, implemented by [`Mlp2`] and
/// [`Deep`] for either [`Kernels`].
pub trait Baseline<const I: usize, const O: usize>: Zeroable {
    /// Inference: the output for `x`, storing nothing.
    fn forward(&self, x: &[f32; I]) -> [f32; O];
    /// Forward, backward into `grads` (written), then the update `p -= lr · g`; returns the loss
    /// before the step.
    fn train_step(&mut self, x: &[f32; I], target: &[f32; O], lr: f32, grads: &mut Self) -> f32;
    /// One SGD step on a mini-batch: the gradients of the `B` samples summed into `grads`, then
    /// `p -= (lr / B) · g`; returns the mean loss before the step.
    fn train_step_batch<const B: usize>(
        &mut self,
        xs: &[[f32; I]; B],
        targets: &[[f32; O]; B],
        lr: f32,
        grads: &mut Self,
    ) -> f32;
    /// Copies every parameter from `params` (the flat order of `backprop::Params`).
    fn load(&mut self, params: &[f32]);
    /// Every parameter, in the flat order of `backprop::Params`.
    fn params(&self) -> Vec<f32>;
}

/// A network with one hidden layer (`I` → `H`, activation `A`) and an output layer (`H` → `O`,
/// head `L`), with kernels `K`: W1 to W4.
#[repr(C)]
pub struct Mlp2<K, A, L, const I: usize, const H: usize, const O: usize> {
    /// The hidden layer.
    pub hidden: Layer<I, H>,
    /// The output layer.
    pub output: Layer<H, O>,
    kinds: Kinds<(K, A, L)>,
}

// SAFETY: two `Layer`s and a zero-sized marker.
unsafe impl<K, A, L, const I: usize, const H: usize, const O: usize> Zeroable for Mlp2<K, A, L, I, H, O> {}

/// What [`Mlp2`]'s forward pass stores for its backward pass.
struct Trace2<const H: usize, const O: usize> {
    z1: [f32; H],
    a1: [f32; H],
    z2: [f32; O],
    a2: [f32; O],
}

impl<K: Kernels, A: act::Hidden, L: act::Head, const I: usize, const H: usize, const O: usize>
    Mlp2<K, A, L, I, H, O>
{
    #[inline]
    fn forward_trace(&self, x: &[f32; I]) -> Trace2<H, O> {
        let mut t = Trace2 { z1: [0.0; H], a1: [0.0; H], z2: [0.0; O], a2: [0.0; O] };
        K::affine(&self.hidden, x, &mut t.z1);
        for (a, &z) in t.a1.iter_mut().zip(&t.z1) {
            *a = A::f(z);
        }
        K::affine(&self.output, &t.a1, &mut t.z2);
        L::forward(&t.z2, &mut t.a2);
        t
    }

    #[inline]
    fn backward<const ACCUMULATE: bool>(
        &self,
        x: &[f32; I],
        t: &Trace2<H, O>,
        target: &[f32; O],
        grads: &mut Self,
    ) -> f32 {
        let mut d2 = [0.0; O];
        let loss = L::loss_delta(&t.z2, &t.a2, target, &mut d2);
        K::param_grad::<H, O, ACCUMULATE>(&t.a1, &d2, &mut grads.output);
        let mut d1 = [0.0; H];
        K::input_grad(&self.output, &d2, &mut d1);
        for ((d, &z), &a) in d1.iter_mut().zip(&t.z1).zip(&t.a1) {
            *d *= A::df(z, a);
        }
        K::param_grad::<I, H, ACCUMULATE>(x, &d1, &mut grads.hidden);
        loss
    }

    #[inline]
    fn update(&mut self, grads: &Self, lr: f32) {
        K::update(&mut self.hidden, &grads.hidden, lr);
        K::update(&mut self.output, &grads.output, lr);
    }
}

impl<K: Kernels, A: act::Hidden, L: act::Head, const I: usize, const H: usize, const O: usize> Baseline<I, O>
    for Mlp2<K, A, L, I, H, O>
{
    #[inline]
    fn forward(&self, x: &[f32; I]) -> [f32; O] {
        let mut z1 = [0.0; H];
        K::affine(&self.hidden, x, &mut z1);
        let a1 = z1.map(A::f);
        let mut z2 = [0.0; O];
        K::affine(&self.output, &a1, &mut z2);
        let mut y = [0.0; O];
        L::forward(&z2, &mut y);
        y
    }

    #[inline]
    fn train_step(&mut self, x: &[f32; I], target: &[f32; O], lr: f32, grads: &mut Self) -> f32 {
        let trace = self.forward_trace(x);
        let loss = self.backward::<false>(x, &trace, target, grads);
        self.update(grads, lr);
        loss
    }

    fn train_step_batch<const B: usize>(
        &mut self,
        xs: &[[f32; I]; B],
        targets: &[[f32; O]; B],
        lr: f32,
        grads: &mut Self,
    ) -> f32 {
        let mut total = 0.0;
        for (k, (x, t)) in xs.iter().zip(targets).enumerate() {
            let trace = self.forward_trace(x);
            total += if k == 0 {
                self.backward::<false>(x, &trace, t, grads)
            } else {
                self.backward::<true>(x, &trace, t, grads)
            };
        }
        self.update(grads, lr / B as f32);
        total / B as f32
    }

    fn load(&mut self, params: &[f32]) {
        let rest = self.hidden.load(params);
        let rest = self.output.load(rest);
        assert!(rest.is_empty(), "{} parameters too many", rest.len());
    }

    fn params(&self) -> Vec<f32> {
        let mut out = Vec::new();
        self.hidden.store(&mut out);
        self.output.store(&mut out);
        out
    }
}

/// Width of W5's hidden layers (and of its input).
pub const DEEP_WIDTH: usize = 16;
/// Hidden layers of W5.
pub const DEEP_DEPTH: usize = 8;

/// W5: [`DEEP_DEPTH`] sigmoid layers of [`DEEP_WIDTH`] and one sigmoid output, half squared
/// error, with kernels `K`.
#[repr(C)]
pub struct Deep<K> {
    /// The hidden layers, input to output.
    pub hidden: [Layer<DEEP_WIDTH, DEEP_WIDTH>; DEEP_DEPTH],
    /// The output layer.
    pub output: Layer<DEEP_WIDTH, 1>,
    kinds: Kinds<K>,
}

// SAFETY: `Layer`s and a zero-sized marker.
unsafe impl<K> Zeroable for Deep<K> {}

/// What [`Deep`]'s forward pass stores.
struct DeepTrace {
    z: [[f32; DEEP_WIDTH]; DEEP_DEPTH],
    a: [[f32; DEEP_WIDTH]; DEEP_DEPTH],
    zo: [f32; 1],
    ao: [f32; 1],
}

impl<K: Kernels> Deep<K> {
    #[inline]
    fn forward_trace(&self, x: &[f32; DEEP_WIDTH]) -> DeepTrace {
        use act::Hidden;
        let mut t = DeepTrace {
            z: [[0.0; DEEP_WIDTH]; DEEP_DEPTH],
            a: [[0.0; DEEP_WIDTH]; DEEP_DEPTH],
            zo: [0.0],
            ao: [0.0],
        };
        for l in 0..DEEP_DEPTH {
            let input = if l == 0 { *x } else { t.a[l - 1] };
            K::affine(&self.hidden[l], &input, &mut t.z[l]);
            for (a, &z) in t.a[l].iter_mut().zip(&t.z[l]) {
                *a = act::Sigmoid::f(z);
            }
        }
        K::affine(&self.output, &t.a[DEEP_DEPTH - 1], &mut t.zo);
        <act::SigmoidHalfSquared as act::Head>::forward(&t.zo, &mut t.ao);
        t
    }

    #[inline]
    fn backward<const ACCUMULATE: bool>(
        &self,
        x: &[f32; DEEP_WIDTH],
        t: &DeepTrace,
        target: &[f32; 1],
        grads: &mut Self,
    ) -> f32 {
        use act::Hidden;
        let mut d_out = [0.0; 1];
        let loss = <act::SigmoidHalfSquared as act::Head>::loss_delta(&t.zo, &t.ao, target, &mut d_out);
        K::param_grad::<DEEP_WIDTH, 1, ACCUMULATE>(&t.a[DEEP_DEPTH - 1], &d_out, &mut grads.output);
        let mut delta = [0.0; DEEP_WIDTH];
        K::input_grad(&self.output, &d_out, &mut delta);
        for l in (0..DEEP_DEPTH).rev() {
            for ((d, &z), &a) in delta.iter_mut().zip(&t.z[l]).zip(&t.a[l]) {
                *d *= act::Sigmoid::df(z, a);
            }
            let input = if l == 0 { x } else { &t.a[l - 1] };
            K::param_grad::<DEEP_WIDTH, DEEP_WIDTH, ACCUMULATE>(input, &delta, &mut grads.hidden[l]);
            if l > 0 {
                let mut below = [0.0; DEEP_WIDTH];
                K::input_grad(&self.hidden[l], &delta, &mut below);
                delta = below;
            }
        }
        loss
    }

    #[inline]
    fn update(&mut self, grads: &Self, lr: f32) {
        for (layer, grad) in self.hidden.iter_mut().zip(&grads.hidden) {
            K::update(layer, grad, lr);
        }
        K::update(&mut self.output, &grads.output, lr);
    }
}

impl<K: Kernels> Baseline<DEEP_WIDTH, 1> for Deep<K> {
    #[inline]
    fn forward(&self, x: &[f32; DEEP_WIDTH]) -> [f32; 1] {
        use act::Hidden;
        let mut a = *x;
        for layer in &self.hidden {
            let mut z = [0.0; DEEP_WIDTH];
            K::affine(layer, &a, &mut z);
            a = z.map(act::Sigmoid::f);
        }
        let mut z = [0.0; 1];
        K::affine(&self.output, &a, &mut z);
        [act::Sigmoid::f(z[0])]
    }

    #[inline]
    fn train_step(&mut self, x: &[f32; DEEP_WIDTH], target: &[f32; 1], lr: f32, grads: &mut Self) -> f32 {
        let trace = self.forward_trace(x);
        let loss = self.backward::<false>(x, &trace, target, grads);
        self.update(grads, lr);
        loss
    }

    fn train_step_batch<const B: usize>(
        &mut self,
        xs: &[[f32; DEEP_WIDTH]; B],
        targets: &[[f32; 1]; B],
        lr: f32,
        grads: &mut Self,
    ) -> f32 {
        let mut total = 0.0;
        for (k, (x, t)) in xs.iter().zip(targets).enumerate() {
            let trace = self.forward_trace(x);
            total += if k == 0 {
                self.backward::<false>(x, &trace, t, grads)
            } else {
                self.backward::<true>(x, &trace, t, grads)
            };
        }
        self.update(grads, lr / B as f32);
        total / B as f32
    }

    fn load(&mut self, params: &[f32]) {
        let mut rest = params;
        for layer in &mut self.hidden {
            rest = layer.load(rest);
        }
        let rest = self.output.load(rest);
        assert!(rest.is_empty(), "{} parameters too many", rest.len());
    }

    fn params(&self) -> Vec<f32> {
        let mut out = Vec::new();
        for layer in &self.hidden {
            layer.store(&mut out);
        }
        self.output.store(&mut out);
        out
    }
}
