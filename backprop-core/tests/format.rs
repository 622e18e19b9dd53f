//! The formats byte by byte on networks declared with `network!` and on convolutional networks
//! glued by hand: the version-3 layout with geometries, round trips, one error per mismatch naming
//! both sides, every truncation and bit flip refused, and the committed version-2 and version-1
//! files loading.

use backprop::conv::{AvgPool1d, Conv1d, Conv2d, GlobalAvgPool1d, MaxPool2d, Same, Valid};
use backprop::layer::{Geometry, LayerKind, ParamIndex};
use backprop::serialize::{HeaderName, crc32, header_len, header_len_v1, header_len_v2};
use backprop::{
    Dense, Elementwise, Identity, LayerInfo, Network, ParamBytes, Params, ParamsError, Relu, Scalar, Tanh,
    network,
};

// The network of the committed version-2 and version-1 files, and networks that differ from it in
// one way.
mod common;
use common::*;
#[path = "common/glued.rs"]
mod glued;
use glued::{Glued, Spec};

network! {
    #[loss(BinaryCrossEntropy)]
    struct Xor { input: 2, hidden: Dense<3, Tanh>, output: Dense<1, Sigmoid> }
}
network! {
    #[loss(BinaryCrossEntropy)]
    struct XorSigmoid { input: 2, hidden: Dense<3, Sigmoid>, output: Dense<1, Sigmoid> }
}
network! {
    #[loss(HalfSquaredError)]
    struct XorSquared { input: 2, hidden: Dense<3, Tanh>, output: Dense<1, Sigmoid> }
}
network! {
    #[loss(BinaryCrossEntropy)]
    struct Wider { input: 2, hidden: Dense<4, Tanh>, output: Dense<1, Sigmoid> }
}
network! {
    #[loss(BinaryCrossEntropy)]
    struct Deeper { input: 2, a: Dense<3, Tanh>, b: Dense<3, Tanh>, output: Dense<1, Sigmoid> }
}
network! {
    #[loss(BinaryCrossEntropy)]
    struct LongNames { input: 2, hidden: Dense<3, crate::Long>, output: Dense<1, Sigmoid> }
}

/// 301 bytes: longer than a header records.
const LONG: &str = "L012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789";

/// An activation with a name longer than a header records.
#[derive(Clone, Copy, Debug, Default)]
struct Long;
impl Elementwise for Long {
    const NAME: &'static str = LONG;
    const FORMULA: &'static str = "z";
    fn f<T: Scalar>(z: T) -> T {
        z
    }
    fn df<T: Scalar>(_: T, _: T) -> T {
        T::ONE
    }
}

/// The parameters of the committed version-1 files (see `tests/data/README.md`).
fn v1_xor<T: Scalar>() -> Xor<T> {
    let v = |x: f64| T::from_f64(x);
    let mut net = Xor::<T>::zeroed();
    net.hidden.w = [[v(0.5), v(-1.25)], [v(2.0), v(0.1)], [v(-0.375), v(3.5)]];
    net.hidden.b = [v(0.25), v(-0.2), v(1.0e-3)];
    net.output.w = [[v(1.5), v(-2.75), v(0.625)]];
    net.output.b = [v(-0.3)];
    net
}

const V1_F32: &[u8] = include_bytes!("data/xor-f32.v1.bin");
const V1_F64: &[u8] = include_bytes!("data/xor-f64.v1.bin");
const V2_F32: &[u8] = include_bytes!("data/xor-f32.v2.bin");
const V2_F64: &[u8] = include_bytes!("data/xor-f64.v2.bin");

