//! Safetensors files written by Python (`tests/reference/safetensors_ref.py`: PyTorch's and
//! Flax's conventions, dtypes F64, F32, F16 and BF16; `safetensors_conv_ref.py`: convolutional
//! networks in both layouts) load into networks, which then give the outputs Python recorded;
//! exports load back bit for bit. With `SAFETENSORS_EXPORT_DIR` set, the exports are also written
//! there for `tests/reference/safetensors_check.py`, which re-imports them with the Python package.
//!
//! The convolutional networks are glued by hand from the core's layers
//! (`backprop-core/tests/common/glued.rs`) until `network!` declares convolutions: the
//! safetensors functions need only a `Network`, whose `LAYERS` describe the layers.

use std::path::Path;

use backprop::conv::{AvgPool1d, Conv1d, Conv2d, MaxPool2d, Same, Valid};
use backprop::safetensors::{Dims, LayerNames, SafeTensors};
use backprop::{
    Dense, Identity, Naming, Network, Relu, Safetensors, SafetensorsError, Scalar, Sigmoid, Tanh, network,
};

#[path = "../backprop-core/tests/common/glued.rs"]
mod glued;
use glued::{Glued, Spec};

network! {
    /// `small-*`: PyTorch names of a module with attributes `hidden` and `output`.
    #[loss(BinaryCrossEntropy)]
    pub struct Small { input: 3, hidden: Dense<5, Tanh>, output: Dense<2, Sigmoid> }
}

network! {
    /// `iris-sequential-*`: `nn.Sequential(Linear, ReLU, Linear, Tanh, Linear)`, trained on iris.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Iris { input: 4, first: Dense<8, Relu>, second: Dense<6, Tanh>, out: Dense<3, Softmax> }
}

network! {
    /// `flax-*`: `flax.linen` names, kernels `[in, out]`.
    #[loss(HalfSquaredError)]
    pub struct FlaxNet { input: 3, dense0: Dense<4, Relu>, dense1: Dense<2, Identity> }
}

fn data(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/safetensors").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `(inputs, outputs)` of a `.expected.txt` file.
fn expected(stem: &str) -> Vec<(Vec<f64>, Vec<f64>)> {
    let text = String::from_utf8(data(&format!("{stem}.expected.txt"))).unwrap();
    let parse = |s: &str| s.split_whitespace().map(|v| v.parse::<f64>().unwrap()).collect::<Vec<_>>();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (x, y) = l.split_once(" -> ").expect("`inputs -> outputs`");
            (parse(x), parse(y))
        })
        .collect()
}

/// Loads `stem` into `N`, checks its outputs against Python's, and returns it.
fn check_outputs<T: Scalar, N: Network<T>>(stem: &str, naming: Naming<'_>, tolerance: f64) -> N {
    let bytes = data(&format!("{stem}.safetensors"));
    let mut net = N::zeroed();
    net.load_safetensors(&bytes, naming).unwrap_or_else(|e| panic!("{stem} into {}: {e}", T::NAME));
    let cases = expected(stem);
    assert_eq!(cases.len(), 8, "{stem}");
    for (x, want) in cases {
        let mut input = *N::input_grad(&N::new_trace()); // zeros
        for (slot, v) in input.as_mut().iter_mut().zip(&x) {
            *slot = T::from_f64(*v);
        }
        let y = net.forward(&input);
        for (got, want) in y.as_ref().iter().zip(&want) {
            let err = (got.to_f64() - want).abs();
            assert!(
                err <= tolerance * want.abs().max(1.0),
                "{stem} in {}: {got:?} vs {want} (error {err:e})",
                T::NAME
            );
        }
    }
    net
}

/// Export, re-import: the same bits; and into `SAFETENSORS_EXPORT_DIR` for the Python check.
fn check_export<T: Scalar, N: Network<T> + PartialEq + core::fmt::Debug>(
    net: &N,
    stem: &str,
    naming: Naming<'_>,
) {
    let file = net.to_safetensors(naming).unwrap();
    assert_eq!(file.len(), N::safetensors_len(naming).unwrap());
    let header_len = u64::from_le_bytes(file[..8].try_into().unwrap());
    assert_eq!((8 + header_len) % 8, 0, "data aligned to 8 bytes");
    let mut back = N::zeroed();
    back.load_safetensors(&file, naming).unwrap();
    assert!(
        net.params().iter().zip(back.params()).all(|(a, b)| a.to_f64().to_bits() == b.to_f64().to_bits())
    );
    if let Some(dir) = std::env::var_os("SAFETENSORS_EXPORT_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Path::new(&dir).join(format!("{stem}.safetensors")), &file).unwrap();
    }
}

