//! Validation rules shared by every input path (GeoJSON, WKB, GeoPackage).
//!
//! Always checked: finite coordinates, |lon| ≤ 180, |lat| ≤ 90, non-empty, ring closed,
//! ring ≥ 4 positions, ring area ≠ 0, vertex/part/ring counts within [`Limits`].
//! Checked when [`Limits::check_topology`] is on (the default): a ring must not touch or cross
//! itself, rings must not cross each other or share an edge, holes must lie inside their
//! exterior ring and not inside each other, polygons of a multipolygon must not overlap.
//! The topology check is a sweep over segment bounding boxes; it gives up silently (accepts)
//! once it has done [`Limits::max_topology_tests`] pair tests, so that a pathological input
//! cannot make it quadratic. Rings touching at a vertex where they actually cross are not
//! detected (that needs angle analysis at the shared vertex).

use super::{topology, Coord, Geometry, GeometryError, MultiPolygon};

/// Limits and switches for validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Maximum number of positions over the whole geometry (closing positions included).
    pub max_vertices: usize,
    /// Maximum number of polygons in a multipolygon.
    pub max_parts: usize,
    /// Maximum number of rings (exterior + holes) in one polygon.
    pub max_rings_per_polygon: usize,
    /// Run the (bounded) self-intersection / overlap checks.
    pub check_topology: bool,
    /// Upper bound on segment-pair tests done by the topology check.
    pub max_topology_tests: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_vertices: 1_000_000,
            max_parts: 100_000,
            max_rings_per_polygon: 100_000,
            check_topology: true,
            max_topology_tests: 20_000_000,
        }
    }
}

impl Limits {
    /// Default limits without the topology check (cheap: used when reading files whose
    /// shapes come from other GIS tools and are known to be imperfect).
    pub fn lenient() -> Self {
        Self {
            check_topology: false,
            ..Self::default()
        }
    }
}

/// Checks one coordinate pair; `path` is built lazily, only on error.
pub(crate) fn check_lon_lat(
    x: f64,
    y: f64,
    path: impl FnOnce() -> String,
) -> Result<(), GeometryError> {
    if !x.is_finite() || !y.is_finite() {
        return Err(GeometryError::NonFinite { path: path() });
    }
    if !(-180.0..=180.0).contains(&x) {
        return Err(GeometryError::LongitudeOutOfRange {
            path: path(),
            value: x,
        });
    }
    if !(-90.0..=90.0).contains(&y) {
        return Err(GeometryError::LatitudeOutOfRange {
            path: path(),
            value: y,
        });
    }
    Ok(())
}

/// Full validation of a geometry.
pub fn validate(geometry: &Geometry, limits: &Limits) -> Result<(), GeometryError> {
    match geometry {
        Geometry::Point(p) => {
            check_lon_lat(p.x, p.y, || "coordinates".to_owned())?;
            if let Some(z) = p.z {
                if !z.is_finite() {
                    return Err(GeometryError::NonFinite {
                        path: "coordinates[2]".to_owned(),
                    });
                }
            }
            Ok(())
        }
        Geometry::MultiPolygon(mp) => validate_multipolygon(mp, limits),
    }
}

/// Counts only: cheap, used before anything is allocated or scanned.
pub(crate) fn check_counts(mp: &MultiPolygon, limits: &Limits) -> Result<(), GeometryError> {
    if mp.polygons.len() > limits.max_parts {
        return Err(GeometryError::TooManyParts {
            count: mp.polygons.len(),
            limit: limits.max_parts,
        });
    }
    let mut total = 0usize;
    for (pi, poly) in mp.polygons.iter().enumerate() {
        if poly.rings.len() > limits.max_rings_per_polygon {
            return Err(GeometryError::TooManyRings {
                polygon: pi,
                count: poly.rings.len(),
                limit: limits.max_rings_per_polygon,
            });
        }
        total += poly.vertex_count();
    }
    if total > limits.max_vertices {
        return Err(GeometryError::TooManyVertices {
            count: total,
            limit: limits.max_vertices,
        });
    }
    Ok(())
}

/// Signed area (shoelace, positive = counter-clockwise) of a closed ring.
pub(crate) fn ring_signed_area(ring: &[Coord]) -> f64 {
    let Some(first) = ring.first() else {
        return 0.0;
    };
    // Translate to the first vertex to limit cancellation.
    let mut sum = 0.0;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        sum += (a.x - first.x) * (b.y - first.y) - (b.x - first.x) * (a.y - first.y);
    }
    sum / 2.0
}

/// Ring-level checks that do not depend on the other rings.
pub(crate) fn check_ring(ring: &[Coord], polygon: usize, ri: usize) -> Result<(), GeometryError> {
    if ring.len() < 4 {
        return Err(GeometryError::RingTooShort {
            polygon,
            ring: ri,
            positions: ring.len(),
        });
    }
    if ring.first() != ring.last() {
        return Err(GeometryError::RingNotClosed { polygon, ring: ri });
    }
    Ok(())
}

pub(crate) fn validate_multipolygon(
    mp: &MultiPolygon,
    limits: &Limits,
) -> Result<(), GeometryError> {
    check_counts(mp, limits)?;
    if mp.polygons.is_empty() {
        return Err(GeometryError::Empty);
    }
    for (pi, poly) in mp.polygons.iter().enumerate() {
        if poly.rings.is_empty() {
            return Err(GeometryError::PolygonWithoutRing { polygon: pi });
        }
        for (ri, ring) in poly.rings.iter().enumerate() {
            for (vi, c) in ring.iter().enumerate() {
                check_lon_lat(c.x, c.y, || format!("coordinates[{pi}][{ri}][{vi}]"))?;
            }
            check_ring(ring, pi, ri)?;
        }
    }
    if limits.check_topology {
        topology::check(mp, limits.max_topology_tests)?;
    }
    // After the topology check, which names a symmetric bow tie as a self-intersection.
    for (pi, poly) in mp.polygons.iter().enumerate() {
        for (ri, ring) in poly.rings.iter().enumerate() {
            if ring_signed_area(ring) == 0.0 {
                return Err(GeometryError::ZeroAreaRing {
                    polygon: pi,
                    ring: ri,
                });
            }
        }
    }
    Ok(())
}
