use crate::value::Value;
use std::fmt::Write;

/// A query text plus its bind values.
///
/// Static queries use the [`sql!`](crate::sql!) macro; dynamic ones (filters, ordering) start
/// from [`Sql::new`] and append fragments with [`push`](Sql::push) and values with
/// [`bind`](Sql::bind), which writes the next `$n` placeholder.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    args: Vec<Value>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            args: Vec::new(),
        }
    }

    /// A query whose text already holds `$1..$n` for these values, in order.
    pub fn with_args(text: impl Into<String>, args: Vec<Value>) -> Self {
        Sql {
            text: text.into(),
            args,
        }
    }

    pub fn push(&mut self, fragment: &str) -> &mut Self {
        self.text.push_str(fragment);
        self
    }

    /// Appends the placeholder of a new bind value.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.args.push(value.into());
        // Writing into a String cannot fail.
        let _ = write!(self.text, "${}", self.args.len());
        self
    }

    /// Appends `$a, $b, ...` for every value (nothing for an empty list; callers guard `IN ()`).
    pub fn bind_list<V: Into<Value>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self
    }

    /// Appends ` AND <column> IN (...)` for a non-empty list; does nothing for an empty one
    /// (the usual "filter only when given" rule of list endpoints).
    pub fn and_in<V: Into<Value>>(
        &mut self,
        column: &str,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Self {
        let values: Vec<Value> = values.into_iter().map(Into::into).collect();
        if !values.is_empty() {
            self.push(" AND ")
                .push(column)
                .push(" IN (")
                .bind_list(values)
                .push(")");
        }
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn args(&self) -> &[Value] {
        &self.args
    }

    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
    }
}

/// `sql!("SELECT ... WHERE id = $1 AND name = $2", id, name)`
#[macro_export]
macro_rules! sql {
    ($text:expr $(, $arg:expr)* $(,)?) => {
        $crate::Sql::with_args($text, vec![$($crate::Value::from($arg)),*])
    };
}
