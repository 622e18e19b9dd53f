//! The library's LeNet: the core's layer types glued by hand, call for call as `network!`
//! generates a network (see the expansion snapshots in `backprop-macros/tests/expand`): each
//! layer's pass through the [`Layer`] trait, the traces and tiles of the generated code, the SGD
//! step fused into the backward pass from the top down, and [`flatten`] (and its tile and batch
//! forms) between the second pool and the dense head.
//!
//! ========================================================================================
//! GENERATED-CODE STAND-IN. `network!` cannot declare convolutional layers yet; once it can, this
//! whole module is replaced by
//!
//! ```text
//! network! {
//!     #[loss(SoftmaxCrossEntropy)]
//!     pub struct LeNet {
//!         input: [1, 28, 28],
//!         conv1: Conv2d<6, 5, Relu>,      // valid, stride 1
//!         pool1: MaxPool2d<2>,
//!         conv2: Conv2d<16, 5, Relu>,
//!         pool2: MaxPool2d<2>,
//!         fc1: Dense<120, Relu>,
//!         fc2: Dense<84, Relu>,
//!         output: Dense<10, Softmax>,
//!     }
//! }
//! ```
//!
//! (in the syntax the macro settles on) and the benchmarks call its `forward`, `train_step` and
//! `train_step_batch` instead.
//! ========================================================================================

use backprop::conv::{Conv2d, MaxPool2d, Valid, flatten, flatten_batch, flatten_mut, flatten_tile};
use backprop::layer::LayerBatch;
use backprop::{Dense, Identity, Layer, LayerTrace, Params, Relu, Softmax, SoftmaxCrossEntropy};

use super::{BATCH, CLASSES, INPUTS};
use crate::workload::Zeroable;

/// One input image: one channel of 28 × 28.
pub type Image = [[[f32; 28]; 28]; 1];

/// The first convolution: 6 filters of 5 × 5, valid, stride 1.
pub type Conv1 = Conv2d<f32, Valid, 1, 28, 28, 6, 5, 1, 24, 24>;
/// The first pool: 2 × 2, stride 2.
pub type Pool1 = MaxPool2d<f32, 6, 24, 24, 2, 2, 12, 12>;
/// The second convolution: 16 filters of 6 × 5 × 5.
pub type Conv2 = Conv2d<f32, Valid, 6, 12, 12, 16, 5, 1, 8, 8>;
/// The second pool.
pub type Pool2 = MaxPool2d<f32, 16, 8, 8, 2, 2, 4, 4>;
/// The dense head's first layer, on the flattened `16 × 4 × 4`.
pub type Fc1 = Dense<f32, 256, 120>;
/// The dense head's second layer.
pub type Fc2 = Dense<f32, 120, 84>;
/// The output layer.
pub type Output = Dense<f32, 84, 10>;

/// What the first convolution gives for one sample: 6 channels of 24 × 24.
pub type Conv1Out = [[[f32; 24]; 24]; 6];
/// What the first pool gives: 6 channels of 12 × 12.
pub type Pool1Out = [[[f32; 12]; 12]; 6];
/// What the second convolution gives: 16 channels of 8 × 8.
pub type Conv2Out = [[[f32; 8]; 8]; 16];
/// What the second pool gives: 16 channels of 4 × 4 (256 values for the dense head).
pub type Pool2Out = [[[f32; 4]; 4]; 16];

/// The network's layers, input to output.
#[derive(Clone, Debug, PartialEq)]
#[repr(C)]
pub struct LeNet {
    /// See [`Conv1`].
    pub conv1: Conv1,
    /// See [`Pool1`].
    pub pool1: Pool1,
    /// See [`Conv2`].
    pub conv2: Conv2,
    /// See [`Pool2`].
    pub pool2: Pool2,
    /// See [`Fc1`].
    pub fc1: Fc1,
    /// See [`Fc2`].
    pub fc2: Fc2,
    /// See [`Output`].
    pub output: Output,
}

