// MLP-family benchmark on ML-1M:
//  1. the original study's MLP table on `seed-mlp` (global random 80/10/10, label rating > 3),
//     ids only: validation AUC and test AUC, the epoch chosen on validation AUC (early stopping,
//     best epoch restored), beside the original's test AUC; training seconds (wall and CPU) and
//     CPU seconds per epoch;
//  2. the same with the ML-1M side features (gender, age, occupation, zip prefix; genres, year),
//     and the difference;
//  3. NeuMF on `recbole` (ratings >= 3, 10-core, per-user 8:1:1) trained on implicit feedback with
//     sampled negatives, Recall@10 and NDCG@10 by full ranking (training items masked; for the
//     test part the validation items too).
//
//   bench_mlp [--data DIR] [--out build/bench_mlp.csv] [--md build/bench_mlp.md]
//             [--models wide-deep,deepfm,...] [--epochs N] [--seed S] [--skip-side]
//             [--skip-recbole] [--recbole-epochs N] [--negatives N] [--dims model=K,...]
//             [--epoch-timing N]
//
// --epoch-timing N: only time N training epochs of DeepFM (ids, defaults) over the seed-mlp
// training split with `fit` and no validation, and print the CPU seconds of each epoch.
//
// Every model uses the `metarec train` defaults (Adam, lr 0.001, batch 1024, no weight decay,
// patience 3) and its default embedding width, except GMF, whose width is 128 by default
// (--dims ncf-gmf=128; the width that took it past 0.82 in a small sweep, see docs/benchmarks.md).
//
// Exits 0 with a message when the data is absent. Single-threaded (Eigen's GEMM threads off) and
// deterministic: the same seed gives the same figures.

#include "../examples/cli/train.hpp"
#include "bench_common.hpp"

#include <metarec/metrics/evaluation.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

namespace {

using metarec::bench::compiler;
using metarec::bench::cpu_model;
using metarec::bench::process_cpu_seconds;

using namespace metarec;
using namespace metarec::cli;

// Test AUC of the original study's MLP table (seed-mlp, ids only, ML-1M).
const std::map<std::string, double>& original_auc() {
  static const std::map<std::string, double> m{{"wide-deep", 0.7991}, {"deepfm", 0.7915},
                                               {"xdeepfm", 0.7429},   {"nfm", 0.7589},
                                               {"ncf-gmf", 0.7668},   {"ncf-mlp", 0.7668},
                                               {"neumf", 0.7668}};
  return m;
}

std::string fmt(double x, int prec = 4) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, x);
  return buf;
}

// A data set with the same users, items and side features as `ds` whose rows are the given
// (user, item, rating) triples: the training set with sampled negatives, or the pairs to score.
Dataset same_entities(const Dataset& ds, std::vector<std::uint32_t> user, std::vector<std::uint32_t> item,
                      std::vector<float> rating) {
  DatasetParts p;
  p.name = ds.name();
  p.source = ds.name();
  p.user = std::move(user);
  p.item = std::move(item);
  p.rating = std::move(rating);
  p.users = ds.user_ids();
  p.items = ds.item_ids();
  p.user_features = ds.user_features();
  p.item_features = ds.item_features();
  p.scale = ds.scale();
  return Dataset(std::move(p));
}

// Positives (the training rows, rating 5) and, per positive, `negatives` items the user has not
// interacted with in training, drawn uniformly without repetition per user (rating 1), as NCF's
// training; redrawn every epoch. Labels: rating > 3.
Dataset with_negatives(const Dataset& ds, std::span<const RowIndex> train, int negatives, std::uint64_t seed) {
  const std::uint32_t nu = ds.num_users(), ni = ds.num_items();
  std::vector<std::vector<std::uint32_t>> items(nu);
  for (const RowIndex r : train) items[ds.user(r)].push_back(ds.item(r));
  std::vector<std::uint32_t> user, item;
  std::vector<float> rating;
  const std::size_t n = train.size() * static_cast<std::size_t>(1 + negatives);
  user.reserve(n);
  item.reserve(n);
  rating.reserve(n);
  std::vector<std::uint8_t> used(ni, 0);
  for (std::uint32_t u = 0; u < nu; ++u) {
    if (items[u].empty()) continue;
    Rng rng(derive_seed(seed, u));
    for (const auto i : items[u]) used[i] = 1;
    std::size_t free = ni - items[u].size();
    for (const auto i : items[u]) {
      user.push_back(u);
      item.push_back(i);
      rating.push_back(5.0f);
      for (int k = 0; k < negatives && free > 0; ++k) {
        std::uint32_t j;
        do j = static_cast<std::uint32_t>(rng.below(ni));
        while (used[j]);
        used[j] = 2;
        --free;
        user.push_back(u);
        item.push_back(j);
        rating.push_back(1.0f);
      }
    }
    for (std::uint32_t k = static_cast<std::uint32_t>(user.size()); k-- > 0 && user[k] == u;) used[item[k]] = 0;
  }
  return same_entities(ds, std::move(user), std::move(item), std::move(rating));
}

