#!/usr/bin/env python3
"""Minimal Matroska reader/writer for the evatok end-to-end tests (stdlib only).

Reads the first video track of a Matroska file written by FFmpeg (CodecID,
CodecPrivate, size, packets with timestamps) and writes a new single-track
Matroska file after applying damage to chosen packets or to the stream header:

  evatok_mkv.py info IN
  evatok_mkv.py mutate IN OUT [--truncate I:N] [--corrupt I:OFF:COUNT:SEED]
                              [--scramble I:SEED] [--append I:N] [--replace I:N:SEED]
                              [--extradata garbage:N:SEED | --extradata none] [--keep N]

I is a packet index; --truncate keeps the first N bytes, --corrupt overwrites
COUNT bytes from OFF with random values, --scramble randomises every byte,
--append adds N random bytes, --replace substitutes N random bytes, --keep N drops all packets after the first N.
"""
import json
import random
import sys

# ---- EBML reading -------------------------------------------------------------

def read_vint(buf, pos, keep_marker=False):
    first = buf[pos]
    length = 1
    mask = 0x80
    while length <= 8 and not (first & mask):
        mask >>= 1
        length += 1
    if length > 8:
        raise ValueError("bad EBML vint at %d" % pos)
    value = first if keep_marker else first & (mask - 1)
    for i in range(1, length):
        value = (value << 8) | buf[pos + i]
    unknown = not keep_marker and value == (1 << (7 * length)) - 1
    return value, pos + length, unknown


def elements(buf, start, end):
    pos = start
    while pos < end:
        eid, pos, _ = read_vint(buf, pos, keep_marker=True)
        size, pos, unknown = read_vint(buf, pos)
        if unknown:
            size = end - pos
        yield eid, pos, min(pos + size, end)
        pos += size


def uint(buf, a, b):
    return int.from_bytes(buf[a:b], "big") if b > a else 0


SEGMENT, TRACKS, TRACK_ENTRY, CLUSTER = 0x18538067, 0x1654AE6B, 0xAE, 0x1F43B675
INFO, TIMESCALE = 0x1549A966, 0x2AD7B1
TRACK_NUMBER, TRACK_TYPE, CODEC_ID, CODEC_PRIVATE, VIDEO = 0xD7, 0x83, 0x86, 0x63A2, 0xE0
PIXEL_W, PIXEL_H, DEFAULT_DURATION = 0xB0, 0xBA, 0x23E383
TIMESTAMP, SIMPLE_BLOCK, BLOCK_GROUP, BLOCK = 0xE7, 0xA3, 0xA0, 0xA1


def parse(path):
    buf = open(path, "rb").read()
    info = {"timescale": 1000000, "packets": []}
    track = None
    for eid, a, b in elements(buf, 0, len(buf)):
        if eid != SEGMENT:
            continue
        for sid, sa, sb in elements(buf, a, b):
            if sid == INFO:
                for iid, ia, ib in elements(buf, sa, sb):
                    if iid == TIMESCALE:
                        info["timescale"] = uint(buf, ia, ib)
            elif sid == TRACKS:
                for tid, ta, tb in elements(buf, sa, sb):
                    if tid != TRACK_ENTRY:
                        continue
                    t = {"codec_private": b""}
                    for fid, fa, fb in elements(buf, ta, tb):
                        if fid == TRACK_NUMBER:
                            t["number"] = uint(buf, fa, fb)
                        elif fid == TRACK_TYPE:
                            t["type"] = uint(buf, fa, fb)
                        elif fid == CODEC_ID:
                            t["codec_id"] = buf[fa:fb].decode("ascii", "replace")
                        elif fid == CODEC_PRIVATE:
                            t["codec_private"] = bytes(buf[fa:fb])
                        elif fid == DEFAULT_DURATION:
                            t["default_duration"] = uint(buf, fa, fb)
                        elif fid == VIDEO:
                            for vid, va, vb in elements(buf, fa, fb):
                                if vid == PIXEL_W:
                                    t["width"] = uint(buf, va, vb)
                                elif vid == PIXEL_H:
                                    t["height"] = uint(buf, va, vb)
                    if t.get("type") == 1 and track is None:
                        track = t
            elif sid == CLUSTER:
                base = 0
                for cid, ca, cb in elements(buf, sa, sb):
                    if cid == TIMESTAMP:
                        base = uint(buf, ca, cb)
                    blocks = []
                    if cid == SIMPLE_BLOCK:
                        blocks.append((ca, cb))
                    elif cid == BLOCK_GROUP:
                        blocks += [(ga, gb) for gid, ga, gb in elements(buf, ca, cb) if gid == BLOCK]
                    for ba, bb in blocks:
                        num, p, _ = read_vint(buf, ba)
                        rel = int.from_bytes(buf[p:p + 2], "big", signed=True)
                        flags = buf[p + 2]
                        if flags & 0x06:
                            raise ValueError("laced blocks not supported")
                        info["packets"].append({"track": num, "ts": base + rel,
                                                "data": bytes(buf[p + 3:bb])})
    if track is None:
        raise ValueError("no video track in " + path)
    info["track"] = track
    info["packets"] = [p for p in info["packets"] if p["track"] == track["number"]]
    return info

