// Reads any video the system's FFmpeg libraries (libavformat/libavcodec, not
// our patched static build) can decode, resampled to a frame rate. Used by
// training, evaluation and `evatok tokenize` only; libevatok itself never
// links FFmpeg, so it can live inside our patched ffmpeg binary without clashes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/data.h"

namespace evatok {

// fps <= 0 keeps every decoded frame. Throws std::runtime_error with a reason.
Video read_video_libav(const std::string& path, double fps, int max_frames);

// Only fatal messages from the FFmpeg libraries (callers report failures).
void quiet_libav_logs();

// How VideoStream hands out frames.
struct StreamOptions {
  double fps = 0;             // output rate; <= 0 keeps every decoded frame
  int width = 0, height = 0;  // output size; 0 x 0 keeps the source size
  bool crop = true;           // with a size: scale to cover it and cut the centre (else stretch)
  bool yuv420p = false;       // planar 4:2:0 (BT.601 limited, what the codec takes) instead of RGB24
};

// One output frame: RGB24 in plane 0, or Y, U, V planes (chroma at half size,
// rounded up), each tightly packed.
struct StreamFrame {
  int width = 0, height = 0;
  int64_t index = 0;  // output frame number at the stream's rate
  double time = 0;    // seconds from the first frame
  std::vector<uint8_t> plane[3];
  int linesize[3] = {0, 0, 0};
};

// Frames of one video, decoded as they are asked for (memory stays at a few
// frames whatever the length). A mid-stream size change is scaled back to the
// first frame's size.
class VideoStream {
 public:
  VideoStream(const std::string& path, const StreamOptions& o);  // throws: cannot open, no video stream
  ~VideoStream();
  VideoStream(const VideoStream&) = delete;
  VideoStream& operator=(const VideoStream&) = delete;
  // The next frame at the output rate; false at the end. Throws on a decoder
  // failure (corrupt packets are skipped, as ffmpeg does).
  bool next(StreamFrame& f);
  double source_fps() const;  // the stream's average rate (0 if unknown)
  double duration() const;    // seconds, 0 if the container does not say
 private:
  struct Impl;
  std::unique_ptr<Impl> p_;
};

}  // namespace evatok
