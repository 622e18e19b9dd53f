//! The element types of the format, their sizes, and the exact conversion of the floating-point
//! ones to `f64`.

use core::fmt;

/// An element type of the format (its `dtype` string).
///
/// Every type whose elements are whole bytes is read, so that a file's offsets can be checked
/// whatever it holds; the floating-point ones ([`is_float`](Self::is_float)) load into a network.
///
/// ```
/// use backprop_core::safetensors::Dtype;
/// assert_eq!((Dtype::BF16.size(), Dtype::BF16.name()), (2, "BF16"));
/// assert_eq!(Dtype::BF16.to_f64(&[0x80, 0x3F]), Some(1.0));
/// assert_eq!(Dtype::I8.to_f64(&[1]), None); // not a float: not loaded
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(non_camel_case_types)] // the format's own names, as the Rust crate `safetensors` spells them
pub enum Dtype {
    /// Booleans, one byte each.
    BOOL,
    /// Unsigned 8-bit integers.
    U8,
    /// Signed 8-bit integers.
    I8,
    /// 8-bit floats, 5 exponent bits.
    F8_E5M2,
    /// 8-bit floats, 4 exponent bits.
    F8_E4M3,
    /// Signed 16-bit integers.
    I16,
    /// Unsigned 16-bit integers.
    U16,
    /// IEEE 754 half precision.
    F16,
    /// bfloat16: the upper half of an `f32`.
    BF16,
    /// Signed 32-bit integers.
    I32,
    /// Unsigned 32-bit integers.
    U32,
    /// IEEE 754 single precision.
    F32,
    /// Signed 64-bit integers.
    I64,
    /// Unsigned 64-bit integers.
    U64,
    /// IEEE 754 double precision.
    F64,
}

const ALL: [Dtype; 15] = [
    Dtype::BOOL,
    Dtype::U8,
    Dtype::I8,
    Dtype::F8_E5M2,
    Dtype::F8_E4M3,
    Dtype::I16,
    Dtype::U16,
    Dtype::F16,
    Dtype::BF16,
    Dtype::I32,
    Dtype::U32,
    Dtype::F32,
    Dtype::I64,
    Dtype::U64,
    Dtype::F64,
];

impl Dtype {
    /// The name the header uses, as `"F32"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::BOOL => "BOOL",
            Self::U8 => "U8",
            Self::I8 => "I8",
            Self::F8_E5M2 => "F8_E5M2",
            Self::F8_E4M3 => "F8_E4M3",
            Self::I16 => "I16",
            Self::U16 => "U16",
            Self::F16 => "F16",
            Self::BF16 => "BF16",
            Self::I32 => "I32",
            Self::U32 => "U32",
            Self::F32 => "F32",
            Self::I64 => "I64",
            Self::U64 => "U64",
            Self::F64 => "F64",
        }
    }

    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            Self::BOOL | Self::U8 | Self::I8 | Self::F8_E5M2 | Self::F8_E4M3 => 1,
            Self::I16 | Self::U16 | Self::F16 | Self::BF16 => 2,
            Self::I32 | Self::U32 | Self::F32 => 4,
            Self::I64 | Self::U64 | Self::F64 => 8,
        }
    }

    /// Whether elements load into a network: `F64`, `F32`, `F16` and `BF16`. (The 8-bit floats
    /// are quantisation formats with scales kept elsewhere, not weights by themselves.)
    pub const fn is_float(self) -> bool {
        matches!(self, Self::F64 | Self::F32 | Self::F16 | Self::BF16)
    }

    /// The type a network of scalar tag `tag` ([`Scalar::TAG`](crate::Scalar::TAG)) writes:
    /// `F32` for `f32`, `F64` for `f64` and for the fixed-point [`I16F16`](crate::I16F16) (exact).
    pub(crate) const fn of_scalar_tag(tag: u8) -> Self {
        if tag == 4 { Self::F32 } else { Self::F64 }
    }

    pub(crate) fn parse(name: super::json::JsonStr<'_>) -> Option<Self> {
        ALL.into_iter().find(|d| name.is(&[d.name()]))
    }

    /// The value of one little-endian element of a floating-point type, exactly (every `F32`,
    /// `F16` and `BF16` value is an `f64`); `None` for another type or a slice of the wrong length.
    pub fn to_f64(self, bytes: &[u8]) -> Option<f64> {
        match (self, bytes) {
            (Self::F64, &[a, b, c, d, e, f, g, h]) => Some(f64::from_le_bytes([a, b, c, d, e, f, g, h])),
            (Self::F32, &[a, b, c, d]) => Some(f64::from(f32::from_le_bytes([a, b, c, d]))),
            (Self::BF16, &[a, b]) => {
                Some(f64::from(f32::from_bits(u32::from(u16::from_le_bytes([a, b])) << 16)))
            }
            (Self::F16, &[a, b]) => Some(f16_to_f64(u16::from_le_bytes([a, b]))),
            _ => None,
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// IEEE 754 binary16 to `f64`, exactly: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits.
pub(crate) fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 == 0 { 1.0 } else { -1.0 };
    let exponent = i32::from((bits >> 10) & 0x1F);
    let fraction = f64::from(bits & 0x3FF);
    match exponent {
        0 => sign * fraction * TWO_POW_MINUS_24, // zero and subnormals: fraction · 2⁻²⁴
        0x1F if fraction == 0.0 => sign * f64::INFINITY,
        0x1F => f64::NAN,
        _ => sign * (1024.0 + fraction) * pow2(exponent - 25),
    }
}

const TWO_POW_MINUS_24: f64 = 1.0 / 16_777_216.0;

/// `2^e` for the exponents of binary16 (`-24..=5`), exactly.
fn pow2(e: i32) -> f64 {
    // Biased exponent of f64 is `e + 1023`, in range for these `e`.
    f64::from_bits(u64::from((e + 1023).unsigned_abs()) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_is_exact() {
        let cases: [(u16, f64); 10] = [
            (0x0000, 0.0),
            (0x3C00, 1.0),
            (0xC000, -2.0),
            (0x3555, 0.333_251_953_125),
            (0x7BFF, 65504.0),
            (0x0001, 5.960_464_477_539_063e-8),
            (0x03FF, 6.097_555_160_522_461e-5),
            (0x0400, 6.103_515_625e-5),
            (0x7C00, f64::INFINITY),
            (0xFC00, f64::NEG_INFINITY),
        ];
        for (bits, value) in cases {
            assert_eq!(f16_to_f64(bits), value, "{bits:#06x}");
        }
        assert!(f16_to_f64(0x7E00).is_nan());
        assert!(f16_to_f64(0x8000).is_sign_negative());
    }

    #[test]
    #[cfg_attr(miri, ignore = "safe code (no unsafe below it), slow under Miri")]
    fn every_half_agrees_with_the_bit_level_widening() {
        // f16 → f32 by shifting fraction and rebiasing the exponent (normal numbers).
        for bits in 0u16..=0xFFFF {
            let exponent = (bits >> 10) & 0x1F;
            if exponent == 0 || exponent == 0x1F {
                continue;
            }
            let f32_bits = (u32::from(bits & 0x8000) << 16)
                | ((u32::from(exponent) + 112) << 23)
                | (u32::from(bits & 0x3FF) << 13);
            assert_eq!(f16_to_f64(bits), f64::from(f32::from_bits(f32_bits)), "{bits:#06x}");
        }
    }

    #[test]
    fn names_round_trip() {
        for d in ALL {
            let raw = d.name();
            assert_eq!(Dtype::parse(super::super::json::JsonStr::from_raw(raw)), Some(d));
        }
    }
}
