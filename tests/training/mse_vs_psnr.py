#!/usr/bin/env python3
"""Checks labels made with the compiled TorchScript MSE metric against labels
of the same clips made with the built-in `mse` and `psnr`:
- the script sees pixels in [-1, 1], the built-in in [0, 1]: Q_script = 4 * Q_mse;
- -Q_mse is in (0, 1], and for the uniform assignments (every block at one
  choice) Jensen's inequality gives 10*log10(1 / -Q_mse) <= Q_psnr (equal when
  the blocks' errors are equal).
A metric fed other pixels, scale or sign breaks one of these.

  mse_vs_psnr.py SCRIPT_LABELS MSE_LABELS PSNR_LABELS CHOICES BLOCKS
"""
import math, os, sys

# The safetensors table reader of experiments/labels_by_kind.py.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'experiments'))
from labels_by_kind import read_tensors


def table(path, name):
    return read_tensors(path)[0][name]


script, mse, psnr = (table(sys.argv[i], 'quality') for i in (1, 2, 3))
nc, nb = int(sys.argv[4]), int(sys.argv[5])
uniform = [sum(c * nc ** b for b in range(nb)) for c in range(nc)]
assert len(mse) == len(psnr) == len(script) and len(mse[0]) == nc ** nb, 'tables do not match'
for i, (s, m, p) in enumerate(zip(script, mse, psnr)):
    assert all(abs(a - 4 * b) <= 1e-4 * abs(a) + 1e-9 for a, b in zip(s, m)), 'clip %d: script != 4 * built-in mse' % i
    assert all(-1 <= q < 0 and math.isfinite(q) for q in m), 'clip %d: -MSE outside [-1, 0)' % i
    assert len(set(m)) > 1, 'clip %d: every assignment scores the same' % i
    for a in uniform:
        bound = 10 * math.log10(1 / -m[a])
        assert bound <= p[a] + 1e-3, 'clip %d assignment %d: %.3f dB from MSE > PSNR label %.3f' % (i, a, bound, p[a])
print('%d clips: TorchScript, built-in MSE and PSNR labels consistent' % len(mse))
