use backprop::network;

network! {
    #[loss(HalfSquaredError)]
    pub struct Net {
        input: 4,
        hidden: Dense<8, Softmax>,
        output: Dense<1, Sigmod>,
    }
}

fn main() {}
