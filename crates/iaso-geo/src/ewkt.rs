//! (E)WKT output, as GEOS/GeoDjango write it for Iaso's audit snapshots:
//! `SRID=4326;POINT Z (1 2 3)`, `SRID=4326;MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))`.
//! Numbers use the shortest text that reads back to the same `f64` (`1` not `1.0`).

use std::fmt::Write;

use crate::geometry::{Coord, Geometry};

/// SRID every geometry of the model is in.
pub const SRID: i32 = 4326;

/// `SRID=4326;<WKT>`.
pub fn to_ewkt(geometry: &Geometry) -> String {
    let mut s = format!("SRID={SRID};");
    write_wkt(geometry, &mut s);
    s
}

/// Plain WKT.
pub fn to_wkt(geometry: &Geometry) -> String {
    let mut s = String::new();
    write_wkt(geometry, &mut s);
    s
}

fn num(out: &mut String, v: f64) {
    // `Display` for f64 is the shortest round-trip form and never uses an exponent.
    let _ = write!(out, "{v}");
}

fn coord(out: &mut String, c: &Coord) {
    num(out, c.x);
    out.push(' ');
    num(out, c.y);
}

fn write_wkt(geometry: &Geometry, out: &mut String) {
    match geometry {
        Geometry::Point(p) => {
            out.push_str(if p.z.is_some() {
                "POINT Z ("
            } else {
                "POINT ("
            });
            num(out, p.x);
            out.push(' ');
            num(out, p.y);
            if let Some(z) = p.z {
                out.push(' ');
                num(out, z);
            }
            out.push(')');
        }
        Geometry::MultiPolygon(mp) => {
            if mp.polygons.is_empty() {
                out.push_str("MULTIPOLYGON EMPTY");
                return;
            }
            out.push_str("MULTIPOLYGON (");
            for (pi, poly) in mp.polygons.iter().enumerate() {
                if pi > 0 {
                    out.push_str(", ");
                }
                out.push('(');
                for (ri, ring) in poly.rings.iter().enumerate() {
                    if ri > 0 {
                        out.push_str(", ");
                    }
                    out.push('(');
                    for (ci, c) in ring.iter().enumerate() {
                        if ci > 0 {
                            out.push_str(", ");
                        }
                        coord(out, c);
                    }
                    out.push(')');
                }
                out.push(')');
            }
            out.push(')');
        }
    }
}
