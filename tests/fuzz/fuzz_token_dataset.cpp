// Fuzz target for the token dataset reader (model_runtime/data/token_dataset.cpp:
// .npy headers, record checks, shard JSON), what `evatok detokenize` trusts.
// An input is three parts, each behind a 4-byte little-endian length:
// records.npy, ids.npy, shard-00000.json; they are written to a scratch folder
// and read back with read_shard. Anything accepted must be in bounds.
// With clang: clang++ -std=c++17 -g -fsanitize=fuzzer,address,undefined
//   -DEVATOK_LIBFUZZER -Imodel_runtime tests/fuzz/fuzz_token_dataset.cpp
//   model_runtime/data/token_dataset.cpp
// Without (the meson test): a deterministic driver mutates a valid shard.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "data/token_dataset.h"

namespace tk = evatok::tokens;

static const nlohmann::json kMeta = {
    {"format", tk::kFormat},
    {"format_version", tk::kFormatVersion},
    {"model", {{"num_blocks", 4}, {"codebook_size", 4096}, {"clip_frames", 16}, {"choices", {128, 64, 32, 16, 8}}}}};

static std::string scratch() {
  static std::string dir;
  if (dir.empty()) {
    char t[] = "/tmp/fuzz-token-dataset-XXXXXX";
    if (!mkdtemp(t)) abort();
    dir = t;
  }
  return dir;
}

static void put(const std::string& path, const uint8_t* d, size_t n) {
  FILE* f = fopen(path.c_str(), "wb");
  if (!f) abort();
  if (n) fwrite(d, 1, n, f);
  fclose(f);
}

// True when read_shard accepted the input.
static bool try_input(const uint8_t* data, size_t size) {
  const char* names[3] = {"shard-00000.records.npy", "shard-00000.ids.npy", "shard-00000.json"};
  const std::string dir = scratch();
  size_t at = 0;
  for (int k = 0; k < 3; ++k) {
    uint32_t n = 0;
    if (at + 4 <= size) memcpy(&n, data + at, 4), at += 4;
    n = (uint32_t)std::min<size_t>(n, size - at);
    put(dir + "/" + names[k], data + at, n);
    at += n;
  }
  try {
    const tk::Shard s = tk::read_shard(dir, 0, kMeta);
    const std::set<int> choices = {128, 64, 32, 16, 8};
    for (const auto& r : s.records) {
      if (r.h.offset < 0 || r.h.count < 0 || (size_t)(r.h.offset + r.h.count) > s.ids.size()) abort();
      long sum = 0;
      for (int16_t t : r.tokens) {
        if (!choices.count(t)) abort();
        sum += t;
      }
      if (sum != r.h.count) abort();
    }
    for (uint32_t v : s.ids)
      if (v >= 4096) abort();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try_input(data, size);
  return 0;
}

#ifndef EVATOK_LIBFUZZER
// A valid shard: 3 records of 4 blocks, as the three length-prefixed parts.
static std::vector<uint8_t> valid_input() {
  const std::string dir = scratch();
  std::vector<uint8_t> rec, ids;
  int64_t off = 0;
  const int16_t tpb[3][4] = {{128, 64, 32, 32}, {8, 8, 8, 8}, {16, 32, 8, 64}};
  for (int r = 0; r < 3; ++r) {
    tk::RecordHead h{};
    h.offset = off, h.fps = 25, h.start = 16 * r, h.time = h.start / 25.0, h.width = 64, h.height = 64, h.frames = 16;
    h.tiles_x = h.tiles_y = 1;
    for (int b = 0; b < 4; ++b) h.count += tpb[r][b];
    rec.insert(rec.end(), (const uint8_t*)&h, (const uint8_t*)&h + sizeof h);
    rec.insert(rec.end(), (const uint8_t*)tpb[r], (const uint8_t*)tpb[r] + 8);
    for (int i = 0; i < h.count; ++i) {
      const uint16_t v = (uint16_t)((i * 37 + r) % 4096);
      ids.insert(ids.end(), (const uint8_t*)&v, (const uint8_t*)&v + 2);
    }
    off += h.count;
  }
  tk::write_npy(dir + "/a.npy", tk::records_descr(4), 3, rec.data(), rec.size());
  tk::write_npy(dir + "/b.npy", "<u2", off, ids.data(), ids.size());
  const std::string js = R"({"shard": 0, "records": 3, "ids": )" + std::to_string(off) +
                         R"(, "sources": [{"path": "a.mp4"}], "skipped": []})";
  std::vector<uint8_t> out;
  for (const std::string& part : {dir + "/a.npy", dir + "/b.npy", std::string()}) {
    std::vector<uint8_t> bytes;
    if (part.empty()) {
      bytes.assign(js.begin(), js.end());
    } else {
      FILE* f = fopen(part.c_str(), "rb");
      int c;
      while ((c = fgetc(f)) != EOF) bytes.push_back((uint8_t)c);
      fclose(f);
    }
    const uint32_t n = (uint32_t)bytes.size();
    out.insert(out.end(), (const uint8_t*)&n, (const uint8_t*)&n + 4);
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  return out;
}

// fuzz_token_dataset [ITERATIONS] | fuzz_token_dataset --write-seed DIR (the
// valid shard as one input: tests/fuzz/corpus/token_dataset)
int main(int argc, char** argv) {
  if (argc > 2 && !strcmp(argv[1], "--write-seed")) {
    const std::vector<uint8_t> v = valid_input();
    put(std::string(argv[2]) + "/shard.bin", v.data(), v.size());
    return 0;
  }
  const long iters = argc > 1 ? atol(argv[1]) : 20000;
  std::mt19937_64 rng(1);
  const std::vector<uint8_t> valid = valid_input();
  if (!try_input(valid.data(), valid.size())) {
    fprintf(stderr, "fuzz_token_dataset: the valid shard is refused\n");
    return 1;
  }
  long accepted = 0;
  for (long i = 0; i < iters; ++i) {
    std::vector<uint8_t> in = valid;
    const int edits = 1 + (int)(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      const size_t p = rng() % in.size();
      switch (rng() % 6) {
        case 0: in[p] ^= (uint8_t)(1u << (rng() % 8)); break;   // flip a bit
        case 1: in[p] = (uint8_t)rng(); break;                  // a random byte
        case 2: in.resize(p + 1); break;                        // truncate
        case 3: in.insert(in.begin() + p, (uint8_t)rng()); break;
        case 4: in[p] = "0123456789,()' []<>iu"[rng() % 21]; break;  // header-ish characters
        default: if (p + 2 < in.size()) in[p] = 0xff, in[p + 1] = 0xff; break;
      }
    }
    accepted += try_input(in.data(), in.size());
  }
  printf("fuzz_token_dataset: %ld mutated inputs, %ld accepted (and checked in bounds), no crash\n", iters, accepted);
  const std::string dir = scratch();
  for (const char* n : {"shard-00000.records.npy", "shard-00000.ids.npy", "shard-00000.json", "a.npy", "b.npy"})
    unlink((dir + "/" + n).c_str());
  rmdir(dir.c_str());
  return 0;
}
#endif
