#!/usr/bin/env python3
"""Quality and joins of a decoded evatok stream against its source (issue 23).

    join_stats.py SOURCE.rgb DECODED.rgb WIDTH HEIGHT [PACKET_FRAMES]

Both files are raw rgb24 frames of the same size. Prints one line: the RGB
PSNR over all frames (from the mean squared error); the seam, i.e. the mean
over packets after the first of (PSNR of the packet's first frame - PSNR of
the whole packet); and the frame-to-frame change at packet joins (mean
absolute difference, in 8-bit levels, between a packet's first frame and the
previous frame) of the output against the source's, with the output's change
inside packets for scale.
"""
import sys

import numpy as np


def psnr(mse):
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


def main():
    src_path, out_path, w, h = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    k = int(sys.argv[5]) if len(sys.argv) > 5 else 16
    src = np.fromfile(src_path, np.uint8).reshape(-1, h, w, 3).astype(np.float64)
    out = np.fromfile(out_path, np.uint8).reshape(-1, h, w, 3).astype(np.float64)
    if src.shape != out.shape:
        sys.exit(f"join_stats: {len(src)} source frames, {len(out)} decoded")
    mse = ((out - src) ** 2).mean(axis=(1, 2, 3))
    seams = [psnr(mse[p]) - psnr(mse[p:p + k].mean()) for p in range(k, len(mse), k)]
    change = lambda v, idx: float(np.mean([np.abs(v[i] - v[i - 1]).mean() for i in idx])) if idx else 0.0
    joins = list(range(k, len(src), k))
    inside = [i for i in range(1, len(src)) if i % k]
    print(f"psnr {psnr(mse.mean()):.2f} dB | seam {np.mean(seams) if seams else 0:+.2f} dB | "
          f"change at joins {change(out, joins):.2f} (source {change(src, joins):.2f}), "
          f"inside packets {change(out, inside):.2f} (source {change(src, inside):.2f})")


if __name__ == "__main__":
    main()
