backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy
}

fn main() {}
