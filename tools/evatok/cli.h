// Shared by the `evatok` command groups: the options several commands take,
// added to a CLI11 subcommand, and the exit status a command leaves.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "data/data.h"
#include "train/entropy_train.h"
#include "train/run_options.h"
#include "train/train.h"

namespace evatok::cli {

// Set by a command's callback; main returns it.
extern int exit_status;

// --fps, --short-side, --max-frames: how videos are read.
void add_video_options(CLI::App* c, VideoLoadOptions& v);
// --data, --val, --out, --device, --steps, --batch, ... of every training
// command (train/run_options.h).
void add_run_options(CLI::App* c, RunOptions& o);
// The options of each stage; also what train-all reads from a stage file.
void add_tokenizer_options(CLI::App* c, TokenizerOptions& o);
void add_label_options(CLI::App* c, LabelOptions& o);
void add_router_options(CLI::App* c, RouterOptions& o);
void add_entropy_options(CLI::App* c, EntropyOptions& o);

// Parses a stage file's options (a JSON object of "option": value) with the
// stage's option set, so a typo or an option of another stage is refused.
// `extra` are --name value pairs that override the file.
void parse_json_options(CLI::App& stage, const std::string& file, const std::vector<std::string>& extra);

// The command groups (one file each).
void add_model_commands(CLI::App& app);  // info, init, set-router, entropy-tables, compile-metric
void add_train_commands(CLI::App& app);  // train-tokenizer, label, train-router, train-all
void add_eval_commands(CLI::App& app);   // eval
void add_ar_commands(CLI::App& app);     // init-ar, train-ar, eval-ar, bench-ar
void add_token_commands(CLI::App& app);  // tokenize, merge-tokens
void add_detokenize_command(CLI::App& app);

}  // namespace evatok::cli
