//! Helpers of the serialisation tests.

use backprop::serialize::crc32;
use backprop::{Network, ParamBytes, Rng, Scalar};

/// A network of uniform parameters in `[-2, 2)`.
pub fn random<T: Scalar, N: Network<T>>(seed: u64) -> N {
    let mut rng = Rng::new(seed);
    let mut net = N::zeroed();
    for p in net.params_mut() {
        *p = T::from_f64(rng.uniform(-2.0, 2.0));
    }
    net
}

/// The serialised form of `net`.
pub fn bytes_of<T: Scalar, N: ParamBytes<T>>(net: &N) -> Vec<u8> {
    let mut out = vec![0u8; N::SERIALIZED_LEN];
    assert_eq!(net.to_bytes(&mut out), Ok(N::SERIALIZED_LEN));
    out
}

/// Rewrites the checksum after an edit, as a buggy or hostile writer could.
#[allow(dead_code)] // not every test file edits bytes
pub fn reseal(bytes: &mut [u8]) {
    let n = bytes.len();
    let crc = crc32(&bytes[..n - 4]);
    bytes[n - 4..].copy_from_slice(&crc.to_le_bytes());
}
