//! A syntax error stops parsing, but the name is still found, so the stand-in still hides
//! follow-on errors.

backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        output: Dense<1 Sigmoid>,
    }
}

fn main() {
    let net = Toy::<f64>::zeroed();
    let _ = net.forward(&[1.0, 0.5]);
}
