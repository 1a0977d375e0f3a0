#!/usr/bin/env python3
"""Checks labels made with the compiled MSE metric against PSNR labels of the
same clips: Q_mse = -MSE of inputs in [-1, 1], so -Q is in (0, 4], and for the
uniform assignments (every block at one choice) Jensen's inequality gives
10*log10(4 / -Q_mse) <= Q_psnr (equal when the blocks' errors are equal).
A metric fed other pixels, scale or sign breaks one of these.

  mse_vs_psnr.py MSE_LABELS PSNR_LABELS CHOICES BLOCKS
"""
import json, math, struct, sys


def table(path, name):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    t = h[name]
    assert t['dtype'] == 'F32', t['dtype']
    a, b = t['data_offsets']
    vals = struct.unpack('<%df' % ((b - a) // 4), raw[8 + n + a:8 + n + b])
    rows, cols = t['shape']
    return [vals[r * cols:(r + 1) * cols] for r in range(rows)]


mse, psnr = table(sys.argv[1], 'quality'), table(sys.argv[2], 'quality')
nc, nb = int(sys.argv[3]), int(sys.argv[4])
uniform = [sum(c * nc ** b for b in range(nb)) for c in range(nc)]
assert len(mse) == len(psnr) and len(mse[0]) == nc ** nb, 'tables do not match'
for i, (m, p) in enumerate(zip(mse, psnr)):
    assert all(-4 <= q < 0 and math.isfinite(q) for q in m), 'clip %d: -MSE outside [-4, 0)' % i
    assert len(set(m)) > 1, 'clip %d: every assignment scores the same' % i
    for a in uniform:
        bound = 10 * math.log10(4 / -m[a])
        assert bound <= p[a] + 1e-3, 'clip %d assignment %d: %.3f dB from MSE > PSNR label %.3f' % (i, a, bound, p[a])
print('%d clips: -MSE labels consistent with PSNR labels' % len(mse))
