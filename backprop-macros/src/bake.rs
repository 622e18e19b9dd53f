//! `#[weights(NAME = "file.safetensors")]`: a safetensors file read at compile time and baked into
//! an associated `const` of the network, built with the `const fn` constructors, so a firmware
//! carries weights trained elsewhere with no parser. Every mismatch between the file and the spec
//! is a compile error on the path.

use std::path::{Path, PathBuf};

use backprop_core::safetensors::SafeTensors;
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Attribute, Ident, LitStr};

use crate::ctxt::Ctxt;
use crate::model::{Layer, SizeModel, nearest};

/// The tensor naming conventions, as `backprop::Naming` (without `Custom`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Naming {
    Layers,
    Sequential,
    Flax,
}

const NAMINGS: [(&str, Naming); 3] =
    [("Layers", Naming::Layers), ("Sequential", Naming::Sequential), ("Flax", Naming::Flax)];
const SCALARS: [&str; 2] = ["f32", "f64"];

/// One `#[weights(...)]` attribute, checked.
pub struct Bake {
    name: Ident,
    path: LitStr,
    naming: Naming,
    scalars: Vec<&'static str>,
}

/// `#[weights(NAME = "path", naming = Sequential, scalar = f32)]`.
pub fn parse_attr(cx: &mut Ctxt, attr: &Attribute) -> Option<Bake> {
    const USAGE: &str = "expected `#[weights(NAME = \"file.safetensors\")]`, optionally with `naming = Layers | Sequential | Flax` and `scalar = f32 | f64`";
    let (mut target, mut naming, mut scalars) = (None::<(Ident, LitStr)>, None, Vec::new());
    let result = attr.parse_nested_meta(|meta| {
        let key = meta.path.get_ident().cloned().ok_or_else(|| meta.error(USAGE))?;
        if key == "naming" {
            let value: Ident = meta.value()?.parse()?;
            let found = NAMINGS.iter().find(|(n, _)| value == n).map(|&(_, n)| n);
            naming = Some(found.ok_or_else(|| {
                syn::Error::new(value.span(), format!("unknown naming `{value}`; the namings are `Layers` (`hidden.weight`, the default), `Sequential` (`0.weight`) and `Flax` (`params.Dense_0.kernel`)"))
            })?);
        } else if key == "scalar" {
            let value: Ident = meta.value()?.parse()?;
            let found = SCALARS.iter().find(|s| value == s).copied();
            scalars.push(found.ok_or_else(|| syn::Error::new(value.span(), format!("unknown scalar `{value}`; write `f32` or `f64`")))?);
        } else if target.is_none() {
            let path: LitStr = meta.value().map_err(|_| meta.error(USAGE))?.parse()?;
            target = Some((key, path));
        } else {
            return Err(meta.error(format!("one file per `#[weights(...)]`; give `{key}` its own attribute")));
        }
        Ok(())
    });
    if let Err(e) = result {
        cx.syn_error(e);
        return None;
    }
    let Some((name, path)) = target else {
        cx.error_spanned_by(attr, USAGE);
        return None;
    };
    if scalars.is_empty() {
        scalars = SCALARS.to_vec();
    }
    Some(Bake { name, path, naming: naming.unwrap_or(Naming::Layers), scalars })
}

/// A layer's parameters from the file, in the network's order: weights `[out][in]`, biases.
struct LayerValues {
    weights: Vec<Vec<f64>>,
    biases: Vec<f64>,
}

/// A file read and matched against the spec.
pub struct Baked {
    bake: Bake,
    file: PathBuf,
    layers: Vec<LayerValues>,
    /// Sizes that are const expressions, with the value the file implies, for a const check.
    checks: Vec<(TokenStream, u64, String)>,
}

/// Where `path` points: relative to the file of the invocation, as `include_bytes!`, when the
/// compiler says which file that is; else to the crate's manifest directory.
fn resolve(path: &LitStr) -> PathBuf {
    let written = PathBuf::from(path.value());
    if written.is_absolute() {
        return written;
    }
    let source = proc_macro::is_available().then(|| path.span().unwrap().local_file()).flatten();
    let base = match source.as_deref().and_then(Path::parent) {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default()),
    };
    base.join(written)
}

