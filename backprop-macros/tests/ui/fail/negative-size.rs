backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        hidden: Dense<-3, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
