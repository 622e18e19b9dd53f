//! One mistake in the spec gives one error, although the code below uses the network's type, its
//! trace, its methods and its constants: the stand-in emitted after the error absorbs them.

backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        hidden: Dense<2, Relu6>,
        output: Dense<1, Sigmoid>,
    }
}

fn train(net: &mut Toy<f64>, trace: &mut ToyTrace<f64>) -> f64 {
    let y: [f64; 1] = net.forward_trace(&[1.0, 0.5], trace);
    let mut grads = Toy::zeroed();
    let loss = net.backward(trace, &[1.0], &mut grads);
    let _ = (y, trace.hidden.delta, grads.output.w);
    loss + net.train_step(&[1.0, 0.5], &[1.0], 0.5)
}

fn main() {
    let mut net = Toy::new(backprop::Dense::zeroed(), backprop::Dense::zeroed());
    let mut trace = ToyTrace::zeroed();
    assert_eq!(Toy::<f32>::PARAMS, 9);
    train(&mut net, &mut trace);
}
