backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Toy {
        input: 4,
        hidden: Dense<8, Softmax>,
        output: Dense<3, Softmax>,
    }
}

fn main() {}
