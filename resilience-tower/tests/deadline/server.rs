use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use resilience_core::Deadline;
use resilience_core::telemetry::{deadline_where, label};
use resilience_tower::deadline::{DeadlineLayer, DeadlineLayerBuilder};
use resilience_tower::http::HttpErrorLayer;
use tokio::time::{Instant, sleep};
use tower::{ServiceBuilder, ServiceExt, service_fn};

use crate::DropFlag;
use resilience_test_support::http::problem_json;

/// What the handler saw: the ambient deadline's remaining time and the extension.
#[derive(Debug, PartialEq)]
struct Seen {
    ambient: Option<Duration>,
    extension: Option<Duration>,
}

async fn answer(
    builder: DeadlineLayerBuilder,
    request: Request<()>,
    work: Duration,
) -> (Response<Bytes>, Option<Seen>) {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let record = seen.clone();
    let svc = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(builder.build().unwrap())
        .service(service_fn(move |req: Request<()>| {
            let record = record.clone();
            async move {
                *record.lock().unwrap() = Some(Seen {
                    ambient: Deadline::current().map(Deadline::remaining),
                    extension: req.extensions().get::<Deadline>().map(|d| d.remaining()),
                });
                sleep(work).await;
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
            }
        }));
    let response = svc.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let seen = seen.lock().unwrap().take();
    (Response::from_parts(parts, body), seen)
}

fn get(header: Option<(&str, &str)>) -> Request<()> {
    let mut builder = Request::get("/");
    if let Some((name, value)) = header {
        builder = builder.header(name, value);
    }
    builder.body(()).unwrap()
}

fn grpc(timeout: &str) -> Request<()> {
    Request::post("/pkg.Svc/Method")
        .header("content-type", "application/grpc")
        .header("grpc-timeout", timeout)
        .body(())
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn no_header_and_no_default_leaves_the_request_untouched() {
    let (response, seen) = answer(
        DeadlineLayer::builder(),
        get(None),
        Duration::from_secs(3600),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        seen,
        Some(Seen {
            ambient: None,
            extension: None
        })
    );
}

#[tokio::test(start_paused = true)]
async fn millisecond_header_becomes_the_ambient_deadline_without_an_extension_by_default() {
    let header = Some(("connect-timeout-ms", "1500"));
    let (response, seen) = answer(DeadlineLayer::builder(), get(header), Duration::ZERO).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        seen,
        Some(Seen {
            ambient: Some(Duration::from_millis(1500)),
            extension: None
        })
    );
}

#[tokio::test(start_paused = true)]
async fn the_request_extension_is_inserted_when_opted_in() {
    let header = Some(("connect-timeout-ms", "1500"));
    let builder = DeadlineLayer::builder().request_extension(true);
    let (response, seen) = answer(builder, get(header), Duration::ZERO).await;
    assert_eq!(response.status(), StatusCode::OK);
    let want = Some(Duration::from_millis(1500));
    assert_eq!(
        seen,
        Some(Seen {
            ambient: want,
            extension: want
        })
    );
}

#[tokio::test(start_paused = true)]
async fn header_is_capped_at_max_and_default_applies_when_absent() {
    let builder = || {
        DeadlineLayer::builder()
            .max(Duration::from_secs(2))
            .default_timeout(Duration::from_millis(700))
    };
    let (_, seen) = answer(
        builder(),
        get(Some(("connect-timeout-ms", "90000"))),
        Duration::ZERO,
    )
    .await;
    assert_eq!(seen.unwrap().ambient, Some(Duration::from_secs(2)));
    let (_, seen) = answer(builder(), get(None), Duration::ZERO).await;
    assert_eq!(seen.unwrap().ambient, Some(Duration::from_millis(700)));
}

#[tokio::test(start_paused = true)]
async fn custom_header_name_is_read() {
    let builder = DeadlineLayer::builder().header(http::HeaderName::from_static("x-timeout-ms"));
    let (_, seen) = answer(builder, get(Some(("x-timeout-ms", "250"))), Duration::ZERO).await;
    assert_eq!(seen.unwrap().ambient, Some(Duration::from_millis(250)));
}

