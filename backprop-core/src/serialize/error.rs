//! Why parameters could not be written or read ([`ParamsError`]), and the fixed-capacity copy of a
//! name read from a header that some of its variants carry ([`HeaderName`]).

use core::fmt;

use super::{FORMAT_VERSION, MAX_NAME_LEN, OLDEST_READ_VERSION};
use crate::LayerKind;
use crate::layer::{Geometry, ParamIndex};

/// A name as a serialised header records it (an activation's or a loss's), copied out of the
/// bytes without allocating: its first [`CAPACITY`](Self::CAPACITY) bytes and its recorded length.
///
/// The bytes need not be UTF-8 (they come from a file that may be corrupted): `Display` writes
/// the valid parts as text, every invalid byte as `\xNN`, and `…` when the name was longer than
/// the copy.
///
/// ```
/// use backprop_core::serialize::HeaderName;
/// let name = HeaderName::new(b"Tanh");
/// assert_eq!((name.as_bytes(), name.as_str(), name.len()), (&b"Tanh"[..], Some("Tanh"), 4));
/// assert_eq!(name.to_string(), "Tanh");
/// assert_eq!(HeaderName::new(b"Re\xFFlu").to_string(), "Re\\xfflu");
/// let long = HeaderName::new(&[b'a'; 40]);
/// assert!(long.is_truncated());
/// assert_eq!(long.to_string(), format!("{}…", "a".repeat(32)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderName {
    /// The first `stored` bytes of the name; zero after them (so that `==` compares names).
    bytes: [u8; HeaderName::CAPACITY],
    /// How many of `bytes` hold the name.
    stored: u8,
    /// The name's length in the header (at most [`MAX_NAME_LEN`]).
    len: u8,
}

impl HeaderName {
    /// Bytes of a name kept: enough for every activation and loss of this crate (the longest,
    /// `"SoftmaxCrossEntropy"`, has 19), while keeping [`ParamsError`] small and `Copy`.
    pub const CAPACITY: usize = 32;

    /// The copy of `name` (its first [`MAX_NAME_LEN`] bytes, as a header would record them).
    pub fn new(name: &[u8]) -> Self {
        let recorded = name.get(..MAX_NAME_LEN).unwrap_or(name);
        Self::of_header(u8::try_from(recorded.len()).unwrap_or(u8::MAX), recorded)
    }

    /// The name of length `len` in a header, of which `available` holds the first bytes (fewer
    /// than `len` when the header was cut short or its length byte is damaged).
    pub(crate) fn of_header(len: u8, available: &[u8]) -> Self {
        let kept = available.get(..usize::from(len)).unwrap_or(available);
        let kept = kept.get(..Self::CAPACITY).unwrap_or(kept);
        let mut bytes = [0; Self::CAPACITY];
        for (b, &a) in bytes.iter_mut().zip(kept) {
            *b = a;
        }
        Self { bytes, stored: u8::try_from(kept.len()).unwrap_or(u8::MAX), len }
    }

    /// The bytes kept: the whole name unless it [is truncated](Self::is_truncated).
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.stored)).unwrap_or(&self.bytes)
    }

    /// The bytes kept, if they are UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(self.as_bytes()).ok()
    }

    /// The name's length as the header records it, which can exceed the bytes kept.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the header records an empty name.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether fewer bytes are kept than the header's length says.
    pub fn is_truncated(&self) -> bool {
        self.stored < self.len
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.as_bytes().utf8_chunks() {
            f.write_str(chunk.valid())?;
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        if self.is_truncated() { f.write_str("…") } else { Ok(()) }
    }
}

