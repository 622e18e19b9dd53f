//! Parameters to and from [safetensors](https://huggingface.co/docs/safetensors), the file
//! format of PyTorch, JAX/Flax and the Hugging Face hub: `no_std`, no allocation, no panic, no
//! dependency.
//!
//! A network reads its parameters from a file's bytes ([`Safetensors::load_safetensors`]) and
//! writes them as one ([`Safetensors::write_safetensors`], or `to_safetensors` into a `Vec` with
//! `alloc`); [`Naming`] says which tensor is which layer's weight or bias, in PyTorch's layout
//! (`[out, in]`, a convolution's `[F, C, K, K]`, as ours) or Flax's (channels-last: `[in, out]`,
//! `[K, K, C, F]`), with the kernel shapes of each layer's [`Geometry`](crate::layer::Geometry).
//! Pooling layers have no tensors. Tensors of type `F64`, `F32`, `F16` and `BF16`
//! load into `f32`, `f64` and [`I16F16`](crate::I16F16) networks: widening is exact, narrowing
//! rounds to nearest (and, in fixed point, saturates). A network writes its own scalar type;
//! a fixed-point network writes `F64` (8 bytes a value, every value exact), there being no
//! safetensors dtype for fixed point. A whole file can also be checked and read tensor by tensor
//! ([`SafeTensors`]), which is what the `network!` macro does to bake a file into flash at compile
//! time.
//!
//! ```
//! use backprop::{network, Naming, Safetensors};
//!
//! network! {
//!     /// XOR.
//!     #[loss(BinaryCrossEntropy)]
//!     pub struct Xor { input: 2, hidden: Dense<4, Tanh>, output: Dense<1, Sigmoid> }
//! }
//!
//! let mut net = Xor::<f32>::zeroed();
//! net.hidden.w[1][0] = 0.5;
//! let mut file = [0u8; 512];
//! let len = net.write_safetensors(Naming::Layers, &mut file).unwrap();
//! assert_eq!(len, Xor::<f32>::safetensors_len(Naming::Layers).unwrap());
//!
//! // Read back into an f64 network (exact), here as PyTorch would name the tensors of a
//! // module with attributes `hidden` and `output`.
//! let mut wide = Xor::<f64>::zeroed();
//! wide.load_safetensors(&file[..len], Naming::Layers).unwrap();
//! assert_eq!(wide.hidden.w[1][0], 0.5);
//!
//! // A file of another network is an error that names the tensor, and changes nothing.
//! let err = wide.load_safetensors(&file[..len], Naming::Sequential).unwrap_err();
//! assert_eq!(err.to_string(), "tensor `hidden.weight` is not a parameter of the network");
//! assert_eq!(wide.hidden.w[1][0], 0.5);
//! ```
//!
//! # Strictness
//!
//! Reading checks the whole file before it writes anything, so on an error the network is left
//! exactly as it was: the header's length and JSON, every tensor's type, shape and offsets, that
//! the tensors neither overlap nor leave bytes uncovered, that the file has exactly the network's
//! tensors, and that every value is finite in the network's scalar type. Where Python's
//! `safetensors` package (0.8) is lenient, this reader follows the format and rejects: whitespace
//! before the header's `{`, unknown fields in a tensor, a `null` `__metadata__`, and duplicate
//! tensor names (the package keeps the last). Headers are limited to [`MAX_HEADER_LEN`] bytes (as
//! the Rust crate `safetensors`) and, for [`SafeTensors::parse`], to [`MAX_TENSORS`] tensors (the
//! checks that tensors do not overlap or repeat compare every pair, without allocating).
//!
//! Writing produces what `safetensors.numpy.save_file` reads: a header padded with spaces to a
//! multiple of 8 bytes, `__metadata__` `{"format": "pt"}` (`"flax"` for [`Naming::Flax`]), the
//! tensors in layer order, weight before bias. A non-finite parameter is an error.

mod dtype;
mod error;
mod json;
mod load;
mod naming;
mod write;

pub use dtype::Dtype;
pub use error::{Dims, SafetensorsError, Syntax};
pub use json::JsonStr;
pub use naming::{LayerNames, MAX_SEQUENTIAL_LAYERS, Naming};

use crate::Scalar;
use crate::network::Network;
use json::{Entries, Entry};

/// The longest header read, in bytes (100 MB, the limit of the Rust crate `safetensors`).
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// The most tensors [`SafeTensors::parse`] checks (the pairwise checks are quadratic, see
/// [`MAX_SCAN`]). Loading into a network stops earlier, at the first tensor the network does not
/// have.
pub const MAX_TENSORS: usize = 1024;

