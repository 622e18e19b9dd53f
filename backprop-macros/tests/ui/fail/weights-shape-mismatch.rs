// The file's `hidden` layer has 5 neurons on 3 inputs; the spec says 4 neurons on 2 inputs.
use backprop::network;

network! {
    #[loss(BinaryCrossEntropy)]
    #[weights(TRAINED = "../data/small.safetensors")]
    pub struct Small { input: 2, hidden: Dense<4, Tanh>, output: Dense<2, Sigmoid> }
}

fn main() {}
