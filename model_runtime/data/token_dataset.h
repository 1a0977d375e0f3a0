// Token datasets (docs/token-dataset.md): what `evatok tokenize` writes and
// `evatok detokenize` reads, and what python/evatok/dataset.py reads and
// writes with numpy alone. A folder holds metadata.json and shards; a shard is
//   shard-NNNNN.ids.npy      token ids, one flat uint16 (or uint32) array
//   shard-NNNNN.records.npy  one structured row per (clip, tile): kRecordFields
//   shard-NNNNN.json         its source files, counts, skipped files; written
//                            last, so its presence marks the shard complete.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace evatok::tokens {

constexpr const char* kFormat = "evatok-token-dataset";
constexpr int kFormatVersion = 1;
constexpr int64_t kMaxNpyBytes = int64_t(1) << 34;  // 16 GiB: refuse larger shard arrays

// One record: one clip (up to clip_frames frames from `start`) of one tile of
// the frame. Packed little-endian, in this field order (numpy's descr).
#pragma pack(push, 1)
struct RecordHead {
  int64_t offset;   // first id in the shard's ids array
  double time;      // start time, seconds
  double fps;       // frame rate of the frames tokenized
  int32_t source;   // index into the shard's "sources"
  int32_t start;    // first frame (at fps)
  int32_t count;    // ids of this record (sum of tokens)
  int32_t width, height;  // the frame that was tokenized (all tiles)
  int16_t frames;   // true frames, 1..clip_frames
  int16_t tile_x, tile_y, tiles_x, tiles_y;
  // then int16 tokens[num_blocks]: the token count of each block
};
#pragma pack(pop)
static_assert(sizeof(RecordHead) == 54, "record layout");

struct Record {
  RecordHead h{};
  std::vector<int16_t> tokens;
};

// numpy's descr of a records array for a model of num_blocks blocks.
std::string records_descr(int num_blocks);
size_t record_size(int num_blocks);
// The ids dtype for a codebook: "<u2" up to 65536 codes, else "<u4".
std::string ids_descr(int codebook_size);

// Writes a 1-D .npy (what numpy.save writes) through a temporary file and a
// rename, so a killed run never leaves a half-written array under the name.
void write_npy(const std::string& path, const std::string& descr, int64_t n, const void* data, size_t bytes);

struct NpyArray {
  std::string descr;
  int64_t n = 0;
  std::vector<uint8_t> data;
};
// Reads a 1-D little-endian C-order .npy whose items are item_size bytes;
// throws with the reason on anything else (truncated, wrong dtype, too big).
NpyArray read_npy(const std::string& path, size_t item_size);

// JSON files: written through a temporary file and a rename; read with a size cap.
void write_json(const std::string& path, const nlohmann::json& j);
nlohmann::json read_json(const std::string& path);

std::string shard_name(int index);  // "shard-00007"

// A shard as detokenize needs it (validated against the metadata).
struct Shard {
  std::vector<Record> records;
  std::vector<uint32_t> ids;
  nlohmann::json info;  // shard-NNNNN.json
};
// Reads shard `index` of the dataset in `dir` with metadata `meta`; checks
// every record's offsets, counts and tokens against the model in `meta`.
Shard read_shard(const std::string& dir, int index, const nlohmann::json& meta);
// Indices of the complete shards in dir (those with their .json).
std::vector<int> complete_shards(const std::string& dir);

}  // namespace evatok::tokens