#[test]
fn version_3_layout_is_the_documented_one() {
    let net: Xor<f64> = random(1);
    let bytes = bytes_of(&net);
    let header = 8 + (27 + 4) + (27 + 7) + (1 + 18);
    assert_eq!(header_len(Xor::<f64>::LAYERS, Xor::<f64>::LOSS), header);
    assert_eq!(Xor::<f64>::SERIALIZED_LEN, header + 8 * 13 + 4);
    assert_eq!(Xor::<f32>::SERIALIZED_LEN, header + 4 * 13 + 4);
    let mut expected = Vec::new();
    expected.extend_from_slice(b"BPRP\x03\x08\x02\x00");
    // hidden: dense, 2 → 3, 6 weights, 3 biases, geometry [2] → [3] valid, "Tanh".
    expected.extend_from_slice(&[1, 2, 0, 0, 0, 3, 0, 0, 0, 6, 0, 0, 0, 3, 0, 0, 0]);
    expected.extend_from_slice(&[2, 0, 0, 0, 3, 0, 0, 0, 0, 4]);
    expected.extend_from_slice(b"Tanh");
    // output: dense, 3 → 1, 3 weights, 1 bias, geometry [3] → [1] valid, "Sigmoid".
    expected.extend_from_slice(&[1, 3, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0]);
    expected.extend_from_slice(&[3, 0, 0, 0, 1, 0, 0, 0, 0, 7]);
    expected.extend_from_slice(b"Sigmoid");
    expected.push(18);
    expected.extend_from_slice(b"BinaryCrossEntropy");
    assert_eq!(&bytes[..header], &expected[..]);
    for (k, p) in net.params().iter().enumerate() {
        assert_eq!(&bytes[header + 8 * k..header + 8 * k + 8], &p.to_le_bytes());
    }
    let n = bytes.len();
    assert_eq!(&bytes[n - 4..], &crc32(&bytes[..n - 4]).to_le_bytes());
}

#[test]
fn round_trips_exactly_in_both_types() {
    let net: Xor<f64> = random(2);
    assert_eq!(Xor::<f64>::from_bytes(&bytes_of(&net)), Ok(net));
    let mut net32: Xor<f32> = random(3);
    net32.hidden.b[0] = f32::MIN_POSITIVE / 4.0; // subnormal
    net32.hidden.b[1] = -0.0;
    net32.output.b[0] = f32::MAX;
    let back = Xor::<f32>::from_bytes(&bytes_of(&net32)).unwrap();
    for (a, b) in back.params().iter().zip(net32.params()) {
        assert_eq!(a.to_bits(), b.to_bits());
    }
}

#[test]
fn names_longer_than_a_header_records_are_cut_alike_on_both_sides() {
    assert_eq!(LONG.len(), 301);
    let net: LongNames<f32> = random(4);
    let bytes = bytes_of(&net);
    assert_eq!(bytes.len(), 8 + (27 + 255) + (27 + 7) + (1 + "BinaryCrossEntropy".len()) + 4 * 13 + 4); // the loss name is a built-in one here
    assert_eq!(bytes[8 + 26], 255);
    assert_eq!(&bytes[8 + 27..8 + 27 + 255], &LONG.as_bytes()[..255]);
    assert_eq!(LongNames::<f32>::from_bytes(&bytes), Ok(net));
    // Into a network of other names, the error keeps the first 32 bytes of the file's.
    let err = Xor::<f32>::from_bytes(&bytes).unwrap_err();
    let ParamsError::Activation { found, .. } = err else { panic!("{err:?}") };
    assert_eq!((found.len(), found.as_bytes()), (255, &LONG.as_bytes()[..32]));
    assert_eq!(
        err.to_string(),
        "layer 0 (`hidden`) is L0123456789012345678901234567890… in the parameters, Tanh in the network"
    );
}

/// Loads `bytes` into a random network of type `N` and checks it is refused with `expected`,
/// leaving the network as it was.
fn refused<N: Network<f64> + core::fmt::Debug + PartialEq>(
    bytes: &[u8],
    expected: ParamsError,
) -> std::string::String {
    let mut target: N = random(77);
    let before = target.clone();
    assert_eq!(target.load_bytes(bytes), Err(expected));
    assert_eq!(target, before, "nothing is written on error");
    expected.to_string()
}

