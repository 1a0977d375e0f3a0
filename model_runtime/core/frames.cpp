#include "core/frames.h"

#include <algorithm>
#include <cmath>

namespace evatok {
using torch::Tensor;

static inline uint8_t clip8(float v) { return (uint8_t)std::min(255.f, std::max(0.f, std::nearbyint(v))); }

// One frame to packed RGB float [H][W][3] (0..255), BT.601 limited range for YUV.
static void frame_to_rgb(const EvatokImage& im, EvatokPixelFormat fmt, int w, int h, float* out) {
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      float* o = out + ((size_t)y * w + x) * 3;
      if (fmt == EVATOK_PIX_RGB24) {
        const uint8_t* p = im.data[0] + (size_t)y * im.linesize[0] + 3 * x;
        o[0] = p[0], o[1] = p[1], o[2] = p[2];
      } else {
        const float Y = 1.164f * (im.data[0][(size_t)y * im.linesize[0] + x] - 16);
        const float U = im.data[1][(size_t)(y / 2) * im.linesize[1] + x / 2] - 128.f;
        const float V = im.data[2][(size_t)(y / 2) * im.linesize[2] + x / 2] - 128.f;
        o[0] = Y + 1.596f * V;
        o[1] = Y - 0.392f * U - 0.813f * V;
        o[2] = Y + 2.017f * U;
      }
    }
  }
}

static void rgb_to_frame(const uint8_t* rgb, int w, int h, EvatokPixelFormat fmt, const EvatokImage& im) {
  if (fmt == EVATOK_PIX_RGB24) {
    for (int y = 0; y < h; ++y) std::copy(rgb + (size_t)y * w * 3, rgb + (size_t)(y + 1) * w * 3, im.data[0] + (size_t)y * im.linesize[0]);
    return;
  }
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const uint8_t* p = rgb + ((size_t)y * w + x) * 3;
      im.data[0][(size_t)y * im.linesize[0] + x] = clip8(16 + 0.257f * p[0] + 0.504f * p[1] + 0.098f * p[2]);
    }
  for (int y = 0; y < (h + 1) / 2; ++y)
    for (int x = 0; x < (w + 1) / 2; ++x) {
      float r = 0, g = 0, b = 0;
      int n = 0;
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) {
          const int yy = 2 * y + dy, xx = 2 * x + dx;
          if (yy >= h || xx >= w) continue;
          const uint8_t* p = rgb + ((size_t)yy * w + xx) * 3;
          r += p[0], g += p[1], b += p[2], ++n;
        }
      r /= n, g /= n, b /= n;
      im.data[1][(size_t)y * im.linesize[1] + x] = clip8(128 - 0.148f * r - 0.291f * g + 0.439f * b);
      im.data[2][(size_t)y * im.linesize[2] + x] = clip8(128 + 0.439f * r - 0.368f * g - 0.071f * b);
    }
}

Tensor frames_to_tiles(const EvatokImage* frames, int nb_frames, int clip_frames, EvatokPixelFormat fmt,
                       const TileGrid& g) {
  const int64_t Hp = (int64_t)g.tiles_y * g.tile_h, Wp = (int64_t)g.tiles_x * g.tile_w;
  auto video = torch::empty({clip_frames, Hp, Wp, 3});  // padded canvas, 0..255
  auto rgb = torch::empty({g.height, g.width, 3});
  for (int t = 0; t < clip_frames; ++t) {
    auto dst = video[t];
    if (t < nb_frames) {
      frame_to_rgb(frames[t], fmt, g.width, g.height, rgb.data_ptr<float>());
      dst.slice(0, 0, g.height).slice(1, 0, g.width).copy_(rgb);
      if (Wp > g.width)  // replicate the right edge, then the bottom edge
        dst.slice(0, 0, g.height).slice(1, g.width, Wp).copy_(rgb.slice(1, g.width - 1, g.width));
      if (Hp > g.height) dst.slice(0, g.height, Hp).copy_(dst.slice(0, g.height - 1, g.height));
    } else {
      dst.copy_(video[nb_frames - 1]);
    }
  }
  auto x = video.div(255.0).sub(0.5);
  // [T, ty, th, tx, tw, 3] -> [ty*tx, 3, T, th, tw]
  return x.view({clip_frames, g.tiles_y, g.tile_h, g.tiles_x, g.tile_w, 3})
      .permute({1, 3, 5, 0, 2, 4})
      .reshape({(int64_t)g.tiles_y * g.tiles_x, 3, clip_frames, g.tile_h, g.tile_w})
      .contiguous();
}

void tiles_to_frames(const Tensor& tiles, const EvatokImage* frames, int nb_frames, EvatokPixelFormat fmt,
                     const TileGrid& g) {
  const int64_t T = tiles.size(2);
  auto v = tiles.to(torch::kCPU, torch::kFloat32)
               .view({g.tiles_y, g.tiles_x, 3, T, g.tile_h, g.tile_w})
               .permute({3, 0, 4, 1, 5, 2})
               .reshape({T, (int64_t)g.tiles_y * g.tile_h, (int64_t)g.tiles_x * g.tile_w, 3});
  // reshape copies the permuted tiles (RGB moves innermost) into a fresh
  // tensor, so this works in place without touching the caller's.
  if (v.is_alias_of(tiles)) v = v.clone();
  auto u8 = v.add_(0.5).mul_(255.0).round_().clamp_(0, 255).to(torch::kUInt8);
  for (int t = 0; t < nb_frames && t < T; ++t) {
    auto f = u8[t].slice(0, 0, g.height).slice(1, 0, g.width).contiguous();
    rgb_to_frame(f.data_ptr<uint8_t>(), g.width, g.height, fmt, frames[t]);
  }
}

}  // namespace evatok
