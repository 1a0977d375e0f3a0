// Moved tiles (api/tile_motion.h): the canvas puts tiles where they belong,
// a tile moved by a velocity matches the picture moved by it, and the search
// finds the velocity of a textured picture, with and without noise on the
// reference.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>

#include "api/tile_motion.h"

static int failures = 0;
#define EXPECT(cond, ...)            \
  do {                              \
    printf((cond) ? "ok:   " : "FAIL: "); \
    printf(__VA_ARGS__);            \
    printf("\n");                   \
    if (!(cond)) ++failures;        \
  } while (0)

// A smooth texture, [3, H, W] in [-0.5, 0.5], at an offset of (ox, oy) pixels.
static torch::Tensor texture(int H, int W, double ox, double oy) {
  auto y = torch::arange(H, torch::kFloat64).unsqueeze(1) + oy;
  auto x = torch::arange(W, torch::kFloat64).unsqueeze(0) + ox;
  std::vector<torch::Tensor> ch;
  for (int c = 0; c < 3; ++c)
    ch.push_back(0.2 * torch::sin(x * (0.21 + 0.05 * c) + y * 0.13) + 0.15 * torch::cos(y * (0.17 + 0.03 * c) - x * 0.07) +
                 0.1 * torch::sin((x + 2 * y) * 0.31));
  return torch::stack(ch).to(torch::kFloat32);
}

int main() {
  torch::manual_seed(1);
  const int T = 16, th = 32, tw = 32, tx_n = 4, ty_n = 4, W = tw * tx_n, H = th * ty_n;
  auto picture = texture(H, W, 0, 0);
  // tiles [n, 3, th, tw] in raster order, as the codec holds them
  auto tiles = picture.reshape({3, ty_n, th, tx_n, tw}).permute({1, 3, 0, 2, 4}).reshape({ty_n * tx_n, 3, th, tw});
  auto canvas = evatok::reference_canvas(tiles, tx_n, ty_n);
  EXPECT(canvas.equal(picture), "reference_canvas reassembles %d x %d tiles", tx_n, ty_n);

  // No motion repeats the picture; whole-pixel motion is the shifted picture.
  auto still = evatok::moved_tile(canvas, W, H, tw, th, 1, 1, evatok::TileMotion{}, T);
  EXPECT(still.select(1, 5).equal(picture.slice(1, th, 2 * th).slice(2, tw, 2 * tw)), "zero velocity repeats the tile");
  // 1 px per frame left and down, after an offset of 2 px right: frame 3 is
  // the picture moved by (-2, 4) px, out(y, x) = picture(y - 4, x + 2)
  auto moved = evatok::moved_tile(canvas, W, H, tw, th, 1, 1, evatok::TileMotion{-16, 16, 8, 0}, T);
  auto want = picture.slice(1, th - 4, 2 * th - 4).slice(2, tw + 2, 2 * tw + 2);
  EXPECT(moved.select(1, 3).equal(want), "offset and whole-pixel motion give the shifted picture");

  // The search on a picture that really moves: source frames from the texture
  // function at fractional offsets, the reference the picture at a time
  // `lag` frames before the packet (a decoded last frame lags its source).
  struct Case { int vx, vy; double lag; };
  for (double noise : {0.0, 0.03}) {
    for (auto c : std::vector<Case>{{-6, 0, 0}, {11, -3, 0}, {0, 0, 0}, {-24, 12, 0}, {-6, 0, 4}, {8, 5, 2}}) {
      auto ref = texture(H, W, 0, 0) + noise * torch::randn({3, H, W});
      auto ref_tiles = ref.reshape({3, ty_n, th, tx_n, tw}).permute({1, 3, 0, 2, 4}).reshape({ty_n * tx_n, 3, th, tw});
      auto cv = evatok::reference_canvas(ref_tiles, tx_n, ty_n);
      std::vector<torch::Tensor> frames;
      for (int f = 0; f < T; ++f) {
        // content moving by v/16 px per frame: out(x) = ref(x - d)
        const double d_x = (f + 1 + c.lag) * c.vx / 16.0, d_y = (f + 1 + c.lag) * c.vy / 16.0;
        frames.push_back(texture(H, W, -d_x, -d_y).slice(1, th, 2 * th).slice(2, tw, 2 * tw));
      }
      auto src = torch::stack(frames, 1);  // [3, T, th, tw], tile (1, 1)
      auto m = evatok::search_motion(cv, W, H, 1, 1, src);
      // the offset that the lag asks for, in 1/4 px
      const double ox = c.lag * c.vx / 4.0, oy = c.lag * c.vy / 4.0;
      EXPECT(std::abs(m.vx - c.vx) <= 1 && std::abs(m.vy - c.vy) <= 1 && std::abs(m.ox - ox) <= 1.5 &&
                std::abs(m.oy - oy) <= 1.5 && m.mse < 1e-3 + noise * noise,
            "search: velocity (%d, %d)/16 px per frame, lag %.0f frames, noise %.2f: found (%d, %d), offset (%d, %d)/4 "
            "px (want %.1f, %.1f), mse %.5f",
            c.vx, c.vy, c.lag, noise, m.vx, m.vy, m.ox, m.oy, ox, oy, m.mse);
    }
  }
  return failures ? 1 : 0;
}
