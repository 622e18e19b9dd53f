//! Why a safetensors file could not be read into, or written from, a network.

use core::fmt;

use super::dtype::Dtype;
use crate::serialize::HeaderName;

/// A tensor's dimensions as a header gives them: the first [`Dims::CAPACITY`] kept, and the rank.
///
/// ```
/// use backprop_core::safetensors::Dims;
/// let dims = Dims::new(&[32, 64]);
/// assert_eq!((dims.as_slice(), dims.rank(), dims.to_string()), (&[32, 64][..], 2, "[32, 64]".to_string()));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dims {
    dims: [u64; Dims::CAPACITY],
    rank: usize,
}

impl Dims {
    /// Dimensions kept (a higher rank is recorded, and shown with `…`).
    pub const CAPACITY: usize = 4;
    /// A scalar's: rank 0.
    pub const EMPTY: Self = Self { dims: [0; Self::CAPACITY], rank: 0 };

    /// The dimensions `dims`.
    pub fn new(dims: &[u64]) -> Self {
        let mut out = Self::EMPTY;
        for &d in dims {
            out.push(d);
        }
        out
    }

    pub(crate) fn push(&mut self, dim: u64) {
        if let Some(slot) = self.dims.get_mut(self.rank) {
            *slot = dim;
        }
        self.rank = self.rank.saturating_add(1);
    }

    /// The dimensions kept: all of them unless the rank is above [`CAPACITY`](Self::CAPACITY).
    pub fn as_slice(&self) -> &[u64] {
        self.dims.get(..self.rank).unwrap_or(&self.dims)
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.rank
    }
}

impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in (0..self.rank).zip(self.as_slice()) {
            write!(f, "{}{d}", if i == 0 { "" } else { ", " })?;
        }
        f.write_str(if self.rank > Self::CAPACITY { ", …]" } else { "]" })
    }
}

impl fmt::Debug for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dims({self})")
    }
}

/// What is wrong at a place in the JSON header ([`SafetensorsError::Header`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Syntax {
    /// The header does not start with `{` (the format allows nothing before it).
    HeaderObject,
    /// Something other than spaces after the header's object.
    TrailingBytes,
    /// Not UTF-8.
    Utf8,
    /// A string was expected.
    String,
    /// The header ends inside a string.
    UnterminatedString,
    /// A backslash escape that JSON does not have, or a lone surrogate.
    Escape,
    /// A control character inside a string (JSON requires it escaped).
    ControlCharacter,
    /// A `:` was expected.
    Colon,
    /// A `,` or `}` was expected.
    CommaOrBrace,
    /// A `,` or `]` was expected.
    CommaOrBracket,
    /// `__metadata__` is not an object (`null` included).
    MetadataObject,
    /// A metadata value is not a string.
    MetadataValue,
    /// A tensor is not an object.
    TensorObject,
    /// A tensor lacks `dtype`, `shape` or `data_offsets`.
    MissingField,
    /// A tensor has a field other than `dtype`, `shape` and `data_offsets`.
    UnknownField,
    /// A tensor has a field twice.
    DuplicateField,
    /// A `dtype` that the format does not define.
    UnknownDtype,
    /// `shape` is not an array.
    ShapeArray,
    /// `data_offsets` is not an array of two integers.
    OffsetsArray,
    /// An unsigned integer was expected (no sign, fraction or exponent).
    UnsignedInteger,
    /// An integer with a leading zero.
    LeadingZero,
    /// An integer, or a shape's element count, above `u64::MAX`.
    IntegerTooLarge,
}

impl Syntax {
    fn describe(self) -> &'static str {
        match self {
            Self::HeaderObject => "the header must start with `{`",
            Self::TrailingBytes => "only spaces may follow the header's object",
            Self::Utf8 => "the header is not UTF-8",
            Self::String => "expected a string",
            Self::UnterminatedString => "unterminated string",
            Self::Escape => "invalid escape",
            Self::ControlCharacter => "unescaped control character in a string",
            Self::Colon => "expected `:`",
            Self::CommaOrBrace => "expected `,` or `}`",
            Self::CommaOrBracket => "expected `,` or `]`",
            Self::MetadataObject => "`__metadata__` must be an object of strings",
            Self::MetadataValue => "metadata values must be strings",
            Self::TensorObject => "a tensor must be an object",
            Self::MissingField => "a tensor needs `dtype`, `shape` and `data_offsets`",
            Self::UnknownField => "a tensor has only `dtype`, `shape` and `data_offsets`",
            Self::DuplicateField => "a field appears twice",
            Self::UnknownDtype => "unknown dtype",
            Self::ShapeArray => "`shape` must be an array of integers",
            Self::OffsetsArray => "`data_offsets` must be an array of two integers",
            Self::UnsignedInteger => "expected an unsigned integer",
            Self::LeadingZero => "an integer with a leading zero",
            Self::IntegerTooLarge => "an integer (or a shape's element count) above 2^64 - 1",
        }
    }
}

