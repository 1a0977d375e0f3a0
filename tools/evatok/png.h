// Minimal PNG writer (8-bit RGB, zlib-compressed) for evaluation images.
#pragma once
#include <cstdint>
#include <string>

// Writes width x height packed RGB bytes; throws std::runtime_error on failure.
void write_png_rgb(const std::string& path, const uint8_t* rgb, int width, int height);
