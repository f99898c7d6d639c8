//! Invalid configurations fail at build time, naming the option.

use std::time::Duration;

use resilience_core::fallback::Fallback;
use resilience_core::{Class, Error, Primitive};

#[test]
fn invalid_options_are_refused_with_the_option_named() {
    let b = Fallback::<u32, Error>::builder;
    let cases = [
        (b(), "answer"),
        (b().value(1).on_kinds([]), "on_kinds"),
        (b().value(1).on_classes([Class::Success]), "on_classes"),
        (b().stale(Duration::ZERO), "stale"),
        (b().stale(Duration::from_secs(1)).max_keys(0), "max_keys"),
    ];
    for (builder, option) in cases {
        let err = builder.build().unwrap_err();
        assert_eq!(err.option(), option, "{err}");
        assert_eq!(err.primitive(), Primitive::Fallback);
    }
}
