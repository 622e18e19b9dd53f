//! Parameters to and from bytes: a fixed little-endian format with a header that describes the
//! network (scalar type, each layer's kind, sizes, parameter counts, geometry and activation, the
//! loss) and a checksum. `no_std`, no allocation, no panic.
//!
//! # Format (version 3, written and read)
//!
//! | offset | bytes | content |
//! |---|---|---|
//! | 0 | 4 | magic `b"BPRP"` |
//! | 4 | 1 | format version, `3` |
//! | 5 | 1 | scalar tag, [`Scalar::TAG`]: `4` for `f32`, `8` for `f64`, `0x51` for [`I16F16`](crate::I16F16) |
//! | 6 | 2 | number of layers `L`, `u16` |
//! | 8 | | `L` layer records, input to output, each: |
//! | | 1 | · the kind, [`LayerKind::tag`](crate::LayerKind::tag) (`1`: dense, `3`: 2-d convolution, ...) |
//! | | 4 | · inputs, `u32` (scalars of one sample) |
//! | | 4 | · outputs, `u32` (for a dense layer, its neurons) |
//! | | 4 | · weights, `u32`: the layer's first parameters ([`LayerInfo::weights`]) |
//! | | 4 | · biases, `u32`: its next ones ([`LayerInfo::biases`]) |
//! | | `4 g` | · the geometry ([`LayerInfo::geometry`]), `u32` each: the input's shape, the output's, the window's size along each spatial axis, its stride along each |
//! | | 1 | · the padding, [`PaddingKind::tag`](crate::layer::PaddingKind::tag) (`0` valid, `1` same) |
//! | | 1 + `n` | · the activation's name ([`Activation::NAME`](crate::Activation::NAME)): length `n`, `u8`, then `n` bytes of UTF-8 |
//! | | 1 + `m` | the loss's name ([`Network::LOSS`]): length `m`, `u8`, then `m` bytes |
//! | [`header_len`] | `PARAMS · size_of::<T>()` | the parameters in [`Params::params`](crate::Params::params) order (per layer: weights row by row, then biases), IEEE 754 |
//! | end - 4 | 4 | CRC-32 (IEEE 802.3, as zlib's `crc32`) of every byte before it |
//!
//! The kind fixes how many dimensions the geometry has (so the record does not repeat them): `g`
//! is `1 + 1` for a dense layer (`[inputs]`, `[outputs]`, no window), `3 + 3 + 2 + 2` for a 2-d
//! convolution or pool (`[C, H, W]`, `[F, HO, WO]`, `[K, K]`, `[S, S]`), `2 + 2 + 1 + 1` for a
//! 1-d one, `3 + 1 + 2 + 2` and `2 + 1 + 1 + 1` for the global pools (see
//! [`Geometry`](crate::layer::Geometry)).
//!
//! A layer record is 18 bytes plus its geometry's and its activation's name; the header of a
//! network is `8 + Σ (18 + 4 g + 1 + n) + 1 + m` bytes ([`header_len`], a `const fn`, so
//! [`SERIALIZED_LEN`](ParamBytes::SERIALIZED_LEN) is a constant): a dense layer's record is 27
//! bytes plus its activation's name. The weight and bias counts make the parameter layout
//! explicit for layer kinds whose counts do not follow from the shape alone. Names longer than
//! [`MAX_NAME_LEN`] bytes are recorded as their first `MAX_NAME_LEN` bytes.
//!
//! Reading checks every field against the network (a file of a 2-4-1 tanh network does not load
//! into a 2-4-1 sigmoid one, nor into one with another loss, nor a convolution's into one with
//! another kernel size, stride or padding) and names both sides in the error.
//!
//! # Format version 2 (read only)
//!
//! Written by builds before layers recorded their geometry: version byte `2`, and layer records
//! without the geometry and padding (18 bytes plus the activation's name; [`header_len_v2`]),
//! the rest as in version 3. Such a file loads into a network if everything it records matches
//! and every layer's geometry follows from its sizes, that is, is that of a dense layer
//! ([`Geometry::dense`](crate::layer::Geometry::dense)); for any other layer it is refused with
//! [`ParamsError::LayerGeometry`].
//!
//! # Format version 1 (read only)
//!
//! Written by builds before the layer trait: the same magic, scalar tag, layer count, parameters
//! and checksum, with version byte `1` and, per layer, only inputs and outputs (`u32` each):
//!
//! | offset | bytes | content |
//! |---|---|---|
//! | 0 | 4 | magic `b"BPRP"` |
//! | 4 | 1 | format version, `1` |
//! | 5 | 1 | scalar tag |
//! | 6 | 2 | number of layers `L`, `u16` |
//! | 8 | `8 L` | per layer, input to output: inputs `u32`, then neurons `u32` |
//! | `8 + 8 L` ([`header_len_v1`]) | `PARAMS · size_of::<T>()` | the parameters, as in version 3 |
//! | end - 4 | 4 | CRC-32 of every byte before it |
//!
//! Such a file loads if its scalar type, layer count and shapes match and every layer of the
//! network is dense (the only kind then). Its activations and loss are not recorded, so they
//! cannot be checked: a version-1 file of a 2-4-1 tanh network loads into a 2-4-1 sigmoid one.
//! Writing always writes version 3.
//!
//! Every integer and float is little-endian, on every target, so a file written on a host loads
//! on a big- or little-endian microcontroller alike.
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
//! // And a network with another activation or loss from this one.
//! network! {
//!     /// XOR with a sigmoid hidden layer.
//!     #[loss(HalfSquaredError)]
//!     pub struct Xor2 { input: 2, hidden: Dense<3, Sigmoid>, output: Dense<1, Sigmoid> }
//! }
//! let err = Xor2::<f32>::from_bytes(&bytes).unwrap_err();
//! assert_eq!(err.to_string(), "layer 0 (`hidden`) is Tanh in the parameters, Sigmoid in the network");
//! ```

