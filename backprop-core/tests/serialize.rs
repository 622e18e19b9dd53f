//! Serialisation of generated networks: the documented layout (format version 3), exact round
//! trips, one error per kind of mismatch, a fuzz-style sweep over truncated and corrupted
//! buffers, and the committed version-1 files loading.

use backprop::layer::ParamIndex;
use backprop::serialize::{HeaderName, crc32, header_len};
use backprop::{Network, ParamBytes, Params, ParamsError, Rng, network};

mod common;
use common::*;

network! {
    /// A small network with odd sizes.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Small { input: 3, hidden: Dense<5, Tanh>, output: Dense<2, Softmax> }
}

network! {
    /// Same layer count, another hidden size.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Wider { input: 3, hidden: Dense<6, Tanh>, output: Dense<2, Softmax> }
}

network! {
    /// Another activation.
    #[loss(SoftmaxCrossEntropy)]
    pub struct SmallSigmoid { input: 3, hidden: Dense<5, Sigmoid>, output: Dense<2, Softmax> }
}

network! {
    /// Another loss.
    #[loss(HalfSquaredError)]
    pub struct SmallSquared { input: 3, hidden: Dense<5, Tanh>, output: Dense<2, Softmax> }
}

network! {
    /// The network of the committed version-1 files (`tests/data/README.md`).
    #[loss(BinaryCrossEntropy)]
    pub struct Xor { input: 2, hidden: Dense<3, Tanh>, output: Dense<1, Sigmoid> }
}

network! {
    /// Another layer count.
    #[loss(HalfSquaredError)]
    pub struct Deeper { input: 3, a: Dense<5, Tanh>, b: Dense<2, Relu>, output: Dense<2, Identity> }
}

/// Bytes of `Small`'s header: 8 fixed, a dense layer record of 27 bytes + "Tanh" and one of 27
/// + "Softmax", and 1 + "SoftmaxCrossEntropy".
const H: usize = 8 + (27 + 4) + (27 + 7) + (1 + 19);

#[test]
fn layout_is_the_documented_one() {
    let net: Small<f64> = random(1);
    let bytes = bytes_of(&net);
    let params = 3 * 5 + 5 + 5 * 2 + 2;
    assert_eq!(header_len(Small::<f64>::LAYERS, Small::<f64>::LOSS), H);
    assert_eq!(Small::<f64>::SERIALIZED_LEN, H + 8 * params + 4);
    assert_eq!(Small::<f32>::SERIALIZED_LEN, H + 4 * params + 4);
    assert_eq!(&bytes[..8], &[b'B', b'P', b'R', b'P', 3, 8, 2, 0]);
    // Per layer: kind 1 (dense), inputs, outputs, weights, biases, the geometry (input [3],
    // output [5], valid), the activation's name.
    assert_eq!(&bytes[8..25], &[1, 3, 0, 0, 0, 5, 0, 0, 0, 15, 0, 0, 0, 5, 0, 0, 0]);
    assert_eq!(&bytes[25..35], &[3, 0, 0, 0, 5, 0, 0, 0, 0, 4]);
    assert_eq!(&bytes[35..39], b"Tanh");
    assert_eq!(&bytes[39..56], &[1, 5, 0, 0, 0, 2, 0, 0, 0, 10, 0, 0, 0, 2, 0, 0, 0]);
    assert_eq!(&bytes[56..66], &[5, 0, 0, 0, 2, 0, 0, 0, 0, 7]);
    assert_eq!(&bytes[66..73], b"Softmax");
    assert_eq!(bytes[73], 19);
    assert_eq!(&bytes[74..H], b"SoftmaxCrossEntropy");
    assert_eq!(&bytes[H..H + 8], &net.hidden.w[0][0].to_le_bytes());
    assert_eq!(&bytes[H + 8..H + 16], &net.hidden.w[0][1].to_le_bytes());
    let bias = H + 8 * 15;
    assert_eq!(&bytes[bias..bias + 8], &net.hidden.b[0].to_le_bytes());
    let last = H + 8 * (params - 1);
    assert_eq!(&bytes[last..last + 8], &net.output.b[1].to_le_bytes());
    let n = bytes.len();
    assert_eq!(&bytes[n - 4..], &crc32(&bytes[..n - 4]).to_le_bytes());
}

#[test]
fn round_trips_exactly_in_both_types() {
    let net: Small<f64> = random(2);
    assert_eq!(Small::<f64>::from_bytes(&bytes_of(&net)), Ok(net.clone()));

    let mut net32 = Small::<f32>::zeroed();
    for (p, q) in net32.params_mut().iter_mut().zip(net.params()) {
        *p = *q as f32;
    }
    net32.hidden.b[0] = f32::MIN_POSITIVE / 4.0; // subnormal
    net32.hidden.b[1] = -0.0;
    net32.output.b[0] = f32::MAX;
    let bytes = bytes_of(&net32);
    assert_eq!(&bytes[H..H + 4], &net32.hidden.w[0][0].to_le_bytes());
    let back = Small::<f32>::from_bytes(&bytes).unwrap();
    for (a, b) in back.params().iter().zip(net32.params()) {
        assert_eq!(a.to_bits(), b.to_bits());
    }
}

