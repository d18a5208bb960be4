#pragma once
/// @file protocols.hpp
/// @brief Named evaluation protocols: each preset maps (data set, seed) to a `Split` (and, for the
/// MeLU presets, meta-training and evaluation tasks). docs/protocols.md gives each preset's
/// definition, source and metric.
/// @code
/// for (auto name : metarec::protocol_names()) std::cout << name << '\n';
/// metarec::ProtocolSplit p = metarec::make_protocol_split("melu-user-cold", ds, 42);
/// // p.split.train: warm rows; p.train_tasks: warm tasks; p.test_tasks: new-user tasks
/// @endcode

#include <metarec/core/rng.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/filter.hpp>
#include <metarec/data/split.hpp>
#include <metarec/data/tasks.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace metarec {

/// Description of a preset (for the CLI and for reports).
struct ProtocolInfo {
  std::string_view name;    ///< registry name, e.g. "recbole"
  std::string_view split;   ///< how rows are split
  std::string_view label;   ///< what the model predicts (rating, 0/1 label, positive item)
  std::string_view metric;  ///< the metric(s) the preset is reported with
  std::string_view source;  ///< where the protocol comes from
};

/// The result of a preset: the row split and, for meta-learning presets, the tasks.
/// Tasks refer to rows of the same data set; `train_tasks` only use users, items and rows that the
/// protocol allows in meta-training.
struct ProtocolSplit {
  Split split;
  std::vector<Task> train_tasks;  ///< meta-training tasks (MeLU presets; empty otherwise)
  std::vector<Task> test_tasks;   ///< evaluation tasks (MeLU presets; empty otherwise)
};

/// Options of the MeLU presets (defaults are those of Lee et al., KDD 2019).
struct MeluOptions {
  std::int32_t last_existing_year = 1997;  ///< items released up to this year are existing
  double existing_user_fraction = 0.8;     ///< a random 80% of the users are existing
  std::uint32_t min_rows = 13;             ///< task bounds on the user's rows in the partition
  std::uint32_t max_rows = 100;
  std::uint32_t query = 10;                ///< query-set size; the rest is the support set
};

/// The four MeLU scenarios.
enum class MeluScenario { warm, user_cold, item_cold, user_item_cold };

namespace detail {

inline constexpr std::uint64_t tag_melu_tasks = 0x4D454C55ull;  // "MELU"

/// RecBole's `_calcu_split_ids`: every part but the first is `int(ratio * n)`; then, from the last
/// part backwards, a part whose exact share is in (0, 1) gets one row from the first part while
/// the first part has more than one row. Ratios are normalised as RecBole does.
[[nodiscard]] inline std::array<std::size_t, 3> recbole_counts(std::size_t n,
                                                               std::array<double, 3> ratios) {
  const double total = ratios[0] + ratios[1] + ratios[2];
  for (auto& r : ratios) r /= total;
  const double dn = static_cast<double>(n);
  std::array<std::size_t, 3> cnt{};
  cnt[1] = static_cast<std::size_t>(ratios[1] * dn);
  cnt[2] = static_cast<std::size_t>(ratios[2] * dn);
  cnt[0] = n - cnt[1] - cnt[2];
  for (std::size_t i = 1; i < 3; ++i) {
    if (cnt[0] <= 1) break;
    const double share = ratios[3 - i] * dn;
    if (share > 0.0 && share < 1.0) ++cnt[3 - i], --cnt[0];
  }
  return cnt;
}

}  // namespace detail

/// `seed-mf`: global random 75/25 over all ratings; rating prediction, MSE.
[[nodiscard]] inline Split seed_mf_split(const Dataset& ds, std::uint64_t seed) {
  return detail::renamed(random_ratio_split(ds, {0.75, 0.0, 0.25}, seed), "seed-mf");
}

/// `seed-mlp`: global random 80/10/10 over all ratings; label = rating > 3
/// (`implicit_labels(ds, rows, 3.0f, ThresholdKind::above)`); global AUC.
[[nodiscard]] inline Split seed_mlp_split(const Dataset& ds, std::uint64_t seed) {
  return detail::renamed(random_ratio_split(ds, {0.8, 0.1, 0.1}, seed), "seed-mlp");
}

/// `seed-ae`: per-user random 80/20; every rating is a positive; P/R/NDCG@100 with the user's
/// training items masked from the ranking.
[[nodiscard]] inline Split seed_ae_split(const Dataset& ds, std::uint64_t seed) {
  return detail::renamed(per_user_random_split(ds, {0.8, 0.0, 0.2}, seed), "seed-ae");
}

