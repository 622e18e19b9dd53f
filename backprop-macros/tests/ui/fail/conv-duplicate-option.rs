backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Twice {
        input: [1, 9, 9],
        conv: Conv2d<4, 3, Relu, stride = 2, padding = Same, stride = 1>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
