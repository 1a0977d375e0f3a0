// AR model internals: structure of sampled sequences, KV cache against full
// recomputation, the half-float step (ArStep) against the forward pass,
// determinism, file round trip, the block-causal prefix.
// argv[1]: an untrained tokenizer model (evatok init), argv[2]: a temp folder.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <memory>
#include <string>

#include "ar/ar_model.h"
#include "ar/ar_predict.h"
#include "ar/ar_sampler.h"
#include "ar/ar_step.h"
#include "tokenizer/model.h"

// After the C++ headers: cmocka defines macros such as fail().
extern "C" {
#include <cmocka.h>
}

using namespace evatok;

static std::string tok_path, tmpdir;
static std::unique_ptr<Model> tok;

// A small AR network for the tokenizer, so the tests run fast on CPU.
static ArConfig small_config() {
  ArConfig c = ArConfig::for_tokenizer(*tok);
  c.dim = 64;
  c.layers = 2;
  c.heads = 2;
  c.mlp_hidden = 128;
  c.classes = {"still", "pan", "zoom"};
  return c;
}

static std::vector<std::vector<int64_t>> random_prefixes(const ArConfig& c, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<int64_t>> out(n, std::vector<int64_t>(c.prefix_len()));
  for (auto& p : out)
    for (auto& t : p) t = (int64_t)(rng() % c.codebook_size);
  return out;
}

static void check_structure(const ArConfig& c, const SampleOutput& s, int n) {
  assert_int_equal((int)s.choices.size(), n);
  int64_t total = 0;
  for (int i = 0; i < n; ++i) {
    assert_int_equal((int)s.choices[i].size(), c.num_blocks);
    size_t len = 0;
    for (int ch : s.choices[i]) {
      assert_true(ch >= 0 && ch < c.num_choices());
      len += c.choices[ch];
    }
    assert_int_equal(s.tokens[i].size(), len);
    for (int64_t t : s.tokens[i]) assert_true(t >= 0 && t < c.codebook_size);
    total += (int64_t)len + c.num_blocks;
  }
  assert_int_equal(s.sampled, total);
}

static void test_structure(void** state) {
  (void)state;
  ArModel m(small_config(), 3);
  // A head biased towards the wrong kind of token everywhere: the masks must
  // still give a valid sequence.
  {
    torch::NoGradGuard ng;
    auto& w = m.net->head->weight;
    w.zero_();
    w.slice(0, m.cfg.codebook_size, m.cfg.vocab_size()).fill_(5.0);  // lengths + specials
  }
  struct Case {
    float temp;
    int top_k;
    float top_p;
    int cls;
    float cfg;
  } cases[] = {{1, 0, 1, -1, 1}, {0, 0, 1, -1, 1}, {0.7f, 5, 1, 0, 1}, {1.3f, 0, 0.5f, 2, 3}, {1, 1, 0.01f, 1, 0}};
  for (const auto& cs : cases) {
    SampleParams p;
    p.temperature = cs.temp;
    p.top_k = cs.top_k;
    p.top_p = cs.top_p;
    p.class_id = cs.cls;
    p.cfg = cs.cfg;
    p.seed = 11;
    check_structure(m.cfg, ar_sample(m, random_prefixes(m.cfg, 2, 5), p), 2);
    check_structure(m.cfg, ar_sample(m, {std::vector<int64_t>(), std::vector<int64_t>()}, p), 2);  // generate task
  }
}

