"""ctypes declarations of libevatok's C API (model_runtime/include/evatok/evatok.h).

The library is found, in order, at $EVATOK_LIB, in the source tree's build
folder (build/model_runtime/libevatok.so, what scripts/setup.sh makes), or on
the system's library path (an installed libevatok.so.0)."""
import ctypes
import ctypes.util
import os

FINGERPRINT_SIZE = 16
MAX_CHOICES = 8


class ModelInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char * 64),
        ("clip_frames", ctypes.c_int),
        ("clip_height", ctypes.c_int), ("clip_width", ctypes.c_int),
        ("patch_t", ctypes.c_int), ("patch_s", ctypes.c_int),
        ("num_blocks", ctypes.c_int),
        ("num_choices", ctypes.c_int),
        ("choices", ctypes.c_int * MAX_CHOICES),
        ("codebook_size", ctypes.c_int),
        ("has_router", ctypes.c_int),
        ("num_parameters", ctypes.c_int64),
        ("fingerprint", ctypes.c_uint8 * FINGERPRINT_SIZE),
        ("fingerprint_hex", ctypes.c_char * (2 * FINGERPRINT_SIZE + 1)),
        ("codec_fingerprint", ctypes.c_uint8 * FINGERPRINT_SIZE),
        ("codec_fingerprint_hex", ctypes.c_char * (2 * FINGERPRINT_SIZE + 1)),
        ("has_entropy_tables", ctypes.c_int),
        ("entropy_fingerprint", ctypes.c_uint8 * FINGERPRINT_SIZE),
        ("entropy_fingerprint_hex", ctypes.c_char * (2 * FINGERPRINT_SIZE + 1)),
    ]


class OpenOptions(ctypes.Structure):
    _fields_ = [("device", ctypes.c_char_p), ("threads", ctypes.c_int), ("reserved", ctypes.c_uint8 * 32)]


class EncodeOptions(ctypes.Structure):
    _fields_ = [("mode", ctypes.c_int), ("uniform_tokens", ctypes.c_int),
                ("wq", ctypes.c_float), ("wl", ctypes.c_float),
                ("bitstream_version", ctypes.c_int), ("inter_tolerance_db", ctypes.c_float),
                ("inter_carry", ctypes.c_int), ("inter_motion", ctypes.c_int),
                ("reserved", ctypes.c_uint8 * 16)]


class Image(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p * 3), ("linesize", ctypes.c_int * 3)]


class PacketInfo(ctypes.Structure):
    _fields_ = [("version", ctypes.c_int), ("width", ctypes.c_int), ("height", ctypes.c_int),
                ("nb_frames", ctypes.c_int), ("tiles_x", ctypes.c_int), ("tiles_y", ctypes.c_int),
                ("num_blocks", ctypes.c_int), ("total_tokens", ctypes.c_int)]


ASSIGN_MODES = {"router": 0, "uniform": 1, "search": 2, "exact": 3}
PIX_RGB24 = 0


def _find_library():
    env = os.environ.get("EVATOK_LIB")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    built = os.path.join(here, "..", "..", "build", "model_runtime", "libevatok.so")
    if os.path.exists(built):
        return built
    found = ctypes.util.find_library("evatok")
    if found:
        return found
    raise OSError("libevatok not found: build it (scripts/setup.sh), install it, or set EVATOK_LIB")


def load():
    lib = ctypes.CDLL(_find_library())
    P, S, I = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int
    u8p, u32p, ip = ctypes.POINTER(ctypes.c_uint8), ctypes.POINTER(ctypes.c_uint32), ctypes.POINTER(ctypes.c_int)
    sig = {
        "evatok_version": (ctypes.c_char_p, []),
        "evatok_status_string": (ctypes.c_char_p, [I]),
        "evatok_default_model_path": (ctypes.c_char_p, []),
        "evatok_open_options_default": (None, [ctypes.POINTER(OpenOptions)]),
        "evatok_encode_options_default": (None, [ctypes.POINTER(EncodeOptions)]),
        "evatok_model_open": (I, [ctypes.c_char_p, ctypes.POINTER(OpenOptions), ctypes.POINTER(P), ctypes.c_char_p, S]),
        "evatok_model_close": (None, [ctypes.POINTER(P)]),
        "evatok_model_get_info": (ctypes.POINTER(ModelInfo), [P]),
        "evatok_encode_block": (I, [P, ctypes.POINTER(Image), I, I, I, I, ctypes.POINTER(EncodeOptions),
                                    ctypes.POINTER(u8p), ctypes.POINTER(S), ctypes.c_char_p, S]),
        "evatok_packet_probe": (I, [P, u8p, S, ctypes.POINTER(PacketInfo), ctypes.c_char_p, S]),
        "evatok_packet_tokens": (I, [P, u8p, S, ip, I, ip, u32p, S, ctypes.POINTER(S), ctypes.c_char_p, S]),
        "evatok_packet_build": (I, [P, I, I, I, ip, I, u32p, S, I, ctypes.POINTER(u8p), ctypes.POINTER(S),
                                    ctypes.c_char_p, S]),
        "evatok_decode_block": (I, [P, u8p, S, ctypes.POINTER(Image), I, I, ip, ctypes.c_char_p, S]),
        "evatok_free": (None, [P]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
    return lib
