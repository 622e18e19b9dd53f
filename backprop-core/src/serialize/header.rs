//! The header: written in version 3, read in versions 3, 2 and 1 (see the module documentation
//! of [`serialize`](super) for the layouts). Every access is checked (`get`, `split_*_checked`),
//! so nothing here can panic whatever the bytes.

use super::{
    CHECKSUM_LEN, FORMAT_VERSION, HeaderName, MAGIC, MAX_NAME_LEN, ParamBytes, ParamsError, crc32,
    header_len_v1, header_len_v2,
};
use crate::layer::PaddingKind;
use crate::network::Network;
use crate::{LayerInfo, LayerKind, Scalar};

/// Bytes of a layer record but its geometry (version 3 only) and its activation's name: kind,
/// inputs, outputs, weights, biases, and the name's length.
pub(super) const LAYER_RECORD_LEN: usize = 1 + 4 * 4 + 1;

/// A name as recorded: its first [`MAX_NAME_LEN`] bytes (the length is one byte).
pub(super) const fn recorded(name: &str) -> &[u8] {
    match name.as_bytes().split_at_checked(MAX_NAME_LEN) {
        Some((head, _)) => head,
        None => name.as_bytes(),
    }
}

fn saturating_u32(x: usize) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

/// Appends to a buffer, dropping what does not fit (the callers size it exactly).
struct Writer<'a> {
    out: &'a mut [u8],
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let out = core::mem::take(&mut self.out);
        let (head, tail) = out.split_at_mut(bytes.len().min(out.len()));
        for (o, &b) in head.iter_mut().zip(bytes) {
            *o = b;
        }
        self.out = tail;
    }

    fn put_u32(&mut self, x: usize) {
        self.put(&saturating_u32(x).to_le_bytes());
    }

    /// A name: its length as one byte, then its bytes.
    fn put_name(&mut self, name: &str) {
        let name = recorded(name);
        self.put(&[u8::try_from(name.len()).unwrap_or(u8::MAX)]);
        self.put(name);
    }
}

/// Writes the version-3 header into `out`, which is exactly
/// [`header_len(N::LAYERS, N::LOSS)`](super::header_len) bytes.
pub(super) fn write_header<T: Scalar, N: Network<T>>(out: &mut [u8]) {
    let mut w = Writer { out };
    w.put(&MAGIC);
    w.put(&[FORMAT_VERSION, T::TAG]);
    w.put(&u16::try_from(N::LAYERS.len()).unwrap_or(u16::MAX).to_le_bytes());
    for layer in N::LAYERS {
        w.put(&[layer.kind.tag()]);
        w.put_u32(layer.inputs);
        w.put_u32(layer.outputs);
        w.put_u32(layer.weights);
        w.put_u32(layer.biases);
        for &dim in layer.geometry.values() {
            w.put(&dim.to_le_bytes());
        }
        w.put(&[layer.geometry.padding().tag()]);
        w.put_name(layer.activation);
    }
    w.put_name(N::LOSS);
}

/// Reads from the front of a buffer; `None` when it runs out.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.bytes.split_at_checked(n)?;
        self.bytes = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        let (&b, tail) = self.bytes.split_first()?;
        self.bytes = tail;
        Some(b)
    }

    fn u32(&mut self) -> Option<u32> {
        let (head, tail) = self.bytes.split_first_chunk::<4>()?;
        self.bytes = tail;
        Some(u32::from_le_bytes(*head))
    }

    /// Reads a name and compares it with `expected` (as recorded): `Ok` if equal, `Err(Some)`
    /// with the name found if not, `Err(None)` if the buffer ends first. A length other than the
    /// expected one is a mismatch at once, whatever follows, so a damaged length byte is reported
    /// as the name it belongs to.
    fn name(&mut self, expected: &str) -> Result<(), Option<HeaderName>> {
        let expected = recorded(expected);
        let len = self.u8().ok_or(None)?;
        if usize::from(len) != expected.len() {
            return Err(Some(HeaderName::of_header(len, self.bytes)));
        }
        let found = self.take(expected.len()).ok_or(None)?;
        if found == expected { Ok(()) } else { Err(Some(HeaderName::of_header(len, found))) }
    }
}

/// The shape check shared by every version.
fn check_shape(layer: &LayerInfo, index: usize, found: (u32, u32)) -> Result<(), ParamsError> {
    if found == (saturating_u32(layer.inputs), saturating_u32(layer.outputs)) {
        return Ok(());
    }
    Err(ParamsError::LayerShape { layer: layer.name, index, expected: (layer.inputs, layer.outputs), found })
}

