backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        hidden: 2,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
