//! `#[weights(NAME = "file.safetensors")]`: files read at compile time into associated consts
//! hold the same bits as the same files loaded at run time, in every dtype and naming, and the
//! consts are usable where only constants are (a `static`).

use backprop::{Naming, Network, Safetensors, Scalar, network};

network! {
    /// PyTorch names; one const per dtype of the file.
    #[loss(BinaryCrossEntropy)]
    #[weights(FROM_F32 = "data/safetensors/small-f32.safetensors")]
    #[weights(FROM_F64 = "data/safetensors/small-f64.safetensors")]
    #[weights(FROM_F16 = "data/safetensors/small-f16.safetensors", scalar = f32)]
    #[weights(FROM_BF16 = "data/safetensors/small-bf16.safetensors", scalar = f64)]
    pub struct Small { input: 3, hidden: Dense<5, Tanh>, output: Dense<2, Sigmoid> }
}

/// Sizes as const expressions: checked by const assertions against the file.
const HIDDEN: usize = 8;

network! {
    /// `nn.Sequential` numbering.
    #[loss(SoftmaxCrossEntropy)]
    #[weights(TRAINED = "data/safetensors/iris-sequential-f32.safetensors", naming = Sequential)]
    pub struct Iris { input: 4, first: Dense<HIDDEN, Relu>, second: Dense<{ HIDDEN - 2 }, Tanh>, out: Dense<3, Softmax> }
}

network! {
    /// Flax kernels, `[in, out]`.
    #[loss(HalfSquaredError)]
    #[weights(FLAX = "data/safetensors/flax-f64.safetensors", naming = Flax)]
    pub struct FlaxNet { input: 3, dense0: Dense<4, Relu>, dense1: Dense<2, Identity> }
}

/// In flash on a device: no code runs to build it.
static SMALL: Small<f32> = Small::<f32>::FROM_F32;

fn runtime<T: Scalar, N: Network<T>>(file: &str, naming: Naming<'_>) -> N {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/safetensors").join(file);
    let mut net = N::zeroed();
    net.load_safetensors(&std::fs::read(path).unwrap(), naming).unwrap();
    net
}

#[track_caller]
fn same_bits<T: Scalar, N: Network<T>>(baked: &N, loaded: &N) {
    for (i, (a, b)) in baked.params().iter().zip(loaded.params()).enumerate() {
        assert_eq!(a.to_f64().to_bits(), b.to_f64().to_bits(), "parameter {i}: baked {a:?}, loaded {b:?}");
    }
}

#[test]
fn baked_consts_are_the_runtime_loads() {
    same_bits(&SMALL, &runtime::<f32, Small<f32>>("small-f32.safetensors", Naming::Layers));
    same_bits(&Small::<f64>::FROM_F32, &runtime::<f64, Small<f64>>("small-f32.safetensors", Naming::Layers));
    same_bits(&Small::<f32>::FROM_F64, &runtime::<f32, Small<f32>>("small-f64.safetensors", Naming::Layers));
    same_bits(&Small::<f64>::FROM_F64, &runtime::<f64, Small<f64>>("small-f64.safetensors", Naming::Layers));
    same_bits(&Small::<f32>::FROM_F16, &runtime::<f32, Small<f32>>("small-f16.safetensors", Naming::Layers));
    same_bits(
        &Small::<f64>::FROM_BF16,
        &runtime::<f64, Small<f64>>("small-bf16.safetensors", Naming::Layers),
    );
    same_bits(
        &Iris::<f32>::TRAINED,
        &runtime::<f32, Iris<f32>>("iris-sequential-f32.safetensors", Naming::Sequential),
    );
    same_bits(&FlaxNet::<f64>::FLAX, &runtime::<f64, FlaxNet<f64>>("flax-f64.safetensors", Naming::Flax));
    same_bits(&FlaxNet::<f32>::FLAX, &runtime::<f32, FlaxNet<f32>>("flax-f64.safetensors", Naming::Flax));
}

#[test]
fn the_baked_iris_network_classifies_its_training_set() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/iris.csv")).unwrap();
    let (mut right, mut total) = (0, 0);
    for line in text.lines().skip(1) {
        let values: Vec<f32> = line.split(',').map(|v| v.parse().unwrap()).collect();
        let y = Iris::<f32>::TRAINED.forward(&[values[0], values[1], values[2], values[3]]);
        let predicted = (0..3).max_by(|&a, &b| y[a].total_cmp(&y[b])).unwrap();
        right += usize::from(predicted as f32 == values[4]);
        total += 1;
    }
    // The Python side printed 148 of 150 (tests/data/safetensors/iris-sequential-f32.expected.txt).
    assert_eq!((right, total), (148, 150));
}
