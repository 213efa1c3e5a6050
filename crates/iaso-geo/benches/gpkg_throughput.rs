//! Writes then reads N polygon features (default 100,000; `IASO_GEO_BENCH_N` overrides) in an
//! Iaso-style layer, and streams them as GeoJSON; prints time, features/s and peak RSS.
//!
//! `cargo bench -p iaso-geo --bench gpkg_throughput`

use std::time::Instant;

use iaso_geo::geojson_out::FeatureCollectionWriter;
use iaso_geo::gpkg::{
    ColumnType, FeatureLayerSpec, GpkgReader, GpkgWriter, LayerGeometryType, ReadLimits, Value,
    ValueRef, WriterOptions,
};
use iaso_geo::{Coord, Geometry, MultiPolygon, Polygon};

const VERTICES: usize = 32;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn polygon(i: usize) -> Geometry {
    let cx = -10.0 + (i % 1000) as f64 * 0.02;
    let cy = -10.0 + (i / 1000 % 1000) as f64 * 0.02;
    let mut ring: Vec<Coord> = (0..VERTICES)
        .map(|k| {
            let a = k as f64 / VERTICES as f64 * std::f64::consts::TAU;
            let r = 0.008 + 0.001 * ((k * 7 + i) % 5) as f64;
            Coord::new(cx + r * a.cos(), cy + r * a.sin())
        })
        .collect();
    ring.push(ring[0]);
    Geometry::MultiPolygon(MultiPolygon::new(vec![Polygon::new(vec![ring])]))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::var("IASO_GEO_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.gpkg");

    // Geometries are generated on the fly, as an export would stream them from the database.
    let t = Instant::now();
    let mut w = GpkgWriter::create(&path, WriterOptions::default())?;
    let spec = FeatureLayerSpec::new("level-4-Health area", LayerGeometryType::MultiPolygon)
        .column("name", ColumnType::Text)
        .column("ref", ColumnType::Text)
        .column("parent_ref", ColumnType::Text)
        .column("group_refs", ColumnType::Text)
        .column("opening_date", ColumnType::Date)
        .column("closed_date", ColumnType::Date)
        .column("id", ColumnType::Integer);
    let layer = w.create_feature_layer(&spec)?;
    let mut name = String::new();
    let mut reference = String::new();
    for i in 0..n {
        use std::fmt::Write;
        name.clear();
        reference.clear();
        write!(name, "Aire de santé {i}")?;
        write!(reference, "ref{i:08}")?;
        let g = polygon(i);
        w.append_feature(
            layer,
            Some(&g),
            &[
                ValueRef::Text(&name),
                ValueRef::Text(&reference),
                ValueRef::Text("parent0001"),
                ValueRef::Text("g1, g2"),
                ValueRef::Text("2020-01-01"),
                ValueRef::Null,
                ValueRef::Integer(i as i64),
            ],
        )?;
    }
    w.finish()?;
    let write_s = t.elapsed().as_secs_f64();
    let size_mb = std::fs::metadata(&path)?.len() as f64 / 1e6;
    println!(
        "write  {n} polygons ({VERTICES}+1 vertices, R-tree on): {write_s:.2} s, {:.0} features/s, file {size_mb:.0} MB, peak RSS {:.0} MB",
        n as f64 / write_s,
        peak_rss_mb()
    );

    let t = Instant::now();
    let r = GpkgReader::open(&path, ReadLimits::default())?;
    let mut vertices = 0usize;
    let mut count = 0usize;
    for f in r.features("level-4-Health area")? {
        let f = f?;
        vertices += f.geometry.as_ref().map_or(0, Geometry::vertex_count);
        if let Some(Value::Integer(id)) = f.get("id") {
            count += usize::from(*id >= 0);
        }
    }
    let read_s = t.elapsed().as_secs_f64();
    assert_eq!(count, n);
    println!(
        "read   {n} polygons (decode + basic validation): {read_s:.2} s, {:.0} features/s, {vertices} vertices, peak RSS {:.0} MB",
        n as f64 / read_s,
        peak_rss_mb()
    );

    let mut strict = ReadLimits::default();
    strict.geometry.check_topology = true;
    let t = Instant::now();
    let r = GpkgReader::open(&path, strict)?;
    let mut ok = 0usize;
    for f in r.features("level-4-Health area")? {
        ok += usize::from(f?.geometry.is_some());
    }
    let strict_s = t.elapsed().as_secs_f64();
    assert_eq!(ok, n);
    println!(
        "read   {n} polygons (with topology check): {strict_s:.2} s, {:.0} features/s",
        n as f64 / strict_s
    );

    // One shape at the default vertex limit (1,000,000 positions), full validation.
    let big_n = 999_999;
    let mut ring: Vec<Coord> = (0..big_n)
        .map(|k| {
            let a = k as f64 / big_n as f64 * std::f64::consts::TAU;
            let r = 5.0 + 0.01 * ((k % 7) as f64);
            Coord::new(r * a.cos(), r * a.sin())
        })
        .collect();
    ring.push(ring[0]);
    let big = Geometry::MultiPolygon(MultiPolygon::new(vec![Polygon::new(vec![ring])]));
    let t = Instant::now();
    big.validate(&iaso_geo::Limits::default())?;
    let validate_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let simplified = iaso_geo::geometry::simplify_iaso(big.as_multipolygon().ok_or("shape")?);
    println!(
        "validate 1M-vertex polygon (with topology): {validate_s:.2} s; simplify_iaso: {:.2} s -> {} vertices",
        t.elapsed().as_secs_f64(),
        simplified.vertex_count()
    );

    let t = Instant::now();
    let mut out = FeatureCollectionWriter::new(std::io::BufWriter::new(std::io::sink()))?;
    let props = serde_json::json!({"name": "Aire de santé", "ref": "ref00000001"});
    for i in 0..n {
        out.write_feature(Some(i as i64), Some(&polygon(i)), props.as_object())?;
    }
    out.finish()?;
    let json_s = t.elapsed().as_secs_f64();
    println!(
        "geojson {n} polygons streamed: {json_s:.2} s, {:.0} features/s, peak RSS {:.0} MB",
        n as f64 / json_s,
        peak_rss_mb()
    );
    Ok(())
}
