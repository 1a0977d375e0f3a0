#include "data/video_reader.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

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

constexpr int kMaxSide = 16384;  // what we agree to allocate for one frame
}  // namespace

void quiet_libav_logs() { av_log_set_level(AV_LOG_FATAL); }

struct VideoStream::Impl {
  std::string path;
  StreamOptions o;
  std::unique_ptr<AVFormatContext, FormatCloser> fmt;
  std::unique_ptr<AVCodecContext, CodecCloser> dec;
  std::unique_ptr<AVFrame, FrameFree> frame{av_frame_alloc()};
  std::unique_ptr<AVPacket, PacketFree> pkt{av_packet_alloc()};
  std::unique_ptr<SwsContext, SwsFree> sws;
  int si = -1;
  double tb = 0;
  int src_w = 0, src_h = 0, src_fmt = -1;  // what sws is set up for
  int out_w = 0, out_h = 0;                // output size (fixed by the first frame)
  int scale_w = 0, scale_h = 0;            // sws output before the centre cut
  std::vector<uint8_t> staging[3];
  int staging_ls[3] = {0, 0, 0};
  StreamFrame last;       // converted latest decoded frame
  int copies_left = 0;    // output instants `last` still fills
  int64_t next_index = 0; // next output frame number
  double first_t = -1;
  int decoded = 0;
  bool eof_sent = false, done = false;

  void setup_sws(const AVFrame* f) {
    if (out_w == 0) {
      if (o.width > 0 && o.height > 0) {
        out_w = o.width, out_h = o.height;
      } else {
        out_w = f->width, out_h = f->height;
      }
    }
    scale_w = out_w, scale_h = out_h;
    if (o.crop && o.width > 0) {  // cover the output, then cut its centre
      const double s = std::max((double)out_w / f->width, (double)out_h / f->height);
      scale_w = std::max(out_w, (int)std::ceil(f->width * s - 1e-6));
      scale_h = std::max(out_h, (int)std::ceil(f->height * s - 1e-6));
    }
    const AVPixelFormat dst = o.yuv420p ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_RGB24;
    // Bicubic as ffmpeg's own scale filter for the codec's input; bilinear
    // for RGB, as training has always read it.
    const int flags = o.yuv420p ? SWS_BICUBIC : SWS_BILINEAR;
    sws.reset(sws_getContext(f->width, f->height, (AVPixelFormat)f->format, scale_w, scale_h, dst, flags, nullptr,
                             nullptr, nullptr));
    if (!sws) throw std::runtime_error(path + ": unsupported pixel format");
    src_w = f->width, src_h = f->height, src_fmt = f->format;
    // swscale's SIMD paths may write past a tightly packed row: convert into
    // aligned, padded buffers, then copy the rows out.
    const int planes = o.yuv420p ? 3 : 1;
    for (int c = 0; c < planes; ++c) {
      const int w = c == 0 ? (o.yuv420p ? scale_w : 3 * scale_w) : (scale_w + 1) / 2;
      const int h = c == 0 ? scale_h : (scale_h + 1) / 2;
      staging_ls[c] = FFALIGN(w, 64) + 64;
      staging[c].assign((size_t)staging_ls[c] * (h + 1), 0);
    }
  }

  void convert(const AVFrame* f) {
    if (f->width != src_w || f->height != src_h || f->format != src_fmt) setup_sws(f);
    uint8_t* dst[4] = {staging[0].data(), nullptr, nullptr, nullptr};
    int dst_ls[4] = {staging_ls[0], 0, 0, 0};
    if (o.yuv420p)
      for (int c = 1; c < 3; ++c) dst[c] = staging[c].data(), dst_ls[c] = staging_ls[c];
    sws_scale(sws.get(), f->data, f->linesize, 0, f->height, dst, dst_ls);
    // The centre cut; even offsets keep 4:2:0 chroma aligned with luma.
    int x0 = (scale_w - out_w) / 2, y0 = (scale_h - out_h) / 2;
    if (o.yuv420p) x0 &= ~1, y0 &= ~1;
    last.width = out_w, last.height = out_h;
    const int planes = o.yuv420p ? 3 : 1;
    for (int c = 0; c < planes; ++c) {
      const bool chroma = c > 0;
      const int bpp = o.yuv420p ? 1 : 3;
      const int w = chroma ? (out_w + 1) / 2 : out_w, h = chroma ? (out_h + 1) / 2 : out_h;
      const int xo = chroma ? x0 / 2 : x0, yo = chroma ? y0 / 2 : y0;
      last.linesize[c] = w * bpp;
      last.plane[c].resize((size_t)w * bpp * h);
      for (int y = 0; y < h; ++y)
        memcpy(last.plane[c].data() + (size_t)y * w * bpp, staging[c].data() + (size_t)(y + yo) * staging_ls[c] + (size_t)xo * bpp,
               (size_t)w * bpp);
    }
  }

