//! DHIS2 period strings, recognised by their shape.

/// The period type of `s` (`DAY`, `WEEK`, `MONTH`, `QUARTER`, `QUARTER_NOV`, `SIX_MONTH`,
/// `YEAR`, `FINANCIAL_NOV`), or `None` when it is not a period.
pub fn detect(s: &str) -> Option<&'static str> {
    let b = s.as_bytes();
    if b.len() < 4 || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let rest = &s[4..];
    let num = |t: &str, lo: u32, hi: u32| t.parse::<u32>().is_ok_and(|n| (lo..=hi).contains(&n));
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    if rest.is_empty() {
        return Some("YEAR");
    }
    if rest == "Nov" {
        return Some("FINANCIAL_NOV");
    }
    if let Some(q) = rest.strip_prefix("NovQ") {
        return (digits(q) && num(q, 1, 4)).then_some("QUARTER_NOV");
    }
    if let Some(q) = rest.strip_prefix('Q') {
        return (digits(q) && num(q, 1, 4)).then_some("QUARTER");
    }
    if let Some(q) = rest.strip_prefix('S') {
        return (digits(q) && num(q, 1, 2)).then_some("SIX_MONTH");
    }
    if let Some(w) = rest.strip_prefix('W') {
        return (digits(w) && num(w, 1, 53)).then_some("WEEK");
    }
    if digits(rest) && rest.len() == 2 && num(rest, 1, 12) {
        return Some("MONTH");
    }
    if digits(rest) && rest.len() == 4 && num(&rest[..2], 1, 12) && num(&rest[2..], 1, 31) {
        return Some("DAY");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::detect;

    #[test]
    fn detects() {
        for (p, t) in [
            ("2024", Some("YEAR")),
            ("2024Nov", Some("FINANCIAL_NOV")),
            ("2024NovQ2", Some("QUARTER_NOV")),
            ("2024Q3", Some("QUARTER")),
            ("2024S2", Some("SIX_MONTH")),
            ("2024W12", Some("WEEK")),
            ("202403", Some("MONTH")),
            ("20240305", Some("DAY")),
            ("2024Q5", None),
            ("abc", None),
        ] {
            assert_eq!(detect(p), t, "{p}");
        }
    }
}
