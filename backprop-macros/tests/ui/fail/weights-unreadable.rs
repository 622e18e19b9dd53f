// A file that is not there, one cut short, and one of integers.
use backprop::network;

network! {
    #[loss(BinaryCrossEntropy)]
    #[weights(MISSING = "../data/missing.safetensors")]
    pub struct A { input: 3, hidden: Dense<5, Tanh>, output: Dense<2, Sigmoid> }
}

network! {
    #[loss(BinaryCrossEntropy)]
    #[weights(CUT = "../data/truncated.safetensors")]
    pub struct B { input: 3, hidden: Dense<5, Tanh>, output: Dense<2, Sigmoid> }
}

network! {
    #[loss(BinaryCrossEntropy)]
    #[weights(INTEGERS = "../data/int.safetensors")]
    pub struct C { input: 3, hidden: Dense<5, Tanh>, output: Dense<2, Sigmoid> }
}

fn main() {}
