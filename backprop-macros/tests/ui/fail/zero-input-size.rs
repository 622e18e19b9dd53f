backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 0,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
