//! Circuit breakers per provider: the state machine (`state`) and the shared board (`board`).

mod board;
mod state;

pub use board::{Admission, BreakerBoard, BreakerStatus};
pub use state::{Breaker, BreakerConfig, BreakerState, Outcome, Transition};
