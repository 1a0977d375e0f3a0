#include "data/token_dataset.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <stdexcept>

namespace evatok::tokens {

namespace {

// The fields of RecordHead as numpy names them.
const char* kHeadFields[][2] = {{"offset", "<i8"}, {"time", "<f8"},   {"fps", "<f8"},     {"source", "<i4"},
                                {"start", "<i4"},  {"count", "<i4"},  {"width", "<i4"},   {"height", "<i4"},
                                {"frames", "<i2"}, {"tile_x", "<i2"}, {"tile_y", "<i2"},  {"tiles_x", "<i2"},
                                {"tiles_y", "<i2"}};

void write_file_atomic(const std::string& path, const std::string& head, const void* data, size_t bytes) {
  const std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + tmp + ": " + strerror(errno));
  bool ok = fwrite(head.data(), 1, head.size(), f) == head.size();
  if (ok && bytes) ok = fwrite(data, 1, bytes, f) == bytes;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    remove(tmp.c_str());
    throw std::runtime_error("cannot write " + path + ": " + strerror(errno));
  }
}

}  // namespace

std::string records_descr(int num_blocks) {
  std::string d = "[";
  for (const auto& f : kHeadFields) d += std::string("('") + f[0] + "', '" + f[1] + "'), ";
  return d + "('tokens', '<i2', (" + std::to_string(num_blocks) + ",))]";
}

size_t record_size(int num_blocks) { return sizeof(RecordHead) + 2 * (size_t)num_blocks; }

std::string ids_descr(int codebook_size) { return codebook_size <= 65536 ? "<u2" : "<u4"; }

void write_npy(const std::string& path, const std::string& descr, int64_t n, const void* data, size_t bytes) {
  const bool structured = descr[0] == '[';
  std::string h = "{'descr': " + (structured ? descr : "'" + descr + "'") +
                  ", 'fortran_order': False, 'shape': (" + std::to_string(n) + ",), }";
  // numpy pads the header with spaces to a multiple of 64 bytes, newline last.
  size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h += '\n';
  if (h.size() > 65535) throw std::runtime_error("npy header too long");
  std::string head = "\x93NUMPY";
  head += '\x01';
  head += '\x00';
  head += (char)(h.size() & 0xff);
  head += (char)(h.size() >> 8);
  write_file_atomic(path, head + h, data, bytes);
}

NpyArray read_npy(const std::string& path, size_t item_size) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  char pre[10];
  if (!f.read(pre, 10) || memcmp(pre, "\x93NUMPY", 6) != 0) throw std::runtime_error(path + ": not a .npy file");
  const int major = (unsigned char)pre[6];
  size_t hlen = (unsigned char)pre[8] | ((size_t)(unsigned char)pre[9] << 8);
  if (major == 2 || major == 3) {  // 4-byte header length
    char more[2];
    if (!f.read(more, 2)) throw std::runtime_error(path + ": truncated .npy header");
    hlen |= ((size_t)(unsigned char)more[0] << 16) | ((size_t)(unsigned char)more[1] << 24);
  } else if (major != 1) {
    throw std::runtime_error(path + ": .npy version " + std::to_string(major) + " not supported");
  }
  if (hlen > 65536) throw std::runtime_error(path + ": .npy header too long");
  std::string h(hlen, '\0');
  if (!f.read(h.data(), (std::streamsize)hlen)) throw std::runtime_error(path + ": truncated .npy header");
  NpyArray a;
  // The three keys numpy writes; anything else (Fortran order, 2-D) is refused.
  const auto d0 = h.find("'descr': ");
  const auto fo = h.find("'fortran_order': False");
  const auto s0 = h.find("'shape': (");
  if (d0 == std::string::npos || fo == std::string::npos || s0 == std::string::npos)
    throw std::runtime_error(path + ": .npy header is not a 1-D C-order array");
  size_t p = d0 + 9;
  if (h[p] == '\'') {
    const auto e = h.find('\'', p + 1);
    if (e == std::string::npos) throw std::runtime_error(path + ": bad .npy descr");
    a.descr = h.substr(p + 1, e - p - 1);
  } else if (h[p] == '[') {
    const auto e = h.find("], ", p);
    if (e == std::string::npos) throw std::runtime_error(path + ": bad .npy descr");
    a.descr = h.substr(p, e - p + 1);
  } else {
    throw std::runtime_error(path + ": bad .npy descr");
  }
  p = s0 + 10;
  const auto e = h.find(')', p);
  if (e == std::string::npos) throw std::runtime_error(path + ": bad .npy shape");
  const std::string shape = h.substr(p, e - p);
  if (shape.empty() || shape.back() != ',' || shape.find(',') != shape.size() - 1)
    throw std::runtime_error(path + ": .npy array is not 1-D (shape (" + shape + "))");
  try {
    size_t used = 0;
    a.n = std::stoll(shape, &used);
    if (used != shape.size() - 1 || a.n < 0) throw std::invalid_argument("n");
  } catch (const std::exception&) {
    throw std::runtime_error(path + ": bad .npy shape (" + shape + ")");
  }
  const int64_t bytes = a.n * (int64_t)item_size;
  if (a.n > kMaxNpyBytes / (int64_t)item_size) throw std::runtime_error(path + ": array too large");
  const std::streampos here = f.tellg();
  f.seekg(0, std::ios::end);
  const int64_t have = (int64_t)f.tellg() - (int64_t)here;
  if (have != bytes)
    throw std::runtime_error(path + ": " + (have < bytes ? "truncated" : "trailing bytes") + " (" +
                             std::to_string(have) + " data bytes for " + std::to_string(a.n) + " items)");
  f.seekg(here);
  a.data.resize((size_t)bytes);
  if (bytes && !f.read((char*)a.data.data(), bytes)) throw std::runtime_error(path + ": read failed");
  return a;
}

