//! Offset paging as Iaso's list endpoints do it.

/// Which slice of a list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    pub offset: i64,
}

impl PageRequest {
    /// Page numbers start at 1.
    pub fn new(limit: i64, page: i64) -> Self {
        let limit = limit.max(1);
        PageRequest {
            limit,
            offset: (page.max(1) - 1).saturating_mul(limit),
        }
    }

    /// No paging: everything (lists without `limit`).
    pub fn all() -> Self {
        PageRequest {
            limit: i64::MAX,
            offset: 0,
        }
    }

    pub(crate) fn push_to(&self, q: &mut iaso_db::Sql) {
        if self.limit != i64::MAX {
            q.push(" LIMIT ")
                .bind(self.limit)
                .push(" OFFSET ")
                .bind(self.offset);
        }
    }
}

/// One page of results plus the total number of matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub count: i64,
}
