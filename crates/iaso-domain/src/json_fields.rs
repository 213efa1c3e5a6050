//! Lenient readers of fields of a JSON object, as the mobile app and Iaso's web client send
//! them: a missing or `null` field is `None`, numbers may come as strings, and a value of the
//! wrong kind adds an error naming the field (the caller answers 400 with all of them).

use crate::validation::FieldErrors;
use serde_json::{Map, Value};

/// A string (a number is taken as its text).
pub fn text(obj: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            errors.add(key, "Not a valid string.");
            None
        }
    }
}

/// An integer id, as a number or a string of digits (blank = none).
pub fn id(obj: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> Option<i64> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => match s.trim().parse() {
            Ok(x) => Some(x),
            Err(_) => {
                errors.add(key, format!("{s:?} is not a valid id."));
                None
            }
        },
        Some(_) => {
            errors.add(key, "A valid id is required.");
            None
        }
    }
}

/// A number, as a JSON number or a string (blank = none).
pub fn number(obj: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> Option<f64> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => match s.trim().parse() {
            Ok(x) => Some(x),
            Err(_) => {
                errors.add(key, "A valid number is required.");
                None
            }
        },
        Some(_) => {
            errors.add(key, "A valid number is required.");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn lenient_values_and_named_errors() {
        let o =
            obj(json!({"a": "12", "b": 3, "c": " ", "d": true, "e": "x1", "f": null, "g": 1.5}));
        let mut e = FieldErrors::default();
        assert_eq!(id(&o, "a", &mut e), Some(12));
        assert_eq!(id(&o, "b", &mut e), Some(3));
        assert_eq!(id(&o, "c", &mut e), None);
        assert_eq!(id(&o, "f", &mut e), None);
        assert_eq!(id(&o, "missing", &mut e), None);
        assert_eq!(number(&o, "g", &mut e), Some(1.5));
        assert_eq!(number(&o, "a", &mut e), Some(12.0));
        assert_eq!(text(&o, "b", &mut e), Some("3".into()));
        assert!(e.is_empty());
        assert_eq!(id(&o, "e", &mut e), None);
        assert_eq!(number(&o, "d", &mut e), None);
        assert_eq!(text(&o, "d", &mut e), None);
        assert_eq!(id(&o, "g", &mut e), None);
        let msg = format!("{e:?}");
        assert!(
            msg.contains("\"e\"") && msg.contains("\"d\"") && msg.contains("\"g\""),
            "{msg}"
        );
    }
}
