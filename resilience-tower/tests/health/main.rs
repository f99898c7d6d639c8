//! Health endpoints and draining: as tower services under paused time, and over real HTTP
//! on 127.0.0.1 (a polling load balancer, a graceful shutdown).

mod drain;
mod e2e;
mod format;
mod service;
