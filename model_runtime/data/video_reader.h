// Reads any video the system's FFmpeg libraries (libavformat/libavcodec, not
// our patched static build) can decode, as RGB frames resampled to a frame
// rate. Used by training and evaluation only; libevatok itself never links
// FFmpeg, so it can live inside our patched ffmpeg binary without clashes.
#pragma once
#include <string>

#include "data/data.h"

namespace evatok {

// fps <= 0 keeps every decoded frame. Throws std::runtime_error with a reason.
Video read_video_libav(const std::string& path, double fps, int max_frames);

}  // namespace evatok
