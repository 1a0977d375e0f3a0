#include "eval/evaluate.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>

#include "core/cpu_runtime.h"
#include "data/data.h"
#include "tokenizer/model.h"
#include "train/model_edit.h"
#include "core/quality.h"

namespace evatok {
using torch::Tensor;

namespace {

struct Row {
  std::string method, setting, clip, assignment;
  int tokens;
  double psnr, ssim;
};

std::string assignment_text(const ModelConfig& cfg, const Assignment& a) {
  std::string s;
  for (size_t t = 0; t < a.size(); ++t) s += (t ? "-" : "") + std::to_string(cfg.choices[a[t]]);
  return s;
}

// Scores clips x under assignments as; appends one row per clip.
void score(Model& m, const Tensor& x, const std::vector<std::string>& names, const std::vector<Assignment>& as,
           const std::string& method, const std::string& setting, std::vector<Row>& rows) {
  torch::NoGradGuard ng;
  for (int64_t s = 0; s < x.size(0); s += 16) {
    const int64_t e = std::min(x.size(0), s + 16);
    std::vector<Assignment> part(as.begin() + s, as.begin() + e);
    auto ref = x.slice(0, s, e);
    auto rec = m.reconstruct(ref, part).clamp(-0.5, 0.5).cpu();
    auto mse = (rec - ref).pow(2).mean({1, 2, 3, 4});
    auto ssim = ssim_frames(rec, ref).mean(1);
    for (int64_t i = s; i < e; ++i) {
      int tokens = 0;
      for (int c : as[i]) tokens += m.cfg.choices[c];
      rows.push_back({method, setting, names[i], assignment_text(m.cfg, as[i]), tokens,
                      psnr_from_mse(mse[i - s].item<double>()), ssim[i - s].item<double>()});
    }
  }
}

std::string fmt(float v) {
  char b[32];
  snprintf(b, sizeof b, "%g", v);
  return b;
}

void write_png(const std::string& png, const std::string& summary, const std::string& search, bool router,
               bool baseline) {
  const std::string script = png + ".gnuplot";
  // A series only for the methods this run scored, so the key lists no empty ones.
  std::vector<std::string> series = {"'" + summary + "' using (strcol(1) eq 'uniform' ? $4 : NaN):5 with linespoints lw 2 pt 7 title 'uniform K per block'"};
  if (router) series.push_back("'' using (strcol(1) eq 'router' ? $4 : NaN):5 with linespoints lw 2 pt 5 title 'router (wq sweep)'");
  if (search != "none")
    series.push_back("'' using (strcol(1) eq 'search' ? $4 : NaN):5 with linespoints lw 2 pt 9 title 'max proxy reward, " +
                     search + " (wq sweep)'");
  if (baseline) series.push_back("'' using (strcol(1) eq 'baseline' ? $4 : NaN):5 with points pt 13 ps 2 title 'uniform-trained baseline'");
  std::ofstream g(script);
  g << "set terminal pngcairo size 900,600 noenhanced font 'sans,11'\n"
    << "set output '" << png << "'\n"
    << "set datafile separator ','\nset key bottom right\nset grid\n"
    << "set xlabel 'tokens per clip (16 frames x 64x64)'\nset ylabel 'PSNR (dB), held-out clips'\n"
    << "set title 'EVATok quality-cost trade-off'\nplot ";
  for (size_t i = 0; i < series.size(); ++i) g << (i ? ", \\\n     " : "") << series[i];
  g << "\n";
  g.close();
  const std::string cmd = "gnuplot '" + script + "'";
  if (std::system(cmd.c_str()) != 0)
    printf("eval: could not run gnuplot (apt-get install gnuplot-nox); the plot script is %s\n", script.c_str());
  else
    printf("eval: wrote %s\n", png.c_str());
}

// "128-8-8-8" -> choice indices; throws when a count is not a choice of the
// model or the number of blocks is wrong.
Assignment parse_assignment(const ModelConfig& cfg, const std::string& text) {
  Assignment a;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t end = std::min(text.find('-', pos), text.size());
    const std::string part = text.substr(pos, end - pos);
    const int ci = part.empty() || part.find_first_not_of("0123456789") != std::string::npos || part.size() > 6
                       ? -1
                       : cfg.choice_index(std::stoi(part));
    if (ci < 0) throw std::runtime_error("--fixed " + text + ": '" + part + "' is not a token count of this model");
    a.push_back(ci);
    pos = end + 1;
  }
  if ((int)a.size() != cfg.num_blocks())
    throw std::runtime_error("--fixed " + text + ": the model has " + std::to_string(cfg.num_blocks()) +
                             " blocks, so give " + std::to_string(cfg.num_blocks()) + " counts");
  return a;
}

}  // namespace

