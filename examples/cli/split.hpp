#pragma once
// `metarec split`: runs a named protocol on a MovieLens-format directory and writes the split with
// `export_split` (the seven text files of docs/protocols.md), replacing an earlier split in the
// output directory file by file with atomic renames. See docs/cli.md.

#include "args.hpp"

#include <metarec/data/dataset.hpp>
#include <metarec/data/movielens.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/data/split.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace metarec::cli {

namespace split_detail {

inline std::string known_protocols() {
  std::string names;
  for (const auto n : protocol_names()) names += (names.empty() ? "" : ", ") + std::string(n);
  return names;
}

inline std::string usage() {
  return "usage: metarec split [--data DIR] --protocol P [--seed S] --out DIR [--json] [--help]\n"
         "       metarec split --list\n"
         "\n"
         "Splits a MovieLens-format directory with a named protocol and writes the split as text\n"
         "files of original (user, item) ids: train.txt valid.txt test.txt warm_users.txt\n"
         "cold_users.txt warm_items.txt cold_items.txt (see docs/protocols.md). Prints the size of\n"
         "each part and, for the melu-* protocols, the number of meta-training and evaluation\n"
         "tasks. The same data, protocol and seed always give byte-identical files.\n"
         "\n"
         "  --data DIR      data directory (default: $METAREC_DATA, else the shipped data/sample)\n"
         "  --protocol P    one of: " + known_protocols() + "\n"
         "  --seed S        unsigned 64-bit seed (default 42)\n"
         "  --out DIR       output directory (created if missing; split files in it are replaced)\n"
         "  --list          print the protocols with their definitions and exit\n"
         "  --json          also print a JSON object with the sizes as the last line of stdout\n"
         "  --help          print this help and exit\n"
         "\n"
         "exit codes: 0 success, 1 data or I/O error, 2 usage error (e.g. unknown protocol)\n";
}

/// Writes the split into a staging directory beside `out`, then moves each file into `out` with
/// `rename` (atomic per file, same file system). When `out` does not exist yet the whole staging
/// directory is renamed at once. Readers never see a partially written file, and an interrupted
/// run leaves the staging directory, not a truncated split.
inline void export_atomically(const Split& split, const Dataset& ds, std::filesystem::path out) {
  namespace fs = std::filesystem;
  out = out.lexically_normal();
  if (!out.has_filename()) out = out.parent_path();  // "dir/" -> "dir"
  if (out.empty()) out = ".";
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec))
    throw std::runtime_error("split: --out '" + out.string() +
                             "' exists and is not a directory; choose a directory");
  fs::path staging = out;
  staging += ".metarec-split-tmp";
  fs::remove_all(staging, ec);
  if (ec)
    throw std::runtime_error("split: cannot remove the stale staging directory '" +
                             staging.string() + "' (" + ec.message() + ")");
  export_split(split, ds, staging);
  if (!fs::exists(out, ec)) {
    fs::rename(staging, out, ec);
    if (!ec) return;
    fs::create_directories(out);  // e.g. a concurrent creation: fall back to file by file
  }
  for (const std::string_view file : metarec::detail::split_files) {
    fs::rename(staging / std::string(file), out / std::string(file), ec);
    if (ec)
      throw std::runtime_error("split: cannot move '" + (staging / std::string(file)).string() +
                               "' to '" + out.string() + "' (" + ec.message() + ")");
  }
  fs::remove_all(staging, ec);
}

inline std::string rows_text(std::size_t n, std::size_t total) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%zu (%.2f%%)", n,
                total > 0 ? 100.0 * static_cast<double>(n) / static_cast<double>(total) : 0.0);
  return buf;
}

}  // namespace split_detail

