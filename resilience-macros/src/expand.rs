//! Turning a validated `async fn` into its hardened form.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, ReturnType};

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
    if matches!(func.sig.output, ReturnType::Default) {
        return Err(syn::Error::new(
            func.sig.paren_token.span.close(),
            "`#[resilient]` requires the function to return `Result<T, E>`",
        ));
    }
    Ok(())
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
    // The body keeps its own span, so type errors inside it point at the user's code.
    let body = quote_spanned! {block.span()=>
        #krate::__private::Instrument::instrument(
            async move #block,
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

fn with_error(item: &TokenStream, err: &syn::Error) -> TokenStream {
    let compile_error = err.to_compile_error();
    quote! {
        #item
        #compile_error
    }
}
