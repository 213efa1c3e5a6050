#!/usr/bin/env python3
"""Ratios of our load.py results (run_all.sh's OUT.md.jsonl) against the real Iaso's markdown table
(../shared/perf/results/iaso-100k.md), for when no Iaso .jsonl is at hand.

    scripts/compare-iaso-md.py IASO.md OURS.jsonl [--names iaso,ours]

Iaso rows are read from the "## Scenarios" table (`| scenario | concurrency | req/s | p50 | p95 | ...`);
"mobile_pyramid (cold)" counts as mobile_pyramid. Prints a markdown table: req/s of each and
ours/Iaso, p50 and p95 of each and Iaso/ours (> 1 = we are faster). stdlib only.
"""
import argparse
import json
import re


def iaso_rows(path):
    rows = {}
    for line in open(path, encoding="utf-8"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 7 or not re.fullmatch(r"\d+", cells[1] or ""):
            continue
        name = cells[0].split(" ")[0]
        if cells[0].startswith("mobile_pyramid") and "cold + warm" in cells[0]:
            continue
        try:
            rows[(name, int(cells[1]))] = {
                "rps": float(cells[2]),
                "p50_ms": float(cells[3]),
                "p95_ms": float(cells[4]),
                "errors": int(cells[6]),
            }
        except ValueError:
            continue
    return rows


def our_rows(path):
    rows = {}
    for line in open(path, encoding="utf-8"):
        if line.strip():
            d = json.loads(line)
            rows[(d["scenario"], d["concurrency"])] = d
    return rows


def ratio(x, y):
    return f"{x / y:.0f}×" if x and y and x / y >= 10 else (f"{x / y:.1f}×" if x and y else "-")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("iaso_md")
    ap.add_argument("ours_jsonl")
    ap.add_argument("--names", default="Iaso,ours")
    a = ap.parse_args()
    na, nb = a.names.split(",")
    ra, rb = iaso_rows(a.iaso_md), our_rows(a.ours_jsonl)
    print(
        f"| scenario | c | {na} req/s | {nb} req/s | {nb}/{na} req/s | {na} p50 ms | {nb} p50 ms | "
        f"{na}/{nb} p50 | {na} p95 ms | {nb} p95 ms | errors {na}/{nb} |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(set(ra) & set(rb)):
        x, y = ra[key], rb[key]
        print(
            f"| {key[0]} | {key[1]} | {x['rps']} | {y['rps']} | {ratio(y['rps'], x['rps'])} | {x['p50_ms']} | "
            f"{y['p50_ms']} | {ratio(x['p50_ms'], y['p50_ms'])} | {x['p95_ms']} | {y['p95_ms']} | "
            f"{x['errors']}/{y['errors']} |"
        )
    only = sorted(set(ra) ^ set(rb))
    if only:
        print(f"\nonly in one: {only}")


if __name__ == "__main__":
    main()
