//! Which tensor of a file is which parameter of a network: the conventions of PyTorch and Flax,
//! and explicit names.

use super::error::Dims;
use super::json::JsonStr;
use crate::{LayerInfo, LayerKind};

/// How tensor names map to a network's layers.
///
/// | naming | weight of layer `k` (named `hidden`) | its bias | weight layout |
/// |---|---|---|---|
/// | [`Layers`](Naming::Layers) | `hidden.weight` | `hidden.bias` | `[out, in]`, as `nn.Linear` |
/// | [`Sequential`](Naming::Sequential) | `{i}.weight` | `{i}.bias` | `[out, in]` |
/// | [`Flax`](Naming::Flax) | `params.Dense_{k}.kernel` | `params.Dense_{k}.bias` | `[in, out]`, as `nn.Dense` |
/// | [`Custom`](Naming::Custom) | given | given | either |
///
/// - `Layers` is what `torch.save`/`safetensors.torch.save_file(model.state_dict())` writes for a
///   module whose `nn.Linear` attributes have the spec's layer names.
/// - `Sequential` is `nn.Sequential`'s numbering, where activation modules take indices too:
///   reading, the `i` of the file's `{i}.weight`/`{i}.bias` pairs are taken in increasing order,
///   whatever their gaps (the first [`MAX_SEQUENTIAL_LAYERS`]); writing, layer `k` gets `i = 2k`
///   (a `Linear` then an activation module).
/// - `Flax` is `flax.traverse_util.flatten_dict(variables, sep=".")` of a `flax.linen` model of
///   `nn.Dense` layers, auto-named `Dense_0`, `Dense_1`, ...; its kernels are `[in, out]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming<'a> {
    /// `{layer}.weight` and `{layer}.bias`, with the spec's layer names.
    Layers,
    /// `0.weight`, `0.bias`, `2.weight`, ...: `nn.Sequential` numbering.
    Sequential,
    /// `params.Dense_0.kernel`, `params.Dense_0.bias`, ...: `flax.linen`, kernels `[in, out]`.
    Flax,
    /// One entry per layer, input to output.
    Custom(&'a [LayerNames<'a>]),
}

/// The tensor names of one layer, for [`Naming::Custom`].
///
/// ```
/// use backprop_core::safetensors::{LayerNames, Naming};
/// const NAMES: [LayerNames; 2] = [LayerNames::new("fc1.weight", "fc1.bias"), LayerNames::new("fc2.weight", "fc2.bias")];
/// let naming = Naming::Custom(&NAMES);
/// # let _ = naming;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerNames<'a> {
    /// The weight's name.
    pub weight: &'a str,
    /// The bias's name.
    pub bias: &'a str,
    /// Whether the weight is stored `[in, out]` (Flax, Keras, JAX code) rather than `[out, in]`.
    pub transposed: bool,
}

impl<'a> LayerNames<'a> {
    /// Weight `weight` stored `[out, in]` (PyTorch's layout), bias `bias`.
    pub const fn new(weight: &'a str, bias: &'a str) -> Self {
        Self { weight, bias, transposed: false }
    }

    /// As [`new`](Self::new), with the weight stored `[in, out]`.
    pub const fn transposed(weight: &'a str, bias: &'a str) -> Self {
        Self { weight, bias, transposed: true }
    }
}

/// A layer's weights or its biases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Weight,
    Bias,
}

/// A number written out, for names such as `2.weight`.
pub(crate) struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    pub(crate) fn new(mut n: usize) -> Self {
        let mut buf = [b'0'; 20];
        let mut start = buf.len();
        loop {
            start -= 1;
            if let Some(d) = buf.get_mut(start) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || start == 0 {
                return Self { buf, start };
            }
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        core::str::from_utf8(self.buf.get(self.start..).unwrap_or_default()).unwrap_or_default()
    }
}

