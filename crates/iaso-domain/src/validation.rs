//! Field-level validation errors, reported to API clients as `{"field": ["message", ...]}`.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors {
    errors: BTreeMap<String, Vec<String>>,
}

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) -> &mut Self {
        self.errors
            .entry(field.to_string())
            .or_default()
            .push(message.into());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.errors.iter()
    }

    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.errors.get(field).map(Vec::as_slice)
    }

    /// `Ok(())` when nothing was added, so validation code can end with `errors.into_result()?`.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .errors
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.join(" ")))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for FieldErrors {}

/// Trims a required text field, recording an error when it is blank or too long.
pub fn required_text(errors: &mut FieldErrors, field: &str, value: &str, max: usize) -> String {
    let v = value.trim();
    if v.is_empty() {
        errors.add(field, "This field may not be blank.");
    } else if v.chars().count() > max {
        errors.add(
            field,
            format!("Ensure this field has no more than {max} characters."),
        );
    }
    v.to_string()
}

/// A `#RRGGBB` colour, normalised to upper case as Iaso does.
pub fn color(errors: &mut FieldErrors, field: &str, value: &str) -> String {
    let v = value.trim();
    let ok = v.len() == 7 && v.starts_with('#') && v[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !ok {
        errors.add(field, "Enter a valid colour as #RRGGBB.");
    }
    v.to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_messages_per_field() {
        let mut e = FieldErrors::new();
        assert_eq!(required_text(&mut e, "name", "  x  ", 10), "x");
        assert!(e.is_empty());
        required_text(&mut e, "name", "   ", 10);
        required_text(&mut e, "app_id", "abcdefghijk", 10);
        assert_eq!(color(&mut e, "color", "#a0b1c2"), "#A0B1C2");
        color(&mut e, "color", "blue");
        assert_eq!(e.get("name").map(|m| m.len()), Some(1));
        assert!(e
            .get("app_id")
            .is_some_and(|m| m[0].contains("10 characters")));
        assert!(e.get("color").is_some());
        assert!(e.into_result().is_err());
    }
}
