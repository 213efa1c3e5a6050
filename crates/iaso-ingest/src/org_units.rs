//! Org units created on devices, as the mobile app sends them (`POST /api/mobile/orgunits/`,
//! `orgUnits.json` of a bulk upload).

use chrono::DateTime;
use iaso_domain::{FieldErrors, OrgUnitTypeId};
use iaso_geo::Point;
use iaso_store::device_org_units::DeviceOrgUnit;
use iaso_store::instances::OrgUnitRef;
use serde_json::Value;

use iaso_domain::json_fields::{id, number, text};

/// Reads the list of units a device sent. `id` is the device's uuid of the unit; the parent
/// (`parentId` or `parent_id`) is an id or such a uuid; a 0 latitude or longitude means none.
pub fn parse_device_org_units(body: &Value) -> Result<Vec<DeviceOrgUnit>, FieldErrors> {
    let Value::Array(items) = body else {
        return Err(FieldErrors::single(
            "non_field_errors",
            "Expected a JSON list of org units.",
        ));
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(obj) = item else {
            return Err(FieldErrors::single(
                "non_field_errors",
                "Expected a JSON list of org units.",
            ));
        };
        let mut e = FieldErrors::new();
        let Some(uuid) = text(obj, "id", &mut e).filter(|u| !u.trim().is_empty()) else {
            return Err(FieldErrors::single("id", "This field is required."));
        };
        let parent = text(obj, "parentId", &mut e)
            .or_else(|| text(obj, "parent_id", &mut e))
            .and_then(|k| OrgUnitRef::parse(&k));
        let type_id =
            id(obj, "orgUnitTypeId", &mut e).or_else(|| id(obj, "org_unit_type_id", &mut e));
        let lat = number(obj, "latitude", &mut e).filter(|v| *v != 0.0);
        let lon = number(obj, "longitude", &mut e).filter(|v| *v != 0.0);
        let location = match (lat, lon) {
            (Some(y), Some(x)) => Some(Point::new(
                x,
                y,
                Some(number(obj, "altitude", &mut e).unwrap_or(0.0)),
            )),
            _ => None,
        };
        let created_at = match obj.get("created_at") {
            Some(Value::Number(n)) => n
                .as_f64()
                .and_then(|t| DateTime::from_timestamp(t as i64, 0)),
            _ => None,
        };
        let name = text(obj, "name", &mut FieldErrors::new()).unwrap_or_default();
        e.into_result()?;
        out.push(DeviceOrgUnit {
            uuid,
            name,
            parent,
            org_unit_type_id: type_id.map(OrgUnitTypeId),
            location,
            created_at,
        });
    }
    Ok(out)
}
