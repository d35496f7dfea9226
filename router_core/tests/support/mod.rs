//! Locating the built models for tests that run the real embedder and classifier.
#![allow(dead_code, clippy::expect_used)]

use std::path::PathBuf;

/// `make test` exports both variables; running these tests without them is a setup error, not a skip.
pub fn model_dir() -> PathBuf {
    let dir =
        std::env::var_os("LLM_ROUTER_MODEL_DIR").expect("LLM_ROUTER_MODEL_DIR unset: run through `make test-rust`");
    router_core::onnx::init_runtime(None)
        .expect("ORT_DYLIB_PATH must name libonnxruntime: run through `make test-rust`");
    PathBuf::from(dir)
}
