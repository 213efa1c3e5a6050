//! XPath-ish expression scanning: XML names, `${name}` references, and a small
//! tokenizer used to tell dynamic defaults and `instance()` expressions apart.

fn is_name_start(c: char) -> bool {
    let u = c as u32;
    c.is_ascii_alphabetic()
        || c == '_'
        || (0xD8..=0xF6).contains(&u)
        || (0xF8..=0x2FF).contains(&u)
        || (0x370..=0x37D).contains(&u)
        || (0x37F..=0x1FFF).contains(&u)
        || (0x200C..=0x200D).contains(&u)
        || (0x2070..=0x218F).contains(&u)
        || (0x2C00..=0x2FEF).contains(&u)
        || (0x3001..=0xD7FF).contains(&u)
        || (0xF900..=0xFDCF).contains(&u)
        || (0xFDF0..=0xFFFD).contains(&u)
        || (0x10000..=0xEFFFF).contains(&u)
}

fn is_name_char(c: char) -> bool {
    let u = c as u32;
    is_name_start(c)
        || c == '-'
        || c == '.'
        || c.is_ascii_digit()
        || u == 0xB7
        || (0x300..=0x36F).contains(&u)
        || (0x203F..=0x2040).contains(&u)
}

/// Length in bytes of an NCName starting at `s`, if any.
pub fn match_ncname(s: &str) -> Option<usize> {
    let mut it = s.char_indices();
    let (_, c) = it.next()?;
    if !is_name_start(c) {
        return None;
    }
    let mut end = c.len_utf8();
    for (i, c) in it {
        if is_name_char(c) {
            end = i + c.len_utf8();
        } else {
            break;
        }
    }
    Some(end)
}

/// NCName optionally followed by `:NCName`.
pub fn match_ncname_ns(s: &str) -> Option<usize> {
    let a = match_ncname(s)?;
    if let Some(rest) = s[a..].strip_prefix(':') {
        if let Some(b) = match_ncname(rest) {
            return Some(a + 1 + b);
        }
    }
    Some(a)
}

/// Is this a valid XML element name (optionally namespaced)?
pub fn is_xml_tag(s: &str) -> bool {
    !s.is_empty() && match_ncname_ns(s) == Some(s.len())
}

/// A `${name}` / `${last-saved#name}` occurrence.
#[derive(Debug, Clone)]
pub struct RefMatch {
    pub start: usize,
    pub end: usize,
    pub name: String,
    pub last_saved: bool,
}

fn match_ref_at(s: &str, i: usize) -> Option<RefMatch> {
    let rest = s[i..].strip_prefix("${")?;
    let (last_saved, body) = match rest.strip_prefix("last-saved#") {
        Some(b) => (true, b),
        None => (false, rest),
    };
    let n = match_ncname(body)?;
    if !body[n..].starts_with('}') {
        return None;
    }
    let consumed = 2 + if last_saved { 11 } else { 0 } + n + 1;
    Some(RefMatch {
        start: i,
        end: i + consumed,
        name: body[..n].to_string(),
        last_saved,
    })
}

/// All well-formed references, left to right, non-overlapping.
pub fn find_refs(s: &str) -> Vec<RefMatch> {
    let mut out = Vec::new();
    if !s.contains("${") {
        return out;
    }
    let mut i = 0;
    while let Some(p) = s[i..].find("${") {
        let at = i + p;
        if let Some(m) = match_ref_at(s, at) {
            i = m.end;
            out.push(m);
        } else {
            i = at + 1;
        }
    }
    out
}

/// Replace each well-formed reference with `f(match)`.
pub fn replace_refs<F>(s: &str, mut f: F) -> Result<String, crate::ConvertError>
where
    F: FnMut(&RefMatch) -> Result<String, crate::ConvertError>,
{
    let refs = find_refs(s);
    if refs.is_empty() {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len() + 32);
    let mut last = 0;
    for m in &refs {
        out.push_str(&s[last..m.start]);
        out.push_str(&f(m)?);
        last = m.end;
    }
    out.push_str(&s[last..]);
    Ok(out)
}

