//! Parameters to and from bytes: a fixed little-endian format with a header that names the layer
//! shapes and the scalar type, and a checksum. `no_std`, no allocation, no panic.
//!
//! # Format (version 1)
//!
//! | offset | bytes | content |
//! |---|---|---|
//! | 0 | 4 | magic `b"BPRP"` |
//! | 4 | 1 | format version, `1` |
//! | 5 | 1 | scalar tag, [`Scalar::TAG`]: `4` for `f32`, `8` for `f64` |
//! | 6 | 2 | number of layers `L`, `u16` |
//! | 8 | `8 L` | per layer, input to output: inputs `u32`, then neurons `u32` |
//! | `8 + 8 L` | `PARAMS · size_of::<T>()` | the parameters in [`Params::params`](crate::Params::params) order (per layer: weights row by row, then biases), IEEE 754 |
//! | end - 4 | 4 | CRC-32 (IEEE 802.3, as zlib's `crc32`) of every byte before it |
//!
//! Every integer and float is little-endian, on every target, so a file written on a host loads
//! on a big- or little-endian microcontroller alike. The header identifies shapes and scalar type,
//! not activations: a file of a 2-4-1 tanh network loads into a 2-4-1 sigmoid network.
//!
//! # Guarantees
//!
//! Reading validates the whole buffer first (header, length, checksum, every value finite) and
//! only then writes the network: on any error the network is left exactly as it was. Writing
//! refuses a network with a non-finite parameter (a diverged training run) and then leaves the
//! buffer untouched. No function here allocates or panics.
//!
//! ```
//! use backprop::{network, ParamBytes, ParamsError};
//!
//! network! {
//!     /// XOR.
//!     #[loss(HalfSquaredError)]
//!     pub struct Xor { input: 2, hidden: Dense<3, Tanh>, output: Dense<1, Sigmoid> }
//! }
//!
//! let mut net = Xor::<f32>::zeroed();
//! net.hidden.w[1][0] = 0.5;
//! let mut bytes = [0u8; Xor::<f32>::SERIALIZED_LEN];
//! assert_eq!(net.to_bytes(&mut bytes), Ok(bytes.len()));
//! assert_eq!(Xor::<f32>::from_bytes(&bytes), Ok(net.clone()));
//!
//! // The header tells an f32 file from an f64 network, and a short file from a whole one.
//! assert!(matches!(Xor::<f64>::from_bytes(&bytes), Err(ParamsError::ScalarType { .. })));
//! assert!(matches!(Xor::<f32>::from_bytes(&bytes[..20]), Err(ParamsError::Length { .. })));
//! ```

use core::fmt;

use crate::Scalar;
use crate::network::{Network, ParamIndex, locate_param};

/// The first four bytes of every serialised network.
pub const MAGIC: [u8; 4] = *b"BPRP";
/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Bytes of the header for a network of `layers` layers: magic, version, scalar tag, layer
/// count, and two `u32` per layer.
///
/// ```
/// assert_eq!(backprop_core::serialize::header_len(2), 24);
/// ```
pub const fn header_len(layers: usize) -> usize {
    8 + 8 * layers
}

/// Bytes of the trailing checksum.
pub const CHECKSUM_LEN: usize = 4;

