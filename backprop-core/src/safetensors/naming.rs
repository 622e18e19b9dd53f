//! Which tensor of a file is which parameter of a network: the conventions of PyTorch and Flax,
//! and explicit names.

use super::error::Dims;
use super::json::JsonStr;
use crate::{LayerInfo, LayerKind};

/// How tensor names map to a network's layers.
///
/// | naming | weight of layer `k` (named `hidden`) | its bias | weight layout |
/// |---|---|---|---|
/// | [`Layers`](Naming::Layers) | `hidden.weight` | `hidden.bias` | PyTorch's |
/// | [`Sequential`](Naming::Sequential) | `{i}.weight` | `{i}.bias` | PyTorch's |
/// | [`Flax`](Naming::Flax) | `params.Dense_{j}.kernel` | `params.Dense_{j}.bias` | Flax's |
/// | [`Custom`](Naming::Custom) | given | given | either |
///
/// The layouts, with the shapes from the layer's [`Geometry`](crate::layer::Geometry) (`C`
/// input channels, `F` outputs or filters, `K` the kernel size):
///
/// | layer | PyTorch's weight | Flax's kernel | bias |
/// |---|---|---|---|
/// | dense `I → O` | `[O, I]` (`nn.Linear`) | `[I, O]` (`nn.Dense`) | `[O]` |
/// | 2-d convolution | `[F, C, K, K]` (`nn.Conv2d`) | `[K, K, C, F]` (`nn.Conv`, HWIO) | `[F]` |
/// | 1-d convolution | `[F, C, K]` (`nn.Conv1d`) | `[K, C, F]` (`nn.Conv`) | `[F]` |
///
/// Pools have no tensors. PyTorch's layout is ours (`[out][in][kh][kw]`, and `flatten(1)`'s
/// channel-first order into a dense layer). Flax's is channels-last throughout: besides the
/// kernels above, a dense layer after a convolution or pool (whose output `[C, H, W]` Flax holds
/// as `[H, W, C]` and flattens with `x.reshape((n, -1))`) has its kernel's `H·W·C` rows in
/// height, width, channel order; reading and writing reorder them to and from ours.
///
/// - `Layers` is what `torch.save`/`safetensors.torch.save_file(model.state_dict())` writes for a
///   module whose `nn.Linear`/`nn.Conv2d`/`nn.Conv1d` attributes have the spec's layer names.
/// - `Sequential` is `nn.Sequential`'s numbering, where every module takes an index (activations,
///   pools, `Flatten` too), so that the layers with tensors have gaps between them: reading, the
///   `i` of the file's `{i}.weight`/`{i}.bias` pairs are taken in increasing order, whatever their
///   gaps (the first [`MAX_SEQUENTIAL_LAYERS`]), the `k`-th for the `k`-th layer that has
///   parameters; writing, each layer gets the index it has in the `nn.Sequential` of its modules:
///   the layer's (`Linear`, `Conv2d`, `MaxPool2d`, ...), then its activation's unless it is the
///   identity, and a `Flatten` before a dense layer that follows a layer of channels
///   (`nn.Sequential(Conv2d, ReLU, MaxPool2d, Flatten, Linear)`: `0.weight`, `4.weight`).
/// - `Flax` is `flax.traverse_util.flatten_dict(variables, sep=".")` of a `flax.linen` model
///   of `nn.Dense` and `nn.Conv` layers, auto-named per module type as Flax does
///   (`Conv_0`, `Conv_1`, `Dense_0`, ...: `j` counts the layers of the same type before this
///   one), with pools as functions (`nn.max_pool`, `nn.avg_pool`), which own no tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming<'a> {
    /// `{layer}.weight` and `{layer}.bias`, with the spec's layer names.
    Layers,
    /// `0.weight`, `0.bias`, `2.weight`, ...: `nn.Sequential` numbering.
    Sequential,
    /// `params.Conv_0.kernel`, `params.Dense_0.bias`, ...: `flax.linen`, channels-last.
    Flax,
    /// One entry per layer, input to output.
    Custom(&'a [LayerNames<'a>]),
}

