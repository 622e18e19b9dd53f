//! A network of four layers glued by hand from the layers' trait methods, as `network!` glues
//! them, for tests of the formats on convolutional networks, which the macro cannot declare yet.
//! Between layers, the output is viewed as the next input with `conv::flatten` (no copy); the
//! loss is half squared error; hidden activations must be elementwise.
//!
//! Shared by `backprop-core/tests/format.rs` and `tests/safetensors.rs` (included by path).

use backprop::conv::{Contiguous, flatten, flatten_mut};
use backprop::{Activation, HalfSquaredError, Layer, LayerInfo, LayerTrace, Network, Params, Scalar, Shape};

/// The layers, their activations and names of a [`Glued`] network.
pub trait Spec<T: Scalar>: Clone + core::fmt::Debug + PartialEq + 'static {
    type L0: Layer<T, Input: Contiguous, Output: Contiguous>;
    type L1: Layer<T, Input: Contiguous, Output: Contiguous>;
    type L2: Layer<T, Input: Contiguous, Output: Contiguous>;
    type L3: Layer<T, Input: Contiguous, Output: Contiguous>;
    type A0: Activation;
    type A1: Activation;
    type A2: Activation;
    type A3: Activation;
    const NAMES: [&'static str; 4];
}

/// Four layers from `[T; N]` to `[T; O]`.
#[derive(Clone, Debug, PartialEq)]
#[repr(C)]
pub struct Glued<T: Scalar, S: Spec<T>, const N: usize, const O: usize> {
    pub l0: S::L0,
    pub l1: S::L1,
    pub l2: S::L2,
    pub l3: S::L3,
}

/// What the forward pass of a [`Glued`] network stores and its backward pass writes.
#[derive(Clone, Debug)]
pub struct GluedTrace<T: Scalar, S: Spec<T>, const N: usize> {
    input: [T; N],
    t0: LayerTrace<<S::L0 as Layer<T>>::Output>,
    t1: LayerTrace<<S::L1 as Layer<T>>::Output>,
    t2: LayerTrace<<S::L2 as Layer<T>>::Output>,
    t3: LayerTrace<<S::L3 as Layer<T>>::Output>,
    input_grad: [T; N],
}

// SAFETY: `#[repr(C)]`, four layers that are `Params<T>` each (no padding between them: each is
// scalars of `T` only, with `T`'s alignment).
unsafe impl<T: Scalar, S: Spec<T>, const N: usize, const O: usize> Params<T> for Glued<T, S, N, O> {
    const LEN: usize = S::L0::LEN + S::L1::LEN + S::L2::LEN + S::L3::LEN;
}

/// `delta ← A'(z) ⊙ delta` for an elementwise activation, whatever the shape.
fn hidden_backward<T: Scalar, A: Activation, X: Shape<Scalar = T>>(t: &mut LayerTrace<X>) {
    for ((&z, &a), d) in t.z.flat().iter().zip(t.a.flat()).zip(t.delta.flat_mut()) {
        let mut one = [*d];
        A::backward(&[z], &[a], &mut one);
        *d = one[0];
    }
}

impl<T: Scalar, S: Spec<T, L3: Layer<T, Output = [T; O]>>, const N: usize, const O: usize> Glued<T, S, N, O> {
    fn backward_impl<const ACCUMULATE: bool>(
        &self,
        t: &mut GluedTrace<T, S, N>,
        target: &[T; O],
        g: &mut Self,
    ) -> T {
        let loss = t.t3.loss_delta::<HalfSquaredError, S::A3>(target);
        self.l3.backward::<ACCUMULATE>(
            flatten(&t.t2.a),
            &t.t3.delta,
            &mut g.l3,
            flatten_mut(&mut t.t2.delta),
        );
        hidden_backward::<T, S::A2, _>(&mut t.t2);
        self.l2.backward::<ACCUMULATE>(
            flatten(&t.t1.a),
            &t.t2.delta,
            &mut g.l2,
            flatten_mut(&mut t.t1.delta),
        );
        hidden_backward::<T, S::A1, _>(&mut t.t1);
        self.l1.backward::<ACCUMULATE>(
            flatten(&t.t0.a),
            &t.t1.delta,
            &mut g.l1,
            flatten_mut(&mut t.t0.delta),
        );
        hidden_backward::<T, S::A0, _>(&mut t.t0);
        self.l0.backward::<ACCUMULATE>(
            flatten(&t.input),
            &t.t0.delta,
            &mut g.l0,
            flatten_mut(&mut t.input_grad),
        );
        loss
    }
}

