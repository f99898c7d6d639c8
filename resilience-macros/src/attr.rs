//! Parsing and validating the attribute's options.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{LitStr, Path, Token};

/// The parsed options of `#[resilient(...)]`.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) name: Option<LitStr>,
    pub(crate) krate: Option<Path>,
}

const KNOWN: &str = "`name`, `crate`";

enum Opt {
    Name(LitStr),
    Crate(Path),
}

impl Parse for Opt {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(Token![crate]) {
            input.parse::<Token![crate]>()?;
            input.parse::<Token![=]>()?;
            return Ok(Opt::Crate(input.parse()?));
        }
        let key: syn::Ident = input.parse()?;
        match key.to_string().as_str() {
            "name" => {
                input.parse::<Token![=]>()?;
                let lit: LitStr = input.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "`name` takes a string literal: name = \"service.operation\"",
                    )
                })?;
                if lit.value().trim().is_empty() {
                    return Err(syn::Error::new_spanned(lit, "`name` must not be empty"));
                }
                Ok(Opt::Name(lit))
            }
            other => Err(syn::Error::new_spanned(
                &key,
                format!("unknown option `{other}`; supported options: {KNOWN}"),
            )),
        }
    }
}

impl Parse for Options {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut options = Options::default();
        let mut errors: Option<syn::Error> = None;
        let mut push = |err: syn::Error| match &mut errors {
            Some(all) => all.combine(err),
            None => errors = Some(err),
        };
        for opt in Punctuated::<Opt, Token![,]>::parse_terminated(input)? {
            match opt {
                Opt::Name(lit) => {
                    if options.name.is_some() {
                        push(duplicate(lit.span(), "name"));
                    }
                    options.name = Some(lit);
                }
                Opt::Crate(path) => {
                    if options.krate.is_some() {
                        push(syn::Error::new_spanned(&path, "duplicate option `crate`"));
                    }
                    options.krate = Some(path);
                }
            }
        }
        match errors {
            Some(err) => Err(err),
            None => Ok(options),
        }
    }
}

fn duplicate(span: Span, name: &str) -> syn::Error {
    syn::Error::new(span, format!("duplicate option `{name}`"))
}
