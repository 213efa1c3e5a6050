//! Bounded topology checks: segment intersections (sort-and-sweep on x) and ring containment.
//!
//! Preconditions: every ring is closed, has ≥ 4 positions and finite coordinates.

use super::pip::{locate_in_polygon, locate_in_ring, orient, within_extent, Location};
use super::{BBox, Coord, GeometryError, MultiPolygon};

#[derive(Clone, Copy)]
struct Seg {
    a: Coord,
    b: Coord,
    min_x: f64,
    max_x: f64,
    min_y: f64,
    max_y: f64,
    polygon: u32,
    ring: u32,
    /// Index among the ring's non-degenerate segments.
    idx: u32,
    /// Number of non-degenerate segments in the ring.
    ring_len: u32,
}

enum Relation {
    Disjoint,
    /// Meet at exactly one point, which is an endpoint of at least one of them.
    Touch(Coord),
    /// Interiors cross at one point.
    Cross(Coord),
    /// Collinear with a common part longer than a point.
    Overlap(Coord),
}

fn relate(s: &Seg, t: &Seg) -> Relation {
    let (p1, p2, q1, q2) = (s.a, s.b, t.a, t.b);
    let d1 = orient(q1, q2, p1);
    let d2 = orient(q1, q2, p2);
    let d3 = orient(p1, p2, q1);
    let d4 = orient(p1, p2, q2);
    if d1 == 0.0 && d2 == 0.0 {
        // Collinear: compare the projections on the dominant axis.
        let use_x = (p2.x - p1.x).abs() >= (p2.y - p1.y).abs();
        let key = |c: Coord| if use_x { c.x } else { c.y };
        let (s_lo, s_hi) = minmax(key(p1), key(p2));
        let (t_lo, t_hi) = minmax(key(q1), key(q2));
        let lo = s_lo.max(t_lo);
        let hi = s_hi.min(t_hi);
        if lo < hi {
            let at = if key(q1) >= s_lo && key(q1) <= s_hi {
                q1
            } else {
                q2
            };
            return Relation::Overlap(at);
        }
        if lo == hi {
            let at = [p1, p2].into_iter().find(|c| key(*c) == lo).unwrap_or(p1);
            return Relation::Touch(at);
        }
        return Relation::Disjoint;
    }
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return Relation::Cross(approx_intersection(p1, p2, q1, q2));
    }
    if d1 == 0.0 && within_extent(q1, q2, p1) {
        return Relation::Touch(p1);
    }
    if d2 == 0.0 && within_extent(q1, q2, p2) {
        return Relation::Touch(p2);
    }
    if d3 == 0.0 && within_extent(p1, p2, q1) {
        return Relation::Touch(q1);
    }
    if d4 == 0.0 && within_extent(p1, p2, q2) {
        return Relation::Touch(q2);
    }
    Relation::Disjoint
}

fn minmax(a: f64, b: f64) -> (f64, f64) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Intersection point, for error messages only.
fn approx_intersection(p1: Coord, p2: Coord, q1: Coord, q2: Coord) -> Coord {
    let r = Coord::new(p2.x - p1.x, p2.y - p1.y);
    let s = Coord::new(q2.x - q1.x, q2.y - q1.y);
    let denom = r.x * s.y - r.y * s.x;
    if denom == 0.0 {
        return p1;
    }
    let t = ((q1.x - p1.x) * s.y - (q1.y - p1.y) * s.x) / denom;
    Coord::new(p1.x + t * r.x, p1.y + t * r.y)
}

fn adjacent(s: &Seg, t: &Seg) -> bool {
    if s.polygon != t.polygon || s.ring != t.ring {
        return false;
    }
    let (i, j) = (s.idx.min(t.idx), s.idx.max(t.idx));
    j == i + 1 || (i == 0 && j + 1 == s.ring_len)
}

fn collect_segments(mp: &MultiPolygon) -> Vec<Seg> {
    let mut segs = Vec::with_capacity(mp.vertex_count());
    for (pi, poly) in mp.polygons.iter().enumerate() {
        for (ri, ring) in poly.rings.iter().enumerate() {
            let start = segs.len();
            let mut idx = 0u32;
            for w in ring.windows(2) {
                let (a, b) = (w[0], w[1]);
                if a == b {
                    continue; // repeated position: not a segment
                }
                let (min_x, max_x) = minmax(a.x, b.x);
                let (min_y, max_y) = minmax(a.y, b.y);
                segs.push(Seg {
                    a,
                    b,
                    min_x,
                    max_x,
                    min_y,
                    max_y,
                    polygon: pi as u32,
                    ring: ri as u32,
                    idx,
                    ring_len: 0,
                });
                idx += 1;
            }
            for s in &mut segs[start..] {
                s.ring_len = idx;
            }
        }
    }
    segs
}

/// Runs all checks; `Ok` also when the test budget ran out before anything was found.
pub(crate) fn check(mp: &MultiPolygon, max_tests: u64) -> Result<(), GeometryError> {
    let mut budget = max_tests;
    check_segments(mp, &mut budget)?;
    check_containment(mp, &mut budget)
}