// SAFETY: `#[repr(C)]` layers, each `#[repr(C)]` arrays of `f32` (the pools: a `[f32; 0]`), so
// all-zero bits are `0.0` everywhere.
unsafe impl Zeroable for LeNet {}

// SAFETY: `#[repr(C)]`, the layers' parameters one after another with no padding (every layer is
// `f32` arrays with `f32`'s alignment, the pools of size 0), as `network!` asserts for its
// networks; `params` checks the size at compile time.
unsafe impl Params<f32> for LeNet {
    const LEN: usize = <Conv1 as Params<f32>>::LEN
        + <Conv2 as Params<f32>>::LEN
        + <Fc1 as Params<f32>>::LEN
        + <Fc2 as Params<f32>>::LEN
        + <Output as Params<f32>>::LEN;
}

/// What the single-sample passes store: every layer's `z`, `a` and `delta`.
struct Trace {
    conv1: LayerTrace<Conv1Out>,
    pool1: LayerTrace<Pool1Out>,
    conv2: LayerTrace<Conv2Out>,
    pool2: LayerTrace<Pool2Out>,
    fc1: LayerTrace<[f32; 120]>,
    fc2: LayerTrace<[f32; 84]>,
    output: LayerTrace<[f32; 10]>,
}

impl Trace {
    fn zeroed() -> Self {
        Self {
            conv1: LayerTrace::zeroed(),
            pool1: LayerTrace::zeroed(),
            conv2: LayerTrace::zeroed(),
            pool2: LayerTrace::zeroed(),
            fc1: LayerTrace::zeroed(),
            fc2: LayerTrace::zeroed(),
            output: LayerTrace::zeroed(),
        }
    }
}

impl LeNet {
    /// Inference: the class probabilities for one image, storing nothing.
    #[inline]
    pub fn forward(&self, x: &[f32; INPUTS]) -> [f32; CLASSES] {
        let x: &Image = flatten(x);
        let a = self.conv1.infer::<Relu>(x);
        let a = self.pool1.infer::<Identity>(&a);
        let a = self.conv2.infer::<Relu>(&a);
        let a = self.pool2.infer::<Identity>(&a);
        let a = self.fc1.infer::<Relu>(flatten(&a));
        let a = self.fc2.infer::<Relu>(&a);
        self.output.infer::<Softmax>(&a)
    }

    /// One SGD step on one sample: forward, then backward with `p -= lr · dL/dp` applied to each
    /// layer as soon as its error signal is known. Returns the loss before the step.
    #[inline]
    pub fn train_step(&mut self, x: &[f32; INPUTS], target: &[f32; CLASSES], lr: f32) -> f32 {
        let x: &Image = flatten(x);
        let mut t = Trace::zeroed();
        self.conv1.forward::<Relu>(x, &mut t.conv1);
        self.pool1.forward::<Identity>(&t.conv1.a, &mut t.pool1);
        self.conv2.forward::<Relu>(&t.pool1.a, &mut t.conv2);
        self.pool2.forward::<Identity>(&t.conv2.a, &mut t.pool2);
        self.fc1.forward::<Relu>(flatten(&t.pool2.a), &mut t.fc1);
        self.fc2.forward::<Relu>(&t.fc1.a, &mut t.fc2);
        self.output.forward::<Softmax>(&t.fc2.a, &mut t.output);
        let loss = t.output.loss_delta::<SoftmaxCrossEntropy, Softmax>(target);
        self.output.backward_sgd(&t.fc2.a, &t.output.delta, lr, &mut t.fc2.delta);
        t.fc2.activation_backward::<Relu>();
        self.fc2.backward_sgd(&t.fc1.a, &t.fc2.delta, lr, &mut t.fc1.delta);
        t.fc1.activation_backward::<Relu>();
        self.fc1.backward_sgd(flatten(&t.pool2.a), &t.fc1.delta, lr, flatten_mut(&mut t.pool2.delta));
        t.pool2.activation_backward::<Identity>();
        self.pool2.backward_sgd(&t.conv2.a, &t.pool2.delta, lr, &mut t.conv2.delta);
        t.conv2.activation_backward::<Relu>();
        self.conv2.backward_sgd(&t.pool1.a, &t.conv2.delta, lr, &mut t.pool1.delta);
        t.pool1.activation_backward::<Identity>();
        self.pool1.backward_sgd(&t.conv1.a, &t.pool1.delta, lr, &mut t.conv1.delta);
        t.conv1.activation_backward::<Relu>();
        self.conv1.sgd(x, &t.conv1.delta, lr);
        loss
    }

