//! Parsing the attribute's options: syntax only. Every value keeps its tokens (and so its
//! span); what the values mean is checked in `valid.rs`.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitFloat, LitInt, LitStr, Path, Token, parenthesized};

/// The options of `#[resilient(...)]`, as written.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) name: Option<LitStr>,
    pub(crate) krate: Option<Path>,
    pub(crate) deadline: Option<LitStr>,
    pub(crate) timeout: Option<LitStr>,
    pub(crate) retry: Option<Retry>,
    pub(crate) circuit_breaker: Option<Instance>,
    pub(crate) bulkhead: Option<Instance>,
    pub(crate) rate_limit: Option<Instance>,
    pub(crate) adaptive: Option<Instance>,
    pub(crate) throttle: Option<Instance>,
    pub(crate) fault: Option<Instance>,
    pub(crate) classify: Option<Path>,
    pub(crate) hedge: Option<Hedge>,
    pub(crate) fallback: Option<Path>,
}

/// `hedge = "name"` / `hedge = PATH` (a shared policy), or `hedge(...)` (the function's
/// own), as written.
pub(crate) enum Hedge {
    Instance(Instance),
    Options(HedgeOptions),
}

/// The options inside `hedge(...)`, as written.
#[derive(Default)]
pub(crate) struct HedgeOptions {
    pub(crate) delay: Option<LitStr>,
    pub(crate) percentile: Option<LitFloat>,
    pub(crate) max: Option<LitInt>,
    pub(crate) budget: Option<Instance>,
}

/// `retry = "name"` / `retry = PATH` (a shared policy), or `retry(...)` (the function's
/// own), as written.
pub(crate) enum Retry {
    Instance(Instance),
    Options(RetryOptions),
}

/// The options inside `retry(...)`, as written.
pub(crate) struct RetryOptions {
    pub(crate) attempts: Option<LitInt>,
    pub(crate) backoff: Option<LitStr>,
    pub(crate) base: Option<LitStr>,
    pub(crate) max: Option<LitStr>,
    pub(crate) jitter: Option<LitStr>,
    pub(crate) budget: Option<Instance>,
}

/// A shared instance: a name looked up in the global registry, or a path to an instance
/// the user built.
pub(crate) enum Instance {
    Name(LitStr),
    Path(Path),
}

impl Instance {
    /// Where the value was written, for errors about it.
    pub(crate) fn span(&self) -> Span {
        match self {
            Instance::Name(lit) => lit.span(),
            Instance::Path(path) => syn::spanned::Spanned::span(path),
        }
    }
}

const KNOWN: &str = "`name`, `crate`, `deadline`, `timeout`, `retry(...)` or `retry = ...`, `hedge(...)`, `circuit_breaker`, `rate_limit`, `bulkhead`, `adaptive`, `throttle`, `fault`, `classify`, `fallback`";
const KNOWN_RETRY: &str = "`attempts`, `backoff`, `base`, `max`, `jitter`, `budget`";
const KNOWN_HEDGE: &str = "`delay`, `percentile`, `max`, `budget`";

