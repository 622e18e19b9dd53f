backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        input: 3,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
