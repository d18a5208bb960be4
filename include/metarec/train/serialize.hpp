#pragma once
/// @file serialize.hpp
/// @brief Parameter files: θ with the model's name and configuration, versioned, checksummed and
/// written atomically.
///
/// Layout (host byte order; little-endian on every supported platform):
///
/// | field | type |
/// |---|---|
/// | magic `"METAREC\0"` | 8 bytes |
/// | format version (1) | u32 |
/// | scalar size in bytes (4 or 8) | u32 |
/// | model name | u32 length + bytes |
/// | parameter count n | i64 |
/// | model configuration (`key=value` lines) | u32 length + bytes |
/// | payload θ | n × scalar |
/// | FNV-1a 64 of every byte above | u64 |
///
/// Reading checks, in order: magic, version, checksum, model name, scalar size, parameter count;
/// each failure throws `format_error` naming the file and both values.

#include <metarec/core/error.hpp>
#include <metarec/core/detail/atomic_file.hpp>
#include <metarec/core/parameters.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace metarec {

/// Current version of the parameter file format.
inline constexpr std::uint32_t parameter_file_version = 1;

/// Everything in a parameter file but the payload.
struct ParameterFileHeader {
  std::uint32_t version = parameter_file_version;
  std::uint32_t scalar_size = 0;
  std::string model;
  std::int64_t num_parameters = 0;
  std::string config;  ///< `key=value` lines, as written
};

/// A parameter file's header and θ.
template <class S>
struct ParameterFile {
  ParameterFileHeader header;
  Vector<S> theta;
};

