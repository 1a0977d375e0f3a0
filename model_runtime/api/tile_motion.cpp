#include "api/tile_motion.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace evatok {

torch::Tensor reference_canvas(const torch::Tensor& last, int tiles_x, int tiles_y) {
  const int64_t c = last.size(1), h = last.size(2), w = last.size(3);
  // [ty, tx, c, h, w] -> [c, ty, h, tx, w]
  return last.to(torch::kCPU, torch::kFloat32)
      .reshape({tiles_y, tiles_x, c, h, w})
      .permute({2, 0, 3, 1, 4})
      .reshape({c, tiles_y * h, tiles_x * w})
      .contiguous();
}

namespace {

// Positions are integers in 1/16 pixel, so every build computes the same.
constexpr int kSub = 16;

struct View {  // a tile of the canvas
  const float* img;
  int64_t C, H, W;
  int width, height, tile_w, tile_h, tx, ty;
};

View view_of(const torch::Tensor& canvas, int width, int height, int tile_w, int tile_h, int tx, int ty) {
  return {canvas.data_ptr<float>(), canvas.size(0), canvas.size(1), canvas.size(2), width, height,
          tile_w, tile_h, tx, ty};
}

// The tile moved by (mx, my) / 16 pixels, every `stride`-th row and column:
// calls out(c, y, x, value).
template <typename Out>
void sample(const View& v, int64_t mx, int64_t my, int stride, Out&& out) {
  const int64_t max_x = (int64_t)(v.width - 1) * kSub, max_y = (int64_t)(v.height - 1) * kSub;
  for (int j = 0; j < v.tile_h; j += stride) {
    const int64_t sy = std::clamp<int64_t>((int64_t)(v.ty * v.tile_h + j) * kSub - my, 0, max_y);
    const int64_t y0 = sy / kSub, y1 = std::min<int64_t>(y0 + 1, v.height - 1);
    const float fy = (float)(sy % kSub) / kSub;
    for (int i = 0; i < v.tile_w; i += stride) {
      const int64_t sx = std::clamp<int64_t>((int64_t)(v.tx * v.tile_w + i) * kSub - mx, 0, max_x);
      const int64_t x0 = sx / kSub, x1 = std::min<int64_t>(x0 + 1, v.width - 1);
      const float fx = (float)(sx % kSub) / kSub;
      for (int64_t c = 0; c < v.C; ++c) {
        const float* p = v.img + c * v.H * v.W;
        const float top = p[y0 * v.W + x0] + fx * (p[y0 * v.W + x1] - p[y0 * v.W + x0]);
        const float bottom = p[y1 * v.W + x0] + fx * (p[y1 * v.W + x1] - p[y1 * v.W + x0]);
        out(c, j, i, top + fy * (bottom - top));
      }
    }
  }
}

// The displacement of frame f, in 1/16 pixel.
int64_t shift(int offset, int velocity, int f) { return (int64_t)offset * 4 + (int64_t)(f + 1) * velocity; }

// Squared error of the tile moved by (mx, my) against frame f of src [3, T, H, W].
double shift_error(const View& v, int64_t mx, int64_t my, int f, const torch::TensorAccessor<float, 4>& s,
                   int stride = 1) {
  double e = 0;
  sample(v, mx, my, stride, [&](int64_t c, int j, int i, float x) {
    const double d = (double)x - s[c][f][j][i];
    e += d * d;
  });
  return e;
}

// The displacement of the tile at frame f, within +-range of (cx, cy), in
// steps (all in 1/16 pixel); coarse steps compare every other pixel.
std::pair<int64_t, int64_t> best_shift(const View& v, int f, const torch::TensorAccessor<float, 4>& s, int64_t cx,
                                       int64_t cy, int64_t range, int64_t step) {
  const int stride = step >= 2 * kSub ? 2 : 1;
  double least = std::numeric_limits<double>::infinity();
  std::pair<int64_t, int64_t> best{cx, cy};
  for (int64_t y = cy - range; y <= cy + range; y += step)
    for (int64_t x = cx - range; x <= cx + range; x += step) {
      const double e = shift_error(v, x, y, f, s, stride);
      if (e < least) least = e, best = {x, y};
    }
  return best;
}

int clamp8(double x) { return (int)std::clamp<long>(std::lround(x), -128, 127); }

}  // namespace

