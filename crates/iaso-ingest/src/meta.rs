//! The mobile app's metadata call: one JSON object per submission.

use crate::{xml, FileStore, IngestError, IngestResult};
use chrono::{DateTime, Utc};
use iaso_store::instances::{MetaOutcome, MobileMeta, OrgUnitRef, UploadContext};
use iaso_store::{Store, StoreError};
use serde_json::Value;

pub(crate) fn num_or_string_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn f64_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

/// Epoch seconds (some app versions send milliseconds).
pub(crate) fn epoch_of(v: &Value) -> Option<DateTime<Utc>> {
    let secs = f64_of(v)?;
    let secs = if secs > 1e11 { secs / 1000.0 } else { secs };
    DateTime::from_timestamp(secs.trunc() as i64, 0)
}

/// Reads one item of the metadata call (`index` numbers the messages).
pub fn parse_meta(item: &Value, index: usize) -> Result<MobileMeta, String> {
    let obj = item
        .as_object()
        .ok_or_else(|| format!("item {index}: expected an object"))?;
    let s = |k: &str| obj.get(k).and_then(Value::as_str).map(String::from);
    let file = s("file").ok_or_else(|| format!("item {index}: \"file\" is required"))?;
    let file_name = file.rsplit(['/', '\\']).next().unwrap_or("").to_string();
    if file_name.is_empty() {
        return Err(format!("item {index}: \"file\" has no file name"));
    }
    let form_id = obj
        .get("formId")
        .and_then(num_or_string_i64)
        .ok_or_else(|| format!("item {index}: \"formId\" is required"))?;
    let org_unit = match obj.get("orgUnitId") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(id) => Some(OrgUnitRef::Id(id)),
            None => return Err(format!("item {index}: unknown org unit {n}")),
        },
        Some(Value::String(v)) => OrgUnitRef::parse(v),
        Some(other) => return Err(format!("item {index}: unknown org unit {other}")),
    };
    let accuracy = obj
        .get("accuracy")
        .and_then(f64_of)
        .map(|a| (a * 100.0).round() / 100.0);
    let lat = obj.get("latitude").and_then(f64_of);
    let lon = obj.get("longitude").and_then(f64_of);
    if lat.is_some_and(|v| !(-90.0..=90.0).contains(&v))
        || lon.is_some_and(|v| !(-180.0..=180.0).contains(&v))
    {
        return Err(format!("item {index}: latitude/longitude out of range"));
    }
    Ok(MobileMeta {
        uuid: s("id"),
        file_name,
        name: s("name"),
        period: s("period").filter(|p| !p.is_empty()),
        accuracy: accuracy.map(|a| a.min(99999.0)),
        org_unit,
        form_id,
        planning_id: obj.get("planningId").and_then(num_or_string_i64),
        entity_uuid: s("entityUuid"),
        entity_type_id: obj.get("entityTypeId").and_then(num_or_string_i64),
        source_created_at: obj.get("created_at").and_then(epoch_of),
        source_updated_at: obj.get("updated_at").and_then(epoch_of),
        latitude: lat,
        longitude: lon,
        altitude: obj.get("altitude").and_then(f64_of),
    })
}

/// The items of a metadata call body (a list, or one object).
pub fn items_of(body: Option<Value>) -> IngestResult<Vec<Value>> {
    match body {
        Some(Value::Array(items)) => Ok(items),
        Some(obj @ Value::Object(_)) => Ok(vec![obj]),
        _ => Err(IngestError::field(
            "instances",
            "Send a JSON list of submissions (Content-Type: application/json).",
        )),
    }
}

/// Saves each item (one transaction each); returns the problems of the items refused.
/// A submission whose XML came first (anonymously) is parsed again with its form.
pub async fn ingest_items(
    store: &Store,
    files: &FileStore,
    ctx: UploadContext,
    items: &[Value],
) -> IngestResult<Vec<String>> {
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let meta = match parse_meta(item, i) {
            Ok(m) => m,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match store.ingest_mobile_meta(ctx, &meta).await {
            Ok(MetaOutcome::Claimed(id)) => {
                if let Err(e) = xml::reparse(store, files, id).await {
                    errors.push(format!("item {i}: {}", e.describe()));
                }
            }
            Ok(_) => {}
            Err(StoreError::Invalid(fe)) => {
                for (_, msgs) in fe.iter() {
                    errors.push(format!("item {i}: {}", msgs.join(" ")));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(errors)
}