#[test]
fn each_mismatch_names_both_sides_and_leaves_the_network() {
    let bytes = bytes_of(&random::<f64, Xor<f64>>(5));
    let found = HeaderName::new;

    let msg = refused::<XorSigmoid<f64>>(
        &bytes,
        ParamsError::Activation { layer: "hidden", index: 0, expected: "Sigmoid", found: found(b"Tanh") },
    );
    assert_eq!(msg, "layer 0 (`hidden`) is Tanh in the parameters, Sigmoid in the network");

    let msg = refused::<XorSquared<f64>>(
        &bytes,
        ParamsError::Loss { expected: "HalfSquaredError", found: found(b"BinaryCrossEntropy") },
    );
    assert_eq!(
        msg,
        "parameters are of a network with loss BinaryCrossEntropy, this one has HalfSquaredError"
    );

    // Another kind tag (of a kind this build does not know), under a valid checksum.
    let mut other_kind = bytes.clone();
    other_kind[8 + 31] = 200;
    reseal(&mut other_kind);
    let msg = refused::<Xor<f64>>(
        &other_kind,
        ParamsError::LayerKind { layer: "output", index: 1, expected: LayerKind::Dense, found: 200 },
    );
    assert_eq!(
        msg,
        "layer 1 (`output`) is of kind tag 200, unknown to this build, in the parameters, Dense in the network"
    );

    // The same shape with another parameter layout (3 + 1 read as 2 + 2).
    let mut layout = bytes.clone();
    layout[8 + 31 + 9..8 + 31 + 17].copy_from_slice(&[2, 0, 0, 0, 2, 0, 0, 0]);
    reseal(&mut layout);
    let msg = refused::<Xor<f64>>(
        &layout,
        ParamsError::LayerParams { layer: "output", index: 1, expected: (3, 1), found: (2, 2) },
    );
    assert_eq!(
        msg,
        "layer 1 (`output`) has 2 weights and 2 biases in the parameters, 3 and 1 in the network"
    );

    refused::<Wider<f64>>(
        &bytes,
        ParamsError::LayerShape { layer: "hidden", index: 0, expected: (2, 4), found: (2, 3) },
    );
    refused::<Deeper<f64>>(&bytes, ParamsError::LayerCount { expected: 3, found: 2 });
    // The dense geometry disagreeing with the sizes (3 → 2 where the record says 3 → 1).
    let mut geometry = bytes.clone();
    geometry[8 + 31 + 17 + 4] = 2;
    reseal(&mut geometry);
    let expected = &Xor::<f64>::LAYERS[1].geometry;
    let found = Some(Geometry::dense(3, 2));
    let msg = refused::<Xor<f64>>(
        &geometry,
        ParamsError::LayerGeometry { layer: "output", index: 1, expected, found },
    );
    assert_eq!(msg, "layer 1 (`output`) is 3→2 in the parameters, 3→1 in the network");
    let mut v4 = bytes.clone();
    v4[4] = 4;
    refused::<Xor<f64>>(&v4, ParamsError::Version { found: 4 });
    assert_eq!(Xor::<f32>::from_bytes(&bytes), Err(ParamsError::ScalarType { expected: 4, found: 8 }));
    let mut longer = bytes.clone();
    longer.push(0);
    let len = bytes.len();
    refused::<Xor<f64>>(&longer, ParamsError::Length { expected: len, found: len + 1 });
}

#[test]
fn a_file_holding_an_infinity_is_refused_with_its_place() {
    let mut bytes = bytes_of(&random::<f64, Xor<f64>>(6));
    let at = Xor::<f64>::SERIALIZED_LEN - 4 - 8 * 2; // output.w[0][2]
    bytes[at..at + 8].copy_from_slice(&f64::NAN.to_le_bytes());
    reseal(&mut bytes);
    let param = Some(ParamIndex::Weight { layer: "output", row: 0, col: 2 });
    refused::<Xor<f64>>(&bytes, ParamsError::NonFinite { index: 11, param });
}