impl<T: Scalar, S: Spec<T, L3: Layer<T, Output = [T; O]>>, const N: usize, const O: usize> Network<T>
    for Glued<T, S, N, O>
{
    type Input = [T; N];
    type Output = [T; O];
    type Trace = GluedTrace<T, S, N>;
    const INPUTS: usize = N;
    const OUTPUTS: usize = O;
    const LAYERS: &'static [LayerInfo] = &[
        LayerInfo::of::<T, S::L0, S::A0>(S::NAMES[0]),
        LayerInfo::of::<T, S::L1, S::A1>(S::NAMES[1]),
        LayerInfo::of::<T, S::L2, S::A2>(S::NAMES[2]),
        LayerInfo::of::<T, S::L3, S::A3>(S::NAMES[3]),
    ];
    const LOSS: &'static str = "HalfSquaredError";

    fn zeroed() -> Self {
        Self { l0: S::L0::ZEROED, l1: S::L1::ZEROED, l2: S::L2::ZEROED, l3: S::L3::ZEROED }
    }
    fn new_trace() -> Self::Trace {
        GluedTrace {
            input: [T::ZERO; N],
            t0: LayerTrace::zeroed(),
            t1: LayerTrace::zeroed(),
            t2: LayerTrace::zeroed(),
            t3: LayerTrace::zeroed(),
            input_grad: [T::ZERO; N],
        }
    }
    fn forward(&self, x: &[T; N]) -> [T; O] {
        let h = self.l0.infer::<S::A0>(flatten(x));
        let h = self.l1.infer::<S::A1>(flatten(&h));
        let h = self.l2.infer::<S::A2>(flatten(&h));
        self.l3.infer::<S::A3>(flatten(&h))
    }
    fn forward_trace(&self, x: &[T; N], t: &mut Self::Trace) -> [T; O] {
        t.input = *x;
        self.l0.forward::<S::A0>(flatten(&t.input), &mut t.t0);
        self.l1.forward::<S::A1>(flatten(&t.t0.a), &mut t.t1);
        self.l2.forward::<S::A2>(flatten(&t.t1.a), &mut t.t2);
        self.l3.forward::<S::A3>(flatten(&t.t2.a), &mut t.t3);
        t.t3.a
    }
    fn backward(&self, t: &mut Self::Trace, target: &[T; O], grads: &mut Self) -> T {
        self.backward_impl::<false>(t, target, grads)
    }
    fn backward_accumulate(&self, t: &mut Self::Trace, target: &[T; O], grads: &mut Self) -> T {
        self.backward_impl::<true>(t, target, grads)
    }
    fn input_grad(t: &Self::Trace) -> &[T; N] {
        &t.input_grad
    }
    fn trace_output(t: &Self::Trace) -> &[T; O] {
        &t.t3.a
    }
    fn loss(&self, x: &[T; N], target: &[T; O]) -> T {
        let mut t = Self::new_trace();
        self.forward_trace(x, &mut t);
        t.t3.loss::<HalfSquaredError, S::A3>(target)
    }
    fn train_step(&mut self, x: &[T; N], target: &[T; O], lr: T) -> T {
        let (mut t, mut grads) = (Self::new_trace(), Self::zeroed());
        self.forward_trace(x, &mut t);
        let loss = self.backward(&mut t, target, &mut grads);
        for (p, &g) in self.params_mut().iter_mut().zip(grads.params()) {
            *p -= lr * g;
        }
        loss
    }
}
