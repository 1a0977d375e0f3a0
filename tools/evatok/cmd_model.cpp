// Model files: info, init (untrained), set-router, compile-metric.
#include <cstdio>
#include <fstream>
#include <iterator>

#include "ar/ar_model.h"
#include "cli.h"
#include "core/quality.h"
#include "core/safetensors.h"
#include "evatok/evatok.h"
#include "tokenizer/model.h"
#include "train/entropy_train.h"

namespace evatok::cli {
namespace {

int info_ar(const std::string& path) {
  auto m = evatok::ArModel::load(path, torch::kCPU);
  const auto& c = m->cfg;
  printf("name:        %s (AR model)\nfingerprint: %s\nparameters:  %lld\n", c.name.c_str(),
         evatok::to_hex(m->fp.data(), 16).c_str(), (long long)m->num_parameters());
  printf("network:     dim %d, %d layers, %d heads, SwiGLU %d, vocabulary %d, max sequence %d\n", c.dim, c.layers,
         c.heads, c.mlp_hidden, c.vocab_size(), c.max_seq_len());
  printf("tokenizer:   %s\n", c.tokenizer_fingerprint.c_str());
  printf("prediction:  %d condition frames, prefix %d tokens, %d frames predicted\n", c.cond_frames, c.prefix_len(),
         c.clip_frames - c.cond_frames);
  printf("classes:    ");
  for (const auto& n : c.classes) printf(" %s", n.c_str());
  printf("%s\n", c.classes.empty() ? " none" : "");
  for (const auto& [k, v] : m->info) printf("%-40s %s\n", k.c_str(), v.c_str());
  return 0;
}

// A labels file (stage 2): what it holds and what made it.
int info_labels(evatok::TensorFile& f) {
  auto rows = [&](const char* k) { return f.tensors.count(k) ? (long long)f.tensors[k].size(0) : 0LL; };
  auto meta = [&](const char* k) { return f.metadata.count(k) ? f.metadata[k] : std::string("?"); };
  printf("labels file%s\ntraining clips: %lld\nheld-out clips: %lld\nassignments:    %lld\n",
         meta("labels.partial") == "1" ? " (unfinished: rerun label to complete it)" : "", rows("quality"),
         rows("val_quality"), (long long)f.tensors["quality"].size(1));
  printf("metric:         %s, %s\ntokenizer:      %s (codec fingerprint)\n", meta("labels.metric").c_str(),
         meta("labels.exact") == "1" ? "exact" : "separable", meta("labels.tokenizer").c_str());
  printf("data:           %s (%s videos)\nheld-out:       %s\n", meta("labels.data").c_str(),
         meta("labels.videos").c_str(), meta("labels.val").c_str());
  if (f.metadata.count("labels.clips_per_second")) printf("clips/s:        %s\n", meta("labels.clips_per_second").c_str());
  return 0;
}

int info(const std::string& path) {
  {
    evatok::TensorFile f = evatok::load_safetensors(path);
    auto it = f.metadata.find("format");
    if (it != f.metadata.end() && it->second == "evatok-ar-model") return info_ar(path);
    if (it == f.metadata.end() && f.metadata.count("labels.tokenizer") && f.tensors.count("quality") &&
        f.tensors["quality"].dim() == 2)
      return info_labels(f);
  }
  EvatokModel* m = nullptr;
  char err[512];
  if (evatok_model_open(path.c_str(), nullptr, &m, err, sizeof err) != EVATOK_OK) {
    fprintf(stderr, "evatok: %s\n", err);
    return 1;
  }
  const EvatokModelInfo* i = evatok_model_get_info(m);
  printf("name:        %s\nfingerprint: %s\ncodec fingerprint: %s (streams, AR models and labels refer to it)\nparameters:  %lld\n",
         i->name, i->fingerprint_hex, i->codec_fingerprint_hex, (long long)i->num_parameters);
  printf("clip:        %d frames x %dx%d, patch %dx%dx%d, %d blocks\n", i->clip_frames, i->clip_width, i->clip_height,
         i->patch_t, i->patch_s, i->patch_s, i->num_blocks);
  printf("choices:    ");
  for (int c = 0; c < i->num_choices; ++c) printf(" %d", i->choices[c]);
  evatok::TensorFile f = evatok::load_safetensors(path);
  const auto cfg = evatok::ModelConfig::from_json(f.metadata["evatok.config"]);
  printf(" tokens per block\ncodebook:    %d\nrouter:      %s (input: %s, predicts: %s)\n", i->codebook_size,
         i->has_router ? "trained" : "none", cfg.router_input.c_str(), cfg.router_target.c_str());
  if (i->has_entropy_tables)
    printf("entropy tables: %s (bitstream v2 codes with them)\n", i->entropy_fingerprint_hex);
  else
    printf("entropy tables: none (bitstream v2 codes with the built-in model; evatok entropy-tables makes them)\n");
  for (const auto& [k, v] : f.metadata)
    if (k.rfind("train.", 0) == 0) printf("%-40s %s\n", k.c_str(), v.c_str());
  evatok_model_close(&m);
  return 0;
}

}  // namespace

void add_model_commands(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto* c = app.add_subcommand("info", "a model file's config and fingerprint (tokenizer or AR), or what a labels file holds");
  c->add_option("file", *path, "model or labels file (default: the default model)");
  c->callback([path] { exit_status = info(path->empty() ? evatok_default_model_path() : *path); });

  struct Init {
    std::string config, out;
    int seed = 1;
  };
  auto in = std::make_shared<Init>();
  c = app.add_subcommand("init", "write an UNTRAINED model (for tests and plumbing only)");
  c->add_option("--config", in->config, "model config JSON")->required();
  c->add_option("--out", in->out, "model file written")->required();
  c->add_option("--seed", in->seed, "random seed of the weights");
  c->callback([in] {
    Model m(ModelConfig::from_file(in->config), (uint64_t)in->seed);
    m.info["train.kind"] = "untrained";
    m.save(in->out);
    printf("wrote untrained model %s (%lld parameters)\n", in->out.c_str(), (long long)m.num_parameters());
  });

  struct SetRouter {
    std::string model, router, out;
  };
  auto sr = std::make_shared<SetRouter>();
  c = app.add_subcommand("set-router", "MODEL's tokenizer with ROUTER's router and reward statistics (a router retrained after stage 4)");
  c->add_option("--model", sr->model, "the tokenizer");
  c->add_option("--router", sr->router, "the model whose router is taken");
  c->add_option("--out", sr->out, "model file written");
  c->callback([sr] { exit_status = set_router(sr->model, sr->router, sr->out); });

  auto et = std::make_shared<EntropyOptions>();
  c = app.add_subcommand("entropy-tables",
                         "bitstream v2's probability tables for MODEL, from its tokens of training clips (written into OUT)");
  add_entropy_options(c, *et);
  c->callback([et] { exit_status = train_entropy_tables(*et); });

  struct Metric {
    std::string source, out;
  };
  auto cm = std::make_shared<Metric>();
  c = app.add_subcommand("compile-metric",
                         "compile TorchScript source defining forward(self, rec, ref) -> [B] distance, for label --quality torchscript:F.pt");
  c->add_option("--source", cm->source, "TorchScript source file")->required();
  c->add_option("--out", cm->out, "compiled metric written (F.pt)")->required();
  c->callback([cm] {
    std::ifstream in(cm->source, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + cm->source);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    compile_metric(text, cm->out);
    printf("wrote %s (use --quality torchscript:%s)\n", cm->out.c_str(), cm->out.c_str());
  });
}

}  // namespace evatok::cli