    /// One SGD step on the mean gradient of a mini-batch of [`BATCH`] (one tile): the batched
    /// passes of every layer, the step fused into the backward pass. Returns the mean loss before
    /// the step. `grads` is scratch of the network's shape (its contents are overwritten).
    #[inline]
    pub fn train_step_batch(
        &mut self,
        xs: &[[f32; INPUTS]; BATCH],
        targets: &[[f32; CLASSES]; BATCH],
        lr: f32,
        grads: &mut Self,
    ) -> f32 {
        let xs: &[Image] = flatten_tile(xs);
        let scale = 1.0 / BATCH as f32;
        let mut conv1 = LayerBatch::<Conv1Out>::zeroed();
        let mut pool1 = LayerBatch::<Pool1Out>::zeroed();
        let mut conv2 = LayerBatch::<Conv2Out>::zeroed();
        let mut pool2 = LayerBatch::<Pool2Out>::zeroed();
        let mut fc1 = LayerBatch::<[f32; 120]>::zeroed();
        let mut fc2 = LayerBatch::<[f32; 84]>::zeroed();
        let mut output = LayerBatch::<[f32; 10]>::zeroed();
        self.conv1.forward_batch::<Relu>(xs, &mut conv1);
        self.pool1.forward_batch::<Identity>(conv1.outputs(), &mut pool1);
        self.conv2.forward_batch::<Relu>(pool1.outputs(), &mut conv2);
        self.pool2.forward_batch::<Identity>(conv2.outputs(), &mut pool2);
        self.fc1.forward_batch::<Relu>(flatten_tile(pool2.outputs()), &mut fc1);
        self.fc2.forward_batch::<Relu>(fc1.outputs(), &mut fc2);
        self.output.forward_batch::<Softmax>(fc2.outputs(), &mut output);
        let loss = output.loss_delta::<SoftmaxCrossEntropy, Softmax>(targets);
        self.output.backward_batch_sgd(&mut fc2, &output, scale, lr, &mut grads.output);
        fc2.activation_backward::<Relu>();
        self.fc2.backward_batch_sgd(&mut fc1, &fc2, scale, lr, &mut grads.fc2);
        fc1.activation_backward::<Relu>();
        self.fc1.backward_batch_sgd(flatten_batch(&mut pool2), &fc1, scale, lr, &mut grads.fc1);
        pool2.activation_backward::<Identity>();
        self.pool2.backward_batch_sgd(&mut conv2, &pool2, scale, lr, &mut grads.pool2);
        conv2.activation_backward::<Relu>();
        self.conv2.backward_batch_sgd(&mut pool1, &conv2, scale, lr, &mut grads.conv2);
        pool1.activation_backward::<Identity>();
        self.pool1.backward_batch_sgd(&mut conv1, &pool1, scale, lr, &mut grads.pool1);
        conv1.activation_backward::<Relu>();
        self.conv1.batch_sgd(xs, &conv1, scale, lr, &mut grads.conv1);
        loss * scale
    }
}

/// The tiles of the convolutional layers of one batch step, for [`conv_layers_step`]: what the
/// step's forward pass gave, and the error signals its backward pass reached them with.
pub struct ConvTiles {
    conv1: LayerBatch<Conv1Out>,
    pool1: LayerBatch<Pool1Out>,
    conv2: LayerBatch<Conv2Out>,
}

