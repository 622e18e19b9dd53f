//! A network declared inside a function body, private to it.
#![deny(warnings)]

fn main() {
    backprop::network! {
        /// Local to `main`.
        #[loss(HalfSquaredError)]
        struct Local {
            input: 2,
            output: Dense<1, Identity>,
        }
    }

    let net = Local::<f64>::new(backprop::Dense::new([[2.0, 3.0]], [1.0]));
    assert_eq!(net.forward(&[1.0, 1.0]), [6.0]);
    assert_eq!(Local::<f64>::PARAMS, 3);
}
