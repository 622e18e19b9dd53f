//! [`Geometry`]: the shapes a layer reads and writes, and the window it slides over its input.

use core::fmt;

use crate::conv::Padding;

/// How a sliding layer pads its input, as [`Geometry`] records it: [`Valid`](crate::conv::Valid)
/// or [`Same`](crate::conv::Same) (see [`conv`](crate::conv), "Padding"). Layers without a window
/// are `Valid`.
///
/// ```
/// use backprop_core::conv::Same;
/// use backprop_core::layer::PaddingKind;
/// assert_eq!(PaddingKind::of::<Same>(), PaddingKind::Same);
/// assert_eq!(PaddingKind::from_tag(PaddingKind::Same.tag()), Some(PaddingKind::Same));
/// assert_eq!(PaddingKind::Valid.name(), "valid");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PaddingKind {
    /// No padding.
    Valid,
    /// Zeros around the input so that the output has `ceil(n / s)` positions.
    Same,
}

impl PaddingKind {
    /// The kind of the padding type `P`.
    pub const fn of<P: Padding>() -> Self {
        if P::SAME { Self::Same } else { Self::Valid }
    }

    /// The name in a `network!` spec: `"valid"` or `"same"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Same => "same",
        }
    }

    /// The byte that stands for it in serialised headers: `0` valid, `1` same.
    pub const fn tag(self) -> u8 {
        match self {
            Self::Valid => 0,
            Self::Same => 1,
        }
    }

    /// The kind of a tag, `None` for a tag this build does not know.
    pub const fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            0 => Some(Self::Valid),
            1 => Some(Self::Same),
            _ => None,
        }
    }
}

/// The geometry of a layer: the shape of one sample at its input and at its output, in PyTorch's
/// order without the batch axis (`[features]`, `[channels, length]` or `[channels, height,
/// width]`), and, for a layer that slides a window over its input, the window's size and stride
/// along each spatial axis and the padding. Recorded in [`LayerInfo::geometry`](crate::LayerInfo)
/// and in serialised headers; the safetensors conventions read their kernel shapes from it.
///
/// | layer | input | output | kernel | stride |
/// |---|---|---|---|---|
/// | [`Dense`](crate::Dense) `I → O` | `[I]` | `[O]` | `[]` | `[]` |
/// | [`Conv2d`](crate::conv::Conv2d), 2-d pools | `[C, H, W]` | `[F, HO, WO]` | `[K, K]` | `[S, S]` |
/// | [`Conv1d`](crate::conv::Conv1d), 1-d pools | `[C, L]` | `[F, LO]` | `[K]` | `[S]` |
/// | [`GlobalAvgPool2d`](crate::conv::GlobalAvgPool2d) | `[C, H, W]` | `[C]` | `[H, W]` | `[H, W]` |
///
/// (A pool's `F` is its `C`; a global pool is one window over each whole channel, its stride
/// PyTorch's default, the window.) Small (44 bytes), `Copy`, and built in `const`s.
///
/// ```
/// use backprop_core::conv::{Conv2d, Same};
/// use backprop_core::layer::{Geometry, PaddingKind};
/// use backprop_core::{Dense, LayerInfo, Relu};
/// const CONV: LayerInfo = LayerInfo::of::<f32, Conv2d<f32, Same, 1, 28, 28, 6, 5, 2, 14, 14>, Relu>("conv1");
/// let g = CONV.geometry;
/// assert_eq!((g.input(), g.output()), (&[1, 28, 28][..], &[6, 14, 14][..]));
/// assert_eq!((g.kernel(), g.stride(), g.padding()), (&[5, 5][..], &[2, 2][..], PaddingKind::Same));
/// assert_eq!(g.to_string(), "1×28×28→6×14×14 (kernel 5×5, stride 2×2, same)");
///
/// const DENSE: LayerInfo = LayerInfo::of::<f32, Dense<f32, 3, 4>, Relu>("hidden");
/// assert_eq!(DENSE.geometry, Geometry::dense(3, 4));
/// assert_eq!((DENSE.geometry.kernel(), DENSE.geometry.to_string()), (&[][..], "3→4".to_string()));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Geometry {
    /// The input's dimensions, the output's, the kernel's, the stride's, in that order (that of
    /// the header); unused entries are zero, so that `==` compares geometries.
    dims: [u32; 10],
    input_rank: u8,
    output_rank: u8,
    padding: PaddingKind,
}

/// `x`, or `u32::MAX` if it does not fit.
const fn saturating_u32(x: usize) -> u32 {
    if x > u32::MAX as usize { u32::MAX } else { x as u32 }
}