impl Parse for Options {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut options = Options::default();
        let mut errors = Errors::default();
        loop {
            if input.is_empty() {
                break;
            }
            if input.peek(Token![crate]) {
                let key = input.parse::<Token![crate]>()?;
                input.parse::<Token![=]>()?;
                let path =
                    path_value(input, "crate", "a path", "crate = my_reexports::resilience")?;
                set(&mut options.krate, path, key.span, "crate", &mut errors);
            } else {
                let key: Ident = input.parse()?;
                let span = key.span();
                match key.to_string().as_str() {
                    "name" => {
                        let lit = string_value(input, &key, "name = \"service.operation\"")?;
                        set(&mut options.name, lit, span, "name", &mut errors);
                    }
                    "deadline" => {
                        let lit = string_value(
                            input,
                            &key,
                            "deadline = \"2s\" (or a registry name: deadline = \"api\")",
                        )?;
                        set(&mut options.deadline, lit, span, "deadline", &mut errors);
                    }
                    "timeout" => {
                        let lit = string_value(input, &key, "timeout = \"300ms\"")?;
                        set(&mut options.timeout, lit, span, "timeout", &mut errors);
                    }
                    "retry" => {
                        let retry = if input.peek(Token![=]) {
                            Retry::Instance(instance_value(input, &key, "RetryPolicy")?)
                        } else {
                            Retry::Options(RetryOptions::parse_after(input)?)
                        };
                        set(&mut options.retry, retry, span, "retry", &mut errors);
                    }
                    "hedge" => {
                        let hedge = if input.peek(Token![=]) {
                            Hedge::Instance(instance_value(input, &key, "Hedge")?)
                        } else {
                            Hedge::Options(HedgeOptions::parse_after(input)?)
                        };
                        set(&mut options.hedge, hedge, span, "hedge", &mut errors);
                    }
                    "fallback" => {
                        input
                            .parse::<Token![=]>()
                            .map_err(|e| expected_eq(e, &key))?;
                        let path = path_value(
                            input,
                            "fallback",
                            "a path to a `Fallback`",
                            "fallback = PRICES_FALLBACK",
                        )?;
                        set(&mut options.fallback, path, span, "fallback", &mut errors);
                    }
                    "circuit_breaker" => {
                        let instance = instance_value(input, &key, "CircuitBreaker")?;
                        set(
                            &mut options.circuit_breaker,
                            instance,
                            span,
                            "circuit_breaker",
                            &mut errors,
                        );
                    }
                    "bulkhead" => {
                        let instance = instance_value(input, &key, "Bulkhead")?;
                        set(
                            &mut options.bulkhead,
                            instance,
                            span,
                            "bulkhead",
                            &mut errors,
                        );
                    }
                    "rate_limit" => {
                        let instance = instance_value(input, &key, "RateLimiter")?;
                        set(
                            &mut options.rate_limit,
                            instance,
                            span,
                            "rate_limit",
                            &mut errors,
                        );
                    }
                    "adaptive" => {
                        let instance = instance_value(input, &key, "AdaptiveBulkhead")?;
                        set(
                            &mut options.adaptive,
                            instance,
                            span,
                            "adaptive",
                            &mut errors,
                        );
                    }
                    "throttle" => {
                        let instance = instance_value(input, &key, "AdaptiveThrottle")?;
                        set(
                            &mut options.throttle,
                            instance,
                            span,
                            "throttle",
                            &mut errors,
                        );
                    }
                    "fault" => {
                        let instance = instance_value(input, &key, "Fault")?;
                        set(&mut options.fault, instance, span, "fault", &mut errors);
                    }
                    "classify" => {
                        input
                            .parse::<Token![=]>()
                            .map_err(|e| expected_eq(e, &key))?;
                        let path = path_value(
                            input,
                            "classify",
                            "a path to a value that implements `Classify`",
                            "classify = my_errors::CLASSIFIER",
                        )?;
                        set(&mut options.classify, path, span, "classify", &mut errors);
                    }
                    other => {
                        return Err(syn::Error::new(
                            span,
                            format!("unknown option `{other}`; supported options: {KNOWN}"),
                        ));
                    }
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        errors.finish(options)
    }
}

impl RetryOptions {
    /// Parses what follows the `retry` keyword: nothing (the retry defaults) or `(...)`.
    fn parse_after(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut retry = RetryOptions {
            attempts: None,
            backoff: None,
            base: None,
            max: None,
            jitter: None,
            budget: None,
        };
        if input.is_empty() || input.peek(Token![,]) {
            return Ok(retry);
        }
        let content;
        parenthesized!(content in input);
        let mut errors = Errors::default();
        while !content.is_empty() {
            parse_retry_key(&content, &mut retry, &mut errors)?;
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        errors.finish(retry)
    }
}

impl HedgeOptions {
    /// Parses what follows the `hedge` keyword when it is not `= ...`: nothing (the
    /// defaults) or `(...)`.
    fn parse_after(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut hedge = HedgeOptions::default();
        if input.is_empty() || input.peek(Token![,]) {
            return Ok(hedge);
        }
        let content;
        parenthesized!(content in input);
        let mut errors = Errors::default();
        while !content.is_empty() {
            let key: Ident = content.parse()?;
            let span = key.span();
            match key.to_string().as_str() {
                "delay" => {
                    let lit = string_value(&content, &key, "delay = \"50ms\"")?;
                    set(&mut hedge.delay, lit, span, "delay", &mut errors);
                }
                "percentile" => {
                    content
                        .parse::<Token![=]>()
                        .map_err(|e| expected_eq(e, &key))?;
                    let lit: LitFloat = content.parse().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            "`percentile` takes a float literal between 0 and 1: percentile = 0.95",
                        )
                    })?;
                    set(&mut hedge.percentile, lit, span, "percentile", &mut errors);
                }
                "max" => {
                    content
                        .parse::<Token![=]>()
                        .map_err(|e| expected_eq(e, &key))?;
                    let lit: LitInt = content.parse().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            "`max` takes an integer literal (hedges besides the first attempt): max = 1",
                        )
                    })?;
                    set(&mut hedge.max, lit, span, "max", &mut errors);
                }
                "budget" => {
                    let instance = instance_value(&content, &key, "RetryBudget")?;
                    set(&mut hedge.budget, instance, span, "budget", &mut errors);
                }
                other => {
                    return Err(syn::Error::new(
                        span,
                        format!("unknown `hedge` option `{other}`; supported: {KNOWN_HEDGE}"),
                    ));
                }
            }
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        errors.finish(hedge)
    }
}

