"""EVATok from Python: the tokenizer over libevatok's C API (ctypes).

    import evatok
    tok = evatok.Tokenizer()                       # the default model
    groups = tok.encode(frames)                    # frames: uint8 [T, H, W, 3] RGB
    groups[0].tokens_per_block, groups[0].ids      # numpy int32 / uint32
    video = tok.decode(groups)                     # uint8 [T, H, W, 3]

Each 16-frame group (clip_frames of the model) becomes one Tokens record:
the token count of every (tile, block), tiles in raster order and blocks
inner, and the token ids in that order. `Tokenizer.packet(t)` gives the
evatok packet bytes of a record (what `ffmpeg -c:v evatok` stores) and
`Tokenizer.tokens(packet)` reads one back. Errors of the library arrive as
evatok.Error with its message. Needs numpy (Debian: python3-numpy).
"""
import ctypes
from dataclasses import dataclass

import numpy as np

from . import _capi

__all__ = ["Error", "Tokenizer", "Tokens", "library_version"]

_lib = None


def _api():
    global _lib
    if _lib is None:
        _lib = _capi.load()
    return _lib


class Error(RuntimeError):
    """A libevatok call failed; .status is its EvatokStatus code."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _check(status, err):
    if status != 0:
        text = err.value.decode("utf-8", "replace") or _api().evatok_status_string(status).decode()
        raise Error(status, text)


def library_version():
    return _api().evatok_version().decode()


@dataclass
class Tokens:
    """One packet's worth of tokens: width x height frames, nb_frames of them."""
    width: int
    height: int
    nb_frames: int
    tokens_per_block: np.ndarray  # int32 [tiles * blocks]
    ids: np.ndarray               # uint32 [sum of tokens_per_block]


