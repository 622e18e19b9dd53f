//! The formats byte by byte on networks declared with `network!`: the version-2 layout, round
//! trips, one error per mismatch naming both sides, every truncation and bit flip refused, and the
//! committed version-1 files loading.

use backprop::layer::{LayerKind, ParamIndex};
use backprop::serialize::{HeaderName, crc32, header_len, header_len_v1};
use backprop::{Elementwise, Network, ParamBytes, Params, ParamsError, Scalar, network};

// The network of the committed version-1 files, and networks that differ from it in one way.
mod common;
use common::*;

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

#[test]
fn version_2_layout_is_the_documented_one() {
    let net: Xor<f64> = random(1);
    let bytes = bytes_of(&net);
    let header = 8 + (18 + 4) + (18 + 7) + (1 + 18);
    assert_eq!(header_len(Xor::<f64>::LAYERS, Xor::<f64>::LOSS), header);
    assert_eq!(Xor::<f64>::SERIALIZED_LEN, header + 8 * 13 + 4);
    assert_eq!(Xor::<f32>::SERIALIZED_LEN, header + 4 * 13 + 4);
    let mut expected = Vec::new();
    expected.extend_from_slice(b"BPRP\x02\x08\x02\x00");
    // hidden: dense, 2 → 3, 6 weights, 3 biases, "Tanh".
    expected.extend_from_slice(&[1, 2, 0, 0, 0, 3, 0, 0, 0, 6, 0, 0, 0, 3, 0, 0, 0, 4]);
    expected.extend_from_slice(b"Tanh");
    // output: dense, 3 → 1, 3 weights, 1 bias, "Sigmoid".
    expected.extend_from_slice(&[1, 3, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 7]);
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
    assert_eq!(bytes.len(), 8 + (18 + 255) + (18 + 7) + (1 + "BinaryCrossEntropy".len()) + 4 * 13 + 4); // the loss name is a built-in one here
    assert_eq!(bytes[8 + 17], 255);
    assert_eq!(&bytes[8 + 18..8 + 18 + 255], &LONG.as_bytes()[..255]);
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
    other_kind[8 + 22] = 200;
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
    layout[8 + 22 + 9..8 + 22 + 17].copy_from_slice(&[2, 0, 0, 0, 2, 0, 0, 0]);
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
    let mut v3 = bytes.clone();
    v3[4] = 3;
    refused::<Xor<f64>>(&v3, ParamsError::Version { found: 3 });
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
        ParamsError::Activation { .. } => "Activation",
        ParamsError::Loss { .. } => "Loss",
        ParamsError::Checksum { .. } => "Checksum",
        _ => "another",
    }
}

/// Every truncation of `bytes` (refused with the length `whole(len)` expected) and every
/// single-bit flip (refused with the error of the part hit, `part(byte)`): never a panic, and
/// the network is untouched; the intact bytes then load.
fn every_truncation_and_flip_is_refused<T: Scalar, N: ParamBytes<T> + core::fmt::Debug + PartialEq>(
    bytes: &[u8],
    whole: impl Fn(usize) -> usize,
    part: impl Fn(usize) -> &'static str,
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
            assert_eq!(variant(&err), part(at), "byte {at} bit {bit}: {err}");
            assert!(!err.to_string().is_empty());
        }
    }
    assert_eq!(target.load_bytes(bytes), Ok(()));
}

#[test]
fn every_truncation_and_bit_flip_of_version_2_is_refused() {
    let bytes = bytes_of(&random::<f64, Xor<f64>>(8));
    assert_eq!(header_len(Xor::<f64>::LAYERS, Xor::<f64>::LOSS), 74);
    // The parts of the header of `Xor` (its two layer records at 8 and 30, its loss at 55).
    let part = |at| match at {
        0..4 => "Magic",
        4 => "Version", // 2 flips to 3, 0, 6, 10, ...: never to 1
        5 => "ScalarType",
        6 | 7 => "LayerCount",
        8 | 30 => "LayerKind",
        9..17 | 31..39 => "LayerShape",
        17..25 | 39..47 => "LayerParams",
        25..30 | 47..55 => "Activation", // the length byte too
        55..74 => "Loss",
        _ => "Checksum",
    };
    every_truncation_and_flip_is_refused::<f64, Xor<f64>>(&bytes, |_| bytes.len(), part);
}

#[test]
fn the_committed_version_1_files_load() {
    assert_eq!(Xor::<f32>::from_bytes(V1_F32), Ok(v1_xor()));
    assert_eq!(Xor::<f64>::from_bytes(V1_F64), Ok(v1_xor()));
    assert_eq!((V1_F32.len(), V1_F64.len()), (header_len_v1(2) + 4 * 13 + 4, header_len_v1(2) + 8 * 13 + 4));
    // Written again, they are version 2, and load to the same parameters.
    let again = bytes_of(&Xor::<f32>::from_bytes(V1_F32).unwrap());
    assert_eq!((again[4], Xor::<f32>::from_bytes(&again)), (2, Ok(v1_xor())));
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
    let part = |at| match at {
        0..4 => "Magic",
        4 => "Version", // 1 flips to 0, 3, 5, 9, ...: never to 2
        5 => "ScalarType",
        6 | 7 => "LayerCount",
        8..24 => "LayerShape",
        _ => "Checksum",
    };
    every_truncation_and_flip_is_refused::<f32, Xor<f32>>(V1_F32, whole, part);
}