// Predicted probabilities of every (user, item) pair: users × items.
template <class M>
Eigen::MatrixXf score_all(const M& model, const Vector<float>& theta, const Dataset& ds) {
  const std::uint32_t nu = ds.num_users(), ni = ds.num_items();
  Eigen::MatrixXf scores(nu, ni);
  constexpr std::uint32_t chunk_users = 256;
  Vector<float> pred(8192);
  for (std::uint32_t u0 = 0; u0 < nu; u0 += chunk_users) {
    const std::uint32_t u1 = std::min(nu, u0 + chunk_users);
    std::vector<std::uint32_t> user, item;
    for (std::uint32_t u = u0; u < u1; ++u)
      for (std::uint32_t i = 0; i < ni; ++i) {
        user.push_back(u);
        item.push_back(i);
      }
    std::vector<float> rating(user.size(), 0.0f);
    const Dataset pairs = same_entities(ds, user, item, std::move(rating));
    std::vector<RowIndex> rows(pairs.num_ratings());
    std::iota(rows.begin(), rows.end(), RowIndex{0});
    for (std::size_t s = 0; s < rows.size(); s += 8192) {
      const std::size_t len = std::min<std::size_t>(8192, rows.size() - s);
      const RatingBatch b{&pairs, std::span<const RowIndex>(rows).subspan(s, len), 0};
      auto head = pred.head(static_cast<Eigen::Index>(len));
      model.predict(theta, b, head);
      for (std::size_t k = 0; k < len; ++k) scores(user[s + k], item[s + k]) = head[static_cast<Eigen::Index>(k)];
    }
  }
  return scores;
}

struct RecboleResult {
  double valid_recall = 0, valid_ndcg = 0, test_recall = 0, test_ndcg = 0;
  double train_cpu = 0, train_wall = 0;
  int epochs = 0;
  std::size_t train_rows = 0, users = 0;
};

