//! Checking what the options and the function mean, with an error spanned on the tokens at
//! fault: durations, counts, names of backoffs and jitters, and the shape of the function.

use std::time::Duration;

use syn::{FnArg, ItemFn, LitStr, Path, ReturnType, Type};

use crate::attr::{Errors, Hedge, HedgeOptions, Instance, Options, Retry, RetryOptions};

/// Validated options: everything the expansion needs, in its final form.
pub(crate) struct Plan {
    pub(crate) name: Option<LitStr>,
    pub(crate) krate: Option<Path>,
    pub(crate) deadline: Option<DeadlinePlan>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: Option<RetryChoice>,
    pub(crate) circuit_breaker: Option<Instance>,
    pub(crate) bulkhead: Option<Instance>,
    pub(crate) rate_limit: Option<Instance>,
    pub(crate) adaptive: Option<Instance>,
    pub(crate) throttle: Option<Instance>,
    pub(crate) fault: Option<Instance>,
    pub(crate) classify: Option<Path>,
    pub(crate) hedge: Option<HedgePlan>,
    pub(crate) fallback: Option<Path>,
}

/// Validated `deadline` option: a duration, or the name of a deadline policy in the
/// registry. A value starting with an ASCII digit is a duration (checked at compile
/// time); anything else is a name.
pub(crate) enum DeadlinePlan {
    Fixed(Duration),
    Named(LitStr),
}

/// Validated `retry` option.
pub(crate) enum RetryChoice {
    /// A shared policy, by name or path.
    Instance(Instance),
    /// The function's own policy.
    Own(RetryPlan),
}

/// Validated `hedge` option.
pub(crate) enum HedgePlan {
    /// A shared policy, by name or path.
    Instance(Instance),
    /// The function's own policy; `None` leaves the hedge primitive's default.
    Own {
        delay: Option<Duration>,
        percentile: Option<f64>,
        max: Option<u32>,
        budget: Option<Instance>,
    },
}

impl Plan {
    /// Whether any primitive is asked for (else the body only runs in its span).
    pub(crate) fn uses_primitives(&self) -> bool {
        self.deadline.is_some()
            || self.timeout.is_some()
            || self.retry.is_some()
            || self.circuit_breaker.is_some()
            || self.bulkhead.is_some()
            || self.rate_limit.is_some()
            || self.adaptive.is_some()
            || self.throttle.is_some()
            || self.fault.is_some()
            || self.hedge.is_some()
            || self.fallback.is_some()
    }

    /// Whether the body runs more than once (so owned arguments are cloned for each run).
    pub(crate) fn repeats(&self) -> bool {
        self.retry.is_some() || self.hedge.is_some()
    }
}

/// Validated `retry(...)` options; `None` leaves the retry primitive's default.
pub(crate) struct RetryPlan {
    pub(crate) attempts: Option<u32>,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) base: Option<Duration>,
    pub(crate) max: Option<Duration>,
    pub(crate) jitter: Option<Jitter>,
    pub(crate) budget: Option<Instance>,
}

#[derive(Clone, Copy)]
pub(crate) enum Backoff {
    Constant,
    Linear,
    Exponential,
}

#[derive(Clone, Copy)]
pub(crate) enum Jitter {
    None,
    Full,
    Equal,
    Decorrelated,
}

