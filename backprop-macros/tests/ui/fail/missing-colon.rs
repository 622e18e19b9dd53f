backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        hidden Dense<2, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
