// Sizes from constants: the macro cannot compute them, so the compiler checks them, and names
// the layer. (28 - 5) / 2 is not whole.
pub const SIDE: usize = 28;
pub const KERNEL: usize = 5;
pub const STRIDE: usize = 2;

backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Constant {
        input: [1, SIDE, SIDE],
        conv: Conv2d<6, KERNEL, Relu, stride = STRIDE>,
        output: Dense<10, Softmax>,
    }
}

fn main() {
    let net = Constant::<f32>::zeroed();
    let _ = net.forward(&[0.0; 784]);
}
