use backprop::network;

network! {
    #[loss(HalfSquaredError)]
    pub struct Net {
        input: 8,
        drop: Dropout<0.5>,
        norm: BatchNorm<8>,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