impl Naming<'_> {
    /// Checks that a custom naming has one entry per layer.
    pub(crate) fn check(&self, layers: usize) -> Result<(), super::SafetensorsError> {
        match self {
            Self::Custom(names) if names.len() != layers => {
                Err(super::SafetensorsError::NamingLength { expected: layers, found: names.len() })
            }
            _ => Ok(()),
        }
    }

    /// Whether layer `k`'s weight is stored `[in, out]`.
    pub(crate) fn transposed(&self, k: usize) -> bool {
        match self {
            Self::Flax => true,
            Self::Custom(names) => names.get(k).is_some_and(|n| n.transposed),
            Self::Layers | Self::Sequential => false,
        }
    }

    /// The name of layer `k`'s `part`, as up to three pieces, passed to `with`.
    pub(crate) fn name_of<R>(
        &self,
        k: usize,
        layer: &LayerInfo,
        part: Part,
        with: impl FnOnce(&[&str]) -> R,
    ) -> R {
        let (torch, flax) = match part {
            Part::Weight => (".weight", ".kernel"),
            Part::Bias => (".bias", ".bias"),
        };
        match self {
            Self::Layers => with(&[layer.name, torch]),
            Self::Sequential => with(&[Digits::new(2 * k).as_str(), torch]),
            Self::Flax => with(&["params.Dense_", Digits::new(k).as_str(), flax]),
            Self::Custom(names) => {
                let n = names.get(k);
                let name = n.map_or("", |n| if part == Part::Weight { n.weight } else { n.bias });
                with(&[name])
            }
        }
    }

    /// The layer and part that tensor `name` holds, if any. `indices` are the file's
    /// [`Naming::Sequential`] numbers (unused by the other namings).
    pub(crate) fn locate(
        &self,
        name: &JsonStr<'_>,
        layers: &[LayerInfo],
        indices: &SequentialIndices,
    ) -> Option<(usize, Part)> {
        if let Self::Sequential = self {
            let (index, part) = sequential(name)?;
            return indices.rank(index).filter(|&rank| rank < layers.len()).map(|rank| (rank, part));
        }
        for (k, layer) in (0..).zip(layers) {
            for part in [Part::Weight, Part::Bias] {
                if self.name_of(k, layer, part, |pieces| name.is(pieces)) {
                    return Some((k, part));
                }
            }
        }
        None
    }
}

/// The distinct `i` of a file's `{i}.weight` and `{i}.bias` names, in increasing order: layer
/// `k` of a [`Naming::Sequential`] file is the `k`-th. At most [`MAX_SEQUENTIAL_LAYERS`] are
/// kept (without allocating); a tensor beyond them has no layer.
pub(crate) struct SequentialIndices {
    sorted: [u64; MAX_SEQUENTIAL_LAYERS],
    len: usize,
}

/// The most layers a [`Naming::Sequential`] file is read for.
pub const MAX_SEQUENTIAL_LAYERS: usize = 256;

impl SequentialIndices {
    /// None: for the other namings.
    pub(crate) const NONE: Self = Self { sorted: [0; MAX_SEQUENTIAL_LAYERS], len: 0 };

    /// The indices of `names`, one pass, sorted by insertion.
    pub(crate) fn of<'a>(names: impl Iterator<Item = JsonStr<'a>>) -> Self {
        let mut out = Self::NONE;
        for name in names {
            let Some((index, _)) = sequential(&name) else { continue };
            let kept = out.sorted.get(..out.len).unwrap_or_default();
            let at = kept.partition_point(|&i| i < index);
            if kept.get(at) == Some(&index) {
                continue;
            }
            if out.len < MAX_SEQUENTIAL_LAYERS {
                out.len += 1;
            } else if at >= MAX_SEQUENTIAL_LAYERS {
                continue; // beyond the kept ones
            }
            // Shift the larger ones up (the last falls off when full) and insert.
            // (By hand: `rotate_right`, when not inlined, keeps its panic on a too-short slice.)
            if let Some(tail) = out.sorted.get_mut(at..out.len) {
                for i in (1..tail.len()).rev() {
                    if let Some(&previous) = tail.get(i - 1)
                        && let Some(slot) = tail.get_mut(i)
                    {
                        *slot = previous;
                    }
                }
                if let Some(first) = tail.first_mut() {
                    *first = index;
                }
            }
        }
        out
    }

    /// The position of `index` among the file's indices.
    fn rank(&self, index: u64) -> Option<usize> {
        let kept = self.sorted.get(..self.len).unwrap_or_default();
        kept.binary_search(&index).ok()
    }
}

/// `{i}.weight` or `{i}.bias`, `i` written without leading zeros.
fn sequential(name: &JsonStr<'_>) -> Option<(u64, Part)> {
    let mut index: u64 = 0;
    let mut digits = 0;
    let mut chars = name.chars();
    for c in chars.by_ref() {
        if c == '.' {
            break;
        }
        let d = c.to_digit(10)?;
        if digits > 0 && index == 0 {
            return None; // a leading zero
        }
        index = index.checked_mul(10)?.checked_add(u64::from(d))?;
        digits += 1;
    }
    if digits == 0 {
        return None;
    }
    let weight = chars.clone().eq("weight".chars());
    if !weight && !chars.eq("bias".chars()) {
        return None;
    }
    Some((index, if weight { Part::Weight } else { Part::Bias }))
}

