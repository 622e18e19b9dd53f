use backprop::network;

network! {
    #[loss(HalfSquaredError)]
    pub struct Net where T: Copy {
        input: 2,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