#[tokio::test(start_paused = true)]
async fn expiry_drops_the_handler_and_answers_504() {
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let svc = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(DeadlineLayer::new())
        .service(service_fn(move |_req: Request<()>| {
            let guard = DropFlag(flag.clone());
            async move {
                let _guard = guard;
                sleep(Duration::from_secs(60)).await;
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
            }
        }));
    let start = Instant::now();
    let response = svc
        .oneshot(get(Some(("connect-timeout-ms", "300"))))
        .await
        .unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(dropped.load(Ordering::SeqCst));
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(problem_json(&body)["kind"], "deadline_exceeded");
}

#[tokio::test(start_paused = true)]
async fn zero_timeout_is_rejected_without_calling_the_handler() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let svc = ServiceBuilder::new()
        .layer(DeadlineLayer::new())
        .service(service_fn(move |_req: Request<()>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, Infallible>(()) }
        }));
    let err = svc
        .oneshot(get(Some(("connect-timeout-ms", "0"))))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), resilience_core::ErrorKind::DeadlineExceeded);
    assert!(err.is_rejection());
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn malformed_header_is_a_400_naming_the_header_or_ignored_if_configured() {
    for value in ["soon", "", "-5", "12345678901", "1.5"] {
        let header = Some(("connect-timeout-ms", value));
        let (response, seen) = answer(DeadlineLayer::builder(), get(header), Duration::ZERO).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{value:?}");
        assert_eq!(seen, None, "handler must not run for {value:?}");
        let problem = problem_json(response.body());
        assert_eq!(problem["kind"], "invalid_request");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("`connect-timeout-ms`"), "{detail}");
    }

    let builder = DeadlineLayer::builder()
        .ignore_malformed(true)
        .default_timeout(Duration::from_secs(1));
    let (response, seen) = answer(
        builder,
        get(Some(("connect-timeout-ms", "soon"))),
        Duration::ZERO,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(seen.unwrap().ambient, Some(Duration::from_secs(1)));
}

#[tokio::test(start_paused = true)]
async fn grpc_requests_use_grpc_timeout_and_get_grpc_statuses() {
    // grpc-timeout is read for gRPC requests; the millisecond header is not.
    let (response, seen) = answer(DeadlineLayer::builder(), grpc("250m"), Duration::ZERO).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(seen.unwrap().ambient, Some(Duration::from_millis(250)));

    // Expiry: HTTP 200 with grpc-status 4, an empty body (Trailers-Only).
    let (response, _) = answer(
        DeadlineLayer::builder(),
        grpc("100m"),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["grpc-status"], "4");
    assert_eq!(response.headers()["content-type"], "application/grpc");
    assert!(response.body().is_empty());

    // Malformed: INVALID_ARGUMENT, message naming the header.
    let (response, seen) =
        answer(DeadlineLayer::builder(), grpc("123456789S"), Duration::ZERO).await;
    assert_eq!(seen, None);
    assert_eq!(response.headers()["grpc-status"], "3");
    let message = response.headers()["grpc-message"].to_str().unwrap();
    assert!(message.contains("`grpc-timeout`"), "{message}");
    assert!(message.contains("more than 8 digits"), "{message}");

    // The largest value decodes without overflow and is capped.
    let (_, seen) = answer(DeadlineLayer::builder(), grpc("99999999H"), Duration::ZERO).await;
    assert_eq!(seen.unwrap().ambient, Some(Duration::from_secs(60)));
}

#[tokio::test(start_paused = true)]
async fn grpc_timeout_on_a_plain_http_request_is_ignored() {
    let header = Some(("grpc-timeout", "1S"));
    let (_, seen) = answer(DeadlineLayer::builder(), get(header), Duration::ZERO).await;
    assert_eq!(seen.unwrap().ambient, None);
}

#[test]
fn builder_rejects_zero_and_inverted_durations() {
    let err = DeadlineLayer::builder()
        .max(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.option(), "max");
    let err = DeadlineLayer::builder()
        .max(Duration::from_secs(1))
        .default_timeout(Duration::from_secs(2))
        .build()
        .unwrap_err();
    assert_eq!(err.option(), "default_timeout");
    let err = DeadlineLayer::builder()
        .default_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.option(), "default_timeout");
}

