"""Token datasets (docs/token-dataset.md) with numpy alone: no libevatok needed.

    from evatok.dataset import TokenDataset
    ds = TokenDataset("tokens/")            # or several worker folders
    r = ds[0]                               # a Record: r.ids, r.tokens_per_block, r.source, ...
    for r in ds: ...

A folder holds metadata.json and shards: shard-NNNNN.ids.npy (a flat uint16
array of token ids), shard-NNNNN.records.npy (one structured row per clip and
tile) and shard-NNNNN.json (its source files; present once the shard is
complete). TokenDatasetWriter writes the same format, for tokens that another
model sampled, so `evatok detokenize` turns them into video.
"""
import json
import os
import re
from dataclasses import dataclass

import numpy as np

FORMAT = "evatok-token-dataset"
FORMAT_VERSION = 1
_HEAD = [("offset", "<i8"), ("time", "<f8"), ("fps", "<f8"), ("source", "<i4"), ("start", "<i4"),
         ("count", "<i4"), ("width", "<i4"), ("height", "<i4"), ("frames", "<i2"), ("tile_x", "<i2"),
         ("tile_y", "<i2"), ("tiles_x", "<i2"), ("tiles_y", "<i2")]

__all__ = ["DatasetError", "Record", "TokenDataset", "TokenDatasetWriter", "record_dtype", "torch_dataset"]


class DatasetError(ValueError):
    """A token dataset is missing, damaged, or not of this format."""


def record_dtype(num_blocks):
    """numpy dtype of a records array for a model of num_blocks blocks."""
    return np.dtype(_HEAD + [("tokens", "<i2", (int(num_blocks),))])


def _ids_dtype(codebook_size):
    return np.dtype("<u2") if codebook_size <= 65536 else np.dtype("<u4")


@dataclass
class Record:
    """One clip of one tile: its token count per block and its ids."""
    index: int
    source: str             # the video file it was cut from
    start: int              # first frame, at fps
    time: float             # start time, seconds
    fps: float
    frames: int             # true frames, 1..clip_frames
    width: int              # the tokenized frame (all its tiles)
    height: int
    tile: tuple             # (x, y) of this tile in the frame's grid
    tiles: tuple            # the grid, (columns, rows)
    tokens_per_block: np.ndarray  # int16 [num_blocks]
    ids: np.ndarray               # uint16 [sum of tokens_per_block]

    def blocks(self):
        """The ids of each block (a list of num_blocks arrays)."""
        return np.split(self.ids, np.cumsum(self.tokens_per_block.astype(np.int64))[:-1])


def _load_npy(path, dtype):
    try:
        a = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as e:
        raise DatasetError("%s: %s" % (path, e)) from None
    if a.ndim != 1 or a.dtype != dtype:
        raise DatasetError("%s: expected a 1-D %s array, found %s %s" % (path, dtype, a.dtype, a.shape))
    return a


class TokenDataset:
    """Records of one token dataset, possibly spread over several folders
    (the --shard I/N workers' outputs): random access and iteration."""

    def __init__(self, *folders):
        if len(folders) == 1 and isinstance(folders[0], (list, tuple)):
            folders = tuple(folders[0])
        if not folders:
            raise DatasetError("no dataset folder given")
        self.metadata = None
        shards = {}
        for d in folders:
            d = os.fspath(d)
            try:
                with open(os.path.join(d, "metadata.json")) as f:
                    m = json.load(f)
            except (OSError, ValueError) as e:
                raise DatasetError("%s is not a token dataset: %s" % (d, e)) from None
            if m.get("format") != FORMAT:
                raise DatasetError("%s: not a token dataset (format %r)" % (d, m.get("format")))
            if m.get("format_version") != FORMAT_VERSION:
                raise DatasetError("%s: format version %r, this reader reads %d" % (d, m.get("format_version"), FORMAT_VERSION))
            if self.metadata is None:
                self.metadata = m
            elif m != self.metadata:
                raise DatasetError("%s: metadata.json differs from %s's: not parts of one dataset" % (d, folders[0]))
            for name in sorted(os.listdir(d)):
                k = re.fullmatch(r"shard-(\d{5,})\.json", name)
                if k and int(k.group(1)) not in shards:
                    shards[int(k.group(1))] = os.path.join(d, "shard-" + k.group(1))
        model = self.metadata["model"]
        self.num_blocks = int(model["num_blocks"])
        self.codebook_size = int(model["codebook_size"])
        self._rdt, self._idt = record_dtype(self.num_blocks), _ids_dtype(self.codebook_size)
        self.shards = [shards[k] for k in sorted(shards)]
        self.shard_indices = sorted(shards)
        self._records, self._ids, self._sources = [], [], []
        counts = []
        for base in self.shards:
            with open(base + ".json") as f:
                info = json.load(f)
            r = _load_npy(base + ".records.npy", self._rdt)
            ids = _load_npy(base + ".ids.npy", self._idt)
            if len(r) and int((r["offset"] + r["count"]).max()) > len(ids):
                raise DatasetError("%s.records.npy points past the end of %s.ids.npy (truncated?)" % (base, base))
            self._records.append(r)
            self._ids.append(ids)
            self._sources.append([s["path"] for s in info.get("sources", [])])
            counts.append(len(r))
        self._starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])

    @property
    def complete(self):
        """True when every shard the metadata names is present."""
        return len(self.shards) == int(self.metadata["inputs"]["shards"])

    def __len__(self):
        return int(self._starts[-1])

    def records(self, shard):
        """The structured records array of shard number `shard` (position in self.shards)."""
        return self._records[shard]

    def ids(self, shard):
        """The flat ids array (memory-mapped) of a shard."""
        return self._ids[shard]

    def __getitem__(self, i):
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("record %d of %d" % (i, len(self)))
        s = int(np.searchsorted(self._starts, i, side="right") - 1)
        r = self._records[s][i - self._starts[s]]
        src = self._sources[s]
        off, n = int(r["offset"]), int(r["count"])
        return Record(i, src[r["source"]] if 0 <= r["source"] < len(src) else "", int(r["start"]), float(r["time"]),
                      float(r["fps"]), int(r["frames"]), int(r["width"]), int(r["height"]),
                      (int(r["tile_x"]), int(r["tile_y"])), (int(r["tiles_x"]), int(r["tiles_y"])),
                      np.array(r["tokens"]), np.array(self._ids[s][off:off + n]))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


