//! In a crate that denies missing docs and every warning, a spec with one mistake still gives
//! exactly one error: the stand-in adds no lint of its own.
#![deny(missing_docs, warnings)]

backprop::network! {
    /// A network with a misspelt loss.
    #[loss(HalfSquaredEror)]
    pub struct Toy {
        input: 2,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {
    let _ = Toy::<f64>::zeroed();
}