static void test_sample_from_logits(void** state) {
  (void)state;
  std::vector<float> l = {100, 100, 1, 2, 3, 100};
  std::mt19937_64 rng(1);
  SampleParams p;
  for (int i = 0; i < 200; ++i) {
    int64_t t = sample_from_logits(l.data(), 2, 5, p, rng);
    assert_true(t >= 2 && t < 5);
  }
  p.temperature = 0;
  assert_int_equal(sample_from_logits(l.data(), 2, 5, p, rng), 4);
  p.temperature = 1;
  p.top_k = 1;
  assert_int_equal(sample_from_logits(l.data(), 2, 5, p, rng), 4);
  p.top_k = 0;
  p.top_p = 0.1f;
  assert_int_equal(sample_from_logits(l.data(), 2, 5, p, rng), 4);
  // Against the plain definition (every id sorted by logit, then the inverse
  // CDF) on wide rows: the sampler sorts only the prefix it walks.
  std::mt19937_64 gen(5);
  std::normal_distribution<float> nd(0.f, 3.f);
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<float> row(3000);
    for (auto& v : row) v = trial % 5 == 0 ? std::round(nd(gen)) : nd(gen);  // some with ties
    SampleParams q;
    q.temperature = 0.5f + 0.1f * (trial % 7);
    q.top_k = trial % 3 == 1 ? 500 : 0;
    q.top_p = trial % 4 == 2 ? 0.8f : 1.f;
    std::vector<int> idx(row.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](int a, int b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
    const int keep0 = q.top_k > 0 ? q.top_k : (int)row.size();
    std::vector<double> pr(keep0);
    double sum = 0;
    for (int i = 0; i < keep0; ++i) sum += pr[i] = std::exp(((double)row[idx[i]] - row[idx[0]]) / q.temperature);
    int keep = keep0;
    if (q.top_p < 1) {
      double c = 0;
      int k = 0;
      while (k < keep && c < q.top_p * sum) c += pr[k++];
      keep = std::max(1, k);
      sum = c;
    }
    std::mt19937_64 r1(trial), r2(trial);
    for (int d = 0; d < 50; ++d) {
      const double u = (double)(r2() >> 11) * 0x1.0p-53 * sum;
      double c = 0;
      int want = idx[keep - 1];
      for (int i = 0; i < keep; ++i)
        if (u < (c += pr[i])) {
          want = idx[i];
          break;
        }
      assert_int_equal(sample_from_logits(row.data(), 0, (int)row.size(), q, r1), want);
    }
  }
}

static void test_kv_cache_equals_full(void** state) {
  (void)state;
  ArModel m(small_config(), 4);
  auto pre = random_prefixes(m.cfg, 2, 9);
  for (int cls : {-1, 1}) {
    SampleParams p;
    p.seed = 1234;
    p.class_id = cls;
    p.cfg = cls >= 0 ? 2.f : 1.f;
    p.kv_cache = true;
    p.fast_step = false;  // LibTorch's cached step: the same float arithmetic
    auto a = ar_sample(m, pre, p);
    p.kv_cache = false;
    auto b = ar_sample(m, pre, p);
    assert_true(a.choices == b.choices);
    assert_true(a.tokens == b.tokens);
  }
  // Logits of a cached step equal those of a full forward pass.
  torch::NoGradGuard ng;
  auto seq = ar_prompt(m.cfg, 0, pre[0]);
  std::vector<int64_t> blk(m.cfg.choices[1], 7);
  ar_append_block(m.cfg, seq, 0, 1, blk.data());
  auto b = m.collate({seq});
  const int64_t T = b.tokens.size(1);
  auto full = m.net->logits(m.net->forward(b.tokens, b.seg, b.pos, b.choice, 0, nullptr)).select(1, T - 1);
  auto cache = m.net->new_cache(1);
  const int64_t split = T - 5;
  m.net->forward(b.tokens.slice(1, 0, split), b.seg.slice(1, 0, split), b.pos.slice(1, 0, split),
                 b.choice.slice(1, 0, split), 0, &cache);
  torch::Tensor last;
  for (int64_t t = split; t < T; ++t)
    last = m.net->forward(b.tokens.slice(1, t, t + 1), b.seg.slice(1, t, t + 1), b.pos.slice(1, t, t + 1),
                          b.choice.slice(1, t, t + 1), t, &cache);
  auto cached = m.net->logits(last).select(1, 0);
  assert_true(torch::allclose(full, cached, 1e-4, 1e-4));
}

