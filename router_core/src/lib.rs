//! router_core: the routing decision, from exact cache to tier, plus breaker and limiter state.
//!
//! Plain Rust with no knowledge of gRPC, HTTP or Kubernetes; the PyO3 binding lives in `py`
//! behind the `python` feature. The request path reads top to bottom in `route.rs`.

pub mod breaker;
pub mod cache;
pub mod classify;
pub mod config;
pub mod embed;
pub mod error;
pub mod onnx;
pub mod policy;
#[cfg(feature = "python")]
mod py;
pub mod route;

pub use error::{CoreError, Result};
