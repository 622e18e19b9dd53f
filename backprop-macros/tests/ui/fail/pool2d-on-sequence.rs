backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Mixed {
        input: [3, 16],
        conv: Conv1d<8, 3, Relu>,
        pool: MaxPool2d<2>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
