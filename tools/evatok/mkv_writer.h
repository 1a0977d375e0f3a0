// A one-track Matroska file of evatok packets (CodecID V_EVATOK, the stream
// header as CodecPrivate), what `ffmpeg -c:v evatok out.mkv` would store, for
// `evatok detokenize --mkv`. Built in memory, written at close.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace evatok::cli {

class MkvWriter {
 public:
  MkvWriter(int width, int height, int fps_num, int fps_den, const uint8_t* codec_private, size_t cp_size);
  // One keyframe packet holding frames [first_frame, first_frame + nb_frames).
  void add(const uint8_t* packet, size_t size, int64_t first_frame, int nb_frames);
  void write(const std::string& path) const;  // throws on an I/O error

 private:
  int w_, h_, num_, den_;
  std::vector<uint8_t> cp_, clusters_;
  int64_t end_frame_ = 0;
};

}  // namespace evatok::cli