/// Bytes of header [`SafeTensors::parse`] may walk in its pairwise checks (one walk per tensor):
/// a header of `h` bytes may describe at most `MAX_SCAN / h` tensors (and [`MAX_TENSORS`]).
pub const MAX_SCAN: u64 = 1 << 28;

/// A checked safetensors file: its header and data, borrowed.
///
/// ```
/// use backprop_core::safetensors::{Dtype, SafeTensors};
/// // Header length 64, a header padded with spaces, then one F32 tensor [1, 2].
/// let header = br#"{"w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}"#;
/// let mut file = Vec::from(64u64.to_le_bytes());
/// file.extend(header);
/// file.resize(8 + 64, b' ');
/// file.extend([1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()));
///
/// let st = SafeTensors::parse(&file).unwrap();
/// let w = st.tensor("w").unwrap();
/// assert_eq!((w.dtype(), w.shape().as_slice(), w.value(1)), (Dtype::F32, &[1, 2][..], Some(-2.0)));
/// assert!(SafeTensors::parse(&file[..file.len() - 1]).is_err());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct SafeTensors<'a> {
    header: &'a str,
    data: &'a [u8],
    len: usize,
}

/// One tensor of a [`SafeTensors`] file.
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
    entry: Entry<'a>,
    bytes: &'a [u8],
}

impl<'a> SafeTensors<'a> {
    /// Checks a whole file (see the [module documentation](self), "Strictness"; every tensor
    /// type, not only floats) and returns its view.
    ///
    /// # Errors
    ///
    /// The first problem found, in file order: length, header syntax, a tensor's offsets or size,
    /// more than [`MAX_TENSORS`] tensors, then duplicates, overlaps and uncovered bytes.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, SafetensorsError> {
        let file = Self::scan(bytes)?;
        // The pairwise checks walk the header once per tensor: bound that work too.
        let max = MAX_TENSORS
            .min(usize::try_from(MAX_SCAN / (file.header.len().max(1) as u64)).unwrap_or(usize::MAX));
        if file.len > max {
            return Err(SafetensorsError::TooManyTensors { max });
        }
        file.check_disjoint()?;
        Ok(file)
    }

    /// The length, header and per-tensor checks: linear in the header.
    fn scan(bytes: &'a [u8]) -> Result<Self, SafetensorsError> {
        let Some((len, rest)) = bytes.split_first_chunk::<8>() else {
            return Err(SafetensorsError::Truncated { needed: 8, available: bytes.len() });
        };
        let header_len = u64::from_le_bytes(*len);
        if header_len > MAX_HEADER_LEN {
            return Err(SafetensorsError::HeaderTooLarge { len: header_len });
        }
        let truncated =
            SafetensorsError::Truncated { needed: header_len.saturating_add(8), available: bytes.len() };
        let (header, data) =
            usize::try_from(header_len).ok().and_then(|n| rest.split_at_checked(n)).ok_or(truncated)?;
        let header = core::str::from_utf8(header)
            .map_err(|e| SafetensorsError::Header { offset: e.valid_up_to(), what: Syntax::Utf8 })?;
        let mut len = 0usize;
        for entry in Entries::new(header) {
            let entry = entry?;
            check_extent(&entry, data.len())?;
            len = len.saturating_add(1);
        }
        Ok(Self { header, data, len })
    }

    /// No two tensors share a name or a byte, and together they cover the data: quadratic.
    fn check_disjoint(&self) -> Result<(), SafetensorsError> {
        let mut covered: u64 = 0;
        for (position, a) in (0..).zip(self.entries()) {
            for b in self.entries().take(position) {
                if a.name.same(&b.name) {
                    return Err(SafetensorsError::DuplicateTensor { tensor: load::name_of(&a.name) });
                }
                if a.begin < b.end && b.begin < a.end {
                    return Err(SafetensorsError::Overlap {
                        first: load::name_of(&b.name),
                        second: load::name_of(&a.name),
                    });
                }
            }
            covered = covered.saturating_add(a.end - a.begin);
        }
        if covered == self.data.len() as u64 {
            Ok(())
        } else {
            Err(SafetensorsError::Unindexed { covered, data: self.data.len() })
        }
    }

    /// The entries, checked by [`scan`](Self::scan): none is an error.
    fn entries(&self) -> impl Iterator<Item = Entry<'a>> + use<'a> {
        Entries::new(self.header).map_while(Result::ok)
    }

    /// The number of tensors.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the file has no tensor.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tensors, in the header's order.
    pub fn tensors(&self) -> impl Iterator<Item = TensorView<'a>> + use<'a> {
        let data = self.data;
        self.entries().map(move |entry| TensorView { entry, bytes: tensor_bytes(&entry, data) })
    }

    /// The tensor named `name`.
    pub fn tensor(&self, name: &str) -> Option<TensorView<'a>> {
        self.tensors().find(|t| t.entry.name.is(&[name]))
    }

    /// The header's JSON text.
    pub fn header(&self) -> &'a str {
        self.header
    }
}

