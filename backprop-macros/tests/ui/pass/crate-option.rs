//! `#[network(crate = path)]` names the runtime through a path of the user's choosing, as
//! `#[serde(crate = "...")]` does: here a re-export under another name.
#![deny(warnings)]

mod reexport {
    pub use backprop as runtime;
}

backprop::network! {
    /// Found through `crate::reexport::runtime`.
    #[loss(HalfSquaredError)]
    #[network(crate = crate::reexport::runtime)]
    pub struct Toy {
        input: 2,
        output: Dense<1, Identity>,
    }
}

fn main() {
    let net = Toy::<f64>::new(backprop::Dense::new([[2.0, 3.0]], [1.0]));
    assert_eq!(net.forward(&[1.0, 1.0]), [6.0]);
}
