// (28 - 5) / 2 is not whole: the last row and column would be dropped (PyTorch drops them
// silently).
backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Strided {
        input: [1, 28, 28],
        conv: Conv2d<6, 5, Relu, stride = 2>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
