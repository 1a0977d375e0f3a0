#include "mkv_writer.h"

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace evatok::cli {

namespace {

using Bytes = std::vector<uint8_t>;

void put_id(Bytes& b, uint32_t id) {
  for (int s = 24; s >= 0; s -= 8)
    if ((id >> s) || s == 0) {
      for (int k = s; k >= 0; k -= 8) b.push_back((uint8_t)(id >> k));
      break;
    }
}
void put_size(Bytes& b, uint64_t n) {  // always 8 bytes: simple, and any size fits
  b.push_back(0x01);
  for (int s = 48; s >= 0; s -= 8) b.push_back((uint8_t)(n >> s));
}
void element(Bytes& b, uint32_t id, const Bytes& payload) {
  put_id(b, id);
  put_size(b, payload.size());
  b.insert(b.end(), payload.begin(), payload.end());
}
void uint_el(Bytes& b, uint32_t id, uint64_t v) {
  Bytes p;
  int n = 1;
  while (n < 8 && (v >> (8 * n))) ++n;
  for (int k = n - 1; k >= 0; --k) p.push_back((uint8_t)(v >> (8 * k)));
  element(b, id, p);
}
void str_el(Bytes& b, uint32_t id, const std::string& s) { element(b, id, Bytes(s.begin(), s.end())); }
void float_el(Bytes& b, uint32_t id, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  Bytes p;
  for (int k = 7; k >= 0; --k) p.push_back((uint8_t)(u >> (8 * k)));
  element(b, id, p);
}

}  // namespace

MkvWriter::MkvWriter(int width, int height, int fps_num, int fps_den, const uint8_t* cp, size_t cp_size)
    : w_(width), h_(height), num_(fps_num), den_(fps_den), cp_(cp, cp + cp_size) {}

void MkvWriter::add(const uint8_t* packet, size_t size, int64_t first_frame, int nb_frames) {
  // Timestamps in milliseconds (the default TimestampScale); one cluster per
  // packet, so the block's relative timestamp is 0.
  const int64_t ms = first_frame * 1000 * den_ / num_;
  Bytes block = {0x81, 0x00, 0x00, 0x80};  // track 1, relative time 0, keyframe
  block.insert(block.end(), packet, packet + size);
  Bytes cl;
  uint_el(cl, 0xE7, (uint64_t)ms);
  element(cl, 0xA3, block);
  element(clusters_, 0x1F43B675, cl);
  end_frame_ = std::max(end_frame_, first_frame + nb_frames);
}

void MkvWriter::write(const std::string& path) const {
  Bytes file, ebml;
  uint_el(ebml, 0x4286, 1);
  uint_el(ebml, 0x42F7, 1);
  uint_el(ebml, 0x42F2, 4);
  uint_el(ebml, 0x42F3, 8);
  str_el(ebml, 0x4282, "matroska");
  uint_el(ebml, 0x4287, 4);
  uint_el(ebml, 0x4285, 2);
  element(file, 0x1A45DFA3, ebml);

  Bytes seg, info, tracks, entry, video;
  uint_el(info, 0x2AD7B1, 1000000);
  str_el(info, 0x4D80, "evatok detokenize");
  str_el(info, 0x5741, "evatok detokenize");
  float_el(info, 0x4489, (double)end_frame_ * 1000.0 * den_ / num_);
  element(seg, 0x1549A966, info);
  uint_el(entry, 0xD7, 1);
  uint_el(entry, 0x73C5, 1);
  uint_el(entry, 0x83, 1);  // video
  uint_el(entry, 0x9C, 0);  // no lacing
  str_el(entry, 0x86, "V_EVATOK");
  element(entry, 0x63A2, cp_);
  uint_el(entry, 0x23E383, (uint64_t)(1e9 * den_ / num_));  // default duration of a frame, ns
  uint_el(video, 0xB0, (uint64_t)w_);
  uint_el(video, 0xBA, (uint64_t)h_);
  element(entry, 0xE0, video);
  element(tracks, 0xAE, entry);
  element(seg, 0x1654AE6B, tracks);
  seg.insert(seg.end(), clusters_.begin(), clusters_.end());
  element(file, 0x18538067, seg);

  const std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path + ": " + strerror(errno));
  const bool ok = fwrite(file.data(), 1, file.size(), f) == file.size();
  if ((fclose(f) != 0) || !ok || rename(tmp.c_str(), path.c_str()) != 0) {
    remove(tmp.c_str());
    throw std::runtime_error("cannot write " + path);
  }
}

}  // namespace evatok::cli
