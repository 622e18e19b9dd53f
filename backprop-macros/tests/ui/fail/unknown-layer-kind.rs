backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        hidden: Lstm<2, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
