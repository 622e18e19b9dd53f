//! Two networks in one module: their generated items (structs, traces, size checks) do not
//! collide.
#![deny(warnings)]

const N: usize = 3;

backprop::network! {
    /// The first.
    #[loss(HalfSquaredError)]
    pub struct First {
        input: N,
        hidden: Dense<N, Relu>,
        output: Dense<1, Identity>,
    }
}

backprop::network! {
    /// The second, with the same layer names and constant sizes.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Second {
        input: N,
        hidden: Dense<{ N + 1 }, Tanh>,
        output: Dense<N, Softmax>,
    }
}

fn main() {
    let first = First::<f32>::zeroed();
    let second = Second::<f32>::zeroed();
    assert_eq!(first.forward(&[1.0; N]), [0.0]);
    let p = second.forward(&[1.0; N]);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    let (_, _): (FirstTrace, SecondTrace) = (FirstTrace::zeroed(), SecondTrace::zeroed());
}
