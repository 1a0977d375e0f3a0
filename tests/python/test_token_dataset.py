#!/usr/bin/python3
"""Token datasets end to end: `evatok tokenize` gives the tokens of ffmpeg's
own evatok packets, `evatok detokenize` gives ffmpeg's decode of them bit for
bit (raw RGB, and a Matroska stream of the identical packets), a killed run
resumes to the same files, --shard I/N workers merge to the unsplit result,
the numpy reader and writer read and write the format, and bad input gives a
clear error.
usage: test_token_dataset.py EVATOK FFMPEG MODEL OTHER_MODEL WORKDIR"""
import filecmp
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ffmpeg"))
import evatok  # noqa: E402  (PYTHONPATH: python/)
import evatok_mkv  # noqa: E402
from evatok.dataset import DatasetError, TokenDataset, TokenDatasetWriter  # noqa: E402

cli, ff, model, other, work = sys.argv[1:6]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = 0


def check(name, ok):
    global failures
    print(("ok: " if ok else "FAIL: ") + name)
    failures += 0 if ok else 1


def ffmpeg(*args):
    subprocess.run([ff, "-nostdin", "-v", "error", "-y", *args], check=True)


def evatok_cli(*args, ok=True):
    threads = ["--threads", "1"] if args[0] != "merge-tokens" else []
    p = subprocess.run([cli, *args, *threads], capture_output=True, text=True)
    if ok and p.returncode != 0:
        print(p.stdout, p.stderr)
        raise SystemExit("evatok %s failed" % args[0])
    return p


def same_tree(a, b):
    names = sorted(os.listdir(a))
    return names == sorted(os.listdir(b)) and all(filecmp.cmp(os.path.join(a, n), os.path.join(b, n), shallow=False)
                                                  for n in names)


# ---- inputs: two clips and a file that is not a video -------------------------
vids = os.path.join(work, "videos")
os.makedirs(os.path.join(vids, "sub"))
a = os.path.join(vids, "a.y4m")
ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x96:r=25", "-frames:v", "40", "-pix_fmt", "yuv420p", a)
ffmpeg("-f", "lavfi", "-i", "mandelbrot=s=128x128:r=25", "-frames:v", "20", "-pix_fmt", "yuv420p",
       os.path.join(vids, "sub", "b.y4m"))
with open(os.path.join(vids, "broken.mkv"), "wb") as f:
    f.write(b"\x1a\x45\xdf\xa3 not really matroska")

ds = os.path.join(work, "ds")
p = evatok_cli("tokenize", vids, "--out", ds, "--model", model, "--files-per-shard", "2")
check("tokenize reports the unreadable file as skipped",
      "1 files skipped" in p.stdout and "skipping %s" % os.path.join(vids, "broken.mkv") in p.stderr)
recs = np.load(os.path.join(ds, "shard-00000.records.npy"), mmap_mode="r")
ids = np.load(os.path.join(ds, "shard-00000.ids.npy"), mmap_mode="r")
check("numpy.load opens the shard arrays", ids.dtype == np.uint16 and recs["count"].sum() == ids.size)
check("a 160x96 frame is 3x2 tiles of 64x64: 6 records per clip, 3 clips",
      int((recs["source"] == 0).sum()) == 18 and set(recs["tiles_x"][:6]) == {3})

# ---- the same tokens as ffmpeg's encoder ---------------------------------------
ref = os.path.join(work, "ref.mkv")
ffmpeg("-i", a, "-c:v", "evatok", "-model", model, "-threads", "1", ref)
ref_packets = [q["data"] for q in evatok_mkv.parse(ref)["packets"]]
with evatok.Tokenizer(model, threads=1) as tok:
    toks = [tok.tokens(q) for q in ref_packets]
    r0 = recs[recs["source"] == 0]
    got_tpb = np.concatenate([np.asarray(r["tokens"]) for r in r0])
    got_ids = np.concatenate([ids[r["offset"]:r["offset"] + r["count"]] for r in r0])
    check("tokenize's tokens are those of ffmpeg -c:v evatok",
          np.array_equal(got_tpb, np.concatenate([t.tokens_per_block for t in toks])) and
          np.array_equal(got_ids, np.concatenate([t.ids for t in toks])))

