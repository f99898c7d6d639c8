//! What the error model costs: building, enriching, boxing and recovering an `Error`,
//! and classifying an outcome.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use resilience_core::classify::TransientErrors;
use resilience_core::{BoxError, Class, Classify, Error, ErrorKind, Primitive};

fn error_model(c: &mut Criterion) {
    let mut group = c.benchmark_group("error");
    group.bench_function("new_rejection_with_context", |b| {
        b.iter(|| {
            Error::new(black_box(ErrorKind::CircuitOpen))
                .with_primitive(Primitive::CircuitBreaker)
                .with_instance("payments")
                .with_retry_after(Duration::from_secs(5))
        });
    });
    group.bench_function("box_round_trip_passthrough", |b| {
        b.iter_batched(
            || Error::new(ErrorKind::BulkheadFull).with_instance("db"),
            |err| {
                let boxed: BoxError = err.into();
                Error::from(black_box(boxed))
            },
            criterion::BatchSize::SmallInput,
        );
    });
    group.bench_function("wrap_foreign_error", |b| {
        b.iter(|| Error::wrap(black_box(std::fmt::Error)));
    });
    group.finish();

    let mut group = c.benchmark_group("classify");
    let ok: Result<u64, Error> = Ok(1);
    let err: Result<u64, Error> = Err(Error::new(ErrorKind::Inner).with_class(Class::Permanent));
    group.bench_function("transient_errors_ok", |b| {
        b.iter(|| TransientErrors.classify(black_box(&ok)));
    });
    group.bench_function("transient_errors_err_with_carried_class", |b| {
        b.iter(|| TransientErrors.classify(black_box(&err)));
    });
    group.finish();
}

criterion_group!(benches, error_model);
criterion_main!(benches);