/// Checks the layer records and the loss of `r` against `N`, as far as `version` records them:
/// version 3 everything; version 2 no geometries (it loads into a layer whose geometry is that of
/// a dense layer, which its sizes determine); version 1 shapes only (every layer was dense then:
/// no kinds, activations or loss).
fn check_records<T: Scalar, N: Network<T>>(
    r: &mut Reader<'_>,
    short: ParamsError,
    version: u8,
) -> Result<(), ParamsError> {
    for (index, layer) in (0..).zip(N::LAYERS) {
        let kind = if version > 1 { r.u8().ok_or(short)? } else { LayerKind::Dense.tag() };
        if kind != layer.kind.tag() {
            return Err(ParamsError::LayerKind {
                layer: layer.name,
                index,
                expected: layer.kind,
                found: kind,
            });
        }
        let (Some(inputs), Some(outputs)) = (r.u32(), r.u32()) else { return Err(short) };
        check_shape(layer, index, (inputs, outputs))?;
        if version == 1 {
            continue;
        }
        let (Some(weights), Some(biases)) = (r.u32(), r.u32()) else { return Err(short) };
        if (weights, biases) != (saturating_u32(layer.weights), saturating_u32(layer.biases)) {
            return Err(ParamsError::LayerParams {
                layer: layer.name,
                index,
                expected: (layer.weights, layer.biases),
                found: (weights, biases),
            });
        }
        let expected = &layer.geometry;
        if version > 2 {
            // As many dimensions as the kind has (checked above), then the padding.
            let mut found = *expected;
            for slot in found.values_mut() {
                *slot = r.u32().ok_or(short)?;
            }
            let padding = PaddingKind::from_tag(r.u8().ok_or(short)?);
            if found.values() != expected.values() || padding != Some(expected.padding()) {
                let found = padding.map(|padding| found.with_padding(padding));
                return Err(ParamsError::LayerGeometry { layer: layer.name, index, expected, found });
            }
        } else if !expected.is_dense() {
            return Err(ParamsError::LayerGeometry { layer: layer.name, index, expected, found: None });
        }
        r.name(layer.activation).map_err(|found| match found {
            Some(found) => {
                ParamsError::Activation { layer: layer.name, index, expected: layer.activation, found }
            }
            None => short,
        })?;
    }
    if version == 1 {
        return Ok(());
    }
    r.name(N::LOSS).map_err(|found| match found {
        Some(found) => ParamsError::Loss { expected: N::LOSS, found },
        None => short,
    })
}

/// Checks everything but finiteness; returns the parameter bytes.
pub(super) fn validate<T: Scalar, N: Network<T>>(bytes: &[u8]) -> Result<&[u8], ParamsError> {
    let short = ParamsError::Length { expected: N::SERIALIZED_LEN, found: bytes.len() };
    let mut r = Reader { bytes };
    let Some(&[m0, m1, m2, m3, version, tag, c0, c1]) = r.take(8).and_then(|b| b.first_chunk::<8>()) else {
        return Err(match bytes.first_chunk::<4>() {
            Some(magic) if *magic != MAGIC => ParamsError::Magic { found: *magic },
            _ => short,
        });
    };
    if [m0, m1, m2, m3] != MAGIC {
        return Err(ParamsError::Magic { found: [m0, m1, m2, m3] });
    }
    // The length of a whole file of this version, once the version is known to be read.
    let params_len = N::LEN * size_of::<T>() + CHECKSUM_LEN;
    let expected_len = match version {
        FORMAT_VERSION => N::SERIALIZED_LEN,
        2 => params_len + const { header_len_v2(N::LAYERS, N::LOSS) },
        1 => header_len_v1(N::LAYERS.len()) + params_len,
        _ => return Err(ParamsError::Version { found: version }),
    };
    if tag != T::TAG {
        return Err(ParamsError::ScalarType { expected: T::TAG, found: tag });
    }
    let count = usize::from(u16::from_le_bytes([c0, c1]));
    if count != N::LAYERS.len() {
        return Err(ParamsError::LayerCount { expected: N::LAYERS.len(), found: count });
    }
    let short = ParamsError::Length { expected: expected_len, found: bytes.len() };
    check_records::<T, N>(&mut r, short, version)?;
    if bytes.len() != expected_len {
        return Err(short);
    }
    let Some((body, stored)) = bytes.split_last_chunk::<CHECKSUM_LEN>() else { return Err(short) };
    let (computed, stored) = (crc32(body), u32::from_le_bytes(*stored));
    if computed != stored {
        return Err(ParamsError::Checksum { computed, stored });
    }
    // What the reader has not consumed, less the checksum: the parameters.
    Ok(r.bytes.get(..r.bytes.len().saturating_sub(CHECKSUM_LEN)).unwrap_or_default())
}
