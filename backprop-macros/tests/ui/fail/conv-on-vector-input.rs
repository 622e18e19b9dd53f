// A flat input (`input: 784`) has no channels, height and width to convolve.
backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Flat {
        input: 784,
        conv: Conv2d<6, 5, Relu>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