class TokenDatasetWriter:
    """Writes records in the format `evatok tokenize` writes, e.g. tokens that
    an AR model sampled, for `evatok detokenize`. model: an evatok.Tokenizer,
    its .info dict, or the metadata of an existing dataset."""

    def __init__(self, folder, model, fps=25.0, records_per_shard=65536, settings=None):
        info = getattr(model, "info", model)
        if "model" in info:
            info = info["model"]
        keys = ["name", "codec_fingerprint", "clip_frames", "clip_height", "clip_width", "num_blocks", "choices",
                "codebook_size"]
        missing = [k for k in keys if k not in info]
        if missing:
            raise DatasetError("model info lacks %s" % ", ".join(missing))
        self.model = {k: info[k] for k in keys}
        self.folder, self.fps, self.per_shard = os.fspath(folder), float(fps), int(records_per_shard)
        self.settings = settings or {"assign": "external"}
        self._rdt = record_dtype(self.model["num_blocks"])
        self._idt = _ids_dtype(self.model["codebook_size"])
        self._choices = set(int(c) for c in self.model["choices"])
        self._pending, self._shard, self._n = [], 0, 0
        os.makedirs(self.folder, exist_ok=True)
        self._sources = []

    def add(self, ids, tokens_per_block, source="", start=0, frames=None, width=None, height=None, tile=(0, 0),
            tiles=(1, 1), fps=None):
        """One record; every count and id is checked. width/height default to the model's tile."""
        m = self.model
        tpb = np.asarray(tokens_per_block, np.int64).ravel()
        ids = np.asarray(ids).ravel()
        frames = m["clip_frames"] if frames is None else int(frames)
        if tpb.size != m["num_blocks"]:
            raise DatasetError("tokens_per_block has %d entries, the model has %d blocks" % (tpb.size, m["num_blocks"]))
        bad = [int(t) for t in tpb if int(t) not in self._choices]
        if bad:
            raise DatasetError("block token count %d is not one of the model's choices %s" % (bad[0], m["choices"]))
        if ids.size != int(tpb.sum()):
            raise DatasetError("%d ids for %d tokens" % (ids.size, int(tpb.sum())))
        if ids.size and (ids.min() < 0 or ids.max() >= m["codebook_size"]):
            raise DatasetError("ids must be in 0..%d" % (m["codebook_size"] - 1))
        if not 1 <= frames <= m["clip_frames"]:
            raise DatasetError("frames must be in 1..%d" % m["clip_frames"])
        if source not in self._sources:
            self._sources.append(source)
        fps = self.fps if fps is None else float(fps)
        self._pending.append((ids.astype(self._idt), tpb, self._sources.index(source), int(start), fps, frames,
                              int(width or m["clip_width"]), int(height or m["clip_height"]), tile, tiles))
        self._n += 1
        if len(self._pending) >= self.per_shard:
            self._flush()

    def _flush(self):
        if not self._pending:
            return
        rec = np.zeros(len(self._pending), self._rdt)
        off = 0
        for k, (ids, tpb, src, start, fps, frames, w, h, tile, tiles) in enumerate(self._pending):
            rec[k] = (off, start / fps, fps, src, start, ids.size, w, h, frames, tile[0], tile[1], tiles[0], tiles[1], tpb)
            off += ids.size
        base = os.path.join(self.folder, "shard-%05d" % self._shard)
        ids = np.concatenate([p[0] for p in self._pending]) if off else np.zeros(0, self._idt)
        np.save(base + ".ids.npy", ids)
        np.save(base + ".records.npy", rec)
        with open(base + ".json", "w") as f:
            json.dump({"shard": self._shard, "records": len(rec), "ids": int(off),
                       "sources": [{"path": s} for s in self._sources], "skipped": []}, f, indent=1)
        self._pending, self._shard = [], self._shard + 1

    def close(self):
        """Writes the last shard and metadata.json."""
        self._flush()
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "tool": "evatok python writer",
                "model": self.model, "ids_dtype": str(np.dtype(self._idt).name), "settings": self.settings,
                "inputs": {"files": len(self._sources), "shards": self._shard}}
        with open(os.path.join(self.folder, "metadata.json"), "w") as f:
            json.dump(meta, f, indent=1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()


def torch_dataset(ds, max_len=None):
    """A torch.utils.data.Dataset over a TokenDataset (needs python3-torch):
    item i is (ids as int64 tensor, tokens_per_block as int64 tensor), ids cut
    to max_len when given."""
    import torch

    class _Tokens(torch.utils.data.Dataset):
        def __len__(self):
            return len(ds)

        def __getitem__(self, i):
            r = ds[i]
            ids = torch.from_numpy(r.ids.astype(np.int64))
            return (ids[:max_len] if max_len else ids), torch.from_numpy(r.tokens_per_block.astype(np.int64))

    return _Tokens()
