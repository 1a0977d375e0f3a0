#!/usr/bin/env python3
"""What the proxy reward picks for each kind of clip in a labels file (stage 2).

  labels_by_kind.py LABELS DATA_DIR [--wq X] [--wl X] [--choices 128,64,32,16,8] [--held-out]

DATA_DIR is the training folder the labels were made from (with --held-out: the
held-out folder, whose clips' table is used instead); a clip's kind is the part
of its video's name after the last '-' (photo03-still.y4m -> still). For each
kind: clips, mean tokens of the max-reward assignment, mean tokens of its first
block and of its later blocks, and the share whose later blocks all get the
fewest tokens. The reward is z-scored over the table used, as stage 3 does over
the training table (R = wq*z(Q) - wl*z(L)).
--choices are the model's tokens per block (the labels file does not hold
them). Needs only the Python standard library.
"""
import json, os, statistics, struct, sys


def fail(msg):
    sys.exit("labels_by_kind: " + msg)


def read_tensors(path):
    try:
        raw = open(path, 'rb').read()
        n = struct.unpack('<Q', raw[:8])[0]
        header = json.loads(raw[8:8 + n])
    except (OSError, ValueError, struct.error) as e:
        fail("%s is not a safetensors file (%s)" % (path, e))
    out = {}
    for key, t in header.items():
        if key == '__metadata__':
            continue
        fmt = {'F32': 'f', 'I64': 'q'}.get(t['dtype'])
        if fmt is None or len(t['shape']) != 2:
            continue
        o0, o1 = t['data_offsets']
        vals = struct.unpack('<%d%s' % ((o1 - o0) // struct.calcsize(fmt), fmt), raw[8 + n + o0:8 + n + o1])
        rows, cols = t['shape']
        out[key] = [vals[i * cols:(i + 1) * cols] for i in range(rows)]
    return out, header.get('__metadata__', {})


def main(argv):
    args, opts, i = [], {}, 0
    while i < len(argv):
        if argv[i] in ('--wq', '--wl', '--choices'):
            if i + 1 == len(argv):
                fail(argv[i] + " needs a value")
            opts[argv[i]] = argv[i + 1]
            i += 2
        elif argv[i] == '--held-out':
            opts['--held-out'] = True
            i += 1
        elif argv[i].startswith('--'):
            fail("unknown option " + argv[i])
        else:
            args.append(argv[i])
            i += 1
    if len(args) != 2:
        fail("usage: labels_by_kind.py LABELS DATA_DIR [--wq X] [--wl X] [--choices 128,64,32,16,8] [--held-out]")
    wq, wl = float(opts.get('--wq', 1.2)), float(opts.get('--wl', 0.8))
    tensors, meta = read_tensors(args[0])
    if 'quality' not in tensors or 'specs' not in tensors:
        fail("%s is not a labels file (no quality or specs)" % args[0])
    names = sorted(f for f in os.listdir(args[1]) if not f.startswith('.'))
    held_out = '--held-out' in opts
    if held_out:
        if 'val_quality' not in tensors or 'val_specs' not in tensors:
            fail("%s has no held-out table" % args[0])
        Q, specs = tensors['val_quality'], tensors['val_specs']
        if any(spec[0] >= len(names) for spec in specs):
            fail("%s holds %d files, fewer than the held-out clips name" % (args[1], len(names)))
    else:
        if meta.get('labels.videos') and str(len(names)) != meta['labels.videos']:
            fail("%s holds %d files; the labels were made from %s videos" % (args[1], len(names), meta['labels.videos']))
        Q, specs = tensors['quality'], tensors['specs']
    A = len(Q[0])
    # choices and blocks from the assignment count: the shipped geometry (5 choices, 4 blocks)
    choices = [int(c) for c in opts.get('--choices', '128,64,32,16,8').split(',')]
    blocks = 0
    while len(choices) ** blocks < A:
        blocks += 1
    if len(choices) ** blocks != A:
        fail("%d assignments do not fit %d choices; pass --choices" % (A, len(choices)))

    def per_block(a):
        return [(a // len(choices) ** (blocks - 1 - t)) % len(choices) for t in range(blocks)]

    L = [sum(choices[c] for c in per_block(a)) for a in range(A)]
    allq = [q for row in Q for q in row]
    qm, qs = statistics.mean(allq), max(statistics.stdev(allq), 1e-12)
    lm, ls = statistics.mean(L), statistics.stdev(L)
    kinds = {}
    for row, spec in zip(Q, specs):
        name = names[spec[0]]
        kind = os.path.splitext(name)[0].rsplit('-', 1)[-1]
        R = [wq * (q - qm) / qs - wl * (l - lm) / ls for q, l in zip(row, L)]
        best = max(range(A), key=R.__getitem__)
        b = per_block(best)
        minimal = all(choices[c] == min(choices) for c in b[1:])
        kinds.setdefault(kind, []).append((L[best], choices[b[0]], L[best] - choices[b[0]], minimal))
    print("wq %.2g wl %.2g: max-reward assignment per kind of clip" % (wq, wl))
    print("%-12s %5s %8s %14s %14s %22s" % ("kind", "clips", "tokens", "block-1 tokens", "later tokens",
                                             "later blocks minimal"))
    for kind, v in sorted(kinds.items()):
        print("%-12s %5d %8.1f %14.1f %14.1f %21.0f%%" % (kind, len(v), statistics.mean(x[0] for x in v),
                                                        statistics.mean(x[1] for x in v), statistics.mean(x[2] for x in v),
                                                        100 * statistics.mean(x[3] for x in v)))


if __name__ == '__main__':
    main(sys.argv[1:])