#[test]
fn pytorch_named_modules_in_every_dtype() {
    for dtype in ["f32", "f64", "f16", "bf16"] {
        let stem = format!("small-{dtype}");
        let narrow = check_outputs::<f32, Small<f32>>(&stem, Naming::Layers, 1e-6);
        let wide = check_outputs::<f64, Small<f64>>(&stem, Naming::Layers, 1e-12);
        if dtype == "f64" {
            check_export(&wide, &stem, Naming::Layers);
        } else {
            check_export(&narrow, &stem, Naming::Layers);
        }
    }
}

#[test]
fn pytorch_sequential_trained_on_iris() {
    let narrow = check_outputs::<f32, Iris<f32>>("iris-sequential-f32", Naming::Sequential, 1e-6);
    let wide = check_outputs::<f64, Iris<f64>>("iris-sequential-f64", Naming::Sequential, 1e-12);
    check_outputs::<f32, Iris<f32>>("iris-sequential-f64", Naming::Sequential, 1e-6);
    check_export(&narrow, "iris-sequential-f32", Naming::Sequential);
    check_export(&wide, "iris-sequential-f64", Naming::Sequential);
}

#[test]
fn flax_kernels_are_transposed() {
    let narrow = check_outputs::<f32, FlaxNet<f32>>("flax-f32", Naming::Flax, 1e-6);
    let wide = check_outputs::<f64, FlaxNet<f64>>("flax-f64", Naming::Flax, 1e-12);
    check_export(&narrow, "flax-f32", Naming::Flax);
    check_export(&wide, "flax-f64", Naming::Flax);
    // The same file through an explicit naming.
    const NAMES: [LayerNames; 2] = [
        LayerNames::transposed("params.Dense_0.kernel", "params.Dense_0.bias"),
        LayerNames::transposed("params.Dense_1.kernel", "params.Dense_1.bias"),
    ];
    let mut custom = FlaxNet::<f32>::zeroed();
    custom.load_safetensors(&data("flax-f32.safetensors"), Naming::Custom(&NAMES)).unwrap();
    assert_eq!(custom, narrow);
    assert_eq!(
        custom.load_safetensors(&data("flax-f32.safetensors"), Naming::Custom(&NAMES[..1])),
        Err(SafetensorsError::NamingLength { expected: 2, found: 1 })
    );
}

#[test]
fn the_python_files_parse_as_a_whole() {
    let bytes = data("small-bf16.safetensors");
    let file = SafeTensors::parse(&bytes).unwrap();
    assert_eq!(file.len(), 4);
    let w = file.tensor("hidden.weight").unwrap();
    assert_eq!((w.dtype().name(), w.shape().as_slice()), ("BF16", &[5, 3][..]));
    let mut net = Small::<f64>::zeroed();
    net.load_safetensors(&bytes, Naming::Layers).unwrap();
    assert_eq!(w.value(4), Some(net.hidden.w[1][1]));
}

