#include "data/video_reader.h"

#include <cstring>
#include <memory>
#include <vector>
#include <stdexcept>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

namespace evatok {

namespace {
std::string av_error(int e) {
  char b[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(e, b, sizeof b);
  return b;
}
struct FormatCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct CodecCloser {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsFree {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
}  // namespace

Video read_video_libav(const std::string& path, double fps, int max_frames) {
  AVFormatContext* raw = nullptr;
  int e = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (e < 0) throw std::runtime_error("cannot open video " + path + ": " + av_error(e));
  std::unique_ptr<AVFormatContext, FormatCloser> fmt(raw);
  if ((e = avformat_find_stream_info(fmt.get(), nullptr)) < 0)
    throw std::runtime_error(path + ": " + av_error(e));
  const AVCodec* codec = nullptr;
  const int si = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (si < 0 || !codec) throw std::runtime_error(path + ": no decodable video stream");
  AVStream* st = fmt->streams[si];
  std::unique_ptr<AVCodecContext, CodecCloser> dec(avcodec_alloc_context3(codec));
  if (!dec || avcodec_parameters_to_context(dec.get(), st->codecpar) < 0)
    throw std::runtime_error(path + ": cannot set up the decoder");
  dec->thread_count = 1;
  if ((e = avcodec_open2(dec.get(), codec, nullptr)) < 0) throw std::runtime_error(path + ": " + av_error(e));

  Video v;
  v.name = path;
  std::unique_ptr<AVFrame, FrameFree> frame(av_frame_alloc());
  std::unique_ptr<AVPacket, PacketFree> pkt(av_packet_alloc());
  std::unique_ptr<SwsContext, SwsFree> sws;
  std::vector<torch::Tensor> frames;
  std::vector<uint8_t> staging;
  const double tb = av_q2d(st->time_base);
  int64_t next = 0;  // index of the next output frame at the target rate
  double first_t = -1;
  auto take = [&](AVFrame* f) {
    if (f->width < 1 || f->height < 1) return;
    if (v.width == 0) {
      v.width = f->width, v.height = f->height;
      sws.reset(sws_getContext(f->width, f->height, (AVPixelFormat)f->format, f->width, f->height, AV_PIX_FMT_RGB24,
                               SWS_BILINEAR, nullptr, nullptr, nullptr));
      if (!sws) throw std::runtime_error(path + ": unsupported pixel format");
    }
    if (f->width != v.width || f->height != v.height) return;  // mid-stream size change: skip
    const int64_t pts = f->best_effort_timestamp;
    const double t = pts == AV_NOPTS_VALUE ? (double)frames.size() / (fps > 0 ? fps : 25.0) : pts * tb;
    if (first_t < 0) first_t = t;
    // Keep this frame for every output instant it is the latest frame at.
    int copies = 1;
    if (fps > 0) {
      copies = 0;
      while (first_t + next / fps <= t + 1e-6) ++next, ++copies;
    }
    if (copies == 0) return;
    // swscale's SIMD paths may write past a tightly packed row: convert into
    // an aligned, padded buffer, then copy the rows out.
    const int ls = FFALIGN(3 * v.width, 64) + 64;
    staging.resize((size_t)ls * (v.height + 1));
    uint8_t* dst[4] = {staging.data(), nullptr, nullptr, nullptr};
    int dst_ls[4] = {ls, 0, 0, 0};
    sws_scale(sws.get(), f->data, f->linesize, 0, v.height, dst, dst_ls);
    auto out = torch::empty({v.height, v.width, 3}, torch::kUInt8);
    for (int y = 0; y < v.height; ++y)
      memcpy(out.data_ptr<uint8_t>() + (size_t)y * 3 * v.width, staging.data() + (size_t)y * ls, 3 * (size_t)v.width);
    for (int c = 0; c < copies && (int)frames.size() < max_frames; ++c) frames.push_back(out);
  };
  auto drain = [&]() {
    while ((e = avcodec_receive_frame(dec.get(), frame.get())) >= 0) {
      take(frame.get());
      av_frame_unref(frame.get());
    }
    if (e != AVERROR(EAGAIN) && e != AVERROR_EOF) throw std::runtime_error(path + ": decoding failed: " + av_error(e));
  };
  while ((int)frames.size() < max_frames && av_read_frame(fmt.get(), pkt.get()) >= 0) {
    if (pkt->stream_index == si) {
      e = avcodec_send_packet(dec.get(), pkt.get());
      av_packet_unref(pkt.get());
      if (e < 0 && e != AVERROR(EAGAIN)) continue;  // a corrupt packet: skip it
      drain();
    } else {
      av_packet_unref(pkt.get());
    }
  }
  if ((int)frames.size() < max_frames) {
    avcodec_send_packet(dec.get(), nullptr);
    drain();
  }
  if (frames.empty()) throw std::runtime_error(path + ": no frames decoded");
  v.frames = torch::stack(frames);
  return v;
}

}  // namespace evatok
