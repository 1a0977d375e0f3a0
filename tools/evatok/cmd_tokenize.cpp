// Token datasets: `evatok tokenize` (videos -> shards, docs/token-dataset.md)
// and `evatok merge-tokens` (the folders of --shard I/N workers -> one).
// Encoding goes through the C API, so the tokens are the codec's own.
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>

#include "cli.h"
#include "data/token_dataset.h"
#include "data/video_reader.h"
#include "evatok/evatok.h"
#include "token_tools.h"
#include "train/train_util.h"

namespace evatok::cli {
namespace {

using nlohmann::json;
namespace tk = evatok::tokens;

bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
int64_t file_size(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 ? (int64_t)st.st_size : 0;
}

void walk(const std::string& dir, std::vector<std::string>& out, int depth) {
  if (depth > 32) return;
  std::vector<std::string> here;
  try {
    here = list_videos(dir);
  } catch (const std::exception&) {
  }
  out.insert(out.end(), here.begin(), here.end());
  glob_t g{};
  if (glob((dir + "/*").c_str(), GLOB_ONLYDIR | GLOB_NOSORT, nullptr, &g) == 0) {
    std::vector<std::string> subs(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    std::sort(subs.begin(), subs.end());
    for (const auto& s : subs)
      if (is_dir(s)) walk(s, out, depth + 1);
  }
  globfree(&g);
}

// The inputs, in the order given: a folder (its videos, recursively, sorted),
// @LIST (one path per line, # comments), a glob pattern, or a file.
std::vector<std::string> expand_inputs(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& p) {
    if (seen.insert(p).second) out.push_back(p);
  };
  for (const auto& a : args) {
    if (a.size() > 1 && a[0] == '@') {
      std::ifstream f(a.substr(1));
      if (!f) throw std::runtime_error("cannot read list file " + a.substr(1));
      std::string line;
      while (std::getline(f, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty() && line[0] != '#') add(line);
      }
    } else if (is_dir(a)) {
      std::vector<std::string> v;
      walk(a, v, 0);
      if (v.empty()) throw std::runtime_error("no videos under " + a);
      for (const auto& p : v) add(p);
    } else if (a.find_first_of("*?[") != std::string::npos) {
      glob_t g{};
      if (glob(a.c_str(), 0, nullptr, &g) != 0) {
        globfree(&g);
        throw std::runtime_error("no file matches " + a);
      }
      for (size_t i = 0; i < g.gl_pathc; ++i) add(g.gl_pathv[i]);
      globfree(&g);
    } else {
      add(a);  // unreadable files are skipped (and counted) when their turn comes
    }
  }
  if (out.empty()) throw std::runtime_error("no input videos");
  return out;
}

uint64_t fnv1a(const std::vector<std::string>& v) {
  uint64_t h = 1469598103934665603ull;
  for (const auto& s : v)
    for (size_t i = 0; i <= s.size(); ++i) h = (h ^ (uint8_t)(i < s.size() ? s[i] : '\n')) * 1099511628211ull;
  return h;
}

struct Tokenize {
  std::vector<std::string> inputs;
  std::string out, model, size = "0x0", fit = "crop", assign = "router", shard = "0/1";
  double fps = 0;
  int stride = 0, tokens = 0, files_per_shard = 16, threads = 0;
  float wq = 1.2f;
  bool drop_partial = false, quiet = false;
};

// One shard's output, built in memory (a shard is a bounded number of files).
struct ShardOut {
  std::vector<uint8_t> records;
  std::vector<uint8_t> ids;  // little-endian uint16 or uint32
  int64_t n_records = 0, n_ids = 0;
  json sources = json::array(), skipped = json::array();
};

struct Progress {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now(), last = t0;
  int64_t bytes_total = 0, bytes_done = 0, clips = 0;
  double video_s = 0;
  int files_total = 0, files_done = 0;
  bool quiet = false, tty = isatty(2);
  void show(bool force) {
    if (quiet) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - last < std::chrono::seconds(2)) return;
    last = now;
    const double el = std::chrono::duration<double>(now - t0).count();
    const double eta = bytes_done > 0 ? el * (double)(bytes_total - bytes_done) / bytes_done : NAN;
    fprintf(stderr, "%sfile %d/%d  %lld clips  %.2f clips/s  %.1f video-s/s  elapsed %s  ETA %s%s", tty ? "\r" : "",
            files_done, files_total, (long long)clips, el > 0 ? clips / el : 0.0, el > 0 ? video_s / el : 0.0,
            mmss(el).c_str(), mmss(eta).c_str(), tty ? "   " : "\n");
    fflush(stderr);
  }
};

class Tokenizer {
 public:
  Tokenizer(EvatokModel* m, const Tokenize& o) : m_(m), o_(o), info_(*evatok_model_get_info(m)) {
    evatok_encode_options_default(&eo_);
    eo_.mode = o.assign == "uniform" ? EVATOK_ASSIGN_UNIFORM
               : o.assign == "search" ? EVATOK_ASSIGN_SEARCH
               : o.assign == "exact"  ? EVATOK_ASSIGN_EXACT
                                      : EVATOK_ASSIGN_ROUTER;
    eo_.uniform_tokens = o.tokens;
    eo_.wq = o.wq;
    u16_ = info_.codebook_size <= 65536;
  }

