#pragma once
/// @file atomic_file.hpp
/// @brief The one atomic file writer of metarec: a temporary sibling, then `rename` over the
/// target. Split exports, synthetic data, parameter files, MAML checkpoints and every benchmark
/// output go through it, so a failed run never leaves a half-written file.

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace metarec::detail {

/// Writes `contents` to `path` atomically: readers see either the old file or the complete new
/// one, never a partial file. The temporary file `<path>.tmp` lives in the same directory, so the
/// final `rename` does not cross file systems. On any failure the temporary file is removed and
/// the target is left as it was.
/// @param caller names the public function in error messages
/// @throws std::runtime_error naming the caller and the path when the file cannot be written or
///         renamed.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view contents,
                                  const char* caller = "write_file_atomically") {
  namespace fs = std::filesystem;
  fs::path tmp = path;
  tmp += ".tmp";
  std::error_code ec;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw std::runtime_error(std::string(caller) + ": cannot create '" + tmp.string() +
                               "'; check that the directory exists and is writable");
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) {
      out.close();
      fs::remove(tmp, ec);
      throw std::runtime_error(std::string(caller) + ": writing '" + tmp.string() +
                               "' failed (disk full?); '" + path.string() + "' was not changed");
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove(tmp, ec);
    throw std::runtime_error(std::string(caller) + ": cannot rename '" + tmp.string() + "' to '" +
                             path.string() + "' (" + why + "); '" + path.string() +
                             "' was not changed");
  }
}

}  // namespace metarec::detail