impl<'a> TensorView<'a> {
    /// The name.
    pub fn name(&self) -> JsonStr<'a> {
        self.entry.name
    }

    /// The element type.
    pub fn dtype(&self) -> Dtype {
        self.entry.dtype
    }

    /// The dimensions.
    pub fn shape(&self) -> Dims {
        self.entry.shape
    }

    /// The number of elements.
    pub fn elements(&self) -> u64 {
        self.entry.elements
    }

    /// The raw little-endian bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Element `index` (row-major) as `f64`, exactly, if the type is a float
    /// ([`Dtype::is_float`]) and the index is in range.
    pub fn value(&self, index: usize) -> Option<f64> {
        let size = self.entry.dtype.size();
        let start = index.checked_mul(size)?;
        self.entry.dtype.to_f64(self.bytes.get(start..start.checked_add(size)?)?)
    }
}

/// A tensor's offsets are in the data and span its elements.
fn check_extent(entry: &Entry<'_>, data: usize) -> Result<(), SafetensorsError> {
    if entry.begin > entry.end || entry.end > data as u64 {
        return Err(SafetensorsError::Offsets {
            tensor: load::name_of(&entry.name),
            begin: entry.begin,
            end: entry.end,
            data,
        });
    }
    let expected = entry.elements.saturating_mul(entry.dtype.size() as u64);
    let found = entry.end - entry.begin;
    if expected != found {
        return Err(SafetensorsError::Size { tensor: load::name_of(&entry.name), expected, found });
    }
    Ok(())
}

/// The bytes of a tensor whose extent was checked.
fn tensor_bytes<'a>(entry: &Entry<'_>, data: &'a [u8]) -> &'a [u8] {
    let range =
        usize::try_from(entry.begin).unwrap_or(usize::MAX)..usize::try_from(entry.end).unwrap_or(usize::MAX);
    data.get(range).unwrap_or_default()
}

/// Parameters to and from safetensors files, for every [`Network`] (implemented for all of them).
///
/// See the [module documentation](self) for the conventions and guarantees.
pub trait Safetensors<T: Scalar>: Network<T> {
    /// Reads the parameters from the file `bytes`, its tensors named by `naming`. On error the
    /// network is left as it was.
    ///
    /// # Errors
    ///
    /// Any [`SafetensorsError`] but [`BufferTooSmall`](SafetensorsError::BufferTooSmall).
    fn load_safetensors(&mut self, bytes: &[u8], naming: Naming<'_>) -> Result<(), SafetensorsError> {
        load::load::<T, Self>(self, bytes, naming)
    }

    /// Bytes of the file [`write_safetensors`](Self::write_safetensors) writes.
    ///
    /// # Errors
    ///
    /// [`SafetensorsError::NamingLength`] for a custom naming of another number of layers.
    fn safetensors_len(naming: Naming<'_>) -> Result<usize, SafetensorsError> {
        write::len::<T, Self>(naming)
    }

    /// Writes the parameters as a safetensors file into the start of `out`; returns its length.
    /// On error `out` is not modified.
    ///
    /// # Errors
    ///
    /// [`BufferTooSmall`](SafetensorsError::BufferTooSmall),
    /// [`NonFinite`](SafetensorsError::NonFinite) for an infinite or NaN parameter,
    /// [`NamingLength`](SafetensorsError::NamingLength).
    fn write_safetensors(&self, naming: Naming<'_>, out: &mut [u8]) -> Result<usize, SafetensorsError> {
        write::write::<T, Self>(self, naming, out)
    }

    /// The parameters as a safetensors file.
    ///
    /// # Errors
    ///
    /// As [`write_safetensors`](Self::write_safetensors), but for the buffer's size.
    #[cfg(feature = "alloc")]
    fn to_safetensors(&self, naming: Naming<'_>) -> Result<alloc::vec::Vec<u8>, SafetensorsError> {
        let mut out = alloc::vec![0; Self::safetensors_len(naming)?];
        let len = self.write_safetensors(naming, &mut out)?;
        out.truncate(len);
        Ok(out)
    }
}

impl<T: Scalar, N: Network<T>> Safetensors<T> for N {}
