backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Dark {
        input: [0, 28, 28],
        conv: Conv2d<6, 5, Relu>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