/// Why parameters could not be written to or read from bytes.
///
/// ```
/// use backprop_core::ParamsError;
/// let e = ParamsError::Length { expected: 68, found: 20 };
/// assert_eq!(e.to_string(), "parameter bytes have the wrong length: expected 68 bytes, found 20");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamsError {
    /// Writing: the output buffer is smaller than [`ParamBytes::SERIALIZED_LEN`].
    BufferTooSmall {
        /// Bytes the network needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// Reading: the buffer is shorter or longer than this network's serialised form.
    Length {
        /// Bytes of this network's serialised form.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
    /// Reading: the buffer does not start with [`MAGIC`]; it is not a serialised network.
    Magic {
        /// The first four bytes found.
        found: [u8; 4],
    },
    /// Reading: a format version this crate does not read.
    Version {
        /// The version byte found.
        found: u8,
    },
    /// Reading: the parameters were written with another scalar type (for example `f64` weights
    /// loaded into an `f32` network).
    ScalarType {
        /// The tag of the network's scalar type.
        expected: u8,
        /// The tag in the header.
        found: u8,
    },
    /// Reading: the header describes a network with another number of layers.
    LayerCount {
        /// Layers of the network.
        expected: usize,
        /// Layers in the header.
        found: usize,
    },
    /// Reading: a layer of the header has another shape than the network's.
    LayerShape {
        /// The name of the network's layer.
        layer: &'static str,
        /// Its position, from `0` at the input.
        index: usize,
        /// The network's `(inputs, neurons)`.
        expected: (usize, usize),
        /// The header's `(inputs, neurons)`.
        found: (u32, u32),
    },
    /// Reading: the checksum does not match the bytes: they were corrupted.
    Checksum {
        /// The CRC-32 computed over the bytes.
        computed: u32,
        /// The CRC-32 stored in them.
        stored: u32,
    },
    /// Reading or writing: a parameter is infinite or NaN.
    NonFinite {
        /// Its index in [`Params::params`](crate::Params::params).
        index: usize,
        /// Its layer, row and column.
        param: Option<ParamIndex>,
    },
}

fn scalar_name(tag: u8) -> &'static str {
    match tag {
        4 => "f32",
        8 => "f64",
        _ => "an unknown scalar type",
    }
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BufferTooSmall { needed, available } => {
                write!(f, "buffer too small for the parameters: {needed} bytes needed, {available} available")
            }
            Self::Length { expected, found } => {
                write!(f, "parameter bytes have the wrong length: expected {expected} bytes, found {found}")
            }
            Self::Magic { found } => {
                // As one hex number (not `{:x?}`, whose `Debug` machinery costs firmware flash).
                write!(f, "not serialised network parameters: bad magic {:#010x}", u32::from_be_bytes(found))
            }
            Self::Version { found } => {
                write!(
                    f,
                    "unsupported parameter format version {found} (this build reads version {FORMAT_VERSION})"
                )
            }
            Self::ScalarType { expected, found } => write!(
                f,
                "parameters are {} (tag {found}) but the network computes in {} (tag {expected})",
                scalar_name(found),
                scalar_name(expected)
            ),
            Self::LayerCount { expected, found } => {
                write!(f, "parameters are for a network of {found} layers, this one has {expected}")
            }
            Self::LayerShape { layer, index, expected, found } => write!(
                f,
                "layer {index} (`{layer}`) is {}→{} in the parameters, {}→{} in the network",
                found.0, found.1, expected.0, expected.1
            ),
            Self::Checksum { computed, stored } => write!(
                f,
                "parameter bytes are corrupted: checksum {computed:#010x} does not match the stored {stored:#010x}"
            ),
            Self::NonFinite { index, param } => match param {
                Some(p) => write!(f, "parameter {index} ({p}) is not finite"),
                None => write!(f, "parameter {index} is not finite"),
            },
        }
    }
}

impl core::error::Error for ParamsError {}

/// CRC-32 (IEEE 802.3, reflected polynomial `0xEDB88320`, the checksum of zlib, PNG and
/// Ethernet), bit by bit: no table, so it costs a few dozen bytes of flash.
///
/// ```
/// assert_eq!(backprop_core::serialize::crc32(b"123456789"), 0xCBF4_3926);
/// ```
pub fn crc32(bytes: &[u8]) -> u32 {
    !crc32_update(!0, bytes)
}

fn crc32_update(mut crc: u32, bytes: &[u8]) -> u32 {
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    crc
}

/// Parameters to and from bytes, for every [`Network`] (implemented for all of them).
///
/// See the [module documentation](self) for the format and the guarantees.
pub trait ParamBytes<T: Scalar>: Network<T> {
    /// Bytes of the serialised form: header, parameters and checksum.
    const SERIALIZED_LEN: usize =
        header_len(Self::LAYERS.len()) + Self::LEN * core::mem::size_of::<T>() + CHECKSUM_LEN;