#[test]
fn each_kind_of_mismatch_has_its_error() {
    let net: Small<f64> = random(3);
    let bytes = bytes_of(&net);
    let len = Small::<f64>::SERIALIZED_LEN;

    assert_eq!(Small::<f64>::from_bytes(&[]), Err(ParamsError::Length { expected: len, found: 0 }));
    assert_eq!(
        Small::<f64>::from_bytes(&bytes[..len - 1]),
        Err(ParamsError::Length { expected: len, found: len - 1 })
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(Small::<f64>::from_bytes(&longer), Err(ParamsError::Length { expected: len, found: len + 1 }));
    assert_eq!(Small::<f64>::from_bytes(b"PK\x03\x04zip"), Err(ParamsError::Magic { found: *b"PK\x03\x04" }));

    let mut v4 = bytes.clone();
    v4[4] = 4;
    assert_eq!(Small::<f64>::from_bytes(&v4), Err(ParamsError::Version { found: 4 }));
    assert_eq!(Small::<f32>::from_bytes(&bytes), Err(ParamsError::ScalarType { expected: 4, found: 8 }));
    assert_eq!(Deeper::<f64>::from_bytes(&bytes), Err(ParamsError::LayerCount { expected: 3, found: 2 }));
    assert_eq!(
        Wider::<f64>::from_bytes(&bytes),
        Err(ParamsError::LayerShape { layer: "hidden", index: 0, expected: (3, 6), found: (3, 5) })
    );

    let mut corrupted = bytes.clone();
    corrupted[H + 16] ^= 0x10;
    assert!(matches!(Small::<f64>::from_bytes(&corrupted), Err(ParamsError::Checksum { .. })));
}

/// A file of another activation, layer kind or loss: the error names both sides, and the network
/// is left as it was.
#[test]
fn another_activation_kind_or_loss_is_refused_naming_both() {
    let bytes = bytes_of(&random::<f64, Small<f64>>(3));

    let mut target: SmallSigmoid<f64> = random(8);
    let before = target.clone();
    let err = target.load_bytes(&bytes).unwrap_err();
    let found = HeaderName::new(b"Tanh");
    assert_eq!(err, ParamsError::Activation { layer: "hidden", index: 0, expected: "Sigmoid", found });
    assert_eq!(err.to_string(), "layer 0 (`hidden`) is Tanh in the parameters, Sigmoid in the network");
    assert_eq!(target, before);

    let mut target: SmallSquared<f64> = random(9);
    let before = target.clone();
    let err = target.load_bytes(&bytes).unwrap_err();
    let found = HeaderName::new(b"SoftmaxCrossEntropy");
    assert_eq!(err, ParamsError::Loss { expected: "HalfSquaredError", found });
    assert_eq!(
        err.to_string(),
        "parameters are of a network with loss SoftmaxCrossEntropy, this one has HalfSquaredError"
    );
    assert_eq!(target, before);

    // A kind tag this build does not know, under a valid checksum.
    let mut other = bytes.clone();
    other[8] = 42;
    let n = other.len();
    let crc = crc32(&other[..n - 4]);
    other[n - 4..].copy_from_slice(&crc.to_le_bytes());
    let mut target: Small<f64> = random(10);
    let before = target.clone();
    let err = target.load_bytes(&other).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 0 (`hidden`) is of kind tag 42, unknown to this build, in the parameters, Dense in the network"
    );
    assert_eq!(target, before);
}

/// The version-1 files written at 55a1651 load with the same parameters, into a generated
/// network (their activations and loss are not recorded, so not checked).
#[test]
fn version_1_files_still_load() {
    let f32_file = include_bytes!("data/xor-f32.v1.bin");
    let f64_file = include_bytes!("data/xor-f64.v1.bin");
    let expected = [0.5, -1.25, 2.0, 0.1, -0.375, 3.5, 0.25, -0.2, 1.0e-3, 1.5, -2.75, 0.625, -0.3];
    let net = Xor::<f32>::from_bytes(f32_file).expect("the f32 version-1 file loads");
    assert_eq!(net.params(), expected.map(|p: f64| p as f32));
    let net = Xor::<f64>::from_bytes(f64_file).expect("the f64 version-1 file loads");
    assert_eq!(net.params(), expected);
    assert_eq!(net.hidden.w[1], [2.0, 0.1]);
    // Saved again, as version 3.
    let again = bytes_of(&net);
    assert_eq!((again[4], Xor::<f64>::from_bytes(&again)), (3, Ok(net)));
}

