#!/usr/bin/env python3
"""Compare our form descriptors with the reference converter's, form by form.

Needs pyxform (e.g. `python3 -m venv /tmp/pyx && /tmp/pyx/bin/pip install pyxform==4.5.0`)
and run with that interpreter:

    /tmp/pyx/bin/python tools/compare_descriptors.py target/release/xlsform-convert \
        ../shared/conformance/xlsform/corpus [more.xlsx ...]

For every valid corpus case (and each extra file) it builds the reference
descriptor with `create_survey_from_xls(path, default_name=form_name).to_json_dict()`
(what Iaso stores as `FormVersion.form_descriptor`), runs
`xlsform-convert FILE --form-name NAME --descriptor`, and compares the two JSON
values (key order ignored). Prints a count and the most common differences.
"""
import collections, json, os, re, subprocess, sys

from pyxform.builder import create_survey_from_xls


def diff(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in set(a) | set(b):
            if k not in a:
                out.append(f"{path}.{k} missing")
            elif k not in b:
                out.append(f"{path}.{k} extra")
            else:
                diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path} length")
        for x, y in zip(a, b):
            diff(x, y, f"{path}[]", out)
    elif a != b:
        out.append(f"{path} value")


def main():
    binary, corpus, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    jobs = []
    for line in open(os.path.join(corpus, "cases.jsonl")):
        c = json.loads(line)
        if c["expect"]["xml"] is not None:
            jobs.append((os.path.join(corpus, c["file"]), c["form_name"]))
    jobs += [(f, "data") for f in extra]
    same = differ = skipped = 0
    kinds = collections.Counter()
    for path, form_name in jobs:
        try:
            ref = create_survey_from_xls(path, default_name=form_name).to_json_dict()
            # As stored (JSON): tuples become lists.
            ref = json.loads(json.dumps(ref, default=str))
        except Exception:
            skipped += 1
            continue
        p = subprocess.run([binary, path, "--form-name", form_name, "--descriptor"], capture_output=True)
        if p.returncode != 0:
            differ += 1
            kinds["conversion failed"] += 1
            continue
        out = []
        diff(json.loads(p.stdout), ref, "", out)
        if out:
            differ += 1
            for d in out:
                kinds[re.sub(r"\.children\[\]", ".c", d)] += 1
        else:
            same += 1
    print(f"{same} same, {differ} differ, {skipped} skipped (reference error)")
    for k, n in kinds.most_common(20):
        print(f"  {n:5d} {k}")


if __name__ == "__main__":
    main()
