//! Stage 2: the checked model of a network. Every error is spanned on the token at fault and all
//! of them are collected in one [`Ctxt`] before expansion starts.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Attribute, Expr, ExprLit, ExprUnary, Ident, Lit, UnOp, Visibility};

use crate::ctxt::Ctxt;
use crate::kinds::{Kind, Op};
use crate::layers::{At, Flow, check_input_shape, check_layer};
use crate::parse::{Entry, EntryValue, Size, Spec};
pub use crate::shape::{Args, Padding, Shape, SizeModel};

/// The activations of the DSL, by the names users write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Identity,
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu,
    Softplus,
    Softmax,
}

impl Activation {
    pub const ALL: [(&'static str, Activation); 7] = [
        ("Identity", Self::Identity),
        ("Sigmoid", Self::Sigmoid),
        ("Tanh", Self::Tanh),
        ("Relu", Self::Relu),
        ("LeakyRelu", Self::LeakyRelu),
        ("Softplus", Self::Softplus),
        ("Softmax", Self::Softmax),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, a)| *a == self).map(|(n, _)| *n).unwrap_or("Identity")
    }
}

/// The losses of the DSL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    HalfSquaredError,
    BinaryCrossEntropy,
    SoftmaxCrossEntropy,
}

impl Loss {
    pub const ALL: [(&'static str, Loss); 3] = [
        ("HalfSquaredError", Self::HalfSquaredError),
        ("BinaryCrossEntropy", Self::BinaryCrossEntropy),
        ("SoftmaxCrossEntropy", Self::SoftmaxCrossEntropy),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, l)| *l == self).map(|(n, _)| *n).unwrap_or("HalfSquaredError")
    }
}

/// A layer's activation: one of the DSL's, or a user's type named by its path.
#[derive(Clone)]
pub enum ActivationModel {
    Builtin(Activation),
    /// A path to a type implementing `backprop::Activation`; the compiler checks that it does.
    Custom(syn::Path),
}

impl ActivationModel {
    /// The name for messages and doc comments: `Relu`, or the path as written.
    pub fn text(&self) -> String {
        match self {
            Self::Builtin(a) => a.name().to_string(),
            Self::Custom(path) => path.to_token_stream().to_string().replace(' ', ""),
        }
    }

    pub fn is(&self, builtin: Activation) -> bool {
        matches!(self, Self::Builtin(a) if *a == builtin)
    }
}

/// One layer.
pub struct Layer {
    pub attrs: Vec<Attribute>,
    pub name: Ident,
    pub kind: &'static Kind,
    pub args: Args,
    /// The shape of one sample at its input: the previous layer's output, or the network's input.
    pub input: Shape,
    /// The shape of one sample at its output.
    pub output: Shape,
    /// The number of scalars at its output (a dense layer's size as written).
    pub size: SizeModel,
    /// For the built-in activation of a pool (which has none written), `Identity`.
    pub activation: ActivationModel,
    pub activation_span: Span,
    /// Whether it is the last layer written (even if a layer before it has an error).
    pub is_output: bool,
    /// Compile-time checks of sizes given as constant expressions (`const _: () = assert!(...)`).
    pub checks: Vec<TokenStream>,
}

/// A checked network.
pub struct Model {
    /// Attributes passed through to the network struct (doc comments among them).
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub krate: TokenStream,
    /// The number of scalars of one input: the network's `Input` is `[T; input]`.
    pub input: SizeModel,
    /// The input as declared: `[N]`, `[C, L]` or `[C, H, W]`.
    pub input_shape: Shape,
    /// Input to output; never empty (`from_spec` returns no model without a layer), which
    /// `expand` relies on.
    pub layers: Vec<Layer>,
    pub loss: Loss,
    /// `#[weights(...)]` files, read and matched against the layers.
    pub bakes: Vec<crate::bake::Baked>,
    /// `#[quantized(Name)]`: the name of the generated int8 network type.
    pub quantized: Option<Ident>,
}

/// Names the generated trace struct uses for its own fields.
pub(crate) const RESERVED_FIELDS: [&str; 2] = ["input", "input_grad"];

