//! The infallible layer and `HttpError` inside a real axum app on 127.0.0.1.

mod app;
