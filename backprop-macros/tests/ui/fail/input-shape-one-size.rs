backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Bracketed {
        input: [5],
        output: Dense<1, Identity>,
    }
}

fn main() {}
