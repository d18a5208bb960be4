#pragma once
/// @file explainability.hpp
/// @brief The neighbourhood explainability matrix of Abdollahi & Nasraoui (2016): item i is
/// explainable to user u when u's k nearest neighbours rated it; its score is the share of them
/// who did (or, rating-weighted, Σ_{v∈N_k(u)} r_vi / (k·R_max), the form a third-party summary of
/// the paper gives). Neighbours: cosine similarity of the users' training rating vectors, missing
/// ratings taken as 0, the user itself excluded, ties to the lower user index, only neighbours with
/// a positive similarity. Entries with a score at or below `threshold` are dropped (the paper's θ,
/// 0 in its main runs).
/// @code
/// const auto E = metarec::ExplainabilityMatrix::from_neighbours(ds, split.train, {.neighbours = 50});
/// std::string why = E.explanation(user, item);  // "12 of your 50 nearest neighbours rated this"
/// @endcode
///
/// The paper's explainability metrics of top-n lists (`mean_explainability`):
/// - MEP@n (mean explainability precision) = mean over users of |{i in the first n : E_ui > θ}| / n;
/// - MER@n (mean explainability recall) = mean over users with at least one explainable candidate
///   of |{i in the first n : E_ui > θ}| / |{explainable items the user has not rated}| (the
///   items already rated are not candidates of a recommendation list, so they are left out of the
///   denominator: our choice, the paper's exact denominator could not be checked).

#include <metarec/data/dataset.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace metarec {

/// MEP@n and MER@n (see the file comment) and the number of users they average over.
struct ExplainabilityScores {
  double mep = std::nan("");
  double mer = std::nan("");
  std::size_t users = 0;      ///< users with a list (MEP's)
  std::size_t mer_users = 0;  ///< users with an explainable candidate (MER's)
};

/// Options of `ExplainabilityMatrix::from_neighbours`.
struct ExplainabilityOptions {
  int neighbours = 50;           ///< k nearest neighbours per user
  double threshold = 0.0;        ///< θ: keep scores > θ
  bool rating_weighted = false;  ///< false: share of neighbours who rated i; true: Σ r_vi / (k·R_max)
};

/// A sparse users × items matrix of explainability scores in (θ, 1] (see the file comment).
class ExplainabilityMatrix {
 public:
  /// One explainable item of a user.
  struct Entry {
    std::uint32_t item = 0;
    float score = 0;           ///< the explainability score E_ui
    std::uint32_t raters = 0;  ///< how many of the user's neighbours rated the item
  };

  ExplainabilityMatrix() = default;