/// `dims[start..start + len]`, or nothing if out of range (never, for a geometry's ranks).
const fn part(dims: &[u32], start: usize, len: usize) -> &[u32] {
    match dims.split_at_checked(start) {
        Some((_, rest)) => match rest.split_at_checked(len) {
            Some((part, _)) => part,
            None => &[],
        },
        None => &[],
    }
}

/// The product of `dims`, saturating.
const fn product(dims: &[u32]) -> usize {
    let (mut p, mut i) = (1usize, 0);
    while i < dims.len() {
        p = p.saturating_mul(dims[i] as usize);
        i += 1;
    }
    p
}

impl Geometry {
    /// A layer without a window from `inputs` features to `outputs` (the default of
    /// [`Layer::GEOMETRY`](crate::Layer::GEOMETRY)).
    pub const fn dense(inputs: usize, outputs: usize) -> Self {
        let mut dims = [0; 10];
        dims[0] = saturating_u32(inputs);
        dims[1] = saturating_u32(outputs);
        Self { dims, input_rank: 1, output_rank: 1, padding: PaddingKind::Valid }
    }

    /// A window of `kernel` positions along each spatial axis sliding at stride `stride` with
    /// padding `P`, from `input` (`[C, L]` or `[C, H, W]`) to `output` (of the same rank): a
    /// convolution or a pool.
    ///
    /// # Panics
    ///
    /// If `input` has not 2 or 3 dimensions or `output` another number (in a `const`, a compile
    /// error).
    pub const fn sliding<P: Padding>(
        input: &[usize],
        output: &[usize],
        kernel: usize,
        stride: usize,
    ) -> Self {
        assert!(
            (input.len() == 2 || input.len() == 3) && output.len() == input.len(),
            "a sliding layer's input and output are [C, L] or [C, H, W]"
        );
        let (rank, spatial) = (input.len(), input.len() - 1);
        let mut dims = [0; 10];
        let mut i = 0;
        while i < rank {
            dims[i] = saturating_u32(input[i]);
            dims[rank + i] = saturating_u32(output[i]);
            if i < spatial {
                dims[2 * rank + i] = saturating_u32(kernel);
                dims[2 * rank + spatial + i] = saturating_u32(stride);
            }
            i += 1;
        }
        Self { dims, input_rank: rank as u8, output_rank: rank as u8, padding: PaddingKind::of::<P>() }
    }

    /// One window over each whole channel of `input` (`[C, L]` or `[C, H, W]`), output `[C]`:
    /// global pooling.
    ///
    /// # Panics
    ///
    /// If `input` has not 2 or 3 dimensions (in a `const`, a compile error).
    pub const fn global(input: &[usize]) -> Self {
        assert!(input.len() == 2 || input.len() == 3, "a global pool's input is [C, L] or [C, H, W]");
        let (rank, spatial) = (input.len(), input.len() - 1);
        let mut dims = [0; 10];
        dims[rank] = saturating_u32(input[0]);
        let mut i = 0;
        while i < rank {
            dims[i] = saturating_u32(input[i]);
            if i > 0 {
                dims[rank + i] = dims[i]; // kernel
                dims[rank + spatial + i] = dims[i]; // stride
            }
            i += 1;
        }
        Self { dims, input_rank: rank as u8, output_rank: 1, padding: PaddingKind::Valid }
    }

    /// Spatial axes of the input: the kernel's and the stride's length.
    const fn spatial(&self) -> usize {
        (self.input_rank as usize).saturating_sub(1)
    }

    /// The shape of one sample at the input: `[features]`, `[C, L]` or `[C, H, W]`.
    pub const fn input(&self) -> &[u32] {
        part(&self.dims, 0, self.input_rank as usize)
    }

    /// The shape of one sample at the output.
    pub const fn output(&self) -> &[u32] {
        part(&self.dims, self.input_rank as usize, self.output_rank as usize)
    }

    /// The window's size along each spatial axis of the input; empty for a layer without one.
    pub const fn kernel(&self) -> &[u32] {
        part(&self.dims, self.input_rank as usize + self.output_rank as usize, self.spatial())
    }

    /// The window's stride along each spatial axis of the input; empty for a layer without one.
    pub const fn stride(&self) -> &[u32] {
        part(
            &self.dims,
            self.input_rank as usize + self.output_rank as usize + self.spatial(),
            self.spatial(),
        )
    }

    /// The padding.
    pub const fn padding(&self) -> PaddingKind {
        self.padding
    }

    /// Elements of one sample at the input (the product of [`input`](Self::input), saturating).
    pub const fn input_len(&self) -> usize {
        product(self.input())
    }

