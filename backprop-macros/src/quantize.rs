//! `#[quantized(NameInt8)]`: the int8 form of a network, as a generated fixed-size type (one
//! `QDense` per layer, const-constructible, so it can sit in flash), with its integer-only
//! `forward` and the network's post-training `quantize` from calibration inputs.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

/// What the expansion of the float network already computed, reused here.
pub struct Pieces<'a> {
    pub network: &'a Ident,
    pub private: &'a TokenStream,
    pub bounds: &'a TokenStream,
    pub vis: &'a syn::Visibility,
    pub names: &'a [&'a Ident],
    pub in_args: &'a [TokenStream],
    pub out_args: &'a [TokenStream],
    pub acts: &'a [TokenStream],
    pub input_size: &'a TokenStream,
    pub output_size: &'a TokenStream,
}

pub fn expand(quantized: &Ident, p: &Pieces<'_>) -> TokenStream {
    let Pieces { network, private, bounds, vis, names, in_args, out_args, acts, input_size, output_size } = p;
    let last = names.last().expect("validated: at least one layer");
    let count = names.len();
    let indices: Vec<syn::Index> = (0..count).map(syn::Index::from).collect();
    // Each layer's input parameters: the network's input, then the previous layer's output.
    let previous: Vec<TokenStream> =
        std::iter::once(quote!(input)).chain(names[..count - 1].iter().map(|n| quote!(#n.output))).collect();
    // Each layer's int8 input in `forward`: the network's, then the previous layer's output.
    let previous_inputs: Vec<TokenStream> =
        std::iter::once(quote!(input)).chain(names[..count - 1].iter().map(|n| quote!(&#n))).collect();
    let doc = format!(
        " The int8 form of [`{network}`]: symmetric per-channel int8 weights, int32 biases, asymmetric int8 activations and fixed-point requantization (the integer arithmetic of TensorFlow Lite Micro; see `backprop::quant`). Built by [`{network}::quantize`]; every field is public, so a quantized network can be written as a constant and live in flash."
    );
    let quantize_doc = format!(
        " Post-training quantization into a [`{quantized}`]: the float forward pass runs on every calibration input, and the ranges of the input and of every layer's `z` and `a` (minimum and maximum) set the int8 scales and zero points."
    );
    quote! {
        #[doc = #doc]
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug, ::core::cmp::PartialEq)]
        #vis struct #quantized {
            /// The quantization of the network's input.
            pub input: #private::QParams,
            #(
                /// A layer, quantized.
                pub #names: #private::QDense<#in_args, #out_args>,
            )*
        }

        impl #quantized {
            /// Integer-only inference: int8 in, int8 out (no floating-point operation).
            pub fn forward(&self, x: &[i8; #input_size]) -> [i8; #output_size] {
                let input = x;
                #( let #names = self.#names.forward(#previous_inputs); )*
                #last
            }

            /// The int8 input for a float one, with the calibrated input scale and zero point.
            pub fn quantize_input<T: #private::Scalar>(&self, x: &[T; #input_size]) -> [i8; #input_size] {
                self.input.quantize_all(x)
            }

            /// The real values an int8 output stands for.
            pub fn dequantize_output(&self, y: &[i8; #output_size]) -> [f64; #output_size] {
                self.#last.output.dequantize_all(y)
            }
        }

        impl<T: #private::Scalar> #network<T> #bounds {
            #[doc = #quantize_doc]
            ///
            /// # Errors
            ///
            /// When there is no calibration input, or a range is not finite.
            pub fn quantize(&self, calibration: &[[T; #input_size]]) -> ::core::result::Result<#quantized, #private::QuantError> {
                let mut input = #private::Range::EMPTY;
                let mut ranges = [(#private::Range::EMPTY, #private::Range::EMPTY); #count];
                let mut trace = <Self as #private::Network<T>>::new_trace();
                for x in calibration {
                    input.include(&x[..]);
                    <Self as #private::Network<T>>::forward_trace(self, x, &mut trace);
                    #(
                        ranges[#indices].0.include(&trace.#names.z[..]);
                        ranges[#indices].1.include(&trace.#names.a[..]);
                    )*
                }
                if input.is_empty() {
                    return ::core::result::Result::Err(#private::QuantError::EmptyRange { what: "input" });
                }
                let input = #private::QParams::from_range(input);
                #(
                    let #names = #private::QDense::quantize::<T, #acts>(&self.#names, #previous, ranges[#indices].0, ranges[#indices].1)?;
                )*
                ::core::result::Result::Ok(#quantized { input, #(#names),* })
            }
        }
    }
}