int evaluate(const EvalOptions& o) {
  if (o.search != "none" && o.search != "separable" && o.search != "exact")
    throw std::runtime_error("--search must be none, separable or exact");
  if (o.clips < 1 || o.clips_per_video < 1) throw std::runtime_error("--clips and --clips-per-video must be at least 1");
  if (o.threads < 0) throw std::runtime_error("--threads must be 0 (every core) or more");
  for (float w : o.wq)
    if (!std::isfinite(w) || w <= 0) throw std::runtime_error("--wq values must be positive numbers");
  torch::Device dev(o.device);
  set_cpu_threads(o.threads);
  auto model = Model::load(o.model, dev);
  auto& cfg = model->cfg;
  if (!o.reward_from.empty()) {
    // Comparing the search curves of two tokenizers needs one reward scale.
    copy_reward_stats(*model, *Model::load(o.reward_from, dev));
    printf("search uses the reward statistics of %s\n", o.reward_from.c_str());
  } else if (o.search != "none" && !model->has_reward_stats()) {
    printf("warning: %s has no reward statistics (a proxy before stage 3?), so search only\n"
           "         minimises length; pass --reward-from MODEL to score it on that model's scale\n", o.model.c_str());
  }
  if (o.search == "separable" && cfg.temporal_carry)
    printf("note: with temporal carry the separable search misses what a block reuses from the one before;\n"
           "      --search exact scores every assignment as decoded\n");
  std::vector<Assignment> fixed;  // checked before the (slow) video loading
  for (const auto& f : o.fixed) fixed.push_back(parse_assignment(cfg, f));
  ClipSampler val(load_videos(o.data_dir, o.video), cfg.clip_frames, cfg.clip_height, cfg.clip_width, 3);
  std::vector<ClipSpec> specs;
  auto x = val.fixed(o.clips, o.clips_per_video, &specs);
  std::vector<std::string> names;  // "video" or, with several windows per video, "video@frame"
  for (const auto& s : specs)
    names.push_back(val.videos()[s.video].name + (o.clips_per_video > 1 ? "@" + std::to_string(s.start) : ""));
  const int nb = cfg.num_blocks();
  std::vector<Row> rows;
  printf("%lld held-out clips from %s\n", (long long)x.size(0), o.data_dir.c_str());
  for (size_t c = 0; c < cfg.choices.size(); ++c)
    score(*model, x, names, std::vector<Assignment>(x.size(0), Assignment(nb, (int)c)), "uniform",
          std::to_string(cfg.choices[c]), rows);
  for (size_t i = 0; i < fixed.size(); ++i)
    score(*model, x, names, std::vector<Assignment>(x.size(0), fixed[i]), "fixed", o.fixed[i], rows);
  if (model->has_router)
    for (float w : o.wq) score(*model, x, names, model->route(x, w), "router", fmt(w), rows);
  if (o.search != "none") {
    auto metric = make_quality_metric(cfg.reward_quality, dev);
    auto Q = model->quality_table(x, *metric, o.search == "exact");  // once; argmax per wq
    for (float w : o.wq) {
      auto best = model->reward(Q, w, cfg.reward_wl).argmax(-1);
      std::vector<Assignment> as;
      for (int64_t i = 0; i < best.size(0); ++i) as.push_back(cfg.assignment_choices((int)best[i].item<int64_t>()));
      score(*model, x, names, as, "search", fmt(w), rows);
    }
  }
  for (const auto& b : o.baselines) {
    auto bm = Model::load(b, dev);
    if (!bm->cfg.same_clip_geometry(cfg))
      throw std::runtime_error("baseline " + b + " has another clip geometry");
    auto kind = bm->info.count("train.kind") ? bm->info["train.kind"] : "";
    const int k = kind.rfind("uniform-", 0) == 0 ? std::stoi(kind.substr(8)) : bm->cfg.choices.front();
    const int ci = bm->cfg.choice_index(k);
    score(*bm, x, names, std::vector<Assignment>(x.size(0), Assignment(nb, ci < 0 ? 0 : ci)), "baseline",
          std::to_string(k), rows);
  }
  // Summary: mean tokens, PSNR and SSIM per (method, setting), in first-seen order.
  std::vector<std::pair<std::string, std::string>> keys;
  std::map<std::pair<std::string, std::string>, std::array<double, 4>> acc;
  for (const auto& r : rows) {
    auto k = std::make_pair(r.method, r.setting);
    if (!acc.count(k)) keys.push_back(k), acc[k] = {0, 0, 0, 0};
    auto& a = acc[k];
    a[0] += r.tokens, a[1] += r.psnr, a[2] += r.ssim, a[3] += 1;
  }
  printf("%-9s %-8s %10s %9s %7s\n", "method", "setting", "tokens", "PSNR", "SSIM");
  std::string summary_text = "method,setting,clips,tokens,psnr,ssim\n";
  for (const auto& k : keys) {
    const auto& a = acc[k];
    printf("%-9s %-8s %10.1f %9.2f %7.4f\n", k.first.c_str(), k.second.c_str(), a[0] / a[3], a[1] / a[3], a[2] / a[3]);
    char line[256];
    snprintf(line, sizeof line, "%s,%s,%d,%.2f,%.4f,%.5f\n", k.first.c_str(), k.second.c_str(), (int)a[3], a[0] / a[3],
             a[1] / a[3], a[2] / a[3]);
    summary_text += line;
  }
  if (!o.csv.empty()) {
    std::ofstream f(o.csv);
    f << "method,setting,clip,assignment,tokens,psnr,ssim\n";
    for (const auto& r : rows) {
      char line[512];
      snprintf(line, sizeof line, "%s,%s,%s,%s,%d,%.4f,%.5f\n", r.method.c_str(), r.setting.c_str(), r.clip.c_str(),
               r.assignment.c_str(), r.tokens, r.psnr, r.ssim);
      f << line;
    }
    const std::string sp = o.csv.substr(0, o.csv.rfind(".csv")) + ".summary.csv";
    std::ofstream(sp) << summary_text;
    if (!f) throw std::runtime_error("cannot write " + o.csv);
    printf("eval: wrote %s and %s\n", o.csv.c_str(), sp.c_str());
    if (!o.png.empty()) write_png(o.png, sp, o.search, model->has_router, !o.baselines.empty());
  } else if (!o.png.empty()) {
    throw std::runtime_error("--png needs --csv (the plot is drawn from the summary CSV)");
  }
  return 0;
}

}  // namespace evatok