    /// Elements of one sample at the output.
    pub const fn output_len(&self) -> usize {
        product(self.output())
    }

    /// Positions of the window (the product of [`kernel`](Self::kernel); `1` without one).
    pub const fn kernel_len(&self) -> usize {
        product(self.kernel())
    }

    /// Whether this is the geometry of a layer without a window (one-dimensional input and
    /// output), which its sizes determine.
    pub const fn is_dense(&self) -> bool {
        self.input_rank == 1 && self.output_rank == 1
    }

    /// Dimensions in all: input, output, kernel and stride.
    const fn len(&self) -> usize {
        self.input_rank as usize + self.output_rank as usize + 2 * self.spatial()
    }

    /// Bytes of the geometry in a serialised header: its dimensions as `u32`, then the padding's
    /// tag.
    pub(crate) const fn encoded_len(&self) -> usize {
        4 * self.len() + 1
    }

    /// The dimensions in header order: input, output, kernel, stride.
    pub(crate) fn values(&self) -> &[u32] {
        part(&self.dims, 0, self.len())
    }

    /// As [`values`](Self::values), to be overwritten: the dimensions of a geometry of the same
    /// ranks read from a header.
    pub(crate) fn values_mut(&mut self) -> &mut [u32] {
        let len = self.len();
        self.dims.get_mut(..len).unwrap_or_default()
    }

    /// The same geometry with another padding.
    pub(crate) const fn with_padding(mut self, padding: PaddingKind) -> Self {
        self.padding = padding;
        self
    }
}

/// Dimensions joined by `×`.
fn write_dims(f: &mut fmt::Formatter<'_>, dims: &[u32]) -> fmt::Result {
    for (i, d) in dims.iter().enumerate() {
        if i > 0 {
            f.write_str("×")?;
        }
        write!(f, "{d}")?;
    }
    Ok(())
}

impl fmt::Display for Geometry {
    /// `3→4` for a dense layer; `1×28×28→6×24×24 (kernel 5×5, stride 1×1, valid)` for a sliding
    /// one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_dims(f, self.input())?;
        f.write_str("→")?;
        write_dims(f, self.output())?;
        if self.kernel().is_empty() {
            return Ok(());
        }
        f.write_str(" (kernel ")?;
        write_dims(f, self.kernel())?;
        f.write_str(", stride ")?;
        write_dims(f, self.stride())?;
        write!(f, ", {})", self.padding.name())
    }
}

impl fmt::Debug for Geometry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Geometry({self})")
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;
    use crate::conv::{Same, Valid};

    #[test]
    fn each_kind_of_layer_has_its_shapes() {
        let pool = Geometry::sliding::<Valid>(&[3, 8], &[3, 4], 2, 2);
        assert_eq!(
            (pool.input(), pool.output(), pool.kernel(), pool.stride()),
            (&[3, 8][..], &[3, 4][..], &[2][..], &[2][..])
        );
        assert_eq!(pool.to_string(), "3×8→3×4 (kernel 2, stride 2, valid)");
        let global = Geometry::global(&[4, 5, 6]);
        assert_eq!(
            (global.input(), global.output(), global.kernel()),
            (&[4, 5, 6][..], &[4][..], &[5, 6][..])
        );
        assert_eq!((global.input_len(), global.output_len(), global.kernel_len()), (120, 4, 30));
        assert_eq!(global.to_string(), "4×5×6→4 (kernel 5×6, stride 5×6, valid)");
        let dense = Geometry::dense(usize::MAX, 2);
        assert_eq!((dense.input(), dense.kernel_len()), (&[u32::MAX][..], 1));
        assert_eq!(std::format!("{dense:?}"), "Geometry(4294967295→2)");
    }

    #[test]
    fn the_header_form_reads_back() {
        let g = Geometry::sliding::<Same>(&[1, 6, 6], &[3, 3, 3], 3, 2);
        assert_eq!(g.values(), [1, 6, 6, 3, 3, 3, 3, 3, 2, 2]);
        assert_eq!(g.encoded_len(), 4 * 10 + 1);
        let mut back =
            Geometry::sliding::<Valid>(&[0, 0, 0], &[0, 0, 0], 0, 0).with_padding(PaddingKind::Same);
        back.values_mut().copy_from_slice(g.values());
        assert_eq!(back, g);
        assert_eq!(Geometry::dense(3, 4).encoded_len(), 9);
        assert!(Geometry::dense(3, 4).is_dense() && !g.is_dense());
        assert_eq!(PaddingKind::from_tag(2), None);
    }
}
