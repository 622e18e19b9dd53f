//! The library's LeNet, declared with `network!` (the benchmarks call its `forward`,
//! `train_step` and `train_step_batch`), and the convolutional layers' share of a batch step on
//! one tile of 32 samples, alone ([`conv_layers_step`], on the tiles of [`ConvTiles::of`]), through
//! the [`Layer`] trait on the network's own fields. (The network's own batch step runs tiles of
//! `LeNet::BATCH_TILE` samples, 4, which keep its stack small.)

use backprop::conv::{Conv2d, MaxPool2d, Valid, flatten_batch, flatten_tile};
use backprop::layer::LayerBatch;
use backprop::{Dense, Identity, Layer, Relu, Softmax, SoftmaxCrossEntropy};

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

backprop::network! {
    /// The workload's network (see [`super`]): valid convolutions of stride 1, max pools of 2.
    #[loss(SoftmaxCrossEntropy)]
    pub struct LeNet {
        input: [1, 28, 28],
        conv1: Conv2d<6, 5, Relu>,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<16, 5, Relu>,
        pool2: MaxPool2d<2>,
        fc1: Dense<120, Relu>,
        fc2: Dense<84, Relu>,
        output: Dense<10, Softmax>,
    }
}

// SAFETY: a generated network is `#[repr(C)]` arrays of `f32` (its pools of size 0), so all-zero
// bits are `0.0` everywhere.
unsafe impl Zeroable for LeNet<f32> {}

// The layers' types are those the aliases above name.
#[allow(clippy::type_complexity)] // the seven layers
const _: fn(&LeNet<f32>) -> (&Conv1, &Pool1, &Conv2, &Pool2, &Fc1, &Fc2, &Output) =
    |n| (&n.conv1, &n.pool1, &n.conv2, &n.pool2, &n.fc1, &n.fc2, &n.output);

/// The tiles of the convolutional layers of one batch step, for [`conv_layers_step`]: what the
/// step's forward pass gave, and the error signals its backward pass reached them with.
pub struct ConvTiles {
    conv1: LayerBatch<Conv1Out, BATCH>,
    pool1: LayerBatch<Pool1Out, BATCH>,
    conv2: LayerBatch<Conv2Out, BATCH>,
}

impl ConvTiles {
    /// The tiles: the first convolution's, the first pool's, the second convolution's.
    #[allow(clippy::type_complexity)] // three tiles
    pub fn parts(
        &mut self,
    ) -> (&mut LayerBatch<Conv1Out, BATCH>, &mut LayerBatch<Pool1Out, BATCH>, &mut LayerBatch<Conv2Out, BATCH>)
    {
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
        let mut pool2 = LayerBatch::<Pool2Out, BATCH>::zeroed();
        let (mut fc1, mut fc2, mut output) =
            (LayerBatch::zeroed(), LayerBatch::zeroed(), LayerBatch::zeroed());
        let t = &mut *tiles;
        net.conv1.forward_batch::<Relu, BATCH>(xs, &mut t.conv1);
        net.pool1.forward_batch::<Identity, BATCH>(t.conv1.outputs(), &mut t.pool1);
        net.conv2.forward_batch::<Relu, BATCH>(t.pool1.outputs(), &mut t.conv2);
        net.pool2.forward_batch::<Identity, BATCH>(t.conv2.outputs(), &mut pool2);
        net.fc1.forward_batch::<Relu, BATCH>(flatten_tile(pool2.outputs()), &mut fc1);
        net.fc2.forward_batch::<Relu, BATCH>(fc1.outputs(), &mut fc2);
        net.output.forward_batch::<Softmax, BATCH>(fc2.outputs(), &mut output);
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
    net.conv1.forward_batch::<Relu, BATCH>(xs, &mut t.conv1);
    net.conv2.forward_batch::<Relu, BATCH>(t.pool1.outputs(), &mut t.conv2);
    net.conv2.backward_batch_sgd(&mut t.pool1, &t.conv2, scale, lr, &mut grads.conv2);
    net.conv1.batch_sgd(xs, &t.conv1, scale, lr, &mut grads.conv1);
}
