//! Exact counts of georegistry list queries, reused while nothing they depend on changed.
//!
//! Paged lists need the number of matches; on a million units that count (a scan of an index
//! range, with a substring test for searches) costs more than the page itself. Every write to
//! org units, group memberships or project types bumps `georegistry_generation` in the writing
//! transaction (triggers, migration 0003). A count is stored with the generation read *before*
//! it was computed, and served again only while the generation is unchanged, so a cached count
//! is never older than the data a fresh one would see.

use crate::{Store, StoreResult};
use iaso_db::{sql, Conn, Db, Sql};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

/// Entries kept before the cache is emptied (a query is ~100 bytes of key hash + counts).
const CAPACITY: usize = 20_000;

#[derive(Debug, Default)]
pub(crate) struct CountCache {
    entries: Mutex<HashMap<u64, (i64, i64)>>,
}

fn key(q: &Sql) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    q.text().hash(&mut h);
    format!("{:?}", q.args()).hash(&mut h);
    h.finish()
}

impl Store {
    /// `SELECT COUNT(*) ...` through the cache.
    pub(crate) async fn cached_count(&self, db: &mut Db, q: Sql) -> StoreResult<i64> {
        let generation: i64 = db
            .fetch_scalar(sql!("SELECT n FROM georegistry_generation WHERE id = 1"))
            .await?;
        let k = key(&q);
        if let Ok(entries) = self.counts.entries.lock() {
            if let Some((g, n)) = entries.get(&k) {
                if *g == generation {
                    return Ok(*n);
                }
            }
        }
        let n: i64 = db.fetch_scalar(q).await?;
        if let Ok(mut entries) = self.counts.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(k, (generation, n));
        }
        Ok(n)
    }
}
