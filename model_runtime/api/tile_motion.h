// Moved tiles of inter packets (bitstream 3, EVBS_FLAG_MOVE): a skipped tile
// that shows the previous packet's last frame moved, by an offset plus a
// constant velocity. A pan moves every tile, so no tile repeats the reference
// and each one paid for its tokens again; a moved tile costs four bytes.
// Encoder and decoder call the same code, in integer positions, so they agree
// to the bit.
#pragma once
#include <torch/torch.h>

#include <limits>

namespace evatok {

// The previous packet's last frame as one picture: [tiles, 3, H, W] in raster
// order -> [3, tiles_y * H, tiles_x * W], contiguous float.
torch::Tensor reference_canvas(const torch::Tensor& last, int tiles_x, int tiles_y);

// How a moved tile moves (docs/bitstream.md): frame f of the packet (from 0)
// is the canvas moved by offset / 4 + (f + 1) * velocity / 16 pixels. The
// offset is there because the decoded last frame of a packet lags its source
// (the tokenizer smooths motion inside a packet): measured on a pan, decoded
// frame 15 looks most like source frame 11.
struct TileMotion {
  int vx = 0, vy = 0;  // 1/16 pixel per frame, -128..127
  int ox = 0, oy = 0;  // 1/4 pixel, -128..127
  double mse = 0;      // search_motion: against the source over its frames
};

// Frames 0..frames-1 of tile (tx, ty), [3, frames, H, W], sampled bilinearly,
// positions clamped to the visible width x height.
torch::Tensor moved_tile(const torch::Tensor& canvas, int width, int height, int tile_w, int tile_h, int tx, int ty,
                         const TileMotion& m, int frames);

// The motion that best predicts src [3, nb_frames, H, W] (tile (tx, ty)) from
// the canvas: the tile's displacement found at frame 4 and at the last frame
// (coarse to fine), the velocity and offset through them, then refined.
// Velocities up to 2 px per frame are searched. A tile whose last frame
// matches no displacement within 2 x `limit` (mean squared error) is given up
// early, with mse infinite: busy content costs a third of the search.
TileMotion search_motion(const torch::Tensor& canvas, int width, int height, int tx, int ty, const torch::Tensor& src,
                         double limit = std::numeric_limits<double>::infinity());

}  // namespace evatok
