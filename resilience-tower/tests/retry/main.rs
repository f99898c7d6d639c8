//! Retry layers: readiness before every attempt, replay by clone, `Retry-After` on
//! `Ok(503)`, and HTTP against a real axum upstream on 127.0.0.1.

mod http;
mod service;
