backprop::network! {

    pub struct Toy {
        input: 2,
        hidden: Dense<2, Sigmoid>,
        #[loss(HalfSquaredError)]
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
