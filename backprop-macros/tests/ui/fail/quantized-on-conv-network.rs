backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    #[quantized(Int8)]
    pub struct Quantized {
        input: [1, 9, 9],
        conv: Conv2d<4, 3, Relu>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
