#!/usr/bin/env python3
"""tokens_grow_with_wq.py EVAL_CSV: for each clip, the router's tokens never
fall as wq rises (a quality router picks argmax wq*z(Q) - wl*z(L), whose
length is non-decreasing in wq). Exit 1, naming the clip, if they do."""
import csv
import sys

rows = {}
with open(sys.argv[1]) as f:
    for r in csv.DictReader(f):
        if r["method"] == "router":
            rows.setdefault(r["clip"], []).append((float(r["setting"]), int(r["tokens"])))
if not rows:
    sys.exit("no router rows in " + sys.argv[1])
for clip, pts in rows.items():
    tokens = [t for _, t in sorted(pts)]
    if any(b < a for a, b in zip(tokens, tokens[1:])):
        sys.exit(f"{clip}: tokens fall as wq rises: {sorted(pts)}")
    print(clip, tokens)
