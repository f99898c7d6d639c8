//! Turning a validated `async fn` into its hardened form.
//!
//! The signature stays; the body becomes (with every option, outermost first):
//!
//! ```text
//! instrument(async move {
//!     finish(fallback(&fallback, classifier, async move {       // fallback = PATH
//!     flatten(deadline(budget, .., async move {                 // deadline = "..."
//!         let mut retry = policy?.retry_loop();                 // retry(...)
//!         loop {
//!             let arg = CloneArg::clone_arg(&arg);              //   each owned argument
//!             record_attempt(&retry);
//!             let attempted = retry.attempt(async {             //   cut off at the deadline
//!                 hedging(hedge?, || {                          // hedge(...)
//!                     let arg = CloneArg::clone_arg(&arg);      //   each hedged attempt
//!                     async move {
//!                 throttle(throttle?, async {                   // throttle = ...
//!                 circuit_breaker(breaker?, classifier,         // circuit_breaker = ...
//!                     async { rate_limit(limiter?,              // rate_limit = ...
//!                         async { bulkhead(bulkhead?,           // bulkhead = ... (or
//!                             timeout(limit,                    //   adaptive(.., classifier, ..))
//!                                 fault(fault?,                 // fault = ...
//!                                     lift(async { body })))).await }).await }).await
//!                 }).await }}).await
//!             }).await;
//!             match retry.next(attempted) { Done(o) => break o, Retry(d) => sleep(d).await }
//!         }
//!     }).await)}).await, name)
//! }, call_span(name)).await
//! ```
//!
//! Only the layers asked for are emitted; without a breaker, a retried or hedged attempt is
//! classified by `Judged::classify(classifier, ..)`. Instances and the policy are resolved on the
//! first call into `static`s of the function. Each layer is its primitive's own guarded
//! future from `resilience-core` (reached through `resilience_core::__private`,
//! `resilience-core/src/macro_support/`), a hand-written future that owns its inner future
//! once, so nesting does not multiply the size of the function's future. The retry loop
//! is written out here rather than handed a closure: an attempt that reborrows
//! `&mut self` can only live in the loop that awaits it.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use crate::attr::{Instance, Options};
use crate::valid::{self, Backoff, DeadlinePlan, HedgePlan, Jitter, Plan, RetryChoice, RetryPlan};

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
    match valid::check(options, &func) {
        Ok(plan) => expand(func, &plan),
        Err(err) => with_error(&item, &err),
    }
}