#[test]
fn expiries_are_counted_by_name_and_where() {
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        let layer = DeadlineLayer::builder().name("api").build().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let svc =
                ServiceBuilder::new()
                    .layer(layer)
                    .service(service_fn(|_req: Request<()>| async {
                        sleep(Duration::from_secs(60)).await;
                        Ok::<_, Infallible>(())
                    }));
            let err = svc
                .clone()
                .oneshot(get(Some(("connect-timeout-ms", "0"))))
                .await
                .unwrap_err();
            assert_eq!(err.instance(), Some("api"));
            svc.clone()
                .oneshot(get(Some(("connect-timeout-ms", "10"))))
                .await
                .unwrap_err();
            svc.oneshot(get(Some(("connect-timeout-ms", "20"))))
                .await
                .unwrap_err();
        });
    });
    let mut counts: Vec<(String, u64)> = recorder
        .snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            assert!(
                key.labels()
                    .any(|l| l.key() == label::NAME && l.value() == "api")
            );
            let place = key
                .labels()
                .find(|l| l.key() == label::WHERE)
                .unwrap()
                .value()
                .to_owned();
            let DebugValue::Counter(n) = value else {
                panic!("counter")
            };
            (place, n)
        })
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        vec![
            (deadline_where::BEFORE_CALL.to_owned(), 1),
            (deadline_where::DURING_CALL.to_owned(), 2)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_layer_built_from_a_policy_reads_its_limits_on_every_request() {
    use resilience_core::deadline::DeadlinePolicy;

    let api = DeadlinePolicy::builder()
        .name("api")
        .max(Duration::from_secs(2))
        .default_timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let builder = || DeadlineLayer::builder().policy(api.clone());
    let (_, seen) = answer(builder(), get(None), Duration::ZERO).await;
    assert_eq!(seen.unwrap().ambient, Some(Duration::from_millis(700)));
    api.reconfigure(
        DeadlinePolicy::builder()
            .max(Duration::from_secs(5))
            .default_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let (_, seen) = answer(builder(), get(None), Duration::ZERO).await;
    assert_eq!(seen.unwrap().ambient, Some(Duration::from_millis(300)));
    let (_, seen) = answer(
        builder(),
        get(Some(("connect-timeout-ms", "90000"))),
        Duration::ZERO,
    )
    .await;
    assert_eq!(
        seen.unwrap().ambient,
        Some(Duration::from_secs(5)),
        "the new cap"
    );
    // A request under way keeps the deadline it started with (300ms), though the limit
    // grows while it runs.
    let svc = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(builder().build().unwrap())
        .service(service_fn(|_req: Request<()>| async {
            sleep(Duration::from_millis(500)).await;
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }));
    let started = Instant::now();
    let under_way = tokio::spawn(svc.oneshot(get(None)));
    sleep(Duration::from_millis(100)).await;
    api.reconfigure(
        DeadlinePolicy::builder()
            .max(Duration::from_secs(5))
            .default_timeout(Duration::from_secs(1)),
    )
    .unwrap();
    let response = under_way.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(started.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn a_reloaded_document_changes_the_cap_and_default_of_a_layer_built_from_it() {
    let doc = |max: &str, default: &str| {
        let text = format!("[deadline.api]\nmax = \"{max}\"\ndefault_timeout = \"{default}\"\n");
        resilience_core::settings::Settings::from_deserializer(
            toml::Deserializer::parse(&text).unwrap(),
        )
        .unwrap()
    };
    let registry = resilience_core::Registry::from_settings(&doc("1s", "400ms")).unwrap();
    let builder = || DeadlineLayer::builder().policy(registry.get_deadline("api").unwrap());
    let capped = || get(Some(("connect-timeout-ms", "90000")));
    let (_, seen) = answer(builder(), capped(), Duration::ZERO).await;
    assert_eq!(seen.unwrap().ambient, Some(Duration::from_secs(1)));
    let (_, seen) = answer(builder(), get(None), Duration::ZERO).await;
    assert_eq!(seen.unwrap().ambient, Some(Duration::from_millis(400)));
    registry.apply(&doc("3s", "2s")).unwrap();
    let (_, seen) = answer(builder(), capped(), Duration::ZERO).await;
    assert_eq!(seen.unwrap().ambient, Some(Duration::from_secs(3)));
    let (_, seen) = answer(builder(), get(None), Duration::ZERO).await;
    assert_eq!(seen.unwrap().ambient, Some(Duration::from_secs(2)));
}