  // Tokenizes one file into `s`; returns false (and records why) when it
  // gives no clip at all.
  bool file(const std::string& path, const StreamOptions& so, ShardOut& s, Progress& pr) {
    const int T = info_.clip_frames, S = o_.stride > 0 ? o_.stride : T;
    const int src = (int)s.sources.size();
    int64_t frames = 0, clips = 0, covered = -1;  // covered: last frame inside a written clip
    double fps = so.fps;
    int w = 0, h = 0;
    std::string error;
    try {
      VideoStream vs(path, so);
      if (fps <= 0) fps = vs.source_fps() > 0 ? vs.source_fps() : 25.0;
      std::vector<StreamFrame> win;  // frames next_start .. (buffered)
      int64_t next_start = 0;
      StreamFrame f;
      auto emit = [&](int n) {
        encode(win, n, next_start, fps, src, s);
        covered = next_start + n - 1;
        ++clips, ++pr.clips;
        pr.video_s += (double)std::min<int64_t>(n, S) / fps;
      };
      try {
        while (vs.next(f)) {
          w = f.width, h = f.height;
          if (f.index >= next_start) win.push_back(f);
          ++frames;
          if ((int)win.size() == T) {
            emit(T);
            next_start += S;
            const int64_t drop = std::min<int64_t>(S, (int64_t)win.size());
            win.erase(win.begin(), win.begin() + drop);
          }
          pr.show(false);
        }
      } catch (const std::exception& e) {
        error = e.what();  // keep the clips read before the failure
      }
      if (!o_.drop_partial && !win.empty() && next_start + (int64_t)win.size() - 1 > covered) emit((int)win.size());
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (clips == 0) {
      const std::string why = !error.empty() ? error
                              : frames == 0  ? "no frames decoded"
                                             : "shorter than one clip (" + std::to_string(frames) +
                                                   " frames) and --drop-partial is set";
      fprintf(stderr, "%sevatok tokenize: skipping %s: %s\n", pr.tty && !pr.quiet ? "\n" : "", path.c_str(), why.c_str());
      s.skipped.push_back({{"path", path}, {"error", why}});
      return false;
    }
    json j = {{"path", path}, {"fps", fps}, {"width", w}, {"height", h}, {"frames", frames}, {"clips", clips}};
    if (!error.empty()) {
      fprintf(stderr, "%sevatok tokenize: %s: stopped after %lld frames: %s\n", pr.tty && !pr.quiet ? "\n" : "",
              path.c_str(), (long long)frames, error.c_str());
      j["error"] = error;
    }
    s.sources.push_back(j);
    return true;
  }

 private:
  void encode(const std::vector<StreamFrame>& win, int n, int64_t start, double fps, int src, ShardOut& s) {
    const int W = win[0].width, H = win[0].height;
    std::vector<EvatokImage> img((size_t)n);
    for (int k = 0; k < n; ++k)
      for (int c = 0; c < 3; ++c) {
        img[k].data[c] = const_cast<uint8_t*>(win[k].plane[c].data());
        img[k].linesize[c] = win[k].linesize[c];
      }
    uint8_t* pkt = nullptr;
    size_t size = 0;
    char err[512] = "";
    if (evatok_encode_block(m_, img.data(), n, W, H, EVATOK_PIX_YUV420P, &eo_, &pkt, &size, err, sizeof err))
      throw std::runtime_error(std::string("encoding failed: ") + err);
    std::unique_ptr<uint8_t, void (*)(void*)> guard(pkt, evatok_free);
    EvatokPacketInfo pi;
    if (evatok_packet_probe(m_, pkt, size, &pi, err, sizeof err)) throw std::runtime_error(err);
    int ne = pi.tiles_x * pi.tiles_y * pi.num_blocks;
    size_t ni = (size_t)pi.total_tokens;
    tpb_.resize((size_t)ne);
    ids_.resize(ni);
    if (evatok_packet_tokens(m_, pkt, size, tpb_.data(), ne, &ne, ids_.data(), ni, &ni, err, sizeof err))
      throw std::runtime_error(err);
    const int nb = pi.num_blocks;
    size_t at = 0;
    for (int ty = 0; ty < pi.tiles_y; ++ty)
      for (int tx = 0; tx < pi.tiles_x; ++tx) {
        tk::RecordHead r{};
        const int t = ty * pi.tiles_x + tx;
        int count = 0;
        for (int b = 0; b < nb; ++b) count += tpb_[(size_t)t * nb + b];
        r.offset = s.n_ids;
        r.time = start / fps;
        r.fps = fps;
        r.source = src;
        r.start = (int32_t)start;
        r.count = count;
        r.width = W, r.height = H;
        r.frames = (int16_t)n;
        r.tile_x = (int16_t)tx, r.tile_y = (int16_t)ty, r.tiles_x = (int16_t)pi.tiles_x, r.tiles_y = (int16_t)pi.tiles_y;
        const uint8_t* rp = (const uint8_t*)&r;
        s.records.insert(s.records.end(), rp, rp + sizeof r);
        for (int b = 0; b < nb; ++b) {
          const int16_t v = (int16_t)tpb_[(size_t)t * nb + b];
          const uint8_t* vp = (const uint8_t*)&v;
          s.records.insert(s.records.end(), vp, vp + 2);
        }
        for (int k = 0; k < count; ++k, ++at) {
          if (u16_) {
            const uint16_t v = (uint16_t)ids_[at];
            s.ids.insert(s.ids.end(), (const uint8_t*)&v, (const uint8_t*)&v + 2);
          } else {
            s.ids.insert(s.ids.end(), (const uint8_t*)&ids_[at], (const uint8_t*)&ids_[at] + 4);
          }
        }
        s.n_ids += count;
        ++s.n_records;
      }
  }

  EvatokModel* m_;
  const Tokenize& o_;
  EvatokModelInfo info_;
  EvatokEncodeOptions eo_;
  bool u16_;
  std::vector<int> tpb_;
  std::vector<uint32_t> ids_;
};

json model_json(const EvatokModelInfo& i) {
  std::vector<int> ch(i.choices, i.choices + i.num_choices);
  return {{"name", i.name},
          {"codec_fingerprint", i.codec_fingerprint_hex},
          {"clip_frames", i.clip_frames},
          {"clip_height", i.clip_height},
          {"clip_width", i.clip_width},
          {"num_blocks", i.num_blocks},
          {"choices", ch},
          {"codebook_size", i.codebook_size}};
}

int tokenize(const Tokenize& o) {
  int si = 0, sn = 1;
  {
    char extra;
    if (sscanf(o.shard.c_str(), "%d/%d%c", &si, &sn, &extra) != 2 || sn < 1 || si < 0 || si >= sn)
      throw std::runtime_error("--shard must be I/N with 0 <= I < N (got '" + o.shard + "')");
  }
  int W = 0, H = 0;
  {
    char extra;
    if (sscanf(o.size.c_str(), "%dx%d%c", &W, &H, &extra) != 2 || W < 0 || H < 0 || (W > 0) != (H > 0) || W > 16384 ||
        H > 16384)
      throw std::runtime_error("--size must be WxH (both 1..16384), or 0x0 for the source size (got '" + o.size + "')");
  }
  if (o.fit != "crop" && o.fit != "stretch") throw std::runtime_error("--fit must be crop or stretch");
  if (o.files_per_shard < 1) throw std::runtime_error("--files-per-shard must be at least 1");
  const std::vector<std::string> files = expand_inputs(o.inputs);
  quiet_libav_logs();  // we report unreadable files ourselves, one line each

  EvatokModel* m = open_model(o.model, o.threads);
  std::unique_ptr<EvatokModel, void (*)(EvatokModel*)> guard(m, [](EvatokModel* p) { evatok_model_close(&p); });
  const EvatokModelInfo& info = *evatok_model_get_info(m);
  if (o.stride < 0 || o.stride > 1000000) throw std::runtime_error("--stride must be 0 (= clip frames) or more");
  if (o.assign == "uniform") {
    bool ok = false;
    for (int k = 0; k < info.num_choices; ++k) ok |= info.choices[k] == o.tokens;
    if (!ok) throw std::runtime_error("--assign uniform needs --tokens, one of the model's choices");
  } else if (o.assign != "router" && o.assign != "search" && o.assign != "exact") {
    throw std::runtime_error("--assign must be router, uniform, search or exact");
  }

  const int shards = (int)((files.size() + o.files_per_shard - 1) / o.files_per_shard);
  char digest[32];
  snprintf(digest, sizeof digest, "%016llx", (unsigned long long)fnv1a(files));
  json meta = {
      {"format", tk::kFormat},
      {"format_version", tk::kFormatVersion},
      {"tool", std::string("evatok ") + evatok_version()},
      {"model", model_json(info)},
      {"ids_dtype", tk::ids_descr(info.codebook_size) == "<u2" ? "uint16" : "uint32"},
      {"settings",
       {{"fps", o.fps}, {"width", W}, {"height", H}, {"fit", o.fit}, {"stride", o.stride > 0 ? o.stride : info.clip_frames},
        {"assign", o.assign}, {"wq", std::round(o.wq * 1e6) / 1e6}, {"tokens", o.assign == "uniform" ? o.tokens : 0},
        {"partial_clips", !o.drop_partial}}},
      {"inputs", {{"files", files.size()}, {"digest", digest}, {"files_per_shard", o.files_per_shard}, {"shards", shards}}}};
  mkdir(o.out.c_str(), 0777);
  if (!is_dir(o.out)) throw std::runtime_error("cannot create output folder " + o.out);
  const std::string meta_path = o.out + "/metadata.json";
  if (access(meta_path.c_str(), F_OK) == 0) {
    const json old = tk::read_json(meta_path);
    if (old != meta)
      throw std::runtime_error(o.out + " holds a token dataset made with other inputs, settings or model; "
                               "choose another --out (or delete it)");
  } else {
    tk::write_json(meta_path, meta);
  }

  std::vector<int> mine;
  for (int c = si; c < shards; c += sn) mine.push_back(c);
  Progress pr;
  pr.quiet = o.quiet;
  int done_before = 0;
  std::vector<int> todo;
  for (int c : mine) {
    if (access((o.out + "/" + tk::shard_name(c) + ".json").c_str(), F_OK) == 0) {
      ++done_before;
      continue;
    }
    todo.push_back(c);
    for (size_t k = (size_t)c * o.files_per_shard; k < std::min(files.size(), (size_t)(c + 1) * o.files_per_shard); ++k)
      pr.bytes_total += file_size(files[k]), ++pr.files_total;
  }
  if (!o.quiet)
    fprintf(stderr, "evatok tokenize: %zu files in %d shards; this worker (%d/%d): %zu shards, %d already done, %d files to read\n",
            files.size(), shards, si, sn, mine.size(), done_before, pr.files_total);
  StreamOptions so;
  so.fps = o.fps;
  so.width = W, so.height = H;
  so.crop = o.fit == "crop";
  so.yuv420p = true;
  Tokenizer tz(m, o);
  int64_t skipped = 0, records = 0;
  for (int c : todo) {
    ShardOut s;
    for (size_t k = (size_t)c * o.files_per_shard; k < std::min(files.size(), (size_t)(c + 1) * o.files_per_shard); ++k) {
      if (!tz.file(files[k], so, s, pr)) ++skipped;
      pr.bytes_done += file_size(files[k]);
      ++pr.files_done;
      pr.show(false);
    }
    const std::string base = o.out + "/" + tk::shard_name(c);
    tk::write_npy(base + ".ids.npy", tk::ids_descr(info.codebook_size), s.n_ids, s.ids.data(), s.ids.size());
    tk::write_npy(base + ".records.npy", tk::records_descr(info.num_blocks), s.n_records, s.records.data(), s.records.size());
    tk::write_json(base + ".json", {{"shard", c},
                                    {"records", s.n_records},
                                    {"ids", s.n_ids},
                                    {"sources", s.sources},
                                    {"skipped", s.skipped}});
    records += s.n_records;
  }
  pr.show(true);
  if (pr.tty && !o.quiet) fputc('\n', stderr);
  printf("%s: %zu shards written (%d were already complete), %lld records, %.1f s of video, %lld files skipped\n",
         o.out.c_str(), todo.size(), done_before, (long long)records, pr.video_s, (long long)skipped);
  return 0;
}

// ---- merge ------------------------------------------------------------------

bool same_file(const std::string& a, const std::string& b) {
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  std::string sa((std::istreambuf_iterator<char>(fa)), {}), sb((std::istreambuf_iterator<char>(fb)), {});
  return fa.good() == fb.good() && sa == sb;
}

void copy_file(const std::string& from, const std::string& to) {
  if (link(from.c_str(), to.c_str()) == 0) return;  // a hard link where the filesystem allows
  std::ifstream in(from, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), {});
  if (!in.good() && !in.eof()) throw std::runtime_error("cannot read " + from);
  const std::string tmp = to + ".tmp";
  std::ofstream out(tmp, std::ios::binary);
  out.write(data.data(), (std::streamsize)data.size());
  out.close();
  if (!out || rename(tmp.c_str(), to.c_str()) != 0) throw std::runtime_error("cannot write " + to);
}

int merge(const std::string& out, const std::vector<std::string>& ins) {
  json meta;
  std::map<int, std::string> have;  // shard -> folder it came from
  for (const auto& in : ins) {
    const json m = tk::read_json(in + "/metadata.json");
    if (m.value("format", "") != tk::kFormat) throw std::runtime_error(in + " is not a token dataset");
    if (meta.is_null())
      meta = m;
    else if (m != meta)
      throw std::runtime_error(in + "/metadata.json differs from " + ins[0] + "/metadata.json: not parts of one dataset");
    for (int c : tk::complete_shards(in))
      if (!have.count(c)) have[c] = in;
  }
  const int shards = meta.at("inputs").at("shards").get<int>();
  std::string missing;
  for (int c = 0; c < shards; ++c)
    if (!have.count(c)) missing += (missing.empty() ? "" : ", ") + std::to_string(c);
  if (!missing.empty()) throw std::runtime_error("shards missing (their workers have not finished): " + missing);
  mkdir(out.c_str(), 0777);
  if (!is_dir(out)) throw std::runtime_error("cannot create " + out);
  if (access((out + "/metadata.json").c_str(), F_OK) == 0 && tk::read_json(out + "/metadata.json") != meta)
    throw std::runtime_error(out + " holds another dataset");
  for (const auto& [c, in] : have) {
    for (const char* ext : {".ids.npy", ".records.npy", ".json"}) {  // .json last: it marks the shard complete
      const std::string from = in + "/" + tk::shard_name(c) + ext, to = out + "/" + tk::shard_name(c) + ext;
      if (from == to) continue;
      if (access(to.c_str(), F_OK) == 0) {
        if (!same_file(from, to)) throw std::runtime_error(to + " exists and differs from " + from);
        continue;
      }
      copy_file(from, to);
    }
  }
  tk::write_json(out + "/metadata.json", meta);
  printf("%s: %d shards from %zu folders\n", out.c_str(), shards, ins.size());
  return 0;
}

}  // namespace