/// The variant's name, to say which part of a buffer an error is about.
fn variant(e: &ParamsError) -> &'static str {
    match e {
        ParamsError::Magic { .. } => "Magic",
        ParamsError::Version { .. } => "Version",
        ParamsError::ScalarType { .. } => "ScalarType",
        ParamsError::LayerCount { .. } => "LayerCount",
        ParamsError::LayerKind { .. } => "LayerKind",
        ParamsError::LayerShape { .. } => "LayerShape",
        ParamsError::LayerParams { .. } => "LayerParams",
        ParamsError::LayerGeometry { .. } => "LayerGeometry",
        ParamsError::Activation { .. } => "Activation",
        ParamsError::Loss { .. } => "Loss",
        ParamsError::Checksum { .. } => "Checksum",
        _ => "another",
    }
}

/// Every truncation of `bytes` (refused with the length `whole(len)` expected) and every
/// single-bit flip (refused with the error of the part hit, `part(byte, bit)`): never a panic,
/// and the network is untouched; the intact bytes then load.
fn every_truncation_and_flip_is_refused<T: Scalar, N: ParamBytes<T> + core::fmt::Debug + PartialEq>(
    bytes: &[u8],
    whole: impl Fn(usize) -> usize,
    part: impl Fn(usize, u8) -> &'static str,
) {
    let mut target: N = random(9);
    let before = target.clone();
    for len in 0..bytes.len() {
        let err = target.load_bytes(&bytes[..len]).expect_err("a truncated buffer is refused");
        assert_eq!(err, ParamsError::Length { expected: whole(len), found: len }, "{len}");
        assert_eq!(target, before);
    }
    for at in 0..bytes.len() {
        for bit in 0..8 {
            let mut bad = bytes.to_vec();
            bad[at] ^= 1 << bit;
            let err = target.load_bytes(&bad).expect_err("a flipped bit is detected");
            assert_eq!(target, before);
            assert_eq!(variant(&err), part(at, bit), "byte {at} bit {bit}: {err}");
            assert!(!err.to_string().is_empty());
        }
    }
    assert_eq!(target.load_bytes(bytes), Ok(()));
}

#[test]
fn every_truncation_and_bit_flip_of_version_3_is_refused() {
    let bytes = bytes_of(&random::<f64, Xor<f64>>(8));
    assert_eq!(header_len(Xor::<f64>::LAYERS, Xor::<f64>::LOSS), 92);
    // The parts of the header of `Xor` (its two layer records at 8 and 39, its loss at 73).
    let part = |at, bit| match at {
        0..4 => "Magic",
        // 3 flips to 2 (a version-2 reader takes the geometry's first byte for the name's
        // length), to 1 (whose first record reads 1, 2, 0, 0 as the inputs) or to 7, 11, ...
        4 if bit == 0 => "Activation",
        4 if bit == 1 => "LayerShape",
        4 => "Version",
        5 => "ScalarType",
        6 | 7 => "LayerCount",
        8 | 39 => "LayerKind",
        9..17 | 40..48 => "LayerShape",
        17..25 | 48..56 => "LayerParams",
        25..34 | 56..65 => "LayerGeometry", // the padding tag too
        34..39 | 65..73 => "Activation",    // the length byte too
        73..92 => "Loss",
        _ => "Checksum",
    };
    every_truncation_and_flip_is_refused::<f64, Xor<f64>>(&bytes, |_| bytes.len(), part);
}