/// `ml1m-90-10`: global random 90/10 over all ratings; RMSE.
[[nodiscard]] inline Split ml1m_90_10_split(const Dataset& ds, std::uint64_t seed) {
  return detail::renamed(random_ratio_split(ds, {0.9, 0.0, 0.1}, seed), "ml1m-90-10");
}

/// Rows kept by the `recbole` preset: ratings >= 3, then the iterative 10-core (users and items).
[[nodiscard]] inline std::vector<RowIndex> recbole_rows(const Dataset& ds) {
  const auto positive = threshold_rows(ds, 3.0f, ThresholdKind::at_least);
  return k_core_rows(ds, positive, 10, 10);
}

/// `recbole`: RecBole's general-recommendation defaults on explicit data: keep ratings >= 3
/// (`val_interval: {rating: "[3,inf)"}`), iterative 10-core (`user_inter_num_interval` and
/// `item_inter_num_interval` `"[10,inf)"`), then per user (`group_by: user`), random order
/// (`order: RO`), ratio split 8:1:1 (`split: {RS: [0.8,0.1,0.1]}`) with RecBole's part sizes
/// (valid and test rounded down, train takes the rest); full ranking, metrics @10.
[[nodiscard]] inline Split recbole_split(const Dataset& ds, std::uint64_t seed) {
  const auto kept = recbole_rows(ds);
  auto g = detail::group_by_user(ds, kept);
  Split s;
  detail::shuffle_and_deal_per_user(
      ds, g, seed, detail::tag_per_user_ratio,
      [](std::size_t n) { return detail::recbole_counts(n, {0.8, 0.1, 0.1}); }, s);
  return detail::finish_split(std::move(s), "recbole", seed);
}

namespace detail {
inline constexpr std::uint64_t tag_svae_users = 0x53564155ull;  // "SVAU": held-out users
}  // namespace detail

/// `svae`: the protocol of Sachdeva et al. (WSDM 2019), after Liang et al.'s Mult-VAE
/// preprocessing (strong generalisation). Ratings > 3.5 are positives; users with 5..1000
/// positives are kept; a random 10% of them (rounded down, at least 1) are validation users and
/// another 10% test users; the items are those the other (training) users rated. A held-out
/// user's positives on those items, in time order (ties by row), are split 80/20: the first
/// max(2, ⌊0.8 n⌋) (at most n − 1) are folded in — they are in `train` as the user's input but
/// the user is listed in `cold_users`, whose rows models never train on — and the rest are `valid`
/// (validation users) or `test` (test users). Held-out users with fewer than 3 positives on
/// training items are dropped. Full ranking with the folded-in items removed.
/// @throws std::invalid_argument when the data set has no times.
[[nodiscard]] inline Split svae_split(const Dataset& ds, std::uint64_t seed) {
  ds.require_times("the svae protocol");
  std::vector<std::vector<RowIndex>> by_user(ds.num_users());
  for (RowIndex r = 0; r < ds.num_ratings(); ++r)
    if (ds.rating(r) > 3.5f) by_user[ds.user(r)].push_back(r);
  std::vector<std::uint32_t> users;
  for (std::uint32_t u = 0; u < ds.num_users(); ++u)
    if (by_user[u].size() >= 5 && by_user[u].size() <= 1000) users.push_back(u);
  Rng rng(derive_seed(seed, detail::tag_svae_users));
  rng.shuffle(std::span<std::uint32_t>(users));
  const std::size_t held = users.size() >= 3 ? std::max<std::size_t>(1, users.size() / 10) : 0;
  const std::size_t n_train = users.size() - 2 * held;
  std::vector<char> train_item(ds.num_items(), 0);
  Split s;
  for (std::size_t k = 0; k < n_train; ++k)
    for (const RowIndex r : by_user[users[k]]) {
      train_item[ds.item(r)] = 1;
      s.train.push_back(r);
    }
  for (std::size_t k = n_train; k < users.size(); ++k) {
    std::vector<RowIndex> rows;
    for (const RowIndex r : by_user[users[k]])
      if (train_item[ds.item(r)]) rows.push_back(r);
    if (rows.size() < 3) continue;
    std::sort(rows.begin(), rows.end(), [&](RowIndex a, RowIndex b) { return ds.earlier(a, b); });
    const std::size_t n = rows.size();
    const std::size_t fold = std::min(n - 1, std::max<std::size_t>(2, (8 * n) / 10));
    std::vector<RowIndex>& held_out = k < n_train + held ? s.valid : s.test;
    s.train.insert(s.train.end(), rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(fold));
    held_out.insert(held_out.end(), rows.begin() + static_cast<std::ptrdiff_t>(fold), rows.end());
    s.cold_users.push_back(users[k]);
  }
  return detail::finish_split(std::move(s), "svae", seed);
}

