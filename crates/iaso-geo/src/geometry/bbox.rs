use super::{Coord, MultiPolygon};

/// An axis-aligned bounding box in degrees (`x` = longitude, `y` = latitude).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    pub min_x: f64,
    pub min_y: f64,
    pub max_x: f64,
    pub max_y: f64,
}

impl BBox {
    /// The empty box: extending it with anything gives that thing's box.
    pub const EMPTY: BBox = BBox {
        min_x: f64::INFINITY,
        min_y: f64::INFINITY,
        max_x: f64::NEG_INFINITY,
        max_y: f64::NEG_INFINITY,
    };

    pub fn of_point(x: f64, y: f64) -> Self {
        BBox {
            min_x: x,
            min_y: y,
            max_x: x,
            max_y: y,
        }
    }

    pub fn of_coords<'a>(coords: impl IntoIterator<Item = &'a Coord>) -> Self {
        let mut b = BBox::EMPTY;
        for c in coords {
            b.extend_coord(*c);
        }
        b
    }

    pub fn of_multipolygon(mp: &MultiPolygon) -> Self {
        let mut b = BBox::EMPTY;
        // Exterior rings bound their holes, so only they need scanning.
        for p in &mp.polygons {
            if let Some(ext) = p.rings.first() {
                for c in ext {
                    b.extend_coord(*c);
                }
            }
        }
        b
    }

    pub fn is_empty(&self) -> bool {
        !(self.min_x <= self.max_x && self.min_y <= self.max_y)
    }

    pub fn extend_coord(&mut self, c: Coord) {
        self.min_x = self.min_x.min(c.x);
        self.min_y = self.min_y.min(c.y);
        self.max_x = self.max_x.max(c.x);
        self.max_y = self.max_y.max(c.y);
    }

    pub fn extend(&mut self, other: &BBox) {
        if other.is_empty() {
            return;
        }
        self.min_x = self.min_x.min(other.min_x);
        self.min_y = self.min_y.min(other.min_y);
        self.max_x = self.max_x.max(other.max_x);
        self.max_y = self.max_y.max(other.max_y);
    }

    pub fn width(&self) -> f64 {
        self.max_x - self.min_x
    }

    pub fn height(&self) -> f64 {
        self.max_y - self.min_y
    }

    /// Boxes sharing at least one point (boundaries included).
    pub fn intersects(&self, other: &BBox) -> bool {
        self.min_x <= other.max_x
            && other.min_x <= self.max_x
            && self.min_y <= other.max_y
            && other.min_y <= self.max_y
    }

    pub fn contains_coord(&self, c: Coord) -> bool {
        c.x >= self.min_x && c.x <= self.max_x && c.y >= self.min_y && c.y <= self.max_y
    }
}
