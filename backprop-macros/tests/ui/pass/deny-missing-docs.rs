//! A user crate that denies missing docs and every warning: every public item the macro
//! generates (structs, fields, consts, methods, trait impls) carries a doc comment.
#![deny(missing_docs, warnings)]

/// Public, so that `missing_docs` looks at everything generated.
pub mod nets {
    backprop::network! {
        /// The toy network.
        #[loss(HalfSquaredError)]
        pub struct Toy {
            input: 2,
            /// The hidden layer (this doc comment is the user's).
            hidden: Dense<2, Sigmoid>,
            output: Dense<1, Sigmoid>,
        }
    }

    backprop::network! {
        /// A classifier with a constant size.
        #[loss(SoftmaxCrossEntropy)]
        pub struct Classifier {
            input: super::FEATURES,
            hidden: Dense<{ 2 * super::FEATURES }, Relu>,
            output: Dense<3, Softmax>,
        }
    }
}

/// The number of input features.
pub const FEATURES: usize = 4;

fn main() {
    let net = nets::Toy::<f32>::zeroed();
    assert_eq!(net.forward(&[1.0, 0.5]), [0.5]);
    assert_eq!(nets::Classifier::<f32>::PARAMS, 4 * 8 + 8 + 8 * 3 + 3);
}