  /// Builds the matrix from the rating rows `rows` of `data` (OpenMP across users; the result does
  /// not depend on the thread count).
  /// @throws std::invalid_argument when neighbours < 1, the threshold is negative or not finite, or
  ///         a row is outside the data set.
  static ExplainabilityMatrix from_neighbours(const Dataset& data, std::span<const RowIndex> rows,
                                              ExplainabilityOptions options = {}) {
    if (options.neighbours < 1)
      throw std::invalid_argument("ExplainabilityMatrix::from_neighbours: neighbours must be >= 1 (got " +
                                  std::to_string(options.neighbours) + ")");
    if (!(options.threshold >= 0.0) || !std::isfinite(options.threshold))
      throw std::invalid_argument("ExplainabilityMatrix::from_neighbours: threshold must be >= 0 and finite (got " +
                                  std::to_string(options.threshold) + ")");
    detail::check_rows(data, rows, "ExplainabilityMatrix::from_neighbours", false, "row");
    const std::uint32_t nu = data.num_users(), ni = data.num_items();
    const CompressedIndex by_user = CompressedIndex::group(rows, nu, [&](RowIndex r) { return data.user(r); });
    const CompressedIndex by_item = CompressedIndex::group(rows, ni, [&](RowIndex r) { return data.item(r); });
    std::vector<double> norm(nu, 0.0);
    float r_max = 0.0f;
    for (const RowIndex r : rows) {
      norm[data.user(r)] += static_cast<double>(data.rating(r)) * data.rating(r);
      r_max = std::max(r_max, data.rating(r));
    }
    for (double& x : norm) x = std::sqrt(x);

    ExplainabilityMatrix m;
    m.k_ = options.neighbours;
    m.items_ = ni;
    std::vector<std::vector<Entry>> per_user(nu);
    const auto count = static_cast<std::ptrdiff_t>(nu);
#if defined(_OPENMP)
#pragma omp parallel
#endif
    {
      std::vector<double> dot(nu, 0.0);
      std::vector<std::uint32_t> touched, cand;
      std::vector<float> score(ni, 0.0f);
      std::vector<std::uint32_t> raters(ni, 0);
      std::vector<std::uint32_t> items;
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 16)
#endif
      for (std::ptrdiff_t uu = 0; uu < count; ++uu) {
        const auto u = static_cast<std::uint32_t>(uu);
        if (by_user.count(u) == 0) continue;
        // dot products with every user sharing an item (ascending user order for the sums)
        for (const RowIndex r : by_user[u])
          for (const RowIndex q : by_item[data.item(r)]) {
            const std::uint32_t v = data.user(q);
            if (v == u) continue;
            if (dot[v] == 0.0) touched.push_back(v);
            dot[v] += static_cast<double>(data.rating(r)) * data.rating(q);
          }
        cand.clear();
        for (const std::uint32_t v : touched)
          if (dot[v] > 0.0) cand.push_back(v);
        const auto sim = [&](std::uint32_t v) { return dot[v] / (norm[u] * norm[v]); };
        const auto better = [&](std::uint32_t a, std::uint32_t b) {
          const double sa = sim(a), sb = sim(b);
          return sa > sb || (sa == sb && a < b);
        };
        const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(options.neighbours), cand.size());
        std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(k), cand.end(), better);
        items.clear();
        for (std::size_t n = 0; n < k; ++n)
          for (const RowIndex q : by_user[cand[n]]) {
            const std::uint32_t i = data.item(q);
            if (raters[i] == 0) items.push_back(i);
            ++raters[i];
            score[i] += options.rating_weighted ? data.rating(q) : 1.0f;
          }
        std::sort(items.begin(), items.end());
        const float denom = static_cast<float>(options.neighbours) * (options.rating_weighted ? r_max : 1.0f);
        std::vector<Entry>& out = per_user[u];
        for (const std::uint32_t i : items) {
          const float e = score[i] / denom;
          if (static_cast<double>(e) > options.threshold) out.push_back({i, e, raters[i]});
          score[i] = 0.0f;
          raters[i] = 0;
        }
        for (const std::uint32_t v : touched) dot[v] = 0.0;
        touched.clear();
      }
    }
    m.offsets_.assign(nu + 1, 0);
    for (std::uint32_t u = 0; u < nu; ++u) m.offsets_[u + 1] = m.offsets_[u] + per_user[u].size();
    m.entries_.reserve(m.offsets_[nu]);
    for (auto& v : per_user) m.entries_.insert(m.entries_.end(), v.begin(), v.end());
    return m;
  }

  [[nodiscard]] std::uint32_t num_users() const noexcept {
    return offsets_.empty() ? 0u : static_cast<std::uint32_t>(offsets_.size() - 1);
  }
  [[nodiscard]] std::uint32_t num_items() const noexcept { return items_; }
  /// k, the neighbourhood size.
  [[nodiscard]] int neighbours() const noexcept { return k_; }
  /// Number of stored (explainable) entries.
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

  /// The explainable items of user u, by increasing item (empty for a user outside the matrix).
  [[nodiscard]] std::span<const Entry> row(std::uint32_t u) const noexcept {
    if (u + 1 >= offsets_.size()) return {};
    return std::span<const Entry>(entries_).subspan(offsets_[u], offsets_[u + 1] - offsets_[u]);
  }
  /// E_ui (0 when i is not explainable to u).
  [[nodiscard]] float score(std::uint32_t u, std::uint32_t i) const noexcept {
    const Entry* e = find(u, i);
    return e == nullptr ? 0.0f : e->score;
  }
  /// Whether item i is explainable to user u (E_ui > θ).
  [[nodiscard]] bool explainable(std::uint32_t u, std::uint32_t i) const noexcept { return find(u, i) != nullptr; }
  /// MEP@n and MER@n of recommendation lists: `lists[k]` holds user `users[k]`'s items, best first
  /// (the first n count), `seen[k]` the items that user rated (sorted ascending; left out of MER's
  /// denominator).
  /// @throws std::invalid_argument when n is 0, the three spans differ in length or a user is outside
  ///         the matrix.
  [[nodiscard]] ExplainabilityScores mean_explainability(std::span<const std::uint32_t> users,
                                                         std::span<const std::vector<std::uint32_t>> lists,
                                                         std::span<const std::vector<std::uint32_t>> seen,
                                                         std::size_t n) const {
    if (n == 0 || lists.size() != users.size() || seen.size() != users.size())
      throw std::invalid_argument("ExplainabilityMatrix::mean_explainability: n must be >= 1 and users, lists and "
                                  "seen must have one entry per user (n " + std::to_string(n) + ", users " +
                                  std::to_string(users.size()) + ", lists " + std::to_string(lists.size()) +
                                  ", seen " + std::to_string(seen.size()) + ")");
    ExplainabilityScores out;
    double mep = 0, mer = 0;
    for (std::size_t k = 0; k < users.size(); ++k) {
      const std::uint32_t u = users[k];
      if (u >= num_users())
        throw std::invalid_argument("ExplainabilityMatrix::mean_explainability: user " + std::to_string(u) +
                                    " is outside the matrix (" + std::to_string(num_users()) + " users)");
      std::size_t hits = 0;
      for (std::size_t p = 0; p < std::min(n, lists[k].size()); ++p) hits += explainable(u, lists[k][p]) ? 1 : 0;
      std::size_t candidates = 0;
      for (const Entry& e : row(u)) candidates += std::binary_search(seen[k].begin(), seen[k].end(), e.item) ? 0 : 1;
      mep += static_cast<double>(hits) / static_cast<double>(n);
      ++out.users;
      if (candidates > 0) {
        mer += static_cast<double>(hits) / static_cast<double>(candidates);
        ++out.mer_users;
      }
    }
    if (out.users > 0) out.mep = mep / static_cast<double>(out.users);
    if (out.mer_users > 0) out.mer = mer / static_cast<double>(out.mer_users);
    return out;
  }

  /// "n of your k nearest neighbours rated this" (or "none of your k nearest neighbours rated this").
  [[nodiscard]] std::string explanation(std::uint32_t u, std::uint32_t i) const {
    const Entry* e = find(u, i);
    const std::string k = std::to_string(k_);
    if (e == nullptr) return "none of your " + k + " nearest neighbours rated this";
    return std::to_string(e->raters) + " of your " + k + " nearest neighbours rated this";
  }

 private:
  [[nodiscard]] const Entry* find(std::uint32_t u, std::uint32_t i) const noexcept {
    const auto r = row(u);
    const auto it = std::lower_bound(r.begin(), r.end(), i, [](const Entry& e, std::uint32_t x) { return e.item < x; });
    return it != r.end() && it->item == i ? &*it : nullptr;
  }

  int k_ = 0;
  std::uint32_t items_ = 0;
  std::vector<std::size_t> offsets_;
  std::vector<Entry> entries_;
};

}  // namespace metarec
