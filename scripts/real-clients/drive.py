"""Drives iaso-client and openhexa-toolbox against a running server seeded by `serve --demo`.

Usage: drive.py BASE USER PASSWORD RECORDINGS_DIR. Prints one line per check and
'N passed, N failed' at the end; exits non-zero on any failure.
"""

import csv
import io
import json
import sys
import uuid

import polars as pl
import requests
from iaso_client import IasoClient
from iaso_client.exceptions import IasoAuthError, IasoValidationError
from openhexa.toolbox.iaso import IASO, dataframe

BASE, USER, PASSWORD, RECORDINGS = sys.argv[1:5]
passed, failed = 0, 0


def check(name, fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print(f"ok    {name}")
    except Exception as e:  # noqa: BLE001 - report every failure and go on
        failed += 1
        print(f"FAIL  {name}: {type(e).__name__}: {e}")


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


c = IasoClient(base_url=BASE)
c.login(USER, PASSWORD)
hexa = IASO(BASE, USER, PASSWORD)
state = {}


def login_errors():
    try:
        IasoClient(base_url=BASE).login(USER, "wrong")
        raise AssertionError("a wrong password was accepted")
    except IasoAuthError:
        pass
    expect(hexa.api_client.token_expiry is not None, "toolbox token has no expiry")


def forms():
    items = c.forms_list(limit=1)
    expect(len(items) >= 1, "no form")
    form = next(f for f in items if f["name"] == "Site visit")
    state["form"] = form["id"]
    detail = c.forms_retrieve(form_id=form["id"])
    for key in ["id", "name", "form_id", "org_unit_type_ids", "project_ids", "latest_form_version",
                "instances_count", "created_at", "possible_fields"]:
        expect(key in detail, f"form detail lacks {key}")
    expect(detail["form_id"] == "site_visit", detail["form_id"])
    toolbox = hexa.get_forms()
    expect(any(f["id"] == form["id"] for f in toolbox), "toolbox get_forms misses the form")


def form_versions():
    versions = c.form_versions_list(form_id=state["form"], fields=["descriptor"])
    expect(len(versions) == 1, f"{len(versions)} versions")
    expect(list(versions[0].keys()) == ["descriptor"], list(versions[0].keys()))
    # The toolbox's recording of the real Iaso has exactly this shape.
    recorded = json.load(open(f"{RECORDINGS}/form_versions.json"))
    expect(set(recorded["form_versions"][0]) == set(versions[0]), "shape differs from the recording")
    desc = versions[0]["descriptor"]
    expect(desc["version"].isdigit() and desc["type"] == "survey", desc.get("version"))
    full = c.form_versions_list_page(page=1, limit=5, form_id=state["form"])
    v = full["form_versions"][0]
    for key in ["id", "version_id", "form_id", "form_name", "full_name", "file", "md5", "created_at",
                "updated_at", "start_period", "end_period", "mapped", "xls_file"]:
        expect(key in v, f"form version lacks {key}")
    expect(c.form_versions_retrieve(form_version_id=v["id"])["id"] == v["id"], "retrieve")
    meta = dataframe.get_form_metadata(hexa, form_id=state["form"])
    expect(len(meta) == 1 and all(isinstance(k, int) for k in meta), f"metadata keys {list(meta)}")
    try:
        c.form_versions_list_page(page=1, limit=5, fields=["nope"])
        raise AssertionError("unknown field accepted")
    except IasoValidationError as e:
        expect("fields" in (e.payload or {}), f"payload {e.payload}")


def instances():
    total = c.instances_list_page(page=1, limit=1, form_ids=[state["form"]])["count"]
    expect(total >= 20, f"the demo seeds at least 20 submissions, count says {total}")
    state["total"] = total
    items = c.instances_list(limit=7, form_id=state["form"])
    expect(len(items) == total, f"{len(items)} submissions through the has_next loop, count {total}")
    expect(all(i["org_unit"] for i in items), "every demo submission is at an org unit")
    state["instances"] = [i["id"] for i in items]
    keys = {"uuid", "export_id", "file_name", "file_content", "file_url", "id", "form_id", "form_name",
            "created_at", "updated_at", "source_created_at", "source_updated_at", "org_unit", "latitude",
            "longitude", "altitude", "period", "project_name", "project_color", "project_id", "status",
            "correlation_id", "created_by", "last_modified_by", "can_user_modify", "is_locked",
            "is_instance_of_reference_form", "is_reference_instance"}
    expect(keys <= set(items[0]), f"missing {keys - set(items[0])}")
    page = c.instances_list_page(page=1, limit=10, form_ids=[state["form"]],
                                 json_content={"==": [{"var": "open"}, "no"]})
    closed = sum(1 for i in items if i["file_content"].get("open") == "no")
    expect(closed > 0 and page["count"] == closed, f"JsonLogic count {page['count']}, expected {closed}")
    for k in ["count", "instances", "has_next", "has_previous", "page", "pages", "limit"]:
        expect(k in page, f"page lacks {k}")
    d = c.instances_retrieve(instance_id=items[0]["id"])
    for k in ["file_content", "files", "instance_locks", "form_descriptor", "deleted"]:
        expect(k in d, f"detail lacks {k}")
    toolbox = hexa.get_form_instances(form_ids=state["form"], limit=10)
    expect(len(toolbox) == min(10, total), f"toolbox sees {len(toolbox)}")


def attachments():
    files = c.instance_files_list(limit=1, form_id=state["form"])
    counts = c.instance_files_count(form_id=state["form"])
    expect(counts["total"] == len(files) == 1, f"{counts} vs {len(files)}")
    expect(counts["images"] == 1, counts)
    f = files[0]
    for k in ["id", "instance_id", "file", "created_at", "file_type", "name", "submitted_at",
              "org_unit", "form_name"]:
        expect(k in f, f"attachment lacks {k}")
    r = requests.get(f["file"], timeout=30)  # a signed link: no session needed
    expect(r.status_code == 200 and r.content.startswith(b"\x89PNG"), f"download {r.status_code}")


def csv_export():
    recorded = open(f"{RECORDINGS}/form_instances.csv", encoding="utf-8").readline().strip().split(",")
    r = hexa.api_client.get("/api/instances/", params={"form_id": state["form"], "csv": "True"})
    expect(r.status_code == 200, r.status_code)
    header = next(csv.reader(io.StringIO(r.content.decode("utf-8"))))
    fixed = recorded[: recorded.index("parent4") + 1]
    missing = [col for col in fixed if col not in header]
    expect(not missing, f"columns of the recorded export missing: {missing}")
    df = dataframe.extract_submissions(hexa, form_id=state["form"])
    expect(df.height == state["total"], f"{df.height} rows")
    expect("site_name" in df.columns, df.columns)
    as_df = hexa.get_form_instances(as_dataframe=True, form_ids=state["form"])
    expect(isinstance(as_df, pl.DataFrame) and as_df.height == state["total"], type(as_df))


def uploads():
    projects = hexa.get_projects()
    app_id = projects[0]["app_id"]
    sub = str(uuid.uuid4())
    name = f"{sub}.xml"
    version = c.form_versions_list(form_id=state["form"])[0]["version_id"]
    r = c.transport.request("POST", "instances/", params={"app_id": app_id}, json=[{
        "id": sub, "file": f"/sdcard/odk/{name}", "name": "Client upload", "formId": state["form"],
        "created_at": 1712326182.45, "updated_at": 1712326182.45, "latitude": -4.3, "longitude": 15.3,
        "accuracy": 4.2}])
    expect(r == {"res": "ok"}, r)
    xml = (f'<?xml version="1.0"?><data id="site_visit" version="{version}"><site_name>From a client'
           f"</site_name><visitors>3</visitors><open>yes</open><meta><instanceID>uuid:{sub}</instanceID>"
           "</meta></data>")
    resp = hexa.api_client.post("/sync/form_upload/",
                                files={"xml_submission_file": (name, xml.encode(), "text/xml")})
    expect(resp.status_code == 201 and resp.json() == {"result": "success"}, resp.text)
    items = c.instances_list(limit=10, form_id=state["form"])
    expect(len(items) == state["total"] + 1, f"{len(items)} after upload")
    expect(sum(1 for i in items if i["file_content"].get("site_name") == "From a client") == 1, "the upload once")
    df = dataframe.extract_submissions(hexa, form_id=state["form"])
    expect(df.height == state["total"] + 1, f"{df.height} rows after upload")


check("login (both clients)", login_errors)
check("forms", forms)
check("form versions", form_versions)
check("instances", instances)
check("attachments", attachments)
check("instances CSV export", csv_export)
check("uploads (mobile pair)", uploads)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
