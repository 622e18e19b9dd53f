backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        hidden: Conv2d<2, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