    /// Writes the parameters into the first [`SERIALIZED_LEN`](Self::SERIALIZED_LEN) bytes of
    /// `out` and returns that length. On error `out` is not modified.
    ///
    /// # Errors
    ///
    /// [`ParamsError::BufferTooSmall`] if `out` is too short; [`ParamsError::NonFinite`] if a
    /// parameter is infinite or NaN.
    fn to_bytes(&self, out: &mut [u8]) -> Result<usize, ParamsError> {
        let len = Self::SERIALIZED_LEN;
        let Some(out) = out.get_mut(..len) else {
            return Err(ParamsError::BufferTooSmall { needed: len, available: out.len() });
        };
        check_finite::<T, Self>(self.params().iter().copied())?;

        // `out` is exactly `SERIALIZED_LEN` bytes, so neither split fails; the checked forms keep
        // this function free of panic paths.
        let Some((header, rest)) = out.split_at_mut_checked(header_len(Self::LAYERS.len())) else {
            return Err(ParamsError::BufferTooSmall { needed: len, available: 0 });
        };
        write_header::<T, Self>(header);
        let Some((payload, checksum)) = rest.split_last_chunk_mut::<CHECKSUM_LEN>() else {
            return Err(ParamsError::BufferTooSmall { needed: len, available: 0 });
        };
        match T::TAG {
            4 => {
                let (chunks, _) = payload.as_chunks_mut::<4>();
                for (chunk, &p) in chunks.iter_mut().zip(self.params()) {
                    *chunk = (p.to_f64() as f32).to_le_bytes();
                }
            }
            _ => {
                let (chunks, _) = payload.as_chunks_mut::<8>();
                for (chunk, &p) in chunks.iter_mut().zip(self.params()) {
                    *chunk = p.to_f64().to_le_bytes();
                }
            }
        }
        let crc = crc32(header);
        let crc = !crc32_update(!crc, payload);
        *checksum = crc.to_le_bytes();
        Ok(len)
    }

    /// A network from serialised parameters, built on the stack (see
    /// [`load_bytes`](Self::load_bytes) to fill an existing network in place: one too large for
    /// the stack, or one that lives in a `static` cell).
    ///
    /// # Errors
    ///
    /// As [`load_bytes`](Self::load_bytes).
    fn from_bytes(bytes: &[u8]) -> Result<Self, ParamsError> {
        let mut net = Self::zeroed();
        net.load_bytes(bytes)?;
        Ok(net)
    }

    /// Replaces the parameters with those in `bytes`, after checking all of it: on error the
    /// network is unchanged.
    ///
    /// # Errors
    ///
    /// In the order checked: [`Length`](ParamsError::Length) when the buffer is too short for the
    /// part being read, [`Magic`](ParamsError::Magic), [`Version`](ParamsError::Version),
    /// [`ScalarType`](ParamsError::ScalarType), [`LayerCount`](ParamsError::LayerCount),
    /// [`LayerShape`](ParamsError::LayerShape), [`Length`](ParamsError::Length) when the total is
    /// not exactly [`SERIALIZED_LEN`](Self::SERIALIZED_LEN), [`Checksum`](ParamsError::Checksum),
    /// [`NonFinite`](ParamsError::NonFinite).
    fn load_bytes(&mut self, bytes: &[u8]) -> Result<(), ParamsError> {
        let payload = validate::<T, Self>(bytes)?;
        match T::TAG {
            4 => {
                let (chunks, _) = payload.as_chunks::<4>();
                let values = chunks.iter().map(|c| T::from_f64(f64::from(f32::from_le_bytes(*c))));
                check_finite::<T, Self>(values.clone())?;
                for (p, v) in self.params_mut().iter_mut().zip(values) {
                    *p = v;
                }
            }
            _ => {
                let (chunks, _) = payload.as_chunks::<8>();
                let values = chunks.iter().map(|c| T::from_f64(f64::from_le_bytes(*c)));
                check_finite::<T, Self>(values.clone())?;
                for (p, v) in self.params_mut().iter_mut().zip(values) {
                    *p = v;
                }
            }
        }
        Ok(())
    }
}

impl<T: Scalar, N: Network<T>> ParamBytes<T> for N {}

fn check_finite<T: Scalar, N: Network<T>>(values: impl Iterator<Item = T>) -> Result<(), ParamsError> {
    for (index, v) in values.enumerate() {
        if !v.is_finite() {
            return Err(ParamsError::NonFinite { index, param: locate_param(N::LAYERS, index) });
        }
    }
    Ok(())
}

fn saturating_u32(x: usize) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

/// Writes the header into `out`, which is exactly `header_len(N::LAYERS.len())` bytes.
fn write_header<T: Scalar, N: Network<T>>(out: &mut [u8]) {
    let Some((fixed, layers)) = out.split_first_chunk_mut::<8>() else { return };
    let count = u16::try_from(N::LAYERS.len()).unwrap_or(u16::MAX).to_le_bytes();
    *fixed = [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], FORMAT_VERSION, T::TAG, count[0], count[1]];
    let (chunks, _) = layers.as_chunks_mut::<8>();
    for (chunk, layer) in chunks.iter_mut().zip(N::LAYERS) {
        let (i, o) =
            (saturating_u32(layer.inputs).to_le_bytes(), saturating_u32(layer.outputs).to_le_bytes());
        *chunk = [i[0], i[1], i[2], i[3], o[0], o[1], o[2], o[3]];
    }
}