#[test]
fn the_committed_version_2_files_load() {
    assert_eq!(Xor::<f32>::from_bytes(V2_F32), Ok(v1_xor()));
    assert_eq!(Xor::<f64>::from_bytes(V2_F64), Ok(v1_xor()));
    let params = |t: usize| t * 13 + 4;
    let v2_header = header_len_v2(Xor::<f32>::LAYERS, Xor::<f32>::LOSS);
    assert_eq!((V2_F32[4], V2_F32.len(), V2_F64.len()), (2, v2_header + params(4), v2_header + params(8)));
    // Written again, they are version 3, and load to the same parameters.
    let again = bytes_of(&Xor::<f32>::from_bytes(V2_F32).unwrap());
    assert_eq!((again[4], Xor::<f32>::from_bytes(&again)), (3, Ok(v1_xor())));
    // Everything version 2 records is checked.
    refused::<XorSigmoid<f64>>(
        V2_F64,
        ParamsError::Activation {
            layer: "hidden",
            index: 0,
            expected: "Sigmoid",
            found: HeaderName::new(b"Tanh"),
        },
    );
    refused::<Wider<f64>>(
        V2_F64,
        ParamsError::LayerShape { layer: "hidden", index: 0, expected: (2, 4), found: (2, 3) },
    );
    assert_eq!(Xor::<f32>::from_bytes(V2_F64), Err(ParamsError::ScalarType { expected: 4, found: 8 }));
}

#[test]
fn every_truncation_and_bit_flip_of_version_2_is_refused() {
    let whole = |len| if len < 8 { Xor::<f32>::SERIALIZED_LEN } else { V2_F32.len() };
    // The parts of a version-2 header (layer records at 8 and 30, the loss at 55).
    let part = |at, bit| match at {
        0..4 => "Magic",
        4 if bit == 0 => "LayerGeometry", // 2 flips to 3: the name's length byte read as a dimension
        4 => "Version",                   // to 0, 6, 10, ...: never to 1
        5 => "ScalarType",
        6 | 7 => "LayerCount",
        8 | 30 => "LayerKind",
        9..17 | 31..39 => "LayerShape",
        17..25 | 39..47 => "LayerParams",
        25..30 | 47..55 => "Activation",
        55..74 => "Loss",
        _ => "Checksum",
    };
    every_truncation_and_flip_is_refused::<f32, Xor<f32>>(V2_F32, whole, part);
}

#[test]
fn the_committed_version_1_files_load() {
    assert_eq!(Xor::<f32>::from_bytes(V1_F32), Ok(v1_xor()));
    assert_eq!(Xor::<f64>::from_bytes(V1_F64), Ok(v1_xor()));
    assert_eq!((V1_F32.len(), V1_F64.len()), (header_len_v1(2) + 4 * 13 + 4, header_len_v1(2) + 8 * 13 + 4));
    // Written again, they are version 3, and load to the same parameters.
    let again = bytes_of(&Xor::<f32>::from_bytes(V1_F32).unwrap());
    assert_eq!((again[4], Xor::<f32>::from_bytes(&again)), (3, Ok(v1_xor())));
    // Version 1 records no activation or loss, so those are not checked (documented)...
    assert!(XorSigmoid::<f64>::from_bytes(V1_F64).is_ok());
    assert!(XorSquared::<f64>::from_bytes(V1_F64).is_ok());
    // ...but everything it records is.
    refused::<Wider<f64>>(
        V1_F64,
        ParamsError::LayerShape { layer: "hidden", index: 0, expected: (2, 4), found: (2, 3) },
    );
    refused::<Deeper<f64>>(V1_F64, ParamsError::LayerCount { expected: 3, found: 2 });
    assert_eq!(Xor::<f32>::from_bytes(V1_F64), Err(ParamsError::ScalarType { expected: 4, found: 8 }));
}

/// Every truncation and bit flip of a version-1 file: the version-1 length is expected once the
/// version byte is read, and each flip is refused by the part it hits.
#[test]
fn every_truncation_and_bit_flip_of_version_1_is_refused() {
    let whole = |len| if len < 8 { Xor::<f32>::SERIALIZED_LEN } else { V1_F32.len() };
    let part = |at, bit| match at {
        0..4 => "Magic",
        4 if bit == 1 => "LayerKind", // 1 flips to 3: the inputs' low byte, 2, read as a kind
        4 => "Version",               // to 0, 5, 9, ...: never to 2
        5 => "ScalarType",
        6 | 7 => "LayerCount",
        8..24 => "LayerShape",
        _ => "Checksum",
    };
    every_truncation_and_flip_is_refused::<f32, Xor<f32>>(V1_F32, whole, part);
}

