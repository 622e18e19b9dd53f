// (12 - 3) / 2 is not whole, and no kernel fits the length at stride 2 but odd ones.
backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Signal {
        input: [2, 12],
        conv: Conv1d<3, 3, Tanh, stride = 2>,
        output: Dense<1, Identity>,
    }
}

fn main() {}
