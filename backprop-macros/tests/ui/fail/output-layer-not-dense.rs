// The loss needs a vector of outputs from a dense layer.
backprop::network! {
    #[loss(HalfSquaredError)]
    pub struct Pooled {
        input: [4, 9, 9],
        conv: Conv2d<10, 3, Relu>,
        gap: GlobalAvgPool2d,
    }
}

fn main() {}
