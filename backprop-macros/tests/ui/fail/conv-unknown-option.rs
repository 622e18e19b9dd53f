backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Options {
        input: [1, 9, 9],
        conv: Conv2d<4, 3, Relu, strides = 2, dilation = 2>,
        pool: MaxPool2d<2, padding = Same>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
