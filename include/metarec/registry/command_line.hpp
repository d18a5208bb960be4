#pragma once
/// @file command_line.hpp
/// @brief Minimal, strict command-line parsing for the metarec tool and the benchmarks:
/// `--name value`, `--name=value` and `--flag`. Unknown flags and bad values throw `UsageError`,
/// which the tool reports with exit code 2. The registry's option declarations (`OptionSpec`)
/// become flags through it.

#include <metarec/core/detail/json.hpp>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace metarec::registry {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Parsed arguments of one subcommand. Declare every accepted flag up front; anything else is an
/// error naming the flag.
class Args {
 public:
  /// @param values flags that take a value; @param switches flags without a value.
  Args(const std::vector<std::string>& argv, std::set<std::string> values,
       std::set<std::string> switches)
      : values_allowed_(std::move(values)), switches_allowed_(std::move(switches)) {
    switches_allowed_.insert("--help");
    switches_allowed_.insert("--json");
    for (std::size_t k = 0; k < argv.size(); ++k) {
      const std::string& a = argv[k];
      std::string name = a, inline_value;
      bool has_inline = false;
      if (const auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
        name = a.substr(0, eq);
        inline_value = a.substr(eq + 1);
        has_inline = true;
      }
      if (switches_allowed_.count(name)) {
        if (has_inline) throw UsageError("flag " + name + " takes no value");
        switches_.insert(name);
      } else if (values_allowed_.count(name)) {
        if (has_inline) {
          values_[name] = inline_value;
        } else {
          if (k + 1 >= argv.size()) throw UsageError("flag " + name + " needs a value");
          values_[name] = argv[++k];
        }
      } else if (a.rfind("-", 0) == 0) {
        throw UsageError("unknown flag '" + a + "' (see --help)");
      } else {
        throw UsageError("unexpected argument '" + a + "' (see --help)");
      }
    }
  }

  [[nodiscard]] bool has(const std::string& flag) const {
    return switches_.count(flag) > 0 || values_.count(flag) > 0;
  }
  [[nodiscard]] std::optional<std::string> get(const std::string& flag) const {
    const auto it = values_.find(flag);
    if (it == values_.end()) return std::nullopt;
    return it->second;
  }
  [[nodiscard]] std::string get_or(const std::string& flag, std::string fallback) const {
    return get(flag).value_or(std::move(fallback));
  }
  [[nodiscard]] std::string require(const std::string& flag) const {
    auto v = get(flag);
    if (!v) throw UsageError("missing required flag " + flag + " (see --help)");
    return *v;
  }

  template <class T>
  [[nodiscard]] T number(const std::string& flag, T fallback) const {
    const auto v = get(flag);
    if (!v) return fallback;
    return parse<T>(flag, *v);
  }

  template <class T>
  static T parse(const std::string& flag, const std::string& text) {
    T out{};
    const char* first = text.data();
    const char* last = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(first, last, out);
    if (ec != std::errc() || ptr != last || text.empty())
      throw UsageError("flag " + flag + ": expected a number, got '" + text + "'");
    return out;
  }

  /// Comma-separated list of numbers (e.g. --k 5,10,20).
  template <class T>
  [[nodiscard]] std::vector<T> list(const std::string& flag, std::vector<T> fallback) const {
    const auto v = get(flag);
    if (!v) return fallback;
    std::vector<T> out;
    std::size_t start = 0;
    while (start <= v->size()) {
      const auto comma = v->find(',', start);
      const auto end = comma == std::string::npos ? v->size() : comma;
      out.push_back(parse<T>(flag, v->substr(start, end - start)));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return out;
  }

  /// Comma-separated list of words.
  [[nodiscard]] std::vector<std::string> words(const std::string& flag,
                                               std::vector<std::string> fallback) const {
    const auto v = get(flag);
    if (!v) return fallback;
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
      const auto comma = v->find(',', start);
      out.push_back(v->substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return out;
  }

 private:
  std::set<std::string> values_allowed_;
  std::set<std::string> switches_allowed_;
  std::map<std::string, std::string> values_;
  std::set<std::string> switches_;
};

/// Escapes a string for a JSON string literal (without the quotes).
inline std::string json_escape(std::string_view s) {
  const std::string q = metarec::detail::json_string(s);
  return q.substr(1, q.size() - 2);
}

/// Default data directory: --data, else $METAREC_DATA, else the shipped sample.
inline std::string default_data_dir(const Args& args) {
  if (auto d = args.get("--data")) return *d;
  if (const char* env = std::getenv("METAREC_DATA")) return env;
#ifdef METAREC_SOURCE_DIR
  return std::string(METAREC_SOURCE_DIR) + "/data/sample";
#else
  return "data/sample";
#endif
}

}  // namespace metarec::registry
