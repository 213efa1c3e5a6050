//! In-memory state of the tasks running in this process, shared by its workers and its API.
//!
//! It serves two purposes:
//! - a kill requested through this process's API reaches the handler at its very next
//!   checkpoint, even when the handler's transaction holds SQLite's only write lock (so that
//!   the `should_be_killed` write itself has to wait for the handler to stop);
//! - the API shows the latest progress of local tasks even between two (throttled) progress
//!   writes, and while a SQLite transaction keeps them from being written at all.

use iaso_domain::TaskId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Progress of a running task as last reported by its handler.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveProgress {
    pub progress_value: i64,
    pub end_value: i64,
    pub progress_message: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct LiveTask {
    pub kill: AtomicBool,
    pub interrupt: AtomicBool,
    pub lease_lost: AtomicBool,
    pub progress: Mutex<LiveProgress>,
}

/// The registry of running tasks of this process. Cheap to clone.
#[derive(Clone, Default)]
pub struct LiveTasks {
    inner: Arc<Mutex<HashMap<TaskId, Arc<LiveTask>>>>,
}

impl LiveTasks {
    pub(crate) fn register(&self, id: TaskId) -> Arc<LiveTask> {
        let task = Arc::new(LiveTask::default());
        if let Ok(mut map) = self.inner.lock() {
            map.insert(id, task.clone());
        }
        task
    }

    pub(crate) fn unregister(&self, id: TaskId) {
        if let Ok(mut map) = self.inner.lock() {
            map.remove(&id);
        }
    }

    fn get(&self, id: TaskId) -> Option<Arc<LiveTask>> {
        self.inner.lock().ok()?.get(&id).cloned()
    }

    /// Flags a local running task for kill; `false` when it does not run in this process.
    pub fn request_kill(&self, id: TaskId) -> bool {
        match self.get(id) {
            Some(t) => {
                t.kill.store(true, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// The latest progress of a task running in this process.
    pub fn progress(&self, id: TaskId) -> Option<LiveProgress> {
        let task = self.get(id)?;
        let progress = task.progress.lock().ok()?.clone();
        Some(progress)
    }

    /// Asks every local task to stop at its next checkpoint (worker shutdown).
    pub(crate) fn interrupt_all(&self) {
        if let Ok(map) = self.inner.lock() {
            for t in map.values() {
                t.interrupt.store(true, Ordering::SeqCst);
            }
        }
    }

    pub fn running(&self) -> usize {
        self.inner.lock().map(|m| m.len()).unwrap_or(0)
    }
}
