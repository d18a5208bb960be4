#pragma once
/// @file settings.hpp
/// @brief Named settings of a model: one declaration (`OptionSpec`) per hyperparameter feeds the
/// command line, `--help`, the JSON reports and docs/cli.md (as mlpack's bindings do), and
/// `Settings` holds the values a run uses, as text, with typed, checked getters.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace metarec::registry {

/// What kind of value an option holds (for parsing, `--help` and JSON).
enum class OptionKind {
  integer,  ///< a whole number
  number,   ///< a real number
  list,     ///< comma-separated whole numbers ("64,64"; empty: none)
  word,     ///< one of `choices` (or free text when there are none)
  flag,     ///< on/off: given on the command line without a value ("1" / "0")
};

/// One hyperparameter of a model: its name (the flag without `--`), what it holds, its default
/// (as text), what it means, and for words the allowed values.
struct OptionSpec {
  std::string name;
  OptionKind kind = OptionKind::number;
  std::string default_value;
  std::string help;
  std::vector<std::string> choices{};
  double min = -1e300;  ///< numbers and integers: the smallest allowed value
  double max = 1e300;   ///< the largest allowed value
  bool min_exclusive = false;
  bool max_exclusive = false;
};

/// Values by option name, as text. Typed getters parse and throw `std::invalid_argument` naming
/// the option and the text on a bad value.
class Settings {
 public:
  Settings() = default;
  Settings(std::initializer_list<std::pair<const std::string, std::string>> values)
      : values_(values) {}

  void set(const std::string& name, std::string value) { values_[name] = std::move(value); }
  [[nodiscard]] bool has(const std::string& name) const { return values_.count(name) > 0; }
  [[nodiscard]] const std::string& text(const std::string& name) const {
    const auto it = values_.find(name);
    if (it == values_.end())
      throw std::invalid_argument("Settings: no setting '" + name + "'");
    return it->second;
  }
  [[nodiscard]] double number(const std::string& name) const { return parse_number(name, text(name)); }
  [[nodiscard]] long long integer(const std::string& name) const {
    return parse_integer(name, text(name));
  }
  [[nodiscard]] int integer32(const std::string& name) const {
    const long long v = integer(name);
    if (v < -2147483647LL || v > 2147483647LL)
      throw std::invalid_argument("--" + name + ": " + text(name) + " is out of range");
    return static_cast<int>(v);
  }
  [[nodiscard]] std::vector<long long> list(const std::string& name) const {
    return parse_list(name, text(name));
  }
  [[nodiscard]] bool flag(const std::string& name) const { return text(name) == "1"; }
  /// All values, by name.
  [[nodiscard]] const std::map<std::string, std::string>& values() const noexcept { return values_; }
  /// Values of `other` override these.
  void merge(const Settings& other) {
    for (const auto& [k, v] : other.values_) values_[k] = v;
  }

  static double parse_number(const std::string& name, const std::string& t) {
    double out = 0;
    const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    if (ec != std::errc() || p != t.data() + t.size() || t.empty())
      throw std::invalid_argument("--" + name + ": expected a number, got '" + t + "'");
    return out;
  }
  static long long parse_integer(const std::string& name, const std::string& t) {
    long long out = 0;
    const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    if (ec != std::errc() || p != t.data() + t.size() || t.empty())
      throw std::invalid_argument("--" + name + ": expected a whole number, got '" + t + "'");
    return out;
  }
  static std::vector<long long> parse_list(const std::string& name, const std::string& t) {
    std::vector<long long> out;
    if (t.empty()) return out;
    std::size_t start = 0;
    while (true) {
      const auto comma = t.find(',', start);
      const auto end = comma == std::string::npos ? t.size() : comma;
      const std::string part = t.substr(start, end - start);
      long long v = 0;
      const auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
      if (ec != std::errc() || p != part.data() + part.size() || part.empty())
        throw std::invalid_argument("--" + name + ": expected a number, got '" + part +
                                    "' (a comma-separated list of whole numbers, e.g. 64,64)");
      out.push_back(v);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return out;
  }

 private:
  std::map<std::string, std::string> values_;
};

/// Checks a value against its option: parses it by kind, and checks ranges and choices. Throws
/// `std::invalid_argument` "--<name> ...".
inline void check_value(const OptionSpec& o, const std::string& value) {
  auto range = [&](double v) {
    const bool low = o.min_exclusive ? v > o.min : v >= o.min;
    const bool high = o.max_exclusive ? v < o.max : v <= o.max;
    if (low && high) return;
    auto fmt = [](double x) {
      std::string s = std::to_string(x);
      while (s.size() > 1 && s.back() == '0') s.pop_back();
      if (!s.empty() && s.back() == '.') s.pop_back();
      return s;
    };
    std::string want;
    if (o.min > -1e299 && o.max < 1e299)
      want = "in " + std::string(o.min_exclusive ? "(" : "[") + fmt(o.min) + ", " + fmt(o.max) +
             (o.max_exclusive ? ")" : "]");
    else if (o.min > -1e299)
      want = std::string(o.min_exclusive ? "> " : ">= ") + fmt(o.min);
    else
      want = std::string(o.max_exclusive ? "< " : "<= ") + fmt(o.max);
    throw std::invalid_argument("--" + o.name + " must be " + want + " (got " + value + ")");
  };
  switch (o.kind) {
    case OptionKind::integer: range(static_cast<double>(Settings::parse_integer(o.name, value))); break;
    case OptionKind::number: range(Settings::parse_number(o.name, value)); break;
    case OptionKind::list:
      for (const long long v : Settings::parse_list(o.name, value)) range(static_cast<double>(v));
      break;
    case OptionKind::word:
      if (!o.choices.empty()) {
        bool ok = false;
        for (const auto& c : o.choices) ok |= c == value;
        if (!ok) {
          std::string list;
          for (const auto& c : o.choices) list += (list.empty() ? "" : ", ") + c;
          throw std::invalid_argument("--" + o.name + " must be one of " + list + " (got '" + value + "')");
        }
      }
      break;
    case OptionKind::flag:
      if (value != "0" && value != "1")
        throw std::invalid_argument("--" + o.name + ": expected 0 or 1, got '" + value + "'");
      break;
  }
}

}  // namespace metarec::registry
