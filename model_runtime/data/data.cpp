#include "data/data.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/frames.h"
#include "data/video_reader.h"

namespace evatok {

Video read_y4m(const std::string& path, int max_frames) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open video " + path);
  std::string header;
  std::getline(f, header);
  if (header.rfind("YUV4MPEG2", 0) != 0) throw std::runtime_error(path + " is not a Y4M file");
  Video v;
  v.name = path;
  std::string chroma = "420";
  std::istringstream hs(header.substr(9));
  std::string tok;
  while (hs >> tok) {
    if (tok[0] == 'W') v.width = std::stoi(tok.substr(1));
    if (tok[0] == 'H') v.height = std::stoi(tok.substr(1));
    if (tok[0] == 'C') chroma = tok.substr(1);
  }
  if (v.width < 1 || v.height < 1 || v.width > 8192 || v.height > 8192)
    throw std::runtime_error(path + ": bad Y4M frame size");
  const bool is444 = chroma.rfind("444", 0) == 0;
  if (!is444 && chroma.rfind("420", 0) != 0) throw std::runtime_error(path + ": only 4:2:0 and 4:4:4 Y4M supported");
  const int cw = is444 ? v.width : (v.width + 1) / 2, ch = is444 ? v.height : (v.height + 1) / 2;
  const size_t frame_bytes = (size_t)v.width * v.height + 2 * (size_t)cw * ch;
  std::vector<uint8_t> buf(frame_bytes);
  std::vector<torch::Tensor> frames;
  std::string line;
  std::vector<uint8_t> rgb((size_t)v.width * v.height * 3);
  while ((int)frames.size() < max_frames && std::getline(f, line)) {
    if (line.rfind("FRAME", 0) != 0) throw std::runtime_error(path + ": bad FRAME marker");
    f.read(reinterpret_cast<char*>(buf.data()), (std::streamsize)frame_bytes);
    if (!f) break;  // truncated last frame: ignore it
    auto out = torch::empty({v.height, v.width, 3}, torch::kUInt8);
    auto* o = out.data_ptr<uint8_t>();
    const uint8_t* Yp = buf.data();
    const uint8_t* Up = Yp + (size_t)v.width * v.height;
    const uint8_t* Vp = Up + (size_t)cw * ch;
    for (int y = 0; y < v.height; ++y)
      for (int x = 0; x < v.width; ++x) {
        const int cx = is444 ? x : x / 2, cy = is444 ? y : y / 2;
        const float Y = 1.164f * (Yp[(size_t)y * v.width + x] - 16);
        const float U = Up[(size_t)cy * cw + cx] - 128.f, V = Vp[(size_t)cy * cw + cx] - 128.f;
        const float rgbf[3] = {Y + 1.596f * V, Y - 0.392f * U - 0.813f * V, Y + 2.017f * U};
        for (int c = 0; c < 3; ++c)
          o[((size_t)y * v.width + x) * 3 + c] = (uint8_t)std::min(255.f, std::max(0.f, std::nearbyint(rgbf[c])));
      }
    frames.push_back(out);
  }
  if (frames.empty()) throw std::runtime_error(path + ": no complete frames");
  v.frames = torch::stack(frames);
  return v;
}

std::vector<std::string> list_videos(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) throw std::runtime_error("cannot open data folder " + dir);
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    const auto dot = n.rfind('.');
    if (dot == std::string::npos || n[0] == '.') continue;
    std::string ext = n.substr(dot + 1);
    for (auto& ch : ext) ch = (char)std::tolower((unsigned char)ch);
    static const char* kExt[] = {"y4m", "mp4", "mkv", "webm", "avi", "mov", "nut", "m4v", "mpg", "mpeg", "ts", "ogv"};
    for (const char* k : kExt)
      if (ext == k) out.push_back(dir + "/" + n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  if (out.empty()) throw std::runtime_error("no videos (.y4m, .mp4, .mkv, ...) in " + dir);
  return out;
}

