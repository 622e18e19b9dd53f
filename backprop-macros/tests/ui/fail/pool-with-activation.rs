backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Pooled {
        input: [3, 8, 8],
        pool: MaxPool2d<2, Relu>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
