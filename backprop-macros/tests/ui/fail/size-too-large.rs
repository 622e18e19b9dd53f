backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 5_000_000_000,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