void write_json(const std::string& path, const nlohmann::json& j) {
  const std::string s = j.dump(1) + "\n";
  write_file_atomic(path, s, nullptr, 0);
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  f.seekg(0, std::ios::end);
  const auto size = (int64_t)f.tellg();
  if (size > (int64_t)1 << 30) throw std::runtime_error(path + ": too large for a JSON file");
  f.seekg(0);
  std::string s((size_t)size, '\0');
  f.read(s.data(), size);
  try {
    return nlohmann::json::parse(s);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": invalid JSON: " + e.what());
  }
}

std::string shard_name(int index) {
  char b[32];
  snprintf(b, sizeof b, "shard-%05d", index);
  return b;
}

Shard read_shard(const std::string& dir, int index, const nlohmann::json& meta) {
  Shard s;
  const std::string base = dir + "/" + shard_name(index);
  s.info = read_json(base + ".json");
  int nb, codebook, clip_frames;
  std::set<int> choices;
  try {
    const auto& m = meta.at("model");
    nb = m.at("num_blocks").get<int>();
    codebook = m.at("codebook_size").get<int>();
    clip_frames = m.at("clip_frames").get<int>();
    for (int c : m.at("choices").get<std::vector<int>>()) choices.insert(c);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(dir + "/metadata.json: " + e.what());
  }
  if (nb < 1 || nb > 64 || codebook < 2 || clip_frames < 1) throw std::runtime_error(dir + "/metadata.json: bad model geometry");
  const std::string idt = ids_descr(codebook);
  NpyArray ids = read_npy(base + ".ids.npy", idt == "<u2" ? 2 : 4);
  if (ids.descr != idt) throw std::runtime_error(base + ".ids.npy: dtype " + ids.descr + ", expected " + idt);
  NpyArray rec = read_npy(base + ".records.npy", record_size(nb));
  if (rec.descr != records_descr(nb)) throw std::runtime_error(base + ".records.npy: record fields differ from format 1");
  s.ids.resize((size_t)ids.n);
  for (int64_t i = 0; i < ids.n; ++i) {
    uint32_t v;
    if (idt == "<u2") {
      uint16_t w;
      memcpy(&w, ids.data.data() + 2 * i, 2);
      v = w;
    } else {
      memcpy(&v, ids.data.data() + 4 * i, 4);
    }
    if (v >= (uint32_t)codebook)
      throw std::runtime_error(base + ".ids.npy: id " + std::to_string(v) + " at " + std::to_string(i) +
                               " is not below the codebook size " + std::to_string(codebook));
    s.ids[(size_t)i] = v;
  }
  const size_t rs = record_size(nb);
  const int64_t nsources = s.info.contains("sources") ? (int64_t)s.info["sources"].size() : 0;
  s.records.resize((size_t)rec.n);
  for (int64_t i = 0; i < rec.n; ++i) {
    Record& r = s.records[(size_t)i];
    memcpy(&r.h, rec.data.data() + i * rs, sizeof r.h);
    r.tokens.resize(nb);
    memcpy(r.tokens.data(), rec.data.data() + i * rs + sizeof r.h, 2 * (size_t)nb);
    const RecordHead& h = r.h;
    const std::string where = base + ".records.npy: record " + std::to_string(i) + ": ";
    int64_t sum = 0;
    for (int16_t t : r.tokens) {
      if (!choices.count(t)) throw std::runtime_error(where + "block token count " + std::to_string(t) + " is not one of the model's choices");
      sum += t;
    }
    if (h.count != sum) throw std::runtime_error(where + "count " + std::to_string(h.count) + " is not the sum of its blocks");
    if (h.offset < 0 || h.offset > ids.n - h.count) throw std::runtime_error(where + "ids outside the ids array");
    if (h.frames < 1 || h.frames > clip_frames) throw std::runtime_error(where + "frames not in 1..clip_frames");
    if (h.tiles_x < 1 || h.tiles_y < 1 || h.tile_x < 0 || h.tile_y < 0 || h.tile_x >= h.tiles_x || h.tile_y >= h.tiles_y)
      throw std::runtime_error(where + "bad tile position");
    if (h.width < 1 || h.height < 1 || h.width > 16384 || h.height > 16384) throw std::runtime_error(where + "bad frame size");
    if (h.source < 0 || (nsources > 0 && h.source >= nsources)) throw std::runtime_error(where + "source index out of range");
  }
  return s;
}

std::vector<int> complete_shards(const std::string& dir) {
  std::vector<int> out;
  DIR* d = opendir(dir.c_str());
  if (!d) throw std::runtime_error("cannot open token dataset " + dir);
  while (dirent* e = readdir(d)) {
    int i;
    char tail[8];
    if (sscanf(e->d_name, "shard-%d.%7s", &i, tail) == 2 && !strcmp(tail, "json") &&
        std::string(e->d_name) == shard_name(i) + ".json")
      out.push_back(i);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace evatok::tokens
