backprop::network! {
    /// A doc comment, and nothing after it.
    #[loss(HalfSquaredError)]
}

fn main() {}
