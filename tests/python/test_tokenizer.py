#!/usr/bin/python3
"""The Python package against the codec: evatok.Tokenizer encodes the same
packets as `ffmpeg -c:v evatok`, its tokens rebuild them byte for byte, and
its decode equals ffmpeg's decode of that stream bit for bit; bad input gives
evatok.Error with the library's message.
usage: test_tokenizer.py FFMPEG MODEL WORKDIR"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ffmpeg"))
import evatok  # noqa: E402  (PYTHONPATH: python/)
import evatok_mkv  # noqa: E402  (the tests' Matroska reader)

ff, model, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
W, H, T = 96, 64, 20
failures = 0


def check(name, ok):
    global failures
    print(("ok: " if ok else "FAIL: ") + name)
    failures += 0 if ok else 1


def run(*args):
    subprocess.run([ff, "-nostdin", "-v", "error", "-y", *args], check=True)


raw = os.path.join(work, "src.rgb")
run("-f", "lavfi", "-i", f"testsrc2=s={W}x{H}:r=25", "-frames:v", str(T), "-pix_fmt", "rgb24", "-f", "rawvideo", raw)
frames = np.fromfile(raw, np.uint8).reshape(T, H, W, 3)
mkv = os.path.join(work, "ff.mkv")
run("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", "25", "-i", raw, "-c:v", "evatok",
    "-model", model, mkv)
ff_packets = [p["data"] for p in evatok_mkv.parse(mkv)["packets"]]
dec = os.path.join(work, "ff.rgb")
run("-model", model, "-i", mkv, "-pix_fmt", "rgb24", "-f", "rawvideo", dec)
ff_frames = np.fromfile(dec, np.uint8).reshape(-1, H, W, 3)

with evatok.Tokenizer(model, threads=0) as tok:
    check("info names the model's geometry", tok.info["clip_frames"] == 16 and tok.info["codebook_size"] > 1)
    packets = tok.encode_packets(frames)
    check("encode_packets gives ffmpeg's packets", packets == ff_packets)
    groups = tok.encode(frames)
    check("two groups of 16 and 4 frames", [g.nb_frames for g in groups] == [16, 4])
    g = groups[0]
    check("token counts add up to the ids", int(g.tokens_per_block.sum()) == g.ids.size)
    check("ids are inside the codebook", int(g.ids.max()) < tok.info["codebook_size"])
    check("tokens rebuild the identical packets", [tok.packet(x) for x in groups] == packets)
    check("v1 packets hold the same tokens",
          all(np.array_equal(tok.tokens(tok.packet(x, bitstream=1)).ids, x.ids) for x in groups))
    out = tok.decode(groups)
    check("decode gives %d frames of %dx%d" % (T, W, H), out.shape == (T, H, W, 3))
    check("decode equals ffmpeg's decode bit for bit", np.array_equal(out, ff_frames))
    # bad input: clear errors
    bad = evatok.Tokens(g.width, g.height, g.nb_frames, g.tokens_per_block, g.ids.copy())
    bad.ids[3] = tok.info["codebook_size"]
    try:
        tok.packet(bad)
        check("an id outside the codebook is refused", False)
    except evatok.Error as e:
        check("an id outside the codebook is refused: " + str(e), "outside the codebook" in str(e))
    try:
        tok.tokens(packets[0][:-3])
        check("a truncated packet is refused", False)
    except evatok.Error as e:
        check("a truncated packet is refused: " + str(e), e.status == -5)
    try:
        tok.encode(frames[:, :, :, :2])
        check("frames without 3 channels are refused", False)
    except ValueError as e:
        check("frames without 3 channels are refused", "[T, H, W, 3]" in str(e))
try:
    evatok.Tokenizer("/nonexistent/model.safetensors")
    check("a missing model file is refused", False)
except evatok.Error as e:
    check("a missing model file is refused: " + str(e), "not found" in str(e))
sys.exit(1 if failures else 0)
