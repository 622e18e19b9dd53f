backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Mixed {
        input: [3, 16, 16],
        conv: Conv1d<8, 3, Relu>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
