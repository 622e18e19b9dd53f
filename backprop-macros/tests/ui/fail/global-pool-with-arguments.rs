backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Pooled {
        input: [3, 8, 8],
        gap: GlobalAvgPool2d<2>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
