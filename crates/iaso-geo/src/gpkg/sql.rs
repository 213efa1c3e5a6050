//! SQL text helpers and the fixed metadata of a GeoPackage.

/// Quotes an identifier for SQLite (`"a""b"`); table names like `level-5-Health facility/…`
/// need it.
pub(crate) fn ident(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 2);
    s.push('"');
    for ch in name.chars() {
        if ch == '"' {
            s.push('"');
        }
        s.push(ch);
    }
    s.push('"');
    s
}

/// OGC WKT (version 1) of EPSG:4326 as stored in `gpkg_spatial_ref_sys`.
pub(crate) const WKT_4326: &str = concat!(
    r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,"#,
    r#"AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],"#,
    r#"PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],"#,
    r#"UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],"#,
    r#"AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]"#
);

/// Core tables (GeoPackage 1.2, clauses 1.1.2–1.1.3 and 2.1.5).
pub(crate) const CREATE_CORE: &str = r#"
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL PRIMARY KEY,
  organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL,
  definition TEXT NOT NULL,
  description TEXT
);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY,
  data_type TEXT NOT NULL,
  identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE,
  min_y DOUBLE,
  max_x DOUBLE,
  max_y DOUBLE,
  srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id)
);
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL,
  column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL,
  z TINYINT NOT NULL,
  m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id)
);
CREATE TABLE gpkg_extensions (
  table_name TEXT,
  column_name TEXT,
  extension_name TEXT NOT NULL,
  definition TEXT NOT NULL,
  scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name)
);
"#;

/// The three mandatory rows of `gpkg_spatial_ref_sys`: (name, id, org, org id, definition,
/// description).
pub(crate) const SRS_ROWS: [(&str, i32, &str, i32, &str, &str); 3] = [
    (
        "Undefined Cartesian SRS",
        -1,
        "NONE",
        -1,
        "undefined",
        "undefined Cartesian coordinate reference system",
    ),
    (
        "Undefined geographic SRS",
        0,
        "NONE",
        0,
        "undefined",
        "undefined geographic coordinate reference system",
    ),
    (
        "WGS 84 geodetic",
        4326,
        "EPSG",
        4326,
        WKT_4326,
        "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid",
    ),
];

/// Triggers of the R-tree spatial index extension (`gpkg_rtree_index`, GeoPackage 1.2 F.3),
/// which keep the index in step with later edits made by GIS tools. They call the
/// `ST_IsEmpty`/`ST_MinX`… SQL functions that GeoPackage-aware readers (GDAL) register.
pub(crate) fn rtree_triggers(table: &str, geom: &str, fid: &str) -> String {
    let t = ident(table);
    let r = ident(&format!("rtree_{table}_{geom}"));
    let g = ident(geom);
    let i = ident(fid);
    let name = |suffix: &str| ident(&format!("rtree_{table}_{geom}_{suffix}"));
    let values = format!(
        "(NEW.{i}, ST_MinX(NEW.{g}), ST_MaxX(NEW.{g}), ST_MinY(NEW.{g}), ST_MaxY(NEW.{g}))"
    );
    format!(
        "CREATE TRIGGER {ins} AFTER INSERT ON {t} \
           WHEN (NEW.{g} NOT NULL AND NOT ST_IsEmpty(NEW.{g})) \
           BEGIN INSERT OR REPLACE INTO {r} VALUES {values}; END;\n\
         CREATE TRIGGER {up1} AFTER UPDATE OF {g} ON {t} \
           WHEN OLD.{i} = NEW.{i} AND (NEW.{g} NOTNULL AND NOT ST_IsEmpty(NEW.{g})) \
           BEGIN INSERT OR REPLACE INTO {r} VALUES {values}; END;\n\
         CREATE TRIGGER {up2} AFTER UPDATE OF {g} ON {t} \
           WHEN OLD.{i} = NEW.{i} AND (NEW.{g} ISNULL OR ST_IsEmpty(NEW.{g})) \
           BEGIN DELETE FROM {r} WHERE id = OLD.{i}; END;\n\
         CREATE TRIGGER {up3} AFTER UPDATE ON {t} \
           WHEN OLD.{i} != NEW.{i} AND (NEW.{g} NOTNULL AND NOT ST_IsEmpty(NEW.{g})) \
           BEGIN DELETE FROM {r} WHERE id = OLD.{i}; INSERT OR REPLACE INTO {r} VALUES {values}; END;\n\
         CREATE TRIGGER {up4} AFTER UPDATE ON {t} \
           WHEN OLD.{i} != NEW.{i} AND (NEW.{g} ISNULL OR ST_IsEmpty(NEW.{g})) \
           BEGIN DELETE FROM {r} WHERE id IN (OLD.{i}, NEW.{i}); END;\n\
         CREATE TRIGGER {del} AFTER DELETE ON {t} \
           WHEN OLD.{g} NOT NULL \
           BEGIN DELETE FROM {r} WHERE id = OLD.{i}; END;\n",
        ins = name("insert"),
        up1 = name("update1"),
        up2 = name("update2"),
        up3 = name("update3"),
        up4 = name("update4"),
        del = name("delete"),
    )
}
