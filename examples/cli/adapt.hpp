#pragma once
// `metarec adapt`: load a model written by `metarec meta-train --save` (any meta-trainable model
// of the registry) or by `metarec train --save` (a meta-trainable model without per-user
// parameters, trained on ratings), adapt it to a new user's ratings with the saved inner loop (K
// steps at the saved step size, or Meta-SGD's learned α; train files: the entry's default inner
// loop or the flags') and print the top-N items the user has not rated.
//
// Ratings file (UTF-8 text; format documented in docs/cli.md):
//   # gender=M age=25 occupation=4 zip=55117     optional side-feature line (any subset of keys)
//   1193 5                                         `movie_id rating`, original MovieLens ids
//   # any other comment
// Errors carry `path:line:column`. A top-N model from `metarec train --save` (Mult-VAE, Mult-DAE,
// SVAE, EASE) is served by fold-in: the ratings are its input, nothing is fitted.
//
// With --batch the file holds many users (`user movie_id rating` lines, `# user=U gender=M ...`
// side-feature lines) and each gets a list; a bad line skips its user only.

#include "args.hpp"
#include "meta_train.hpp"
#include "registry_access.hpp"

#include <metarec/core/detail/atomic_file.hpp>
#include <metarec/core/detail/json.hpp>
#include <metarec/core/error.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/movielens.hpp>
#include <metarec/data/new_user.hpp>
#include <metarec/data/split.hpp>
#include <metarec/models/mf/shared_user.hpp>
#include <metarec/meta/adapt.hpp>
#include <metarec/registry/recommend.hpp>
#include <metarec/train/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace metarec::cli {