/// Parses one `key = value` inside `retry(...)` into `retry`.
fn parse_retry_key(
    input: ParseStream<'_>,
    retry: &mut RetryOptions,
    errors: &mut Errors,
) -> syn::Result<()> {
    let key: Ident = input.parse()?;
    let span = key.span();
    match key.to_string().as_str() {
        "attempts" => {
            input
                .parse::<Token![=]>()
                .map_err(|e| expected_eq(e, &key))?;
            let lit: LitInt = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "`attempts` takes an integer literal (the first call included): attempts = 3",
                )
            })?;
            set(&mut retry.attempts, lit, span, "attempts", errors);
        }
        "backoff" => {
            let lit = string_value(input, &key, "backoff = \"exponential\"")?;
            set(&mut retry.backoff, lit, span, "backoff", errors);
        }
        "base" => {
            let lit = string_value(input, &key, "base = \"50ms\"")?;
            set(&mut retry.base, lit, span, "base", errors);
        }
        "max" => {
            let lit = string_value(input, &key, "max = \"1s\"")?;
            set(&mut retry.max, lit, span, "max", errors);
        }
        "jitter" => {
            let lit = string_value(input, &key, "jitter = \"full\"")?;
            set(&mut retry.jitter, lit, span, "jitter", errors);
        }
        "budget" => {
            let instance = instance_value(input, &key, "RetryBudget")?;
            set(&mut retry.budget, instance, span, "budget", errors);
        }
        other => {
            return Err(syn::Error::new(
                span,
                format!("unknown `retry` option `{other}`; supported: {KNOWN_RETRY}"),
            ));
        }
    }
    Ok(())
}

/// `= "..."`, with a message naming the option and an example when the value is not a
/// string literal.
fn string_value(input: ParseStream<'_>, key: &Ident, example: &str) -> syn::Result<LitStr> {
    input
        .parse::<Token![=]>()
        .map_err(|e| expected_eq(e, key))?;
    input.parse::<LitStr>().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("`{key}` takes a string literal: {example}"),
        )
    })
}

/// `= "name"` or `= path::TO_INSTANCE`.
fn instance_value(input: ParseStream<'_>, key: &Ident, ty: &str) -> syn::Result<Instance> {
    input
        .parse::<Token![=]>()
        .map_err(|e| expected_eq(e, key))?;
    if input.peek(LitStr) {
        return Ok(Instance::Name(input.parse()?));
    }
    let message = format!(
        "`{key}` takes a registry name (`{key} = \"payments\"`) or a path to a `{ty}` \
         (`{key} = PAYMENTS`)"
    );
    if input.peek(Ident)
        || input.peek(Token![::])
        || input.peek(Token![crate])
        || input.peek(Token![self])
        || input.peek(Token![super])
        || input.peek(Token![Self])
    {
        let path: Path = input
            .parse()
            .map_err(|e| syn::Error::new(e.span(), &message))?;
        return Ok(Instance::Path(path));
    }
    Err(syn::Error::new(input.span(), message))
}

fn path_value(input: ParseStream<'_>, key: &str, what: &str, example: &str) -> syn::Result<Path> {
    let message = format!("`{key}` takes {what}: {example}");
    if input.fork().parse::<syn::Lit>().is_ok() {
        return Err(syn::Error::new(
            input.span(),
            format!("{message} (not a literal)"),
        ));
    }
    input
        .parse::<Path>()
        .map_err(|e| syn::Error::new(e.span(), message))
}

fn expected_eq(err: syn::Error, key: &Ident) -> syn::Error {
    syn::Error::new(err.span(), format!("expected `=` after `{key}`"))
}

/// Stores `value`, or records a duplicate-option error on the second occurrence.
fn set<T>(slot: &mut Option<T>, value: T, span: Span, name: &str, errors: &mut Errors) {
    if slot.is_some() {
        errors.push(syn::Error::new(
            span,
            format!("duplicate option `{name}`: each option may appear once"),
        ));
    }
    *slot = Some(value);
}

/// Errors gathered while going on, so that one build reports every problem.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, err: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(err),
            None => self.0 = Some(err),
        }
    }

    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(err) => Err(err),
            None => Ok(value),
        }
    }
}
