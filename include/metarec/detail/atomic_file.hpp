#pragma once
/// @file atomic_file.hpp
/// @brief Write a whole text file atomically: a temporary sibling, then `rename` over the target.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace metarec::detail {

/// Writes `contents` to `path` atomically: readers see either the old file or the complete new
/// one, never a partial file. The temporary file `<path>.tmp` lives in the same directory so the
/// final `rename` does not cross file systems.
/// @throws std::runtime_error naming the path when the file cannot be written or renamed.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw std::runtime_error("write_file_atomically: cannot open '" + tmp.string() +
                               "' for writing; check that the directory exists and is writable");
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out)
      throw std::runtime_error("write_file_atomically: writing '" + tmp.string() +
                               "' failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error("write_file_atomically: cannot rename '" + tmp.string() + "' to '" +
                             path.string() + "' (" + why + ")");
  }
}

}  // namespace metarec::detail