/// Checks the options and the function together; every problem found is reported.
pub(crate) fn check(options: Options, func: &ItemFn) -> syn::Result<Plan> {
    let mut errors = Errors::default();
    check_function(func, &mut errors);
    if let Some(name) = &options.name {
        if name.value().trim().is_empty() {
            errors.push(syn::Error::new_spanned(name, "`name` must not be empty"));
        }
    }
    let deadline = options.deadline.as_ref().and_then(|lit| {
        let value = lit.value();
        match value.trim_start().chars().next() {
            Some(c) if c.is_ascii_digit() => {
                duration(lit, "deadline", &mut errors).map(DeadlinePlan::Fixed)
            }
            Some(_) => Some(DeadlinePlan::Named(lit.clone())),
            None => {
                errors.push(syn::Error::new_spanned(
                    lit,
                    "`deadline` takes a duration (deadline = \"2s\") or a registry name \
                     (deadline = \"api\"), not an empty string",
                ));
                None
            }
        }
    });
    let timeout = options
        .timeout
        .as_ref()
        .and_then(|lit| duration(lit, "timeout", &mut errors));
    if let (Some(_), Some(adaptive)) = (&options.bulkhead, &options.adaptive) {
        errors.push(syn::Error::new(
            adaptive.span(),
            "`bulkhead` and `adaptive` both cap concurrency: choose one (`adaptive` is a \
             bulkhead whose limit moves)",
        ));
    }
    let retry = options.retry.map(|retry| {
        check_receiver_for_retry(func, &mut errors);
        match retry {
            Retry::Instance(instance) => RetryChoice::Instance(instance),
            Retry::Options(options) => RetryChoice::Own(check_retry(options, &mut errors)),
        }
    });
    let hedge = options.hedge.map(|hedge| {
        check_exclusive_for_hedge(func, &mut errors);
        match hedge {
            Hedge::Instance(instance) => HedgePlan::Instance(instance),
            Hedge::Options(options) => check_hedge(options, &mut errors),
        }
    });
    errors.finish(Plan {
        name: options.name,
        krate: options.krate,
        deadline,
        timeout,
        retry,
        circuit_breaker: options.circuit_breaker,
        bulkhead: options.bulkhead,
        rate_limit: options.rate_limit,
        adaptive: options.adaptive,
        throttle: options.throttle,
        fault: options.fault,
        classify: options.classify,
        hedge,
        fallback: options.fallback,
    })
}

fn check_function(func: &ItemFn, errors: &mut Errors) {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            "`#[resilient]` requires an `async fn`",
        ));
    }
    match &sig.output {
        ReturnType::Default => errors.push(syn::Error::new(
            sig.paren_token.span.close(),
            "`#[resilient]` requires the function to return `Result<T, E>`",
        )),
        ReturnType::Type(_, ty) if !names_a_result(ty) => errors.push(syn::Error::new_spanned(
            ty,
            "`#[resilient]` requires the function to return `Result<T, E>` \
             (or an alias whose name ends in `Result`)",
        )),
        ReturnType::Type(..) => {}
    }
}

/// With retry the body runs once per attempt, so `self` must be a reference (the same
/// `&self` is used again; `&mut self` is reborrowed for each attempt). A `self` taken by
/// value would be used up by the first attempt.
fn check_receiver_for_retry(func: &ItemFn, errors: &mut Errors) {
    let Some(FnArg::Receiver(receiver)) = func.sig.inputs.first() else {
        return;
    };
    let by_reference = receiver.reference.is_some() || matches!(&*receiver.ty, Type::Reference(_));
    if !by_reference {
        errors.push(syn::Error::new_spanned(
            receiver,
            "with `retry`, the body runs once per attempt, so `self` cannot be taken by value; \
             take `&self` (or `&mut self`)",
        ));
    }
}

/// With hedge, attempts of the body run at the same time, so nothing may be borrowed
/// mutably (`&mut self`, a `&mut` argument) and `self` must not be consumed.
fn check_exclusive_for_hedge(func: &ItemFn, errors: &mut Errors) {
    for input in &func.sig.inputs {
        let (mutable, by_value, tokens): (bool, bool, &dyn quote::ToTokens) = match input {
            FnArg::Receiver(r) => {
                let by_reference = r.reference.is_some() || matches!(&*r.ty, Type::Reference(_));
                let mutable = match (&r.reference, &*r.ty) {
                    (Some(_), _) => r.mutability.is_some(),
                    (None, Type::Reference(t)) => t.mutability.is_some(),
                    _ => false,
                };
                (mutable, !by_reference, r)
            }
            FnArg::Typed(t) => match &*t.ty {
                Type::Reference(r) => (r.mutability.is_some(), false, t),
                _ => (false, false, t),
            },
        };
        if mutable {
            errors.push(syn::Error::new_spanned(
                tokens,
                "with `hedge`, attempts of the body run at the same time, so nothing can be \
                 borrowed mutably; take `&self` (or a shared reference)",
            ));
        } else if by_value {
            errors.push(syn::Error::new_spanned(
                tokens,
                "with `hedge`, the body may run more than once, so `self` cannot be taken by \
                 value; take `&self`",
            ));
        }
    }
}

