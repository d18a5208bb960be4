#pragma once
/// @file text_file.hpp
/// @brief Internals of the text loaders: whole-file reading, line iteration with positions,
/// field splitting, number parsing with `std::from_chars`, quoting of offending text for messages,
/// and Latin-1 to UTF-8 conversion.
///
/// Every error is a `metarec::data_error` carrying `path:line:column`. Lines and columns are
/// 1-based; columns count bytes from the start of the line (a UTF-8 byte-order mark at the start of
/// the file is not counted).

#include <metarec/core/error.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define METAREC_DETAIL_HAVE_MMAP 1
#endif

namespace metarec::detail {

/// Longest accepted line, in bytes (without the line terminator).
inline constexpr std::size_t max_line_bytes = 64 * 1024;

/// Quotes `text` for an error message: wraps it in double quotes, escapes `"`, `\` and
/// non-printable bytes (`\t`, `\r`, `\n`, `\0`, `\xNN`), and truncates it to about `max_chars`
/// source bytes with a trailing `...`. Bytes >= 0x80 are escaped too, so the message is ASCII.
inline std::string quote_text(std::string_view text, std::size_t max_chars = 40) {
  std::string out = "\"";
  const bool cut = text.size() > max_chars;
  if (cut) text = text.substr(0, max_chars);
  static constexpr char hex[] = "0123456789abcdef";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\n': out += "\\n"; break;
      case '\0': out += "\\0"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          out += "\\x";
          out += hex[c >> 4];
          out += hex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += cut ? "...\"" : "\"";
  return out;
}

/// Converts ISO-8859-1 (Latin-1) bytes to UTF-8: every byte >= 0x80 becomes two bytes.
inline std::string latin1_to_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

/// One line of a text file: its text (without `\n` / `\r\n`) and its 1-based number.
struct Line {
  std::string_view text;
  std::size_t number = 0;
};

/// One field of a line: its text and the 1-based column of its first byte.
struct Field {
  std::string_view text;
  std::size_t column = 0;
  bool quoted = false;  ///< CSV only: the field was double-quoted; `text` is the inside, `""` kept
};

/// The bytes of a whole file: on POSIX systems a private read-only mapping made with
/// `MAP_POPULATE` (where available), so the kernel maps every page in one call instead of one page
/// fault per 4 KiB and nothing is copied (on virtual machines each fault is costly; for ML-1M this
/// was the largest single cost). Elsewhere, or when mapping fails, a heap copy read with `fread`.
/// Caveat of the mapping: if another process truncates the file while it is being loaded, the
/// process receives SIGBUS (as with any memory-mapped reader).
class FileBytes {
 public:
  FileBytes() = default;
  FileBytes(FileBytes&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        mapped_(std::exchange(other.mapped_, false)) {}
  FileBytes& operator=(FileBytes&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      mapped_ = std::exchange(other.mapped_, false);
    }
    return *this;
  }
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  ~FileBytes() { release(); }

  /// Reads or maps `path`. Returns false with `error` set when the file cannot be read.
  bool load(const std::string& path, std::string& error) {
    release();
#ifdef METAREC_DETAIL_HAVE_MMAP
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      struct stat st {};
      if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
        flags |= MAP_POPULATE;
#endif
        const auto n = static_cast<std::size_t>(st.st_size);
        void* p = ::mmap(nullptr, n, PROT_READ, flags, fd, 0);
        if (p != MAP_FAILED) {
          ::close(fd);
          data_ = static_cast<char*>(p);
          size_ = n;
          mapped_ = true;
          return true;
        }
      }
      ::close(fd);
    }
#endif
    struct Closer {
      void operator()(std::FILE* f) const noexcept { std::fclose(f); }
    };
    std::unique_ptr<std::FILE, Closer> fp(std::fopen(path.c_str(), "rb"));
    if (!fp) {
      error = "cannot open the file for reading";
      return false;
    }
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) {
      error = "cannot read the file size: " + ec.message();
      return false;
    }
    if (size == 0) return true;
    data_ = new char[static_cast<std::size_t>(size)];  // no zero-fill: fread writes every byte
    size_ = static_cast<std::size_t>(size);
    const std::size_t got = std::fread(data_, 1, size_, fp.get());
    if (got != size_) {
      error = "read " + std::to_string(got) + " of " + std::to_string(size_) + " bytes";
      release();
      return false;
    }
    return true;
  }

  [[nodiscard]] std::string_view view() const noexcept { return {data_, size_}; }

 private:
  void release() noexcept {
    if (!data_) return;
#ifdef METAREC_DETAIL_HAVE_MMAP
    if (mapped_) ::munmap(data_, size_);
#endif
    if (!mapped_) delete[] data_;
    data_ = nullptr;
    size_ = 0;
    mapped_ = false;
  }

  char* data_ = nullptr;
  std::size_t size_ = 0;
  bool mapped_ = false;
};

