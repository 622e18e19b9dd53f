backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Padded {
        input: [1, 9, 9],
        conv: Conv2d<4, 3, Relu, padding = same>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
