backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
    }
}

fn main() {}
