//! Hedge layers: a slow attempt hedged and dropped, readiness before every hedge, the
//! classifier deciding which answers decide, and HTTP's rule of what may be repeated
//! (with the same bytes replayed).

mod http;
mod service;
