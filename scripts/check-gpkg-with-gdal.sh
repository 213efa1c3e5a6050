#!/usr/bin/env bash
# Checks that GeoPackages written by crates/iaso-geo open in GDAL, through fiona (its PyPI
# wheels bundle GDAL, so no system GDAL is needed).
#
#   scripts/check-gpkg-with-gdal.sh            # writes the sample export and checks it
#
# Idempotent: fiona is installed once into a virtualenv (default target/gdal-check-venv,
# override with GDAL_CHECK_VENV). Fails loudly (non-zero exit, message on stderr) when GDAL
# cannot read the file, sees other layers, counts, types or values than written, or logs a
# warning while reading.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${GDAL_CHECK_VENV:-$root/target/gdal-check-venv}

if ! "$venv/bin/python" -c "import fiona" >/dev/null 2>&1; then
  echo "check-gpkg-with-gdal: installing fiona into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "fiona>=1.9,<2"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sample="$work/sample.gpkg"

cargo run --quiet --manifest-path "$root/Cargo.toml" -p iaso-geo --example write_sample_gpkg -- "$sample" >/dev/null

"$venv/bin/python" - "$sample" <<'PY'
import logging, shutil, sqlite3, sys
import fiona

path = sys.argv[1]
warnings = []

class Collect(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())

logging.getLogger().addHandler(Collect(level=logging.WARNING))

def fail(msg):
    print(f"check-gpkg-with-gdal: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)

def check(cond, msg):
    if not cond:
        fail(msg)

print(f"fiona {fiona.__version__}, GDAL {fiona.__gdal_version__}")
country = "level-1-Country/Pays - COUN"
district = "level-2-District"
hf = "level-3-Health facility/Formation sanitaire - HF"
layers = fiona.listlayers(path)
check(layers == [country, district, hf, "groups"], f"layers {layers}")

expected = {
    country: (1, "MultiPolygon"),
    district: (3, "MultiPolygon"),
    hf: (5, "3D Point"),
}
for name, (count, gtype) in expected.items():
    with fiona.open(path, layer=name) as src:
        check(src.driver == "GPKG", f"{name}: driver {src.driver}")
        check(len(src) == count, f"{name}: {len(src)} features, expected {count}")
        check(src.schema["geometry"] == gtype, f"{name}: geometry {src.schema['geometry']}")
        check(str(src.crs) == "EPSG:4326", f"{name}: crs {src.crs}")
        props = src.schema["properties"]
        check(props.get("opening_date") == "date" and props.get("id") == "int", f"{name}: schema {props}")
        print(f"{name}: {len(src)} x {gtype}, bounds {src.bounds}")

with fiona.open(path, layer=country) as src:
    f = next(iter(src))
    check(f.properties["name"] == "Burkina Faso", f"country name {f.properties['name']}")
    check(str(f.properties["opening_date"]).startswith("1960-08-05"), f"opening_date {f.properties['opening_date']}")
    check(len(f.geometry.coordinates) == 2 and len(f.geometry.coordinates[0]) == 2, "country parts/holes")
    check(src.bounds == (0.0, 0.0, 15.0, 10.0), f"country extent {src.bounds}")
    check(len(list(src.filter(bbox=(12.5, 0.5, 13.0, 1.0)))) == 1, "spatial filter on country")

with fiona.open(path, layer=district) as src:
    feats = list(src)
    check(feats[2].geometry is None, "third district has no geometry")
    check(feats[0].properties["group_refs"] == "g1, g2", f"group_refs {feats[0].properties['group_refs']}")
    check(feats[1].properties["closed_date"] is None, "NULL closed_date")
    hits = [f.properties["name"] for f in src.filter(bbox=(1.0, 1.0, 2.0, 2.0))]
    check(hits == ["District 0"], f"R-tree filter gave {hits}")

with fiona.open(path, layer=hf) as src:
    zs = [f.geometry.coordinates[2] for f in src]
    check(zs == [250.0, 0.0, 252.0, 0.0, 254.0], f"altitudes {zs}")

with fiona.open(path, layer="groups") as src:
    rows = [(f.properties["ref"], f.properties["name"]) for f in src]
    check(rows == [("g1", "Group 1"), ("g2", "Group 2")], f"groups {rows}")

# GDAL edits a copy: the R-tree triggers written by iaso-geo must keep the index right.
copy = path + ".edit.gpkg"
shutil.copy(path, copy)
with fiona.open(copy, "a", layer=hf) as dst:
    props = {k: None for k in dst.schema["properties"]}
    props.update(name="added by GDAL", id=999)
    dst.write({"geometry": {"type": "Point", "coordinates": (7.0, 8.0, 9.0)}, "properties": props})
with fiona.open(copy, layer=hf) as src:
    check(len(src) == 6, "append through GDAL")
    hits = [f.properties["name"] for f in src.filter(bbox=(6.9, 7.9, 7.1, 8.1))]
    check(hits == ["added by GDAL"], f"filter after GDAL append gave {hits}")
db = sqlite3.connect(copy)
n = db.execute(f'SELECT count(*) FROM "rtree_{hf}_geom"').fetchone()[0]
check(n == 6, f"rtree rows after append: {n}")
check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity_check")

check(not warnings, f"GDAL warnings: {warnings}")
print("check-gpkg-with-gdal: OK")
PY
