backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Twice {
        input: [3, 8, 8],
        gap: GlobalAvgPool2d,
        again: GlobalAvgPool1d,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
