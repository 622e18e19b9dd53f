//! Writing a network as a safetensors file: the header is produced twice, once to count its
//! bytes and once into the buffer, by the same code.

use super::dtype::Dtype;
use super::error::SafetensorsError;
use super::load::name_from_chars;
use super::naming::{Digits, Layout, Naming, Part, count};
use crate::network::Network;
use crate::{LayerInfo, Scalar};

/// Where the header's bytes go: counted, or written.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

struct Count(usize);

impl Sink for Count {
    fn put(&mut self, bytes: &[u8]) {
        self.0 = self.0.saturating_add(bytes.len());
    }
}

/// Writes into a buffer already checked to be long enough.
struct Write<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl Sink for Write<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(slot) = self.out.get_mut(self.pos..self.pos + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
        self.pos += bytes.len();
    }
}

/// A JSON string: quotes, with `"`, `\` and control characters escaped.
fn string(sink: &mut impl Sink, pieces: &[&str]) {
    sink.put(b"\"");
    for c in pieces.iter().flat_map(|p| p.chars()) {
        match c {
            '"' => sink.put(b"\\\""),
            '\\' => sink.put(b"\\\\"),
            '\0'..='\u{1f}' => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let code = c as usize;
                sink.put(b"\\u00");
                sink.put(&[
                    HEX.get(code >> 4).copied().unwrap_or(b'0'),
                    HEX.get(code & 15).copied().unwrap_or(b'0'),
                ]);
            }
            _ => sink.put(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    sink.put(b"\"");
}

/// Every tensor the network writes, in order: layer, part, and the tensor's value count.
fn tensors(layers: &[LayerInfo]) -> impl Iterator<Item = (usize, Part, usize)> + '_ {
    (0..).zip(layers).flat_map(|(k, layer)| {
        [Part::Weight, Part::Bias]
            .into_iter()
            .map(move |part| (k, part, count(layer, part)))
            .filter(|t| t.2 > 0)
    })
}

/// Bytes per value in the file: 4 for `f32` (written as `F32`), 8 for every other scalar (written
/// as `F64`: `f64`, and [`I16F16`](crate::I16F16), whose values are all exact in `F64`; a fixed
/// point type has no safetensors dtype of its own). Not `size_of::<T>()`: an `I16F16` is 4 bytes
/// in memory and 8 in the file.
const fn value_size<T: Scalar>() -> usize {
    Dtype::of_scalar_tag(T::TAG).size()
}

/// The header's JSON, without its padding.
fn header<T: Scalar>(sink: &mut impl Sink, layers: &[LayerInfo], naming: &Naming<'_>) {
    sink.put(b"{\"__metadata__\":{\"format\":");
    sink.put(if matches!(naming, Naming::Flax) { b"\"flax\"}" } else { b"\"pt\"}" });
    let dtype = Dtype::of_scalar_tag(T::TAG);
    let mut offset = 0usize;
    for (k, part, values) in tensors(layers) {
        sink.put(b",");
        naming.name_of(layers, k, part, |pieces| string(sink, pieces));
        sink.put(b":{\"dtype\":\"");
        sink.put(dtype.name().as_bytes());
        sink.put(b"\",\"shape\":[");
        let shape = Layout::of(layers, k, part, naming.transposed(k)).dims;
        for (i, &d) in (0..).zip(shape.as_slice()) {
            if i > 0 {
                sink.put(b",");
            }
            sink.put(Digits::new(usize::try_from(d).unwrap_or(usize::MAX)).as_str().as_bytes());
        }
        sink.put(b"],\"data_offsets\":[");
        sink.put(Digits::new(offset).as_str().as_bytes());
        sink.put(b",");
        offset = offset.saturating_add(values * value_size::<T>());
        sink.put(Digits::new(offset).as_str().as_bytes());
        sink.put(b"]}");
    }
    sink.put(b"}");
}

/// Header bytes with the padding that makes the data start at a multiple of 8.
fn padded_header_len<T: Scalar>(layers: &[LayerInfo], naming: &Naming<'_>) -> usize {
    let mut count = Count(0);
    header::<T>(&mut count, layers, naming);
    count.0.next_multiple_of(8)
}

pub(crate) fn len<T: Scalar, N: Network<T>>(naming: Naming<'_>) -> Result<usize, SafetensorsError> {
    naming.check(N::LAYERS.len())?;
    Ok(8 + padded_header_len::<T>(N::LAYERS, &naming) + N::LEN * value_size::<T>())
}

pub(crate) fn write<T: Scalar, N: Network<T>>(
    net: &N,
    naming: Naming<'_>,
    out: &mut [u8],
) -> Result<usize, SafetensorsError> {
    let layers = N::LAYERS;
    let needed = len::<T, N>(naming)?;
    let params = net.params();
    let mut offset = 0;
    for (k, layer) in (0..).zip(layers) {
        let layer_params = params.get(offset..offset + layer.params()).unwrap_or_default();
        if let Some(index) = layer_params.iter().position(|p| !p.is_finite()) {
            let (part, index) = if index < layer.weights {
                (Part::Weight, index)
            } else {
                (Part::Bias, index - layer.weights)
            };
            let tensor = naming
                .name_of(layers, k, part, |pieces| name_from_chars(pieces.iter().flat_map(|p| p.chars())));
            return Err(SafetensorsError::NonFinite { tensor, index });
        }
        offset += layer.params();
    }
    let available = out.len();
    let Some(out) = out.get_mut(..needed) else {
        return Err(SafetensorsError::BufferTooSmall { needed, available });
    };

    let header_len = padded_header_len::<T>(layers, &naming);
    let mut sink = Write { out, pos: 0 };
    sink.put(&(header_len as u64).to_le_bytes());
    header::<T>(&mut sink, layers, &naming);
    while sink.pos < 8 + header_len {
        sink.put(b" ");
    }
    for (k, part, values) in tensors(layers) {
        let first = layers.iter().take(k).map(LayerInfo::params).sum::<usize>();
        let layout = Layout::of(layers, k, part, naming.transposed(k));
        for j in 0..values {
            let value = params.get(first + layout.index(j)).copied().unwrap_or(T::ZERO);
            if T::TAG == 4 {
                sink.put(&(value.to_f64() as f32).to_le_bytes());
            } else {
                sink.put(&value.to_f64().to_le_bytes());
            }
        }
    }
    Ok(needed)
}