// ArStep's logits match ArNet::forward's at every position of two rows that
// differ (tokens, features), to the rounding of the weights to half floats.
static void test_step_matches_forward(void** state) {
  (void)state;
  ArModel m(small_config(), 9);
  assert_true(ArStep::supports(*m.net));
  torch::NoGradGuard ng;
  auto pre = random_prefixes(m.cfg, 2, 11);
  std::vector<ArSequence> seqs;
  for (int r = 0; r < 2; ++r) {
    seqs.push_back(ar_prompt(m.cfg, r, pre[r]));
    std::vector<int64_t> blk(m.cfg.choices[r + 1]);
    for (size_t j = 0; j < blk.size(); ++j) blk[j] = (int64_t)((j * 37 + r * 11) % m.cfg.codebook_size);
    ar_append_block(m.cfg, seqs.back(), 0, r + 1, blk.data());
  }
  const size_t T = std::min(seqs[0].tokens.size(), seqs[1].tokens.size());
  for (auto& s : seqs) {
    s.tokens.resize(T), s.feat.seg.resize(T), s.feat.pos.resize(T), s.feat.choice.resize(T), s.target.resize(T);
  }
  auto b = m.collate(seqs);
  auto full = m.net->logits(m.net->forward(b.tokens, b.seg, b.pos, b.choice, 0, nullptr));  // [2, T, V]
  const int64_t split = 2 + m.cfg.prefix_len();  // the prompt through LibTorch, as the sampler does
  auto cache = m.net->new_cache(2);
  m.net->forward(b.tokens.slice(1, 0, split), b.seg.slice(1, 0, split), b.pos.slice(1, 0, split),
                 b.choice.slice(1, 0, split), 0, &cache);
  ArStep step(*m.net, cache, 2);
  const int64_t V = m.cfg.vocab_size();
  for (int64_t t = split; t < (int64_t)T; ++t) {
    int64_t tk[2], sg[2], ps[2], ch[2];
    for (int r = 0; r < 2; ++r) {
      tk[r] = seqs[r].tokens[t], sg[r] = seqs[r].feat.seg[t], ps[r] = seqs[r].feat.pos[t];
      ch[r] = seqs[r].feat.choice[t];
    }
    const float* L = step.step(tk, sg, ps, ch, t);
    auto got = torch::from_blob(const_cast<float*>(L), {2, V}, torch::kFloat32);
    auto want = full.select(1, t);
    const double err = (want - got).abs().max().item<double>(), scale = want.abs().max().item<double>();
    assert_true(err <= 2e-3 * scale + 1e-5);
  }
  // Out-of-range input is refused, not read.
  int64_t bad[2] = {V, 0}, zero[2] = {0, 0};
  bool threw = false;
  try {
    step.step(bad, zero, zero, zero, (int64_t)T);
  } catch (const std::runtime_error&) {
    threw = true;
  }
  assert_true(threw);
  // Sampling through it keeps the structure (and stays deterministic: test_determinism).
  SampleParams p;
  p.seed = 99;
  p.class_id = 1;
  p.cfg = 3.f;
  check_structure(m.cfg, ar_sample(m, pre, p), 2);
}

static void test_determinism(void** state) {
  (void)state;
  ArModel m(small_config(), 5);
  auto pre = random_prefixes(m.cfg, 1, 2);
  SampleParams p;
  p.seed = 77;
  auto a = ar_sample(m, pre, p), b = ar_sample(m, pre, p);
  assert_true(a.tokens == b.tokens && a.choices == b.choices);
  p.seed = 78;
  auto c = ar_sample(m, pre, p);
  assert_false(a.tokens == c.tokens);
}