pub(crate) const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield", "try", "_",
];

impl Model {
    /// Checks a parsed spec. Returns `None` when any error was recorded in `cx`; every error
    /// found is recorded, not only the first.
    pub fn from_spec(cx: &mut Ctxt, krate: TokenStream, spec: Spec) -> Option<Model> {
        let mut loss: Option<(Loss, Span)> = None;
        let mut loss_seen = false;
        let mut krate_override: Option<TokenStream> = None;
        let mut attrs = Vec::new();
        let mut bakes = Vec::new();
        let mut quantized: Option<Ident> = None;
        // The attributes themselves, for an error on a network they do not support yet.
        let mut unsupported_attrs: Vec<Attribute> = Vec::new();

        for attr in spec.attrs {
            if attr.path().is_ident("loss") {
                if loss_seen {
                    cx.error_spanned_by(
                        &attr,
                        "duplicate `#[loss(...)]`: a network has exactly one loss; remove one of them",
                    );
                    continue;
                }
                loss_seen = true;
                match attr.parse_args::<Ident>() {
                    Ok(ident) => match lookup(&ident, &Loss::ALL) {
                        Some(l) => loss = Some((l, ident.span())),
                        None => cx.error_at(ident.span(), unknown("loss", &ident, &Loss::ALL)),
                    },
                    Err(_) => cx.error_spanned_by(
                        &attr,
                        format!("expected `#[loss(Name)]` with one of: {}", names(&Loss::ALL)),
                    ),
                }
            } else if attr.path().is_ident("network") {
                check_options(cx, &attr, &mut krate_override);
            } else if attr.path().is_ident("weights") {
                bakes.extend(crate::bake::parse_attr(cx, &attr));
                unsupported_attrs.push(attr.clone());
            } else if attr.path().is_ident("quantized") {
                unsupported_attrs.push(attr.clone());
                match attr.parse_args::<Ident>() {
                    Ok(_) if quantized.is_some() => cx.error_spanned_by(
                        &attr,
                        "duplicate `#[quantized(...)]`: a network has one int8 form; remove one",
                    ),
                    Ok(ident) => quantized = Some(ident),
                    Err(_) => cx.error_spanned_by(
                        &attr,
                        "expected `#[quantized(Name)]`, the name of the int8 network type to generate",
                    ),
                }
            } else {
                if let Some(ident) = attr.path().get_ident() {
                    let written = ident.to_string();
                    if let Some(best) =
                        nearest(&written, ["loss", "network", "weights", "quantized"].into_iter())
                    {
                        // Said once: not also "missing loss".
                        loss_seen |= best == "loss";
                        cx.error_at(
                            ident.span(),
                            format!("unknown attribute `{written}`; did you mean `{best}`?"),
                        );
                        continue;
                    }
                }
                attrs.push(attr);
            }
        }

        let krate = krate_override.unwrap_or(krate);
        let private = quote::quote!(#krate::__private);
        let no_entries = spec.entries.is_empty();
        // An `input` written after the layers is reported there, not also as missing.
        let input_written = spec
            .entries
            .iter()
            .any(|e| e.name == "input" && matches!(e.value, EntryValue::Size(_) | EntryValue::Shape(_)));
        let mut input: Option<Shape> = None;
        // What flows into the next layer: its shape, and where it comes from (for messages);
        // `None` after an error.
        let mut flow: Option<Flow> = None;
        let mut input_seen = false;
        let mut layers: Vec<Layer> = Vec::new();
        // Whether any layer was written, even one with an error (so that "no layers" is said
        // only when there really are none).
        let mut layer_written = false;
        let last_layer_entry = spec.entries.iter().rposition(|e| matches!(e.value, EntryValue::Layer(_)));
        for (index, entry) in spec.entries.into_iter().enumerate() {
            let Entry { attrs: entry_attrs, name, value } = entry;
            for attr in &entry_attrs {
                if attr.path().is_ident("loss") || attr.path().is_ident("network") {
                    loss_seen |= attr.path().is_ident("loss");
                    cx.error_spanned_by(
                        attr,
                        "this attribute belongs above `struct`, not on an entry; move it there",
                    );
                }
            }
            match value {
                value @ (EntryValue::Size(_) | EntryValue::Shape(_)) => {
                    let written = match &value {
                        EntryValue::Size(size) => size.tokens(),
                        EntryValue::Shape(shape) => shape.tokens.clone(),
                        EntryValue::Layer(_) => TokenStream::new(),
                    };
                    if name != "input" {
                        let hint =
                            if !input_seen && nearest(&name.to_string(), ["input"].into_iter()).is_some() {
                                format!("; did you mean `input: {written}`?")
                            } else {
                                String::new()
                            };
                        cx.error_at(
                            name.span(),
                            format!(
                                "`{name}: <size>` is not a layer; a layer is written `{name}: Dense<N, Activation>`, and the input size `input: N`{hint}"
                            ),
                        );
                        if !hint.is_empty() {
                            input_seen = true;
                        }
                    } else if input_seen {
                        cx.error_at(
                            name.span(),
                            "duplicate `input`: a network has one input size; remove one",
                        );
                    } else if index != 0 {
                        input_seen = true;
                        cx.error_at(
                            name.span(),
                            "`input` must be the first entry, before the layers; move it up",
                        );
                    } else {
                        input_seen = true;
                        input = match value {
                            EntryValue::Size(size) => {
                                check_size(cx, &size, "input size").map(|d| Shape { dims: vec![d] })
                            }
                            EntryValue::Shape(shape) => check_input_shape(cx, shape),
                            EntryValue::Layer(_) => None,
                        };
                        flow = input.clone().map(|shape| Flow {
                            shape,
                            source: "the network's input".to_string(),
                            kind: None,
                        });
                    }
                    if let Some(attr) = entry_attrs.first() {
                        cx.error_spanned_by(attr, "attributes are not allowed on `input`; remove it");
                    }
                }
                EntryValue::Layer(layer) => {
                    layer_written = true;
                    if index == 0 && !input_written {
                        cx.error_at(
                            name.span(),
                            "missing input size: the first entry must be `input: N`, before the layers",
                        );
                    }
                    let is_output = last_layer_entry == Some(index);
                    let at = At { network: &spec.name, private: &private, flow: flow.take(), is_output };
                    if let Some(layer) = check_layer(cx, entry_attrs, name, layer, &layers, at) {
                        flow = Some(Flow {
                            shape: layer.output.clone(),
                            source: format!("the output of `{}`", layer.name),
                            kind: Some(layer.kind),
                        });
                        layers.push(layer);
                    }
                }
            }
        }

        if !layer_written && !no_entries {
            cx.error_at(
                spec.brace.span.join(),
                "a network needs at least one layer: add one after `input`, for example `output: Dense<1, Sigmoid>`",
            );
        }
        if no_entries {
            cx.error_at(
                spec.brace.span.join(),
                "empty network: write the input size and the layers, for example `{ input: 2, output: Dense<1, Sigmoid> }`",
            );
        }

        // Softmax belongs to the output layer only (the last layer written, even when the
        // output layer itself has an error and is not in `layers`); on other kinds it is
        // reported by `check_layer`.
        for layer in layers.iter().filter(|l| !l.is_output && l.kind.op == Op::Dense) {
            if layer.activation.is(Activation::Softmax) {
                cx.error_at(
                    layer.activation_span,
                    format!(
                        "softmax is allowed on the output layer only, and `{}` is a hidden layer; use Relu, Tanh, Sigmoid, LeakyRelu, Softplus or Identity",
                        layer.name
                    ),
                );
            }
        }

        match (loss, layers.last().filter(|l| l.is_output)) {
            (None, _) if !loss_seen => cx.error_at(
                spec.name.span(),
                format!(
                    "missing loss: add `#[loss(Name)]` above `struct`, with one of: {}",
                    names(&Loss::ALL)
                ),
            ),
            (Some((Loss::SoftmaxCrossEntropy, span)), Some(out))
                if !out.activation.is(Activation::Softmax) =>
            {
                cx.error_at(
                    span,
                    format!(
                        "the loss `SoftmaxCrossEntropy` needs a `Softmax` output layer, but `{}` uses `{}`; write `{}: Dense<N, Softmax>`, or choose another loss",
                        out.name,
                        out.activation.text(),
                        out.name
                    ),
                );
            }
            (Some((Loss::SoftmaxCrossEntropy, _)), Some(out)) if out.size.literal == Some(1) => {
                cx.error_at(
                    out.activation_span,
                    format!(
                        "a softmax over one output is always 1, so its cross-entropy is always 0 and nothing trains; for one yes/no output write `{}: Dense<1, Sigmoid>` with `#[loss(BinaryCrossEntropy)]`, or give the softmax one output per class",
                        out.name
                    ),
                );
            }
            (Some((Loss::BinaryCrossEntropy, span)), Some(out))
                if !out.activation.is(Activation::Sigmoid) =>
            {
                cx.error_at(
                    span,
                    format!(
                        "the loss `BinaryCrossEntropy` needs a `Sigmoid` output layer, but `{}` uses `{}`; write `{}: Dense<N, Sigmoid>`, or choose another loss",
                        out.name,
                        out.activation.text(),
                        out.name
                    ),
                );
            }
            _ => {}
        }

        // `#[weights]` and `#[quantized]` know dense layers only.
        if let Some(other) = layers.iter().find(|l| l.kind.op != Op::Dense) {
            for attr in &unsupported_attrs {
                let what = if attr.path().is_ident("weights") {
                    "`#[weights(...)]` (baked parameters)"
                } else {
                    "`#[quantized(...)]` (int8 inference)"
                };
                cx.error_spanned_by(
                    attr,
                    format!(
                        "{what} is not yet supported for convolutional layers, and `{}` is a `{}`; remove the attribute (set the parameters at run time, for example through `params_mut()` or `load_bytes`)",
                        other.name, other.kind.name
                    ),
                );
            }
        }

        let (Some(input_shape), Some((loss, _))) = (input, loss) else { return None };
        if layers.is_empty() || !cx.is_clean() {
            return None;
        }
        let input = input_shape.len();
        let bakes: Vec<_> =
            bakes.into_iter().filter_map(|b| crate::bake::load(cx, b, &input, &layers)).collect();
        if !cx.is_clean() {
            return None;
        }
        Some(Model {
            attrs,
            vis: spec.vis,
            name: spec.name,
            krate,
            input,
            input_shape,
            layers,
            loss,
            bakes,
            quantized,
        })
    }
}

/// `#[network(crate = path::to::backprop)]`: every option at most once.
fn check_options(cx: &mut Ctxt, attr: &Attribute, krate_override: &mut Option<TokenStream>) {
    if !matches!(attr.meta, syn::Meta::List(_)) {
        cx.error_spanned_by(attr, "expected `#[network(crate = path::to::backprop)]`");
        return;
    }
    let result = attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("crate") {
            if krate_override.is_some() {
                return Err(meta.error("duplicate option `crate`; keep only one `crate = ...`"));
            }
            let value = meta.value().map_err(|_| meta.error("expected `crate = path::to::backprop`"))?;
            let path: syn::Path = value.parse()?;
            *krate_override = Some(path.into_token_stream());
            Ok(())
        } else {
            let written = meta.path.to_token_stream().to_string().replace(' ', "");
            let hint = match nearest(&written, ["crate"].into_iter()) {
                Some(best) => format!("did you mean `{best}`? "),
                None => String::new(),
            };
            Err(meta.error(format!(
                "unknown option `{written}`; {hint}the only option is `crate = path::to::backprop`"
            )))
        }
    });
    if let Err(e) = result {
        cx.syn_error(e);
    }
}