/// `metarec split [--data DIR] --protocol P [--seed S] --out DIR [--json]`.
inline int run_split(const std::vector<std::string>& argv) {
  using namespace split_detail;
  const Args args(argv, {"--data", "--protocol", "--seed", "--out"}, {"--list"});
  if (args.has("--help")) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (args.has("--list")) {
    for (const auto n : protocol_names()) {
      const ProtocolInfo& info = protocol_info(n);
      std::printf("%-20s %s; label: %s; metric: %s\n", std::string(info.name).c_str(),
                  std::string(info.split).c_str(), std::string(info.label).c_str(),
                  std::string(info.metric).c_str());
    }
    return 0;
  }
  const std::string protocol = args.require("--protocol");
  bool known = false;
  for (const auto n : protocol_names()) known = known || n == protocol;
  if (!known)
    throw UsageError("unknown protocol '" + protocol + "'; known protocols: " + known_protocols());
  const std::string out = args.require("--out");
  if (out.empty()) throw UsageError("flag --out: expected a directory, got an empty string");
  const auto seed = args.number<std::uint64_t>("--seed", 42);
  const std::string dir = default_data_dir(args);

  const auto t0 = std::chrono::steady_clock::now();
  const Dataset ds = load_movielens(dir);
  const ProtocolSplit ps = make_protocol_split(protocol, ds, seed);
  export_atomically(ps.split, ds, out);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const Split& s = ps.split;
  const std::size_t n = ds.num_ratings();
  const std::size_t used = s.train.size() + s.valid.size() + s.test.size();
  const bool melu = protocol.rfind("melu-", 0) == 0;
  std::size_t train_task_rows = 0, test_task_rows = 0;
  for (const Task& t : ps.train_tasks) train_task_rows += t.support.size() + t.query.size();
  for (const Task& t : ps.test_tasks) test_task_rows += t.support.size() + t.query.size();

  std::printf("%-16s %s (%s, %zu ratings)\n", "data", dir.c_str(), ds.name().c_str(), n);
  std::printf("%-16s %s (%s)\n", "protocol", protocol.c_str(),
              std::string(protocol_info(protocol).split).c_str());
  std::printf("%-16s %llu\n", "seed", static_cast<unsigned long long>(seed));
  std::printf("%-16s %s\n", "train", rows_text(s.train.size(), n).c_str());
  std::printf("%-16s %s\n", "valid", rows_text(s.valid.size(), n).c_str());
  std::printf("%-16s %s\n", "test", rows_text(s.test.size(), n).c_str());
  std::printf("%-16s %s\n", "not used", rows_text(n - used, n).c_str());
  std::printf("%-16s %zu\n", "warm users", s.warm_users.size());
  std::printf("%-16s %zu\n", "cold users", s.cold_users.size());
  std::printf("%-16s %zu\n", "warm items", s.warm_items.size());
  std::printf("%-16s %zu\n", "cold items", s.cold_items.size());
  if (melu) {
    std::printf("%-16s %zu (meta-training, warm partition; %zu rows)\n", "train tasks",
                ps.train_tasks.size(), train_task_rows);
    std::printf("%-16s %zu (scenario %s; %zu rows)\n", "test tasks", ps.test_tasks.size(),
                protocol.c_str(), test_task_rows);
  }
  std::printf("%-16s %s\n", "written to", out.c_str());
  std::printf("%-16s %.3f s\n", "time", seconds);

  if (args.has("--json")) {
    std::string j = "{";
    j += "\"data\":\"" + json_escape(dir) + "\"";
    j += ",\"protocol\":\"" + json_escape(protocol) + "\"";
    j += ",\"seed\":" + std::to_string(seed);
    j += ",\"out\":\"" + json_escape(out) + "\"";
    j += ",\"ratings\":" + std::to_string(n);
    j += ",\"train\":" + std::to_string(s.train.size());
    j += ",\"valid\":" + std::to_string(s.valid.size());
    j += ",\"test\":" + std::to_string(s.test.size());
    j += ",\"unused\":" + std::to_string(n - used);
    j += ",\"warm_users\":" + std::to_string(s.warm_users.size());
    j += ",\"cold_users\":" + std::to_string(s.cold_users.size());
    j += ",\"warm_items\":" + std::to_string(s.warm_items.size());
    j += ",\"cold_items\":" + std::to_string(s.cold_items.size());
    if (melu) {
      j += ",\"train_tasks\":" + std::to_string(ps.train_tasks.size());
      j += ",\"test_tasks\":" + std::to_string(ps.test_tasks.size());
      j += ",\"train_task_rows\":" + std::to_string(train_task_rows);
      j += ",\"test_task_rows\":" + std::to_string(test_task_rows);
    }
    j += ",\"fingerprint\":\"" + metarec::detail::hex64(data_fingerprint(ds).hash) + "\"";
    j += "}";
    std::printf("%s\n", j.c_str());
  }
  return 0;
}

}  // namespace metarec::cli