/// A MeLU scenario (Lee et al., KDD 2019): items released up to `last_existing_year` are existing,
/// later ones new; a random `existing_user_fraction` of the users are existing. The warm partition
/// (existing users x existing items) gives the meta-training tasks; the scenario's partition
/// (warm, new users x existing items, existing users x new items, new users x new items) gives the
/// evaluation tasks. A task is one user with `min_rows..max_rows` ratings in the partition;
/// `query` random ratings are its query set, the rest its support set.
///
/// Rows: for the cold scenarios, `split.train` is the whole warm partition and `split.test` the
/// whole scenario partition (the other partitions are not kept). For `warm`, `split.test` is the
/// query rows of the warm tasks and `split.train` the rest of the warm partition; as in MeLU's
/// code, the meta-training tasks are the warm tasks themselves, so they read the rows of
/// `split.test`: the warm scenario measures fit to seen users and items, not generalisation.
/// @throws std::invalid_argument when the data set has no item years or the options are invalid.
[[nodiscard]] inline ProtocolSplit melu_split(const Dataset& ds, std::uint64_t seed,
                                              MeluScenario scenario,
                                              const MeluOptions& options = {}) {
  if (options.query == 0 || options.min_rows <= options.query || options.max_rows < options.min_rows)
    throw std::invalid_argument(
        "melu_split: invalid options (query " + std::to_string(options.query) + ", rows " +
        std::to_string(options.min_rows) + ".." + std::to_string(options.max_rows) +
        "); use query >= 1 and query < min_rows <= max_rows");
  const auto rows = all_rows(ds);
  auto part = cold_start_partition(ds, rows, 1.0 - options.existing_user_fraction,
                                   options.last_existing_year, seed);
  const TaskOptions task_options{.group = TaskGroup::user,
                                 .mode = SupportMode::all_but_query,
                                 .support = 0,
                                 .query = options.query,
                                 .min_rows = options.min_rows,
                                 .max_rows = options.max_rows,
                                 .meta_batch = 1};
  static constexpr std::array<std::string_view, 4> names = {
      "melu-warm", "melu-user-cold", "melu-item-cold", "melu-user-item-cold"};
  ProtocolSplit out;
  out.train_tasks =
      make_tasks(ds, part.warm, task_options, derive_seed(seed, detail::tag_melu_tasks, 0));
  std::vector<RowIndex>* target = nullptr;
  switch (scenario) {
    case MeluScenario::warm: target = &part.warm; break;
    case MeluScenario::user_cold: target = &part.user_cold; break;
    case MeluScenario::item_cold: target = &part.item_cold; break;
    case MeluScenario::user_item_cold: target = &part.user_item_cold; break;
  }
  Split& s = out.split;
  if (scenario == MeluScenario::warm) {
    out.test_tasks = out.train_tasks;
    std::vector<std::uint8_t> in_query(ds.num_ratings(), 0);
    for (const Task& t : out.test_tasks)
      for (const RowIndex r : t.query) in_query[r] = 1, s.test.push_back(r);
    for (const RowIndex r : part.warm)
      if (!in_query[r]) s.train.push_back(r);
  } else {
    const auto k = static_cast<std::uint64_t>(scenario);
    out.test_tasks =
        make_tasks(ds, *target, task_options, derive_seed(seed, detail::tag_melu_tasks, k));
    s.train = std::move(part.warm);
    s.test = std::move(*target);
  }
  s.warm_users = std::move(part.warm_users);
  s.cold_users = std::move(part.cold_users);
  s.warm_items = std::move(part.warm_items);
  s.cold_items = std::move(part.cold_items);
  s = detail::finish_split(std::move(s), std::string(names[static_cast<std::size_t>(scenario)]),
                           seed);
  return out;
}

