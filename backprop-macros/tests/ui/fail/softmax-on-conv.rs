// Softmax belongs to the dense output layer.
backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Normalised {
        input: [1, 9, 9],
        conv: Conv2d<4, 3, Softmax>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
