//! The bulkhead layer: as a tower service, and inside a real axum app on 127.0.0.1.

mod app;
mod service;
