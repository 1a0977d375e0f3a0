// `evatok`: command-line front end for model inspection and the training
// pipeline. Usage: evatok <command> [--option value ...]; `evatok help`.
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "ar_model.h"
#include "evatok/evatok.h"
#include "model.h"
#include "safetensors.h"
#include "train.h"

namespace {

const char* kUsage =
    "usage: evatok <command> [options]\n"
    "  info MODEL                       print a model file's config and fingerprint (tokenizer or AR)\n"
    "  init --config C --out M [--seed S]\n"
    "                                   write an UNTRAINED model (for tests/plumbing only)\n"
    "  train-tokenizer --data DIR --out M (--config C | --init M0) [--val DIR]\n"
    "        [--steps N] [--batch B] [--lr X] [--seed S] [--threads T] [--device D]\n"
    "        [--uniform K] [--max-minutes X] [--ckpt-every N]\n"
    "                                   stage 1 (random assignments) or the uniform baseline;\n"
    "                                   resumes from M if it exists\n"
    "  train-router --init M0 --data DIR --val DIR --out M [--label-clips N]\n"
    "        [--val-clips N] [--steps N] [--batch B] [--lr X] [--threads T] [--device D]\n"
    "                                   stages 2+3: proxy-reward labels and the router\n"
    "  eval --model M --data DIR [--clips N] [--wq X] [--search]\n"
    "                                   PSNR and tokens for uniform, router (and search)\n"
    "  init-ar --tokenizer M --out AR [--seed S] [--dim D] [--layers L] [--heads H]\n"
    "        [--mlp N] [--classes a,b,...]\n"
    "                                   write an UNTRAINED AR model for tokenizer M (tests only)\n";

struct Args {
  std::map<std::string, std::string> kv;
  std::string positional;
  bool has(const char* k) const { return kv.count(k) > 0; }
  std::string str(const char* k, const std::string& d = "") const { return has(k) ? kv.at(k) : d; }
  int num(const char* k, int d) const { return has(k) ? std::stoi(kv.at(k)) : d; }
  float real(const char* k, float d) const { return has(k) ? std::stof(kv.at(k)) : d; }
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0) {
      std::string key = s.substr(2);
      if (key == "search") {
        a.kv[key] = "1";
      } else if (i + 1 < argc) {
        a.kv[key] = argv[++i];
      } else {
        throw std::runtime_error("option " + s + " needs a value");
      }
    } else {
      a.positional = s;
    }
  }
  return a;
}

evatok::TrainOptions train_options(const Args& a) {
  evatok::TrainOptions o;
  o.data_dir = a.str("data");
  o.val_dir = a.str("val");
  o.config = a.str("config");
  o.init = a.str("init");
  o.out = a.str("out");
  o.device = a.str("device", "cpu");
  o.steps = a.num("steps", o.steps);
  o.batch = a.num("batch", o.batch);
  o.threads = a.num("threads", 0);
  o.log_every = a.num("log-every", o.log_every);
  o.ckpt_every = a.num("ckpt-every", o.ckpt_every);
  o.lr = a.real("lr", o.lr);
  o.seed = (unsigned long long)a.num("seed", 1);
  o.uniform_tokens = a.num("uniform", 0);
  o.label_clips = a.num("label-clips", o.label_clips);
  o.val_clips = a.num("val-clips", o.val_clips);
  o.max_minutes = a.real("max-minutes", 0);
  if (o.out.empty()) throw std::runtime_error("--out is required");
  if (o.data_dir.empty()) throw std::runtime_error("--data is required");
  return o;
}

// Network size options shared by init-ar and train-ar.
evatok::ArConfig ar_config_from_args(const Args& a, evatok::ArConfig c) {
  c.dim = a.num("dim", c.dim);
  c.layers = a.num("layers", c.layers);
  c.heads = a.num("heads", c.heads);
  c.mlp_hidden = a.num("mlp", 2 * c.dim);
  c.validate();
  return c;
}

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

