backprop::network! {
    #[loss(HalfSquaredErr)]
    pub struct Toy {
        input: 2,
        hidden: Dense<0, Sigmoid>,
        output: Dense<1, Sigmod>,
    }
}

fn main() {}
