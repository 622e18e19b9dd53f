backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        inputs: 2,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