std::vector<Video> load_videos(const std::string& dir, const VideoLoadOptions& o) {
  std::vector<Video> out;
  for (const auto& p : list_videos(dir)) {
    const bool y4m = p.size() > 4 && p.substr(p.size() - 4) == ".y4m";
    Video v = y4m && o.fps <= 0 ? read_y4m(p, o.max_frames) : read_video_libav(p, o.fps, o.max_frames);
    const int s = std::min(v.width, v.height);
    if (o.short_side > 0 && s != o.short_side) {
      const int h = (int)std::lround((double)v.height * o.short_side / s);
      const int w = (int)std::lround((double)v.width * o.short_side / s);
      namespace F = torch::nn::functional;
      auto x = v.frames.permute({0, 3, 1, 2}).to(torch::kFloat32);
      auto opts = F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w});
      x = s > o.short_side ? F::interpolate(x, opts.mode(torch::kArea))
                           : F::interpolate(x, opts.mode(torch::kBilinear).align_corners(false));
      v.frames = x.round().clamp(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
      v.width = w, v.height = h;
    }
    out.push_back(std::move(v));
  }
  return out;
}

ClipSampler::ClipSampler(std::vector<Video> videos, int frames, int height, int width, uint64_t seed)
    : videos_(std::move(videos)), T_(frames), H_(height), W_(width), rng_(seed) {
  for (const auto& v : videos_)
    if (v.width < W_ || v.height < H_)
      throw std::runtime_error(v.name + " is smaller than the clip size");
}

torch::Tensor ClipSampler::crop(const Video& v, int start, int y, int x, bool flip) const {
  const int64_t F = v.frames.size(0);
  auto idx = torch::arange(start, start + T_, torch::kInt64).clamp_max(F - 1);
  auto c = v.frames.index_select(0, idx).slice(1, y, y + H_).slice(2, x, x + W_);
  if (flip) c = c.flip({2});
  return c.permute({3, 0, 1, 2}).to(torch::kFloat32).div(255.0).sub(0.5);
}

std::vector<ClipSpec> ClipSampler::draw(int batch) {
  std::vector<ClipSpec> out(batch);
  for (auto& c : out) {
    c.video = (int)(rng_() % videos_.size());
    const auto& v = videos_[c.video];
    const int F = (int)v.frames.size(0);
    c.start = F > T_ ? (int)(rng_() % (F - T_ + 1)) : 0;
    c.y = (int)(rng_() % (v.height - H_ + 1));
    c.x = (int)(rng_() % (v.width - W_ + 1));
    c.flip = (int)(rng_() & 1);
  }
  return out;
}

torch::Tensor ClipSampler::clips(const std::vector<ClipSpec>& specs) const {
  std::vector<torch::Tensor> out;
  for (const auto& c : specs) {
    if (c.video < 0 || c.video >= (int)videos_.size()) throw std::runtime_error("clip spec names a missing video");
    const auto& v = videos_[c.video];
    if (c.start < 0 || c.start >= v.frames.size(0) || c.y < 0 || c.x < 0 || c.y + H_ > v.height || c.x + W_ > v.width)
      throw std::runtime_error("clip spec lies outside video " + v.name);
    out.push_back(crop(v, c.start, c.y, c.x, c.flip != 0));
  }
  return torch::stack(out);
}

torch::Tensor ClipSampler::sample(int batch) { return clips(draw(batch)); }

torch::Tensor ClipSampler::fixed(int max_clips, int per_video, std::vector<ClipSpec>* specs) const {
  if (per_video < 1) throw std::runtime_error("clips per video must be at least 1");
  std::vector<torch::Tensor> out;
  for (size_t i = 0; i < videos_.size() && (int)out.size() < max_clips; ++i) {
    const auto& v = videos_[i];
    const int last = std::max(0, (int)v.frames.size(0) - T_);  // latest start of a full window
    const int n = std::min(per_video, last + 1);                // a short video gives fewer windows
    for (int j = 0; j < n && (int)out.size() < max_clips; ++j) {
      ClipSpec s{(int)i, n > 1 ? (int)((int64_t)last * j / (n - 1)) : 0, (v.height - H_) / 2, (v.width - W_) / 2, 0};
      out.push_back(crop(v, s.start, s.y, s.x, false));
      if (specs) specs->push_back(s);
    }
  }
  return torch::stack(out);
}

}  // namespace evatok
