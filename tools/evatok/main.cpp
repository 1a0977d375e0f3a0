// `evatok`: the command-line front end for model inspection, the training
// pipeline, evaluation and the AR model. `evatok --help`, `evatok CMD --help`.
#include <cstdio>
#include <cstring>

#include "cli.h"
#include "core/cpu_runtime.h"
#include "evatok/evatok.h"

namespace {

// A parse error as one line: CLI11's wording, with the familiar names for an
// unknown option and a stray argument.
std::string describe(const CLI::App& app, const CLI::ParseError& e) {
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    for (const CLI::App* a : app.get_subcommands())
      for (const auto& r : a->remaining(true))
        return r.rfind("-", 0) == 0 ? "unknown option " + r + " (evatok " + a->get_name() + " --help lists its options)"
                                    : "unexpected argument '" + r + "' (options are --name value)";
  }
  return e.what();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{std::string("evatok ") + evatok_version() +
                   ": EVATok models (inspection, the four training stages, evaluation, the AR model)",
               "evatok"};
  app.option_defaults()->always_capture_default();
  app.require_subcommand(1, 1);
  app.fallthrough(false);
  evatok::cli::add_model_commands(app);
  evatok::cli::add_train_commands(app);
  evatok::cli::add_eval_commands(app);
  evatok::cli::add_ar_commands(app);
  evatok::cli::add_token_commands(app);
  evatok::cli::add_detokenize_command(app);
  app.footer(
      "Every command that reads videos takes --fps, --short-side and --max-frames. Folders may hold .y4m and any "
      "video the system's FFmpeg libraries decode.");

  if (argc < 2) {
    fputs(app.help().c_str(), stderr);
    return 2;
  }
  if (!strcmp(argv[1], "help")) {
    fputs(app.help().c_str(), stdout);
    return 0;
  }
  const std::string cmd = argv[1];
  evatok::init_cpu_runtime();
  evatok::set_cpu_threads(0);  // OpenBLAS in the calling thread; --threads sets LibTorch's pool
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (app.get_subcommands().empty()) {
      fprintf(stderr, "evatok: unknown command '%s' (evatok --help lists them)\n", cmd.c_str());
      return 2;
    }
    fprintf(stderr, "evatok %s: %s\n", cmd.c_str(), describe(app, e).c_str());
    return 1;
  } catch (const c10::Error& e) {
    fprintf(stderr, "evatok %s: %s\n", cmd.c_str(), e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    fprintf(stderr, "evatok %s: %s\n", cmd.c_str(), e.what());
    return 1;
  }
  return evatok::cli::exit_status;
}