namespace detail {

struct Token {
  std::string_view text;
  std::size_t column;  ///< 1-based
};

inline std::vector<Token> split_words(std::string_view line, std::size_t first_column = 1) {
  std::vector<Token> out;
  std::size_t k = 0;
  while (k < line.size()) {
    while (k < line.size() && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r')) ++k;
    const std::size_t start = k;
    while (k < line.size() && line[k] != ' ' && line[k] != '\t' && line[k] != '\r') ++k;
    if (k > start) out.push_back({line.substr(start, k - start), start + first_column});
  }
  return out;
}

template <class T>
std::optional<T> to_number(std::string_view s) {
  T v{};
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

/// Category index of `value` in the data set's user field `field`; throws a data_error otherwise.
inline std::uint32_t user_category(const Dataset& ds, const std::string& path, std::size_t line,
                                   const Token& key, std::string_view value, std::size_t column) {
  auto fail = [&](const std::string& what) -> std::uint32_t {
    throw data_error(path, line, column, what);
  };
  const std::string k(key.text);
  const std::string field = k == "zip" ? "zip_prefix" : k;
  const CategoricalField* f = ds.user_features().find(field);
  if (k != "gender" && k != "age" && k != "occupation" && k != "zip")
    throw data_error(path, line, key.column,
                     "unknown side feature '" + k + "'; expected gender, age, occupation or zip");
  if (f == nullptr) fail("the data set has no user field '" + field + "'");
  std::string label(value);
  if (k == "age") {
    const auto years = to_number<std::int64_t>(value);
    if (!years || *years < 1 || *years > 150)
      fail("expected an age in years (or an ML-1M age code 1, 18, 25, 35, 45, 50, 56), found \"" +
           label + "\"");
    label = metarec::detail::age_labels()[static_cast<std::size_t>(metarec::detail::age_bucket(*years))];
  } else if (k == "zip") {
    const std::int32_t z = metarec::detail::zip_prefix(value);
    if (z < 0) fail("expected a zip code starting with a digit, found \"" + label + "\"");
    label = std::string(1, static_cast<char>('0' + z));
  } else if (k == "occupation") {
    const auto code = to_number<std::uint32_t>(value);
    if (!code || *code >= f->cardinality())
      fail("expected an occupation code from 0 to " + std::to_string(f->cardinality() - 1) +
           ", found \"" + label + "\"");
    return *code;
  }
  for (std::uint32_t c = 0; c < f->cardinality(); ++c)
    if (f->labels[c] == label) return c;
  std::string known;
  for (const auto& l : f->labels) known += (known.empty() ? "" : ", ") + l;
  return fail("unknown " + k + " \"" + std::string(value) + "\" (known: " + known + ")");
}

}  // namespace detail

namespace detail {

/// The dense item and rating of the `movie_id rating` tokens `id`, `rating` of line `line`.
/// @throws data_error with path:line:column when the id is not an integer of `ds` or the rating is
///         off the data set's scale
inline std::pair<std::uint32_t, float> rating_fields(const Dataset& ds, const std::string& path, std::size_t line,
                                                     const Token& id_token, const Token& rating_token) {
  const auto id = to_number<std::int64_t>(id_token.text);
  if (!id)
    throw data_error(path, line, id_token.column,
                     "expected an integer movie id, found \"" + std::string(id_token.text) + "\"");
  const auto dense = ds.item_ids().find(*id);
  if (!dense)
    throw data_error(path, line, id_token.column,
                     "unknown movie id " + std::to_string(*id) + " (not in the data set " + ds.name() + ")");
  const auto r = to_number<float>(rating_token.text);
  const RatingScale& s = ds.scale();
  if (!r || !(*r >= s.min && *r <= s.max))
    throw data_error(path, line, rating_token.column,
                     "expected a rating from " + metarec::detail::json_number(s.min) + " to " +
                         metarec::detail::json_number(s.max) + ", found \"" + std::string(rating_token.text) +
                         "\"");
  return {*dense, *r};
}

/// Adds the `key=value` words of a side-feature line to `u.features` (keys `skip` are left out).
/// @throws data_error on a word without '=', a key given twice or an unknown key or value
inline void feature_fields(const Dataset& ds, const std::string& path, std::size_t line,
                           const std::vector<Token>& words, NewUser& u, std::string_view skip = {}) {
  for (const auto& w : words) {
    const auto eq = w.text.find('=');
    if (eq == std::string_view::npos || eq == 0)
      throw data_error(path, line, w.column,
                       "expected key=value in the side-feature line, found \"" + std::string(w.text) + "\"");
    const Token key{w.text.substr(0, eq), w.column};
    if (!skip.empty() && key.text == skip) continue;
    const std::string name = key.text == "zip" ? "zip_prefix" : std::string(key.text);
    if (u.features.count(name))
      throw data_error(path, line, w.column, "side feature '" + std::string(key.text) + "' given twice");
    u.features[name] = user_category(ds, path, line, key, w.text.substr(eq + 1), w.column + eq + 1);
  }
}

/// Calls `fn(line, text, first)` for each line of `path` that is not blank (1-based line number,
/// the line, the offset of its first non-blank character).
/// @throws std::runtime_error when the file cannot be opened
template <class F>
void for_each_nonblank_line(const std::string& path, F&& fn) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open the ratings file '" + path + "'");
  std::string text;
  for (std::size_t line = 1; std::getline(in, text); ++line) {
    const std::string_view sv(text);
    const auto first = sv.find_first_not_of(" \t\r");
    if (first != std::string_view::npos) fn(line, sv, first);
  }
}

/// One --log line of `metarec adapt`: the user (`id`, null for the single-user mode), their
/// ratings and features, "ok" or "skipped" with the first error, and the seconds.
inline void log_user(std::ostream& log, const std::string* id, const NewUser& u, const std::string& error,
                     double seconds) {
  log << "{\"user\":" << (id ? metarec::detail::json_string(*id) : std::string("null"))
      << ",\"ratings\":" << u.items.size() << ",\"features\":" << u.features.size() << ",\"status\":\""
      << (error.empty() ? "ok" : "skipped")
      << "\",\"error\":" << (error.empty() ? std::string("null") : metarec::detail::json_string(error))
      << ",\"seconds\":" << metarec::detail::json_number(seconds) << "}\n";
}

/// The JSON array of a list: `[{"movie","predicted","score"(,"title")}, ...]`, original movie ids.
inline std::string top_json(const Dataset& ds, const std::vector<registry::NewUserRecommendation>& recs) {
  const auto titles = ds.item_titles();
  std::string out = "[";
  for (std::size_t k = 0; k < recs.size(); ++k) {
    out += k ? "," : "";
    out += "{\"movie\":" + std::to_string(ds.item_ids().original(recs[k].item)) +
           ",\"predicted\":" + metarec::detail::json_number(recs[k].predicted) +
           ",\"score\":" + metarec::detail::json_number(recs[k].score);
    if (!titles.empty()) out += ",\"title\":" + metarec::detail::json_string(titles[recs[k].item]);
    out += "}";
  }
  return out + "]";
}

/// The words after '#' of a side-feature line (a comment line whose first word holds '='), or
/// nothing for blank lines and plain comments; `is_comment` tells which kind of line it was.
inline std::vector<Token> feature_words(std::string_view sv, std::size_t first, bool& is_comment) {
  is_comment = sv[first] == '#';
  if (!is_comment) return {};
  auto words = split_words(sv.substr(first + 1), first + 2);
  if (words.empty() || words[0].text.find('=') == std::string_view::npos) words.clear();
  return words;
}

}  // namespace detail

/// Reads a ratings file (see the file comment). Movie ids must exist in `ds`; ratings must lie on
/// the data set's scale; a movie may appear once.
/// @throws data_error with path:line:column on any malformed line; std::runtime_error when the
///         file cannot be opened.
inline NewUser read_new_user(const std::string& path, const Dataset& ds) {
  NewUser u;
  std::vector<std::size_t> seen_line(ds.num_items(), 0);
  bool have_features = false;
  detail::for_each_nonblank_line(path, [&](std::size_t line, std::string_view sv, std::size_t first) {
    bool comment = false;
    if (const auto fw = detail::feature_words(sv, first, comment); !fw.empty()) {
      if (have_features)
        throw data_error(path, line, first + 1, "a second side-feature line; give one at most");
      have_features = true;
      detail::feature_fields(ds, path, line, fw, u);
      return;
    }
    if (comment) return;
    const auto words = detail::split_words(sv);
    if (words.size() < 2)
      throw data_error(path, line, words[0].column + words[0].text.size(),
                       "expected `movie_id rating`, found one field");
    if (words.size() > 2)
      throw data_error(path, line, words[2].column,
                       "expected `movie_id rating`, found an extra field \"" + std::string(words[2].text) +
                           "\" (several users in one file: --batch)");
    const auto [item, r] = detail::rating_fields(ds, path, line, words[0], words[1]);
    if (seen_line[item] != 0)
      throw data_error(path, line, words[0].column,
                       "movie " + std::string(words[0].text) + " is rated twice (first on line " +
                           std::to_string(seen_line[item]) + ")");
    seen_line[item] = line;
    u.items.push_back(item);
    u.ratings.push_back(r);
  });
  return u;
}

/// One user of a batch ratings file.
struct BatchUser {
  std::string id;                   ///< the file's user id (any word)
  NewUser user;
  std::vector<std::string> errors;  ///< path:line:column messages of this user's bad lines
  std::map<std::uint32_t, std::size_t> seen;  ///< item -> first line
  bool have_features = false;
};

/// A batch ratings file: its users in order of first appearance, and errors no user owns.
struct UserBatch {
  std::vector<BatchUser> users;
  std::vector<std::string> errors;
};

/// Reads a batch ratings file: `user movie_id rating` lines (user: any word; a user's lines need
/// not be adjacent), `#` comments, and per user at most one side-feature line
/// `# user=U gender=M age=25 occupation=4 zip=55117`. A bad line is recorded with path:line:column
/// against its user (who is then skipped by `metarec adapt --batch`); a bad line without a user
/// (a side-feature line lacking `user=`) is recorded in `errors`. Nothing is thrown for bad lines.
/// @throws std::runtime_error when the file cannot be opened
inline UserBatch read_new_users(const std::string& path, const Dataset& ds) {
  UserBatch b;
  std::map<std::string, std::size_t, std::less<>> index;
  auto user_of = [&](std::string_view id) -> BatchUser& {
    auto it = index.find(id);
    if (it == index.end()) {
      it = index.emplace(std::string(id), b.users.size()).first;
      b.users.push_back({});
      b.users.back().id = std::string(id);
    }
    return b.users[it->second];
  };
  detail::for_each_nonblank_line(path, [&](std::size_t line, std::string_view sv, std::size_t first) {
    bool comment = false;
    const auto fw = detail::feature_words(sv, first, comment);
    if (comment && fw.empty()) return;
    if (comment) {
      const detail::Token* id = nullptr;
      for (const auto& w : fw)
        if (w.text.substr(0, 5) == "user=" && w.text.size() > 5) id = &w;
      if (id == nullptr) {
        b.errors.push_back(data_error(path, line, first + 1,
                                      "a side-feature line without user=ID (in a --batch file each names its user)")
                               .what());
        return;
      }
      BatchUser& u = user_of(id->text.substr(5));
      try {
        if (u.have_features)
          throw data_error(path, line, first + 1, "a second side-feature line for user " + u.id + "; give one at most");
        u.have_features = true;
        detail::feature_fields(ds, path, line, fw, u.user, "user");
      } catch (const data_error& e) {
        u.errors.push_back(e.what());
      }
      return;
    }
    const auto words = detail::split_words(sv);
    BatchUser& u = user_of(words[0].text);
    try {
      if (words.size() != 3)
        throw data_error(path, line, words.size() < 3 ? words.back().column + words.back().text.size() : words[3].column,
                         "expected `user movie_id rating`, found " + std::to_string(words.size()) + " field" +
                             (words.size() == 1 ? "" : "s"));
      const auto [item, r] = detail::rating_fields(ds, path, line, words[1], words[2]);
      if (const auto [it, fresh] = u.seen.emplace(item, line); !fresh)
        throw data_error(path, line, words[1].column,
                         "movie " + std::string(words[1].text) + " is rated twice by user " + u.id +
                             " (first on line " + std::to_string(it->second) + ")");
      u.user.items.push_back(item);
      u.user.ratings.push_back(r);
    } catch (const data_error& e) {
      u.errors.push_back(e.what());
    }
  });
  return b;
}

inline void print_adapt_help() {
  std::printf(
      "usage: metarec adapt --model-file F --ratings FILE [--top N] [--data DIR] [--rank R]\n"
      "                     [--blend-weight W] [--ease-reg L] [--log FILE] [--quiet] [--json]\n"
      "       metarec adapt --model-file F --ratings FILE --batch [--out FILE] [--threads T]\n"
      "                     [--log FILE] [--quiet] [--top N] [--rank R] ... [--json]\n\n"
      "Adapts a model written by `metarec meta-train --save` (with the saved inner loop) or by\n"
      "`metarec train --save` (trained on ratings: mf-bias, mf-side, whose new user starts from\n"
      "the mean training user's factors and bias; melu, autorec-u, deeprec, rbm-u, cf-nade-u; the\n"
      "entry's inner loop) to a new user's ratings, and prints the N best movies the user has not\n"
      "rated. A top-N model from `metarec train --save` (mult-vae, mult-dae, svae, ease) is not\n"
      "fitted: the ratings, in the file's order (SVAE reads them as the user's history in time\n"
      "order), are its input, and it ranks by its own scores (--rank and the inner-loop flags do\n"
      "not apply).\n\n"
      "  --model-file F  parameter file from meta-train --save or train --save\n"
      "  --ratings FILE  the new user's ratings: `movie_id rating` lines (original ids), `#`\n"
      "                  comments, optional side-feature line\n"
      "                  `# gender=M age=25 occupation=4 zip=55117` (see docs/cli.md)\n"
      "  --top N         how many movies to print (10)\n"
      "  --inner-steps K, --inner-lr A, --adapt local|all\n"
      "                  the inner loop (default: the saved one; train files: the model's\n"
      "                  meta-train defaults, `metarec meta-train --model M --help`)\n"
      "  --data DIR      the data set the model was trained on (default: the path saved in F)\n"
      "  --rank R        blend (default): z(EASE fold-in) + W z(predicted rating); rating: the\n"
      "                  adapted model's predicted rating alone; ease: EASE fold-in alone\n"
      "  --blend-weight W  W of the blend (0.5; bench_cold_start's validation choice for mf-side)\n"
      "  --ease-reg L    EASE's lambda, fitted in closed form on every rating of the data set\n"
      "                  (1000; bench_cold_start's validation choice)\n"
      "  --json          print a JSON object as the last line (--batch: JSON lines, one per user)\n"
      "  --log FILE      JSON lines, one per user: ratings, status, error, seconds\n"
      "  --quiet         no summary on stderr (errors are still reported)\n\n"
      "batch mode (many new users in one file):\n"
      "  --batch         FILE holds `user movie_id rating` lines (user: any word) and per user at\n"
      "                  most one `# user=U gender=M ...` side-feature line; writes TSV\n"
      "                  `user rank movie predicted score title` (a header line first), users in\n"
      "                  the order the file first names them. A bad line is reported on stderr as\n"
      "                  file:line:column and its user is skipped; the others are served, and the\n"
      "                  exit status is 1 when anything was skipped\n"
      "  --out FILE      write the lists to FILE (written whole, then renamed) instead of stdout\n"
      "  --threads T     users adapted in parallel (1); the same lists for any T\n");
}

/// The batch mode of `metarec adapt` (see print_adapt_help): every user of `path` adapted and
/// ranked with `recommend`, in parallel over `threads` OpenMP threads, results in file order.
template <class Recommend>
int run_adapt_batch(const std::string& path, const Dataset& ds, const Recommend& recommend, const Args& args) {
  const bool json = args.has("--json"), quiet = args.has("--quiet");
  const int threads = args.number<int>("--threads", 1);
  if (threads < 1) throw UsageError("--threads must be >= 1");
  const std::string out_path = args.get_or("--out", ""), log_path = args.get_or("--log", "");
  make_parent_dirs({out_path});
  std::ofstream log = open_log(log_path);
#if defined(_OPENMP)
  omp_set_num_threads(threads);  // also Eigen's own: with T = 1 it must not split its products
#endif
  UserBatch batch = read_new_users(path, ds);
  const auto n = static_cast<std::ptrdiff_t>(batch.users.size());
  std::vector<std::vector<registry::NewUserRecommendation>> lists(batch.users.size());
  std::vector<double> seconds(batch.users.size(), 0.0);
  const auto t0 = std::chrono::steady_clock::now();
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
  for (std::ptrdiff_t k = 0; k < n; ++k) {
    BatchUser& u = batch.users[static_cast<std::size_t>(k)];
    if (!u.errors.empty()) continue;
    const auto s0 = std::chrono::steady_clock::now();
    try {
      lists[static_cast<std::size_t>(k)] = recommend(u.user);
    } catch (const std::exception& e) {
      u.errors.push_back(path + ": user " + u.id + ": " + e.what());
    }
    seconds[static_cast<std::size_t>(k)] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const auto titles = ds.item_titles();
  std::string out = json ? "" : "user\trank\tmovie\tpredicted\tscore\ttitle\n";
  std::size_t served = 0, skipped = 0;
  for (const std::string& e : batch.errors) std::fprintf(stderr, "error: %s\n", e.c_str());
  for (std::size_t k = 0; k < batch.users.size(); ++k) {
    const BatchUser& u = batch.users[k];
    const bool ok = u.errors.empty();
    for (const std::string& e : u.errors) std::fprintf(stderr, "error: %s (user %s skipped)\n", e.c_str(), u.id.c_str());
    if (log.is_open()) detail::log_user(log, &u.id, u.user, ok ? std::string() : u.errors.front(), seconds[k]);
    if (!ok) {
      ++skipped;
      continue;
    }
    ++served;
    if (json) {
      out += "{\"user\":" + metarec::detail::json_string(u.id) + ",\"ratings\":" + std::to_string(u.user.items.size()) +
             ",\"features\":" + std::to_string(u.user.features.size()) + ",\"top\":" + detail::top_json(ds, lists[k]) +
             "}\n";
      continue;
    }
    for (std::size_t r = 0; r < lists[k].size(); ++r) {
      const auto& rec = lists[k][r];
      char num[64];
      std::snprintf(num, sizeof num, "\t%.4f\t%.4f\t", rec.predicted, rec.score);
      out += u.id + "\t" + std::to_string(r + 1) + "\t" + std::to_string(ds.item_ids().original(rec.item)) + num +
             (titles.empty() ? "" : titles[rec.item]) + "\n";
    }
  }
  if (out_path.empty())
    std::fwrite(out.data(), 1, out.size(), stdout);
  else
    metarec::detail::write_file_atomically(out_path, out, "metarec adapt --out");
  if (!quiet)
    std::fprintf(stderr, "adapted %zu users (%zu skipped) in %.3f s with %d thread%s: %.0f users/s%s%s\n", served,
                 skipped, total, threads, threads == 1 ? "" : "s",
                 total > 0 ? static_cast<double>(served) / total : 0.0, out_path.empty() ? "" : "; wrote ",
                 out_path.c_str());
  return skipped > 0 || !batch.errors.empty() ? 1 : 0;
}

/// The recommendations of the single-user mode, with their --log line.
template <class Recommend>
auto recommend_logged(const Args& args, const NewUser& user, const Recommend& recommend) {
  std::ofstream log = open_log(args.get_or("--log", ""));
  const auto s0 = std::chrono::steady_clock::now();
  auto recs = recommend(user);
  if (log.is_open())
    detail::log_user(log, nullptr, user, {},
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count());
  return recs;
}

/// A `train --save` file's data check: `ds` (read from `dir`) has the saved numbers of users and items.
/// @throws std::runtime_error naming both otherwise
inline void require_trained_data(const Dataset& ds, const std::string& dir, const std::string& model_file,
                                 const std::string& users, const std::string& items) {
  if (users != std::to_string(ds.num_users()) || items != std::to_string(ds.num_items()))
    throw std::runtime_error("the data set in '" + dir + "' (" + std::to_string(ds.num_users()) + " users, " +
                             std::to_string(ds.num_items()) + " items) is not the one '" + model_file +
                             "' was trained on (" + users + " users, " + items + " items); pass it with --data");
}

/// `metarec adapt` for a top-N model written by `metarec train --save` (Mult-VAE, Mult-DAE, SVAE,
/// EASE): the new user's ratings, in the file's order, are the model's input (fold-in); nothing
/// is fitted, and the list is the model's scores over the unrated items.
inline int run_adapt_fold_in(const Args& args, const registry::ModelEntry& entry, const ParameterFile<float>& file,
                             const std::map<std::string, std::string>& kv, const std::string& model_file,
                             const std::string& ratings_file, bool batch, std::size_t top, bool json) {
  for (const char* f : {"--rank", "--blend-weight", "--ease-reg", "--inner-steps", "--inner-lr", "--adapt"})
    if (args.has(f))
      throw UsageError(std::string(f) + " does not apply to '" + entry.name +
                       "', a top-N model: it ranks by its own scores from the ratings (fold-in)");
  auto get = [&](const char* key) {
    const auto it = kv.find(key);
    if (it == kv.end()) throw format_error("'" + model_file + "': the configuration lacks '" + key + "'");
    return it->second;
  };
  const std::string protocol = get("protocol");
  if (!entry.runs_on(protocol))
    throw format_error("'" + model_file + "': a '" + entry.name + "' model trained on protocol '" + protocol +
                       "', which it does not run on");
  registry::Settings saved;
  for (const auto& o : entry.options)
    if (kv.count(o.name)) saved.set(o.name, kv.at(o.name));
  registry::Settings settings;
  try {
    settings = registry::resolve_settings(entry, protocol, saved);
  } catch (const std::invalid_argument& e) {
    throw format_error("'" + model_file + "': its settings are not valid for '" + entry.name + "' (" + e.what() + ")");
  }
  const std::string dir = args.get_or("--data", kv.count("data") ? kv.at("data") : default_data_dir(args));
  const Dataset ds = load_movielens(dir);
  require_trained_data(ds, dir, model_file, get("users"), get("items"));
  std::optional<NewUser> single;
  if (!batch) single = read_new_user(ratings_file, ds);
  std::unique_ptr<registry::FoldInScorer> scorer;
  try {
    scorer = entry.fold_in(ds, settings, file.theta);
  } catch (const std::invalid_argument& e) {
    throw format_error("'" + model_file + "': " + e.what());
  }
  const auto recommend = [&](const NewUser& u) { return registry::recommend_by_fold_in(*scorer, ds, u, top); };
  if (batch) return run_adapt_batch(ratings_file, ds, recommend, args);

  const NewUser& user = *single;
  const auto recs = recommend_logged(args, user, recommend);
  const std::size_t candidates = ds.num_items() - user.items.size();
  std::printf("model %s (trained by metarec train on %s; fold-in: the ratings, in the file's order, are its "
              "input, nothing is fitted) from %s\n",
              entry.name.c_str(), protocol.c_str(), model_file.c_str());
  std::printf("new user: %zu ratings; %zu candidate movies\n", user.items.size(), candidates);
  std::printf("ranked by the model's score; equal ones: lower movie index first\n");
  std::printf("%4s %8s %9s  %s\n", "rank", "movie", "score", "title");
  const auto titles = ds.item_titles();
  for (std::size_t k = 0; k < recs.size(); ++k) {
    const auto id = ds.item_ids().original(recs[k].item);
    const std::string title = titles.empty() ? "" : titles[recs[k].item];
    std::printf("%4zu %8lld %9.3f  %s\n", k + 1, static_cast<long long>(id), recs[k].score, title.c_str());
  }
  if (json)
    std::printf("{\"model_file\":\"%s\",\"model\":\"%s\",\"algo\":\"fold-in\",\"ratings\":%zu,"
                "\"features\":%zu,\"candidates\":%zu,\"rank\":\"model\",\"top\":%s}\n",
                json_escape(model_file).c_str(), entry.name.c_str(), user.items.size(), user.features.size(),
                candidates, detail::top_json(ds, recs).c_str());
  return 0;
}

inline int run_adapt(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {"--model-file", "--ratings", "--top", "--data", "--rank", "--blend-weight", "--ease-reg", "--out",
                   "--threads", "--log", "--inner-steps", "--inner-lr", "--adapt"},
                  {"--batch", "--quiet"});
  if (args.has("--help")) {
    print_adapt_help();
    return 0;
  }
  const bool batch = args.has("--batch");
  if (!batch)
    for (const char* f : {"--out", "--threads"})
      if (args.has(f)) throw UsageError(std::string(f) + " is a --batch flag (many users in one ratings file)");
  const std::string model_file = args.require("--model-file");
  const std::string ratings_file = args.require("--ratings");
  const auto top = args.number<std::size_t>("--top", 10);
  if (top < 1) throw UsageError("--top must be >= 1");
  const bool json = args.has("--json");
  registry::RecommendOptions ro;
  try {
    ro.rank_by = registry::parse_rank_by(args.get_or("--rank", "blend"));
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  ro.blend_weight = args.number<double>("--blend-weight", 0.5);
  ro.top = top;
  const double ease_reg = args.number<double>("--ease-reg", 1000.0);
  if (!std::isfinite(ro.blend_weight) || ro.blend_weight < 0)
    throw UsageError("--blend-weight must be a finite number >= 0");
  if (!std::isfinite(ease_reg) || ease_reg <= 0) throw UsageError("--ease-reg must be a finite number > 0");

  ParameterFile<float> file = read_parameter_file<float>(model_file);
  // Two kinds of file: `meta-train --save` (model "meta:<name>": θ, Meta-SGD's α, the inner loop)
  // and `train --save` (model "<name>": θ of a model fitted on pooled ratings; the inner loop is
  // the entry's default or the flags').
  const bool from_meta = file.header.model.rfind("meta:", 0) == 0;
  const auto kv = registry::parse_config(file.header.config);
  auto get = [&](const char* key) {
    const auto it = kv.find(key);
    if (it == kv.end())
      throw format_error("'" + model_file + "': the configuration lacks '" + key + "'");
    return it->second;
  };
  const registry::Registry& reg = cli_registry();
  const std::string name = from_meta ? get("model") : file.header.model;
  if (!reg.contains(name))
    throw format_error("'" + model_file + "' holds a '" + name + "' model, which this build does not know");
  const registry::ModelEntry& entry = reg.find(name);
  if (!from_meta && !entry.meta && entry.fold_in)
    return run_adapt_fold_in(args, entry, file, kv, model_file, ratings_file, batch, top, json);
  if (!entry.meta) {
    std::string list;
    for (const auto& e : reg.models())
      if (e.meta || e.fold_in) list += (list.empty() ? "" : ", ") + e.name;
    throw format_error("'" + model_file + "' holds a '" + entry.name + "' model, which cannot adapt to a new user (" +
                       "adapt serves: " + list + ")");
  }
  // A trained MF model has a column per training user in its user blocks; its new-user form one
  // shared column, which starts as their mean (models/mf/shared_user.hpp). The other models carry
  // over as they are.
  const bool fold_users = !from_meta && entry.family == registry::Family::mf;
  if (!from_meta) {
    const std::string protocol = get("protocol");
    if (protocol != "seed-mf" && protocol != "ml1m-90-10")
      throw format_error("'" + model_file + "' was trained on protocol " + protocol +
                         ", whose targets are not rating values; adapt fits and predicts ratings: train on "
                         "--protocol ml1m-90-10 or seed-mf");
  }
  // The saved settings, checked against the model's options as if given on the command line; the
  // inner-loop flags override them.
  static const std::set<std::string> loop{"algo",   "inner-steps", "inner-lr",        "outer-lr", "meta-batch",
                                          "epochs", "adapt",       "pretrain-epochs", "patience", "valid-users"};
  registry::Settings saved;
  for (const auto& o : entry.meta.options) {
    if (from_meta) {
      // An option the file predates (valid-users: training-time only) keeps its default.
      if (o.name != "valid-users" || kv.count(o.name)) saved.set(o.name, get(o.name.c_str()));
    } else if (!loop.count(o.name) && o.name != "init-std" && kv.count(o.name)) {
      // (init-std: θ comes from the file; train's -1, "the model's default", is no meta value.)
      saved.set(o.name, kv.at(o.name));
    }
  }
  for (const char* flag : {"inner-steps", "inner-lr", "adapt"})
    if (const auto v = args.get(std::string("--") + flag)) saved.set(flag, *v);
  const registry::Settings settings = registry::resolve_meta_settings(entry, "melu-user-cold", saved);
  const registry::MetaConfig c = registry::MetaConfig::from(settings, 0);
  const bool has_alpha = from_meta && get("alpha") == "1";
  const std::string dir = args.get_or("--data", kv.count("data") ? kv.at("data") : default_data_dir(args));
  const Dataset ds = load_movielens(dir);
  if (from_meta) {
    const DataFingerprint fp = data_fingerprint(ds);
    if (get("fingerprint") != std::to_string(fp.ratings) + ":" + std::to_string(fp.hash))
      throw std::runtime_error("the data set in '" + dir + "' is not the one '" + model_file +
                               "' was trained on (fingerprint differs); pass it with --data");
  } else {
    require_trained_data(ds, dir, model_file, get("users"), get("items"));
  }
  // A train file does not keep the training rows' mean (a default for entries nothing informs):
  // the data set's mean stands in.
  const double mean = from_meta ? Args::parse<double>("global_mean", get("global_mean"))
                                : ds.mean_rating();
  // Single-user mode reads (and rejects) the ratings before the model is built.
  std::optional<NewUser> single;
  if (!batch) single = read_new_user(ratings_file, ds);

  const std::unique_ptr<registry::MetaModel> model = entry.meta.build(ds, settings, mean);
  const Eigen::Index n = model->num_parameters();
  if (!from_meta && !fold_users && file.header.num_parameters != n)
    throw format_error("'" + model_file + "' holds a trained '" + entry.name + "' with " +
                       std::to_string(file.header.num_parameters) + " values, but its new-user form has " +
                       std::to_string(n) + "; adapt a model written by `metarec meta-train --model " + entry.name + " --save`");
  if (!fold_users && file.header.num_parameters != (has_alpha ? 2 * n : n))
    throw format_error("'" + model_file + "' holds " + std::to_string(file.header.num_parameters) +
                       " values; the model needs " + std::to_string(has_alpha ? 2 * n : n));
  Vector<float> theta;
  if (fold_users) {
    if (model->layout() == nullptr)
      throw format_error("'" + model_file + "' holds a trained '" + entry.name +
                         "', whose parameters this build cannot map to its new-user form");
    try {
      theta = shared_user_theta<float>(*model->layout(), ds.num_users(), file.theta);
    } catch (const std::invalid_argument& e) {
      throw format_error("'" + model_file + "' holds a trained '" + entry.name + "' that does not match " + dir +
                         " with the saved settings (" + e.what() + ")");
    }
  } else {
    theta = file.theta.head(n);
  }
  const Vector<float> alpha = has_alpha ? Vector<float>(file.theta.tail(n)) : Vector<float>();
  // The item-item prior: EASE in closed form on every rating of the data set (one Cholesky of
  // an items x items matrix; a whole adapt run on ML-1M, loading included, took 2.1 s).
  std::optional<registry::ItemPrior> prior;
  if (ro.rank_by != registry::RankBy::rating) {
    std::vector<RowIndex> all(ds.num_ratings());
    std::iota(all.begin(), all.end(), RowIndex{0});
    prior.emplace(ds, all, ease_reg);
  }
  const AdaptOptions ao = c.adapt_options();
  const auto recommend = [&](const NewUser& u) {
    return registry::recommend_new_user(*model, theta, has_alpha ? &alpha : nullptr, ao, prior ? &*prior : nullptr,
                                        ds, u, ro);
  };
  if (batch) return run_adapt_batch(ratings_file, ds, recommend, args);

  const NewUser& user = *single;
  const auto recs = recommend_logged(args, user, recommend);
  const std::size_t candidates = ds.num_items() - user.items.size();
  const char* rank_by = ro.rank_by == registry::RankBy::blend    ? "blend"
                        : ro.rank_by == registry::RankBy::rating ? "rating"
                                                                 : "ease";
  const auto titles = ds.item_titles();
  const std::string algo = from_meta ? c.algo : "train";
  std::printf("model %s (%s, %d inner steps x %g%s) from %s\n", entry.name.c_str(),
              from_meta    ? c.algo.c_str()
              : fold_users ? "trained by metarec train; the new user starts from the mean training user"
                           : "trained by metarec train",
              c.inner_steps, c.inner_lr,
              has_alpha ? ", learned per-parameter alpha" : "", model_file.c_str());
  std::printf("new user: %zu ratings, %zu side features; %zu candidate movies\n", user.items.size(),
              user.features.size(), candidates);
  if (ro.rank_by == registry::RankBy::blend)
    std::printf("ranked by z(EASE fold-in, lambda %g) + %g z(predicted rating); predicted ratings unclipped\n",
                ease_reg, ro.blend_weight);
  else if (ro.rank_by == registry::RankBy::ease)
    std::printf("ranked by EASE fold-in (lambda %g); predicted ratings unclipped\n", ease_reg);
  else
    std::printf("ranked by predicted rating (unclipped); equal ones: lower movie index first\n");
  std::printf("%4s %8s %9s %8s  %s\n", "rank", "movie", "predicted", "score", "title");
  for (std::size_t k = 0; k < recs.size(); ++k) {
    const auto id = ds.item_ids().original(recs[k].item);
    const std::string title = titles.empty() ? "" : titles[recs[k].item];
    std::printf("%4zu %8lld %9.3f %8.3f  %s\n", k + 1, static_cast<long long>(id), recs[k].predicted, recs[k].score,
                title.c_str());
  }
  if (json)
    std::printf("{\"model_file\":\"%s\",\"model\":\"%s\",\"algo\":\"%s\",\"ratings\":%zu,"
                "\"features\":%zu,\"candidates\":%zu,\"rank\":\"%s\",\"top\":%s}\n",
                json_escape(model_file).c_str(), entry.name.c_str(), algo.c_str(), user.items.size(),
                user.features.size(), candidates, rank_by, detail::top_json(ds, recs).c_str());
  return 0;
}

}  // namespace metarec::cli