mod error;
mod header;

pub use error::{HeaderName, ParamsError};

use crate::layer::locate_param;
use crate::network::Network;
use crate::{LayerInfo, Scalar};

/// The first four bytes of every serialised network.
pub const MAGIC: [u8; 4] = *b"BPRP";
/// The format version this crate writes.
pub const FORMAT_VERSION: u8 = 3;
/// The oldest format version this crate reads (it reads every version from this one to
/// [`FORMAT_VERSION`]).
pub const OLDEST_READ_VERSION: u8 = 1;
/// The longest name a header records, in bytes (its length is one byte); a longer activation or
/// loss name is recorded, and compared, as its first `MAX_NAME_LEN` bytes.
pub const MAX_NAME_LEN: usize = 255;

/// Bytes of the version-3 header for a network of these layers and this loss (magic, version,
/// scalar tag, layer count, a record per layer, the loss's name); a `const fn`, so that
/// [`ParamBytes::SERIALIZED_LEN`] is a constant for every network.
///
/// ```
/// use backprop_core::conv::{Conv2d, Valid};
/// use backprop_core::serialize::header_len;
/// use backprop_core::{Dense, LayerInfo, Relu, Sigmoid, Tanh};
/// const LAYERS: &[LayerInfo] = &[
///     LayerInfo::of::<f32, Dense<f32, 2, 3>, Tanh>("hidden"),
///     LayerInfo::of::<f32, Dense<f32, 3, 1>, Sigmoid>("output"),
/// ];
/// // 8 fixed, 27 + 4 ("Tanh") and 27 + 7 ("Sigmoid") for the layers, 1 + 18 for the loss.
/// assert_eq!(header_len(LAYERS, "BinaryCrossEntropy"), 8 + 31 + 34 + 19);
/// // A 2-d convolution's record: 18, 10 dimensions and the padding, then "Relu".
/// const CONV: &[LayerInfo] = &[LayerInfo::of::<f32, Conv2d<f32, Valid, 1, 5, 5, 2, 3, 1, 3, 3>, Relu>("c")];
/// assert_eq!(header_len(CONV, "HalfSquaredError"), 8 + (18 + 40 + 1 + 4) + 17);
/// ```
pub const fn header_len(layers: &[LayerInfo], loss: &str) -> usize {
    let mut len = header_len_v2(layers, loss);
    let mut rest = layers;
    while let [layer, tail @ ..] = rest {
        len += layer.geometry.encoded_len();
        rest = tail;
    }
    len
}

/// Bytes of the version-2 header for a network of these layers and this loss: that of version
/// 3 without the geometries.
///
/// ```
/// use backprop_core::serialize::header_len_v2;
/// use backprop_core::{Dense, LayerInfo, Sigmoid, Tanh};
/// const LAYERS: &[LayerInfo] = &[
///     LayerInfo::of::<f32, Dense<f32, 2, 3>, Tanh>("hidden"),
///     LayerInfo::of::<f32, Dense<f32, 3, 1>, Sigmoid>("output"),
/// ];
/// assert_eq!(header_len_v2(LAYERS, "BinaryCrossEntropy"), 8 + 22 + 25 + 19);
/// ```
pub const fn header_len_v2(layers: &[LayerInfo], loss: &str) -> usize {
    let mut len = 8 + 1 + header::recorded(loss).len();
    let mut rest = layers;
    while let [layer, tail @ ..] = rest {
        len += header::LAYER_RECORD_LEN + header::recorded(layer.activation).len();
        rest = tail;
    }
    len
}