static void test_save_load(void** state) {
  (void)state;
  ArModel m(small_config(), 6);
  m.info["train.step"] = "42";
  const std::string path = tmpdir + "/ar-roundtrip.safetensors";
  m.save(path);
  auto l = ArModel::load(path, torch::kCPU);
  assert_true(l->fp == m.fp);
  assert_true(l->cfg.to_json() == m.cfg.to_json());
  assert_string_equal(l->info["train.step"].c_str(), "42");
  SampleParams p;
  p.seed = 3;
  auto pre = random_prefixes(m.cfg, 1, 4);
  assert_true(ar_sample(m, pre, p).tokens == ar_sample(*l, pre, p).tokens);
  check_ar_tokenizer(*l, *tok);  // does not throw
  // A tokenizer model is not an AR model, and the other way round.
  bool threw = false;
  try {
    ArModel::load(tok_path, torch::kCPU);
  } catch (const std::runtime_error& e) {
    threw = std::string(e.what()).find("tokenizer model") != std::string::npos;
  }
  assert_true(threw);
  threw = false;
  try {
    Model::load(path, torch::kCPU);
  } catch (const std::runtime_error&) {
    threw = true;
  }
  assert_true(threw);
  // Another tokenizer fingerprint: mismatch.
  ArConfig other = small_config();
  other.tokenizer_fingerprint = std::string(32, '0');
  ArModel o(other, 1);
  threw = false;
  try {
    check_ar_tokenizer(o, *tok);
  } catch (const ModelMismatch& e) {
    threw = std::string(e.what()).find(other.tokenizer_fingerprint) != std::string::npos;
  }
  assert_true(threw);
}

// The prompt of frame prediction rests on block causality: the prefix
// blocks' tokens depend only on their frames, not on later frames or on the
// choices of later blocks.
static void test_prefix_is_block_causal(void** state) {
  (void)state;
  const ArConfig c = small_config();
  torch::manual_seed(1);
  auto a = torch::rand({1, 3, c.clip_frames, c.clip_height, c.clip_width}) - 0.5;
  auto b = a.clone();
  const int pf = c.prefix_blocks() * c.patch_t;
  b.slice(2, pf, c.clip_frames).uniform_(-0.5, 0.5);
  auto ta = prefix_tokens(c, *tok, a), tb = prefix_tokens(c, *tok, b);
  assert_true(ta == tb);
  auto as = prefix_assignment(c);
  as.back() = 0;
  auto full = tok->encode(a, {as});
  full[0].resize(c.prefix_len());
  assert_true(full[0] == ta[0]);
  // condition padding: 3 frames -> first repeated in front, last to the end
  auto cond = torch::rand({1, 3, 3, c.clip_height, c.clip_width});
  auto pad = pad_condition(c, cond);
  assert_int_equal(pad.size(2), c.clip_frames);
  assert_true(torch::equal(pad.select(2, 0), cond.select(2, 0)));
  assert_true(torch::equal(pad.select(2, c.cond_frames - 3), cond.select(2, 0)));
  assert_true(torch::equal(pad.select(2, c.cond_frames - 1), cond.select(2, 2)));
  assert_true(torch::equal(pad.select(2, c.clip_frames - 1), cond.select(2, 2)));
}

static void test_predict_clips(void** state) {
  (void)state;
  ArModel m(small_config(), 8);
  auto cond = torch::rand({2, 3, 5, m.cfg.clip_height, m.cfg.clip_width}) - 0.5;
  SampleParams p;
  p.seed = 5;
  int64_t n = 0;
  auto out = predict_clips(m, *tok, cond, p, &n);
  assert_int_equal(out.size(0), 2);
  assert_int_equal(out.size(2), m.cfg.clip_frames);
  // the first block comes from the condition frames, the other three are sampled
  assert_true(n >= 2 * (m.cfg.num_blocks - 1) * (1 + m.cfg.choices.back()));
  auto again = predict_clips(m, *tok, cond, p);
  assert_true(torch::equal(out, again));
}

