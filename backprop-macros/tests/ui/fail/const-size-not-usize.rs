backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        hidden: Dense<HIDDEN, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }
}

const HIDDEN: u32 = 4;

fn main() {}
