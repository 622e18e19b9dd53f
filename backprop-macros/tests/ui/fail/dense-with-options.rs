backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Strided {
        input: 16,
        hidden: Dense<8, Relu, stride = 2>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