class Tokenizer:
    """A tokenizer model file opened through libevatok (default: the shipped
    default model, or $EVATOK_MODEL)."""

    def __init__(self, model=None, device="cpu", threads=0):
        lib = _api()
        opts = _capi.OpenOptions()
        lib.evatok_open_options_default(ctypes.byref(opts))
        opts.device = device.encode()
        opts.threads = int(threads)
        self._h = ctypes.c_void_p()
        err = ctypes.create_string_buffer(512)
        path = None if model is None else str(model).encode()
        _check(lib.evatok_model_open(path, ctypes.byref(opts), ctypes.byref(self._h), err, len(err)), err)
        i = lib.evatok_model_get_info(self._h).contents
        self.info = {
            "name": i.name.decode(), "clip_frames": i.clip_frames, "clip_height": i.clip_height,
            "clip_width": i.clip_width, "num_blocks": i.num_blocks,
            "choices": [i.choices[k] for k in range(i.num_choices)], "codebook_size": i.codebook_size,
            "has_router": bool(i.has_router), "fingerprint": i.fingerprint_hex.decode(),
            "codec_fingerprint": i.codec_fingerprint_hex.decode(),
            "entropy_tables": i.entropy_fingerprint_hex.decode() if i.has_entropy_tables else None,
        }

    def close(self):
        if getattr(self, "_h", None) and self._h.value:
            _api().evatok_model_close(ctypes.byref(self._h))

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- packets ----------------------------------------------------------
    def tokens(self, packet):
        """Tokens of one evatok packet (bytes)."""
        lib = _api()
        buf = (ctypes.c_uint8 * len(packet)).from_buffer_copy(packet)
        err = ctypes.create_string_buffer(512)
        info = _capi.PacketInfo()
        _check(lib.evatok_packet_probe(self._h, buf, len(packet), ctypes.byref(info), err, len(err)), err)
        n_entries = info.tiles_x * info.tiles_y * info.num_blocks
        tpb = np.zeros(n_entries, np.int32)
        ids = np.zeros(info.total_tokens, np.uint32)
        ne, ni = ctypes.c_int(), ctypes.c_size_t()
        _check(lib.evatok_packet_tokens(self._h, buf, len(packet),
                                        tpb.ctypes.data_as(ctypes.POINTER(ctypes.c_int)), n_entries, ctypes.byref(ne),
                                        ids.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32)), ids.size,
                                        ctypes.byref(ni), err, len(err)), err)
        return Tokens(info.width, info.height, info.nb_frames, tpb, ids)

    def packet(self, t, bitstream=0):
        """The evatok packet of a Tokens record (bitstream version 0 = the default)."""
        lib = _api()
        tpb = np.ascontiguousarray(t.tokens_per_block, np.int32)
        ids = np.ascontiguousarray(t.ids, np.uint32)
        out, size = ctypes.POINTER(ctypes.c_uint8)(), ctypes.c_size_t()
        err = ctypes.create_string_buffer(512)
        _check(lib.evatok_packet_build(self._h, int(t.width), int(t.height), int(t.nb_frames),
                                       tpb.ctypes.data_as(ctypes.POINTER(ctypes.c_int)), tpb.size,
                                       ids.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32)), ids.size, int(bitstream),
                                       ctypes.byref(out), ctypes.byref(size), err, len(err)), err)
        data = ctypes.string_at(out, size.value)
        lib.evatok_free(out)
        return data

    # ---- frames -----------------------------------------------------------
    def encode_packets(self, frames, assign="router", tokens=0, wq=1.2, bitstream=0):
        """Packets (bytes) of RGB frames uint8 [T, H, W, 3], one per clip_frames frames."""
        lib = _api()
        frames = np.ascontiguousarray(frames, np.uint8)
        if frames.ndim != 4 or frames.shape[3] != 3:
            raise ValueError("frames must be uint8 [T, H, W, 3] (RGB), not shape %s" % (frames.shape,))
        if assign not in _capi.ASSIGN_MODES:
            raise ValueError("assign must be one of %s" % ", ".join(_capi.ASSIGN_MODES))
        opts = _capi.EncodeOptions()
        lib.evatok_encode_options_default(ctypes.byref(opts))
        opts.mode, opts.uniform_tokens, opts.wq, opts.bitstream_version = _capi.ASSIGN_MODES[assign], tokens, wq, bitstream
        T, H, W, _ = frames.shape
        n = self.info["clip_frames"]
        packets = []
        for s in range(0, T, n):
            group = frames[s:s + n]
            imgs = (_capi.Image * len(group))()
            for k in range(len(group)):
                imgs[k].data[0] = group[k].ctypes.data
                imgs[k].linesize[0] = W * 3
            out, size = ctypes.POINTER(ctypes.c_uint8)(), ctypes.c_size_t()
            err = ctypes.create_string_buffer(512)
            _check(lib.evatok_encode_block(self._h, imgs, len(group), W, H, _capi.PIX_RGB24, ctypes.byref(opts),
                                           ctypes.byref(out), ctypes.byref(size), err, len(err)), err)
            packets.append(ctypes.string_at(out, size.value))
            lib.evatok_free(out)
        return packets

    def encode(self, frames, assign="router", tokens=0, wq=1.2):
        """Tokens records of RGB frames uint8 [T, H, W, 3], one per clip_frames frames."""
        return [self.tokens(p) for p in self.encode_packets(frames, assign, tokens, wq)]

    def decode_packet(self, packet):
        """RGB frames uint8 [n, H, W, 3] of one packet."""
        lib = _api()
        t = self.tokens(packet)  # validates, and gives the size
        buf = (ctypes.c_uint8 * len(packet)).from_buffer_copy(packet)
        out = np.zeros((t.nb_frames, t.height, t.width, 3), np.uint8)
        imgs = (_capi.Image * t.nb_frames)()
        for k in range(t.nb_frames):
            imgs[k].data[0] = out[k].ctypes.data
            imgs[k].linesize[0] = t.width * 3
        got, err = ctypes.c_int(), ctypes.create_string_buffer(512)
        _check(lib.evatok_decode_block(self._h, buf, len(packet), imgs, t.nb_frames, _capi.PIX_RGB24,
                                       ctypes.byref(got), err, len(err)), err)
        return out[:got.value]

    def decode(self, tokens):
        """RGB frames uint8 [T, H, W, 3] of Tokens records (or packets, as bytes)."""
        if isinstance(tokens, (Tokens, bytes)):
            tokens = [tokens]
        parts = [self.decode_packet(t if isinstance(t, bytes) else self.packet(t)) for t in tokens]
        return np.concatenate(parts, 0)
