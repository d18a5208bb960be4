#pragma once
/// @file error.hpp
/// @brief The exceptions metarec throws.
///
/// Message format everywhere: `<function>: <what> (<observed values>); <hint>`.
/// - Bad arguments at a public boundary throw `std::invalid_argument`.
/// - Malformed input files throw `metarec::data_error`, which carries `path:line:column`.
/// - NaN or Inf during training throws `metarec::numerical_error`, naming epoch, step and task.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace metarec {

/// Malformed or missing input data. `what()` reads `path:line:column: message`;
/// line and column are 1-based, 0 when they do not apply (a missing file, an empty file).
class data_error : public std::runtime_error {
 public:
  data_error(std::string path, std::size_t line, std::size_t column, const std::string& message)
      : std::runtime_error(format(path, line, column, message)),
        path_(std::move(path)),
        line_(line),
        column_(column) {}

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] std::size_t line() const noexcept { return line_; }
  [[nodiscard]] std::size_t column() const noexcept { return column_; }

 private:
  static std::string format(const std::string& path, std::size_t line, std::size_t column,
                            const std::string& message) {
    std::string out = path;
    if (line > 0) {
      out += ':' + std::to_string(line);
      if (column > 0) out += ':' + std::to_string(column);
    }
    out += ": ";
    out += message;
    return out;
  }

  std::string path_;
  std::size_t line_;
  std::size_t column_;
};

/// A loss or gradient became NaN or infinite during training.
class numerical_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A file written by metarec (a model, a checkpoint, a split) does not match what the reader expects.
class format_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace metarec
