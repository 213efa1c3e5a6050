//! Iaso's list paging: with `limit`, `{count, <key>: [...], has_next, has_previous, page, pages,
//! limit}`; without, `{<key>: [...]}`. Hand-paginated endpoints (org units, submissions) clamp
//! a page beyond the last; DRF-paginated ones answer 404 "Invalid page.".

use crate::error::ApiError;
use crate::extract::QueryParams;
use iaso_store::PageRequest;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// Largest page a client may ask for.
pub const MAX_LIMIT: i64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfRange {
    /// DRF paginator: 404 "Invalid page.".
    NotFound,
    /// Iaso's hand-made paginator: serve the last page.
    Clamp,
}

/// The paging a request asks for.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub limit: Option<i64>,
    pub page: i64,
}

impl Paging {
    /// Reads `limit` and `page`; `default_limit` applies when the endpoint pages by default.
    pub fn from_query(q: &QueryParams, default_limit: Option<i64>) -> Result<Paging, ApiError> {
        let limit = match q.i64("limit")? {
            Some(l) if l < 1 => {
                return Err(ApiError::field("limit", "Ensure this value is at least 1."))
            }
            Some(l) => Some(l.min(MAX_LIMIT)),
            None => default_limit,
        };
        let page = match q.i64("page")? {
            Some(p) if p < 1 => return Err(ApiError::InvalidPage),
            Some(p) => p,
            None => 1,
        };
        Ok(Paging { limit, page })
    }

    pub fn request(&self) -> PageRequest {
        match self.limit {
            Some(limit) => PageRequest::new(limit, self.page),
            None => PageRequest::all(),
        }
    }

    /// The page to actually read once the total is known (clamped or refused when too far).
    pub fn resolve(&self, count: i64, policy: OutOfRange) -> Result<Paging, ApiError> {
        let Some(limit) = self.limit else {
            return Ok(*self);
        };
        let pages = pages(count, limit);
        if self.page > pages {
            return match policy {
                OutOfRange::NotFound => Err(ApiError::InvalidPage),
                OutOfRange::Clamp => Ok(Paging {
                    limit: self.limit,
                    page: pages,
                }),
            };
        }
        Ok(*self)
    }

    /// The JSON envelope around `items`.
    pub fn envelope<T: Serialize>(&self, key: &str, items: Vec<T>, count: i64) -> Value {
        let mut map = Map::new();
        if let Some(limit) = self.limit {
            let pages = pages(count, limit);
            map.insert("count".into(), json!(count));
            map.insert(key.into(), json!(items));
            map.insert("has_next".into(), json!(self.page < pages));
            map.insert("has_previous".into(), json!(self.page > 1));
            map.insert("page".into(), json!(self.page));
            map.insert("pages".into(), json!(pages));
            map.insert("limit".into(), json!(limit));
        } else {
            map.insert(key.into(), json!(items));
        }
        Value::Object(map)
    }
}

/// Number of pages; an empty list still has one.
pub fn pages(count: i64, limit: i64) -> i64 {
    ((count + limit - 1) / limit).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_matches_iaso() {
        let q = QueryParams::from_pairs([("limit", "2"), ("page", "2")]);
        let p = Paging::from_query(&q, None).unwrap_or(Paging {
            limit: None,
            page: 0,
        });
        let v = p.envelope("things", vec![3, 4], 5);
        assert_eq!(
            v,
            json!({"count": 5, "things": [3, 4], "has_next": true, "has_previous": true, "page": 2, "pages": 3, "limit": 2})
        );
        let unpaged = Paging {
            limit: None,
            page: 1,
        }
        .envelope("things", vec![1], 1);
        assert_eq!(unpaged, json!({"things": [1]}));
        assert_eq!(pages(0, 10), 1);
        let far = Paging {
            limit: Some(10),
            page: 9,
        };
        assert!(matches!(
            far.resolve(15, OutOfRange::NotFound),
            Err(ApiError::InvalidPage)
        ));
        assert_eq!(
            far.resolve(15, OutOfRange::Clamp).map(|p| p.page).ok(),
            Some(2)
        );
    }
}
