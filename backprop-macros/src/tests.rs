//! Tests of the macro's stages on `proc_macro2` token streams: expansion snapshots, the size of
//! the expansion, its doc comments, and a property test that the front end never panics.

use std::path::PathBuf;
use std::str::FromStr;

use proc_macro2::{Group, Literal, TokenStream, TokenTree};

use crate::{Failure, expand, front};

/// The expansion of `spec` (the tokens after `network!`), as `cargo expand` would show it:
/// parsed as a file and printed by prettyplease. `$crate` is written `::backprop`.
fn expanded(spec: &str) -> String {
    let input = TokenStream::from_str(&format!("::backprop; {spec}")).expect("the spec lexes");
    let model = match front(input) {
        Ok(model) => model,
        Err(Failure { error, .. }) => panic!("the spec is valid, but: {error}"),
    };
    let file: syn::File = syn::parse2(expand::expand(&model)).expect("the expansion is valid Rust");
    prettyplease::unparse(&file)
}

const TOY: &str = "
    /// The chapter's toy network: two inputs, two sigmoid hidden neurons, one sigmoid output.
    #[loss(HalfSquaredError)]
    pub struct Toy {
        input: 2,
        hidden: Dense<2, Sigmoid>,
        output: Dense<1, Sigmoid>,
    }";

const DEEP_MIXED: &str = "
    /// One layer of every activation but softmax.
    #[loss(HalfSquaredError)]
    pub(crate) struct Deep {
        input: 8,
        /// The first hidden layer (a user's doc comment, kept).
        rectified: Dense<16, Relu>,
        squashed: Dense<16, Tanh>,
        leaky: Dense<12, LeakyRelu>,
        smooth: Dense<8, Softplus>,
        gate: Dense<4, Sigmoid>,
        output: Dense<2, Identity>,
    }";

const CLASSIFIER: &str = "
    /// A digit classifier.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Digits {
        input: 64,
        hidden: Dense<32, Relu>,
        output: Dense<10, Softmax>,
    }";

const CONST_SIZES: &str = "
    /// Sizes from constants and constant expressions.
    #[loss(BinaryCrossEntropy)]
    #[network(crate = ::backprop)]
    pub struct Sized {
        input: FEATURES,
        wide: Dense<{ 2 * FEATURES }, Relu>,
        narrow: Dense<HIDDEN, Tanh>,
        output: Dense<1, Sigmoid>,
    }";

const LENET: &str = "
    /// A LeNet-like classifier of 28 × 28 images.
    #[loss(SoftmaxCrossEntropy)]
    pub struct LeNet {
        input: [1, 28, 28],
        conv1: Conv2d<6, 5, Relu>,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<16, 5, Tanh, stride = 1, padding = Same>,
        pool2: AvgPool2d<3, stride = 3>,
        hidden: Dense<120, Relu>,
        output: Dense<10, Softmax>,
    }";

const SIGNAL_CONST_SIZES: &str = "
    /// A 1-d network with sizes from constants: output sizes as constant expressions.
    #[loss(BinaryCrossEntropy)]
    pub struct Signal {
        input: [CHANNELS, LEN],
        conv: Conv1d<FILTERS, 3, LeakyRelu, stride = STRIDE>,
        pool: MaxPool1d<2>,
        gap: GlobalAvgPool1d,
        output: Dense<1, Sigmoid>,
    }";

/// Compares the expansion of `spec` with `tests/expand/{name}.expanded.rs`, or rewrites that
/// file when `UPDATE_EXPAND=1`.
fn snapshot(name: &str, spec: &str) {
    let actual = expanded(spec);
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/expand").join(format!("{name}.expanded.rs"));
    let header = format!(
        "// The expansion of the `{name}` spec in `backprop-macros/src/tests.rs`, formatted by prettyplease.\n\
         // Regenerate with `UPDATE_EXPAND=1 cargo test -p backprop-macros --lib` and review the diff.\n\n"
    );
    let actual = format!("{header}{actual}");
    if std::env::var_os("UPDATE_EXPAND").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create tests/expand");
        std::fs::write(&path, &actual).expect("write the snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        let first = expected.lines().zip(actual.lines()).position(|(e, a)| e != a);
        panic!(
            "the expansion of `{name}` differs from {} (first differing line: {first:?}); \
             if the change is intended, run `UPDATE_EXPAND=1 cargo test -p backprop-macros --lib` \
             and review the diff\n--- new expansion ---\n{actual}",
            path.display()
        );
    }
}

