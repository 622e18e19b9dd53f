// The README's first draft of LeNet: a 3 × 3 average pool at stride 2 on 12 × 12.
backprop::network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct LeNet {
        input: [1, 28, 28],
        conv1: Conv2d<6, 5, Relu>,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<16, 5, Relu, stride = 1, padding = Same>,
        pool2: AvgPool2d<3, stride = 2>,
        gap: GlobalAvgPool2d,
        hidden: Dense<120, Relu>,
        output: Dense<10, Softmax>,
    }
}

fn main() {}
