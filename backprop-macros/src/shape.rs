//! The shapes of the model: sizes as written or computed, the shape of a sample between layers,
//! and a layer's checked arguments.

use proc_macro2::TokenStream;
use quote::ToTokens;

use crate::kinds;

/// A size as written (or computed from sizes as written), with its value when it is a literal.
#[derive(Clone)]
pub struct SizeModel {
    pub tokens: TokenStream,
    pub literal: Option<u64>,
    /// How docs and messages show it: the tokens as written, the value, or a formula
    /// (`(H - 5) / 2 + 1`) for an output size computed from constant expressions.
    pub shown: String,
}

impl SizeModel {
    /// A literal size.
    pub fn literal(value: u64) -> Self {
        Self {
            tokens: proc_macro2::Literal::u64_unsuffixed(value).into_token_stream(),
            literal: Some(value),
            shown: value.to_string(),
        }
    }
}

/// The shape of one sample between layers: `[N]` (a vector), `[C, L]` or `[C, H, W]`.
#[derive(Clone)]
pub struct Shape {
    pub dims: Vec<SizeModel>,
}

impl Shape {
    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    /// The number of scalars: the size itself for a vector (as written), else the product (a
    /// literal when every size is one).
    pub fn len(&self) -> SizeModel {
        if let [one] = self.dims.as_slice() {
            return one.clone();
        }
        let product = self.dims.iter().try_fold(1u64, |p, d| d.literal.and_then(|v| p.checked_mul(v)));
        match product {
            Some(v) if v <= u64::from(u32::MAX) => SizeModel::literal(v),
            _ => {
                let mut tokens = TokenStream::new();
                for (i, d) in self.dims.iter().enumerate() {
                    if i > 0 {
                        tokens.extend(quote::quote!(*));
                    }
                    tokens.extend(kinds::operand(&d.tokens));
                }
                let shown = self.dims.iter().map(|d| d.shown.as_str()).collect::<Vec<_>>().join(" × ");
                SizeModel { tokens, literal: None, shown }
            }
        }
    }

    /// The product of the sizes in `u128`, when they are literals.
    pub fn literal_len(&self) -> Option<u128> {
        self.dims.iter().try_fold(1u128, |p, d| d.literal.map(|v| p * u128::from(v)))
    }

    /// `2`, or `[1, 28, 28]`: as docs and messages show it.
    pub fn text(&self) -> String {
        match self.dims.as_slice() {
            [one] => one.shown.clone(),
            dims => format!("[{}]", dims.iter().map(|d| d.shown.as_str()).collect::<Vec<_>>().join(", ")),
        }
    }

    /// "a vector of 120 values", "channels × height × width [6, 24, 24]".
    pub fn describe(&self) -> String {
        match self.rank() {
            1 => format!("a vector of {} values", self.dims[0].shown),
            2 => format!("channels × length {}", self.text()),
            _ => format!("channels × height × width {}", self.text()),
        }
    }

    /// The array type of one sample, in `T`: `[T; N]`, `[[T; L]; C]`, `[[[T; W]; H]; C]`.
    pub fn array(&self) -> TokenStream {
        self.dims.iter().rev().fold(quote::quote!(T), |inner, d| {
            let len = crate::tokens::array_len(&d.tokens);
            quote::quote!([#inner; #len])
        })
    }

    /// The same array type as docs show it.
    pub fn array_text(&self) -> String {
        self.dims.iter().rev().fold("T".to_string(), |inner, d| format!("[{inner}; {}]", d.shown))
    }
}

/// How a convolution pads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    Valid,
    Same,
}

impl Padding {
    pub fn name(self) -> &'static str {
        match self {
            Self::Valid => "Valid",
            Self::Same => "Same",
        }
    }
}

/// The arguments of a layer, checked: its sizes in the kind's order, and its options resolved.
pub struct Args {
    pub sizes: Vec<SizeModel>,
    /// The stride: as written, else the default (1 for a convolution, the window for a pool).
    pub stride: SizeModel,
    pub stride_written: bool,
    pub padding: Padding,
}
