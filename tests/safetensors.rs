//! Safetensors files written by Python (`tests/reference/safetensors_ref.py`: PyTorch's and
//! Flax's conventions, dtypes F64, F32, F16 and BF16) load into generated networks, which then
//! give the outputs Python recorded; exports load back bit for bit. With
//! `SAFETENSORS_EXPORT_DIR` set, the exports are also written there for
//! `tests/reference/safetensors_check.py`, which re-imports them with the Python package.

use std::path::Path;

use backprop::safetensors::{LayerNames, SafeTensors};
use backprop::{Naming, Network, Safetensors, SafetensorsError, Scalar, network};

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
