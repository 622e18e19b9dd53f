backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Backwards {
        input: [1, 28, 28],
        hidden: Dense<64, Relu>,
        conv: Conv2d<6, 5, Relu>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
