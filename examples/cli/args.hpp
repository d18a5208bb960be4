#pragma once
// The tool's argument parsing is the registry's (registry/command_line.hpp); the output-file
// helpers the commands share.
#include <metarec/registry/command_line.hpp>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace metarec::cli {
using registry::Args;
using registry::default_data_dir;
using registry::json_escape;
using registry::UsageError;

/// Creates the parent directories of each non-empty path (what --save, --out and --log promise).
inline void make_parent_dirs(std::initializer_list<std::string> paths) {
  for (const std::string& f : paths)
    if (!f.empty() && std::filesystem::path(f).has_parent_path())
      std::filesystem::create_directories(std::filesystem::path(f).parent_path());
}

/// A --log file opened for writing (truncated; parents created), or a closed stream for "".
/// @throws std::runtime_error naming the path when it cannot be opened
inline std::ofstream open_log(const std::string& path) {
  std::ofstream log;
  if (path.empty()) return log;
  make_parent_dirs({path});
  log.open(path, std::ios::trunc);
  if (!log) throw std::runtime_error("cannot open the log file '" + path + "' for writing");
  return log;
}
}  // namespace metarec::cli
