//! Iaso serialises most timestamps as epoch seconds with a fraction (DRF `TimestampField`).

use chrono::{DateTime, Utc};

pub fn epoch(ts: DateTime<Utc>) -> f64 {
    ts.timestamp() as f64 + f64::from(ts.timestamp_subsec_micros()) / 1e6
}

pub fn epoch_opt(ts: Option<DateTime<Utc>>) -> Option<f64> {
    ts.map(epoch)
}
