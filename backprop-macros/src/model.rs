//! Stage 2: the checked model of a network. Every error is spanned on the token at fault and all
//! of them are collected in one [`Ctxt`] before expansion starts.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, Lit, Visibility};

use crate::ctxt::Ctxt;
use crate::parse::{Entry, EntryValue, LayerSyntax, Size, Spec};

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

/// A size as written, with its value when it is a literal.
#[derive(Clone)]
pub struct SizeModel {
    pub tokens: TokenStream,
    pub literal: Option<u64>,
}

/// One dense layer.
pub struct Layer {
    pub attrs: Vec<Attribute>,
    pub name: Ident,
    pub size: SizeModel,
    pub activation: Activation,
    pub activation_span: Span,
}

/// A checked network.
pub struct Model {
    /// Attributes passed through to the network struct (doc comments among them).
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub krate: TokenStream,
    pub input: SizeModel,
    pub layers: Vec<Layer>,
    pub loss: Loss,
}

/// Names the generated trace struct uses for its own fields.
const RESERVED_FIELDS: [&str; 2] = ["input", "input_grad"];

/// Names that the scalar parameter of the generated items would shadow.
const RESERVED_SIZE_NAMES: [&str; 1] = ["T"];

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield", "try", "_",
];

impl Model {
    /// Checks a parsed spec. Returns `None` when any error was recorded in `cx`.
    pub fn from_spec(cx: &mut Ctxt, krate: TokenStream, spec: Spec) -> Option<Model> {
        let mut loss: Option<(Loss, Span)> = None;
        let mut loss_seen = false;
        let mut krate_override: Option<TokenStream> = None;
        let mut attrs = Vec::new();

        for attr in spec.attrs {
            if attr.path().is_ident("loss") {
                if loss_seen {
                    cx.error_spanned_by(&attr, "duplicate `#[loss(...)]`: a network has exactly one loss");
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
                let result = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("crate") {
                        if krate_override.is_some() {
                            return Err(meta.error("duplicate option `crate`"));
                        }
                        let path: syn::Path = meta.value()?.parse()?;
                        krate_override = Some(path.into_token_stream());
                        Ok(())
                    } else {
                        Err(meta.error(format!(
                            "unknown option `{}`; the only option is `crate = path::to::backprop`",
                            meta.path.to_token_stream()
                        )))
                    }
                });
                if let Err(e) = result {
                    cx.syn_error(e);
                }
            } else {
                attrs.push(attr);
            }
        }

        let no_entries = spec.entries.is_empty();
        let mut input: Option<SizeModel> = None;
        let mut layers: Vec<Layer> = Vec::new();
        for (index, entry) in spec.entries.into_iter().enumerate() {
            let Entry { attrs: entry_attrs, name, value } = entry;
            match value {
                EntryValue::Size(size) => {
                    if name != "input" {
                        cx.error_at(
                            name.span(),
                            format!(
                                "`{name}: <size>` is not a layer; the input is written `input: N` and a layer `{name}: Dense<N, Activation>`"
                            ),
                        );
                    } else if index != 0 {
                        cx.error_at(name.span(), "`input` must be the first entry, before the layers");
                    } else if let Some(size) = check_size(cx, &size, "input size") {
                        input = Some(size);
                    } else {
                        input = Some(SizeModel { tokens: size.tokens, literal: Some(1) });
                    }
                    if !entry_attrs.is_empty() {
                        cx.error_spanned_by(&entry_attrs[0], "attributes are not allowed on `input`");
                    }
                }
                EntryValue::Layer(layer) => {
                    if index == 0 {
                        cx.error_at(
                            name.span(),
                            "missing input size: the first entry must be `input: N`, before the layers",
                        );
                    }
                    if let Some(layer) = check_layer(cx, entry_attrs, name, layer, &layers) {
                        layers.push(layer);
                    }
                }
            }
        }

        if layers.is_empty() && input.is_some() {
            cx.error_at(
                spec.brace.span.join(),
                "a network needs at least one layer, for example `output: Dense<1, Sigmoid>`",
            );
        }
        if input.is_none() && no_entries {
            cx.error_at(spec.brace.span.join(), "missing input size: the first entry must be `input: N`");
        }

        // Softmax belongs to the output layer only.
        if let Some((_, hidden)) = layers.split_last() {
            for layer in hidden {
                if layer.activation == Activation::Softmax {
                    cx.error_at(
                        layer.activation_span,
                        format!(
                            "softmax is allowed on the output layer only; layer `{}` is hidden: use Relu, Tanh, Sigmoid, LeakyRelu, Softplus or Identity",
                            layer.name
                        ),
                    );
                }
            }
        }

        match (loss, layers.last()) {
            (None, _) if !loss_seen => cx.error_at(
                spec.name.span(),
                format!("missing loss: add `#[loss(Name)]` above `struct`, with one of: {}", names(&Loss::ALL)),
            ),
            (Some((Loss::SoftmaxCrossEntropy, span)), Some(out)) if out.activation != Activation::Softmax => {
                cx.error_at(
                    span,
                    format!(
                        "SoftmaxCrossEntropy needs a Softmax output layer, but `{}` uses {}: write `{}: Dense<N, Softmax>`",
                        out.name,
                        out.activation.name(),
                        out.name
                    ),
                )
            }
            (Some((Loss::BinaryCrossEntropy, span)), Some(out)) if out.activation != Activation::Sigmoid => {
                cx.error_at(
                    span,
                    format!(
                        "BinaryCrossEntropy needs a Sigmoid output layer, but `{}` uses {}: write `{}: Dense<N, Sigmoid>`",
                        out.name,
                        out.activation.name(),
                        out.name
                    ),
                )
            }
            _ => {}
        }