torch::Tensor moved_tile(const torch::Tensor& canvas, int width, int height, int tile_w, int tile_h, int tx, int ty,
                         const TileMotion& m, int frames) {
  const View v = view_of(canvas, width, height, tile_w, tile_h, tx, ty);
  auto out = torch::empty({canvas.size(0), frames, tile_h, tile_w}, torch::kFloat32);
  auto o = out.accessor<float, 4>();
  for (int f = 0; f < frames; ++f)
    sample(v, shift(m.ox, m.vx, f), shift(m.oy, m.vy, f), 1,
           [&](int64_t c, int j, int i, float x) { o[c][f][j][i] = x; });
  return out;
}

TileMotion search_motion(const torch::Tensor& canvas, int width, int height, int tx, int ty,
                         const torch::Tensor& src_in, double limit) {
  const auto src = src_in.to(torch::kCPU, torch::kFloat32).contiguous();
  const auto s = src.accessor<float, 4>();
  const int frames = (int)src.size(1), tile_h = (int)src.size(2), tile_w = (int)src.size(3);
  const View v = view_of(canvas, width, height, tile_w, tile_h, tx, ty);
  // The displacement at the last frame (up to 2 px per frame plus an offset of
  // up to 4 px), then at frame 4 near where that velocity puts it.
  const int fb = frames - 1, fa = std::min(3, fb);
  auto b = best_shift(v, fb, s, 0, 0, (int64_t)(2 * frames + 4) * kSub, 2 * kSub);
  b = best_shift(v, fb, s, b.first, b.second, 2 * kSub, kSub / 2);
  b = best_shift(v, fb, s, b.first, b.second, kSub / 4, 1);
  const double per_frame = (double)src.size(0) * tile_h * tile_w;
  if (shift_error(v, b.first, b.second, fb, s) / per_frame > 2 * limit) {
    TileMotion none;
    none.mse = std::numeric_limits<double>::infinity();
    return none;
  }
  std::pair<int64_t, int64_t> a = b;
  if (fa < fb) {
    const double r = (double)(fa + 1) / (fb + 1);
    a = best_shift(v, fa, s, std::lround(b.first * r), std::lround(b.second * r), 6 * kSub, kSub);
    a = best_shift(v, fa, s, a.first, a.second, kSub, kSub / 4);
  }
  // Through both: velocity and offset, then each nudged by one step.
  TileMotion m;
  if (fa < fb) {
    m.vx = clamp8((double)(b.first - a.first) / (fb - fa));
    m.vy = clamp8((double)(b.second - a.second) / (fb - fa));
  } else {
    m.vx = clamp8((double)b.first / (fb + 1));
    m.vy = clamp8((double)b.second / (fb + 1));
  }
  m.ox = clamp8((double)(b.first - (int64_t)(fb + 1) * m.vx) / 4);
  m.oy = clamp8((double)(b.second - (int64_t)(fb + 1) * m.vy) / 4);
  auto error_of = [&](const TileMotion& t, bool all) {
    double e = 0;
    for (int f = 0; f < frames; ++f)
      if (all || f == fa || f == fb) e += shift_error(v, shift(t.ox, t.vx, f), shift(t.oy, t.vy, f), f, s);
    return e;
  };
  TileMotion best = m;
  double least = error_of(m, false);
  for (int dvy = -1; dvy <= 1; ++dvy)
    for (int dvx = -1; dvx <= 1; ++dvx)
      for (int doy = -1; doy <= 1; ++doy)
        for (int dox = -1; dox <= 1; ++dox) {
          TileMotion t{clamp8(m.vx + dvx), clamp8(m.vy + dvy), clamp8(m.ox + dox), clamp8(m.oy + doy)};
          const double e = error_of(t, false);
          if (e < least) least = e, best = t;
        }
  best.mse = error_of(best, true) / (double)src.numel();
  return best;
}

}  // namespace evatok
