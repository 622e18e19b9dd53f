use backprop::network;

/// A type of the user's that is not an activation: no `Activation` or `Elementwise` impl.
#[derive(Clone, Copy, Debug, Default)]
pub struct Square;

network! {
    #[loss(HalfSquaredError)]
    pub struct Net {
        input: 2,
        hidden: Dense<4, crate::Square>,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {}