// Given blocks are fed, not sampled: the output starts with them, the rest
// keeps the structure, and only the sampled tokens are counted.
static void test_known_blocks(void** state) {
  (void)state;
  ArModel m(small_config(), 9);
  const ArConfig& c = m.cfg;
  auto pre = random_prefixes(c, 2, 3);
  std::vector<KnownBlocks> known(2);
  known[0].choices = {1};
  known[1].choices = {c.num_choices() - 1};
  for (auto& k : known)
    for (int j = 0; j < c.choices[k.choices[0]]; ++j) k.tokens.push_back((j * 37 + 5) % c.codebook_size);
  SampleParams p;
  p.seed = 11;
  for (bool cached : {true, false}) {
    p.kv_cache = cached;
    auto s = ar_sample(m, pre, p, &known);
    int64_t sampled = 0;
    for (int i = 0; i < 2; ++i) {
      assert_int_equal(s.choices[i][0], known[i].choices[0]);
      assert_true(std::equal(known[i].tokens.begin(), known[i].tokens.end(), s.tokens[i].begin()));
      sampled += (int64_t)s.tokens[i].size() - (int64_t)known[i].tokens.size() + c.num_blocks - 1;
    }
    assert_int_equal(s.sampled, sampled);
  }
  // refused: wrong count of entries, of tokens, a token or choice out of range, every block given
  auto refused = [&](std::vector<KnownBlocks> k) {
    try {
      ar_sample(m, pre, p, &k);
    } catch (const std::runtime_error&) {
      return true;
    }
    return false;
  };
  assert_true(refused({known[0]}));
  auto k = known;
  k[0].tokens.pop_back();
  assert_true(refused(k));
  k = known;
  k[1].tokens[0] = c.codebook_size;
  assert_true(refused(k));
  k = known;
  k[1].choices[0] = c.num_choices();
  assert_true(refused(k));
  k = known;
  k[0].choices.assign(c.num_blocks, c.num_choices() - 1);
  k[0].tokens.assign((size_t)c.num_blocks * c.choices.back(), 0);
  assert_true(refused(k));
}

// A prediction's first block is the tokenizer's own coding of the condition
// frames (block-causal decoder): the same for every seed, and equal to the
// reconstruction of the padded condition; --sample-known samples it instead.
static void test_prediction_keeps_known_frames(void** state) {
  (void)state;
  ArModel m(small_config(), 10);
  const ArConfig& c = m.cfg;
  torch::manual_seed(4);
  auto cond = torch::rand({2, 3, c.cond_frames, c.clip_height, c.clip_width}) - 0.5;
  SampleParams p;
  p.seed = 1;
  auto a = predict_clips(m, *tok, cond, p);
  p.seed = 2;
  auto b = predict_clips(m, *tok, cond, p);
  auto first = [&](const torch::Tensor& x) { return x.slice(2, 0, c.patch_t); };
  assert_true(torch::equal(first(a), first(b)));
  auto padded = pad_condition(c, cond);
  auto known = known_blocks(c, *tok, padded);
  std::vector<Assignment> as;
  for (const auto& k : known) {
    Assignment x(c.num_blocks, c.num_choices() - 1);
    x[0] = k.choices[0];
    as.push_back(x);
  }
  auto rec = tok->reconstruct(padded, as).to(torch::kCPU);
  assert_true(torch::allclose(first(a), first(rec), 1e-5, 1e-5));
  p.sample_known = true;
  auto s = predict_clips(m, *tok, cond, p);
  assert_false(torch::equal(first(s), first(a)));
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: test_ar TOKENIZER TMPDIR\n");
    return 2;
  }
  tok_path = argv[1];
  tmpdir = argv[2];
  torch::set_num_threads(1);  // tests run in parallel on 2 cores: avoid oversubscription
  tok = Model::load(tok_path, torch::kCPU);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_structure),          cmocka_unit_test(test_sample_from_logits),
      cmocka_unit_test(test_kv_cache_equals_full), cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_save_load),           cmocka_unit_test(test_prefix_is_block_causal),
      cmocka_unit_test(test_predict_clips),      cmocka_unit_test(test_step_matches_forward),
      cmocka_unit_test(test_known_blocks),       cmocka_unit_test(test_prediction_keeps_known_frames),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  tok.reset();
  return rc;
}