/// Checks everything but finiteness; returns the parameter bytes.
fn validate<T: Scalar, N: Network<T>>(bytes: &[u8]) -> Result<&[u8], ParamsError> {
    let expected_len = N::SERIALIZED_LEN;
    let short = ParamsError::Length { expected: expected_len, found: bytes.len() };
    let Some((fixed, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(match bytes.first_chunk::<4>() {
            Some(magic) if *magic != MAGIC => ParamsError::Magic { found: *magic },
            _ => short,
        });
    };
    let [m0, m1, m2, m3, version, tag, c0, c1] = *fixed;
    if [m0, m1, m2, m3] != MAGIC {
        return Err(ParamsError::Magic { found: [m0, m1, m2, m3] });
    }
    if version != FORMAT_VERSION {
        return Err(ParamsError::Version { found: version });
    }
    if tag != T::TAG {
        return Err(ParamsError::ScalarType { expected: T::TAG, found: tag });
    }
    let count = usize::from(u16::from_le_bytes([c0, c1]));
    if count != N::LAYERS.len() {
        return Err(ParamsError::LayerCount { expected: N::LAYERS.len(), found: count });
    }
    let Some(shapes) = rest.get(..8 * count) else { return Err(short) };
    let (shapes, _) = shapes.as_chunks::<8>();
    for (index, (shape, layer)) in shapes.iter().zip(N::LAYERS).enumerate() {
        let [i0, i1, i2, i3, o0, o1, o2, o3] = *shape;
        let found = (u32::from_le_bytes([i0, i1, i2, i3]), u32::from_le_bytes([o0, o1, o2, o3]));
        if found != (saturating_u32(layer.inputs), saturating_u32(layer.outputs)) {
            return Err(ParamsError::LayerShape {
                layer: layer.name,
                index,
                expected: (layer.inputs, layer.outputs),
                found,
            });
        }
    }
    if bytes.len() != expected_len {
        return Err(ParamsError::Length { expected: expected_len, found: bytes.len() });
    }
    let Some((body, stored)) = bytes.split_last_chunk::<CHECKSUM_LEN>() else { return Err(short) };
    let (computed, stored) = (crc32(body), u32::from_le_bytes(*stored));
    if computed != stored {
        return Err(ParamsError::Checksum { computed, stored });
    }
    Ok(body.get(header_len(count)..).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn crc32_check_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
        // Incremental equals one-shot.
        assert_eq!(!crc32_update(!crc32(b"12345"), b"6789"), crc32(b"123456789"));
    }

    #[test]
    fn messages_are_clear() {
        let shape = ParamsError::LayerShape { layer: "hidden", index: 0, expected: (3, 6), found: (3, 5) };
        assert_eq!(shape.to_string(), "layer 0 (`hidden`) is 3→5 in the parameters, 3→6 in the network");
        let scalar = ParamsError::ScalarType { expected: 4, found: 8 };
        assert_eq!(scalar.to_string(), "parameters are f64 (tag 8) but the network computes in f32 (tag 4)");
        let nan =
            ParamsError::NonFinite { index: 7, param: Some(ParamIndex::Bias { layer: "output", row: 0 }) };
        assert_eq!(nan.to_string(), "parameter 7 (output.b[0]) is not finite");
        assert_eq!(
            ParamsError::Magic { found: *b"abcd" }.to_string(),
            "not serialised network parameters: bad magic 0x61626364"
        );
        assert_eq!(
            ParamsError::Checksum { computed: 1, stored: 2 }.to_string(),
            "parameter bytes are corrupted: checksum 0x00000001 does not match the stored 0x00000002"
        );
        assert_eq!(
            ParamsError::Version { found: 9 }.to_string(),
            "unsupported parameter format version 9 (this build reads version 1)"
        );
        assert_eq!(
            ParamsError::BufferTooSmall { needed: 10, available: 3 }.to_string(),
            "buffer too small for the parameters: 10 bytes needed, 3 available"
        );
        assert_eq!(
            ParamsError::LayerCount { expected: 2, found: 3 }.to_string(),
            "parameters are for a network of 3 layers, this one has 2"
        );
    }
}
