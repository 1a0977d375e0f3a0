// Pixel conversion and tiling between caller images (any size, rgb24 or
// yuv420p) and model clips [tiles, 3, T, tile_h, tile_w] in [-0.5, 0.5].
#pragma once
#include <torch/torch.h>

#include "evatok/evatok.h"

namespace evatok {

struct TileGrid {
  int width, height, tile_w, tile_h, tiles_x, tiles_y;
};

// Frames beyond nb_frames (up to clip_frames) repeat the last frame; edges are
// padded by replicating the border pixels.
torch::Tensor frames_to_tiles(const EvatokImage* frames, int nb_frames, int clip_frames,
                              EvatokPixelFormat fmt, const TileGrid& g);
// Writes the first nb_frames frames of the reassembled, cropped tiles.
void tiles_to_frames(const torch::Tensor& tiles, const EvatokImage* frames, int nb_frames,
                     EvatokPixelFormat fmt, const TileGrid& g);

}  // namespace evatok