#[test]
fn non_finite_values_are_refused_both_ways() {
    let mut net: Small<f64> = random(4);
    net.output.w[1][3] = f64::NAN;
    let mut out = [0xAAu8; 512];
    let expected = ParamsError::NonFinite {
        index: 20 + 5 + 3,
        param: Some(ParamIndex::Weight { layer: "output", row: 1, col: 3 }),
    };
    assert_eq!(net.to_bytes(&mut out), Err(expected));
    assert!(out.iter().all(|&b| b == 0xAA), "the buffer is untouched on error");

    // A file holding an infinity under a valid checksum (as a buggy writer could produce).
    net.output.w[1][3] = 1.0;
    let mut bytes = bytes_of(&net);
    let at = H + 8 * 28;
    bytes[at..at + 8].copy_from_slice(&f64::INFINITY.to_le_bytes());
    let n = bytes.len();
    let crc = crc32(&bytes[..n - 4]);
    bytes[n - 4..].copy_from_slice(&crc.to_le_bytes());
    let mut target: Small<f64> = random(5);
    let before = target.clone();
    assert_eq!(target.load_bytes(&bytes), Err(expected));
    assert_eq!(target, before, "nothing is written on error");

    let mut net32 = Small::<f32>::zeroed();
    net32.hidden.b[4] = f32::NEG_INFINITY;
    let mut out = [0u8; 256];
    assert!(matches!(net32.to_bytes(&mut out), Err(ParamsError::NonFinite { index: 19, .. })));
}

#[test]
fn buffer_too_small_for_writing() {
    let net: Small<f32> = Small::zeroed();
    let mut out = [7u8; 16];
    assert_eq!(
        net.to_bytes(&mut out),
        Err(ParamsError::BufferTooSmall { needed: Small::<f32>::SERIALIZED_LEN, available: 16 })
    );
    assert_eq!(out, [7u8; 16]);
    let mut big = [0u8; 1000];
    assert_eq!(net.to_bytes(&mut big), Ok(Small::<f32>::SERIALIZED_LEN));
    assert_eq!(Small::<f32>::from_bytes(&big[..Small::<f32>::SERIALIZED_LEN]), Ok(net));
}

/// Every truncation and every single-bit flip, then random multi-byte corruptions and length
/// changes: each gives an error (never a panic) and leaves the network untouched.
#[test]
fn truncated_and_corrupted_buffers_never_load() {
    let source: Small<f64> = random(6);
    let bytes = bytes_of(&source);
    let mut target: Small<f64> = random(7);
    let before = target.clone();

    for len in 0..bytes.len() {
        let err = target.load_bytes(&bytes[..len]).expect_err("a truncated buffer is refused");
        assert_eq!(err, ParamsError::Length { expected: bytes.len(), found: len });
        assert_eq!(target, before);
    }
    for at in 0..bytes.len() {
        for bit in 0..8 {
            let mut bad = bytes.clone();
            bad[at] ^= 1 << bit;
            let err = target.load_bytes(&bad).expect_err("a flipped bit is detected");
            assert_eq!(target, before);
            // The error names the part that was hit.
            let ok = match at {
                0..4 => matches!(err, ParamsError::Magic { .. }),
                // 3 flips to 2 (whose reader takes the geometry's first byte for the name's
                // length) and 1 (which reads 1, 3, 0, 0 as the inputs), or to 7, 11, ...
                4 if bit == 0 => matches!(err, ParamsError::Activation { .. }),
                4 if bit == 1 => matches!(err, ParamsError::LayerShape { .. }),
                4 => matches!(err, ParamsError::Version { .. }),
                5 => matches!(err, ParamsError::ScalarType { .. }),
                6 | 7 => matches!(err, ParamsError::LayerCount { .. }),
                // The two layer records (kind, shape, weight and bias counts, geometry,
                // activation), the loss.
                8 | 39 => matches!(err, ParamsError::LayerKind { .. }),
                9..17 | 40..48 => matches!(err, ParamsError::LayerShape { .. }),
                17..25 | 48..56 => matches!(err, ParamsError::LayerParams { .. }),
                25..34 | 56..65 => matches!(err, ParamsError::LayerGeometry { .. }),
                34..39 | 65..73 => matches!(err, ParamsError::Activation { .. }),
                73..H => matches!(err, ParamsError::Loss { .. }),
                _ => matches!(err, ParamsError::Checksum { .. }),
            };
            assert!(ok, "byte {at} bit {bit}: {err}");
        }
    }
    let mut rng = Rng::new(99);
    let mut kinds = [0usize; 4];
    for _ in 0..3000 {
        let mut bad = bytes.clone();
        for _ in 0..1 + rng.below(6) {
            let at = rng.below(bad.len());
            bad[at] = rng.next_u64() as u8;
        }
        if rng.below(4) == 0 {
            bad.resize(rng.below(bytes.len() + 16), 0);
        }
        if bad == bytes {
            continue;
        }
        let err = target.load_bytes(&bad).expect_err("a corrupted buffer is refused");
        assert!(!err.to_string().is_empty());
        kinds[match err {
            ParamsError::Length { .. } => 0,
            ParamsError::Checksum { .. } => 1,
            ParamsError::Magic { .. } => 2,
            _ => 3,
        }] += 1;
        assert_eq!(target, before);
    }
    assert!(kinds.iter().all(|&k| k > 50), "the sweep reaches every check: {kinds:?}");
    // And the intact bytes still load.
    assert_eq!(target.load_bytes(&bytes), Ok(()));
    assert_eq!(target, source);
}