/// A size must be a positive integer literal that fits in 32 bits (every target this crate
/// supports has at least 32-bit `usize`), or a constant expression: the compiler checks that
/// one is a `usize` (and the expansion asserts that it is at least 1).
pub(crate) fn check_size(cx: &mut Ctxt, size: &Size, what: &str) -> Option<SizeModel> {
    let fix = "write a positive integer such as `8`, or the name of a `const` of type `usize`";
    let tokens = size.tokens();
    match &size.expr {
        Expr::Lit(ExprLit { lit: Lit::Int(int), .. }) => {
            if !matches!(int.suffix(), "" | "usize") {
                cx.error_at(
                    int.span(),
                    format!(
                        "{what} must be a `usize`, not `{}`; remove the suffix `{}`",
                        int.suffix(),
                        int.suffix()
                    ),
                );
                return None;
            }
            match int.base10_parse::<u64>() {
                Ok(0) => {
                    cx.error_at(int.span(), format!("{what} must be at least 1, found `0`"));
                    None
                }
                Ok(v) if v <= u64::from(u32::MAX) => {
                    Some(SizeModel { shown: tokens.to_string(), tokens, literal: Some(v) })
                }
                _ => {
                    cx.error_at(
                        int.span(),
                        format!(
                            "{what} `{int}` is too large: sizes must fit in 32 bits (at most {}), the smallest `usize` of the targets backprop supports",
                            u32::MAX
                        ),
                    );
                    None
                }
            }
        }
        Expr::Lit(ExprLit { lit, .. }) => {
            cx.error_at(
                lit.span(),
                format!("{what} must be an integer, found `{}`; {fix}", lit.to_token_stream()),
            );
            None
        }
        Expr::Unary(ExprUnary { op: UnOp::Neg(_), expr, .. }) if matches!(**expr, Expr::Lit(_)) => {
            let written = expr.to_token_stream();
            cx.error_spanned_by(&size.expr, format!("{what} must be positive, found `-{written}`; {fix}"));
            None
        }
        // `crate` not followed by `::` is a path expression to `syn`, but not in the braces the
        // expansion puts a size in (`Dense<T, 2, { N }>`), where it reads as the start of an
        // item: the expansion itself would not parse, so it stops here.
        _ if has_bare_crate(tokens.clone()) => {
            cx.error_spanned_by(&size.expr, format!("{what} `{tokens}` is not a constant expression; {fix}"));
            None
        }
        // A constant expression: checked by the compiler (see `expand.rs`).
        _ => Some(SizeModel { shown: tokens.to_string(), tokens, literal: None }),
    }
}

