#!/usr/bin/python3
"""Determinism (issue 26): encoding and decoding give identical packets and
frames across runs and across thread counts (1 and 2 threads, each in its own
process, since the thread setting is process-wide).
usage: test_determinism.py FFMPEG MODEL WORKDIR"""
import hashlib
import os
import subprocess
import sys

ff, model, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
W, H, T = 160, 96, 32
raw = os.path.join(work, "src.rgb")
subprocess.run([ff, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=%dx%d:r=25" % (W, H),
                "-frames:v", str(T), "-pix_fmt", "rgb24", "-f", "rawvideo", raw], check=True)

CHILD = r"""
import hashlib, sys
import numpy as np
import evatok
model, raw, W, H, T, threads = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
frames = np.fromfile(raw, np.uint8).reshape(T, H, W, 3)
with evatok.Tokenizer(model, threads=threads) as tok:
    for assign, k in (("router", 0), ("uniform", 32), ("search", 0)):
        packets = tok.encode_packets(frames, assign=assign, tokens=k)
        out = tok.decode(packets)
        print(assign, hashlib.sha256(b"".join(packets)).hexdigest()[:16], hashlib.sha256(out.tobytes()).hexdigest()[:16])
"""


def run(threads):
    p = subprocess.run([sys.executable, "-c", CHILD, model, raw, str(W), str(H), str(T), str(threads)],
                       capture_output=True, text=True, check=True)
    return p.stdout.split("\n")


a, b, c = run(1), run(2), run(2)
failures = 0
for name, x, y in (("two runs with 2 threads", b, c), ("1 thread against 2 threads", a, b)):
    ok = x == y
    failures += not ok
    print(("ok: " if ok else "FAIL: ") + name + " give identical packets and frames")
    if not ok:
        print("  " + "\n  ".join(x) + "\n  against\n  " + "\n  ".join(y))
sys.exit(1 if failures else 0)