  // Takes a decoded frame: how many output instants it fills.
  void take(AVFrame* f) {
    if (f->width < 1 || f->height < 1 || f->width > kMaxSide || f->height > kMaxSide) return;
    const int64_t pts = f->best_effort_timestamp;
    const double t = pts == AV_NOPTS_VALUE ? decoded / (o.fps > 0 ? o.fps : 25.0) : pts * tb;
    ++decoded;
    if (first_t < 0) first_t = t;
    int copies = 1;
    if (o.fps > 0) {
      copies = 0;
      while (first_t + next_index / o.fps <= t + 1e-6 && copies < 100000) ++next_index, ++copies;
      next_index -= copies;  // handed out one by one in next()
    }
    if (copies == 0) return;
    convert(f);
    last.time = o.fps > 0 ? 0 : t - first_t;
    copies_left = copies;
  }

  // Decodes until a frame fills at least one output instant; false at the end.
  bool fill() {
    int e;
    for (;;) {
      e = avcodec_receive_frame(dec.get(), frame.get());
      if (e >= 0) {
        take(frame.get());
        av_frame_unref(frame.get());
        if (copies_left > 0) return true;
        continue;
      }
      if (e == AVERROR_EOF) return false;
      if (e != AVERROR(EAGAIN)) throw std::runtime_error(path + ": decoding failed: " + av_error(e));
      if (eof_sent) return false;
      // Feed the next packet of our stream.
      for (;;) {
        e = av_read_frame(fmt.get(), pkt.get());
        if (e < 0) {
          avcodec_send_packet(dec.get(), nullptr);
          eof_sent = true;
          break;
        }
        if (pkt->stream_index != si) {
          av_packet_unref(pkt.get());
          continue;
        }
        e = avcodec_send_packet(dec.get(), pkt.get());
        av_packet_unref(pkt.get());
        if (e < 0 && e != AVERROR(EAGAIN)) continue;  // a corrupt packet: skip it
        break;
      }
    }
  }
};

VideoStream::VideoStream(const std::string& path, const StreamOptions& o) : p_(new Impl) {
  if (o.width < 0 || o.height < 0 || o.width > kMaxSide || o.height > kMaxSide || (o.width > 0) != (o.height > 0))
    throw std::invalid_argument("output size must be W x H with both in 1.." + std::to_string(kMaxSide) + ", or 0x0");
  p_->path = path;
  p_->o = o;
  AVFormatContext* raw = nullptr;
  int e = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (e < 0) throw std::runtime_error("cannot open video " + path + ": " + av_error(e));
  p_->fmt.reset(raw);
  if ((e = avformat_find_stream_info(raw, nullptr)) < 0) throw std::runtime_error(path + ": " + av_error(e));
  const AVCodec* codec = nullptr;
  p_->si = av_find_best_stream(raw, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (p_->si < 0 || !codec) throw std::runtime_error(path + ": no decodable video stream");
  AVStream* st = raw->streams[p_->si];
  p_->tb = av_q2d(st->time_base);
  p_->dec.reset(avcodec_alloc_context3(codec));
  if (!p_->dec || avcodec_parameters_to_context(p_->dec.get(), st->codecpar) < 0)
    throw std::runtime_error(path + ": cannot set up the decoder");
  p_->dec->thread_count = 1;
  if ((e = avcodec_open2(p_->dec.get(), codec, nullptr)) < 0) throw std::runtime_error(path + ": " + av_error(e));
}

VideoStream::~VideoStream() = default;

bool VideoStream::next(StreamFrame& f) {
  Impl& p = *p_;
  if (p.done) return false;
  if (p.copies_left == 0 && !p.fill()) {
    p.done = true;
    return false;
  }
  --p.copies_left;
  f.width = p.last.width, f.height = p.last.height;
  for (int c = 0; c < 3; ++c) f.plane[c] = p.last.plane[c], f.linesize[c] = p.last.linesize[c];
  f.index = p.next_index++;
  f.time = p.o.fps > 0 ? f.index / p.o.fps : p.last.time;
  return true;
}

double VideoStream::source_fps() const {
  const AVRational r = p_->fmt->streams[p_->si]->avg_frame_rate;
  return r.num > 0 && r.den > 0 ? av_q2d(r) : 0;
}

double VideoStream::duration() const {
  return p_->fmt->duration > 0 ? p_->fmt->duration / (double)AV_TIME_BASE : 0;
}

Video read_video_libav(const std::string& path, double fps, int max_frames) {
  StreamOptions so;
  so.fps = fps;
  VideoStream s(path, so);
  Video v;
  v.name = path;
  std::vector<torch::Tensor> frames;
  StreamFrame f;
  while ((int)frames.size() < max_frames && s.next(f)) {
    v.width = f.width, v.height = f.height;
    frames.push_back(torch::from_blob(f.plane[0].data(), {f.height, f.width, 3}, torch::kUInt8).clone());
  }
  if (frames.empty()) throw std::runtime_error(path + ": no frames decoded");
  v.frames = torch::stack(frames);
  return v;
}

}  // namespace evatok
