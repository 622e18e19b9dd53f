// Options the attribute does not have, and a file size that a const expression contradicts.
use backprop::network;

network! {
    #[loss(BinaryCrossEntropy)]
    #[weights(TRAINED = "../data/small.safetensors", naming = Torch, scalar = f16)]
    pub struct A { input: 3, hidden: Dense<5, Tanh>, output: Dense<2, Sigmoid> }
}

network! {
    #[loss(BinaryCrossEntropy)]
    #[weight(TRAINED = "../data/small.safetensors")]
    pub struct B { input: 3, hidden: Dense<5, Tanh>, output: Dense<2, Sigmoid> }
}

const HIDDEN: usize = 4;

network! {
    #[loss(BinaryCrossEntropy)]
    #[weights(TRAINED = "../data/small.safetensors")]
    pub struct C { input: 3, hidden: Dense<HIDDEN, Tanh>, output: Dense<2, Sigmoid> }
}

fn main() {}