pub fn is_ref_candidate(s: &str) -> bool {
    s.len() > 2 && s.contains("${")
}

/// Why reference parsing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefError {
    /// Malformed `${...}`.
    Malformed,
    /// More references than allowed.
    TooMany,
}

#[derive(Debug, Clone)]
pub struct ParsedRef {
    pub name: String,
    pub last_saved: bool,
}

fn parse_inner(inner: &str) -> Option<ParsedRef> {
    let (last_saved, body) = match inner.strip_prefix("last-saved#") {
        Some(b) => (true, b),
        None => (false, inner),
    };
    let n = match_ncname(body)?;
    if n != body.len() {
        return None;
    }
    Some(ParsedRef {
        name: body.to_string(),
        last_saved,
    })
}

/// Parse every `${...}` in the value (strictly: malformed ones are errors).
pub fn parse_refs(
    value: &str,
    match_limit: Option<usize>,
    match_full: bool,
) -> Result<Vec<ParsedRef>, RefError> {
    let mut out = Vec::new();
    if !is_ref_candidate(value) {
        return Ok(out);
    }
    // Outer pattern: \$\{([^}]+)\} | \$\{[^}]*$
    let mut candidates: Vec<(usize, usize, Option<&str>)> = Vec::new();
    let mut i = 0;
    while let Some(p) = value[i..].find("${") {
        let at = i + p;
        let after = &value[at + 2..];
        match after.find('}') {
            Some(0) => {
                // "${}" : [^}]+ fails; [^}]*$ fails unless end... "}" follows, so no match.
                i = at + 1;
                continue;
            }
            Some(close) => {
                let inner = &after[..close];
                candidates.push((at, at + 2 + close + 1, Some(inner)));
                i = at + 2 + close + 1;
            }
            None => {
                candidates.push((at, value.len(), None));
                break;
            }
        }
    }
    if match_full {
        match candidates.first() {
            Some(&(s, e, _)) if s == 0 && e == value.len() && candidates.len() == 1 => {}
            _ => return Ok(out),
        }
    }
    for (_, _, inner) in candidates {
        match inner.and_then(parse_inner) {
            Some(r) => {
                if let Some(limit) = match_limit {
                    if out.len() >= limit {
                        return Err(RefError::TooMany);
                    }
                }
                out.push(r);
            }
            None => return Err(RefError::Malformed),
        }
    }
    Ok(out)
}

pub fn has_ref(value: &str) -> bool {
    matches!(parse_refs(value, None, false), Ok(v) if !v.is_empty())
}

pub fn is_ref(value: &str) -> bool {
    matches!(parse_refs(value, None, true), Ok(v) if !v.is_empty())
}

pub fn has_last_saved_ref(value: &str) -> bool {
    value.len() > 14
        && matches!(parse_refs(value, None, false), Ok(v) if v.iter().any(|r| r.last_saved))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    DateTime,
    Date,
    Time,
    Number,
    OpsMath,
    OpsComp,
    OpsBool,
    OpsUnion,
    OpenParen,
    CloseParen,
    Bracket,
    ParentRef,
    SelfRef,
    PathSep,
    SystemLiteral,
    Comma,
    Whitespace,
    PyxformRef,
    FuncCall,
    XPathPredStart,
    XPathPredEnd,
    UriScheme,
    Name,
    PyxformRefStart,
    PyxformRefEnd,
    Other,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

fn digits(b: &[u8], i: usize, n: usize) -> bool {
    b.len() >= i + n && b[i..i + n].iter().all(u8::is_ascii_digit)
}

fn m_date(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i = 1;
    }
    if digits(b, i, 4)
        && b.get(i + 4) == Some(&b'-')
        && digits(b, i + 5, 2)
        && b.get(i + 7) == Some(&b'-')
        && digits(b, i + 8, 2)
    {
        Some(i + 10)
    } else {
        None
    }
}