/// A whole text file in memory. Reading rejects a missing or unreadable file, an empty file and
/// any NUL byte; a UTF-8 byte-order mark at the start is skipped.
class TextFile {
 public:
  /// Reads `path` whole.
  /// @throws metarec::data_error when the file cannot be read, is empty or contains a NUL byte.
  static TextFile read(const std::filesystem::path& path) {
    TextFile f;
    f.path_ = path.string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
      throw data_error(f.path_, 0, 0, "cannot open the file: it does not exist or is not a file");
    std::string error;
    if (!f.data_.load(f.path_, error)) throw data_error(f.path_, 0, 0, error);
    if (f.data_.view().empty()) throw data_error(f.path_, 0, 0, "empty file; expected data lines");
    if (f.view().substr(0, 3) == "\xEF\xBB\xBF") f.start_ = 3;
    const std::string_view all = f.view();
    if (const void* nul = std::memchr(all.data(), 0, all.size())) {
      const auto offset = static_cast<std::size_t>(static_cast<const char*>(nul) - all.data());
      f.fail_at_offset(offset, "NUL byte at byte offset " + std::to_string(offset) +
                                   "; expected a text file (is it binary or corrupt?)");
    }
    return f;
  }

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// The bytes after the optional byte-order mark.
  [[nodiscard]] std::string_view body() const noexcept { return view().substr(start_); }
  /// Number of `\n` bytes (an upper bound for the number of lines minus one).
  [[nodiscard]] std::size_t count_newlines() const noexcept {
    const std::string_view b = body();
    return static_cast<std::size_t>(std::count(b.begin(), b.end(), '\n'));
  }

  /// Throws `data_error(path, line, column, message)`.
  [[noreturn]] void fail(std::size_t line, std::size_t column, const std::string& message) const {
    throw data_error(path_, line, column, message);
  }
  /// Throws at the position of `field` (a view into line `line`).
  [[noreturn]] void fail(const Line& line, const Field& field, const std::string& message) const {
    fail(line.number, field.column, message);
  }

 private:
  [[nodiscard]] std::string_view view() const noexcept { return data_.view(); }

