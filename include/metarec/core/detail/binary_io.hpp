#pragma once
/// @file binary_io.hpp
/// @brief Little helpers to write and read fixed-size values and vectors to binary streams
/// (optimiser state, checkpoints). Values are written in the host's byte order; readers check a
/// tag, the scalar size and every size, and throw `format_error` on any mismatch or truncation.

#include <metarec/core/error.hpp>
#include <metarec/core/parameters.hpp>

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>

namespace metarec::detail {

template <class T>
  requires std::is_trivially_copyable_v<T>
void write_pod(std::ostream& out, const T& value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof(T));
}

template <class T>
  requires std::is_trivially_copyable_v<T>
T read_pod(std::istream& in, std::string_view what) {
  T value{};
  in.read(reinterpret_cast<char*>(&value), sizeof(T));
  if (!in || in.gcount() != static_cast<std::streamsize>(sizeof(T)))
    throw format_error(std::string(what) + ": stream ends early (truncated state)");
  return value;
}

inline void write_string(std::ostream& out, std::string_view s) {
  write_pod<std::uint32_t>(out, static_cast<std::uint32_t>(s.size()));
  out.write(s.data(), static_cast<std::streamsize>(s.size()));
}

inline std::string read_string(std::istream& in, std::string_view what,
                               std::uint32_t max_size = 1u << 20) {
  const auto n = read_pod<std::uint32_t>(in, what);
  if (n > max_size)
    throw format_error(std::string(what) + ": string length " + std::to_string(n) +
                       " is implausible (corrupt state)");
  std::string s(n, '\0');
  in.read(s.data(), static_cast<std::streamsize>(n));
  if (!in) throw format_error(std::string(what) + ": stream ends early (truncated state)");
  return s;
}

template <class S>
void write_vector(std::ostream& out, const Vector<S>& v) {
  write_pod<std::int64_t>(out, static_cast<std::int64_t>(v.size()));
  out.write(reinterpret_cast<const char*>(v.data()),
            static_cast<std::streamsize>(sizeof(S) * static_cast<std::size_t>(v.size())));
}

/// Reads a vector written by `write_vector`; its size must be `expected` (or any when < 0).
template <class S>
Vector<S> read_vector(std::istream& in, std::string_view what, std::int64_t expected) {
  const auto n = read_pod<std::int64_t>(in, what);
  if (n < 0 || (expected >= 0 && n != expected))
    throw format_error(std::string(what) + ": stored vector has " + std::to_string(n) +
                       " entries, expected " + std::to_string(expected));
  Vector<S> v(static_cast<Eigen::Index>(n));
  in.read(reinterpret_cast<char*>(v.data()),
          static_cast<std::streamsize>(sizeof(S) * static_cast<std::size_t>(n)));
  if (!in) throw format_error(std::string(what) + ": stream ends early (truncated state)");
  return v;
}

/// Writes the common header of an optimiser state: tag, format version, scalar size, size n.
inline void write_state_header(std::ostream& out, std::string_view tag, std::uint32_t version,
                               std::uint32_t scalar_size, std::int64_t n) {
  write_string(out, tag);
  write_pod(out, version);
  write_pod(out, scalar_size);
  write_pod(out, n);
}

/// Reads and checks the header written by `write_state_header`; returns the stored size n, which
/// must equal `current_n` unless `current_n` is 0 (an optimiser that was never reset).
inline std::int64_t read_state_header(std::istream& in, std::string_view what, std::string_view tag,
                                      std::uint32_t version, std::uint32_t scalar_size,
                                      std::int64_t current_n) {
  const std::string w(what);
  const std::string got_tag = read_string(in, what, 256);
  if (got_tag != tag)
    throw format_error(w + ": state was written by '" + got_tag + "', this is '" +
                       std::string(tag) + "'");
  const auto got_version = read_pod<std::uint32_t>(in, what);
  if (got_version != version)
    throw format_error(w + ": state format version " + std::to_string(got_version) +
                       ", this build reads version " + std::to_string(version));
  const auto got_scalar = read_pod<std::uint32_t>(in, what);
  if (got_scalar != scalar_size)
    throw format_error(w + ": state scalar size " + std::to_string(got_scalar) +
                       " bytes, this optimiser uses " + std::to_string(scalar_size) + " bytes");
  const auto n = read_pod<std::int64_t>(in, what);
  if (n < 0 || (current_n != 0 && n != current_n))
    throw format_error(w + ": state is for " + std::to_string(n) +
                       " parameters, this optimiser was reset for " + std::to_string(current_n));
  return n;
}

}  // namespace metarec::detail