/// Bytes of the version-1 header for a network of `layers` layers: magic, version, scalar tag,
/// layer count, and two `u32` per layer.
///
/// ```
/// assert_eq!(backprop_core::serialize::header_len_v1(2), 24);
/// ```
pub const fn header_len_v1(layers: usize) -> usize {
    8 + 8 * layers
}

/// Bytes of the trailing checksum.
pub const CHECKSUM_LEN: usize = 4;

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
    /// Bytes of the serialised form (version 3): header, parameters and checksum. A version-2
    /// or version-1 file of the same network, which [`load_bytes`](Self::load_bytes) also reads,
    /// has the header of [`header_len_v2`] or [`header_len_v1`] bytes instead.
    const SERIALIZED_LEN: usize =
        header_len(Self::LAYERS, Self::LOSS) + Self::LEN * core::mem::size_of::<T>() + CHECKSUM_LEN;

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
        let Some((header, rest)) = out.split_at_mut_checked(const { header_len(Self::LAYERS, Self::LOSS) })
        else {
            return Err(ParamsError::BufferTooSmall { needed: len, available: 0 });
        };
        header::write_header::<T, Self>(header);
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
            8 => {
                let (chunks, _) = payload.as_chunks_mut::<8>();
                for (chunk, &p) in chunks.iter_mut().zip(self.params()) {
                    *chunk = p.to_f64().to_le_bytes();
                }
            }
            _ => {
                // Fixed point (`I16F16`): the raw bits, exact both ways.
                let (chunks, _) = payload.as_chunks_mut::<4>();
                for (chunk, &p) in chunks.iter_mut().zip(self.params()) {
                    *chunk = fixed_bits(p).to_le_bytes();
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
    /// [`ScalarType`](ParamsError::ScalarType), [`LayerCount`](ParamsError::LayerCount), then
    /// layer by layer [`LayerKind`](ParamsError::LayerKind),
    /// [`LayerShape`](ParamsError::LayerShape), [`LayerParams`](ParamsError::LayerParams),
    /// [`LayerGeometry`](ParamsError::LayerGeometry) and
    /// [`Activation`](ParamsError::Activation), then [`Loss`](ParamsError::Loss),
    /// [`Length`](ParamsError::Length) when the total is not exactly that of the file's version
    /// ([`SERIALIZED_LEN`](Self::SERIALIZED_LEN) for version 3),
    /// [`Checksum`](ParamsError::Checksum), [`NonFinite`](ParamsError::NonFinite). A version-2
    /// file has no geometries (it loads into layers whose geometry is dense); a version-1 file
    /// has shapes only: the kinds (all dense), activations and loss are not checked.
    fn load_bytes(&mut self, bytes: &[u8]) -> Result<(), ParamsError> {
        let payload = header::validate::<T, Self>(bytes)?;
        match T::TAG {
            4 => {
                let (chunks, _) = payload.as_chunks::<4>();
                let values = chunks.iter().map(|c| T::from_f64(f64::from(f32::from_le_bytes(*c))));
                check_finite::<T, Self>(values.clone())?;
                for (p, v) in self.params_mut().iter_mut().zip(values) {
                    *p = v;
                }
            }
            8 => {
                let (chunks, _) = payload.as_chunks::<8>();
                let values = chunks.iter().map(|c| T::from_f64(f64::from_le_bytes(*c)));
                check_finite::<T, Self>(values.clone())?;
                for (p, v) in self.params_mut().iter_mut().zip(values) {
                    *p = v;
                }
            }
            _ => {
                let (chunks, _) = payload.as_chunks::<4>();
                let values = chunks.iter().map(|c| T::from_f64(f64::from(i32::from_le_bytes(*c)) / 65536.0));
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

/// The bits of a fixed-point parameter ([`I16F16`](crate::I16F16), the only scalar with a tag
/// other than 4 and 8): its value times 2¹⁶, exact.
#[inline]
fn fixed_bits<T: Scalar>(p: T) -> i32 {
    (p.to_f64() * 65536.0) as i32
}

fn check_finite<T: Scalar, N: Network<T>>(values: impl Iterator<Item = T>) -> Result<(), ParamsError> {
    for (index, v) in values.enumerate() {
        if !v.is_finite() {
            return Err(ParamsError::NonFinite { index, param: locate_param(N::LAYERS, index) });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
    fn a_long_loss_name_is_recorded_cut_like_an_activation_name() {
        // Generated networks' losses are the built-in ones; a hand-written `Network` may name any.
        let long = "x".repeat(300);
        assert_eq!(header_len(&[], &long), 8 + 1 + MAX_NAME_LEN);
        assert_eq!(header::recorded(&long).len(), MAX_NAME_LEN);
    }
}