int info(const std::string& path) {
  {
    evatok::TensorFile f = evatok::load_safetensors(path);
    auto it = f.metadata.find("format");
    if (it != f.metadata.end() && it->second == "evatok-ar-model") return info_ar(path);
  }
  EvatokModel* m = nullptr;
  char err[512];
  if (evatok_model_open(path.c_str(), nullptr, &m, err, sizeof err) != EVATOK_OK) {
    fprintf(stderr, "evatok: %s\n", err);
    return 1;
  }
  const EvatokModelInfo* i = evatok_model_get_info(m);
  printf("name:        %s\nfingerprint: %s\nparameters:  %lld\n", i->name, i->fingerprint_hex, (long long)i->num_parameters);
  printf("clip:        %d frames x %dx%d, patch %dx%dx%d, %d blocks\n", i->clip_frames, i->clip_width, i->clip_height,
         i->patch_t, i->patch_s, i->patch_s, i->num_blocks);
  printf("choices:    ");
  for (int c = 0; c < i->num_choices; ++c) printf(" %d", i->choices[c]);
  printf(" tokens per block\ncodebook:    %d\nrouter:      %s\n", i->codebook_size, i->has_router ? "trained" : "none");
  evatok::TensorFile f = evatok::load_safetensors(path);
  for (const auto& [k, v] : f.metadata)
    if (k.rfind("train.", 0) == 0) printf("%-40s %s\n", k.c_str(), v.c_str());
  evatok_model_close(&m);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
    fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  try {
    Args a = parse(argc, argv);
    if (cmd == "info") return info(a.positional.empty() ? evatok_default_model_path() : a.positional);
    if (cmd == "init") {
      if (!a.has("config") || !a.has("out")) throw std::runtime_error("init needs --config and --out");
      evatok::Model m(evatok::ModelConfig::from_file(a.str("config")), (uint64_t)a.num("seed", 1));
      m.info["train.kind"] = "untrained";
      m.save(a.str("out"));
      printf("wrote untrained model %s (%lld parameters)\n", a.str("out").c_str(), (long long)m.num_parameters());
      return 0;
    }
    if (cmd == "init-ar") {
      if (!a.has("tokenizer") || !a.has("out")) throw std::runtime_error("init-ar needs --tokenizer and --out");
      auto tok = evatok::Model::load(a.str("tokenizer"), torch::kCPU);
      auto cfg = ar_config_from_args(a, evatok::ArConfig::for_tokenizer(*tok));
      std::string cl = a.str("classes");
      for (size_t p = 0; !cl.empty() && p != std::string::npos;) {
        const size_t q = cl.find(',', p);
        cfg.classes.push_back(cl.substr(p, q == std::string::npos ? q : q - p));
        p = q == std::string::npos ? q : q + 1;
      }
      evatok::ArModel m(cfg, (uint64_t)a.num("seed", 1));
      m.info["train.kind"] = "untrained";
      m.save(a.str("out"));
      printf("wrote untrained AR model %s (%lld parameters) for tokenizer %s\n", a.str("out").c_str(),
             (long long)m.num_parameters(), cfg.tokenizer_fingerprint.c_str());
      return 0;
    }
    if (cmd == "train-tokenizer") return evatok::train_tokenizer(train_options(a));
    if (cmd == "train-router") return evatok::train_router(train_options(a));
    if (cmd == "eval")
      return evatok::evaluate(a.str("model", evatok_default_model_path()), a.str("data"), a.num("clips", 64),
                              a.real("wq", 1.2f), a.str("device", "cpu"), a.has("search"));
  } catch (const std::exception& e) {
    fprintf(stderr, "evatok %s: %s\n", cmd.c_str(), e.what());
    return 1;
  }
  fprintf(stderr, "evatok: unknown command '%s'\n%s", cmd.c_str(), kUsage);
  return 2;
}
