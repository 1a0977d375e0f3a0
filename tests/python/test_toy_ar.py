#!/usr/bin/python3
"""The AR-training guide's path (docs/tokens-for-ar.md) end to end: tokenize
a clip, train python/examples/toy_ar.py on it for a few steps, sample, and
detokenize the samples into a Matroska stream that ffmpeg decodes. Skipped
(exit 77) without PyTorch (Debian: python3-torch).
usage: test_toy_ar.py EVATOK FFMPEG MODEL WORKDIR"""
import os
import shutil
import subprocess
import sys

try:
    import torch  # noqa: F401
except ImportError:
    print("python3-torch is not installed: skipped")
    sys.exit(77)

cli, ff, model, work = sys.argv[1:5]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
here = os.path.dirname(os.path.abspath(__file__))
clip = os.path.join(work, "clip.y4m")
subprocess.run([ff, "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=96x96:r=25", "-frames:v", "32",
                "-pix_fmt", "yuv420p", clip], check=True)
ds, out, mkv = (os.path.join(work, n) for n in ("tokens", "samples", "samples.mkv"))
subprocess.run([cli, "tokenize", clip, "--out", ds, "--model", model, "--size", "64x64", "--threads", "1", "--quiet"],
               check=True)
subprocess.run([sys.executable, os.path.join(here, "..", "..", "python", "examples", "toy_ar.py"), ds, out,
                "--steps", "20", "--samples", "2"], check=True)
subprocess.run([cli, "detokenize", out, "--model", model, "--mkv", mkv, "--threads", "1"], check=True)
raw = subprocess.run([ff, "-nostdin", "-v", "error", "-model", model, "-i", mkv, "-f", "rawvideo", "-pix_fmt", "rgb24",
                      "-"], check=True, capture_output=True).stdout
frames = len(raw) // (64 * 64 * 3)
print("ffmpeg decoded %d frames of the sampled tokens" % frames)
sys.exit(0 if frames == 32 and len(raw) == 32 * 64 * 64 * 3 else 1)