#[test]
fn snapshot_toy() {
    snapshot("toy", TOY);
}

#[test]
fn snapshot_deep_mixed_stack() {
    snapshot("deep_mixed", DEEP_MIXED);
}

#[test]
fn snapshot_softmax_classifier() {
    snapshot("classifier", CLASSIFIER);
}

#[test]
fn snapshot_const_sizes() {
    snapshot("const_sizes", CONST_SIZES);
}

#[test]
fn snapshot_lenet() {
    snapshot("lenet", LENET);
}

#[test]
fn snapshot_conv_const_sizes() {
    snapshot("signal_const_sizes", SIGNAL_CONST_SIZES);
}

/// A size that `syn` reads as an expression but that does not parse in the braces the expansion
/// puts it in (found by the property test below: `Dense<crate, Sigmoid>`, where `{ crate }` reads
/// as the start of an item) is refused at the size, with the fix; a path that starts with `crate`
/// is still a constant expression. (`super` alone parses there, and the compiler rejects it at the
/// user's token as a module used as a value.)
#[test]
fn a_bare_crate_is_not_a_size() {
    let fix = "write a positive integer such as `8`, or the name of a `const` of type `usize`";
    for (spec, what) in [
        (TOY.replace("Dense<2, Sigmoid>", "Dense<crate, Sigmoid>"), "layer size"),
        (TOY.replace("input: 2", "input: crate"), "input size"),
    ] {
        let input = TokenStream::from_str(&format!("::backprop; {spec}")).expect("lexes");
        let Err(failure) = front(input) else { panic!("`crate` accepted as the {what}") };
        assert_eq!(failure.error.to_string(), format!("{what} `crate` is not a constant expression; {fix}"));
    }
    let spec = TOY.replace("Dense<2, Sigmoid>", "Dense<{ 2 * (crate + 1) }, Sigmoid>");
    let input = TokenStream::from_str(&format!("::backprop; {spec}")).expect("lexes");
    let Err(failure) = front(input) else { panic!("`crate` inside an expression accepted") };
    assert!(failure.error.to_string().contains("is not a constant expression"), "{}", failure.error);
    let spec = TOY.replace("Dense<2, Sigmoid>", "Dense<{ 2 * crate::HIDDEN }, Sigmoid>");
    let input = TokenStream::from_str(&format!("::backprop; {spec}")).expect("lexes");
    assert!(front(input).is_ok(), "a path through `crate` is a constant expression");
}

