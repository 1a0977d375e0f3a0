// Stand-in for builds without the system's FFmpeg libraries (-Dlibav=disabled
// or not installed): only Y4M videos can be read, and not as a stream.
#include "data/video_reader.h"

#include <stdexcept>

namespace evatok {

namespace {
const char* kNoLibav =
    ": this build reads only .y4m videos without --fps (built without the system's FFmpeg libraries; install "
    "libavformat-dev libavcodec-dev libswscale-dev)";
}

Video read_video_libav(const std::string& path, double, int) { throw std::runtime_error(path + kNoLibav); }

void quiet_libav_logs() {}
struct VideoStream::Impl {};
VideoStream::VideoStream(const std::string& path, const StreamOptions&) { throw std::runtime_error(path + kNoLibav); }
VideoStream::~VideoStream() = default;
bool VideoStream::next(StreamFrame&) { return false; }
double VideoStream::source_fps() const { return 0; }
double VideoStream::duration() const { return 0; }

}  // namespace evatok
