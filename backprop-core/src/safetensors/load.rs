//! Reading a file into a network: every check first, then the writes.

use super::error::SafetensorsError;
use super::json::{Entry, JsonStr};
use super::naming::{Layout, Naming, Part, SequentialIndices, count};
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
        file.entries().find(|e| naming.locate(&e.name, layers, &indices) == Some((k, part)))
    };
    let wanted = || {
        (0..).zip(layers).flat_map(|(k, layer)| {
            [Part::Weight, Part::Bias]
                .into_iter()
                .filter(|&part| count(layer, part) > 0)
                .map(move |part| (k, part))
        })
    };
    for (k, part) in wanted() {
        let Some(found) = find(k, part) else {
            let tensor = naming
                .name_of(layers, k, part, |pieces| name_from_chars(pieces.iter().flat_map(|p| p.chars())));
            let layer = layers.get(k).map_or("", |layer| layer.name);
            return Err(SafetensorsError::MissingTensor { tensor, layer });
        };
        check::<T>(&found, &Layout::of(layers, k, part, naming.transposed(k)), file.data)?;
    }

    let params = net.params_mut();
    for (k, part) in wanted() {
        let Some(found) = find(k, part) else { continue };
        let offset = layers.iter().take(k).map(LayerInfo::params).sum::<usize>();
        let layout = Layout::of(layers, k, part, naming.transposed(k));
        let bytes = tensor_bytes(&found, file.data);
        let size = found.dtype.size();
        for (j, element) in (0..).zip(bytes.chunks_exact(size)) {
            let value = T::from_f64(found.dtype.to_f64(element).unwrap_or_default());
            if let Some(p) = params.get_mut(offset + layout.index(j)) {
                *p = value;
            }
        }
    }
    Ok(())
}

/// The tensor's type converts, its shape is the layout's, its values are finite in `T`.
fn check<T: Scalar>(entry: &Entry<'_>, layout: &Layout, data: &[u8]) -> Result<(), SafetensorsError> {
    let tensor = || name_of(&entry.name);
    if !entry.dtype.is_float() {
        return Err(SafetensorsError::Dtype { tensor: tensor(), dtype: entry.dtype });
    }
    let network = layout.dims;
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