/// The expansion is O(layers): a 784-128-10 network expands to exactly the code of the 2-2-1
/// toy once the numbers are set aside (each integer literal replaced by `0`), so to the same
/// number of lines. (Formatted as they are, the two differ by a few lines only where
/// prettyplease wraps a line that the longer numbers push past its width.)
#[test]
fn expansion_does_not_grow_with_the_sizes() {
    let large_spec = TOY.replace("input: 2", "input: 784").replace("<2,", "<128,").replace("<1,", "<10,");
    let (small, large) = (expanded(TOY), expanded(&large_spec));
    assert!(large.contains("[T; 784]") && large.contains("Dense<T, 784, 128>"), "{large}");
    let lines = |s: &str| s.lines().count();
    assert!(lines(&small).abs_diff(lines(&large)) <= 10, "{} vs {} lines", lines(&small), lines(&large));

    let (small, large) = (expanded_numbers_aside(TOY), expanded_numbers_aside(&large_spec));
    assert_eq!(lines(&small), lines(&large));
    assert_eq!(small, large);

    // One more layer adds a bounded number of lines, whatever its width: its field, its trace,
    // and one call per pass (forward, forward with trace, backward, the training step, and the
    // two passes over a tile of samples), some of which prettyplease wraps over several lines.
    let deeper =
        expanded_numbers_aside(&TOY.replace("output: Dense<1", "extra: Dense<500, Relu>,\n output: Dense<1"));
    let added = lines(&deeper) - lines(&small);
    assert!((5..=80).contains(&added), "one more layer added {added} lines");

    // The same for a convolutional network: a 3 × 100 × 100 input and wider layers expand to the
    // code of the 1 × 28 × 28 LeNet, numbers aside.
    let large_lenet = LENET
        .replace("[1, 28, 28]", "[3, 100, 100]")
        .replace("Conv2d<6,", "Conv2d<64,")
        .replace("Conv2d<16,", "Conv2d<128,")
        .replace("Dense<120,", "Dense<500,")
        .replace("Dense<10,", "Dense<100,");
    let (small, large) = (expanded_numbers_aside(LENET), expanded_numbers_aside(&large_lenet));
    assert!(expanded(&large_lenet).contains("[[[T; 16]; 16]; 128]"), "the large LeNet's sizes");
    assert_eq!(small, large);
}

/// As [`expanded`], with every integer literal of the code replaced by `0`, and every number in
/// the doc comments.
fn expanded_numbers_aside(spec: &str) -> String {
    fn zero(tokens: TokenStream) -> TokenStream {
        tokens
            .into_iter()
            .map(|t| match t {
                TokenTree::Literal(l) if syn::parse_str::<syn::LitInt>(&l.to_string()).is_ok() => {
                    TokenTree::Literal(Literal::usize_unsuffixed(0))
                }
                TokenTree::Literal(l) => {
                    let mut text = String::new();
                    for c in l.to_string().chars() {
                        if !(c.is_ascii_digit() && text.ends_with('0')) {
                            text.push(if c.is_ascii_digit() { '0' } else { c });
                        }
                    }
                    TokenTree::Literal(text.parse().unwrap_or(l))
                }
                TokenTree::Group(g) => TokenTree::Group(Group::new(g.delimiter(), zero(g.stream()))),
                other => other,
            })
            .collect()
    }
    let input = TokenStream::from_str(&format!("::backprop; {spec}")).expect("the spec lexes");
    let Ok(model) = front(input) else { panic!("valid spec") };
    let file: syn::File = syn::parse2(zero(expand::expand(&model))).expect("valid Rust");
    prettyplease::unparse(&file)
}