        let (Some(input), Some((loss, _))) = (input, loss) else { return None };
        if layers.is_empty() {
            return None;
        }
        Some(Model {
            attrs,
            vis: spec.vis,
            name: spec.name,
            krate: krate_override.unwrap_or(krate),
            input,
            layers,
            loss,
        })
    }
}

fn check_layer(
    cx: &mut Ctxt,
    attrs: Vec<Attribute>,
    name: Ident,
    syntax: LayerSyntax,
    previous: &[Layer],
) -> Option<Layer> {
    let mut ok = true;
    let text = name.to_string();
    let bare = text.strip_prefix("r#").unwrap_or(&text);
    if RESERVED_FIELDS.contains(&bare) {
        cx.error_at(
            name.span(),
            format!(
                "`{bare}` names a field of the generated trace; rename the layer, for example `{bare}_layer`"
            ),
        );
        ok = false;
    } else if KEYWORDS.contains(&bare) || text.starts_with("r#") {
        cx.error_at(
            name.span(),
            format!(
                "`{bare}` is a Rust keyword and cannot name a layer; rename it, for example `{bare}_layer`"
            ),
        );
        ok = false;
    } else if previous.iter().any(|l| l.name == name) {
        cx.error_at(name.span(), format!("duplicate layer name `{name}`: every layer needs its own name"));
        ok = false;
    }
    if syntax.kind != "Dense" {
        let hint = if syntax.kind.to_string().eq_ignore_ascii_case("dense") {
            "; did you mean `Dense`?".to_string()
        } else {
            String::new()
        };
        cx.error_at(
            syntax.kind.span(),
            format!("unknown layer kind `{}`; expected `Dense`{hint}", syntax.kind),
        );
        ok = false;
    }
    let activation = match lookup(&syntax.activation, &Activation::ALL) {
        Some(a) => Some(a),
        None => {
            cx.error_at(
                syntax.activation.span(),
                unknown("activation", &syntax.activation, &Activation::ALL),
            );
            None
        }
    };
    let size = check_size(cx, &syntax.size, "layer size");
    let (Some(activation), Some(size), true) = (activation, size, ok) else { return None };
    Some(Layer { attrs, name, size, activation, activation_span: syntax.activation.span() })
}

/// A size must be a positive integer literal that fits in 32 bits (every target this crate
/// supports has at least 32-bit `usize`), or a constant expression the compiler checks.
fn check_size(cx: &mut Ctxt, size: &Size, what: &str) -> Option<SizeModel> {
    let tokens: Vec<TokenTree> = size.tokens.clone().into_iter().collect();
    let span = size.tokens.span();
    let fix = "write a positive integer such as `8`, or the name of a `const` of type `usize`";
    match tokens.as_slice() {
        [TokenTree::Literal(lit)] => match Lit::new(lit.clone()) {
            Lit::Int(int) => {
                if !matches!(int.suffix(), "" | "usize") {
                    cx.error_at(
                        int.span(),
                        format!("{what} must be a `usize`, not `{}`; {fix}", int.suffix()),
                    );
                    return None;
                }
                match int.base10_parse::<u64>() {
                    Ok(0) => {
                        cx.error_at(int.span(), format!("{what} must be at least 1, found `0`"));
                        None
                    }
                    Ok(v) if v > u64::from(u32::MAX) => {
                        cx.error_at(
                            int.span(),
                            format!(
                                "{what} `{v}` is too large: sizes must fit in 32 bits (at most {})",
                                u32::MAX
                            ),
                        );
                        None
                    }
                    Ok(v) => Some(SizeModel { tokens: size.tokens.clone(), literal: Some(v) }),
                    Err(_) => {
                        cx.error_at(
                            int.span(),
                            format!(
                                "{what} `{int}` is too large: sizes must fit in 32 bits (at most {})",
                                u32::MAX
                            ),
                        );
                        None
                    }
                }
            }
            other => {
                cx.error_at(other.span(), format!("{what} must be an integer, found `{}`; {fix}", lit));
                None
            }
        },
        [TokenTree::Punct(minus), TokenTree::Literal(_)] if minus.as_char() == '-' => {
            cx.error_at(span, format!("{what} must be positive, found `{}`; {fix}", size.tokens));
            None
        }
        [TokenTree::Ident(ident)] if RESERVED_SIZE_NAMES.contains(&ident.to_string().as_str()) => {
            cx.error_at(
                ident.span(),
                format!("a size constant may not be named `{ident}`: the generated types use `{ident}` for the scalar type; rename the constant"),
            );
            None
        }
        _ => Some(SizeModel { tokens: size.tokens.clone(), literal: None }),
    }
}

fn lookup<K: Copy>(ident: &Ident, table: &[(&'static str, K)]) -> Option<K> {
    table.iter().find(|(n, _)| ident == n).map(|(_, k)| *k)
}

fn names<K>(table: &[(&'static str, K)]) -> String {
    table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// "unknown activation `Relu6`; did you mean `Relu`?" or the list of valid names.
fn unknown<K>(what: &str, ident: &Ident, table: &[(&'static str, K)]) -> String {
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
