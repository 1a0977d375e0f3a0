// `evatok detokenize`: records of a token dataset (docs/token-dataset.md),
// whether `evatok tokenize` or another program wrote them, back to video: Y4M
// (a file, or `-` for a pipe into ffmpeg/ffplay) and/or an evatok stream in
// Matroska. Packets are rebuilt with evatok_packet_build and decoded by the
// C API, so the frames are what the codec gives for those tokens.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "cli.h"
#include "data/token_dataset.h"
#include "evatok/evatok.h"
#include "mkv_writer.h"
#include "token_tools.h"

namespace evatok::cli {
namespace {

using nlohmann::json;
namespace tk = evatok::tokens;

struct Detokenize {
  std::string dataset, out, mkv, model, records, format = "y4m";
  int shard = -1, source = -1, threads = 0;
};

// One packet to rebuild: the records of one clip, all tiles of its frame (or
// a single tile on its own, decoded as a tile-sized frame).
struct Group {
  int width, height, frames, start;
  std::vector<int> tpb;
  std::vector<uint32_t> ids;
};

std::vector<Group> group_records(const tk::Shard& s, const std::vector<size_t>& sel, int clip_w, int clip_h) {
  std::vector<Group> out;
  size_t i = 0;
  while (i < sel.size()) {
    const tk::Record& r = s.records[sel[i]];
    const int tiles = r.h.tiles_x * r.h.tiles_y;
    bool whole = r.h.tile_x == 0 && r.h.tile_y == 0 && i + tiles <= sel.size();
    for (int t = 1; whole && t < tiles; ++t) {
      const tk::RecordHead& q = s.records[sel[i + t]].h;
      whole = q.source == r.h.source && q.start == r.h.start && q.width == r.h.width && q.height == r.h.height &&
              q.frames == r.h.frames && q.tiles_x == r.h.tiles_x && q.tiles_y == r.h.tiles_y &&
              q.tile_y * q.tiles_x + q.tile_x == t;
    }
    const int take = whole ? tiles : 1;
    Group g{whole ? r.h.width : clip_w, whole ? r.h.height : clip_h, r.h.frames, r.h.start, {}, {}};
    for (int t = 0; t < take; ++t) {
      const tk::Record& q = s.records[sel[i + t]];
      for (int16_t v : q.tokens) g.tpb.push_back(v);
      g.ids.insert(g.ids.end(), s.ids.begin() + q.h.offset, s.ids.begin() + q.h.offset + q.h.count);
    }
    out.push_back(std::move(g));
    i += take;
  }
  return out;
}

int detokenize(const Detokenize& o) {
  if (o.out.empty() && o.mkv.empty()) throw std::runtime_error("give --out (Y4M, - for stdout) and/or --mkv");
  if (o.format != "y4m" && o.format != "rgb24") throw std::runtime_error("--format must be y4m or rgb24");
  const bool rgb = o.format == "rgb24";
  const json meta = tk::read_json(o.dataset + "/metadata.json");
  if (meta.value("format", "") != tk::kFormat)
    throw std::runtime_error(o.dataset + " is not a token dataset (no \"format\": \"" + tk::kFormat + "\")");
  if (meta.value("format_version", 0) != tk::kFormatVersion)
    throw std::runtime_error(o.dataset + ": format version " + meta.value("format_version", json(0)).dump() +
                             ", this build reads " + std::to_string(tk::kFormatVersion));
  EvatokModel* m = open_model(o.model, o.threads);
  std::unique_ptr<EvatokModel, void (*)(EvatokModel*)> guard(m, [](EvatokModel* p) { evatok_model_close(&p); });
  const EvatokModelInfo& info = *evatok_model_get_info(m);
  const std::string want = meta.at("model").value("codec_fingerprint", "");
  if (want != info.codec_fingerprint_hex)
    throw std::runtime_error("the dataset's tokens are of model " + meta.at("model").value("name", "?") + " (codec " +
                             want + "), not of " + info.name + " (codec " + info.codec_fingerprint_hex +
                             "): pass that model with --model");

  int shard = o.shard;
  if (shard < 0) {
    const auto have = tk::complete_shards(o.dataset);
    if (have.empty()) throw std::runtime_error(o.dataset + " has no complete shard");
    shard = have[0];
  }
  const tk::Shard s = tk::read_shard(o.dataset, shard, meta);
  if (s.records.empty()) throw std::runtime_error(tk::shard_name(shard) + " holds no records");
  size_t a = 0, b = s.records.size();
  if (!o.records.empty()) {
    long x, y;
    char extra;
    if (sscanf(o.records.c_str(), "%ld:%ld%c", &x, &y, &extra) != 2 || x < 0 || y <= x || (size_t)y > s.records.size())
      throw std::runtime_error("--records must be A:B with 0 <= A < B <= " + std::to_string(s.records.size()));
    a = (size_t)x, b = (size_t)y;
  }
  const int source = o.source >= 0 ? o.source : o.records.empty() ? s.records[a].h.source : -1;
  std::vector<size_t> sel;
  for (size_t i = a; i < b; ++i)
    if (source < 0 || s.records[i].h.source == source) sel.push_back(i);
  if (sel.empty()) throw std::runtime_error("no records of source " + std::to_string(source) + " in that range");
  const double fps = s.records[sel[0]].h.fps;
  int num, den;
  fps_fraction(fps, &num, &den);

  const std::vector<Group> groups = group_records(s, sel, info.clip_width, info.clip_height);
  FILE* y4m = nullptr;
  std::unique_ptr<MkvWriter> mkv;
  if (!o.out.empty()) {
    y4m = o.out == "-" ? stdout : fopen(o.out.c_str(), "wb");
    if (!y4m) throw std::runtime_error("cannot write " + o.out);
  }
  std::unique_ptr<FILE, int (*)(FILE*)> y4m_guard(y4m && y4m != stdout ? y4m : nullptr, fclose);
  if (!o.mkv.empty()) {
    uint8_t* ed = nullptr;
    size_t es = 0;
    char err[512] = "";
    if (evatok_extradata_create_version(m, 0, num, den, &ed, &es, err, sizeof err)) throw std::runtime_error(err);
    mkv = std::make_unique<MkvWriter>(groups[0].width, groups[0].height, num, den, ed, es);
    evatok_free(ed);
  }
  const int W = groups[0].width, H = groups[0].height;
  if (y4m && !rgb) fprintf(y4m, "YUV4MPEG2 W%d H%d F%d:%d Ip A1:1 C420jpeg\n", W, H, num, den);
  // The codec's own output is RGB24 (what ffmpeg's evatok decoder gives);
  // Y4M gets the library's 4:2:0 conversion of it.
  const int cw = (W + 1) / 2, ch = (H + 1) / 2;
  const size_t frame_bytes = rgb ? (size_t)3 * W * H : (size_t)W * H + 2 * (size_t)cw * ch;
  std::vector<uint8_t> planes((size_t)info.clip_frames * frame_bytes);
  std::vector<EvatokImage> img((size_t)info.clip_frames);
  for (int k = 0; k < info.clip_frames; ++k) {
    uint8_t* base = planes.data() + (size_t)k * frame_bytes;
    img[k].data[0] = base, img[k].linesize[0] = rgb ? 3 * W : W;
    if (!rgb) {
      img[k].data[1] = base + W * H, img[k].linesize[1] = cw;
      img[k].data[2] = base + W * H + cw * ch, img[k].linesize[2] = cw;
    }
  }
  int64_t next_frame = groups[0].start, written = 0, mkv_end = -1;
  for (const Group& g : groups) {
    if (g.width != W || g.height != H)
      throw std::runtime_error("the records mix frame sizes (" + std::to_string(W) + "x" + std::to_string(H) + " and " +
                               std::to_string(g.width) + "x" + std::to_string(g.height) + "): select one source");
    uint8_t* pkt = nullptr;
    size_t size = 0;
    char err[512] = "";
    if (evatok_packet_build(m, g.width, g.height, g.frames, g.tpb.data(), (int)g.tpb.size(), g.ids.data(), g.ids.size(), 0,
                            &pkt, &size, err, sizeof err))
      throw std::runtime_error(std::string("record tokens do not make a packet: ") + err);
    std::unique_ptr<uint8_t, void (*)(void*)> pg(pkt, evatok_free);
    if (mkv) {
      if (g.start < mkv_end)
        throw std::runtime_error("clips overlap (the dataset's stride is shorter than a clip): Matroska needs one "
                                 "packet per instant; write Y4M with --out instead");
      mkv->add(pkt, size, g.start, g.frames);
      mkv_end = g.start + g.frames;
    }
    if (!y4m) continue;
    int got = 0;
    if (evatok_decode_block(m, pkt, size, img.data(), info.clip_frames, rgb ? EVATOK_PIX_RGB24 : EVATOK_PIX_YUV420P, &got,
                            err, sizeof err))
      throw std::runtime_error(std::string("decoding failed: ") + err);
    // Overlapping clips (stride < clip length): write each instant once.
    for (int k = (int)std::max<int64_t>(0, next_frame - g.start); k < got; ++k) {
      if (!rgb) fputs("FRAME\n", y4m);
      fwrite(img[k].data[0], 1, frame_bytes, y4m);
      ++written;
    }
    next_frame = std::max<int64_t>(next_frame, g.start + got);
  }
  if (y4m && (fflush(y4m) != 0 || ferror(y4m))) throw std::runtime_error("cannot write " + o.out);
  if (mkv) mkv->write(o.mkv);
  fprintf(stderr, "evatok detokenize: %zu records, %zu packets of %dx%d%s%s\n", sel.size(), groups.size(), W, H,
          y4m ? (", " + std::to_string(written) + " frames to " + (o.out == "-" ? "stdout" : o.out)).c_str() : "",
          mkv ? (", Matroska " + o.mkv).c_str() : "");
  return 0;
}

}  // namespace

void add_detokenize_command(CLI::App& app) {
  auto o = std::make_shared<Detokenize>();
  auto* c = app.add_subcommand("detokenize", "records of a token dataset -> Y4M video and/or an evatok Matroska stream");
  c->add_option("dataset", o->dataset, "token dataset folder")->required();
  c->add_option("--out", o->out, "video file written (- = stdout, e.g. | ffplay -)");
  c->add_option("--format", o->format,
                "y4m, or rgb24: raw frames for ffmpeg -f rawvideo -pix_fmt rgb24 -s WxH -r FPS -i -, bit for bit "
                "what ffmpeg's evatok decoder outputs");
  c->add_option("--mkv", o->mkv, "Matroska file of the rebuilt evatok packets (ffmpeg/ffplay decode it)");
  c->add_option("--shard", o->shard, "shard index (default: the first complete one)");
  c->add_option("--source", o->source, "source index within the shard (default: the first record's)");
  c->add_option("--records", o->records, "A:B: only records A..B-1 of the shard");
  c->add_option("--model", o->model, "tokenizer model file (default: the default model; must be the dataset's)");
  c->add_option("--threads", o->threads, "CPU threads (0 = every core)");
  c->callback([o] { exit_status = detokenize(*o); });
}

}  // namespace evatok::cli
