#pragma once
/// @file json.hpp
/// @brief The JSON text metarec writes (logs, reports, the tool's `--json` lines): numbers that
/// read back exactly, and escaped strings.

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>

namespace metarec::detail {

/// Shortest round-trip text of a double; `null` for NaN and infinities (JSON has neither).
inline std::string json_number(double x) {
  if (!std::isfinite(x)) return "null";
  char buf[64];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, x);
  return ec == std::errc() ? std::string(buf, ptr) : std::string("null");
}

/// A JSON string literal (quotes included) of `s`, escaped.
inline std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace metarec::detail