/// The shape of layer `layer`'s `part` in a file.
pub(crate) fn dims(layer: &LayerInfo, part: Part, transposed: bool) -> Dims {
    let (inputs, outputs) = (layer.inputs as u64, layer.outputs as u64);
    match (layer.kind, part) {
        (LayerKind::Dense, Part::Weight) if transposed => Dims::new(&[inputs, outputs]),
        (LayerKind::Dense, Part::Weight) => Dims::new(&[outputs, inputs]),
        (_, Part::Bias) => Dims::new(&[layer.biases as u64]),
        // Other kinds: one row per output channel (PyTorch's weight, flattened after its first
        // dimension), until `LayerInfo` records their kernel shapes.
        (_, Part::Weight) => Dims::new(&[layer.biases as u64, (layer.weights / layer.biases.max(1)) as u64]),
    }
}

/// Where element `j` of layer `layer`'s `part` (row-major in the file) goes among the layer's
/// parameters (weights row by row, `[out][in]`, then biases).
pub(crate) fn param_index(layer: &LayerInfo, part: Part, transposed: bool, j: usize) -> usize {
    match part {
        Part::Bias => layer.weights + j,
        Part::Weight if transposed => {
            // The file's `[in][out]` element `(i, o)` is our `(o, i)`.
            let outputs = layer.outputs.max(1);
            (j % outputs) * layer.inputs + j / outputs
        }
        Part::Weight => j,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dense, Identity};

    const LAYERS: [LayerInfo; 2] = [
        LayerInfo::of::<f32, Dense<f32, 3, 4>, Identity>("hidden"),
        LayerInfo::of::<f32, Dense<f32, 4, 2>, Identity>("out"),
    ];

    fn s(raw: &str) -> JsonStr<'_> {
        JsonStr::from_raw(raw)
    }

    #[test]
    fn sequential_names_are_ranked_by_index() {
        let file = ["4.bias", "0.weight", "4.weight", "0.bias"];
        let indices = SequentialIndices::of(file.iter().map(|n| s(n)));
        let locate = |n| Naming::Sequential.locate(&s(n), &LAYERS, &indices);
        assert_eq!(locate("0.weight"), Some((0, Part::Weight)));
        assert_eq!(locate("4.bias"), Some((1, Part::Bias)));
        for bad in ["00.weight", "0.weights", "x.weight", ".weight", "0weight", "0.bias.x"] {
            assert_eq!(sequential(&s(bad)), None, "{bad}");
        }
    }

    #[test]
    fn named_conventions() {
        let none = &SequentialIndices::NONE;
        assert_eq!(Naming::Layers.locate(&s("out.bias"), &LAYERS, none), Some((1, Part::Bias)));
        assert_eq!(Naming::Layers.locate(&s("out.kernel"), &LAYERS, none), None);
        assert_eq!(Naming::Flax.locate(&s("params.Dense_1.kernel"), &LAYERS, none), Some((1, Part::Weight)));
        let custom = [LayerNames::new("a", "b"), LayerNames::transposed("c", "d")];
        assert_eq!(Naming::Custom(&custom).locate(&s("d"), &LAYERS, none), Some((1, Part::Bias)));
        assert_eq!(Naming::Sequential.name_of(1, &LAYERS[1], Part::Weight, |p| p.concat()), "2.weight");
        assert_eq!(Digits::new(0).as_str(), "0");
        assert_eq!(Digits::new(usize::MAX).as_str(), std::format!("{}", usize::MAX));
    }

    #[test]
    fn sequential_indices_keep_the_smallest_when_full() {
        let names: std::vec::Vec<std::string::String> =
            (0..300u64).rev().map(|i| std::format!("{}.weight", 3 * i)).collect();
        let indices = SequentialIndices::of(names.iter().map(|n| s(n)));
        assert_eq!(indices.len, MAX_SEQUENTIAL_LAYERS);
        assert_eq!(indices.rank(0), Some(0));
        assert_eq!(indices.rank(3 * 255), Some(255));
        assert_eq!(indices.rank(3 * 256), None);
        assert_eq!(indices.rank(1), None);
    }

    #[test]
    fn transposed_weights_land_in_place() {
        // A 3-input, 4-output layer stored [3][4]: element (i, o) at j = 4i + o goes to 3o + i.
        let layer = &LAYERS[0];
        assert_eq!(param_index(layer, Part::Weight, true, 4 * 2 + 1), 3 + 2);
        assert_eq!(param_index(layer, Part::Weight, false, 7), 7);
        assert_eq!(param_index(layer, Part::Bias, false, 1), 13);
        assert_eq!(dims(layer, Part::Weight, true).as_slice(), &[3, 4]);
    }
}
