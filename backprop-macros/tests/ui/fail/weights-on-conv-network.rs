backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    #[weights(TRAINED = "../data/small.safetensors")]
    pub struct Baked {
        input: [1, 9, 9],
        conv: Conv2d<4, 3, Relu>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
