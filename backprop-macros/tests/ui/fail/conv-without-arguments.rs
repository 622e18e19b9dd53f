backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Bare {
        input: [3, 8, 8],
        conv: Conv2d,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