fn expand(func: ItemFn, plan: &Plan) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = func;
    let krate = plan
        .krate
        .as_ref()
        .map_or_else(|| quote!(::resilience_core), |p| quote!(#p));
    let private = quote!(#krate::__private);
    let ident = &sig.ident;
    let name = match &plan.name {
        Some(lit) => quote!(#lit),
        None => quote!(::core::concat!(
            ::core::module_path!(),
            "::",
            ::core::stringify!(#ident)
        )),
    };
    let ret = match &sig.output {
        ReturnType::Type(_, ty) => Some(ty.clone()),
        ReturnType::Default => None,
    };
    // A `return` of the declared type ahead of the body fixes the async block's output
    // type before the body is checked, so every `return` and the tail are checked against
    // the declared type and a mismatch points at the user's expression rather than at the
    // attribute (as tracing's `#[instrument]` does). `impl Trait` cannot be named in a
    // `let`, so those bodies go unanchored.
    let anchored = match &ret {
        Some(ty) if !mentions_impl_trait(ty) => quote_spanned! {block.span()=>
            {
                #[allow(
                    unknown_lints,
                    unreachable_code,
                    clippy::diverging_sub_expression,
                    clippy::empty_loop,
                    clippy::needless_return
                )]
                if false {
                    let __resilience_ret: #ty = loop {};
                    return __resilience_ret;
                }
                #block
            }
        },
        _ => quote!(#block),
    };
    if !plan.uses_primitives() {
        let anchored = quote_spanned!(block.span()=> async move #anchored);
        let body = quote_spanned! {block.span()=>
            #private::Instrument::instrument(
                #anchored,
                #private::call_span(#name),
            )
            .await
        };
        return quote! {
            #(#attrs)*
            #vis #sig {
                #body
            }
        };
    }

    // With retry (or hedge), each attempt is a fresh (non-`move`) async block over
    // per-attempt copies of the owned arguments: `&self` and other references are shared,
    // `&mut self` is reborrowed by the block for one attempt at a time (never with hedge,
    // whose attempts overlap).
    let clones = match plan.repeats() {
        true => per_attempt_clones(&mut sig, &private),
        false => TokenStream::new(),
    };
    let body = match plan.repeats() {
        true => quote_spanned!(block.span()=> async #anchored),
        false => quote_spanned!(block.span()=> async move #anchored),
    };

    let classifier = match &plan.classify {
        Some(path) => quote_spanned!(path.span()=> &#path),
        None => quote!(&#private::TransientErrors),
    };
    // Innermost first: the lifted body, fault injection, attempt timeout, bulkhead or adaptive bulkhead,
    // rate limit, circuit breaker, throttle, hedge. A bulkhead and a rate limit ask for
    // their permit or turn when their guard is made; nested inside another layer, each is
    // wrapped in an `async` block so that it asks only once the layers around it have
    // admitted the attempt (a breaker that refuses takes no turn from the rate limit; a
    // caller waiting for its turn holds no bulkhead slot).
    let mut attempt = quote!(#private::lift(#body));
    // The fault stands in for the dependency: innermost, so that a delay or a hang is
    // cut by the attempt's timeout and holds the bulkhead's permit as a slow call would.
    if let Some(fault) = &plan.fault {
        let source = resolve(
            fault,
            &private,
            quote!(#krate::fault::Fault),
            "FaultSource",
            "registry_fault",
        );
        attempt = quote!(#private::fault(#source, #attempt));
    }
    if let Some(limit) = plan.timeout {
        let limit = duration(limit);
        attempt = quote!(#private::timeout(#limit, #attempt));
    }
    if let Some(bulkhead) = &plan.bulkhead {
        let source = resolve(
            bulkhead,
            &private,
            quote!(#krate::bulkhead::Bulkhead),
            "BulkheadSource",
            "registry_bulkhead",
        );
        attempt = quote!(#private::bulkhead(#source, #attempt));
    }
    if let Some(adaptive) = &plan.adaptive {
        let source = resolve(
            adaptive,
            &private,
            quote!(#krate::adaptive::AdaptiveBulkhead),
            "AdaptiveSource",
            "registry_adaptive",
        );
        attempt = quote!(#private::adaptive(#source, #classifier, #attempt));
    }
    let caps = plan.bulkhead.is_some() || plan.adaptive.is_some();
    if let Some(limiter) = &plan.rate_limit {
        let source = resolve(
            limiter,
            &private,
            quote!(#krate::rate_limit::RateLimiter),
            "RateLimiterSource",
            "registry_rate_limiter",
        );
        let inner = if caps {
            quote!(async { #attempt.await })
        } else {
            attempt
        };
        attempt = quote!(#private::rate_limit(#source, #inner));
    }
    // Whether the attempt so far asks for something when it is made.
    let eager = caps || plan.rate_limit.is_some();
    let judged = match &plan.circuit_breaker {
        Some(breaker) => {
            let source = resolve(
                breaker,
                &private,
                quote!(#krate::circuit_breaker::CircuitBreaker),
                "BreakerSource",
                "registry_breaker",
            );
            let attempt = if eager {
                quote!(async { #attempt.await })
            } else {
                attempt.clone()
            };
            Some(quote!(#private::circuit_breaker(#source, #classifier, #attempt)))
        }
        None if plan.repeats() => Some(quote! {
            async { #private::Judged::classify(#classifier, #attempt.await) }
        }),
        None => None,
    };
    // The throttle decides first; what it wraps is asked only if it lets the call through.
    let (attempt, judged) = match &plan.throttle {
        Some(throttle) => {
            let source = resolve(
                throttle,
                &private,
                quote!(#krate::throttle::AdaptiveThrottle),
                "ThrottleSource",
                "registry_throttle",
            );
            match judged {
                Some(judged) => (
                    attempt,
                    Some(quote!(#private::throttle(#source, async { #judged.await }))),
                ),
                None => (
                    quote!(#private::throttle(#source, async { #attempt.await })),
                    None,
                ),
            }
        }
        None => (attempt, judged),
    };
    // Hedged: each attempt (judged, through the throttle, breaker and bulkhead) made by a
    // closure, on its own copies of the owned arguments, as often as the hedge sends one.
    let judged = match (&plan.hedge, judged) {
        (Some(hedge), Some(judged)) => {
            let retry = match &plan.retry {
                None => HedgeRetry::None,
                Some(RetryChoice::Own(_)) => HedgeRetry::Own,
                Some(RetryChoice::Instance(_)) => HedgeRetry::Shared,
            };
            let source = hedge_source(hedge, &krate, &private, &name, retry);
            Some(quote! {
                async {
                    match #source {
                        ::core::result::Result::Err(__resilience_err) => {
                            #private::Judged::error(__resilience_err)
                        }
                        ::core::result::Result::Ok(__resilience_hedge) => {
                            #private::hedging(__resilience_hedge, || {
                                #clones
                                async move { #judged.await }
                            })
                            .await
                        }
                    }
                }
            })
        }
        (_, judged) => judged,
    };

    let call = match (&plan.retry, judged) {
        (Some(retry), Some(judged)) => {
            let policy = match retry {
                RetryChoice::Own(retry) => retry_policy(retry, &krate, &private, &name),
                RetryChoice::Instance(instance) => resolve(
                    instance,
                    &private,
                    quote!(#krate::retry::RetryPolicy),
                    "RetryPolicySource",
                    "registry_retry_policy",
                ),
            };
            quote! {
                match #policy {
                    ::core::result::Result::Err(__resilience_err) => {
                        ::core::result::Result::Err(__resilience_err)
                    }
                    ::core::result::Result::Ok(__resilience_policy) => {
                        let mut __resilience_retry = __resilience_policy.retry_loop();
                        loop {
                            #clones
                            #private::record_attempt(&__resilience_retry);
                            let __resilience_attempted =
                                __resilience_retry.attempt(async { #judged.await }).await;
                            match __resilience_retry.next(__resilience_attempted) {
                                #private::Next::Done(__resilience_outcome) => break __resilience_outcome,
                                #private::Next::Retry(__resilience_delay) => {
                                    #private::sleep(__resilience_delay).await;
                                }
                            }
                        }
                    }
                }
            }
        }
        (None, Some(judged)) => quote!(#judged.await.into_outcome()),
        (_, None) => quote!(#attempt.await),
    };
    let call = match &plan.deadline {
        Some(DeadlinePlan::Named(lit)) => {
            let source = resolve(
                &Instance::Name(lit.clone()),
                &private,
                quote!(#krate::deadline::DeadlinePolicy),
                "DeadlinePolicySource",
                "registry_deadline",
            );
            quote! {{
                #private::flatten(
                    #private::deadline_named(#source, async move { #call }).await,
                )
            }}
        }
        Some(DeadlinePlan::Fixed(budget)) => {
            let budget = duration(*budget);
            quote! {{
                static __RESILIENCE_DEADLINE: #private::Cached<#krate::deadline::Enforcer> =
                    #private::Cached::new();
                #private::flatten(
                    #private::deadline(#budget, &__RESILIENCE_DEADLINE, #name, async move { #call })
                        .await,
                )
            }}
        }
        None => quote!({ #call }),
    };
    // Outermost: the fallback answers what the whole call failed with.
    let call = match &plan.fallback {
        Some(path) => {
            let source = quote_spanned! {path.span()=>
                {
                    use #private::FallbackSource as _;
                    (#path).resilience_fallback()
                }
            };
            quote! {{
                let __resilience_fallback = #source;
                #private::fallback(&__resilience_fallback, #classifier, async move #call).await
            }}
        }
        None => call,
    };
    // `E: From<resilience_core::Error>` is required here; point a missing impl at the
    // declared return type.
    let finish_span = ret.as_ref().map_or_else(Span::call_site, |ty| ty.span());
    let finish = match &plan.krate {
        Some(_) => quote_spanned!(finish_span=> #private::finish),
        None => quote_spanned!(finish_span=> ::resilience_core::__private::finish),
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            #private::Instrument::instrument(
                async move { #finish(#call, #name) },
                #private::call_span(#name),
            )
            .await
        }
    }
}

/// The statements that give each attempt its own copy of every owned argument, spanned on
/// the argument so that a non-`Clone` one is reported there. The `mut` of an argument
/// moves from the signature to its per-attempt copy (callers never see it).
fn per_attempt_clones(sig: &mut syn::Signature, private: &TokenStream) -> TokenStream {
    let mut out = TokenStream::new();
    for input in &mut sig.inputs {
        let FnArg::Typed(arg) = input else { continue };
        if is_reference(&arg.ty) {
            continue;
        }
        let mut bindings = Vec::new();
        take_bindings(&mut arg.pat, &mut bindings);
        for (ident, mutable) in bindings {
            let mutability = mutable.then(|| quote!(mut));
            let clone = quote_spanned! {ident.span()=>
                #private::CloneArg::clone_arg(&#ident)
            };
            out.extend(quote! {
                #[allow(unused_variables, unused_mut)]
                let #mutability #ident = #clone;
            });
        }
    }
    out
}

/// Every name a pattern binds, with whether it was `mut` (which is removed: the binding
/// in the signature is only ever cloned from).
fn take_bindings(pat: &mut Pat, out: &mut Vec<(Ident, bool)>) {
    match pat {
        Pat::Ident(p) => {
            out.push((p.ident.clone(), p.mutability.take().is_some()));
            if let Some((_, sub)) = &mut p.subpat {
                take_bindings(sub, out);
            }
        }
        Pat::Tuple(t) => t.elems.iter_mut().for_each(|p| take_bindings(p, out)),
        Pat::TupleStruct(t) => t.elems.iter_mut().for_each(|p| take_bindings(p, out)),
        Pat::Struct(s) => s
            .fields
            .iter_mut()
            .for_each(|f| take_bindings(&mut f.pat, out)),
        Pat::Slice(s) => s.elems.iter_mut().for_each(|p| take_bindings(p, out)),
        Pat::Reference(r) => take_bindings(&mut r.pat, out),
        Pat::Paren(p) => take_bindings(&mut p.pat, out),
        Pat::Type(t) => take_bindings(&mut t.pat, out),
        _ => {}
    }
}

fn is_reference(ty: &Type) -> bool {
    match ty {
        Type::Reference(_) => true,
        Type::Group(g) => is_reference(&g.elem),
        Type::Paren(p) => is_reference(&p.elem),
        _ => false,
    }
}

/// An expression for a shared instance, resolved on the first call and kept in a static
/// of the function: `Result<&'static Instance, Error>`.
fn resolve(
    instance: &Instance,
    private: &TokenStream,
    ty: TokenStream,
    source_trait: &str,
    registry_fn: &str,
) -> TokenStream {
    let source_trait = Ident::new(source_trait, Span::call_site());
    let registry_fn = Ident::new(registry_fn, Span::call_site());
    let init = match instance {
        Instance::Name(lit) => quote!(#private::#registry_fn(#lit)),
        Instance::Path(path) => quote_spanned! {path.span()=>
            {
                use #private::#source_trait as _;
                (#path).resilience_instance()
            }
        },
    };
    quote! {{
        static __RESILIENCE_INSTANCE: #private::Cached<#ty> = #private::Cached::new();
        __RESILIENCE_INSTANCE.get_or_try_init(|| #init)
    }}
}

/// `Option<Result<&'static RetryBudget, Error>>`: the budget a `budget = ...` option
/// names, if there is one.
fn optional_budget(
    budget: Option<&Instance>,
    krate: &TokenStream,
    private: &TokenStream,
) -> TokenStream {
    match budget {
        Some(budget) => {
            let budget = resolve(
                budget,
                private,
                quote!(#krate::retry::RetryBudget),
                "BudgetSource",
                "registry_budget",
            );
            quote!(::core::option::Option::Some(#budget))
        }
        None => quote!(::core::option::Option::None),
    }
}

/// The retry policy, built on the first call and kept in a static of the function:
/// `Result<&'static RetryPolicy, Error>`.
fn retry_policy(
    retry: &RetryPlan,
    krate: &TokenStream,
    private: &TokenStream,
    name: &TokenStream,
) -> TokenStream {
    let some = |value: TokenStream| quote!(::core::option::Option::Some(#value));
    let none = quote!(::core::option::Option::None);
    let attempts = retry
        .attempts
        .map_or_else(|| none.clone(), |n| some(quote!(#n)));
    let backoff = retry.backoff.map_or_else(
        || none.clone(),
        |backoff| {
            let kind = match backoff {
                Backoff::Constant => quote!(Constant),
                Backoff::Linear => quote!(Linear),
                Backoff::Exponential => quote!(Exponential),
            };
            some(quote!(#private::BackoffKind::#kind))
        },
    );
    let base = retry
        .base
        .map_or_else(|| none.clone(), |d| some(duration(d)));
    let max = retry
        .max
        .map_or_else(|| none.clone(), |d| some(duration(d)));
    let jitter = retry.jitter.map_or_else(
        || none.clone(),
        |jitter| {
            let jitter = match jitter {
                Jitter::None => quote!(None),
                Jitter::Full => quote!(Full),
                Jitter::Equal => quote!(Equal),
                Jitter::Decorrelated => quote!(Decorrelated),
            };
            some(quote!(#krate::retry::Jitter::#jitter))
        },
    );
    let budget = optional_budget(retry.budget.as_ref(), krate, private);
    quote! {{
        static __RESILIENCE_POLICY: #private::Cached<#krate::retry::RetryPolicy> =
            #private::Cached::new();
        __RESILIENCE_POLICY.get_or_try_init(|| {
            #private::retry_policy(
                #private::RetrySpec {
                    name: #name,
                    attempts: #attempts,
                    backoff: #backoff,
                    base: #base,
                    max: #max,
                    jitter: #jitter,
                },
                #budget,
            )
        })
    }}
}

/// The retry policy around a hedge, whose budget the hedge shares unless it names one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HedgeRetry {
    None,
    /// The function's own `retry(...)`: its budget never changes.
    Own,
    /// `retry = "name"` or a path: a shared policy, reconfigurable to another budget.
    Shared,
}

/// The hedging policy, `Result<&'static Hedge, Error>`: a shared one resolved on the
/// first call, or the function's own, built then (sharing the retry policy's budget when
/// there is one and `budget` is not set).
fn hedge_source(
    hedge: &HedgePlan,
    krate: &TokenStream,
    private: &TokenStream,
    name: &TokenStream,
    with_retry: HedgeRetry,
) -> TokenStream {
    let (delay, percentile, max, budget) = match hedge {
        HedgePlan::Instance(instance) => {
            return resolve(
                instance,
                private,
                quote!(#krate::hedge::Hedge),
                "HedgeSource",
                "registry_hedge",
            );
        }
        HedgePlan::Own {
            delay,
            percentile,
            max,
            budget,
        } => (delay, percentile, max, budget),
    };
    let some = |value: TokenStream| quote!(::core::option::Option::Some(#value));
    let none = quote!(::core::option::Option::None);
    let delay = delay.map_or_else(|| none.clone(), |d| some(duration(d)));
    let percentile = percentile.map_or_else(|| none.clone(), |p| some(quote!(#p)));
    let max = max.map_or_else(|| none.clone(), |n| some(quote!(#n)));
    let follows_retry = with_retry == HedgeRetry::Shared && budget.is_none();
    let budget = optional_budget(budget.as_ref(), krate, private);
    let spec = quote! {
        #private::HedgeSpec {
            name: #name,
            delay: #delay,
            percentile: #percentile,
            max: #max,
        }
    };
    let retry = match with_retry {
        HedgeRetry::None => none.clone(),
        HedgeRetry::Own | HedgeRetry::Shared => some(quote!(__resilience_policy)),
    };
    let built = quote! {
        __RESILIENCE_HEDGE.get_or_try_init(|| #private::hedge_policy(#spec, #budget, #retry))
    };
    // A hedge on the retry policy's budget follows it: a policy from the registry may be
    // reconfigured to another budget (or none) after the hedge was built.
    let built = match follows_retry {
        true => quote! {
            #built.map(|__resilience_hedge| {
                static __RESILIENCE_HEDGE_SEEN: ::core::sync::atomic::AtomicU64 =
                    ::core::sync::atomic::AtomicU64::new(0);
                #private::follow_retry_budget(
                    __resilience_hedge,
                    __resilience_policy,
                    &__RESILIENCE_HEDGE_SEEN,
                    || #spec,
                );
                __resilience_hedge
            })
        },
        false => built,
    };
    quote! {{
        static __RESILIENCE_HEDGE: #private::Cached<#krate::hedge::Hedge> =
            #private::Cached::new();
        #built
    }}
}

/// `Duration::new(secs, nanos)`: exact, and a `const` expression.
fn duration(d: Duration) -> TokenStream {
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    quote!(::core::time::Duration::new(#secs, #nanos))
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
