//! Collects every semantic error of one invocation, so the user sees them all in one build
//! (as serde_derive's `Ctxt`).

use std::fmt::Display;

use proc_macro2::Span;
use quote::ToTokens;

/// Errors gathered while validating; [`Ctxt::check`] must be called before it is dropped.
#[derive(Default)]
pub struct Ctxt {
    errors: Vec<syn::Error>,
    checked: bool,
}

impl Ctxt {
    /// An error spanned on every token of `tokens`.
    pub fn error_spanned_by<A: ToTokens, M: Display>(&mut self, tokens: A, message: M) {
        self.errors.push(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// An error at one span.
    pub fn error_at<M: Display>(&mut self, span: Span, message: M) {
        self.errors.push(syn::Error::new(span, message));
    }

    /// Adds an error that another stage already built.
    pub fn syn_error(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    /// Whether no error was recorded so far.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok` if no error was recorded, else all of them combined into one.
    pub fn check(mut self) -> syn::Result<()> {
        self.checked = true;
        let mut errors = std::mem::take(&mut self.errors).into_iter();
        let Some(mut combined) = errors.next() else { return Ok(()) };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        // A drop bomb: forgetting `check` would lose the errors silently.
        if !self.checked && !self.errors.is_empty() && !std::thread::panicking() {
            panic!("backprop-macros: errors were collected but never checked");
        }
    }
}