/// The tensor names of one layer, for [`Naming::Custom`] (which has one per layer, pools
/// included: theirs are not used).
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
    /// Whether the weight is stored channels-last (Flax, Keras, JAX code: `[in, out]`, a
    /// convolution's kernel `[K, K, C, F]`, see [`Naming`]) rather than PyTorch's way.
    pub transposed: bool,
}

impl<'a> LayerNames<'a> {
    /// Weight `weight` stored `[out, in]` (PyTorch's layout), bias `bias`.
    pub const fn new(weight: &'a str, bias: &'a str) -> Self {
        Self { weight, bias, transposed: false }
    }

    /// As [`new`](Self::new), with the weight stored channels-last (`[in, out]` for a dense
    /// layer).
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

    /// Whether layer `k`'s weight is stored channels-last.
    pub(crate) fn transposed(&self, k: usize) -> bool {
        match self {
            Self::Flax => true,
            Self::Custom(names) => names.get(k).is_some_and(|n| n.transposed),
            Self::Layers | Self::Sequential => false,
        }
    }

    /// The name of layer `k`'s `part`, as up to five pieces, passed to `with`.
    pub(crate) fn name_of<R>(
        &self,
        layers: &[LayerInfo],
        k: usize,
        part: Part,
        with: impl FnOnce(&[&str]) -> R,
    ) -> R {
        let (torch, flax) = match part {
            Part::Weight => (".weight", ".kernel"),
            Part::Bias => (".bias", ".bias"),
        };
        let name = layers.get(k).map_or("", |layer| layer.name);
        match self {
            Self::Layers => with(&[name, torch]),
            Self::Sequential => with(&[Digits::new(sequential_index(layers, k)).as_str(), torch]),
            Self::Flax => {
                let module = layers.get(k).map_or("", |layer| flax_module(layer.kind));
                let before =
                    layers.iter().take(k).filter(|l| l.params() > 0 && flax_module(l.kind) == module);
                with(&["params.", module, "_", Digits::new(before.count()).as_str(), flax])
            }
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
            let rank = indices.rank(index)?;
            let (k, _) = (0..).zip(layers).filter(|(_, layer)| layer.params() > 0).nth(rank)?;
            return layers.get(k).filter(|layer| count(layer, part) > 0).map(|_| (k, part));
        }
        for (k, layer) in (0..).zip(layers) {
            for part in [Part::Weight, Part::Bias] {
                if count(layer, part) > 0 && self.name_of(layers, k, part, |pieces| name.is(pieces)) {
                    return Some((k, part));
                }
            }
        }
        None
    }
}

/// Parameters of a layer's `part`.
pub(crate) fn count(layer: &LayerInfo, part: Part) -> usize {
    match part {
        Part::Weight => layer.weights,
        Part::Bias => layer.biases,
    }
}

/// The index of layer `k` in the `nn.Sequential` of the network's modules: one per layer, one per
/// activation but the identity, one per `Flatten` from a layer of channels to a dense layer.
fn sequential_index(layers: &[LayerInfo], k: usize) -> usize {
    let before = layers.iter().take(k);
    let next = layers.iter().skip(1);
    let modules = before.zip(next).map(|(layer, next)| {
        let flatten = layer.geometry.output().len() > 1 && next.geometry.input().len() == 1;
        1 + usize::from(layer.activation != "Identity") + usize::from(flatten)
    });
    modules.sum()
}