impl fmt::Debug for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HeaderName(\"{self}\")")
    }
}

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
    /// Writing: the output buffer is smaller than
    /// [`ParamBytes::SERIALIZED_LEN`](super::ParamBytes::SERIALIZED_LEN).
    BufferTooSmall {
        /// Bytes the network needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// Reading: the buffer is shorter or longer than this network's serialised form (in the
    /// format version of its header; the current one when the header is cut short).
    Length {
        /// Bytes of this network's serialised form.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
    /// Reading: the buffer does not start with [`MAGIC`](super::MAGIC); it is not a serialised
    /// network.
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
    /// Reading: a layer of the header is of another kind than the network's (its
    /// [`LayerKind::tag`], which may be one this build does not know). A version-1 header
    /// records no kind; its layers are all dense.
    LayerKind {
        /// The name of the network's layer.
        layer: &'static str,
        /// Its position, from `0` at the input.
        index: usize,
        /// The network's kind.
        expected: LayerKind,
        /// The kind tag in the header.
        found: u8,
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
    /// Reading: a layer of the header has as many inputs and outputs as the network's but
    /// another number of weights or biases (another layout of its parameters).
    LayerParams {
        /// The name of the network's layer.
        layer: &'static str,
        /// Its position, from `0` at the input.
        index: usize,
        /// The network's `(weights, biases)`.
        expected: (usize, usize),
        /// The header's `(weights, biases)`.
        found: (u32, u32),
    },
    /// Reading: a layer of the header has the network's kind, sizes and parameter counts but
    /// another geometry (shapes, window, stride or padding: a 3×3 kernel's weights read as a
    /// 1×9 one's), or none that can be read (a version-2 header records none, which only a
    /// layer of dense geometry can do without).
    LayerGeometry {
        /// The name of the network's layer.
        layer: &'static str,
        /// Its position, from `0` at the input.
        index: usize,
        /// The network's geometry (in its [`LAYERS`](crate::Network::LAYERS)).
        expected: &'static Geometry,
        /// The header's; `None` when it records none (version 2) or an unknown padding tag.
        found: Option<Geometry>,
    },
    /// Reading: a layer of the header has another activation than the network's.
    Activation {
        /// The name of the network's layer.
        layer: &'static str,
        /// Its position, from `0` at the input.
        index: usize,
        /// The network's activation ([`Activation::NAME`](crate::Activation::NAME)).
        expected: &'static str,
        /// The header's.
        found: HeaderName,
    },
    /// Reading: the header was written from a network with another loss.
    Loss {
        /// The network's loss ([`Network::LOSS`](crate::Network::LOSS)).
        expected: &'static str,
        /// The header's.
        found: HeaderName,
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

impl ParamsError {
    /// The variant's name, for reports that cannot afford the full message: its `Display`
    /// (numbers, names, both sides) links about 2 KiB of formatting code into a firmware.
    ///
    /// ```
    /// use backprop_core::ParamsError;
    /// assert_eq!(ParamsError::Checksum { computed: 1, stored: 2 }.name(), "Checksum");
    /// ```
    pub const fn name(&self) -> &'static str {
        match self {
            Self::BufferTooSmall { .. } => "BufferTooSmall",
            Self::Length { .. } => "Length",
            Self::Magic { .. } => "Magic",
            Self::Version { .. } => "Version",
            Self::ScalarType { .. } => "ScalarType",
            Self::LayerCount { .. } => "LayerCount",
            Self::LayerKind { .. } => "LayerKind",
            Self::LayerShape { .. } => "LayerShape",
            Self::LayerParams { .. } => "LayerParams",
            Self::LayerGeometry { .. } => "LayerGeometry",
            Self::Activation { .. } => "Activation",
            Self::Loss { .. } => "Loss",
            Self::Checksum { .. } => "Checksum",
            Self::NonFinite { .. } => "NonFinite",
        }
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
            Self::Version { found } => write!(
                f,
                "unsupported parameter format version {found} (this build reads versions \
                 {OLDEST_READ_VERSION} to {FORMAT_VERSION})"
            ),
            Self::ScalarType { expected, found } => write!(
                f,
                "parameters are {} (tag {found}) but the network computes in {} (tag {expected})",
                scalar_name(found),
                scalar_name(expected)
            ),
            Self::LayerCount { expected, found } => {
                write!(f, "parameters are for a network of {found} layers, this one has {expected}")
            }
            Self::LayerKind { layer, index, expected, found } => {
                write!(f, "layer {index} (`{layer}`) is ")?;
                match LayerKind::from_tag(found) {
                    Some(kind) => write!(f, "{kind}")?,
                    None => write!(f, "of kind tag {found}, unknown to this build,")?,
                }
                write!(f, " in the parameters, {expected} in the network")
            }
            Self::LayerShape { layer, index, expected, found } => write!(
                f,
                "layer {index} (`{layer}`) is {}→{} in the parameters, {}→{} in the network",
                found.0, found.1, expected.0, expected.1
            ),
            Self::LayerParams { layer, index, expected, found } => write!(
                f,
                "layer {index} (`{layer}`) has {} weights and {} biases in the parameters, {} and {} \
                 in the network",
                found.0, found.1, expected.0, expected.1
            ),
            Self::LayerGeometry { layer, index, expected, found } => match found {
                Some(found) => {
                    write!(
                        f,
                        "layer {index} (`{layer}`) is {found} in the parameters, {expected} in the network"
                    )
                }
                None => write!(
                    f,
                    "layer {index} (`{layer}`) is {expected} in the network, and the parameters record no \
                     readable geometry for it (version 2 records none)"
                ),
            },
            Self::Activation { layer, index, expected, found } => {
                write!(f, "layer {index} (`{layer}`) is {found} in the parameters, {expected} in the network")
            }
            Self::Loss { expected, found } => {
                write!(f, "parameters are of a network with loss {found}, this one has {expected}")
            }
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

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

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
            "unsupported parameter format version 9 (this build reads versions 1 to 3)"
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

    #[test]
    fn messages_name_both_sides() {
        let activation = ParamsError::Activation {
            layer: "hidden",
            index: 0,
            expected: "Sigmoid",
            found: HeaderName::new(b"Tanh"),
        };
        assert_eq!(
            activation.to_string(),
            "layer 0 (`hidden`) is Tanh in the parameters, Sigmoid in the network"
        );
        let kind = ParamsError::LayerKind { layer: "conv", index: 1, expected: LayerKind::Dense, found: 200 };
        assert_eq!(
            kind.to_string(),
            "layer 1 (`conv`) is of kind tag 200, unknown to this build, in the parameters, Dense in the network"
        );
        let dense = ParamsError::LayerKind { layer: "a", index: 0, expected: LayerKind::Dense, found: 1 };
        assert_eq!(dense.to_string(), "layer 0 (`a`) is Dense in the parameters, Dense in the network");
        let params = ParamsError::LayerParams { layer: "a", index: 2, expected: (12, 4), found: (12, 3) };
        assert_eq!(
            params.to_string(),
            "layer 2 (`a`) has 12 weights and 3 biases in the parameters, 12 and 4 in the network"
        );
        const CONV: Geometry = Geometry::sliding::<crate::conv::Valid>(&[1, 6, 6], &[2, 4, 4], 3, 1);
        let other = Geometry::sliding::<crate::conv::Same>(&[1, 6, 6], &[2, 4, 4], 3, 1);
        let geometry =
            ParamsError::LayerGeometry { layer: "c", index: 0, expected: &CONV, found: Some(other) };
        assert_eq!(
            geometry.to_string(),
            "layer 0 (`c`) is 1×6×6→2×4×4 (kernel 3×3, stride 1×1, same) in the parameters, \
             1×6×6→2×4×4 (kernel 3×3, stride 1×1, valid) in the network"
        );
        let none = ParamsError::LayerGeometry { layer: "c", index: 2, expected: &CONV, found: None };
        assert_eq!(
            none.to_string(),
            "layer 2 (`c`) is 1×6×6→2×4×4 (kernel 3×3, stride 1×1, valid) in the network, and the \
             parameters record no readable geometry for it (version 2 records none)"
        );
        let loss = ParamsError::Loss {
            expected: "SoftmaxCrossEntropy",
            found: HeaderName::new(b"HalfSquaredError"),
        };
        assert_eq!(
            loss.to_string(),
            "parameters are of a network with loss HalfSquaredError, this one has SoftmaxCrossEntropy"
        );
    }

    #[test]
    fn header_names_keep_what_fits_and_show_what_they_are() {
        let empty = HeaderName::new(b"");
        assert!(empty.is_empty() && !empty.is_truncated());
        assert_eq!(empty.to_string(), "");
        // A name cut short by the end of the buffer, and one longer than the copy.
        let cut = HeaderName::of_header(10, b"Sig");
        assert_eq!((cut.as_bytes(), cut.len(), cut.to_string()), (&b"Sig"[..], 10, "Sig…".to_string()));
        let long = HeaderName::new(&[b'x'; 300]);
        assert_eq!((long.len(), long.as_bytes().len()), (MAX_NAME_LEN, HeaderName::CAPACITY));
        // Equal names compare equal whatever the bytes were read from.
        assert_eq!(HeaderName::of_header(4, b"Tanh and more"), HeaderName::new(b"Tanh"));
        assert_eq!(HeaderName::new(b"\xC3\xA9t\xC3").to_string(), "ét\\xc3");
        assert_eq!(std::format!("{:?}", HeaderName::new(b"Relu")), "HeaderName(\"Relu\")");
        assert!(core::mem::size_of::<ParamsError>() <= 80, "{}", core::mem::size_of::<ParamsError>());
    }
}