impl ConvTiles {
    /// The tiles: the first convolution's, the first pool's, the second convolution's.
    #[allow(clippy::type_complexity)] // three tiles
    pub fn parts(
        &mut self,
    ) -> (&mut LayerBatch<Conv1Out>, &mut LayerBatch<Pool1Out>, &mut LayerBatch<Conv2Out>) {
        (&mut self.conv1, &mut self.pool1, &mut self.conv2)
    }

    /// The tiles of `net`'s batch step on `xs`, `targets` (on the heap: 1.8 MB).
    pub fn of(net: &LeNet, xs: &[[f32; INPUTS]; BATCH], targets: &[[f32; CLASSES]; BATCH]) -> Box<Self> {
        let mut tiles = Box::new(Self {
            conv1: LayerBatch::zeroed(),
            pool1: LayerBatch::zeroed(),
            conv2: LayerBatch::zeroed(),
        });
        let xs: &[Image] = flatten_tile(xs);
        let (net, mut grads) = (net.clone(), net.clone());
        let mut pool2 = LayerBatch::<Pool2Out>::zeroed();
        let (mut fc1, mut fc2, mut output) =
            (LayerBatch::zeroed(), LayerBatch::zeroed(), LayerBatch::zeroed());
        let t = &mut *tiles;
        net.conv1.forward_batch::<Relu>(xs, &mut t.conv1);
        net.pool1.forward_batch::<Identity>(t.conv1.outputs(), &mut t.pool1);
        net.conv2.forward_batch::<Relu>(t.pool1.outputs(), &mut t.conv2);
        net.pool2.forward_batch::<Identity>(t.conv2.outputs(), &mut pool2);
        net.fc1.forward_batch::<Relu>(flatten_tile(pool2.outputs()), &mut fc1);
        net.fc2.forward_batch::<Relu>(fc1.outputs(), &mut fc2);
        net.output.forward_batch::<Softmax>(fc2.outputs(), &mut output);
        output.loss_delta::<SoftmaxCrossEntropy, Softmax>(targets);
        net.output.backward_batch(&mut fc2, &output, &mut grads.output);
        fc2.activation_backward::<Relu>();
        net.fc2.backward_batch(&mut fc1, &fc2, &mut grads.fc2);
        fc1.activation_backward::<Relu>();
        net.fc1.backward_batch(flatten_batch(&mut pool2), &fc1, &mut grads.fc1);
        net.pool2.backward_batch(&mut t.conv2, &pool2, &mut grads.pool2);
        t.conv2.activation_backward::<Relu>();
        net.conv2.backward_batch(&mut t.pool1, &t.conv2, &mut grads.conv2);
        net.pool1.backward_batch(&mut t.conv1, &t.pool1, &mut grads.pool1);
        t.conv1.activation_backward::<Relu>();
        tiles
    }
}

/// The convolutional layers' share of a batch step, alone: both forward passes, the second
/// layer's backward pass with its SGD step (its input gradient included) and the first layer's
/// SGD step, on the tiles of [`ConvTiles::of`] (the pools and the dense head are left out, their
/// error signals kept from that step). [`conv_train_flops`](super::conv_train_flops) per call.
#[inline]
pub fn conv_layers_step(
    net: &mut LeNet,
    xs: &[[f32; INPUTS]; BATCH],
    t: &mut ConvTiles,
    lr: f32,
    grads: &mut LeNet,
) {
    let xs: &[Image] = flatten_tile(xs);
    let scale = 1.0 / BATCH as f32;
    net.conv1.forward_batch::<Relu>(xs, &mut t.conv1);
    net.conv2.forward_batch::<Relu>(t.pool1.outputs(), &mut t.conv2);
    net.conv2.backward_batch_sgd(&mut t.pool1, &t.conv2, scale, lr, &mut grads.conv2);
    net.conv1.batch_sgd(xs, &t.conv1, scale, lr, &mut grads.conv1);
}
