backprop::network! {
    #[loss(HalfSquaredError)]
    pub Toy {
        input: 2,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
