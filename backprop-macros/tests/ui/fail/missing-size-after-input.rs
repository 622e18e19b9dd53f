backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: ,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
