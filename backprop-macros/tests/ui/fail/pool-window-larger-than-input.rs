// A 3 × 3 window on the 2 × 2 output of the convolution.
backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Pooled {
        input: [1, 4, 4],
        conv: Conv2d<4, 3, Relu>,
        pool: MaxPool2d<3>,
        output: Dense<3, Softmax>,
    }
}

fn main() {}
