backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Volume {
        input: [1, 2, 3, 4],
        output: Dense<1, Identity>,
    }
}

fn main() {}
