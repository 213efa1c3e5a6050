//! Language declarations (`label::English (en)`) and the IANA language subtag check.
//!
//! XLSForm asks for languages written as `Name (code)`, where `code` is a primary
//! language subtag from the IANA Language Subtag Registry, so that clients can
//! pick fonts, text direction and speech. A declaration without such a code
//! yields a warning (the form still converts).

use crate::language_subtags::{LANGUAGE_2, LANGUAGE_3, LANGUAGE_OTHER};

/// `File-Date` of the embedded copy of the IANA Language Subtag Registry.
pub const REGISTRY_DATE: &str = crate::language_subtags::REGISTRY_DATE;

/// The warning for declarations without a valid code, or `None` when all are fine.
pub fn bad_language_warning<'a>(languages: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let bad: Vec<&str> = languages
        .into_iter()
        .filter(|l| !has_valid_code(l))
        .collect();
    if bad.is_empty() {
        return None;
    }
    Some(format!(
        "The following language declarations do not contain valid machine-readable codes: {}. Learn more: http://xlsform.org#multiple-language-support",
        bad.join(", ")
    ))
}

/// Whether a language declaration passes the check: `default`, very short names
/// (fewer than 3 characters), and names ending in `(code)` with a registered
/// primary language subtag pass.
pub fn has_valid_code(lang: &str) -> bool {
    if lang == "default" || lang.chars().count() < 3 {
        return true;
    }
    match code_in_parentheses(lang) {
        Some(code) => is_language_subtag(code),
        None => false,
    }
}

/// The text between the first `(` of the last line and a final `)`:
/// `"English (en)"` -> `"en"`, `"A (b) (c)"` -> `"b) (c"`.
fn code_in_parentheses(lang: &str) -> Option<&str> {
    let line = lang.strip_suffix('\n').unwrap_or(lang);
    let body = line.strip_suffix(')')?;
    let start = body.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let open = body[start..].find('(')? + start;
    Some(&body[open + 1..])
}

/// Whether `code` is a registered primary language subtag (exact, case-sensitive,
/// as written in the registry).
pub fn is_language_subtag(code: &str) -> bool {
    let b = code.as_bytes();
    if (b.len() == 2 || b.len() == 3) && b.iter().all(u8::is_ascii_lowercase) {
        let idx = b.iter().fold(0usize, |n, &c| n * 26 + (c - b'a') as usize);
        let table: &[u8] = if b.len() == 2 {
            &LANGUAGE_2
        } else {
            &LANGUAGE_3
        };
        return table[idx / 8] & (1 << (idx % 8)) != 0;
    }
    LANGUAGE_OTHER.contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_subtags() {
        for c in ["en", "fr", "bs", "sw", "ar", "yue", "fil", "qaa..qtz", "iw"] {
            assert!(is_language_subtag(c), "{c}");
        }
        for c in ["", "e", "EN", "bos", "schm", "en-US", "zz", "eng ", "qaa"] {
            assert!(!is_language_subtag(c), "{c}");
        }
        assert!(!REGISTRY_DATE.is_empty());
    }

    #[test]
    fn declarations() {
        assert!(has_valid_code("default"));
        assert!(has_valid_code("en"));
        assert!(has_valid_code("English (en)"));
        assert!(has_valid_code("Français (fr)"));
        assert!(!has_valid_code("English"));
        assert!(!has_valid_code("English (schm)"));
        assert!(!has_valid_code("English (en) x"));
        assert!(!has_valid_code("English (EN)"));
        assert!(has_valid_code("Swahili (sw)\n"));
        assert!(!has_valid_code("A (b) (en)"));
        assert_eq!(code_in_parentheses("A (b) (c)"), Some("b) (c"));
        assert_eq!(code_in_parentheses("x\n(en)"), Some("en"));
    }

    #[test]
    fn warning_text() {
        assert_eq!(bad_language_warning(["default", "English (en)"]), None);
        assert_eq!(
            bad_language_warning(["English (schm)", "Bosnian (bos)", "French (fr)"]).as_deref(),
            Some("The following language declarations do not contain valid machine-readable codes: English (schm), Bosnian (bos). Learn more: http://xlsform.org#multiple-language-support")
        );
    }
}
