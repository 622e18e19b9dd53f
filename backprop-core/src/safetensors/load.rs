//! Reading a file into a network: every check first, then the writes.

use super::error::SafetensorsError;
use super::json::{Entry, JsonStr};
use super::naming::{Naming, Part, SequentialIndices, dims, param_index};
use super::{SafeTensors, tensor_bytes};
use crate::network::Network;
use crate::serialize::HeaderName;
use crate::{LayerInfo, Scalar};

/// A name for an error, from its characters (the first [`HeaderName::CAPACITY`] bytes kept).
pub(crate) fn name_from_chars(chars: impl Iterator<Item = char>) -> HeaderName {
    let mut buf = [0u8; HeaderName::CAPACITY];
    let (mut kept, mut len) = (0usize, 0usize);
    for c in chars {
        let mut utf8 = [0; 4];
        let encoded = c.encode_utf8(&mut utf8).as_bytes();
        if len == kept
            && let Some(slot) = buf.get_mut(kept..kept + encoded.len())
        {
            slot.copy_from_slice(encoded);
            kept += encoded.len();
        }
        len = len.saturating_add(encoded.len());
    }
    HeaderName::of_header(u8::try_from(len).unwrap_or(u8::MAX), buf.get(..kept).unwrap_or_default())
}

/// The name of a tensor of the file, for an error.
pub(crate) fn name_of(name: &JsonStr<'_>) -> HeaderName {
    name_from_chars(name.chars())
}

/// A tensor of the file located in the network.
struct Located<'a> {
    entry: Entry<'a>,
    layer: usize,
    part: Part,
}

pub(crate) fn load<T: Scalar, N: Network<T>>(
    net: &mut N,
    bytes: &[u8],
    naming: Naming<'_>,
) -> Result<(), SafetensorsError> {
    let layers = N::LAYERS;
    naming.check(layers.len())?;
    let file = SafeTensors::scan(bytes)?;
    let expected =
        layers.iter().map(|l| usize::from(l.weights > 0) + usize::from(l.biases > 0)).sum::<usize>();

    // At most one tensor beyond the network's count is looked at: among `expected + 1` distinct
    // names, one has no place in the network.
    let considered = file.len.min(expected.saturating_add(1));
    let names = || file.entries().take(considered).map(|e| e.name);
    let indices = match naming {
        Naming::Sequential => SequentialIndices::of(names()),
        _ => SequentialIndices::NONE,
    };
    for (position, entry) in (0..).zip(file.entries().take(considered)) {
        if names().take(position).any(|earlier| earlier.same(&entry.name)) {
            return Err(SafetensorsError::DuplicateTensor { tensor: name_of(&entry.name) });
        }
        if naming.locate(&entry.name, layers, &indices).is_none() {
            return Err(SafetensorsError::ExtraTensor { tensor: name_of(&entry.name) });
        }
    }
    // Now the file has at most `expected` tensors, with distinct names.
    file.check_disjoint()?;

    let find = |k: usize, part: Part| {
        file.entries()
            .find(|e| naming.locate(&e.name, layers, &indices) == Some((k, part)))
            .map(|entry| Located { entry, layer: k, part })
    };
    let wanted = || {
        (0..).zip(layers).flat_map(|(k, layer)| {
            [(Part::Weight, layer.weights), (Part::Bias, layer.biases)]
                .into_iter()
                .filter(|&(_, count)| count > 0)
                .map(move |(part, _)| (k, layer, part))
        })
    };
    for (k, layer, part) in wanted() {
        let Some(found) = find(k, part) else {
            let tensor = naming
                .name_of(k, layer, part, |pieces| name_from_chars(pieces.iter().flat_map(|p| p.chars())));
            return Err(SafetensorsError::MissingTensor { tensor, layer: layer.name });
        };
        check::<T>(&found, layer, &naming, file.data)?;
    }

    let params = net.params_mut();
    for (k, layer, part) in wanted() {
        let Some(found) = find(k, part) else { continue };
        let offset = layers.iter().take(k).map(LayerInfo::params).sum::<usize>();
        let transposed = naming.transposed(k);
        let bytes = tensor_bytes(&found.entry, file.data);
        let size = found.entry.dtype.size();
        for (j, element) in (0..).zip(bytes.chunks_exact(size)) {
            let value = T::from_f64(found.entry.dtype.to_f64(element).unwrap_or_default());
            if let Some(p) = params.get_mut(offset + param_index(layer, part, transposed, j)) {
                *p = value;
            }
        }
    }
    Ok(())
}

/// The tensor's type converts, its shape is the layer's, its values are finite in `T`.
fn check<T: Scalar>(
    found: &Located<'_>,
    layer: &LayerInfo,
    naming: &Naming<'_>,
    data: &[u8],
) -> Result<(), SafetensorsError> {
    let entry = &found.entry;
    let tensor = || name_of(&entry.name);
    if !entry.dtype.is_float() {
        return Err(SafetensorsError::Dtype { tensor: tensor(), dtype: entry.dtype });
    }
    let network = dims(layer, found.part, naming.transposed(found.layer));
    if entry.shape != network {
        return Err(SafetensorsError::Shape { tensor: tensor(), file: entry.shape, network });
    }
    let bytes = tensor_bytes(entry, data);
    for (index, element) in (0..).zip(bytes.chunks_exact(entry.dtype.size())) {
        let finite = entry.dtype.to_f64(element).is_some_and(|v| T::from_f64(v).is_finite());
        if !finite {
            return Err(SafetensorsError::NonFinite { tensor: tensor(), index });
        }
    }
    Ok(())
}