  [[noreturn]] void fail_at_offset(std::size_t offset, const std::string& message) const {
    const std::string_view data = view();
    std::size_t line = 1;
    std::size_t line_start = start_;
    for (std::size_t i = start_; i < offset; ++i)
      if (data[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    const std::size_t column = offset >= line_start ? offset - line_start + 1 : 1;
    std::size_t end = data.find('\n', line_start);
    if (end == std::string_view::npos) end = data.size();
    throw data_error(path_, line, column,
                     message + "; the line reads " +
                         quote_text(data.substr(line_start, end - line_start)));
  }

  std::string path_;
  FileBytes data_;
  std::size_t start_ = 0;
};

/// Iterates over the lines of a `TextFile`: strips `\n`, `\r\n`; a last line without a newline is
/// returned too. Lines longer than `max_line_bytes` throw.
class LineReader {
 public:
  explicit LineReader(const TextFile& file) noexcept
      : file_(&file), p_(file.body().data()), end_(file.body().data() + file.body().size()) {}

  /// Next line, or false at the end of the file.
  /// @throws metarec::data_error for a line longer than `max_line_bytes`.
  bool next(Line& line) {
    if (p_ >= end_) return false;
    const char* nl = static_cast<const char*>(std::memchr(p_, '\n', static_cast<std::size_t>(end_ - p_)));
    const char* e = nl ? nl : end_;
    ++number_;
    const char* text_end = (e > p_ && e[-1] == '\r') ? e - 1 : e;
    if (static_cast<std::size_t>(text_end - p_) > max_line_bytes)
      file_->fail(number_, max_line_bytes + 1,
                  "line is longer than " + std::to_string(max_line_bytes) +
                      " bytes; expected a short text line, found " +
                      quote_text(std::string_view(p_, 40)));
    line.text = std::string_view(p_, static_cast<std::size_t>(text_end - p_));
    line.number = number_;
    p_ = nl ? nl + 1 : end_;
    return true;
  }

  /// Next non-empty line, or false at the end of the file.
  bool next_nonempty(Line& line) {
    while (next(line))
      if (!line.text.empty()) return true;
    return false;
  }

 private:
  const TextFile* file_;
  const char* p_;
  const char* end_;
  std::size_t number_ = 0;
};

/// Splits `line` at every occurrence of `sep` into `out` (cleared first). Never fails.
inline void split_fields(std::string_view line, std::string_view sep, std::vector<Field>& out) {
  out.clear();
  std::size_t pos = 0;
  for (;;) {
    const std::size_t at = line.find(sep, pos);
    if (at == std::string_view::npos) {
      out.push_back({line.substr(pos), pos + 1});
      return;
    }
    out.push_back({line.substr(pos, at - pos), pos + 1});
    pos = at + sep.size();
  }
}

/// Splits one CSV line (RFC 4180 quoting: `"a, ""b"""`) at commas into `out`. A quoted field's
/// `text` is its inside with `""` still doubled (see `csv_unquote`).
/// @throws metarec::data_error for an unterminated quote or text after a closing quote.
inline void split_csv(const TextFile& file, const Line& line, std::vector<Field>& out) {
  out.clear();
  const std::string_view s = line.text;
  std::size_t pos = 0;
  for (;;) {
    if (pos < s.size() && s[pos] == '"') {
      std::size_t i = pos + 1;
      for (;;) {
        const std::size_t q = s.find('"', i);
        if (q == std::string_view::npos)
          file.fail(line.number, pos + 1,
                    "expected a closing '\"' for the quoted field starting here, found " +
                        quote_text(s.substr(pos)));
        if (q + 1 < s.size() && s[q + 1] == '"') {
          i = q + 2;
          continue;
        }
        out.push_back({s.substr(pos + 1, q - pos - 1), pos + 1, true});
        if (q + 1 == s.size()) return;
        if (s[q + 1] != ',')
          file.fail(line.number, q + 2,
                    "expected ',' or the end of the line after a closing '\"', found " +
                        quote_text(s.substr(q + 1)));
        pos = q + 2;
        break;
      }
    } else {
      const std::size_t at = s.find(',', pos);
      if (at == std::string_view::npos) {
        out.push_back({s.substr(pos), pos + 1, false});
        return;
      }
      out.push_back({s.substr(pos, at - pos), pos + 1, false});
      pos = at + 1;
    }
  }
}

/// The value of a CSV field: a quoted field's `""` become `"`.
inline std::string csv_unquote(const Field& f) {
  if (!f.quoted) return std::string(f.text);
  std::string out;
  out.reserve(f.text.size());
  for (std::size_t i = 0; i < f.text.size(); ++i) {
    out += f.text[i];
    if (f.text[i] == '"' && i + 1 < f.text.size() && f.text[i + 1] == '"') ++i;
  }
  return out;
}

/// Largest accepted id: ids are kept in 32 bits while loading (all MovieLens ids are far below).
inline constexpr std::uint32_t max_id = std::numeric_limits<std::uint32_t>::max() - 1;

/// Parses the whole of `text` as an integer id from 0 to `max_id`.
inline std::optional<std::int64_t> parse_id(std::string_view text) noexcept {
  std::uint32_t v = 0;
  const char* b = text.data();
  const char* e = b + text.size();
  const auto r = std::from_chars(b, e, v);
  if (r.ec != std::errc{} || r.ptr != e || b == e || v > max_id) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

/// Parses the whole of `text` as a signed 64-bit integer.
inline std::optional<std::int64_t> parse_int64(std::string_view text) noexcept {
  std::int64_t v = 0;
  const char* b = text.data();
  const char* e = b + text.size();
  const auto r = std::from_chars(b, e, v);
  if (r.ec != std::errc{} || r.ptr != e || b == e) return std::nullopt;
  return v;
}

/// Parses the whole of `text` as a finite decimal number (no leading `+`, no spaces).
inline std::optional<double> parse_number(std::string_view text) noexcept {
  double v = 0;
  const char* b = text.data();
  const char* e = b + text.size();
  const auto r = std::from_chars(b, e, v, std::chars_format::fixed);
  if (r.ec != std::errc{} || r.ptr != e || b == e || !(v == v) ||
      v > std::numeric_limits<double>::max() || v < -std::numeric_limits<double>::max())
    return std::nullopt;
  return v;
}

/// `found "<text>"`, or `found an empty field` when `text` is empty: the tail of every message.
inline std::string found(std::string_view text) {
  return text.empty() ? std::string("found an empty field") : "found " + quote_text(text);
}

/// Densifies ids in place: returns the distinct values of `ids` in increasing order and replaces
/// each entry by its index in that list. Uses a lookup table when the largest id is small (all
/// MovieLens releases), a sort and binary search otherwise.
inline std::vector<std::int64_t> densify_ids(std::vector<std::uint32_t>& ids) {
  std::vector<std::int64_t> distinct;
  if (ids.empty()) return distinct;
  const std::uint32_t max_id = *std::max_element(ids.begin(), ids.end());
  constexpr std::uint32_t none = std::numeric_limits<std::uint32_t>::max();
  if (static_cast<std::size_t>(max_id) < 4 * ids.size() + (std::size_t{1} << 22)) {
    std::vector<std::uint32_t> table(static_cast<std::size_t>(max_id) + 1, none);
    for (const std::uint32_t v : ids) table[v] = 0;
    std::uint32_t next = 0;
    for (std::size_t v = 0; v < table.size(); ++v)
      if (table[v] == 0) {
        table[v] = next++;
        distinct.push_back(static_cast<std::int64_t>(v));
      }
    for (std::uint32_t& v : ids) v = table[v];
  } else {
    std::vector<std::uint32_t> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    for (std::uint32_t& v : ids)
      v = static_cast<std::uint32_t>(std::lower_bound(sorted.begin(), sorted.end(), v) -
                                     sorted.begin());
    distinct.assign(sorted.begin(), sorted.end());
  }
  return distinct;
}

}  // namespace metarec::detail