/// Whether the keyword `crate` appears anywhere in `tokens` other than at the start of a path
/// (`crate::...`).
fn has_bare_crate(tokens: TokenStream) -> bool {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    tokens.iter().enumerate().any(|(i, token)| match token {
        TokenTree::Ident(ident) => {
            let colon = |k: usize| matches!(tokens.get(k), Some(TokenTree::Punct(p)) if p.as_char() == ':');
            ident == "crate" && !(colon(i + 1) && colon(i + 2))
        }
        TokenTree::Group(group) => has_bare_crate(group.stream()),
        _ => false,
    })
}

pub(crate) fn lookup<K: Copy>(ident: &Ident, table: &[(&'static str, K)]) -> Option<K> {
    table.iter().find(|(n, _)| ident == n).map(|(_, k)| *k)
}

fn names<K>(table: &[(&'static str, K)]) -> String {
    table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// "unknown activation `Relu6`; did you mean `Relu`?" or the list of valid names.
pub(crate) fn unknown<K>(what: &str, ident: &Ident, table: &[(&'static str, K)]) -> String {
    let written = ident.to_string();
    match nearest(&written, table.iter().map(|(n, _)| *n)) {
        Some(best) => format!("unknown {what} `{written}`; did you mean `{best}`?"),
        None => format!("unknown {what} `{written}`; expected one of: {}", names(table)),
    }
}

/// The valid name closest to `written` (case-insensitive edit distance), if close enough to be
/// a plausible misspelling.
pub fn nearest<'a>(written: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = written.to_ascii_lowercase();
    candidates
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|&(d, c)| d <= (c.len() / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over bytes.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let acts = || Activation::ALL.iter().map(|(n, _)| *n);
        assert_eq!(nearest("relu", acts()), Some("Relu"));
        assert_eq!(nearest("Relu6", acts()), Some("Relu"));
        assert_eq!(nearest("sigmod", acts()), Some("Sigmoid"));
        assert_eq!(nearest("leaky_relu", acts()), Some("LeakyRelu"));
        assert_eq!(nearest("Swish", acts()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
