//! Behaviour of `#[resilient(...)]` under paused time: each option does what its primitive
//! does, in the documented order, and errors reach the caller as its own `E`.

mod adaptive;
mod equivalence;
mod fault;
mod forms;
mod hedge;
mod named_policies;
mod rate_limit;
mod retry;
mod shared;
mod support;
mod time;
