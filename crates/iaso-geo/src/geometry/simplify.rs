//! Douglas–Peucker simplification that never yields an invalid ring.
//!
//! Each ring is simplified on its own, keeping its first (= last) position; work is bounded
//! on pathological (very jagged, huge) rings, see `simplify_ring`. A ring that would
//! collapse (fewer than 4 positions or zero area) keeps its original positions. When the input
//! polygon passed the topology check but its simplified version does not (simplification can
//! make edges cross), the original polygon is kept.

use super::topology;
use super::validate::ring_signed_area;
use super::{BBox, Coord, Geometry, MultiPolygon, Polygon};

/// Test budget for the post-simplification topology check of one polygon.
const TOPOLOGY_BUDGET: u64 = 5_000_000;

/// Iaso's tolerance for `simplified_geom`: 0.001 × the larger side of the bounding box.
pub fn iaso_simplify_tolerance(bbox: &BBox) -> f64 {
    if bbox.is_empty() {
        return 0.0;
    }
    0.001 * bbox.width().max(bbox.height())
}

/// Simplifies with Iaso's tolerance (see [`iaso_simplify_tolerance`]).
pub fn simplify_iaso(mp: &MultiPolygon) -> MultiPolygon {
    simplify(mp, iaso_simplify_tolerance(&BBox::of_multipolygon(mp)))
}

/// Douglas–Peucker with `tolerance` in degrees. A non-positive or non-finite tolerance returns
/// a copy of the input.
pub fn simplify(mp: &MultiPolygon, tolerance: f64) -> MultiPolygon {
    if !(tolerance > 0.0 && tolerance.is_finite()) {
        return mp.clone();
    }
    let polygons = mp
        .polygons
        .iter()
        .map(|poly| simplify_polygon(poly, tolerance))
        .collect();
    MultiPolygon::new(polygons)
}

fn simplify_polygon(poly: &Polygon, tolerance: f64) -> Polygon {
    let rings: Vec<Vec<Coord>> = poly
        .rings
        .iter()
        .map(|ring| {
            let simplified = simplify_ring(ring, tolerance);
            if simplified.len() < 4 || ring_signed_area(&simplified) == 0.0 {
                ring.clone()
            } else {
                simplified
            }
        })
        .collect();
    let changed = rings
        .iter()
        .zip(&poly.rings)
        .any(|(a, b)| a.len() != b.len());
    if !changed {
        return poly.clone();
    }
    let candidate = MultiPolygon::new(vec![Polygon::new(rings)]);
    let original = MultiPolygon::new(vec![poly.clone()]);
    // Keep the simplified polygon unless simplification broke a valid polygon.
    if topology::check(&candidate, TOPOLOGY_BUDGET).is_err()
        && topology::check(&original, TOPOLOGY_BUDGET).is_ok()
    {
        return poly.clone();
    }
    candidate
        .polygons
        .into_iter()
        .next()
        .unwrap_or_else(|| poly.clone())
}

/// Squared distance from `p` to segment `a`-`b`.
fn seg_dist2(p: Coord, a: Coord, b: Coord) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0)
    };
    let (cx, cy) = (a.x + t * dx - p.x, a.y + t * dy - p.y);
    cx * cx + cy * cy
}

/// Douglas–Peucker on a ring, with bounded work. Plain Douglas–Peucker is quadratic on
/// jagged input (each split peels off a few points); past a budget of distance computations
/// (proportional to the ring size) the ring is first thinned by radial distance (drop points
/// closer than `tolerance` to the last kept one, O(n)) and Douglas–Peucker runs on the rest;
/// if that too runs out, the thinned ring is used.
fn simplify_ring(ring: &[Coord], tolerance: f64) -> Vec<Coord> {
    let budget = 30 * ring.len() as u64 + 1_000_000;
    if let Some(out) = douglas_peucker(ring, tolerance, budget) {
        return out;
    }
    let thinned = radial_thin(ring, tolerance);
    douglas_peucker(&thinned, tolerance, budget).unwrap_or(thinned)
}

fn radial_thin(ring: &[Coord], tolerance: f64) -> Vec<Coord> {
    let tol2 = tolerance * tolerance;
    let mut out: Vec<Coord> = Vec::with_capacity(ring.len() / 4 + 2);
    let Some((&last, body)) = ring.split_last() else {
        return Vec::new();
    };
    for &c in body {
        match out.last() {
            Some(p) if (c.x - p.x).powi(2) + (c.y - p.y).powi(2) < tol2 => {}
            _ => out.push(c),
        }
    }
    out.push(last);
    out
}

/// Iterative Douglas–Peucker over a polyline (no recursion: rings can be huge); `None` when
/// more than `budget` distance computations would be needed.
fn douglas_peucker(ring: &[Coord], tolerance: f64, mut budget: u64) -> Option<Vec<Coord>> {
    let n = ring.len();
    if n < 3 {
        return Some(ring.to_vec());
    }
    let tol2 = tolerance * tolerance;
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[n - 1] = true;
    let mut stack = vec![(0usize, n - 1)];
    while let Some((first, last)) = stack.pop() {
        if last <= first + 1 {
            continue;
        }
        let span = (last - first - 1) as u64;
        budget = budget.checked_sub(span)?;
        let (a, b) = (ring[first], ring[last]);
        let mut max_d = -1.0;
        let mut max_i = first;
        for (i, p) in ring.iter().enumerate().take(last).skip(first + 1) {
            let d = seg_dist2(*p, a, b);
            if d > max_d {
                max_d = d;
                max_i = i;
            }
        }
        if max_d > tol2 {
            keep[max_i] = true;
            stack.push((first, max_i));
            stack.push((max_i, last));
        }
    }
    Some(
        ring.iter()
            .zip(keep)
            .filter_map(|(c, k)| k.then_some(*c))
            .collect(),
    )
}

impl Geometry {
    /// Simplified copy (points are returned as is).
    pub fn simplified(&self, tolerance: f64) -> Geometry {
        match self {
            Geometry::Point(p) => Geometry::Point(*p),
            Geometry::MultiPolygon(mp) => Geometry::MultiPolygon(simplify(mp, tolerance)),
        }
    }
}
