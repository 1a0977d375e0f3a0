#include "core/safetensors.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace evatok {
using json = nlohmann::json;

namespace {

struct DType {
  const char* name;
  torch::ScalarType type;
  size_t size;
};
const DType kDTypes[] = {{"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
                         {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8},
                         {"I32", torch::kInt32, 4}, {"U8", torch::kUInt8, 1}};

const DType* dtype_by_name(const std::string& n) {
  for (const auto& d : kDTypes)
    if (n == d.name) return &d;
  return nullptr;
}
const DType* dtype_by_type(torch::ScalarType t) {
  for (const auto& d : kDTypes)
    if (t == d.type) return &d;
  return nullptr;
}

constexpr int kMaxHeaderDepth = 8;

// True unless a floating-point tensor holds a NaN or an infinity. float32
// (every tensor of our models) in one plain pass: LibTorch's isfinite().all()
// costs a few tensor ops per tensor, which added up on every model open.
bool all_finite(const torch::Tensor& t) {
  if (!t.is_floating_point()) return true;
  if (t.scalar_type() != torch::kFloat32 || !t.is_contiguous()) return torch::isfinite(t).all().item<bool>();
  const float* p = t.data_ptr<float>();
  const int64_t n = t.numel();
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) ok &= std::isfinite(p[i]);
  return ok;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("'" + path + "' is not a valid model file: " + what);
}

}  // namespace

TensorFile load_safetensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw std::runtime_error("cannot open model file '" + path + "'");
  const std::streamoff file_size = f.tellg();
  f.seekg(0);
  if (file_size < 8) fail(path, "file too small");
  uint8_t len_bytes[8];
  f.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len < 2 || header_len > (uint64_t)(file_size - 8) || header_len > (64u << 20))
    fail(path, "bad header length");
  std::string header(header_len, '\0');
  f.read(&header[0], (std::streamsize)header_len);
  const uint64_t data_size = (uint64_t)file_size - 8 - header_len;

  json j;
  try {
    // A safetensors header is two levels deep (tensors, then their fields);
    // refuse deeper nesting before it costs anything.
    j = json::parse(header, [&path](int depth, json::parse_event_t, json&) {
      if (depth > kMaxHeaderDepth) fail(path, "header nested deeper than " + std::to_string(kMaxHeaderDepth) + " levels");
      return true;
    });
  } catch (const json::exception& e) {
    fail(path, std::string("header is not JSON (") + e.what() + ")");
  }
  if (!j.is_object()) fail(path, "header is not a JSON object");

  // One read into one buffer; the tensors are views of it where their
  // offsets suit their type (a file we wrote: always), else copies.
  // (From the heap, not LibTorch's caching allocator, which would keep the
  // whole file's size cached after the load.)
  std::shared_ptr<uint8_t[]> data(new (std::nothrow) uint8_t[data_size ? data_size : 1]);
  if (!data) fail(path, "no memory for its " + std::to_string(data_size) + " bytes of tensors");
  if (data_size) f.read(reinterpret_cast<char*>(data.get()), (std::streamsize)data_size);
  if (!f) fail(path, "truncated data");
  uint8_t* base = data.get();

  TensorFile out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) fail(path, "__metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) fail(path, "metadata value is not a string");
        out.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const json& t = *it;
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets"))
      fail(path, "tensor entry '" + it.key() + "' incomplete");
    const DType* dt = t["dtype"].is_string() ? dtype_by_name(t["dtype"].get<std::string>()) : nullptr;
    if (!dt) fail(path, "tensor '" + it.key() + "' has an unsupported dtype");
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    if (!t["shape"].is_array() || t["shape"].size() > 8) fail(path, "bad shape for '" + it.key() + "'");
    for (const auto& s : t["shape"]) {
      if (!s.is_number_unsigned() || s.get<uint64_t>() > (1ull << 32))
        fail(path, "bad shape for '" + it.key() + "'");
      shape.push_back((int64_t)s.get<uint64_t>());
      numel *= s.get<uint64_t>();
      if (numel > (1ull << 34)) fail(path, "tensor '" + it.key() + "' too large");
    }
    const auto& off = t["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(path, "bad data_offsets for '" + it.key() + "'");
    const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e || e > data_size || e - b != numel * dt->size)
      fail(path, "data_offsets of '" + it.key() + "' out of range or inconsistent with its shape");
    const auto opt = torch::TensorOptions().dtype(dt->type);
    torch::Tensor tensor;
    if (b % dt->size == 0)
      tensor = torch::from_blob(base + b, shape, [data](void*) {}, opt);  // the deleter keeps `data` alive
    else if ((tensor = torch::empty(shape, opt)), numel)
      std::memcpy(tensor.data_ptr(), base + b, e - b);
    if (numel && !all_finite(tensor)) fail(path, "tensor '" + it.key() + "' holds non-finite values (NaN or infinity)");
    out.tensors[it.key()] = tensor;
  }
  return out;
}

void save_safetensors(const std::string& path, const TensorFile& file) {
  json header = json::object();
  json meta = json::object();
  for (const auto& [k, v] : file.metadata) meta[k] = v;
  header["__metadata__"] = meta;
  std::vector<torch::Tensor> order;
  uint64_t offset = 0;
  for (const auto& [name, t0] : file.tensors) {
    auto t = t0.detach().to(torch::kCPU).contiguous();
    const DType* dt = dtype_by_type(t.scalar_type());
    if (!dt) throw std::runtime_error("cannot save tensor '" + name + "': unsupported dtype");
    const uint64_t bytes = (uint64_t)t.numel() * dt->size;
    header[name] = {{"dtype", dt->name}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    order.push_back(t);
  }
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';  // keep the data 8-byte aligned
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error("cannot write '" + tmp + "'");
    uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) f.put((char)((n >> (8 * i)) & 0xff));
    f.write(h.data(), (std::streamsize)h.size());
    for (const auto& t : order)
      f.write(static_cast<const char*>(t.data_ptr()), (std::streamsize)(t.numel() * t.element_size()));
    if (!f) throw std::runtime_error("write failed for '" + tmp + "'");
  }
  // Atomic replace, so an interrupted save never leaves a half-written model.
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename '" + tmp + "' to '" + path + "'");
}

namespace {
struct Fnv128 {
  uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
  void add(const void* p, size_t n) {
    auto s = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) {
      a = (a ^ s[i]) * 0x100000001b3ull;
      b = (b ^ s[i] ^ (a >> 29)) * 0x100000001b3ull;
    }
  }
};
}  // namespace

std::array<uint8_t, 16> fingerprint(const std::string& config_json,
                                    const std::map<std::string, torch::Tensor>& tensors) {
  Fnv128 h;
  h.add(config_json.data(), config_json.size());
  for (const auto& [name, t0] : tensors) {
    auto t = t0.detach().to(torch::kCPU).contiguous();
    h.add(name.data(), name.size());
    auto sizes = t.sizes().vec();
    h.add(sizes.data(), sizes.size() * sizeof(int64_t));
    int8_t st = (int8_t)t.scalar_type();
    h.add(&st, 1);
    h.add(t.data_ptr(), (size_t)t.numel() * t.element_size());
  }
  std::array<uint8_t, 16> out{};
  for (int i = 0; i < 8; ++i) {
    out[i] = (uint8_t)(h.a >> (56 - 8 * i));
    out[8 + i] = (uint8_t)(h.b >> (56 - 8 * i));
  }
  return out;
}

std::string to_hex(const uint8_t* data, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += d[data[i] >> 4];
    s += d[data[i] & 15];
  }
  return s;
}

}  // namespace evatok