fn check_segments(mp: &MultiPolygon, budget: &mut u64) -> Result<(), GeometryError> {
    let mut segs = collect_segments(mp);
    segs.sort_unstable_by(|a, b| a.min_x.total_cmp(&b.min_x));
    let mut active: Vec<usize> = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        active.retain(|&j| segs[j].max_x >= s.min_x);
        for &j in &active {
            // Every examined pair counts, so the sweep itself (and `retain`) stays bounded
            // even when many long segments share the same x range.
            if *budget == 0 {
                return Ok(());
            }
            *budget -= 1;
            let t = &segs[j];
            if t.max_y < s.min_y || t.min_y > s.max_y {
                continue;
            }
            check_pair(s, t)?;
        }
        active.push(i);
    }
    Ok(())
}

fn check_pair(s: &Seg, t: &Seg) -> Result<(), GeometryError> {
    let same_ring = s.polygon == t.polygon && s.ring == t.ring;
    match relate(s, t) {
        Relation::Disjoint => Ok(()),
        Relation::Touch(at) => {
            if same_ring && !adjacent(s, t) {
                Err(self_intersection(s, at))
            } else {
                Ok(())
            }
        }
        Relation::Cross(at) | Relation::Overlap(at) => {
            if same_ring {
                Err(self_intersection(s, at))
            } else {
                Err(GeometryError::RingsCross {
                    polygon_a: t.polygon.min(s.polygon) as usize,
                    ring_a: if t.polygon <= s.polygon {
                        t.ring
                    } else {
                        s.ring
                    } as usize,
                    polygon_b: t.polygon.max(s.polygon) as usize,
                    ring_b: if t.polygon <= s.polygon {
                        s.ring
                    } else {
                        t.ring
                    } as usize,
                    x: at.x,
                    y: at.y,
                })
            }
        }
    }
}

fn self_intersection(s: &Seg, at: Coord) -> GeometryError {
    GeometryError::SelfIntersection {
        polygon: s.polygon as usize,
        ring: s.ring as usize,
        x: at.x,
        y: at.y,
    }
}

/// A vertex of `ring` strictly inside or outside `reference` (skipping boundary vertices).
fn ring_location(ring: &[Coord], reference: &[Coord], budget: &mut u64) -> Option<Location> {
    for c in ring.iter().take(ring.len().saturating_sub(1)) {
        let cost = reference.len() as u64;
        if *budget < cost {
            return None;
        }
        *budget -= cost;
        match locate_in_ring(reference, *c) {
            Location::Boundary => continue,
            loc => return Some(loc),
        }
    }
    None
}

fn check_containment(mp: &MultiPolygon, budget: &mut u64) -> Result<(), GeometryError> {
    // Holes inside their shell, holes not nested.
    for (pi, poly) in mp.polygons.iter().enumerate() {
        let Some(shell) = poly.rings.first() else {
            continue;
        };
        let hole_boxes: Vec<BBox> = poly.holes().iter().map(BBox::of_coords).collect();
        for (hi, hole) in poly.holes().iter().enumerate() {
            if ring_location(hole, shell, budget) == Some(Location::Outside) {
                return Err(GeometryError::HoleOutsideShell {
                    polygon: pi,
                    ring: hi + 1,
                });
            }
        }
        for (a, box_a) in hole_boxes.iter().enumerate() {
            for (b, box_b) in hole_boxes.iter().enumerate().skip(a + 1) {
                if !box_a.intersects(box_b) {
                    continue;
                }
                let (ha, hb) = (&poly.rings[a + 1], &poly.rings[b + 1]);
                if ring_location(ha, hb, budget) == Some(Location::Inside)
                    || ring_location(hb, ha, budget) == Some(Location::Inside)
                {
                    return Err(GeometryError::NestedHoles {
                        polygon: pi,
                        ring_a: a + 1,
                        ring_b: b + 1,
                    });
                }
            }
        }
    }
    // Parts not overlapping: with no crossing edges, two parts overlap iff a vertex of one
    // lies in the interior of the other.
    if mp.polygons.len() < 2 {
        return Ok(());
    }
    let boxes: Vec<BBox> = mp
        .polygons
        .iter()
        .map(|p| p.rings.first().map(BBox::of_coords).unwrap_or(BBox::EMPTY))
        .collect();
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_unstable_by(|&a, &b| boxes[a].min_x.total_cmp(&boxes[b].min_x));
    for (k, &a) in order.iter().enumerate() {
        for &b in &order[k + 1..] {
            if boxes[b].min_x > boxes[a].max_x {
                break;
            }
            if !boxes[a].intersects(&boxes[b]) {
                continue;
            }
            if part_inside(mp, b, a, budget) || part_inside(mp, a, b, budget) {
                return Err(GeometryError::PartsOverlap {
                    polygon_a: a.min(b),
                    polygon_b: a.max(b),
                });
            }
        }
    }
    Ok(())
}

/// Whether a vertex of polygon `inner`'s shell lies in the interior of polygon `outer`.
fn part_inside(mp: &MultiPolygon, inner: usize, outer: usize, budget: &mut u64) -> bool {
    let (Some(inner_shell), Some(outer_poly)) =
        (mp.polygons[inner].rings.first(), mp.polygons.get(outer))
    else {
        return false;
    };
    let cost = outer_poly.vertex_count() as u64;
    for c in inner_shell.iter().take(inner_shell.len().saturating_sub(1)) {
        if *budget < cost {
            return false;
        }
        *budget -= cost;
        match locate_in_polygon(outer_poly, *c) {
            Location::Boundary => continue,
            Location::Inside => return true,
            Location::Outside => return false,
        }
    }
    false
}
