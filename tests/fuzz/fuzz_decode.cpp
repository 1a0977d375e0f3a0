// Fuzz target for decoding through the C API with a tiny model: packet
// parsing, the token and tile-map checks, the network run and the frame
// writing of evatok_decode_packet, what the ffmpeg decoder calls. An input is
// one packet. It is decoded after a valid keyframe (so inter packets find a
// reference), as it is and with its checksum made valid, so that hostile
// payloads reach the decoder. A packet that claims a frame over 256x256 is
// refused before decoding, as FFmpeg's max_pixels would (the probe says the
// size; the caller allocates the frames). A decoded packet must say a frame
// count in range.
// libFuzzer build: scripts/fuzz.sh SECONDS decode (docs/hardening.md).
// Without -DEVATOK_LIBFUZZER (the meson test): a deterministic driver mutates
// packets of versions 1 to 3 that the tiny model encoded.
#include <cstring>

#include "bitstream/bitstream.h"
#include "evatok/evatok.h"
#include "model_file_mutator.h"
#include "tokenizer/model.h"

namespace {

constexpr int kW = 32, kH = 32;  // 2x2 tiles of the tiny model
constexpr int kMaxPixels = 256 * 256;

struct Fixture {
  EvatokModel* m = nullptr;
  std::vector<uint8_t> key;  // a valid v3 keyframe of kW x kH: the reference for each input
  int frames = 0;
};

std::vector<uint8_t> clip_pixels(int n, int shift) {
  std::vector<uint8_t> pix((size_t)kW * kH * 3 * n);
  for (size_t i = 0; i < pix.size(); ++i) pix[i] = (uint8_t)((i / 3 % kW) * 5 + (i / 3 / kW % kH) * 3 + shift * (i / (kW * kH * 3)));
  return pix;
}

std::vector<EvatokImage> images(std::vector<uint8_t>& pix, int n, int w, int h) {
  std::vector<EvatokImage> im(n);
  for (int f = 0; f < n; ++f) im[f] = EvatokImage{{pix.data() + (size_t)f * w * h * 3, nullptr, nullptr}, {w * 3, 0, 0}};
  return im;
}

// Encodes n frames (shift: motion per frame) with bitstream `version`; with
// `ref` as evatok_encode_packet's reference.
std::vector<uint8_t> encode(EvatokModel* m, int version, int n, int shift, EvatokReference* ref) {
  auto pix = clip_pixels(n, shift);
  auto im = images(pix, n, kW, kH);
  EvatokEncodeOptions eo;
  evatok_encode_options_default(&eo);
  eo.mode = EVATOK_ASSIGN_UNIFORM;
  eo.uniform_tokens = evatok_model_get_info(m)->choices[1];
  eo.bitstream_version = version;
  eo.inter_tolerance_db = 20;  // untrained: repeat the reference whenever allowed
  uint8_t* pkt = nullptr;
  size_t size = 0;
  char err[512];
  if (evatok_encode_packet(m, im.data(), n, kW, kH, EVATOK_PIX_RGB24, &eo, ref, 0, &pkt, &size, err, sizeof err) !=
      EVATOK_OK) {
    fprintf(stderr, "fuzz_decode: encoding a seed failed: %s\n", err);
    abort();
  }
  std::vector<uint8_t> out(pkt, pkt + size);
  evatok_free(pkt);
  return out;
}

Fixture& fixture() {
  static Fixture fx;
  if (!fx.m) {
    fx.m = fuzz::open_tiny_tokenizer(fuzz::scratch_dir() + "/tokenizer.safetensors");
    fx.frames = evatok_model_get_info(fx.m)->clip_frames;
    fx.key = encode(fx.m, 3, fx.frames, 0, nullptr);
  }
  return fx;
}

// Decodes `pkt` after the fixture's keyframe; true when it decoded.
bool decode_one(const uint8_t* pkt, size_t size) {
  Fixture& fx = fixture();
  char err[512];
  EvatokPacketInfo pi;
  if (evatok_packet_probe(fx.m, pkt, size, &pi, err, sizeof err) != EVATOK_OK) return false;
  if (pi.width < 1 || pi.height < 1 || pi.nb_frames < 1 || pi.nb_frames > fx.frames) abort();
  if ((int64_t)pi.width * pi.height > kMaxPixels) return false;
  EvatokReference* ref = nullptr;
  if (evatok_reference_new(&ref) != EVATOK_OK) abort();
  std::vector<uint8_t> kpix((size_t)kW * kH * 3 * fx.frames);
  auto kim = images(kpix, fx.frames, kW, kH);
  int got = 0;
  if (evatok_decode_packet(fx.m, fx.key.data(), fx.key.size(), ref, kim.data(), fx.frames, EVATOK_PIX_RGB24, &got,
                           err, sizeof err) != EVATOK_OK)
    abort();
  std::vector<uint8_t> pix((size_t)pi.width * pi.height * 3 * fx.frames);
  auto im = images(pix, fx.frames, pi.width, pi.height);
  const EvatokStatus st =
      evatok_decode_packet(fx.m, pkt, size, ref, im.data(), fx.frames, EVATOK_PIX_RGB24, &got, err, sizeof err);
  evatok_reference_free(&ref);
  if (st == EVATOK_OK && (got < 1 || got > fx.frames)) abort();
  if (st != EVATOK_OK && !err[0]) abort();  // a refusal says why
  return st == EVATOK_OK;
}

bool try_input(const uint8_t* data, size_t size) {
  bool ok = decode_one(data, size);
  if (size >= 4) {
    std::vector<uint8_t> fixed(data, data + size);
    const uint32_t crc = evbs_crc32(fixed.data(), size - 4);
    for (int i = 0; i < 4; i++) fixed[size - 4 + i] = (uint8_t)(crc >> (24 - 8 * i));
    if (memcmp(fixed.data(), data, size)) ok = decode_one(fixed.data(), size) || ok;
  }
  return ok;
}

// The seed packets: v1 and v2 keyframes, a v3 keyframe and the inter packet
// that follows it (a still clip: its tiles repeat the reference).
std::vector<std::vector<uint8_t>> seeds() {
  Fixture& fx = fixture();
  std::vector<std::vector<uint8_t>> s = {encode(fx.m, 1, fx.frames, 1, nullptr), encode(fx.m, 2, 3, 2, nullptr)};
  EvatokReference* ref = nullptr;
  if (evatok_reference_new(&ref) != EVATOK_OK) abort();
  s.push_back(encode(fx.m, 3, fx.frames, 0, ref));
  s.push_back(encode(fx.m, 3, fx.frames, 0, ref));
  evatok_reference_free(&ref);
  if (evatok_packet_is_keyframe(s[3].data(), s[3].size()) != 0) {
    fprintf(stderr, "fuzz_decode: the still clip's second packet is not an inter packet\n");
    abort();
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try_input(data, size);
  return 0;
}

#ifndef EVATOK_LIBFUZZER
// fuzz_decode [ITERATIONS] | fuzz_decode --write-seed DIR
int main(int argc, char** argv) {
  const auto valid = seeds();
  if (argc > 2 && !strcmp(argv[1], "--write-seed")) {
    const char* names[] = {"packet-v1.bin", "packet-v2.bin", "packet-v3-key.bin", "packet-v3-inter.bin"};
    for (size_t i = 0; i < valid.size(); ++i)
      fuzz::write_bytes(std::string(argv[2]) + "/" + names[i], valid[i].data(), valid[i].size());
    return 0;
  }
  for (const auto& v : valid)
    if (!try_input(v.data(), v.size())) {
      fprintf(stderr, "fuzz_decode: a valid seed packet does not decode\n");
      return 1;
    }
  const long iters = argc > 1 ? atol(argv[1]) : 20000;
  std::mt19937_64 rng(3);
  long decoded = 0;
  double slowest = 0;
  for (long i = 0; i < iters; ++i) {
    std::vector<uint8_t> in = valid[rng() % valid.size()];
    const int edits = 1 + (int)(rng() % 4);
    for (int e = 0; e < edits && !in.empty(); ++e) {
      const size_t p = rng() % in.size();
      switch (rng() % 5) {
        case 0: in[p] ^= (uint8_t)(1u << (rng() % 8)); break;
        case 1: in[p] = (uint8_t)rng(); break;
        case 2: in.resize(p + 1); break;
        case 3: in.insert(in.begin() + (long)p, (uint8_t)rng()); break;
        default: in.erase(in.begin() + (long)p); break;
      }
    }
    const fuzz::Watch watch{1024, 10.0};
    decoded += try_input(in.data(), in.size());
    double s = 0;
    if (!watch.ok("packet #" + std::to_string(i), &s)) return 1;
    slowest = std::max(slowest, s);
  }
  printf("fuzz_decode: %ld packets, %ld decoded (as is or with a repaired checksum), slowest %.3f s, peak memory %ld MiB\n",
         iters, decoded, slowest, fuzz::Watch::peak_mib());
  return 0;
}
#endif