RecboleResult neumf_recbole(const Dataset& ds, std::uint64_t seed, int epochs, int negatives) {
  const ProtocolSplit ps = make_protocol_split("recbole", ds, seed);
  const Split& sp = ps.split;
  const Ncf<float> model(ds, NcfOptions{.variant = NcfVariant::neumf});
  Vector<float> theta(model.num_parameters());
  Rng rng(derive_seed(seed, 0x494E4954u));
  model.initialize(theta, rng);
  Adam<float> opt{AdamOptions{.lr = 1e-3}};
  opt.reset(theta.size());
  SparseGradient<float> grad(theta.size());
  constexpr std::size_t batch = 1024;
  grad.reserve(8 * batch);
  RecboleResult res;
  res.train_rows = sp.train.size();
  const double c0 = process_cpu_seconds();
  const auto w0 = std::chrono::steady_clock::now();
  for (int e = 0; e < epochs; ++e) {
    const Dataset t = with_negatives(ds, sp.train, negatives, derive_seed(seed, 0x4E4547u, static_cast<std::uint64_t>(e)));
    std::vector<RowIndex> order(t.num_ratings());
    std::iota(order.begin(), order.end(), RowIndex{0});
    Rng shuffle(derive_seed(seed, static_cast<std::uint64_t>(e)));
    shuffle.shuffle(std::span<RowIndex>(order));
    double loss = 0;
    for (std::size_t s = 0, b = 0; s < order.size(); s += batch, ++b) {
      const std::size_t len = std::min(batch, order.size() - s);
      const RatingBatch rb{&t, std::span<const RowIndex>(order).subspan(s, len),
                           derive_seed(seed, static_cast<std::uint64_t>(e), b)};
      grad.clear();
      loss += static_cast<double>(model.loss_and_gradient(theta, rb, grad)) * static_cast<double>(len);
      opt.step(theta, grad);
    }
    std::fprintf(stderr, "  neumf/recbole epoch %d: train loss %.4f (%zu rows)\n", e, loss / static_cast<double>(order.size()),
                 order.size());
  }
  res.train_cpu = process_cpu_seconds() - c0;
  res.train_wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  res.epochs = epochs;
  const Eigen::MatrixXf scores = score_all(model, theta, ds);
  const metrics::FullRankingOptions fo{.ks = {10},
                                       .metrics = {metrics::RankingMetric::recall, metrics::RankingMetric::ndcg},
                                       .min_relevant_rating = std::nullopt,
                                       .item_coverage = false,
                                       .num_threads = 1};
  const auto valid = metrics::evaluate_full_ranking(ds, sp.train, sp.valid, scores, fo);
  std::vector<RowIndex> seen(sp.train.begin(), sp.train.end());
  seen.insert(seen.end(), sp.valid.begin(), sp.valid.end());
  const auto test = metrics::evaluate_full_ranking(ds, seen, sp.test, scores, fo);
  res.valid_recall = valid.mean(0, 0);
  res.valid_ndcg = valid.mean(1, 0);
  res.test_recall = test.mean(0, 0);
  res.test_ndcg = test.mean(1, 0);
  res.users = test.users.size();
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Eigen::setNbThreads(1);
    const std::vector<std::string> argv_s(argv + 1, argv + argc);
    const Args args(argv_s,
                    {"--data", "--out", "--md", "--models", "--epochs", "--seed", "--recbole-epochs",
                     "--negatives", "--patience", "--dims", "--epoch-timing"},
                    {"--skip-side", "--skip-recbole", "--skip-ids"});
    if (args.has("--help")) {
      std::printf("usage: bench_mlp [--data DIR] [--out FILE.csv] [--md FILE.md] [--models a,b] [--epochs N] "
                  "[--patience N] [--seed S] [--skip-ids] [--skip-side] [--skip-recbole] [--recbole-epochs N] "
                  "[--negatives N]\n");
      return 0;
    }
    const std::string dir = args.get_or("--data", std::string(METAREC_SOURCE_DIR) + "/../shared/data/ml-1m");
    if (!std::filesystem::exists(std::filesystem::path(dir) / "ratings.dat")) {
      std::printf("bench_mlp: ML-1M not found at %s (pass --data DIR); nothing to do\n", dir.c_str());
      return 0;
    }
    const std::string out_path = args.get_or("--out", "build/bench_mlp.csv");
    const std::string md_path = args.get_or("--md", "build/bench_mlp.md");
    const std::vector<std::string> models =
        args.words("--models", {"wide-deep", "deepfm", "xdeepfm", "nfm", "ncf-gmf", "ncf-mlp", "neumf"});
    for (const auto& m : models)
      if (!is_mlp_model(m) || m == "melu") throw UsageError("--models: '" + m + "' is not a BCE model of the MLP family");
    const std::uint64_t seed = args.number<std::uint64_t>("--seed", 42);
    std::map<std::string, int> dims;
    for (const auto& w : args.words("--dims", {"ncf-gmf=128"})) {
      const auto eq = w.find('=');
      if (eq == std::string::npos) throw UsageError("--dims: expected model=K, got '" + w + "'");
      dims[w.substr(0, eq)] = std::stoi(w.substr(eq + 1));
    }
    const Dataset ds = load_movielens(dir);
    const ProtocolSplit ps = make_protocol_split("seed-mlp", ds, seed);

    if (args.has("--epoch-timing")) {
      const int n = args.number<int>("--epoch-timing", 3);
      const DeepFm<float> model(ds, FieldNetworkOptions{});
      Vector<float> theta(model.num_parameters());
      Rng rng(derive_seed(seed, 0x494E4954u));
      model.initialize(theta, rng);
      Adam<float> opt{AdamOptions{.lr = 1e-3}};
      struct Timer {
        double t0 = 0;
        std::vector<double> cpu;
        void on_epoch_begin(const EpochInfo&) { t0 = process_cpu_seconds(); }
        void on_epoch_end(const EpochInfo&) { cpu.push_back(process_cpu_seconds() - t0); }
      } timer;
      const TrainResult r = fit(model, theta, opt, ds, ps.split.train,
                                {.epochs = n, .batch_size = 1024, .seed = seed}, NoValidation{}, timer);
      std::printf("machine: %s; compiler: %s\n", cpu_model().c_str(), compiler().c_str());
      std::printf("DeepFM (ids, k = 16, MLP 64-64, Adam, batch 1024), one epoch = %zu rows, no validation:\n",
                  ps.split.train.size());
      for (std::size_t e = 0; e < timer.cpu.size(); ++e)
        std::printf("epoch %zu: %.3f s CPU, %.3f s wall\n", e, timer.cpu[e], r.history[e].seconds);
      return 0;
    }
    std::ostringstream md;
    std::ostringstream csv;  // written atomically at the end
    csv << "part,model,side_features,valid_auc,test_auc,original_test_auc,best_epoch,epochs_run,"
           "train_wall_seconds,train_cpu_seconds,cpu_seconds_per_epoch,parameters,embedding_dim\n";
    const std::string header = "machine: " + cpu_model() + "; compiler: " + compiler() + "; seed " +
                               std::to_string(seed) + "; data " + dir + " (" + std::to_string(ds.num_ratings()) +
                               " ratings); seed-mlp: train " + std::to_string(ps.split.train.size()) + ", valid " +
                               std::to_string(ps.split.valid.size()) + ", test " +
                               std::to_string(ps.split.test.size()) + "\n";
    std::printf("%s\n", header.c_str());
    md << header << '\n';

    std::map<std::string, TrainReport> ids;
    auto run_table = [&](bool side) {
      const char* title = side ? "with side features" : "ids only";
      std::string t = std::string("seed-mlp, ") + title +
                      " (test AUC at the epoch of the best validation AUC):\n\n"
                      "| model | valid AUC | test AUC | original (ids) | " +
                      (side ? "Δ vs ids only | " : "") +
                      "best epoch / run | train s (wall) | train s (CPU) | CPU s / epoch |\n|---|---|---|---|" +
                      (side ? "---|" : "") + "---|---|---|---|\n";
      std::printf("%s", t.c_str());
      md << t;
      for (const auto& m : models) {
        TrainConfig c;
        c.model = m;
        c.dims = dims.count(m) ? dims.at(m) : default_mlp_dims(m);
        c.batch = 1024;
        c.optimizer = "adam";
        c.reg = 0.0;
        c.lr = 1e-3;
        c.epochs = args.number<int>("--epochs", 20);
        c.patience = args.number<int>("--patience", 3);
        c.seed = seed;
        c.progress = false;
        c.side_features = side;
        const TrainReport r = train_model(ds, ps.split, c);
        if (!side) ids[m] = r;
        const double orig = original_auc().count(m) ? original_auc().at(m) : std::nan("");
        const double per_epoch = r.cpu_seconds / std::max(1, r.epochs_run);
        std::string row = "| " + m + (dims.count(m) ? " (k=" + std::to_string(c.dims) + ")" : "") + " | " + fmt(r.valid_c.auc) + " | " + fmt(r.test_c.auc) + " | " + fmt(orig) + " | ";
        if (side) {
          const auto it = ids.find(m);
          row += it != ids.end() ? (r.test_c.auc >= it->second.test_c.auc ? "+" : "") +
                                       fmt(r.test_c.auc - it->second.test_c.auc) + " | "
                                 : "n/a | ";
        }
        row += std::to_string(r.best_epoch + 1) + " / " + std::to_string(r.epochs_run) + " | " + fmt(r.seconds, 1) +
               " | " + fmt(r.cpu_seconds, 1) + " | " + fmt(per_epoch, 2) + " |\n";
        std::printf("%s", row.c_str());
        std::fflush(stdout);
        md << row;
        csv << "seed-mlp," << m << ',' << (side ? 1 : 0) << ',' << r.valid_c.auc << ',' << r.test_c.auc << ','
            << orig << ',' << r.best_epoch + 1 << ',' << r.epochs_run << ',' << r.seconds << ',' << r.cpu_seconds
            << ',' << per_epoch << ',' << r.parameters << ',' << c.dims << '\n';
      }
      std::printf("\n");
      md << '\n';
    };
    if (!args.has("--skip-ids")) run_table(false);
    if (!args.has("--skip-side")) run_table(true);

    if (!args.has("--skip-recbole")) {
      const int epochs = args.number<int>("--recbole-epochs", 10);
      const int negatives = args.number<int>("--negatives", 4);
      const RecboleResult r = neumf_recbole(ds, seed, epochs, negatives);
      std::string t = "NeuMF on recbole (" + std::to_string(r.train_rows) + " training positives, " +
                      std::to_string(negatives) + " sampled negatives each, redrawn per epoch; " +
                      std::to_string(epochs) + " epochs; full ranking, " + std::to_string(r.users) +
                      " test users):\n\n| model | valid Recall@10 | valid NDCG@10 | test Recall@10 | test NDCG@10 | "
                      "train s (wall) | train s (CPU) |\n|---|---|---|---|---|---|---|\n| neumf | " +
                      fmt(r.valid_recall) + " | " + fmt(r.valid_ndcg) + " | " + fmt(r.test_recall) + " | " +
                      fmt(r.test_ndcg) + " | " + fmt(r.train_wall, 1) + " | " + fmt(r.train_cpu, 1) + " |\n";
      std::printf("%s", t.c_str());
      md << t;
      csv << "recbole,neumf,0,recall@10=" << r.test_recall << ",ndcg@10=" << r.test_ndcg << ",,," << r.epochs
          << ',' << r.train_wall << ',' << r.train_cpu << ',' << r.train_cpu / std::max(1, r.epochs) << ",,32\n";
    }
    metarec::detail::write_file_atomically(out_path, csv.str());
    metarec::detail::write_file_atomically(md_path, md.str());
    std::printf("\nwrote %s and %s\n", out_path.c_str(), md_path.c_str());
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "bench_mlp: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_mlp: error: %s\n", e.what());
    return 1;
  }
}
