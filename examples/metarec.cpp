// The metarec command-line tool. Each subcommand lives in examples/cli/<name>.hpp and defines
// `int metarec::cli::run_<name>(const std::vector<std::string>& args)`; the models come from the
// registry (cli/registry_access.hpp, one translation unit per family).
// Exit codes: 0 success, 1 runtime failure (bad data, I/O), 2 usage error.

#include "cli/args.hpp"

#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "cli/adapt.hpp"
#include "cli/data_stats.hpp"
#include "cli/evaluate.hpp"
#include "cli/meta_train.hpp"
#include "cli/models.hpp"
#include "cli/split.hpp"
#include "cli/train.hpp"

namespace {

struct Command {
  const char* name;
  const char* summary;
  std::function<int(const std::vector<std::string>&)> run;
};

std::vector<Command> commands() {
  return {
      {"data-stats", "users, items, ratings, density, histogram, times, fingerprint",
       metarec::cli::run_data_stats},
      {"split", "split a data set with a named protocol and write it", metarec::cli::run_split},
      {"evaluate", "score a TSV of `user item score truth` rows with any metric",
       metarec::cli::run_evaluate},
      {"models", "every model of the registry: family, protocols, validated recipes",
       metarec::cli::run_models},
      {"train", "train a model on a protocol's split and report its metrics", metarec::cli::run_train},
      {"meta-train", "meta-train a model with MAML, FOMAML, Reptile or Meta-SGD",
       metarec::cli::run_meta_train},
      {"adapt", "adapt a meta-trained model to a new user and recommend", metarec::cli::run_adapt},
  };
}

void usage(std::FILE* to) {
  std::fprintf(to, "usage: metarec <command> [options]   (metarec <command> --help)\n\ncommands:\n");
  for (const auto& c : commands()) std::fprintf(to, "  %-12s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    usage(stdout);
    return 0;
  }
  const std::vector<std::string> rest(argv + 2, argv + argc);
  for (const auto& c : commands()) {
    if (name != c.name) continue;
    try {
      return c.run(rest);
    } catch (const metarec::cli::UsageError& e) {
      std::fprintf(stderr, "metarec %s: %s\n", c.name, e.what());
      return 2;
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "metarec %s: %s\n", c.name, e.what());
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "metarec %s: error: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "metarec: unknown command '%s'\n", name.c_str());
  usage(stderr);
  return 2;
}
