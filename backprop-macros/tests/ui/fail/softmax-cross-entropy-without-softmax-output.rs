backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Toy {
        input: 4,
        hidden: Dense<8, Relu>,
        output: Dense<3, Sigmoid>,
    }
}

fn main() {}
