//! Serialisation of generated networks: the documented layout, exact round trips, one error per
//! kind of mismatch, and a fuzz-style sweep over truncated and corrupted buffers.

use backprop::layer::ParamIndex;
use backprop::serialize::crc32;
use backprop::{Network, ParamBytes, Params, ParamsError, Rng, Scalar, network};

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
    /// Another layer count.
    #[loss(HalfSquaredError)]
    pub struct Deeper { input: 3, a: Dense<5, Tanh>, b: Dense<2, Relu>, output: Dense<2, Identity> }
}

fn random<N: Network<f64>>(seed: u64) -> N {
    let mut rng = Rng::new(seed);
    let mut net = N::zeroed();
    for p in net.params_mut() {
        *p = rng.uniform(-2.0, 2.0);
    }
    net
}

fn bytes_of<T: Scalar, N: ParamBytes<T>>(net: &N) -> Vec<u8> {
    let mut out = vec![0u8; N::SERIALIZED_LEN];
    assert_eq!(net.to_bytes(&mut out), Ok(N::SERIALIZED_LEN));
    out
}

#[test]
fn layout_is_the_documented_one() {
    let net: Small<f64> = random(1);
    let bytes = bytes_of(&net);
    let params = 3 * 5 + 5 + 5 * 2 + 2;
    assert_eq!(Small::<f64>::SERIALIZED_LEN, 8 + 16 + 8 * params + 4);
    assert_eq!(Small::<f32>::SERIALIZED_LEN, 8 + 16 + 4 * params + 4);
    assert_eq!(&bytes[..8], &[b'B', b'P', b'R', b'P', 1, 8, 2, 0]);
    assert_eq!(&bytes[8..24], &[3, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0]);
    assert_eq!(&bytes[24..32], &net.hidden.w[0][0].to_le_bytes());
    assert_eq!(&bytes[32..40], &net.hidden.w[0][1].to_le_bytes());
    let bias = 24 + 8 * 15;
    assert_eq!(&bytes[bias..bias + 8], &net.hidden.b[0].to_le_bytes());
    let last = 24 + 8 * (params - 1);
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
    assert_eq!(&bytes[24..28], &net32.hidden.w[0][0].to_le_bytes());
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

    let mut v2 = bytes.clone();
    v2[4] = 2;
    assert_eq!(Small::<f64>::from_bytes(&v2), Err(ParamsError::Version { found: 2 }));
    assert_eq!(Small::<f32>::from_bytes(&bytes), Err(ParamsError::ScalarType { expected: 4, found: 8 }));
    assert_eq!(Deeper::<f64>::from_bytes(&bytes), Err(ParamsError::LayerCount { expected: 3, found: 2 }));
    assert_eq!(
        Wider::<f64>::from_bytes(&bytes),
        Err(ParamsError::LayerShape { layer: "hidden", index: 0, expected: (3, 6), found: (3, 5) })
    );

    let mut corrupted = bytes.clone();
    corrupted[40] ^= 0x10;
    assert!(matches!(Small::<f64>::from_bytes(&corrupted), Err(ParamsError::Checksum { .. })));
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
    let at = 24 + 8 * 28;
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
                4 => matches!(err, ParamsError::Version { .. }),
                5 => matches!(err, ParamsError::ScalarType { .. }),
                6 | 7 => matches!(err, ParamsError::LayerCount { .. }),
                8..24 => matches!(err, ParamsError::LayerShape { .. }),
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