# ---- EBML writing ---------------------------------------------------------------

def enc_id(eid):
    n = (eid.bit_length() + 7) // 8
    return eid.to_bytes(n, "big")


def enc_size(n):
    for length in range(1, 9):
        if n < (1 << (7 * length)) - 1:
            return (n | (1 << (7 * length))).to_bytes(length, "big")
    raise ValueError("element too large")


def el(eid, payload):
    if isinstance(payload, int):
        payload = payload.to_bytes(max(1, (payload.bit_length() + 7) // 8), "big")
    elif isinstance(payload, str):
        payload = payload.encode("ascii")
    return enc_id(eid) + enc_size(len(payload)) + payload


def write(path, info):
    t = info["track"]
    header = el(0x1A45DFA3, el(0x4286, 1) + el(0x42F7, 1) + el(0x42F2, 4) + el(0x42F3, 8) +
                el(0x4282, "matroska") + el(0x4287, 4) + el(0x4285, 2))
    seg = el(INFO, el(TIMESCALE, info["timescale"]) + el(0x4D80, "evatok_mkv.py") +
             el(0x5741, "evatok_mkv.py"))
    entry = el(TRACK_NUMBER, 1) + el(0x73C5, 1) + el(TRACK_TYPE, 1) + el(CODEC_ID, t["codec_id"])
    if t.get("codec_private"):
        entry += el(CODEC_PRIVATE, t["codec_private"])
    if t.get("default_duration"):
        entry += el(DEFAULT_DURATION, t["default_duration"])
    entry += el(VIDEO, el(PIXEL_W, t["width"]) + el(PIXEL_H, t["height"]))
    seg += el(TRACKS, el(TRACK_ENTRY, entry))
    pkts = info["packets"]
    i = 0
    while i < len(pkts):
        base = pkts[i]["ts"]
        body = el(TIMESTAMP, base)
        while i < len(pkts) and 0 <= pkts[i]["ts"] - base < 30000:
            p = pkts[i]
            body += el(SIMPLE_BLOCK, bytes([0x81]) + (p["ts"] - base).to_bytes(2, "big", signed=True) +
                       bytes([0x80]) + p["data"])
            i += 1
        seg += el(CLUSTER, body)
    with open(path, "wb") as f:
        f.write(header + el(SEGMENT, seg))

# ---- command line ---------------------------------------------------------------

def rand_bytes(n, seed):
    r = random.Random(seed)
    return bytes(r.randrange(256) for _ in range(n))


def main(argv):
    if len(argv) >= 2 and argv[0] == "info":
        info = parse(argv[1])
        t = info["track"]
        print(json.dumps({"codec_id": t.get("codec_id"), "width": t.get("width"),
                          "height": t.get("height"), "codec_private_size": len(t["codec_private"]),
                          "packets": [{"ts": p["ts"], "size": len(p["data"])} for p in info["packets"]]}))
        return 0
    if len(argv) < 3 or argv[0] != "mutate":
        print(__doc__, file=sys.stderr)
        return 2
    info = parse(argv[1])
    out = argv[2]
    args = argv[3:]
    pk = info["packets"]
    while args:
        opt, val = args[0], args[1]
        args = args[2:]
        f = val.split(":")
        if opt == "--keep":
            del pk[int(f[0]):]
            continue
        if opt == "--extradata":
            info["track"]["codec_private"] = b"" if f[0] == "none" else rand_bytes(int(f[1]), int(f[2]))
            continue
        d = bytearray(pk[int(f[0])]["data"])
        if opt == "--truncate":
            d = d[:int(f[1])]
        elif opt == "--corrupt":
            off, cnt = int(f[1]), int(f[2])
            d[off:off + cnt] = rand_bytes(cnt, int(f[3]))[:max(0, len(d) - off)]
        elif opt == "--scramble":
            d = bytearray(rand_bytes(len(d), int(f[1])))
        elif opt == "--append":
            d += rand_bytes(int(f[1]), 1)
        elif opt == "--replace":
            d = bytearray(rand_bytes(int(f[1]), int(f[2])))
        else:
            print("unknown option " + opt, file=sys.stderr)
            return 2
        pk[int(f[0])]["data"] = bytes(d)
    write(out, info)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
