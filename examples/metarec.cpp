// The metarec command-line tool. Each subcommand lives in examples/cli/<name>.hpp and defines
// `int metarec::cli::run_<name>(const std::vector<std::string>& args)` plus a one-line summary.
// Exit codes: 0 success, 1 runtime failure (bad data, I/O), 2 usage error.

#include "cli/args.hpp"

#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#if __has_include("cli/data_stats.hpp")
#include "cli/data_stats.hpp"
#define METAREC_CLI_DATA_STATS 1
#endif
#if __has_include("cli/split.hpp")
#include "cli/split.hpp"
#define METAREC_CLI_SPLIT 1
#endif
#if __has_include("cli/evaluate.hpp")
#include "cli/evaluate.hpp"
#define METAREC_CLI_EVALUATE 1
#endif
#if __has_include("cli/train.hpp")
#include "cli/train.hpp"
#define METAREC_CLI_TRAIN 1
#endif
#if __has_include("cli/meta_train.hpp")
#include "cli/meta_train.hpp"
#define METAREC_CLI_META_TRAIN 1
#endif
#if __has_include("cli/adapt.hpp")
#include "cli/adapt.hpp"
#define METAREC_CLI_ADAPT 1
#endif

namespace {

struct Command {
  const char* name;
  const char* summary;
  std::function<int(const std::vector<std::string>&)> run;
};

std::vector<Command> commands() {
  std::vector<Command> c;
#ifdef METAREC_CLI_DATA_STATS
  c.push_back({"data-stats", "users, items, ratings, density, histogram, times, fingerprint",
               metarec::cli::run_data_stats});
#endif
#ifdef METAREC_CLI_SPLIT
  c.push_back({"split", "split a data set with a named protocol and write it", metarec::cli::run_split});
#endif
#ifdef METAREC_CLI_EVALUATE
  c.push_back({"evaluate", "score a TSV of `user item score truth` rows with any metric",
               metarec::cli::run_evaluate});
#endif
#ifdef METAREC_CLI_TRAIN
  c.push_back({"train", "train a model on a protocol's split and report its metrics",
               metarec::cli::run_train});
#endif
#ifdef METAREC_CLI_META_TRAIN
  c.push_back({"meta-train", "meta-train a model with MAML, FOMAML, Reptile or Meta-SGD",
               metarec::cli::run_meta_train});
#endif
#ifdef METAREC_CLI_ADAPT
  c.push_back({"adapt", "adapt a meta-trained model to a new user and recommend",
               metarec::cli::run_adapt});
#endif
  return c;
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