namespace detail {

struct ProtocolEntry {
  ProtocolInfo info;
  ProtocolSplit (*make)(const Dataset&, std::uint64_t);
};

inline constexpr std::string_view metarec_source =
    "the original MetaRec study (MF / MLP / autoencoder tables), as specified for metarec";

inline const std::array<ProtocolEntry, 10>& protocol_registry() {
  static const std::array<ProtocolEntry, 10> registry = {{
      {{"seed-mf", "global random 75/25 over ratings", "rating", "MSE", metarec_source},
       [](const Dataset& ds, std::uint64_t seed) { return ProtocolSplit{seed_mf_split(ds, seed), {}, {}}; }},
      {{"seed-mlp", "global random 80/10/10 over ratings", "rating > 3 (0/1)", "global AUC",
        metarec_source},
       [](const Dataset& ds, std::uint64_t seed) { return ProtocolSplit{seed_mlp_split(ds, seed), {}, {}}; }},
      {{"seed-ae", "per-user random 80/20", "every rating is a positive",
        "Precision/Recall/NDCG@100, training items masked", metarec_source},
       [](const Dataset& ds, std::uint64_t seed) { return ProtocolSplit{seed_ae_split(ds, seed), {}, {}}; }},
      {{"ml1m-90-10", "global random 90/10 over ratings", "rating", "RMSE",
        "common ML-1M rating-prediction setting"},
       [](const Dataset& ds, std::uint64_t seed) { return ProtocolSplit{ml1m_90_10_split(ds, seed), {}, {}}; }},
      {{"recbole", "ratings >= 3, 10-core, per-user random 8:1:1 (RecBole RO/RS, group_by user)",
        "every kept rating is a positive", "full ranking, Recall/MRR/NDCG/Hit/Precision@10",
        "RecBole docs: evaluation_settings (eval_args) and data_settings; dataset.py _calcu_split_ids"},
       [](const Dataset& ds, std::uint64_t seed) { return ProtocolSplit{recbole_split(ds, seed), {}, {}}; }},
      {{"svae", "ratings > 3.5; 10% validation and 10% test users, their histories split in time 80/20 "
        "(the first part folded in, never trained on)",
        "every kept rating is a positive", "full ranking, Precision/Recall/NDCG@100 (and @10)",
        "Sachdeva et al., WSDM 2019 (noveens/svae_cf), after Liang et al.'s Mult-VAE preprocessing"},
       [](const Dataset& ds, std::uint64_t seed) { return ProtocolSplit{svae_split(ds, seed), {}, {}}; }},
      {{"melu-warm", "existing users x existing items (<= 1997); tasks 13..100 ratings, 10 query",
        "rating", "MAE, nDCG@3 on query sets", "Lee et al., KDD 2019; hoyeoplee/MeLU"},
       [](const Dataset& ds, std::uint64_t seed) { return melu_split(ds, seed, MeluScenario::warm); }},
      {{"melu-user-cold", "train: warm partition; test: new users x existing items",
        "rating", "MAE, nDCG@3 on query sets", "Lee et al., KDD 2019; hoyeoplee/MeLU"},
       [](const Dataset& ds, std::uint64_t seed) { return melu_split(ds, seed, MeluScenario::user_cold); }},
      {{"melu-item-cold", "train: warm partition; test: existing users x new items (> 1997)",
        "rating", "MAE, nDCG@3 on query sets", "Lee et al., KDD 2019; hoyeoplee/MeLU"},
       [](const Dataset& ds, std::uint64_t seed) { return melu_split(ds, seed, MeluScenario::item_cold); }},
      {{"melu-user-item-cold", "train: warm partition; test: new users x new items", "rating",
        "MAE, nDCG@3 on query sets", "Lee et al., KDD 2019; hoyeoplee/MeLU"},
       [](const Dataset& ds, std::uint64_t seed) {
         return melu_split(ds, seed, MeluScenario::user_item_cold);
       }},
  }};
  return registry;
}

inline const ProtocolEntry& find_protocol(std::string_view name, const char* caller) {
  for (const auto& e : protocol_registry())
    if (e.info.name == name) return e;
  std::string known;
  for (const auto& e : protocol_registry()) known += (known.empty() ? "" : ", ") + std::string(e.info.name);
  throw std::invalid_argument(std::string(caller) + ": unknown protocol '" + std::string(name) +
                              "'; known protocols: " + known);
}

}  // namespace detail

/// Names of all presets, in registry order.
[[nodiscard]] inline std::vector<std::string_view> protocol_names() {
  std::vector<std::string_view> names;
  for (const auto& e : detail::protocol_registry()) names.push_back(e.info.name);
  return names;
}

/// Description of a preset.
/// @throws std::invalid_argument naming the known presets when `name` is unknown.
[[nodiscard]] inline const ProtocolInfo& protocol_info(std::string_view name) {
  return detail::find_protocol(name, "protocol_info").info;
}

/// Runs a preset by name.
/// @throws std::invalid_argument when `name` is unknown, or when the data set lacks what the
/// preset needs (item years for the MeLU presets).
[[nodiscard]] inline ProtocolSplit make_protocol_split(std::string_view name, const Dataset& ds,
                                                       std::uint64_t seed) {
  return detail::find_protocol(name, "make_protocol_split").make(ds, seed);
}

}  // namespace metarec
