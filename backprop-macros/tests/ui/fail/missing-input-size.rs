backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        hidden: Dense<2, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
