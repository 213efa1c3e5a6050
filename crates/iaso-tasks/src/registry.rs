use crate::{TaskContext, TaskError};
use iaso_store::tasks::TaskEnd;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The code of one task type.
#[async_trait::async_trait]
pub trait TaskHandler: Send + Sync + 'static {
    /// The task name stored in the database and shown by the API (Iaso's names, e.g.
    /// `import_gpkg_task`, `profiles_bulk_update`).
    fn name(&self) -> &'static str;

    /// How many times a worker may start the task when workers die under it (a task that
    /// fails with an error is not retried). 1 for tasks whose effects outside the database
    /// cannot be repeated safely.
    fn max_attempts(&self) -> i64 {
        3
    }

    async fn run(&self, ctx: &TaskContext) -> Result<TaskOutcome, TaskError>;
}

/// What a successful task leaves as its result.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    /// `{"result": "SUCCESS", "message": ...}`
    Message(String),
    /// `{"result": "SUCCESS", "message": ..., "data": ...}`
    Data { message: String, data: Value },
    /// A file in the file store: `data` is `"file:<key>"` (Iaso's convention), downloadable
    /// through `/api/tasks/<id>/download/` and `/api/tasks/<id>/presigned-url/`.
    File { message: String, key: String },
}

impl TaskOutcome {
    pub fn message(message: impl Into<String>) -> TaskOutcome {
        TaskOutcome::Message(message.into())
    }

    pub fn data(message: impl Into<String>, data: Value) -> TaskOutcome {
        TaskOutcome::Data {
            message: message.into(),
            data,
        }
    }

    pub fn file(message: impl Into<String>, key: impl Into<String>) -> TaskOutcome {
        TaskOutcome::File {
            message: message.into(),
            key: key.into(),
        }
    }

    pub(crate) fn into_end(self) -> TaskEnd {
        match self {
            TaskOutcome::Message(m) => TaskEnd::success(m),
            TaskOutcome::Data { message, data } => TaskEnd::success_with_data(message, data),
            TaskOutcome::File { message, key } => {
                TaskEnd::success_with_data(message, Value::String(crate::file_result_data(&key)))
            }
        }
    }
}

/// Task types by name. Cheap to clone.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: Arc<BTreeMap<&'static str, Arc<dyn TaskHandler>>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds a handler (replacing one of the same name).
    pub fn with(mut self, handler: impl TaskHandler) -> Registry {
        let mut map = (*self.handlers).clone();
        map.insert(handler.name(), Arc::new(handler));
        self.handlers = Arc::new(map);
        self
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn TaskHandler>> {
        self.handlers.get(name).cloned()
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.handlers.keys().copied().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.handlers.keys()).finish()
    }
}
