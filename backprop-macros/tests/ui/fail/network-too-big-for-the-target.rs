use backprop::network;

network! {
    #[loss(HalfSquaredError)]
    pub struct Huge {
        input: 4000000000,
        hidden: Dense<4000000000, Relu>,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
