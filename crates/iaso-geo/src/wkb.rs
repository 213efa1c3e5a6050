//! Well-Known Binary: encoding (ISO, little endian) and bounded decoding.
//!
//! Encoding writes `Point` (type 1) or `PointZ` (ISO type 1001) and `MultiPolygon` (type 6 with
//! type-3 polygons), the compact form stored in the application database.
//!
//! Decoding accepts both byte orders, ISO Z/M/ZM type codes (1000/2000/3000 offsets) and
//! PostGIS EWKB flags (Z, M, SRID), reads `Point`, `Polygon` and `MultiPolygon` (a polygon
//! becomes a one-part multipolygon, Z/M on polygons and M on points are dropped) and refuses
//! every other type with its name. Counts are checked against the bytes left and against
//! [`Limits::max_vertices`] before anything is allocated. Empty geometries (a point with NaN
//! coordinates, zero polygons) decode to `None`.

use thiserror::Error;

use crate::geometry::validate::{self, Limits};
use crate::geometry::{Coord, Geometry, GeometryError, MultiPolygon, Point, Polygon};

#[derive(Debug, Error, Clone, PartialEq)]
pub enum WkbError {
    #[error("WKB truncated: needed {needed} bytes at offset {offset}, {available} available")]
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("WKB byte order marker must be 0 or 1, found {0} at offset {1}")]
    BadByteOrder(u8, usize),
    #[error("unsupported geometry type {0}: only Point, Polygon and MultiPolygon are accepted")]
    UnsupportedType(&'static str),
    #[error("unknown WKB geometry type code {0}")]
    UnknownType(u32),
    #[error("a MultiPolygon may only contain polygons, found {0}")]
    UnexpectedMember(&'static str),
    #[error("{0} bytes left after the end of the geometry")]
    TrailingBytes(usize),
    #[error(transparent)]
    Invalid(#[from] GeometryError),
}

const TYPE_POINT: u32 = 1;
const TYPE_POLYGON: u32 = 3;
const TYPE_MULTIPOLYGON: u32 = 6;

/// Appends the WKB encoding of `geometry` to `out` (no allocation beyond `out`'s growth).
pub fn write_wkb(geometry: &Geometry, out: &mut Vec<u8>) {
    match geometry {
        Geometry::Point(p) => {
            out.push(1);
            match p.z {
                Some(z) => {
                    out.extend_from_slice(&(1000 + TYPE_POINT).to_le_bytes());
                    put_f64s(out, &[p.x, p.y, z]);
                }
                None => {
                    out.extend_from_slice(&TYPE_POINT.to_le_bytes());
                    put_f64s(out, &[p.x, p.y]);
                }
            }
        }
        Geometry::MultiPolygon(mp) => {
            out.reserve(9 + mp.vertex_count() * 16 + mp.polygons.len() * 9);
            out.push(1);
            out.extend_from_slice(&TYPE_MULTIPOLYGON.to_le_bytes());
            out.extend_from_slice(&(mp.polygons.len() as u32).to_le_bytes());
            for poly in &mp.polygons {
                out.push(1);
                out.extend_from_slice(&TYPE_POLYGON.to_le_bytes());
                out.extend_from_slice(&(poly.rings.len() as u32).to_le_bytes());
                for ring in &poly.rings {
                    out.extend_from_slice(&(ring.len() as u32).to_le_bytes());
                    for c in ring {
                        put_f64s(out, &[c.x, c.y]);
                    }
                }
            }
        }
    }
}

fn put_f64s(out: &mut Vec<u8>, values: &[f64]) {
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// WKB encoding of `geometry`.
pub fn to_wkb(geometry: &Geometry) -> Vec<u8> {
    let mut out = Vec::new();
    write_wkb(geometry, &mut out);
    out
}

/// Decodes and validates WKB/EWKB; `Ok(None)` for an empty geometry.
pub fn from_wkb(bytes: &[u8], limits: &Limits) -> Result<Option<Geometry>, WkbError> {
    let mut r = Reader {
        buf: bytes,
        pos: 0,
        budget: limits.max_vertices,
        limits,
    };
    let geometry = r.geometry()?;
    if r.pos != bytes.len() {
        return Err(WkbError::TrailingBytes(bytes.len() - r.pos));
    }
    if let Some(g) = &geometry {
        validate::validate(g, limits)?;
    }
    Ok(geometry)
}

struct Header {
    little: bool,
    base: u32,
    has_z: bool,
    has_m: bool,
}

impl Header {
    fn dims(&self) -> usize {
        2 + usize::from(self.has_z) + usize::from(self.has_m)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    budget: usize,
    limits: &'a Limits,
}

fn type_name(base: u32) -> Option<&'static str> {
    Some(match base {
        1 => "Point",
        2 => "LineString",
        3 => "Polygon",
        4 => "MultiPoint",
        5 => "MultiLineString",
        6 => "MultiPolygon",
        7 => "GeometryCollection",
        8 => "CircularString",
        9 => "CompoundCurve",
        10 => "CurvePolygon",
        11 => "MultiCurve",
        12 => "MultiSurface",
        13 => "Curve",
        14 => "Surface",
        15 => "PolyhedralSurface",
        16 => "TIN",
        17 => "Triangle",
        _ => return None,
    })
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WkbError> {
        let available = self.buf.len() - self.pos;
        if n > available {
            return Err(WkbError::Truncated {
                offset: self.pos,
                needed: n,
                available,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u32(&mut self, little: bool) -> Result<u32, WkbError> {
        let b = self.take(4)?;
        let a = [b[0], b[1], b[2], b[3]];
        Ok(if little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }

    fn f64(&mut self, little: bool) -> Result<f64, WkbError> {
        let b = self.take(8)?;
        let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        Ok(if little {
            f64::from_le_bytes(a)
        } else {
            f64::from_be_bytes(a)
        })
    }

    fn header(&mut self) -> Result<Header, WkbError> {
        let order_pos = self.pos;
        let little = match self.take(1)?[0] {
            0 => false,
            1 => true,
            other => return Err(WkbError::BadByteOrder(other, order_pos)),
        };
        let raw = self.u32(little)?;
        let ewkb_z = raw & 0x8000_0000 != 0;
        let ewkb_m = raw & 0x4000_0000 != 0;
        let ewkb_srid = raw & 0x2000_0000 != 0;
        let code = raw & 0x0FFF_FFFF;
        let (iso_dim, base) = (code / 1000, code % 1000);
        if iso_dim > 3 || type_name(base).is_none() {
            return Err(WkbError::UnknownType(raw));
        }
        if ewkb_srid {
            self.u32(little)?; // SRID: the model is EPSG:4326 only; callers check SRS upstream.
        }
        Ok(Header {
            little,
            base,
            has_z: ewkb_z || iso_dim == 1 || iso_dim == 3,
            has_m: ewkb_m || iso_dim == 2 || iso_dim == 3,
        })
    }

    /// Reads a count of items of at least `min_item_bytes` each, refusing counts the
    /// remaining bytes cannot hold.
    fn count(&mut self, little: bool, min_item_bytes: usize) -> Result<usize, WkbError> {
        let offset = self.pos;
        let n = self.u32(little)? as usize;
        let available = self.buf.len() - self.pos;
        let needed = n.saturating_mul(min_item_bytes);
        if needed > available {
            return Err(WkbError::Truncated {
                offset,
                needed,
                available,
            });
        }
        Ok(n)
    }

    fn geometry(&mut self) -> Result<Option<Geometry>, WkbError> {
        let h = self.header()?;
        match h.base {
            TYPE_POINT => {
                let coords = self.coords(&h)?;
                if coords[0].is_nan() && coords[1].is_nan() {
                    return Ok(None);
                }
                let z = h.has_z.then_some(coords[2]);
                Ok(Some(Geometry::Point(Point::new(coords[0], coords[1], z))))
            }
            TYPE_POLYGON => {
                let poly = self.polygon_body(&h, 0)?;
                Ok((!poly.rings.is_empty())
                    .then(|| Geometry::MultiPolygon(MultiPolygon::new(vec![poly]))))
            }
            TYPE_MULTIPOLYGON => {
                let n = self.count(h.little, 9)?;
                if n > self.limits.max_parts {
                    return Err(GeometryError::TooManyParts {
                        count: n,
                        limit: self.limits.max_parts,
                    }
                    .into());
                }
                let mut polygons = Vec::with_capacity(n);
                for pi in 0..n {
                    let ph = self.header()?;
                    if ph.base != TYPE_POLYGON {
                        return Err(WkbError::UnexpectedMember(
                            type_name(ph.base).unwrap_or("unknown"),
                        ));
                    }
                    let poly = self.polygon_body(&ph, pi)?;
                    if !poly.rings.is_empty() {
                        polygons.push(poly);
                    }
                }
                Ok((!polygons.is_empty())
                    .then(|| Geometry::MultiPolygon(MultiPolygon::new(polygons))))
            }
            other => Err(WkbError::UnsupportedType(
                type_name(other).unwrap_or("unknown"),
            )),
        }
    }

    fn coords(&mut self, h: &Header) -> Result<[f64; 4], WkbError> {
        let mut c = [0.0; 4];
        for slot in c.iter_mut().take(h.dims()) {
            *slot = self.f64(h.little)?;
        }
        Ok(c)
    }

    fn polygon_body(&mut self, h: &Header, polygon: usize) -> Result<Polygon, WkbError> {
        let dims = h.dims();
        let n_rings = self.count(h.little, 4)?;
        if n_rings > self.limits.max_rings_per_polygon {
            return Err(GeometryError::TooManyRings {
                polygon,
                count: n_rings,
                limit: self.limits.max_rings_per_polygon,
            }
            .into());
        }
        let mut rings = Vec::with_capacity(n_rings);
        for _ in 0..n_rings {
            let n = self.count(h.little, dims * 8)?;
            if n > self.budget {
                return Err(GeometryError::TooManyVertices {
                    count: self.limits.max_vertices - self.budget + n,
                    limit: self.limits.max_vertices,
                }
                .into());
            }
            self.budget -= n;
            let bytes = self.take(n * dims * 8)?;
            let mut ring = Vec::with_capacity(n);
            for chunk in bytes.chunks_exact(dims * 8) {
                let read = |i: usize| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(&chunk[i * 8..i * 8 + 8]);
                    if h.little {
                        f64::from_le_bytes(a)
                    } else {
                        f64::from_be_bytes(a)
                    }
                };
                ring.push(Coord::new(read(0), read(1)));
            }
            rings.push(ring);
        }
        Ok(Polygon::new(rings))
    }
}
