backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        output: Dense<100_000_000_000_000_000_000, Sigmoid>,
    }
}

fn main() {}