/// Reads and checks the file of `bake` against the layers; errors go to `cx`, on the path.
pub fn load(cx: &mut Ctxt, bake: Bake, input: &SizeModel, layers: &[Layer]) -> Option<Baked> {
    let file = resolve(&bake.path);
    let shown = bake.path.value();
    let span = bake.path.span();
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) => {
            let base = if Path::new(&shown).is_absolute() {
                ""
            } else {
                " (a relative path starts at the directory of the file that invokes `network!`)"
            };
            cx.error_at(span, format!("cannot read `{shown}`: {e}{base}"));
            return None;
        }
    };
    // Absolute for `include_bytes!`, which would take a relative path from the invoking file.
    let file = std::fs::canonicalize(&file).unwrap_or(file);
    let st = match SafeTensors::parse(&bytes) {
        Ok(st) => st,
        Err(e) => {
            cx.error_at(span, format!("`{shown}` is not a valid safetensors file: {e}"));
            return None;
        }
    };
    let names: Vec<String> = st.tensors().map(|t| t.name().chars().collect()).collect();
    let sequential = sequential_indices(&names);
    let mut used = vec![false; names.len()];
    let mut out = Baked { layers: Vec::new(), checks: Vec::new(), file, bake };
    let mut ok = true;
    let mut inputs = input;
    for (k, layer) in layers.iter().enumerate() {
        let (weight_name, bias_name) = match out.bake.naming {
            Naming::Layers => (format!("{}.weight", layer.name), format!("{}.bias", layer.name)),
            Naming::Flax => (format!("params.Dense_{k}.kernel"), format!("params.Dense_{k}.bias")),
            Naming::Sequential => match sequential.get(k) {
                Some(i) => (format!("{i}.weight"), format!("{i}.bias")),
                None => (format!("{}.weight", 2 * k), format!("{}.bias", 2 * k)),
            },
        };
        let transposed = out.bake.naming == Naming::Flax;
        let mut values = LayerValues { weights: Vec::new(), biases: Vec::new() };
        for (tensor_name, is_weight) in [(weight_name, true), (bias_name, false)] {
            let Some(position) = names.iter().position(|n| *n == tensor_name) else {
                let hint = nearest(&tensor_name, names.iter().map(String::as_str))
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                cx.error_at(
                    span,
                    format!("tensor `{tensor_name}` (layer `{}`) is not in `{shown}`{hint}", layer.name),
                );
                ok = false;
                continue;
            };
            if let Some(u) = used.get_mut(position) {
                *u = true;
            }
            let Some(tensor) = st.tensors().nth(position) else { continue };
            if !tensor.dtype().is_float() {
                cx.error_at(span, format!("tensor `{tensor_name}` in `{shown}` is {}; only F64, F32, F16 and BF16 convert to the network's scalar", tensor.dtype()));
                ok = false;
                continue;
            }
            let file_dims = tensor.shape();
            let (rows, cols) = match (is_weight, file_dims.as_slice()) {
                (true, &[a, b]) if transposed => (b, a),
                (true, &[a, b]) => (a, b),
                (false, &[n]) => (n, 1),
                _ => {
                    let expected =
                        if is_weight { if transposed { "[in, out]" } else { "[out, in]" } } else { "[out]" };
                    cx.error_at(span, format!("tensor `{tensor_name}` has shape {file_dims} in `{shown}`; layer `{}` needs {expected}", layer.name));
                    ok = false;
                    continue;
                }
            };
            // The network's shape, where its sizes are literals; a const check where they are not.
            let want_out = layer.size.literal;
            let want_in = if is_weight { inputs.literal } else { Some(1) };
            let network_shape = {
                let show = |v: Option<u64>, tokens: &TokenStream| {
                    v.map_or_else(|| tokens.to_string(), |v| v.to_string())
                };
                let (o, i) = (show(want_out, &layer.size.tokens), show(want_in, &inputs.tokens));
                match (is_weight, transposed) {
                    (true, false) => format!("[{o}, {i}]"),
                    (true, true) => format!("[{i}, {o}]"),
                    (false, _) => format!("[{o}]"),
                }
            };
            if want_out.is_some_and(|o| o != rows) || want_in.is_some_and(|i| i != cols) {
                cx.error_at(span, format!("tensor `{tensor_name}` has shape {file_dims} in `{shown}`, {network_shape} in the network (layer `{}`)", layer.name));
                ok = false;
                continue;
            }
            for (known, tokens, value) in
                [(want_out, &layer.size.tokens, rows), (want_in, &inputs.tokens, cols)]
            {
                if known.is_none() {
                    out.checks.push((tokens.clone(), value, format!("tensor `{tensor_name}` has shape {file_dims} in `{shown}`, {network_shape} in the network (layer `{}`)", layer.name)));
                }
            }
            let mut flat = Vec::new();
            for j in 0..usize::try_from(tensor.elements()).unwrap_or(0) {
                let value = tensor.value(j).unwrap_or(f64::NAN);
                let narrowest =
                    if out.bake.scalars.contains(&"f32") { f64::from(value as f32) } else { value };
                if !narrowest.is_finite() {
                    cx.error_at(
                        span,
                        format!(
                            "tensor `{tensor_name}` in `{shown}` has a non-finite value at element {j}{}",
                            if value.is_finite() { " once rounded to f32" } else { "" }
                        ),
                    );
                    ok = false;
                    break;
                }
                flat.push(value);
            }
            if is_weight {
                let (rows, cols) = (rows as usize, cols as usize);
                values.weights = (0..rows)
                    .map(|o| {
                        (0..cols)
                            .map(|i| {
                                flat.get(if transposed { i * rows + o } else { o * cols + i })
                                    .copied()
                                    .unwrap_or(0.0)
                            })
                            .collect()
                    })
                    .collect();
            } else {
                values.biases = flat;
            }
        }
        out.layers.push(values);
        inputs = &layer.size;
    }
    for (name, _) in names.iter().zip(&used).filter(|(_, used)| !**used) {
        cx.error_at(
            span,
            format!(
                "tensor `{name}` in `{shown}` is not a parameter of the network (naming `{}`)",
                naming_name(out.bake.naming)
            ),
        );
        ok = false;
    }
    ok.then_some(out)
}