# ---- detokenize: ffmpeg's decode, bit for bit ----------------------------------
ref_rgb = os.path.join(work, "ref.rgb")
ffmpeg("-model", model, "-i", ref, "-pix_fmt", "rgb24", "-f", "rawvideo", ref_rgb)
out_rgb, out_mkv, out_y4m = (os.path.join(work, n) for n in ("out.rgb", "out.mkv", "out.y4m"))
evatok_cli("detokenize", ds, "--model", model, "--format", "rgb24", "--out", out_rgb, "--mkv", out_mkv)
check("detokenize --format rgb24 equals ffmpeg's decode bit for bit", filecmp.cmp(out_rgb, ref_rgb, shallow=False))
check("detokenize --mkv holds ffmpeg's packets byte for byte",
      [q["data"] for q in evatok_mkv.parse(out_mkv)["packets"]] == ref_packets)
mkv_rgb = os.path.join(work, "mkv.rgb")
ffmpeg("-model", model, "-i", out_mkv, "-pix_fmt", "rgb24", "-f", "rawvideo", mkv_rgb)
check("ffmpeg decodes detokenize's Matroska to the same frames", filecmp.cmp(mkv_rgb, ref_rgb, shallow=False))
evatok_cli("detokenize", ds, "--model", model, "--out", out_y4m)
y4m_rgb = os.path.join(work, "y4m.rgb")
ffmpeg("-i", out_y4m, "-pix_fmt", "rgb24", "-f", "rawvideo", y4m_rgb)
diff = np.abs(np.fromfile(y4m_rgb, np.uint8).astype(int) - np.fromfile(ref_rgb, np.uint8).astype(int))
check("the Y4M output is that video in 4:2:0 (mean error %.2f of 255)" % diff.mean(), diff.size and diff.mean() < 4)

# ---- overlapping clips (--stride) and a resized frame (--size) ------------------
st = os.path.join(work, "stride")
evatok_cli("tokenize", a, "--out", st, "--model", model, "--stride", "8", "--size", "64x64")
srec = np.load(os.path.join(st, "shard-00000.records.npy"))
check("--stride 8 over 40 frames: clips at 0, 8, 16, 24, all 64x64 single tiles",
      srec["start"].tolist() == [0, 8, 16, 24] and set(srec["tiles_x"]) == {1} and set(srec["width"]) == {64})
st_rgb = os.path.join(work, "stride.rgb")
evatok_cli("detokenize", st, "--model", model, "--format", "rgb24", "--out", st_rgb)
check("detokenize writes each instant of overlapping clips once (40 frames)",
      os.path.getsize(st_rgb) == 40 * 64 * 64 * 3)

# ---- the numpy reader and writer -----------------------------------------------
d = TokenDataset(ds)
check("the reader sees every record", len(d) == len(recs) + len(np.load(os.path.join(ds, "shard-00001.records.npy"))))
r = d[7]
check("a record's blocks split its ids", [b.size for b in r.blocks()] == list(r.tokens_per_block) and r.source == a)
try:
    import torch  # noqa: F401  (python3-torch, when installed)
    from evatok.dataset import torch_dataset
    td = torch_dataset(d)
    ids0, tpb0 = td[7]
    check("torch_dataset gives a record's ids and counts as int64 tensors",
          len(td) == len(d) and ids0.tolist() == r.ids.tolist() and tpb0.tolist() == r.tokens_per_block.tolist())
except ImportError:
    print("skip: torch_dataset (python3-torch is not installed)")
external = os.path.join(work, "external")
with evatok.Tokenizer(model, threads=1) as tok, TokenDatasetWriter(external, tok) as w:
    for rr in d:
        if rr.source == a:
            w.add(rr.ids, rr.tokens_per_block, source="sampled", start=rr.start, frames=rr.frames, width=rr.width,
                  height=rr.height, tile=rr.tile, tiles=rr.tiles)
    try:
        w.add(np.full(int(r.tokens_per_block.sum()), 1 << 15), r.tokens_per_block)
        check("the writer refuses ids outside the codebook", False)
    except DatasetError as e:
        check("the writer refuses ids outside the codebook (%s)" % e, "ids must be in" in str(e))
ext_rgb = os.path.join(work, "ext.rgb")
evatok_cli("detokenize", external, "--model", model, "--format", "rgb24", "--out", ext_rgb)
check("records written by the Python writer detokenize to the same frames", filecmp.cmp(ext_rgb, ref_rgb, shallow=False))

# ---- --shard I/N and merge-tokens ----------------------------------------------
parts = [os.path.join(work, "part%d" % k) for k in range(2)]
for k, part in enumerate(parts):
    evatok_cli("tokenize", vids, "--out", part, "--model", model, "--files-per-shard", "1", "--shard", "%d/2" % k)
