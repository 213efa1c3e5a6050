//! Streaming GeoJSON FeatureCollection writer: features go to any [`std::io::Write`] one by
//! one, so memory does not grow with the number of features.
//!
//! For an async HTTP body, write into a `Vec<u8>` and hand the buffer over whenever it is
//! large enough (`std::mem::take(writer.get_mut())`), e.g. through a channel feeding the body.
//!
//! ```
//! use iaso_geo::geojson_out::FeatureCollectionWriter;
//! use iaso_geo::{Geometry, Point};
//! let mut w = FeatureCollectionWriter::new(Vec::new()).unwrap();
//! let props = serde_json::json!({"name": "CS A"});
//! let g = Geometry::Point(Point::new(1.5, 2.0, None));
//! w.write_feature(Some(7), Some(&g), props.as_object()).unwrap();
//! let out = String::from_utf8(w.finish().unwrap()).unwrap();
//! assert!(out.starts_with(r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":7"#));
//! ```

use std::io::{self, Write};

use serde_json::{Map, Value};

use crate::geometry::{Coord, Geometry};

/// Writes `{"type":"FeatureCollection",[crs,]"features":[ ... ]}` incrementally.
pub struct FeatureCollectionWriter<W: Write> {
    out: W,
    count: u64,
    num: ryu::Buffer,
}

impl<W: Write> FeatureCollectionWriter<W> {
    /// Starts the document.
    pub fn new(out: W) -> io::Result<Self> {
        Self::start(out, None)
    }

    /// Starts the document with a named CRS member (`"crs":{"type":"name","properties":
    /// {"name":<crs_name>}}`), as Iaso's `asLocation` output has with `EPSG:4326`.
    pub fn with_crs(out: W, crs_name: &str) -> io::Result<Self> {
        Self::start(out, Some(crs_name))
    }

    fn start(mut out: W, crs: Option<&str>) -> io::Result<Self> {
        out.write_all(b"{\"type\":\"FeatureCollection\",")?;
        if let Some(name) = crs {
            out.write_all(b"\"crs\":{\"type\":\"name\",\"properties\":{\"name\":")?;
            serde_json::to_writer(&mut out, name)?;
            out.write_all(b"}},")?;
        }
        out.write_all(b"\"features\":[")?;
        Ok(Self {
            out,
            count: 0,
            num: ryu::Buffer::new(),
        })
    }

    /// Number of features written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The underlying writer (e.g. to drain a `Vec<u8>` buffer between features).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Writes one feature. `properties: None` writes `"properties":{}`.
    pub fn write_feature(
        &mut self,
        id: Option<i64>,
        geometry: Option<&Geometry>,
        properties: Option<&Map<String, Value>>,
    ) -> io::Result<()> {
        self.begin_feature(id, geometry)?;
        match properties {
            Some(p) => serde_json::to_writer(&mut self.out, p)?,
            None => self.out.write_all(b"{}")?,
        }
        self.out.write_all(b"}")
    }

    /// Writes one feature whose properties come from an iterator of `(name, value)` pairs,
    /// without building a map.
    pub fn write_feature_pairs<'a, I>(
        &mut self,
        id: Option<i64>,
        geometry: Option<&Geometry>,
        properties: I,
    ) -> io::Result<()>
    where
        I: IntoIterator<Item = (&'a str, &'a Value)>,
    {
        self.begin_feature(id, geometry)?;
        self.out.write_all(b"{")?;
        for (i, (k, v)) in properties.into_iter().enumerate() {
            if i > 0 {
                self.out.write_all(b",")?;
            }
            serde_json::to_writer(&mut self.out, k)?;
            self.out.write_all(b":")?;
            serde_json::to_writer(&mut self.out, v)?;
        }
        self.out.write_all(b"}}")
    }

    fn begin_feature(&mut self, id: Option<i64>, geometry: Option<&Geometry>) -> io::Result<()> {
        if self.count > 0 {
            self.out.write_all(b",")?;
        }
        self.count += 1;
        self.out.write_all(b"{\"type\":\"Feature\",")?;
        if let Some(id) = id {
            write!(self.out, "\"id\":{id},")?;
        }
        self.out.write_all(b"\"geometry\":")?;
        match geometry {
            Some(g) => self.write_geometry(g)?,
            None => self.out.write_all(b"null")?,
        }
        self.out.write_all(b",\"properties\":")
    }

    fn num(&mut self, v: f64) -> io::Result<()> {
        if v.is_finite() {
            let s = self.num.format_finite(v);
            self.out.write_all(s.as_bytes())
        } else {
            self.out.write_all(b"null")
        }
    }

    fn coord(&mut self, c: &Coord) -> io::Result<()> {
        self.out.write_all(b"[")?;
        self.num(c.x)?;
        self.out.write_all(b",")?;
        self.num(c.y)?;
        self.out.write_all(b"]")
    }

    fn write_geometry(&mut self, g: &Geometry) -> io::Result<()> {
        match g {
            Geometry::Point(p) => {
                self.out
                    .write_all(b"{\"type\":\"Point\",\"coordinates\":[")?;
                self.num(p.x)?;
                self.out.write_all(b",")?;
                self.num(p.y)?;
                if let Some(z) = p.z {
                    self.out.write_all(b",")?;
                    self.num(z)?;
                }
                self.out.write_all(b"]}")
            }
            Geometry::MultiPolygon(mp) => {
                self.out
                    .write_all(b"{\"type\":\"MultiPolygon\",\"coordinates\":[")?;
                for (pi, poly) in mp.polygons.iter().enumerate() {
                    if pi > 0 {
                        self.out.write_all(b",")?;
                    }
                    self.out.write_all(b"[")?;
                    for (ri, ring) in poly.rings.iter().enumerate() {
                        if ri > 0 {
                            self.out.write_all(b",")?;
                        }
                        self.out.write_all(b"[")?;
                        for (ci, c) in ring.iter().enumerate() {
                            if ci > 0 {
                                self.out.write_all(b",")?;
                            }
                            self.coord(c)?;
                        }
                        self.out.write_all(b"]")?;
                    }
                    self.out.write_all(b"]")?;
                }
                self.out.write_all(b"]}")
            }
        }
    }

    /// Closes the document, flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(b"]}")?;
        self.out.flush()?;
        Ok(self.out)
    }
}
