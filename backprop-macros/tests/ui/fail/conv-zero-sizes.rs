// No filters, an empty kernel and a zero stride: three errors.
backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Empty {
        input: [1, 8, 8],
        conv: Conv2d<0, 0, Relu, stride = 0>,
        output: Dense<3, Softmax>,
    }
}

fn main() {}
