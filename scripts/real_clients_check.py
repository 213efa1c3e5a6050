#!/usr/bin/env python3
"""Drives the real Iaso clients (iaso-client 1.2.0, openhexa-toolbox) against a running server
for the georegistry calls: org unit types, org units, data sources, groups, projects.

Every answer is checked against the response types iaso-client ships (its TypedDicts: each key
present with a compatible type) and against the keys the toolbox reads. Prints one line per
check; exits non-zero on the first failure with the offending request and value.

    python3 real_clients_check.py BASE_URL USER PASSWORD
"""
import sys
import typing

from iaso_client import IasoClient
from iaso_client.exceptions import IasoAuthError, IasoNotFoundError, IasoValidationError
from iaso_client.types import org_unit as ou_types
from iaso_client.types import org_unit_types as out_types
from openhexa.toolbox.iaso import IASO
from openhexa.toolbox.iaso.api_client import IASOError

BASE, USER, PASSWORD = sys.argv[1], sys.argv[2], sys.argv[3]
CHECKS = 0


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def ok(msg):
    global CHECKS
    CHECKS += 1
    print(f"ok   {msg}")


STRICT = {"OrgUnitListItem", "OrgUnitListResponse", "OrgUnitTypeItem", "IasoPaginationMeta"}


def optional_keys(tp):
    """Keys a TypedDict marks optional (NotRequired, or declared in a total=False class); the
    clients use `from __future__ import annotations`, so `__required_keys__` cannot tell."""
    out = set()
    own = tp.__dict__.get("__annotations__", {})
    for key, ann in own.items():
        text = ann if isinstance(ann, str) else repr(ann)
        if "NotRequired[" in text or not tp.__total__:
            out.add(key)
    for base in getattr(tp, "__orig_bases__", ()):
        if typing.is_typeddict(base):
            out |= optional_keys(base) - set(own)
    return out


