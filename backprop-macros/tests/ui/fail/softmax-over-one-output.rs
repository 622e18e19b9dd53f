use backprop::network;

network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Net {
        input: 4,
        hidden: Dense<8, Relu>,
        output: Dense<1, Softmax>,
    }
}

fn main() {}
