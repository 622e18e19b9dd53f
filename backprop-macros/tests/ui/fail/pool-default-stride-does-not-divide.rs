// A window of 2 at its default stride, 2, on a length of 7.
backprop::network! {
    #[loss(BinaryCrossEntropy)]
    pub struct Signal {
        input: [2, 7],
        pool: MaxPool1d<2>,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
