//! ONNX Runtime plumbing shared by the embedder and the classifier: library loading and a session pool.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use parking_lot::{Mutex, MutexGuard};

use crate::error::{CoreError, Result};

/// The ONNX Runtime shared library can be bound only once per process; remember which one.
static ORT_LIBRARY: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();

/// Bind ONNX Runtime from `library` (the `libonnxruntime` the `onnxruntime` wheel ships), or from
/// `ORT_DYLIB_PATH` when `None`. Later calls with another path are refused rather than ignored.
pub fn init_runtime(library: Option<&Path>) -> Result<()> {
    let wanted = match library {
        Some(path) => path.to_path_buf(),
        None => std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from).ok_or_else(|| CoreError::Model {
            path: PathBuf::from("libonnxruntime"),
            message: "no ONNX Runtime library given and ORT_DYLIB_PATH is unset".into(),
        })?,
    };
    let bound = ORT_LIBRARY.get_or_init(|| bind(&wanted));
    match bound {
        Ok(path) if *path == wanted => Ok(()),
        Ok(path) => Err(CoreError::model(&wanted, format!("ONNX Runtime already bound to {}", path.display()))),
        Err(message) => Err(CoreError::model(&wanted, message)),
    }
}

fn bind(path: &Path) -> std::result::Result<PathBuf, String> {
    if !path.is_file() {
        return Err("ONNX Runtime library not found".into());
    }
    ort::init_from(path.display().to_string()).with_name("router_core").commit().map_err(|e| e.to_string())?;
    Ok(path.to_path_buf())
}

/// `Session::run` needs `&mut`, so concurrent callers each take a session of their own.
pub struct SessionPool {
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
}

impl SessionPool {
    /// `size` sessions of `intra_threads` each: one single-threaded session per caller thread keeps
    /// every core busy without oversubscription under concurrency.
    pub fn load(model: &Path, size: usize, intra_threads: usize) -> Result<Self> {
        if !model.is_file() {
            return Err(CoreError::model(model, "file not found"));
        }
        let sessions =
            (0..size.max(1)).map(|_| open_session(model, intra_threads).map(Mutex::new)).collect::<Result<Vec<_>>>()?;
        Ok(Self { sessions, next: AtomicUsize::new(0) })
    }

    /// A free session if there is one, else wait on the next in rotation.
    pub fn acquire(&self) -> MutexGuard<'_, Session> {
        for session in &self.sessions {
            if let Some(guard) = session.try_lock() {
                return guard;
            }
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.sessions.len();
        self.sessions[index].lock()
    }

    pub fn size(&self) -> usize {
        self.sessions.len()
    }
}

fn open_session(model: &Path, intra_threads: usize) -> Result<Session> {
    let build = || -> ort::Result<Session> {
        Session::builder()?
            .with_optimization_level(GraphOptimizationLevel::Level3)?
            .with_intra_threads(intra_threads.max(1))?
            .with_inter_threads(1)?
            .commit_from_file(model)
    };
    build().map_err(|e| CoreError::model(model, e))
}