/// `conv2d-*`: 1×6×6 → conv0 3×3 same relu → 3×6×6 → max pool 2 → 3×3×3 → conv1 2×2 tanh →
/// 4×2×2 → fc 3.
#[derive(Clone, Debug, PartialEq)]
struct Conv2dSpec;
impl<T: Scalar> Spec<T> for Conv2dSpec {
    type L0 = Conv2d<T, Same, 1, 6, 6, 3, 3, 1, 6, 6>;
    type L1 = MaxPool2d<T, 3, 6, 6, 2, 2, 3, 3>;
    type L2 = Conv2d<T, Valid, 3, 3, 3, 4, 2, 1, 2, 2>;
    type L3 = Dense<T, 16, 3>;
    type A0 = Relu;
    type A1 = Identity;
    type A2 = Tanh;
    type A3 = Identity;
    const NAMES: [&'static str; 4] = ["conv0", "pool", "conv1", "fc"];
}
type Conv2dNet<T> = Glued<T, Conv2dSpec, 36, 3>;

/// `conv1d-*`: 2×9 → conv 3 of 3, stride 2, relu → 3×4 → average pool 2 → 3×2 → hidden 4 tanh →
/// out 2 sigmoid.
#[derive(Clone, Debug, PartialEq)]
struct Conv1dSpec;
impl<T: Scalar> Spec<T> for Conv1dSpec {
    type L0 = Conv1d<T, Valid, 2, 9, 3, 3, 2, 4>;
    type L1 = AvgPool1d<T, 3, 4, 2, 2, 2>;
    type L2 = Dense<T, 6, 4>;
    type L3 = Dense<T, 4, 2>;
    type A0 = Relu;
    type A1 = Identity;
    type A2 = Tanh;
    type A3 = Sigmoid;
    const NAMES: [&'static str; 4] = ["conv", "pool", "hidden", "out"];
}
type Conv1dNet<T> = Glued<T, Conv1dSpec, 18, 2>;

/// The tensor names and shapes of a file, sorted by name.
fn names_and_shapes(bytes: &[u8]) -> Vec<(String, Dims)> {
    let file = SafeTensors::parse(bytes).unwrap();
    let mut out: Vec<_> = file.tensors().map(|t| (t.name().chars().collect::<String>(), t.shape())).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// `<stem>-f32` and `<stem>-f64` into `f32` and `f64` networks: Python's outputs, exports that
/// re-import exactly and have the names and shapes of Python's files. Returns the `f64` network.
fn conv_files<N32, N64>(stem: &str, naming: Naming<'_>) -> N64
where
    N32: Network<f32> + PartialEq + core::fmt::Debug,
    N64: Network<f64> + PartialEq + core::fmt::Debug,
{
    let (f32_stem, f64_stem) = (format!("{stem}-f32"), format!("{stem}-f64"));
    let narrow = check_outputs::<f32, N32>(&f32_stem, naming, 1e-6);
    check_outputs::<f64, N64>(&f32_stem, naming, 1e-12);
    let wide = check_outputs::<f64, N64>(&f64_stem, naming, 1e-12);
    check_export(&narrow, &f32_stem, naming);
    check_export(&wide, &f64_stem, naming);
    let original = names_and_shapes(&data(&format!("{f64_stem}.safetensors")));
    assert_eq!(names_and_shapes(&wide.to_safetensors(naming).unwrap()), original, "{stem}");
    wide
}

#[test]
fn conv2d_in_pytorch_sequential_and_flax_layouts() {
    let torch = conv_files::<Conv2dNet<f32>, Conv2dNet<f64>>("conv2d-sequential", Naming::Sequential);
    let flax = conv_files::<Conv2dNet<f32>, Conv2dNet<f64>>("conv2d-flax", Naming::Flax);
    assert_eq!(torch, flax, "the two files hold the same weights, each in its layout");
}

#[test]
fn conv1d_in_pytorch_module_and_flax_layouts() {
    let torch = conv_files::<Conv1dNet<f32>, Conv1dNet<f64>>("conv1d-layers", Naming::Layers);
    let flax = conv_files::<Conv1dNet<f32>, Conv1dNet<f64>>("conv1d-flax", Naming::Flax);
    assert_eq!(torch, flax, "the two files hold the same weights, each in its layout");
}

#[test]
fn conv_layouts_through_explicit_names_and_their_errors() {
    let flax = data("conv2d-flax-f32.safetensors");
    let mut reference = Conv2dNet::<f32>::zeroed();
    reference.load_safetensors(&flax, Naming::Flax).unwrap();
    // The same names, channels-last: the same network (the pool's entry is not used).
    const CHANNELS_LAST: [LayerNames; 4] = [
        LayerNames::transposed("params.Conv_0.kernel", "params.Conv_0.bias"),
        LayerNames::transposed("unused", "unused"),
        LayerNames::transposed("params.Conv_1.kernel", "params.Conv_1.bias"),
        LayerNames::transposed("params.Dense_0.kernel", "params.Dense_0.bias"),
    ];
    let mut custom = Conv2dNet::<f32>::zeroed();
    custom.load_safetensors(&flax, Naming::Custom(&CHANNELS_LAST)).unwrap();
    assert_eq!(custom, reference);

    // Read in PyTorch's layout, the HWIO kernel has the wrong shape; nothing is written.
    let as_torch = CHANNELS_LAST.map(|n| LayerNames::new(n.weight, n.bias));
    let before = custom.clone();
    let err = custom.load_safetensors(&flax, Naming::Custom(&as_torch)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor `params.Conv_0.kernel` has shape [3, 3, 1, 3] in the file, [3, 1, 3, 3] in the network"
    );
    assert_eq!(custom, before);
    // The 1-d network's first convolution has another kernel shape.
    let mut conv1d = Conv1dNet::<f32>::zeroed();
    let err = conv1d.load_safetensors(&flax, Naming::Custom(&CHANNELS_LAST)).unwrap_err();
    assert_eq!(
        err,
        SafetensorsError::Shape {
            tensor: backprop::serialize::HeaderName::new(b"params.Conv_0.kernel"),
            file: Dims::new(&[3, 3, 1, 3]),
            network: Dims::new(&[3, 2, 3]),
        }
    );
    // By Flax's names, its second convolution is one too many.
    let err = conv1d.load_safetensors(&flax, Naming::Flax).unwrap_err();
    assert_eq!(err.to_string(), "tensor `params.Conv_1.bias` is not a parameter of the network");
    // PyTorch's names are no Flax parameters, and a pool has no tensor of its own.
    let torch = data("conv2d-sequential-f32.safetensors");
    let err = custom.load_safetensors(&torch, Naming::Flax).unwrap_err();
    assert_eq!(err.to_string(), "tensor `0.bias` is not a parameter of the network");
    let layers = reference.to_safetensors(Naming::Layers).unwrap();
    let file = SafeTensors::parse(&layers).unwrap();
    assert_eq!(file.len(), 6);
    assert!(file.tensor("pool.weight").is_none() && file.tensor("conv1.weight").is_some());
}
