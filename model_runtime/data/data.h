// Training/evaluation data: Y4M videos (any FFmpeg can write:
// `ffmpeg -i in.mp4 -pix_fmt yuv420p out.y4m`) held in memory as RGB, and
// random clip sampling at the model's geometry.
#pragma once
#include <torch/torch.h>

#include <random>
#include <string>
#include <vector>

namespace evatok {

struct Video {
  std::string name;
  int width = 0, height = 0;
  torch::Tensor frames;  // uint8 [F, H, W, 3]
};

// Reads one Y4M file (4:2:0 or 4:4:4, 8-bit); throws with a reason.
Video read_y4m(const std::string& path, int max_frames = 100000);
// All videos in a folder (.y4m and the usual container extensions), sorted.
std::vector<std::string> list_videos(const std::string& dir);

// How videos become training/evaluation material: frame rate (0 = as stored),
// shorter side in pixels (0 = as stored; else area/bilinear resize) and a cap
// on frames per video. Y4M is read natively, everything else through the
// system's FFmpeg libraries (video_reader.h).
struct VideoLoadOptions {
  double fps = 0;
  int short_side = 0;
  int max_frames = 64;
};
std::vector<Video> load_videos(const std::string& dir, const VideoLoadOptions& o = {});

// Where a clip comes from: video index, first frame, crop origin, mirror.
struct ClipSpec {
  int video = 0, start = 0, y = 0, x = 0, flip = 0;
};

class ClipSampler {
 public:
  ClipSampler(std::vector<Video> videos, int frames, int height, int width, uint64_t seed);
  // [B,3,T,H,W] float in [-0.5,0.5]: random video, start, crop, flip.
  torch::Tensor sample(int batch);
  std::vector<ClipSpec> draw(int batch);                     // random specs
  torch::Tensor clips(const std::vector<ClipSpec>& specs) const;  // throws on a bad spec
  const std::vector<Video>& videos() const { return videos_; }
  // Deterministic clips, centre crop: the first window of each video, or with
  // per_video > 1 that many windows evenly spaced over each video (for long
  // footage). At most max_clips in all; `specs` (optional) says where each is from.
  torch::Tensor fixed(int max_clips, int per_video = 1, std::vector<ClipSpec>* specs = nullptr) const;
  size_t size() const { return videos_.size(); }

 private:
  torch::Tensor crop(const Video& v, int start, int y, int x, bool flip) const;
  std::vector<Video> videos_;
  int T_, H_, W_;
  std::mt19937_64 rng_;
};

}  // namespace evatok