def conforms(value, tp, path, module):
    """Checks `value` against a typing annotation (TypedDict, list, unions, primitives)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is typing.Any:
        return
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        errors = []
        for a in args:
            try:
                conforms(value, a, path, module)
                return
            except AssertionError as e:
                errors.append(str(e))
        raise AssertionError(f"{path}: {value!r} matches none of {args}: {errors}")
    if tp is type(None):
        assert value is None, f"{path}: expected null, got {value!r}"
        return
    if origin in (typing.NotRequired, typing.Required):
        return conforms(value, args[0], path, module)
    if origin is list:
        assert isinstance(value, list), f"{path}: expected a list, got {value!r}"
        for i, v in enumerate(value[:20]):
            conforms(v, args[0] if args else typing.Any, f"{path}[{i}]", module)
        return
    if origin is dict or tp is dict:
        assert isinstance(value, dict), f"{path}: expected an object, got {value!r}"
        return
    if typing.is_typeddict(tp):
        assert isinstance(value, dict), f"{path}: expected an object ({tp.__name__}), got {value!r}"
        hints = typing.get_type_hints(tp, globalns=vars(module), include_extras=True)
        # Iaso's serializers for these fill every key, optional or not.
        strict = tp.__name__ in STRICT
        optional = optional_keys(tp)
        for key, ann in hints.items():
            if key not in optional or strict:
                assert key in value, f"{path}: missing key {key!r} ({tp.__name__}) in {sorted(value)}"
            if key in value:
                conforms(value[key], ann, f"{path}.{key}", module)
        return
    if tp is float:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{path}: expected a number, got {value!r}"
        return
    if tp is int:
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: expected an integer, got {value!r}"
        return
    if tp is str:
        assert isinstance(value, str), f"{path}: expected a string, got {value!r}"
        return
    if tp is bool:
        assert isinstance(value, bool), f"{path}: expected a boolean, got {value!r}"
        return
    raise AssertionError(f"{path}: unsupported annotation {tp!r}")


def check_shape(what, value, tp, module):
    try:
        conforms(value, tp, what, module)
    except AssertionError as e:
        fail(f"{what} does not have iaso-client's {tp.__name__} shape: {e}")
    ok(f"{what} has iaso-client's {tp.__name__} shape")


# ------------------------------------------------------------------------------ iaso-client
c = IasoClient(base_url=BASE)
c.login(USER, PASSWORD)
ok("iaso-client login")
try:
    IasoClient(base_url=BASE).login(USER, "wrong-password")
    fail("login with a wrong password succeeded")
except IasoAuthError:
    ok("iaso-client wrong password -> IasoAuthError")

types = c.org_unit_types_list(limit=1)
if len(types) < 4:
    fail(f"org_unit_types_list(limit=1) returned {len(types)} types")
ok(f"org_unit_types_list(limit=1) paged through {len(types)} types")
page = c.org_unit_types_list_page(page=1, limit=2)
for k in ("count", "has_next", "has_previous", "page", "pages", "limit", "orgUnitTypes"):
    if k not in page:
        fail(f"org_unit_types_list_page: no {k!r} in {sorted(page)}")
for t in page["orgUnitTypes"]:
    check_shape("org unit type item", t, out_types.OrgUnitTypeItem, out_types)
top = min(types, key=lambda t: t["depth"] if t["depth"] is not None else 99)
detail = c.org_unit_types_retrieve(org_unit_type_id=top["id"])
check_shape("org unit type detail", detail, out_types.OrgUnitTypeItem, out_types)
hierarchy = c.org_unit_types_hierarchy(org_unit_type_id=top["id"])
check_shape("org unit type hierarchy", hierarchy, out_types.OrgUnitTypeHierarchyItem, out_types)
depth, node = 0, hierarchy
while node["sub_unit_types"]:
    node, depth = node["sub_unit_types"][0], depth + 1
if depth < 3:
    fail(f"hierarchy of {top['name']} is only {depth} levels deep")
ok(f"hierarchy of {top['name']} nests {depth} levels")
hf = max(types, key=lambda t: t["depth"] or 0)

units = c.org_units_list(limit=2, org_unit_type_id=[top["id"]], validation_status="VALID", with_shape=True)
if not units:
    fail("org_units_list(type=country, with_shape=True) returned nothing")
for u in units:
    if u["org_unit_type_id"] != top["id"] or not u["has_geo_json"] or u["validation_status"] != "VALID":
        fail(f"org_units_list filters not applied: {u}")
ok(f"org_units_list(org_unit_type_id, validation_status, with_shape) -> {len(units)} unit(s)")
lp = c.org_units_list_page(page=1, limit=5, org_unit_type_id=[hf["id"]])
check_shape("org units page", lp, ou_types.OrgUnitListResponse, ou_types)
facility = lp["orgunits"][0]
word = facility["name"].split()[-1][:4]
found = c.org_units_list_page(page=1, limit=5, search=word)
if not found["orgunits"] or not all(word.lower() in x["name"].lower() for x in found["orgunits"]):
    fail(f"search={word!r} returned {[x['name'] for x in found['orgunits']]}")
ok(f"org_units_list_page(search={word!r}) -> {found['count']} matches")
last = c.org_units_list_page(page=10**6, limit=5)
if last["page"] != last["pages"] or last["has_next"]:
    fail(f"out-of-range page is not clamped: page={last['page']} pages={last['pages']}")
ok("an out-of-range org units page is clamped to the last one")
d = c.org_units_retrieve(org_unit_id=facility["id"])
check_shape("org unit detail", d, ou_types.OrgUnitDetail, ou_types)
if d["parent"] is None or d["parent"]["parent"] is None:
    fail("org unit detail has no ancestors")
ok("org unit detail nests its ancestors")
shaped = c.org_units_retrieve(org_unit_id=units[0]["id"])
if not shaped["geo_json"] or shaped["geo_json"]["features"][0]["geometry"]["type"] != "MultiPolygon":
    fail(f"detail of a shaped unit has no geo_json: {shaped.get('geo_json')}")
ok("org unit detail carries geo_json")
try:
    c.org_units_retrieve(org_unit_id=999_999_999)
    fail("unknown org unit did not raise")
except IasoNotFoundError:
    ok("unknown org unit -> IasoNotFoundError")
try:
    c.org_units_list_page(page=1, limit=5, fields=["nope"])
    fail("unknown fields did not raise")
except IasoValidationError as e:
    if "fields" not in (e.payload or {}):
        fail(f"400 without a fields key: {e.payload}")
    ok("unknown fields= -> IasoValidationError with a fields key")

# ------------------------------------------------------------------------------ openhexa-toolbox
iaso = IASO(BASE, USER, PASSWORD)
if iaso.api_client.token_expiry is None:
    fail("toolbox could not read the token expiry")
ok("toolbox login (JWT exp decoded)")
iaso.api_client.refresh_session()
ok("toolbox refresh_session")
try:
    IASO(BASE, USER, "wrong-password")
    fail("toolbox login with a wrong password succeeded")
except IASOError:
    ok("toolbox wrong password -> IASOError")
projects = iaso.get_projects()
if not projects or not all(k in projects[0] for k in ("id", "name", "app_id")):
    fail(f"get_projects: {projects}")
ok(f"get_projects -> {[p['app_id'] for p in projects]}")
parent = d["parent"]["id"]
children = iaso.get_org_units(orgUnitParentId=parent, limit=50)
if not children or not all(x["validation_status"] == "VALID" for x in children):
    fail(f"get_org_units(orgUnitParentId) -> {children}")
ok(f"get_org_units(orgUnitParentId={parent}) -> {len(children)} units")
tree = iaso.get_org_units(optimized=True, search=word)
if not tree or not all(k in tree[0] for k in ("id", "name", "validation_status", "has_children", "org_unit_type_id", "org_unit_type_short_name")):
    fail(f"get_org_units(optimized=True, search) -> {tree}")
ok(f"get_org_units(optimized=True, search={word!r}) -> {len(tree)} nodes with has_children")
ds = iaso.api_client.get("/api/datasources/").json()
src = ds["sources"][0]
for k in ("id", "name", "read_only", "default_version", "versions", "projects", "tree_config_status_fields"):
    if k not in src:
        fail(f"data source without {k!r}: {sorted(src)}")
if not src["default_version"] or src["default_version"]["org_units_count"] <= 0:
    fail(f"data source default version without units: {src['default_version']}")
ok(f"GET /api/datasources/ -> {src['name']} v{src['default_version']['number']} ({src['default_version']['org_units_count']} units)")
versions = c.transport.request("GET", "sourceversions/")["versions"]
if not any(v["is_default"] for v in versions):
    fail(f"no default source version in {versions}")
ok(f"GET /api/sourceversions/ -> {len(versions)} versions")
groups = c.transport.request("GET", "groups/", params={"defaultVersion": "true"})["groups"]
if not groups or not all(k in groups[0] for k in ("id", "name", "source_ref", "source_version", "org_unit_count")):
    fail(f"groups: {groups[:1]}")
ok(f"GET /api/groups/ -> {[g['name'] for g in groups]}")
g = groups[0]
in_group = c.org_units_list_page(page=1, limit=5, group=str(g["id"]), validation_status="all")
if in_group["count"] != g["org_unit_count"]:
    fail(f"group {g['name']}: {in_group['count']} units listed, org_unit_count says {g['org_unit_count']}")
ok(f"org_units_list_page(group={g['id']}) count equals the group's org_unit_count ({g['org_unit_count']})")
sets = c.transport.request("GET", "group_sets/")
if "group_sets" not in sets:
    fail(f"group sets: {sets}")
ok("GET /api/group_sets/")

# The Parquet pyramid export, read by an independent reader (polars), against the column list
# of Iaso's own snapshot (reference/iaso-data/.../test_can_retrieve_org_units_list_in_parquet_format.csv).
import io
import os

import polars as pl

snapshot = os.path.join(os.environ.get("SHARED_DIR", os.path.join(os.path.dirname(__file__), "../../shared")),
                        "reference/iaso-data/iaso/tests/fixtures/snapshots/test_can_retrieve_org_units_list_in_parquet_format.csv")
resp = iaso.api_client.get("/api/orgunits/", params={"parquet": "true", "defaultVersion": "true", "validation_status": "all"})
if resp.status_code != 200 or not resp.headers.get("content-disposition", "").endswith(".parquet"):
    fail(f"parquet export: {resp.status_code} {resp.headers}")
frame = pl.read_parquet(io.BytesIO(resp.content))
listed = iaso.api_client.get("/api/orgunits/", params={"limit": 1, "defaultVersion": "true", "validation_status": "all"}).json()["count"]
if frame.height != listed:
    fail(f"parquet export has {frame.height} rows, the list counts {listed}")
if not os.path.exists(snapshot):
    fail(f"Iaso's Parquet snapshot is missing: {snapshot} (set SHARED_DIR)")
iaso_columns = open(snapshot, encoding="utf-8").readline().strip().split(",")
unit_columns = [col for col in iaso_columns if not col.startswith("level_")]
if [col for col in frame.columns if not col.startswith("level_")] != unit_columns:
    fail(f"parquet columns {frame.columns} differ from Iaso's {iaso_columns}")
deepest = frame["org_unit_level"].max()
if f"level_{deepest}_name" not in frame.columns or frame.filter(pl.col("org_unit_level") == deepest)[f"level_{deepest}_id"].to_list() != frame.filter(pl.col("org_unit_level") == deepest)["org_unit_id"].to_list():
    fail("parquet level columns do not end with the unit itself")
ok(f"GET /api/orgunits/?parquet=true -> {frame.height} rows, {len(frame.columns)} columns (polars)")
print(f"all {CHECKS} checks passed")