// Convolutional networks, glued by hand (`common/glued.rs`).

/// `[2, 7]` → conv 1-d, 3 filters of 3, stride 2, same → `[3, 4]` → average pool 2 → `[3, 2]` →
/// global average → `[3]` → dense 2.
#[derive(Clone, Debug, PartialEq)]
struct OneD;
impl<T: Scalar> Spec<T> for OneD {
    type L0 = Conv1d<T, Same, 2, 7, 3, 3, 2, 4>;
    type L1 = AvgPool1d<T, 3, 4, 2, 2, 2>;
    type L2 = GlobalAvgPool1d<T, 3, 2>;
    type L3 = Dense<T, 3, 2>;
    type A0 = Tanh;
    type A1 = Identity;
    type A2 = Identity;
    type A3 = Identity;
    const NAMES: [&'static str; 4] = ["conv", "pool", "gap", "out"];
}
type Net1d<T> = Glued<T, OneD, 14, 2>;

/// A 2-d network whose first layer is `C0`, a convolution from 16 or 9 inputs to 4 (or 1) outputs,
/// then a max pool to 1×1, dense 1 → 2 tanh, dense 2 → 1.
#[derive(Clone, Debug, PartialEq)]
struct TwoD<C0, P1>(core::marker::PhantomData<(C0, P1)>);
impl<
    T: Scalar,
    C0: backprop::Layer<T, Input: backprop::conv::Contiguous, Output: backprop::conv::Contiguous> + 'static,
    P1: backprop::Layer<T, Input: backprop::conv::Contiguous, Output = [[[T; 1]; 1]; 1]> + 'static,
> Spec<T> for TwoD<C0, P1>
{
    type L0 = C0;
    type L1 = P1;
    type L2 = Dense<T, 1, 2>;
    type L3 = Dense<T, 2, 1>;
    type A0 = Relu;
    type A1 = Identity;
    type A2 = Tanh;
    type A3 = Identity;
    const NAMES: [&'static str; 4] = ["conv", "pool", "hidden", "out"];
}
/// 1×4×4, 3×3 valid stride 1 → 1×2×2 → pool 2 → 1×1×1.
type Valid4<T> =
    Glued<T, TwoD<Conv2d<T, Valid, 1, 4, 4, 1, 3, 1, 2, 2>, MaxPool2d<T, 1, 2, 2, 2, 2, 1, 1>>, 16, 1>;
/// The same sizes and parameter counts with 3×3 same at stride 2.
type Same4<T> =
    Glued<T, TwoD<Conv2d<T, Same, 1, 4, 4, 1, 3, 2, 2, 2>, MaxPool2d<T, 1, 2, 2, 2, 2, 1, 1>>, 16, 1>;
/// 1×3×3 under a 3×3 kernel, and 9×1×1 under a 1×1 one: 9 inputs, 1 output, 9 weights each.
type Wide3<T> =
    Glued<T, TwoD<Conv2d<T, Valid, 1, 3, 3, 1, 3, 1, 1, 1>, MaxPool2d<T, 1, 1, 1, 1, 1, 1, 1>>, 9, 1>;
type Deep1<T> =
    Glued<T, TwoD<Conv2d<T, Valid, 9, 1, 1, 1, 1, 1, 1, 1>, MaxPool2d<T, 1, 1, 1, 1, 1, 1, 1>>, 9, 1>;

#[test]
fn the_glued_networks_are_networks() {
    // The hand-glued helper computes what a generated network would: its gradients check out.
    let net: Net1d<f64> = random(21);
    let x: [f64; 14] = core::array::from_fn(|i| (i as f64 * 0.37).sin());
    let report = backprop::gradcheck(&net, &x, &[0.5, -0.25], &backprop::GradCheck::default());
    assert!(report.checked > 0 && report.passes(1e-6), "{report:?}");
    let net: Valid4<f64> = random(22);
    let x: [f64; 16] = core::array::from_fn(|i| (i as f64 * 0.61).cos());
    let report = backprop::gradcheck(&net, &x, &[0.5], &backprop::GradCheck::default());
    assert!(report.checked > 0 && report.passes(1e-6), "{report:?}");
}

#[test]
fn version_3_records_every_geometry() {
    let net: Net1d<f32> = random(11);
    let bytes = bytes_of(&net);
    let layers = Net1d::<f32>::LAYERS;
    assert_eq!(
        header_len(layers, "HalfSquaredError"),
        8 + (18 + 25 + 4) + (18 + 25 + 8) + (18 + 21 + 8) + (18 + 9 + 8) + 17
    );
    let u32s = |v: &[u32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut expected = b"BPRP\x03\x04\x04\x00".to_vec();
    // conv: kind 2, 14 → 12, 18 weights, 3 biases; [2, 7] → [3, 4], kernel [3], stride [2], same.
    expected.push(2);
    expected.extend(u32s(&[14, 12, 18, 3, 2, 7, 3, 4, 3, 2]));
    expected.extend([1, 4]);
    expected.extend(b"Tanh");
    // pool: kind 6, 12 → 6, no parameters; [3, 4] → [3, 2], kernel [2], stride [2], valid.
    expected.push(6);
    expected.extend(u32s(&[12, 6, 0, 0, 3, 4, 3, 2, 2, 2]));
    expected.extend([0, 8]);
    expected.extend(b"Identity");
    // global pool: kind 8, 6 → 3; [3, 2] → [3], kernel [2], stride [2], valid.
    expected.push(8);
    expected.extend(u32s(&[6, 3, 0, 0, 3, 2, 3, 2, 2]));
    expected.extend([0, 8]);
    expected.extend(b"Identity");
    // out: dense, 3 → 2; [3] → [2].
    expected.push(1);
    expected.extend(u32s(&[3, 2, 6, 2, 3, 2]));
    expected.extend([0, 8]);
    expected.extend(b"Identity");
    expected.push(16);
    expected.extend(b"HalfSquaredError");
    assert_eq!(&bytes[..expected.len()], &expected[..]);
    assert_eq!(bytes.len(), expected.len() + 4 * (18 + 3 + 8) + 4);
    assert_eq!(Net1d::<f32>::from_bytes(&bytes), Ok(net));
}

#[test]
fn convolutional_networks_round_trip_exactly() {
    let net: Valid4<f64> = random(12);
    assert_eq!(Valid4::<f64>::from_bytes(&bytes_of(&net)), Ok(net));
    let net: Net1d<f64> = random(13);
    assert_eq!(Net1d::<f64>::from_bytes(&bytes_of(&net)), Ok(net));
}

/// A file of `A` loaded into `B`, whose first layer (`conv`) has another geometry: refused with
/// both geometries; the message.
fn geometry_refused<A: Network<f64>, B: Network<f64> + core::fmt::Debug + PartialEq>(seed: u64) -> String {
    let bytes = bytes_of(&random::<f64, A>(seed));
    let (expected, found) = (&B::LAYERS[0].geometry, Some(A::LAYERS[0].geometry));
    refused::<B>(&bytes, ParamsError::LayerGeometry { layer: "conv", index: 0, expected, found })
}

#[test]
fn another_stride_padding_or_kernel_is_refused_naming_both_geometries() {
    assert_eq!(
        geometry_refused::<Valid4<f64>, Same4<f64>>(14),
        "layer 0 (`conv`) is 1×4×4→1×2×2 (kernel 3×3, stride 1×1, valid) in the parameters, \
         1×4×4→1×2×2 (kernel 3×3, stride 2×2, same) in the network"
    );
    assert_eq!(
        geometry_refused::<Wide3<f64>, Deep1<f64>>(15),
        "layer 0 (`conv`) is 1×3×3→1×1×1 (kernel 3×3, stride 1×1, valid) in the parameters, \
         9×1×1→1×1×1 (kernel 1×1, stride 1×1, valid) in the network"
    );
    // An unknown padding tag: no geometry that can be read.
    let mut bytes = bytes_of(&random::<f64, Valid4<f64>>(16));
    bytes[8 + 17 + 40] = 7;
    reseal(&mut bytes);
    let expected = &Valid4::<f64>::LAYERS[0].geometry;
    refused::<Valid4<f64>>(
        &bytes,
        ParamsError::LayerGeometry { layer: "conv", index: 0, expected, found: None },
    );
}

/// `bytes` (version 3) as version 2 would have written them: without the geometries.
fn as_version_2(bytes: &[u8], layers: &[LayerInfo]) -> Vec<u8> {
    let mut out = bytes[..8].to_vec();
    out[4] = 2;
    let mut at = 8;
    for layer in layers {
        out.extend_from_slice(&bytes[at..at + 17]);
        at += 17
            + 4 * (layer.geometry.input().len()
                + layer.geometry.output().len()
                + 2 * layer.geometry.kernel().len())
            + 1;
        let name = 1 + usize::from(bytes[at]);
        out.extend_from_slice(&bytes[at..at + name]);
        at += name;
    }
    out.extend_from_slice(&bytes[at..]);
    reseal(&mut out);
    out
}

#[test]
fn a_version_2_file_loads_only_into_layers_of_dense_geometry() {
    let xor = random::<f64, Xor<f64>>(17);
    let v2 = as_version_2(&bytes_of(&xor), Xor::<f64>::LAYERS);
    assert_eq!(v2.len(), header_len_v2(Xor::<f64>::LAYERS, Xor::<f64>::LOSS) + 8 * 13 + 4);
    assert_eq!(Xor::<f64>::from_bytes(&v2), Ok(xor));
    let conv = random::<f64, Valid4<f64>>(18);
    let v2 = as_version_2(&bytes_of(&conv), Valid4::<f64>::LAYERS);
    let expected = &Valid4::<f64>::LAYERS[0].geometry;
    let msg = refused::<Valid4<f64>>(
        &v2,
        ParamsError::LayerGeometry { layer: "conv", index: 0, expected, found: None },
    );
    assert_eq!(
        msg,
        "layer 0 (`conv`) is 1×4×4→1×2×2 (kernel 3×3, stride 1×1, valid) in the network, and the \
         parameters record no readable geometry for it (version 2 records none)"
    );
}

/// What each header byte of a version-3 file of these layers and this loss belongs to.
fn header_parts(layers: &[LayerInfo], loss: &str) -> Vec<&'static str> {
    let mut parts = vec!["Magic"; 4];
    parts.extend(["Version", "ScalarType", "LayerCount", "LayerCount"]);
    for layer in layers {
        let g = &layer.geometry;
        parts.push("LayerKind");
        parts.extend(["LayerShape"; 8]);
        parts.extend(["LayerParams"; 8]);
        parts.extend(vec![
            "LayerGeometry";
            4 * (g.input().len() + g.output().len() + 2 * g.kernel().len()) + 1
        ]);
        parts.extend(vec!["Activation"; 1 + layer.activation.len()]);
    }
    parts.extend(vec!["Loss"; 1 + loss.len()]);
    parts
}

#[test]
fn every_truncation_and_bit_flip_of_a_convolutional_network_is_refused() {
    let bytes = bytes_of(&random::<f32, Net1d<f32>>(19));
    let parts = header_parts(Net1d::<f32>::LAYERS, Net1d::<f32>::LOSS);
    assert_eq!(parts.len(), header_len(Net1d::<f32>::LAYERS, Net1d::<f32>::LOSS));
    let part = |at: usize, bit| match (at, bit) {
        (4, 0) => "LayerGeometry", // 3 flips to 2: no geometry for a convolution
        (4, 1) => "LayerKind",     // to 1: not dense
        _ => parts.get(at).copied().unwrap_or("Checksum"),
    };
    every_truncation_and_flip_is_refused::<f32, Net1d<f32>>(&bytes, |_| bytes.len(), part);
}
