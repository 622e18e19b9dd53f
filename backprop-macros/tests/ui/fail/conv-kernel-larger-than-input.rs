// A 5 × 5 kernel on a 4 × 4 image, with no padding: no output position.
backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Tiny {
        input: [1, 4, 4],
        conv: Conv2d<4, 5, Relu>,
        output: Dense<3, Softmax>,
    }
}

fn main() {}
