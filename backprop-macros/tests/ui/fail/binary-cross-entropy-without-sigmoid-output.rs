backprop::network! {
    #[loss(BinaryCrossEntropy)]
    pub struct Toy {
        input: 4,
        hidden: Dense<8, Relu>,
        output: Dense<1, Tanh>,
    }
}

fn main() {}
