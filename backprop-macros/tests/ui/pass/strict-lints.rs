//! A user crate with strict rustc lints: the generated code adds no warning to it, for dense and
//! convolutional networks, with sizes from literals and from constant expressions (of which the
//! compiler computes the output sizes). (`unsafe_code` included: the one `unsafe impl` is the
//! macro's, justified by its `SAFETY:` doc, and rustc does not charge it to a crate that forbids
//! unsafe code.)
#![deny(
    warnings,
    missing_docs,
    missing_debug_implementations,
    unused_qualifications,
    unused_results,
    rust_2018_idioms,
    trivial_casts,
    trivial_numeric_casts,
    unused_import_braces,
    unused_lifetimes,
    single_use_lifetimes,
    variant_size_differences,
    non_ascii_idents,
    let_underscore_drop,
    unsafe_code
)]

/// Networks, public.
pub mod nets {
    /// A constant size.
    pub const HIDDEN: usize = 3;

    backprop::network! {
        /// A network under strict lints.
        #[loss(BinaryCrossEntropy)]
        pub struct Strict {
            input: 2,
            hidden: Dense<HIDDEN, Relu>,
            wide: Dense<{ 2 * HIDDEN }, LeakyRelu>,
            output: Dense<1, Sigmoid>,
        }
    }

    /// Channels of the input.
    pub const CHANNELS: usize = 2;
    /// Side of the input.
    pub const SIDE: usize = 9;
    /// Filters of the first convolution.
    pub const FILTERS: usize = 4;

    backprop::network! {
        /// Literal sizes.
        #[loss(SoftmaxCrossEntropy)]
        pub struct Literal {
            input: [1, 12, 12],
            conv1: Conv2d<4, 3, Relu>,
            pool1: MaxPool2d<2>,
            conv2: Conv2d<8, 3, Tanh, stride = 2, padding = Same>,
            gap: GlobalAvgPool2d,
            output: Dense<3, Softmax>,
        }
    }

    backprop::network! {
        /// Sizes from constants and constant expressions.
        #[loss(BinaryCrossEntropy)]
        pub struct Constant {
            input: [CHANNELS, SIDE, { SIDE + 2 }],
            conv1: Conv2d<FILTERS, 3, Relu, stride = { FILTERS / 2 }>,
            conv2: Conv2d<{ 2 * FILTERS }, 2, LeakyRelu, padding = Same>,
            pool: AvgPool2d<2, stride = 1>,
            hidden: Dense<{ FILTERS + 1 }, Tanh>,
            output: Dense<1, Sigmoid>,
        }
    }

    backprop::network! {
        /// One dimension, constants.
        #[loss(HalfSquaredError)]
        pub struct Sequence {
            input: [CHANNELS, { 3 * SIDE }],
            conv: Conv1d<FILTERS, 3, Relu, stride = 3, padding = Same>,
            pool: MaxPool1d<3>,
            gap: GlobalAvgPool1d,
            output: Dense<2, Identity>,
        }
    }
}

fn main() {
    let mut net = nets::Strict::<f64>::zeroed();
    let loss = net.train_step(&[1.0, 0.5], &[1.0], 0.1);
    assert!(loss > 0.0);
    let mut net = nets::Literal::<f64>::zeroed();
    let loss = net.train_step(&[0.5; 144], &[1.0, 0.0, 0.0], 0.1);
    assert!(loss > 0.0);
    let mut net = nets::Constant::<f32>::zeroed();
    let loss = net.train_step(&[0.5; 2 * 9 * 11], &[1.0], 0.1);
    assert!(loss > 0.0);
    assert_eq!(nets::Constant::<f32>::INPUTS, 198);
    let trace = nets::ConstantTrace::<f32>::zeroed();
    let _: [[[f32; 5]; 4]; 4] = trace.conv1.a;
    let _: [[[f32; 5]; 4]; 8] = trace.conv2.a;
    let mut net = nets::Sequence::<f64>::zeroed();
    let loss = net.train_step(&[0.5; 54], &[1.0, -1.0], 0.1);
    assert!(loss > 0.0);
    let _: [[f64; 3]; 4] = nets::SequenceTrace::<f64>::zeroed().pool.a;
}
