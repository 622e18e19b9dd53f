backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        hidden: Dense<crate, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
