backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        hidden: Dense<{ HIDDEN - 4 }, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }
}

const HIDDEN: usize = 4;

fn main() {}
