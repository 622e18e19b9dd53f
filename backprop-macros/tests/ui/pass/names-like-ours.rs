//! A user crate that defines its own items named like the runtime's and the prelude's: the
//! generated code names everything by absolute paths, so none of these is picked up.
#![allow(dead_code, non_camel_case_types)]

struct Dense;
struct Sigmoid;
struct Relu;
struct Softmax;
struct LayerTrace;
struct LayerInfo;
trait Network {}
trait Params {}
trait Scalar {}
trait Clone {}
trait Debug {}
trait PartialEq {}
trait Default {}
struct HalfSquaredError;
struct SoftmaxCrossEntropy;
mod core {}
mod backprop_core {}
mod __private {}

// Locals and constants named like the generated code's locals.
const ACCUMULATE: usize = 2;

backprop::network! {
    /// Compiles although the names above shadow the runtime's.
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: ACCUMULATE,
        hidden: Dense<2, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }
}

fn main() {
    let net = Toy::<f64>::new(
        backprop::Dense::new([[0.4, 0.2], [-0.2, 0.4]], [0.0, 0.0]),
        backprop::Dense::new([[0.5, -0.4]], [0.1]),
    );
    let y = net.forward(&[1.0, 0.5]);
    assert!((y[0] - 0.552_611_941_871_061_8).abs() < 1e-12);
}
