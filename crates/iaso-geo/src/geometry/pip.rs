//! Point-in-polygon (crossing number with exact orientation tests).

use super::{BBox, Coord, MultiPolygon, Polygon};

/// Where a point lies relative to a ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Location {
    Inside,
    Boundary,
    Outside,
}

pub(crate) fn orient(a: Coord, b: Coord, c: Coord) -> f64 {
    robust::orient2d(
        robust::Coord { x: a.x, y: a.y },
        robust::Coord { x: b.x, y: b.y },
        robust::Coord { x: c.x, y: c.y },
    )
}

/// Whether `p`, known to be collinear with `a`-`b`, lies within the segment's extent.
pub(crate) fn within_extent(a: Coord, b: Coord, p: Coord) -> bool {
    p.x >= a.x.min(b.x) && p.x <= a.x.max(b.x) && p.y >= a.y.min(b.y) && p.y <= a.y.max(b.y)
}

/// Locates `p` against a closed ring (last position equal to the first).
pub(crate) fn locate_in_ring(ring: &[Coord], p: Coord) -> Location {
    let mut inside = false;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        // Boundary: collinear and within the segment.
        if (a.y <= p.y || b.y <= p.y) && (a.y >= p.y || b.y >= p.y) {
            let o = orient(a, b, p);
            if o == 0.0 && within_extent(a, b, p) {
                return Location::Boundary;
            }
            // Half-open rule on y so that a vertex is counted once.
            if (a.y > p.y) != (b.y > p.y) {
                // The edge crosses the horizontal line through p; is the crossing right of p?
                let crosses_right = if b.y > a.y { o > 0.0 } else { o < 0.0 };
                if crosses_right {
                    inside = !inside;
                }
            }
        }
    }
    if inside {
        Location::Inside
    } else {
        Location::Outside
    }
}

pub(crate) fn locate_in_polygon(poly: &Polygon, p: Coord) -> Location {
    let Some(ext) = poly.rings.first() else {
        return Location::Outside;
    };
    match locate_in_ring(ext, p) {
        Location::Outside => return Location::Outside,
        Location::Boundary => return Location::Boundary,
        Location::Inside => {}
    }
    for hole in poly.holes() {
        match locate_in_ring(hole, p) {
            Location::Inside => return Location::Outside,
            Location::Boundary => return Location::Boundary,
            Location::Outside => {}
        }
    }
    Location::Inside
}

pub(crate) fn multipolygon_contains(mp: &MultiPolygon, p: Coord) -> bool {
    mp.polygons.iter().any(|poly| {
        let Some(ext) = poly.rings.first() else {
            return false;
        };
        BBox::of_coords(ext).contains_coord(p) && locate_in_polygon(poly, p) != Location::Outside
    })
}