fn naming_name(naming: Naming) -> &'static str {
    NAMINGS.iter().find(|(_, n)| *n == naming).map_or("Layers", |(s, _)| s)
}

/// The distinct `i` of `{i}.weight` and `{i}.bias` names, in increasing order.
fn sequential_indices(names: &[String]) -> Vec<u64> {
    let mut indices: Vec<u64> = names
        .iter()
        .filter_map(|n| {
            let (index, part) = n.split_once('.')?;
            let canonical = !index.is_empty()
                && index.bytes().all(|b| b.is_ascii_digit())
                && (index == "0" || !index.starts_with('0'));
            (canonical && (part == "weight" || part == "bias")).then(|| index.parse().ok()).flatten()
        })
        .collect();
    indices.sort_unstable();
    indices.dedup();
    indices
}

/// The associated consts, the size checks, and the `include_bytes!` that makes the build rerun
/// when the file changes.
pub fn expand(
    baked: &Baked,
    network: &Ident,
    private: &TokenStream,
    bounds: &TokenStream,
    doc_of: &str,
) -> TokenStream {
    let Baked { bake, file, layers, checks } = baked;
    let const_name = &bake.name;
    let file_text = file.display().to_string();
    let doc = format!(
        "{doc_of} baked at compile time from `{}` (safetensors, naming `{}`).",
        bake.path.value(),
        naming_name(bake.naming)
    );
    let span = bake.path.span();
    let impls = bake.scalars.iter().map(|&scalar| {
        let ty = format_ident!("{scalar}");
        let literal =
            |v: f64| if scalar == "f32" { Literal::f32_suffixed(v as f32) } else { Literal::f64_suffixed(v) };
        let layer_values = layers.iter().map(|l| {
            let rows = l.weights.iter().map(|row| {
                let row = row.iter().map(|&v| literal(v));
                quote!([#(#row),*])
            });
            let biases = l.biases.iter().map(|&v| literal(v));
            // On the path: a size mismatch the compiler finds is reported there.
            quote_spanned!(span=> #private::Dense::new([#(#rows),*], [#(#biases),*]))
        });
        quote! {
            impl #network<#ty> #bounds {
                #[doc = #doc]
                pub const #const_name: Self = Self::new(#(#layer_values),*);
            }
        }
    });
    let checks = checks.iter().map(|(tokens, value, message)| {
        let value = Literal::u64_unsuffixed(*value);
        // A format string: the braces of a block size (`{ N - 1 }`) are escaped.
        let message = message.replace('{', "{{").replace('}', "}}");
        quote_spanned!(span=> const _: () = ::core::assert!((#tokens) as u64 == #value, #message);)
    });
    quote! {
        #(#impls)*
        #(#checks)*
        // Read by the build, so that it reruns when the file changes.
        const _: &[u8] = ::core::include_bytes!(#file_text);
    }
}