fn m_time(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if !(digits(b, 0, 2)
        && b.get(2) == Some(&b':')
        && digits(b, 3, 2)
        && b.get(5) == Some(&b':')
        && digits(b, 6, 2))
    {
        return None;
    }
    let mut i = 8;
    // (\.\s+)?
    if b.get(i) == Some(&b'.') {
        let mut j = i + 1;
        while j < b.len() && (b[j] as char).is_ascii_whitespace() {
            j += 1;
        }
        if j > i + 1 {
            i = j;
        }
    }
    if matches!(b.get(i), Some(b'+') | Some(b'-'))
        && digits(b, i + 1, 2)
        && b.get(i + 3) == Some(&b':')
        && digits(b, i + 4, 2)
    {
        i += 6;
    } else if b.get(i) == Some(&b'Z') {
        i += 1;
    }
    Some(i)
}

fn m_number(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i = 1;
    }
    let start_digits = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let nd = i - start_digits;
    if nd > 0 {
        if b.get(i) == Some(&b'.') {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
        return Some(i);
    }
    if b.get(i) == Some(&b'.') {
        let mut j = i + 1;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > i + 1 {
            return Some(j);
        }
    }
    None
}

fn next_token(s: &str) -> (Tok, usize) {
    if let Some(d) = m_date(s) {
        if s[d..].starts_with('T') {
            if let Some(t) = m_time(&s[d + 1..]) {
                return (Tok::DateTime, d + 1 + t);
            }
        }
        return (Tok::Date, d);
    }
    if let Some(t) = m_time(s) {
        return (Tok::Time, t);
    }
    if let Some(n) = m_number(s) {
        return (Tok::Number, n);
    }
    let first = s.chars().next().unwrap_or(' ');
    if matches!(first, '*' | '+' | '-') {
        return (Tok::OpsMath, 1);
    }
    if s.starts_with(" mod ") || s.starts_with(" div ") {
        return (Tok::OpsMath, 5);
    }
    if first == '=' || first == '<' || first == '>' {
        return (Tok::OpsComp, 1);
    }
    if s.starts_with("!=") {
        return (Tok::OpsComp, 2);
    }
    if s.starts_with(" and ") {
        return (Tok::OpsBool, 5);
    }
    if s.starts_with(" or ") {
        return (Tok::OpsBool, 4);
    }
    match first {
        '|' => return (Tok::OpsUnion, 1),
        '(' => return (Tok::OpenParen, 1),
        ')' => return (Tok::CloseParen, 1),
        '[' | '{' | '}' => return (Tok::Bracket, 1),
        _ => {}
    }
    if s.starts_with("..") {
        return (Tok::ParentRef, 2);
    }
    if first == '.' {
        return (Tok::SelfRef, 1);
    }
    if first == '/' {
        return (Tok::PathSep, 1);
    }
    if first == '"' || first == '\'' {
        if let Some(p) = s[1..].find(first) {
            return (Tok::SystemLiteral, p + 2);
        }
    }
    if first == ',' {
        return (Tok::Comma, 1);
    }
    if first.is_whitespace() {
        let n = s
            .char_indices()
            .find(|(_, c)| !c.is_whitespace())
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        return (Tok::Whitespace, n);
    }
    if let Some(m) = match_ref_at(s, 0) {
        return (Tok::PyxformRef, m.end);
    }
    if let Some(n) = match_ncname_ns(s) {
        if s[n..].starts_with('(') {
            return (Tok::FuncCall, n + 1);
        }
        if s[n..].starts_with('[') {
            return (Tok::XPathPredStart, n + 1);
        }
    }
    if first == ']' {
        return (Tok::XPathPredEnd, 1);
    }
    if let Some(n) = match_ncname(s) {
        if s[n..].starts_with("://") {
            return (Tok::UriScheme, n + 3);
        }
    }
    if let Some(n) = match_ncname_ns(s) {
        return (Tok::Name, n);
    }
    if s.starts_with("${") {
        return (Tok::PyxformRefStart, 2);
    }
    if first == '}' {
        return (Tok::PyxformRefEnd, 1);
    }
    (Tok::Other, first.len_utf8())
}