/// The doc comment of an item, joined.
fn docs(attrs: &[syn::Attribute]) -> String {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_pub(vis: &syn::Visibility) -> bool {
    !matches!(vis, syn::Visibility::Inherited)
}

/// Every public item of the expansion has a doc comment; those with a shape (the structs, the
/// layer and trace fields) state it, with the sizes as written.
#[test]
fn every_public_generated_item_documents_its_shape() {
    for spec in [TOY, DEEP_MIXED, CLASSIFIER, CONST_SIZES, LENET, SIGNAL_CONST_SIZES] {
        let input = TokenStream::from_str(&format!("::backprop; {spec}")).expect("lexes");
        let Ok(model) = front(input) else { panic!("valid spec") };
        let file: syn::File = syn::parse2(expand::expand(&model)).expect("valid Rust");
        let mut checked = 0;
        // The impls sit in `const _: () = { ... };`: check the items inside too.
        let nested = file.items.iter().filter_map(|item| match item {
            syn::Item::Const(c) => match &*c.expr {
                syn::Expr::Block(b) => Some(b.block.stmts.iter().filter_map(|s| match s {
                    syn::Stmt::Item(item) => Some(item),
                    _ => None,
                })),
                _ => None,
            },
            _ => None,
        });
        for item in file.items.iter().chain(nested.flatten()) {
            match item {
                syn::Item::Struct(s) => {
                    let doc = docs(&s.attrs);
                    assert!(!doc.trim().is_empty(), "struct {} has no doc", s.ident);
                    checked += 1;
                    for field in &s.fields {
                        let name = field.ident.as_ref().expect("named fields");
                        let doc = docs(&field.attrs);
                        let ty = quote::ToTokens::to_token_stream(&field.ty).to_string();
                        // The shape in the doc: every size of the field's type appears in it
                        // (the sizes as written, and the output sizes the macro computed).
                        let sizes = model.layers.iter().flat_map(|l| {
                            let computed = l.output.dims.iter().filter(|d| d.literal.is_some());
                            l.args.sizes.iter().chain(computed).map(|s| s.tokens.to_string())
                        });
                        for size in sizes {
                            if ty.contains(&format!(", {size} >")) || ty.contains(&format!("; {size} ]")) {
                                assert!(
                                    doc.contains(&size),
                                    "field {}.{name}: `{doc}` does not state {size}",
                                    s.ident
                                );
                            }
                        }
                        assert!(
                            doc.contains("[T; ") || doc.contains("[[T; "),
                            "field {}.{name}: `{doc}`",
                            s.ident
                        );
                        checked += 1;
                    }
                }
                // `unsafe` only with its justification.
                syn::Item::Impl(imp) if imp.unsafety.is_some() => {
                    assert!(
                        docs(&imp.attrs).trim_start().starts_with("SAFETY: "),
                        "an unsafe impl without SAFETY"
                    );
                    checked += 1;
                }
                syn::Item::Impl(imp) if imp.trait_.is_none() => {
                    for member in &imp.items {
                        match member {
                            syn::ImplItem::Fn(f) if is_pub(&f.vis) => {
                                assert!(!docs(&f.attrs).trim().is_empty(), "fn {} has no doc", f.sig.ident);
                                checked += 1;
                            }
                            syn::ImplItem::Const(c) if is_pub(&c.vis) => {
                                assert!(!docs(&c.attrs).trim().is_empty(), "const {} has no doc", c.ident);
                                checked += 1;
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        assert!(checked > 20, "checked only {checked} items");
        // The network's own doc states the architecture, input to output.
        let name = &model.name;
        let text = prettyplease::unparse(&file);
        assert!(text.contains("Architecture: "), "{name}: {text}");
        // No `std` path: the generated code compiles in `no_std` crates.
        assert!(!text.contains("std::"), "{name}: {text}");
    }
}

mod never_panics {
    //! The front end returns `Ok` or `Err` for any token stream. proptest feeds it random token
    //! trees and mutations of valid specs; a panic (an `expect`, an index out of range, the
    //! `Ctxt` drop bomb) fails the test. Valid models are also expanded, and the expansion must
    //! parse as Rust.

    use std::sync::atomic::{AtomicUsize, Ordering};

    use proc_macro2::{Delimiter, Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;

    /// Identifiers that mean something to the DSL, or to Rust, and some that do not.
    const WORDS: &[&str] = &[
        "input",
        "input_grad",
        "hidden",
        "output",
        "Dense",
        "dense",
        "Conv",
        "Conv1d",
        "Conv2d",
        "MaxPool2d",
        "AvgPool1d",
        "GlobalAvgPool2d",
        "stride",
        "padding",
        "Same",
        "same",
        "Valid",
        "Relu",
        "Relu6",
        "Sigmoid",
        "Tanh",
        "Softmax",
        "Identity",
        "LeakyRelu",
        "Softplus",
        "loss",
        "lose",
        "network",
        "crate",
        "krate",
        "struct",
        "pub",
        "Toy",
        "T",
        "N",
        "HalfSquaredError",
        "BinaryCrossEntropy",
        "SoftmaxCrossEntropy",
        "self",
        "Self",
        "super",
        "type",
        "r#type",
        "r#match",
        "_",
        "doc",
        "in",
        "fn",
        "const",
    ];
    const PUNCTS: &[char] =
        &[',', ':', ';', '<', '>', '#', '-', '*', '+', '!', '=', '&', '.', '/', '\'', '@'];
    const LITERALS: &[&str] = &[
        "0",
        "1",
        "2",
        "8",
        "784",
        "5_000_000_000",
        "100000000000000000000000",
        "2u8",
        "3usize",
        "2.5",
        "1e9",
        "\"2\"",
        "'c'",
        "true",
        "0x10",
        "b'a'",
    ];

    fn leaf() -> impl Strategy<Value = TokenTree> {
        prop_oneof![
            4 => prop::sample::select(WORDS).prop_map(|w| match w.strip_prefix("r#") {
                Some(raw) => TokenTree::Ident(Ident::new_raw(raw, Span::call_site())),
                None => TokenTree::Ident(Ident::new(w, Span::call_site())),
            }),
            4 => (prop::sample::select(PUNCTS), any::<bool>()).prop_map(|(c, joint)| {
                TokenTree::Punct(Punct::new(c, if joint { Spacing::Joint } else { Spacing::Alone }))
            }),
            2 => prop::sample::select(LITERALS)
                .prop_map(|l| TokenStream::from_str(l).expect("lexes").into_iter().next().expect("one token")),
        ]
    }

    fn tree() -> impl Strategy<Value = TokenTree> {
        leaf().prop_recursive(4, 64, 8, |inner| {
            (
                prop::sample::select(
                    &[Delimiter::Brace, Delimiter::Parenthesis, Delimiter::Bracket, Delimiter::None][..],
                ),
                prop::collection::vec(inner, 0..8),
            )
                .prop_map(|(delimiter, tokens)| {
                    TokenTree::Group(Group::new(delimiter, tokens.into_iter().collect()))
                })
        })
    }

    /// Runs the front end, and the expansion when it succeeds; counts the inputs.
    fn run(input: TokenStream, counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::Relaxed);
        let text = input.to_string();
        if let Ok(model) = front(input) {
            let tokens = expand::expand(&model);
            if let Err(e) = syn::parse2::<syn::File>(tokens.clone()) {
                panic!("the expansion of a valid model parses: {e}\ninput: {text}\nexpansion: {tokens}");
            }
        }
    }

    fn config(cases: u32) -> Config {
        Config { cases, failure_persistence: None, ..Config::default() }
    }

    const RANDOM_CASES: u32 = 3_000;
    const MUTATION_CASES: u32 = 6_000;

    #[test]
    fn random_token_trees() {
        let counter = AtomicUsize::new(0);
        let strategy = (any::<bool>(), prop::collection::vec(tree(), 0..24));
        TestRunner::new(config(RANDOM_CASES))
            .run(&strategy, |(with_prefix, trees)| {
                let mut input = if with_prefix {
                    TokenStream::from_str("::backprop;").expect("lexes")
                } else {
                    TokenStream::new()
                };
                input.extend(trees);
                run(input, &counter);
                Ok(())
            })
            .expect("the front end never panics");
        let tried = counter.load(Ordering::Relaxed);
        println!("random token trees: {tried} inputs, no panic");
        assert!(tried >= RANDOM_CASES as usize);
    }

    /// A mutation of a valid spec, at the `n`-th token of a depth-first walk (inside groups
    /// too): delete it, duplicate it, replace it or insert before it a random token tree, or
    /// swap it with its right neighbour. Delimiters stay balanced, so every mutant lexes.
    #[derive(Clone, Debug)]
    enum Mutation {
        Delete(usize),
        Duplicate(usize),
        Replace(usize, TokenTree),
        Insert(usize, TokenTree),
        SwapWithNext(usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            any::<usize>().prop_map(Mutation::Delete),
            any::<usize>().prop_map(Mutation::Duplicate),
            (any::<usize>(), tree()).prop_map(|(i, t)| Mutation::Replace(i, t)),
            (any::<usize>(), tree()).prop_map(|(i, t)| Mutation::Insert(i, t)),
            any::<usize>().prop_map(Mutation::SwapWithNext),
        ]
    }

    fn count(tokens: &TokenStream) -> usize {
        tokens
            .clone()
            .into_iter()
            .map(|t| match t {
                TokenTree::Group(g) => 1 + count(&g.stream()),
                _ => 1,
            })
            .sum()
    }

    /// Applies `mutation` at the token whose depth-first index is `*at` (counted down).
    fn apply(tokens: TokenStream, at: &mut Option<usize>, mutation: &Mutation) -> TokenStream {
        let mut out: Vec<TokenTree> = Vec::new();
        let mut tokens = tokens.into_iter().peekable();
        while let Some(token) = tokens.next() {
            match at {
                Some(0) => {
                    *at = None;
                    match mutation {
                        Mutation::Delete(_) => {}
                        Mutation::Duplicate(_) => out.extend([token.clone(), token]),
                        Mutation::Replace(_, t) => out.push(t.clone()),
                        Mutation::Insert(_, t) => out.extend([t.clone(), token]),
                        Mutation::SwapWithNext(_) => match tokens.next() {
                            Some(next) => out.extend([next, token]),
                            None => out.push(token),
                        },
                    }
                }
                Some(n) => {
                    *n -= 1;
                    out.push(match token {
                        TokenTree::Group(g) => {
                            let mut group = Group::new(g.delimiter(), apply(g.stream(), at, mutation));
                            group.set_span(g.span());
                            TokenTree::Group(group)
                        }
                        other => other,
                    });
                }
                None => out.push(token),
            }
        }
        out.into_iter().collect()
    }

    fn mutate(tokens: TokenStream, mutation: &Mutation) -> TokenStream {
        let n = count(&tokens).max(1);
        let index = match mutation {
            Mutation::Delete(i)
            | Mutation::Duplicate(i)
            | Mutation::Replace(i, _)
            | Mutation::Insert(i, _) => i,
            Mutation::SwapWithNext(i) => i,
        };
        apply(tokens, &mut Some(index % n), mutation)
    }

    #[test]
    fn mutated_valid_specs() {
        let counter = AtomicUsize::new(0);
        let valid_after_mutation = AtomicUsize::new(0);
        let specs: Vec<TokenStream> = [TOY, DEEP_MIXED, CLASSIFIER, CONST_SIZES, LENET, SIGNAL_CONST_SIZES]
            .iter()
            .map(|spec| TokenStream::from_str(&format!("::backprop; {spec}")).expect("lexes"))
            .collect();
        // Every spec is valid before mutation.
        for spec in &specs {
            assert!(front(spec.clone()).is_ok(), "{spec}");
        }
        let strategy = (0..specs.len(), prop::collection::vec(mutation(), 1..4));
        TestRunner::new(config(MUTATION_CASES))
            .run(&strategy, |(which, mutations)| {
                let mut input = specs[which].clone();
                for m in &mutations {
                    input = mutate(input, m);
                }
                if front(input.clone()).is_ok() {
                    valid_after_mutation.fetch_add(1, Ordering::Relaxed);
                }
                run(input, &counter);
                Ok(())
            })
            .expect("the front end never panics");
        let tried = counter.load(Ordering::Relaxed);
        let report = format!(
            "mutated specs: {tried} inputs, {} of them still valid (and expanded), no panic",
            valid_after_mutation.load(Ordering::Relaxed)
        );
        println!("{report}");
        assert!(tried >= MUTATION_CASES as usize, "{report}");
    }

    #[test]
    fn empty_and_prefix_only_inputs() {
        let counter = AtomicUsize::new(0);
        for text in [
            "",
            "::backprop",
            "::backprop;",
            ";",
            "::backprop; pub",
            "::backprop; struct",
            "::backprop; struct Toy",
        ] {
            run(TokenStream::from_str(text).expect("lexes"), &counter);
        }
    }
}
