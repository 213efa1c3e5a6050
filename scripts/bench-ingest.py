#!/usr/bin/env python3
"""Ingest benchmark: C concurrent clients posting small submissions for S seconds, through the
Iaso mobile flow (metadata + XML) or OpenRosa. Prints submissions/s, p50/p95 latency, errors,
and verifies that the form's submission count grew by exactly the successes (none lost or
doubled). Usage: bench-ingest.py BASE USER PASS APP_ID FORM_ID VERSION --mode mobile|openrosa -c 8 -d 20"""
import argparse, json, statistics, threading, time, uuid, urllib.request

def req(method, url, body=None, headers=None):
    r = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(r, timeout=60) as resp:
        return resp.status, resp.read()

def multipart(name, filename, data):
    b = "----bench" + uuid.uuid4().hex
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: text/xml\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
    return f"multipart/form-data; boundary={b}", body

XML = ('<?xml version="1.0"?><data id="{xid}" version="{v}"><site_name>Bench</site_name><visitors>3</visitors>'
       '<open>yes</open><level>primary</level><gps>-4.3 15.3 300 5</gps><rooms><room_name>A</room_name><beds>1</beds></rooms>'
       '<photo/><meta><instanceID>uuid:{iid}</instanceID></meta></data>')

def main():
    ap = argparse.ArgumentParser()
    for a in ("base", "user", "password", "app_id", "form", "version"):
        ap.add_argument(a)
    ap.add_argument("--xform-id", default="site_visit")
    ap.add_argument("--mode", default="mobile")
    ap.add_argument("-c", type=int, default=8)
    ap.add_argument("-d", type=float, default=20)
    a = ap.parse_args()
    _, tok = req("POST", f"{a.base}/api/token/", json.dumps({"username": a.user, "password": a.password}).encode(),
                 {"Content-Type": "application/json"})
    auth = {"Authorization": "Bearer " + json.loads(tok)["access"]}
    def count():
        _, b = req("GET", f"{a.base}/api/instances/?form_ids={a.form}&limit=1", headers=auth)
        return json.loads(b)["count"]
    before = count()
    lat, errors, lock = [], [0], threading.Lock()
    deadline = time.time() + a.d
    def worker():
        while time.time() < deadline:
            iid = str(uuid.uuid4())
            xml = XML.format(xid=a.xform_id, v=a.version, iid=iid).encode()
            t0 = time.perf_counter()
            try:
                if a.mode == "mobile":
                    meta = [{"id": iid, "file": f"/sdcard/{iid}.xml", "name": "Bench", "formId": a.form, "orgUnitId": None,
                             "created_at": time.time(), "updated_at": time.time(), "latitude": -4.3, "longitude": 15.3,
                             "altitude": 300, "accuracy": 5.0, "period": None}]
                    s1, _ = req("POST", f"{a.base}/api/instances/?app_id={a.app_id}", json.dumps(meta).encode(),
                                dict(auth, **{"Content-Type": "application/json"}))
                    ct, body = multipart("xml_submission_file", f"{iid}.xml", xml)
                    s2, _ = req("POST", f"{a.base}/sync/form_upload/", body, dict(auth, **{"Content-Type": ct}))
                    ok = s1 == 200 and s2 == 201
                else:
                    ct, body = multipart("xml_submission_file", "submission.xml", xml)
                    s2, _ = req("POST", f"{a.base}/openrosa/{a.app_id}/submission", body,
                                dict(auth, **{"Content-Type": ct, "X-OpenRosa-Version": "1.0"}))
                    ok = s2 == 201
            except Exception:
                ok = False
            dt = time.perf_counter() - t0
            with lock:
                if ok:
                    lat.append(dt)
                else:
                    errors[0] += 1
    ts = [threading.Thread(target=worker) for _ in range(a.c)]
    t0 = time.time()
    for t in ts: t.start()
    for t in ts: t.join()
    el = time.time() - t0
    after = count()
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")
    print(json.dumps({"mode": a.mode, "concurrency": a.c, "seconds": round(el, 1), "ok": len(lat), "errors": errors[0],
                      "per_s": round(len(lat) / el, 1), "p50_ms": round(p(0.5), 1), "p95_ms": round(p(0.95), 1),
                      "count_delta": after - before, "lost_or_doubled": (after - before) - len(lat)}))

if __name__ == "__main__":
    main()