namespace detail {

inline constexpr char parameter_magic[8] = {'M', 'E', 'T', 'A', 'R', 'E', 'C', '\0'};

/// FNV-1a 64-bit hash of a byte range.
[[nodiscard]] inline std::uint64_t fnv1a64(const char* data, std::size_t size,
                                           std::uint64_t h = 0xcbf29ce484222325ull) noexcept {
  for (std::size_t k = 0; k < size; ++k) {
    h ^= static_cast<unsigned char>(data[k]);
    h *= 0x100000001b3ull;
  }
  return h;
}

template <class T>
void append_pod(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

inline void append_string(std::string& out, std::string_view s) {
  append_pod(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

class ByteReader {
 public:
  ByteReader(const std::string& bytes, std::string file) : b_(bytes), file_(std::move(file)) {}
  template <class T>
  T pod(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    const auto n = pod<std::uint32_t>(what);
    need(n, what);
    std::string s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  const char* raw(std::size_t n, const char* what) {
    need(n, what);
    const char* p = b_.data() + pos_;
    pos_ += n;
    return p;
  }
  [[nodiscard]] std::size_t pos() const noexcept { return pos_; }

 private:
  void need(std::size_t n, const char* what) const {
    if (b_.size() - pos_ < n)
      throw format_error("load_parameters: '" + file_ + "' is truncated (reading " + what + " at byte " +
                         std::to_string(pos_) + " of " + std::to_string(b_.size()) + ")");
  }
  const std::string& b_;
  std::string file_;
  std::size_t pos_ = 0;
};

}  // namespace detail

/// Writes θ with the model's name and configuration to `path`, atomically (a reader never sees a
/// partial file; on failure an existing file is left unchanged and no temporary file remains).
/// @param model   model name, e.g. "MatrixFactorization"
/// @param config  configuration as `key=value` lines (dims=64\nbiases=1\n...)
/// @throws std::runtime_error naming the path when the file cannot be written.
/// @code
/// metarec::save_parameters("mf.bin", "MatrixFactorization", "dims=64\nbiases=1\n", theta);
/// @endcode
template <class S>
void save_parameters(const std::filesystem::path& path, std::string_view model,
                     std::string_view config, const ConstVectorRef<S>& theta) {
  std::string bytes;
  bytes.reserve(64 + model.size() + config.size() + sizeof(S) * static_cast<std::size_t>(theta.size()));
  bytes.append(detail::parameter_magic, sizeof detail::parameter_magic);
  detail::append_pod(bytes, parameter_file_version);
  detail::append_pod(bytes, static_cast<std::uint32_t>(sizeof(S)));
  detail::append_string(bytes, model);
  detail::append_pod(bytes, static_cast<std::int64_t>(theta.size()));
  detail::append_string(bytes, config);
  bytes.append(reinterpret_cast<const char*>(theta.data()),
               sizeof(S) * static_cast<std::size_t>(theta.size()));
  detail::append_pod(bytes, detail::fnv1a64(bytes.data(), bytes.size()));
  detail::write_file_atomically(path, bytes, "save_parameters");
}

/// Reads a parameter file without checking what it holds (for inspection tools).
/// @throws format_error on a bad magic, version, checksum or truncation; std::runtime_error when
///         the file cannot be read.
template <class S>
[[nodiscard]] ParameterFile<S> read_parameter_file(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("load_parameters: cannot open '" + file + "'");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  detail::ByteReader r(bytes, file);
  const char* magic = r.raw(sizeof detail::parameter_magic, "the magic number");
  if (std::memcmp(magic, detail::parameter_magic, sizeof detail::parameter_magic) != 0)
    throw format_error("load_parameters: '" + file + "' is not a metarec parameter file (bad magic "
                       "number; expected \"METAREC\\0\")");
  ParameterFile<S> out;
  out.header.version = r.pod<std::uint32_t>("the format version");
  if (out.header.version != parameter_file_version)
    throw format_error("load_parameters: '" + file + "' has format version " +
                       std::to_string(out.header.version) + ", this build reads version " +
                       std::to_string(parameter_file_version));
  if (bytes.size() < r.pos() + sizeof(std::uint64_t))
    throw format_error("load_parameters: '" + file + "' is truncated");
  const std::size_t body = bytes.size() - sizeof(std::uint64_t);
  std::uint64_t stored;
  std::memcpy(&stored, bytes.data() + body, sizeof stored);
  const std::uint64_t computed = detail::fnv1a64(bytes.data(), body);
  if (stored != computed)
    throw format_error("load_parameters: '" + file + "' fails its checksum (stored " +
                       std::to_string(stored) + ", computed " + std::to_string(computed) +
                       "); the file is corrupt or truncated");
  out.header.scalar_size = r.pod<std::uint32_t>("the scalar size");
  out.header.model = r.str("the model name");
  out.header.num_parameters = r.pod<std::int64_t>("the parameter count");
  out.header.config = r.str("the model configuration");
  if (out.header.scalar_size == sizeof(S) && out.header.num_parameters >= 0) {
    const std::size_t payload = sizeof(S) * static_cast<std::size_t>(out.header.num_parameters);
    if (r.pos() + payload != body)
      throw format_error("load_parameters: '" + file + "' holds " + std::to_string(body - r.pos()) +
                         " payload bytes for " + std::to_string(out.header.num_parameters) +
                         " parameters of " + std::to_string(sizeof(S)) + " bytes");
    out.theta.resize(static_cast<Eigen::Index>(out.header.num_parameters));
    std::memcpy(out.theta.data(), r.raw(payload, "the parameters"), payload);
  }
  return out;
}

/// Reads θ from `path`, checking that the file holds `model`'s parameters of scalar S and size
/// `num_parameters`.
/// @param config_out  if not null, receives the stored configuration string
/// @throws format_error naming the file and both values on a mismatch of model name, scalar
///         size, parameter count or version, or on a checksum failure.
/// @code
/// metarec::Vector<float> theta = metarec::load_parameters<float>("mf.bin", "MatrixFactorization", mf.num_parameters());
/// @endcode
template <class S>
[[nodiscard]] Vector<S> load_parameters(const std::filesystem::path& path, std::string_view model,
                                        Eigen::Index num_parameters,
                                        std::string* config_out = nullptr) {
  ParameterFile<S> f = read_parameter_file<S>(path);
  const std::string file = path.string();
  if (f.header.model != model)
    throw format_error("load_parameters: '" + file + "' holds parameters of model '" + f.header.model +
                       "', expected '" + std::string(model) + "'");
  if (f.header.scalar_size != sizeof(S))
    throw format_error("load_parameters: '" + file + "' stores " + std::to_string(f.header.scalar_size) +
                       "-byte scalars, expected " + std::to_string(sizeof(S)) +
                       " bytes (float = 4, double = 8)");
  if (f.header.num_parameters != num_parameters)
    throw format_error("load_parameters: '" + file + "' holds " + std::to_string(f.header.num_parameters) +
                       " parameters, the model has " + std::to_string(num_parameters) +
                       " (different dims or data set?)");
  if (config_out) *config_out = std::move(f.header.config);
  return std::move(f.theta);
}

}  // namespace metarec
