use backprop::network;

network! {
    #[loss(HalfSquaredError)]
    pub struct Net {
        input: 2,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {
    let net = Net::<i32>::zeroed();
    let _ = net.forward(&[1, 2]);
}