void add_token_commands(CLI::App& app) {
  auto o = std::make_shared<Tokenize>();
  auto* c = app.add_subcommand("tokenize", "videos -> a token dataset of shards (docs/token-dataset.md)");
  c->add_option("inputs", o->inputs, "videos: folders (searched recursively), @LIST files, glob patterns or files")
      ->required();
  c->add_option("--out", o->out, "dataset folder (created; a rerun resumes, skipping finished shards)")->required();
  c->add_option("--model", o->model, "tokenizer model file (default: the default model)");
  c->add_option("--fps", o->fps, "frame rate to resample to (0 = every decoded frame)")->check(CLI::Range(0.0, 1000.0));
  c->add_option("--size", o->size, "tokenize frames of WxH (0x0 = the source size, tiled)");
  c->add_option("--fit", o->fit, "with --size: crop (cover, cut the centre) or stretch");
  c->add_option("--stride", o->stride, "frames between clip starts (0 = the clip length: no overlap)");
  c->add_option("--assign", o->assign, "router, uniform, search or exact");
  c->add_option("--wq", o->wq, "rate weight of router/search/exact (higher: more tokens)")->check(CLI::Range(0.0, 100.0));
  c->add_option("--tokens", o->tokens, "with --assign uniform: tokens per block");
  c->add_flag("--drop-partial", o->drop_partial, "leave out a video's last clip when it is shorter than the clip length");
  c->add_option("--files-per-shard", o->files_per_shard, "input files per shard");
  c->add_option("--shard", o->shard, "I/N: this worker tokenizes shards I, I+N, ... (N workers share one dataset)");
  c->add_option("--threads", o->threads, "CPU threads (0 = every core)");
  c->add_flag("--quiet", o->quiet, "no progress lines");
  c->callback([o] { exit_status = tokenize(*o); });

  auto mo = std::make_shared<std::pair<std::string, std::vector<std::string>>>();
  c = app.add_subcommand("merge-tokens", "the folders of --shard I/N workers -> one token dataset");
  c->add_option("--out", mo->first, "merged dataset folder (hard links where possible)")->required();
  c->add_option("inputs", mo->second, "the workers' dataset folders")->required();
  c->callback([mo] { exit_status = merge(mo->first, mo->second); });
}

}  // namespace evatok::cli