/// The `flax.linen` module of a kind (its class name, which Flax numbers by).
fn flax_module(kind: LayerKind) -> &'static str {
    match kind {
        LayerKind::Conv1d | LayerKind::Conv2d => "Conv",
        kind => kind.name(),
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

/// Where the values of one tensor go: its shape in the file and, element by element (row-major
/// in the file), the position among its layer's parameters (weights `[F][C][kernel…]`, then
/// biases).
pub(crate) struct Layout {
    /// The tensor's shape in the file.
    pub(crate) dims: Dims,
    /// The first of the part's parameters in the layer (`0`, or the weights' count for biases).
    first: usize,
    /// Channels-last: the file's element `j` is ours `(f·C + c)·S + s`, with `f = j mod F`,
    /// `c = (j / F) mod C`, `s = j / (F·C)`; else ours is `j`.
    transposed: bool,
    filters: usize,
    channels: usize,
    positions: usize,
}

impl Layout {
    /// The layout of layer `k`'s `part`, channels-last if `transposed`.
    pub(crate) fn of(layers: &[LayerInfo], k: usize, part: Part, transposed: bool) -> Self {
        let Some(layer) = layers.get(k) else {
            return Self { dims: Dims::EMPTY, first: 0, transposed, filters: 1, channels: 1, positions: 1 };
        };
        let g = &layer.geometry;
        let filters = g.output().first().map_or(1, |&f| f as usize);
        let channels = g.input().first().map_or(1, |&c| c as usize);
        // A geometry that does not describe the weights (a layer kind outside this crate that
        // keeps the default): one row of weights per bias.
        let described = filters.saturating_mul(channels).saturating_mul(g.kernel_len()) == layer.weights
            && filters == layer.biases;
        let (filters, channels, kernel) = if described {
            (filters, channels, g.kernel())
        } else {
            (layer.biases.max(1), layer.weights / layer.biases.max(1), &[][..])
        };
        let mut dims = Dims::EMPTY;
        if part == Part::Bias {
            dims.push(layer.biases as u64);
            return Self { dims, first: layer.weights, transposed: false, filters, channels, positions: 1 };
        }
        if transposed {
            for &d in kernel {
                dims.push(u64::from(d));
            }
            dims.push(channels as u64);
            dims.push(filters as u64);
        } else {
            dims.push(filters as u64);
            dims.push(channels as u64);
            for &d in kernel {
                dims.push(u64::from(d));
            }
        }
        // The channels and positions each output reads, in the order of the file's rows: a
        // convolution's own; a dense layer after a layer of `[C, H, W]` output reads `H·W·C`
        // inputs held channels-last, ours `C·H·W`.
        let (mut channels, mut positions) = (channels, g.kernel_len());
        let previous = k.checked_sub(1).and_then(|p| layers.get(p)).map(|p| &p.geometry);
        if let Some(previous) = previous.filter(|p| described && kernel.is_empty() && p.output().len() > 1) {
            let c = previous.output().first().map_or(1, |&c| c as usize).max(1);
            if previous.output_len() == layer.inputs {
                (channels, positions) = (c, layer.inputs / c);
            }
        }
        Self { dims, first: 0, transposed, filters, channels, positions }
    }

    /// The position among the layer's parameters of the file's element `j`.
    pub(crate) fn index(&self, j: usize) -> usize {
        if !self.transposed {
            return self.first + j;
        }
        let (filters, channels) = (self.filters.max(1), self.channels.max(1));
        let (f, rest) = (j % filters, j / filters);
        let (c, s) = (rest % channels, rest / channels);
        self.first + (f * channels + c) * self.positions + s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::{Conv1d, Conv2d, MaxPool2d, Same, Valid};
    use crate::{Dense, Identity};

    const LAYERS: [LayerInfo; 2] = [
        LayerInfo::of::<f32, Dense<f32, 3, 4>, Identity>("hidden"),
        LayerInfo::of::<f32, Dense<f32, 4, 2>, Identity>("out"),
    ];

    /// Conv 1×6×6 → 3×6×6, pool → 3×3×3, conv → 4×2×2, dense 16 → 5, dense 5 → 2.
    const CONV: [LayerInfo; 5] = [
        LayerInfo::of::<f32, Conv2d<f32, Same, 1, 6, 6, 3, 3, 1, 6, 6>, Identity>("c0"),
        LayerInfo::of::<f32, MaxPool2d<f32, 3, 6, 6, 2, 2, 3, 3>, Identity>("pool"),
        LayerInfo::of::<f32, Conv2d<f32, Valid, 3, 3, 3, 4, 2, 1, 2, 2>, Identity>("c1"),
        LayerInfo::of::<f32, Dense<f32, 16, 5>, Identity>("d0"),
        LayerInfo::of::<f32, Dense<f32, 5, 2>, Identity>("d1"),
    ];

    fn s(raw: &str) -> JsonStr<'_> {
        JsonStr::from_raw(raw)
    }

    fn name(naming: Naming<'_>, layers: &[LayerInfo], k: usize, part: Part) -> std::string::String {
        naming.name_of(layers, k, part, |p| p.concat())
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
    fn sequential_ranks_skip_layers_without_parameters() {
        // nn.Sequential(Conv2d, ReLU, MaxPool2d, Conv2d, Tanh, Flatten, Linear, ReLU, Linear).
        let file = ["0.weight", "3.weight", "6.weight", "8.weight"];
        let indices = SequentialIndices::of(file.iter().map(|n| s(n)));
        let locate = |n| Naming::Sequential.locate(&s(n), &CONV, &indices);
        let found: std::vec::Vec<_> = file.iter().map(|n| locate(n)).collect();
        assert_eq!(found, [0, 2, 3, 4].map(|k| Some((k, Part::Weight))));
    }

    #[test]
    fn sequential_writes_the_indices_of_torch_modules() {
        // Every activation here is the identity: no module. The flatten before `d0` is one.
        let names: std::vec::Vec<_> =
            [0, 2, 3, 4].iter().map(|&k| name(Naming::Sequential, &CONV, k, Part::Bias)).collect();
        assert_eq!(names, ["0.bias", "2.bias", "4.bias", "5.bias"]);
        // nn.Sequential(Conv2d, ReLU, MaxPool2d, Conv2d, Tanh, Flatten, Linear, ReLU, Linear).
        const TORCH: [LayerInfo; 5] = [
            LayerInfo::of::<f32, Conv2d<f32, Same, 1, 6, 6, 3, 3, 1, 6, 6>, crate::Relu>("c0"),
            LayerInfo::of::<f32, MaxPool2d<f32, 3, 6, 6, 2, 2, 3, 3>, Identity>("pool"),
            LayerInfo::of::<f32, Conv2d<f32, Valid, 3, 3, 3, 4, 2, 1, 2, 2>, crate::Tanh>("c1"),
            LayerInfo::of::<f32, Dense<f32, 16, 5>, crate::Relu>("d0"),
            LayerInfo::of::<f32, Dense<f32, 5, 2>, crate::Softmax>("d1"),
        ];
        let names: std::vec::Vec<_> =
            [0, 2, 3, 4].iter().map(|&k| name(Naming::Sequential, &TORCH, k, Part::Weight)).collect();
        assert_eq!(names, ["0.weight", "3.weight", "6.weight", "8.weight"]);
    }

    #[test]
    fn named_conventions() {
        let none = &SequentialIndices::NONE;
        assert_eq!(Naming::Layers.locate(&s("out.bias"), &LAYERS, none), Some((1, Part::Bias)));
        assert_eq!(Naming::Layers.locate(&s("out.kernel"), &LAYERS, none), None);
        assert_eq!(Naming::Flax.locate(&s("params.Dense_1.kernel"), &LAYERS, none), Some((1, Part::Weight)));
        let custom = [LayerNames::new("a", "b"), LayerNames::transposed("c", "d")];
        assert_eq!(Naming::Custom(&custom).locate(&s("d"), &LAYERS, none), Some((1, Part::Bias)));
        assert_eq!(name(Naming::Sequential, &LAYERS, 1, Part::Weight), "1.weight"); // no identity module
        assert_eq!(Digits::new(0).as_str(), "0");
        assert_eq!(Digits::new(usize::MAX).as_str(), std::format!("{}", usize::MAX));
    }

    #[test]
    fn flax_numbers_each_module_type_apart_and_pools_have_no_tensors() {
        let names: std::vec::Vec<_> =
            [0, 2, 3, 4].iter().map(|&k| name(Naming::Flax, &CONV, k, Part::Weight)).collect();
        assert_eq!(
            names,
            [
                "params.Conv_0.kernel",
                "params.Conv_1.kernel",
                "params.Dense_0.kernel",
                "params.Dense_1.kernel"
            ]
        );
        let none = &SequentialIndices::NONE;
        assert_eq!(Naming::Flax.locate(&s("params.Dense_0.bias"), &CONV, none), Some((3, Part::Bias)));
        // A pool's names are no tensors: not `pool.weight`, nor `params.MaxPool2d_0.kernel`.
        assert_eq!(Naming::Layers.locate(&s("pool.weight"), &CONV, none), None);
        assert_eq!(Naming::Flax.locate(&s("params.MaxPool2d_0.kernel"), &CONV, none), None);
        let indices = SequentialIndices::of(["0.weight", "1.weight"].iter().map(|n| s(n)));
        let conv1d = [LayerInfo::of::<f32, Conv1d<f32, Valid, 2, 8, 3, 3, 1, 6>, Identity>("c")];
        assert_eq!(Naming::Sequential.locate(&s("1.weight"), &conv1d, &indices), None);
    }

    #[test]
    fn kernel_shapes_in_both_layouts() {
        let dims = |k, part, t| Layout::of(&CONV, k, part, t).dims.as_slice().to_vec();
        assert_eq!(dims(0, Part::Weight, false), [3, 1, 3, 3]);
        assert_eq!(dims(0, Part::Weight, true), [3, 3, 1, 3]);
        assert_eq!(dims(2, Part::Weight, false), [4, 3, 2, 2]);
        assert_eq!(dims(2, Part::Bias, true), [4]);
        assert_eq!(dims(3, Part::Weight, false), [5, 16]);
        assert_eq!(dims(3, Part::Weight, true), [16, 5]);
        let conv1d = [LayerInfo::of::<f32, Conv1d<f32, Valid, 2, 8, 3, 3, 1, 6>, Identity>("c")];
        assert_eq!(Layout::of(&conv1d, 0, Part::Weight, false).dims.as_slice(), &[3, 2, 3]);
        assert_eq!(Layout::of(&conv1d, 0, Part::Weight, true).dims.as_slice(), &[3, 2, 3]);
        assert_eq!(Layout::of(&conv1d, 0, Part::Weight, true).index(1), 6); // (k 0, c 0, f 1)
    }

    #[test]
    fn transposed_weights_land_in_place() {
        // A 3-input, 4-output layer stored [3][4]: element (i, o) at j = 4i + o goes to 3o + i.
        let layout = Layout::of(&LAYERS, 0, Part::Weight, true);
        assert_eq!(layout.index(4 * 2 + 1), 3 + 2);
        assert_eq!(Layout::of(&LAYERS, 0, Part::Weight, false).index(7), 7);
        assert_eq!(Layout::of(&LAYERS, 0, Part::Bias, false).index(1), 13);
        assert_eq!(layout.dims.as_slice(), &[3, 4]);
        // A 2-d kernel [kh][kw][c][f] (3×3, 1 channel, 3 filters): (1, 2, 0, 2), at
        // ((1·3 + 2)·1 + 0)·3 + 2, is ours [2][0][1][2].
        let conv = Layout::of(&CONV, 0, Part::Weight, true);
        assert_eq!(conv.index(5 * 3 + 2), 2 * 9 + 3 + 2);
        // The dense layer after the 4×2×2 conv reads rows (y, x, c): row (1, 0, 3) is our input
        // 3·4 + 1·2 + 0 = 14, and output 4 of row r is element 5r + 4.
        let dense = Layout::of(&CONV, 3, Part::Weight, true);
        let row = 2 * 4 + 3; // position y·2 + x = 2, channel 3
        assert_eq!(dense.index(5 * row + 4), 4 * 16 + 14);
    }

    #[test]
    #[cfg_attr(miri, ignore = "safe code (no unsafe below it), slow under Miri")]
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
}