/// Why a safetensors file could not be read into a network, or a network written as one.
///
/// Tensor names are kept up to [`HeaderName::CAPACITY`] bytes (shown with `…` beyond).
///
/// ```
/// use backprop_core::safetensors::{Dims, SafetensorsError};
/// use backprop_core::serialize::HeaderName;
/// let e = SafetensorsError::Shape {
///     tensor: HeaderName::new(b"hidden.weight"),
///     file: Dims::new(&[16, 3]),
///     network: Dims::new(&[16, 4]),
/// };
/// assert_eq!(e.to_string(), "tensor `hidden.weight` has shape [16, 3] in the file, [16, 4] in the network");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SafetensorsError {
    /// Fewer bytes than the 8 of the header's length, or than the length says.
    Truncated {
        /// Bytes the header's length asks for (8 when even that is missing).
        needed: u64,
        /// Bytes given.
        available: usize,
    },
    /// The header's length is above [`MAX_HEADER_LEN`](super::MAX_HEADER_LEN).
    HeaderTooLarge {
        /// The length found.
        len: u64,
    },
    /// The JSON header is malformed at byte `offset` of the header (from its `{`).
    Header {
        /// Where, in bytes from the start of the header's JSON text.
        offset: usize,
        /// What is wrong there.
        what: Syntax,
    },
    /// More tensors than [`SafeTensors::parse`](super::SafeTensors::parse) checks: above
    /// [`MAX_TENSORS`](super::MAX_TENSORS), or above [`MAX_SCAN`](super::MAX_SCAN) divided by the
    /// header's length.
    TooManyTensors {
        /// The limit for this header.
        max: usize,
    },
    /// Two tensors have the same name.
    DuplicateTensor {
        /// The name.
        tensor: HeaderName,
    },
    /// A tensor's `data_offsets` are reversed or reach past the data.
    Offsets {
        /// The tensor.
        tensor: HeaderName,
        /// Its offsets.
        begin: u64,
        /// Its end offset.
        end: u64,
        /// Bytes of data after the header.
        data: usize,
    },
    /// A tensor's bytes are not its element count times its element size.
    Size {
        /// The tensor.
        tensor: HeaderName,
        /// Bytes its shape and dtype need.
        expected: u64,
        /// Bytes its offsets span.
        found: u64,
    },
    /// Two tensors' bytes overlap.
    Overlap {
        /// One tensor.
        first: HeaderName,
        /// The other.
        second: HeaderName,
    },
    /// Bytes of the data that no tensor covers (the format has no gaps or trailing bytes).
    Unindexed {
        /// Bytes the tensors cover.
        covered: u64,
        /// Bytes of data after the header.
        data: usize,
    },
    /// A tensor that the network needs is not in the file.
    MissingTensor {
        /// The name the network looked for.
        tensor: HeaderName,
        /// The layer it belongs to.
        layer: &'static str,
    },
    /// A tensor of the file that no parameter of the network takes.
    ExtraTensor {
        /// The tensor.
        tensor: HeaderName,
    },
    /// A tensor's shape is not the network's.
    Shape {
        /// The tensor.
        tensor: HeaderName,
        /// Its shape in the file.
        file: Dims,
        /// The shape the network expects.
        network: Dims,
    },
    /// A tensor's element type does not convert to the network's scalar.
    Dtype {
        /// The tensor.
        tensor: HeaderName,
        /// Its element type.
        dtype: Dtype,
    },
    /// A value is infinite or NaN (in the file, or after rounding to the network's scalar).
    NonFinite {
        /// The tensor (its name in the file; when writing, the name it would have).
        tensor: HeaderName,
        /// The element's index in the tensor's row-major order.
        index: usize,
    },
    /// A naming gives another number of layers than the network has.
    NamingLength {
        /// Layers of the network.
        expected: usize,
        /// Layers the naming describes.
        found: usize,
    },
    /// Writing: the buffer is shorter than the file.
    BufferTooSmall {
        /// Bytes of the file.
        needed: usize,
        /// Bytes of the buffer.
        available: usize,
    },
}

impl fmt::Display for SafetensorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, available } => {
                write!(f, "safetensors file cut short: {needed} bytes needed, {available} given")
            }
            Self::HeaderTooLarge { len } => {
                write!(f, "safetensors header of {len} bytes is above the limit of {}", super::MAX_HEADER_LEN)
            }
            Self::Header { offset, what } => {
                write!(f, "safetensors header, byte {offset}: {}", what.describe())
            }
            Self::TooManyTensors { max } => write!(f, "more than {max} tensors in the file"),
            Self::DuplicateTensor { tensor } => write!(f, "tensor `{tensor}` appears twice"),
            Self::Offsets { tensor, begin, end, data } => write!(
                f,
                "tensor `{tensor}` has data_offsets [{begin}, {end}], outside the {data} bytes of data"
            ),
            Self::Size { tensor, expected, found } => {
                write!(f, "tensor `{tensor}` spans {found} bytes, but its shape and dtype need {expected}")
            }
            Self::Overlap { first, second } => write!(f, "tensors `{first}` and `{second}` overlap"),
            Self::Unindexed { covered, data } => {
                write!(f, "the tensors cover {covered} of the {data} bytes of data")
            }
            Self::MissingTensor { tensor, layer } => {
                write!(f, "tensor `{tensor}` (layer `{layer}`) is not in the file")
            }
            Self::ExtraTensor { tensor } => {
                write!(f, "tensor `{tensor}` is not a parameter of the network")
            }
            Self::Shape { tensor, file, network } => {
                write!(f, "tensor `{tensor}` has shape {file} in the file, {network} in the network")
            }
            Self::Dtype { tensor, dtype } => write!(
                f,
                "tensor `{tensor}` is {dtype}, which does not load into a network (F64, F32, F16 or BF16 do)"
            ),
            Self::NonFinite { tensor, index } => write!(
                f,
                "tensor `{tensor}` has a non-finite value at element {index} (or one that overflows the network's scalar)"
            ),
            Self::NamingLength { expected, found } => {
                write!(f, "the naming describes {found} layers, the network has {expected}")
            }
            Self::BufferTooSmall { needed, available } => {
                write!(f, "buffer of {available} bytes is too small for the {needed}-byte file")
            }
        }
    }
}

impl core::error::Error for SafetensorsError {}
