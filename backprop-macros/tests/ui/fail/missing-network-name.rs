backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct
}

fn main() {}
