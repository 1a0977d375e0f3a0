// Stand-in for builds without the system's FFmpeg libraries (-Dlibav=disabled
// or not installed): only Y4M videos can be read.
#include "data/video_reader.h"

#include <stdexcept>

namespace evatok {

Video read_video_libav(const std::string& path, double, int) {
  throw std::runtime_error(path + ": this build reads only .y4m videos without --fps (built without the system's "
                                  "FFmpeg libraries; install libavformat-dev libavcodec-dev libswscale-dev)");
}

}  // namespace evatok
