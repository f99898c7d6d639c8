//! Turning a validated `async fn` into its hardened form.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, ReturnType, Type};

use crate::attr::Options;

pub(crate) fn resilient(args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        // Not a function: let the compiler report the item as it is, plus our message.
        Err(_) => {
            let err = syn::Error::new_spanned(
                &item,
                "`#[resilient]` can only be applied to an `async fn`",
            );
            return with_error(&item, &err);
        }
    };
    let options = match syn::parse2::<Options>(args) {
        Ok(options) => options,
        Err(err) => return with_error(&item, &err),
    };
    if let Err(err) = validate(&func) {
        return with_error(&item, &err);
    }
    expand(func, &options)
}

fn validate(func: &ItemFn) -> syn::Result<()> {
    if func.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            func.sig.fn_token,
            "`#[resilient]` requires an `async fn`",
        ));
    }
    match &func.sig.output {
        ReturnType::Default => Err(syn::Error::new(
            func.sig.paren_token.span.close(),
            "`#[resilient]` requires the function to return `Result<T, E>`",
        )),
        ReturnType::Type(_, ty) if !names_a_result(ty) => Err(syn::Error::new_spanned(
            ty,
            "`#[resilient]` requires the function to return `Result<T, E>` \
             (or an alias whose name ends in `Result`)",
        )),
        ReturnType::Type(..) => Ok(()),
    }
}

/// `Result<T, E>`, `io::Result<T>`, `anyhow::Result<T>`: a path whose last segment's
/// name ends in `Result`. The check is syntactic: a macro cannot resolve type aliases.
fn names_a_result(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident.to_string().ends_with("Result")),
        Type::Group(g) => names_a_result(&g.elem),
        Type::Paren(p) => names_a_result(&p.elem),
        _ => false,
    }
}

fn expand(func: ItemFn, options: &Options) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let krate = options
        .krate
        .as_ref()
        .map_or_else(|| quote!(::resilience_core), |p| quote!(#p));
    let ident = &sig.ident;
    let name = match &options.name {
        Some(lit) => quote!(#lit),
        None => quote!(::core::concat!(
            ::core::module_path!(),
            "::",
            ::core::stringify!(#ident)
        )),
    };
    // Binding the body to the declared return type makes the compiler check the body
    // against it, so a type error points at the user's expression rather than at the
    // attribute. `impl Trait` cannot be named in a `let`, so those bodies go unanchored.
    let anchored = match &sig.output {
        ReturnType::Type(_, ty) if !mentions_impl_trait(ty) => quote_spanned! {block.span()=>
            async move {
                let __resilience_ret: #ty = #block;
                __resilience_ret
            }
        },
        _ => quote_spanned! {block.span()=> async move #block },
    };
    let body = quote_spanned! {block.span()=>
        #krate::__private::Instrument::instrument(
            #anchored,
            #krate::__private::call_span(#name),
        )
        .await
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    }
}

fn mentions_impl_trait(ty: &Type) -> bool {
    fn scan(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|tt| match tt {
            proc_macro2::TokenTree::Ident(ident) => ident == "impl",
            proc_macro2::TokenTree::Group(group) => scan(group.stream()),
            _ => false,
        })
    }
    scan(quote!(#ty))
}

fn with_error(item: &TokenStream, err: &syn::Error) -> TokenStream {
    let compile_error = err.to_compile_error();
    quote! {
        #item
        #compile_error
    }
}