pub fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let (kind, n) = next_token(&text[i..]);
        let n = n.max(1);
        // Ensure char boundary.
        let mut end = i + n;
        while !text.is_char_boundary(end) {
            end += 1;
        }
        out.push(Token {
            kind,
            start: i,
            end,
        });
        i = end;
    }
    out
}

/// Is this default value an expression (evaluated at load) rather than a constant?
pub fn default_is_dynamic(value: &str, element_type: Option<&str>) -> bool {
    if value.is_empty() {
        return false;
    }
    let date_like = matches!(
        element_type,
        Some("date" | "dateTime" | "geopoint" | "geotrace" | "geoshape")
    );
    for t in tokenize(value) {
        if date_like && t.kind == Tok::OpsMath && &value[t.start..t.end] == "-" {
            return false;
        }
        if matches!(
            t.kind,
            Tok::OpsMath | Tok::OpsUnion | Tok::PyxformRef | Tok::FuncCall
        ) {
            return true;
        }
    }
    false
}

/// Byte ranges of `instance(...)/path[pred]` expressions within the text.
pub fn instance_boundaries(text: &str) -> Vec<(usize, usize)> {
    let tokens = tokenize(text);
    let mut boundaries = Vec::new();
    let mut instance_enter = false;
    let mut path_enter = false;
    let mut pred_enter = false;
    let mut last: Option<&Token> = None;
    for t in &tokens {
        let tv = &text[t.start..t.end];
        let mut emit = false;
        if !instance_enter && t.kind == Tok::FuncCall && tv == "instance(" {
            instance_enter = true;
            emit = true;
            boundaries.push(t.start);
        } else if instance_enter {
            let lk = last.map(|l| (l.kind, &text[l.start..l.end]));
            if t.kind == Tok::SystemLiteral && lk == Some((Tok::FuncCall, "instance(")) {
                emit = true;
            } else if lk.map(|x| x.0) == Some(Tok::SystemLiteral) && t.kind == Tok::CloseParen {
                emit = true;
            } else if t.kind == Tok::PathSep && lk.map(|x| x.0) == Some(Tok::CloseParen) {
                emit = true;
                path_enter = true;
            } else if t.kind == Tok::PathSep && lk.map(|x| x.0) == Some(Tok::XPathPredEnd) {
                emit = true;
                path_enter = true;
            } else if path_enter {
                if t.kind == Tok::Whitespace {
                    path_enter = false;
                } else if t.kind != Tok::XPathPredStart {
                    emit = true;
                } else {
                    emit = true;
                    path_enter = false;
                    pred_enter = true;
                }
            } else if pred_enter {
                emit = true;
                if t.kind == Tok::XPathPredEnd {
                    pred_enter = false;
                }
            }
        }
        if emit {
            last = Some(t);
        } else if instance_enter {
            instance_enter = false;
            if let Some(l) = last {
                boundaries.push(l.end);
            }
        }
    }
    if let Some(l) = last {
        boundaries.push(l.end);
    }
    boundaries
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0], c[1]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_tags() {
        assert!(is_xml_tag("q1"));
        assert!(is_xml_tag("a:b"));
        assert!(!is_xml_tag("1a"));
        assert!(!is_xml_tag("a b"));
    }

    #[test]
    fn refs() {
        assert!(has_ref("hello ${q1}"));
        assert!(is_ref("${q1}"));
        assert!(!is_ref(" ${q1}"));
        assert_eq!(
            parse_refs("${a b}", None, false).err(),
            Some(RefError::Malformed)
        );
        assert_eq!(
            parse_refs("${a", None, false).err(),
            Some(RefError::Malformed)
        );
    }

    #[test]
    fn dynamic() {
        assert!(default_is_dynamic("now()", None));
        assert!(default_is_dynamic("1 + 2", None));
        assert!(!default_is_dynamic("2020-01-01", Some("date")));
        assert!(!default_is_dynamic("hello", None));
    }
}
