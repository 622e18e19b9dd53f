// A misspelt layer name: the file's `hidden.*` tensors have no layer, and `hiden.*` no tensor.
use backprop::network;

network! {
    #[loss(BinaryCrossEntropy)]
    #[weights(TRAINED = "../data/small.safetensors")]
    pub struct Small { input: 3, hiden: Dense<5, Tanh>, output: Dense<2, Sigmoid> }
}

network! {
    // The file has layers named as in a module; `Sequential` looks for `0.weight`.
    #[loss(BinaryCrossEntropy)]
    #[weights(TRAINED = "../data/small.safetensors", naming = Sequential)]
    pub struct Seq { input: 3, hidden: Dense<5, Tanh>, output: Dense<2, Sigmoid> }
}

fn main() {}