fn check_hedge(hedge: HedgeOptions, errors: &mut Errors) -> HedgePlan {
    let delay = hedge
        .delay
        .as_ref()
        .and_then(|lit| duration(lit, "delay", errors));
    let percentile = hedge
        .percentile
        .as_ref()
        .and_then(|lit| match lit.base10_parse::<f64>() {
            Ok(p) if p > 0.0 && p < 1.0 => Some(p),
            _ => {
                errors.push(syn::Error::new_spanned(
                    lit,
                    "`percentile` is a fraction strictly between 0 and 1: percentile = 0.95",
                ));
                None
            }
        });
    if let (Some(_), Some(lit)) = (&hedge.delay, &hedge.percentile) {
        errors.push(syn::Error::new_spanned(
            lit,
            "`hedge` takes `delay` (fixed) or `percentile` (observed), not both",
        ));
    }
    let max = hedge
        .max
        .as_ref()
        .and_then(|lit| match lit.base10_parse::<u32>() {
            Ok(n @ 1..=10) => Some(n),
            _ => {
                errors.push(syn::Error::new_spanned(
                    lit,
                    "`max` counts hedges besides the first attempt: from 1 to 10",
                ));
                None
            }
        });
    HedgePlan::Own {
        delay,
        percentile,
        max,
        budget: hedge.budget,
    }
}

fn check_retry(retry: RetryOptions, errors: &mut Errors) -> RetryPlan {
    let attempts = retry
        .attempts
        .as_ref()
        .and_then(|lit| match lit.base10_parse::<u32>() {
            Ok(0) => {
                errors.push(syn::Error::new_spanned(
                    lit,
                    "`attempts` counts the first call too, so it must be at least 1",
                ));
                None
            }
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(syn::Error::new_spanned(
                    lit,
                    "`attempts` must be a whole number from 1 to 4294967295",
                ));
                None
            }
        });
    let backoff = retry.backoff.as_ref().and_then(|lit| {
        let found = match lit.value().as_str() {
            "constant" => Some(Backoff::Constant),
            "linear" => Some(Backoff::Linear),
            "exponential" => Some(Backoff::Exponential),
            _ => None,
        };
        if found.is_none() {
            errors.push(syn::Error::new_spanned(
                lit,
                format!(
                    "unknown backoff {:?}; expected \"constant\", \"linear\" or \"exponential\"",
                    lit.value()
                ),
            ));
        }
        found
    });
    let jitter = retry.jitter.as_ref().and_then(|lit| {
        let found = match lit.value().as_str() {
            "none" => Some(Jitter::None),
            "full" => Some(Jitter::Full),
            "equal" => Some(Jitter::Equal),
            "decorrelated" => Some(Jitter::Decorrelated),
            _ => None,
        };
        if found.is_none() {
            errors.push(syn::Error::new_spanned(
                lit,
                format!(
                    "unknown jitter {:?}; expected \"none\", \"full\", \"equal\" or \"decorrelated\"",
                    lit.value()
                ),
            ));
        }
        found
    });
    let base = retry
        .base
        .as_ref()
        .and_then(|lit| duration(lit, "base", errors));
    let max = retry
        .max
        .as_ref()
        .and_then(|lit| duration(lit, "max", errors));
    if let (Some(base), Some(max), Some(max_lit)) = (base, max, &retry.max) {
        if base > max {
            errors.push(syn::Error::new_spanned(
                max_lit,
                format!(
                    "`max` ({}) is shorter than `base` ({}): the cap must be at least the first delay",
                    max_lit.value(),
                    retry.base.as_ref().map(LitStr::value).unwrap_or_default(),
                ),
            ));
        }
    }
    RetryPlan {
        attempts,
        backoff,
        base,
        max,
        jitter,
        budget: retry.budget,
    }
}

/// A duration literal, parsed with `humantime` ("300ms", "2s", "1m 30s"); zero is refused.
fn duration(lit: &LitStr, option: &str, errors: &mut Errors) -> Option<Duration> {
    match humantime::parse_duration(&lit.value()) {
        Ok(d) if d.is_zero() => {
            errors.push(syn::Error::new_spanned(
                lit,
                format!("`{option}` must be longer than zero"),
            ));
            None
        }
        Ok(d) => Some(d),
        Err(err) => {
            errors.push(syn::Error::new(
                lit.span(),
                format!(
                    "`{option}`: {:?} is not a duration ({err}); write it like \"300ms\", \"2s\" or \"1m 30s\"",
                    lit.value()
                ),
            ));
            None
        }
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