one = os.path.join(work, "one")
evatok_cli("tokenize", vids, "--out", one, "--model", model, "--files-per-shard", "1")
merged = os.path.join(work, "merged")
p = evatok_cli("merge-tokens", "--out", os.path.join(work, "partial"), parts[0], ok=False)
check("merge-tokens refuses a dataset with a worker missing", p.returncode != 0 and "shards missing" in p.stderr)
evatok_cli("merge-tokens", "--out", merged, *parts)
check("two --shard workers merge to the unsplit dataset", same_tree(merged, one))
check("the reader takes the workers' folders as one dataset",
      [x.ids.tolist() for x in TokenDataset(*parts)] == [x.ids.tolist() for x in TokenDataset(one)])

# ---- resume after a killed run -------------------------------------------------
many = os.path.join(work, "many")
os.makedirs(many)
for k in range(6):
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=128x128:r=25", "-vf", "hue=h=%d" % (40 * k), "-frames:v", "64",
           "-pix_fmt", "yuv420p", os.path.join(many, "v%d.y4m" % k))
full, killed = os.path.join(work, "full"), os.path.join(work, "killed")
evatok_cli("tokenize", many, "--out", full, "--model", model, "--files-per-shard", "1")
proc = subprocess.Popen([cli, "tokenize", many, "--out", killed, "--model", model, "--files-per-shard", "1",
                         "--threads", "1", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
t0 = time.time()
while not os.path.exists(os.path.join(killed, "shard-00001.json")) and time.time() - t0 < 120 and proc.poll() is None:
    time.sleep(0.01)
proc.send_signal(signal.SIGKILL)
proc.wait()
n_done = sum(n.endswith(".json") and n.startswith("shard-") for n in os.listdir(killed))
p = evatok_cli("tokenize", many, "--out", killed, "--model", model, "--files-per-shard", "1")
check("the rerun skips the %d shards finished before the kill" % n_done,
      0 < n_done < 6 and "(%d were already complete)" % n_done in p.stdout)
check("the resumed dataset equals an uninterrupted run", same_tree(killed, full))
p = evatok_cli("tokenize", many, "--out", killed, "--model", model, "--files-per-shard", "2", ok=False)
check("a folder made with other settings is refused", p.returncode != 0 and "other inputs, settings" in p.stderr)

# ---- bad input -----------------------------------------------------------------
p = evatok_cli("detokenize", ds, "--model", other, "--out", os.path.join(work, "x.y4m"), ok=False)
check("detokenize with another model names the dataset's model", p.returncode != 0 and "pass that model" in p.stderr)
trunc = os.path.join(work, "trunc")
shutil.copytree(ds, trunc)
idp = os.path.join(trunc, "shard-00000.ids.npy")
with open(idp, "rb+") as f:
    f.truncate(os.path.getsize(idp) - 10)
p = evatok_cli("detokenize", trunc, "--model", model, "--out", os.path.join(work, "x.y4m"), ok=False)
check("a truncated shard is a clear error", p.returncode != 0 and "truncated" in p.stderr)
try:
    TokenDataset(trunc)
    check("the reader refuses a truncated shard", False)
except DatasetError as e:
    check("the reader refuses a truncated shard (%s)" % str(e)[:60], True)
bad = os.path.join(work, "badids")
shutil.copytree(ds, bad)
arr = np.load(os.path.join(bad, "shard-00000.ids.npy"))
arr[3] = 65535
np.save(os.path.join(bad, "shard-00000.ids.npy"), arr)
p = evatok_cli("detokenize", bad, "--model", model, "--out", os.path.join(work, "x.y4m"), ok=False)
check("an id outside the codebook is a clear error", p.returncode != 0 and "codebook size" in p.stderr)
rec = np.load(os.path.join(bad, "shard-00001.records.npy"))
rec["tokens"][0][0] = 7
np.save(os.path.join(bad, "shard-00001.records.npy"), rec)
p = evatok_cli("detokenize", bad, "--shard", "1", "--model", model, "--out", os.path.join(work, "x.y4m"), ok=False)
check("a token count that is no choice is a clear error", p.returncode != 0 and "not one of the model's choices" in p.stderr)
p = evatok_cli("tokenize", os.path.join(work, "nothing-here.mp4"), "--out", os.path.join(work, "none"), "--model", model)
check("a missing file is skipped and counted, not fatal", "1 files skipped" in p.stdout)
p = evatok_cli("tokenize", vids, "--out", os.path.join(work, "x"), "--model", model, "--shard", "2/2", ok=False)
check("--shard 2/2 is refused", p.returncode != 0 and "--shard must be I/N" in p.stderr)

print("%d failure(s)" % failures)
sys.exit(1 if failures else 0)
