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
// Every model runs with its registry recipe (registry/mlp.hpp), which `metarec train` uses too:
// Adam, lr 0.001, batch 1024, no weight decay, patience 3, the default embedding width, except
// GMF, whose width is 128 (the width that took it past 0.82 in a small sweep, see
// docs/benchmarks.md; --dims model=K overrides). NeuMF on recbole trains through the registry as
// well (sampled negatives, `NegativeSampledRatings`; full ranking by `report::ranking_metrics`).
//
// Exits 0 with a message when the data is absent. Single-threaded (Eigen's GEMM threads off) and
// deterministic: the same seed gives the same figures.

#include "bench_common.hpp"

#include <metarec/data/movielens.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/optim/adam.hpp>
#include <metarec/registry/command_line.hpp>
#include <metarec/registry/mlp.hpp>
#include <metarec/train/trainer.hpp>

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
using namespace metarec::registry;

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
    const std::string dir = bench::data_dir(args, "--data", "ml-1m");
    if (bench::ml1m_missing(dir, "bench_mlp")) return 0;
    const std::string out_path = args.get_or("--out", "build/bench_mlp.csv");
    const std::string md_path = args.get_or("--md", "build/bench_mlp.md");
    const std::vector<std::string> models =
        args.words("--models", {"wide-deep", "deepfm", "xdeepfm", "nfm", "ncf-gmf", "ncf-mlp", "neumf"});
    const std::vector<ModelEntry> entries = mlp_models();
    auto entry_of = [&](const std::string& m) -> const ModelEntry& {
      for (const auto& e : entries)
        if (e.name == m && e.name != "melu") return e;
      throw UsageError("--models: '" + m + "' is not a BCE model of the MLP family");
    };
    for (const auto& m : models) (void)entry_of(m);
    const std::uint64_t seed = args.number<std::uint64_t>("--seed", 42);
    std::map<std::string, std::string> dims;  // --dims model=K overrides the recipe's width
    for (const auto& w : args.words("--dims", {})) {
      const auto eq = w.find('=');
      if (eq == std::string::npos) throw UsageError("--dims: expected model=K, got '" + w + "'");
      dims[w.substr(0, eq)] = w.substr(eq + 1);
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

    std::map<std::string, report::TrainReport> ids;
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
        const ModelEntry& e = entry_of(m);
        Settings user;
        if (const auto v = args.get("--epochs")) user.set("epochs", *v);
        if (const auto v = args.get("--patience")) user.set("patience", *v);
        if (dims.count(m)) user.set("dims", dims.at(m));
        if (side) user.set("side-features", "1");
        const Settings c = resolve_settings(e, "seed-mlp", user);
        const report::TrainReport r = e.train(TrainRequest{e.name, ds, ps, "seed-mlp", c, seed});
        if (!side) ids[m] = r;
        const double orig = original_auc().count(m) ? original_auc().at(m) : std::nan("");
        const double per_epoch = r.cpu_seconds / std::max(1, r.epochs_run);
        const double valid_auc = r.part("valid").get("auc"), test_auc = r.part("test").get("auc");
        const bool non_default_dims = e.recipe("seed-mlp") && e.recipe("seed-mlp")->settings.has("dims");
        std::string row = "| " + m + (dims.count(m) || non_default_dims ? " (k=" + c.text("dims") + ")" : "") +
                          " | " + fmt(valid_auc) + " | " + fmt(test_auc) + " | " + fmt(orig) + " | ";
        if (side) {
          const auto it = ids.find(m);
          const double base = it != ids.end() ? it->second.part("test").get("auc") : std::nan("");
          row += it != ids.end() ? (test_auc >= base ? "+" : "") + fmt(test_auc - base) + " | " : "n/a | ";
        }
        row += std::to_string(r.best_epoch + 1) + " / " + std::to_string(r.epochs_run) + " | " + fmt(r.seconds, 1) +
               " | " + fmt(r.cpu_seconds, 1) + " | " + fmt(per_epoch, 2) + " |\n";
        std::printf("%s", row.c_str());
        std::fflush(stdout);
        md << row;
        csv << "seed-mlp," << m << ',' << (side ? 1 : 0) << ',' << valid_auc << ',' << test_auc << ','
            << orig << ',' << r.best_epoch + 1 << ',' << r.epochs_run << ',' << r.seconds << ',' << r.cpu_seconds
            << ',' << per_epoch << ',' << r.parameters << ',' << c.text("dims") << '\n';
      }
      std::printf("\n");
      md << '\n';
    };
    if (!args.has("--skip-ids")) run_table(false);
    if (!args.has("--skip-side")) run_table(true);

    if (!args.has("--skip-recbole")) {
      const ModelEntry& e = entry_of("neumf");
      Settings user;
      if (const auto v = args.get("--recbole-epochs")) user.set("epochs", *v);
      if (const auto v = args.get("--negatives")) user.set("negatives", *v);
      const Settings c = resolve_settings(e, "recbole", user);
      const ProtocolSplit rb = make_protocol_split("recbole", ds, seed);
      TrainRequest req{e.name, ds, rb, "recbole", c, seed};
      req.top.ks = {10};
      req.top.threads = 1;
      const report::TrainReport r = e.train(req);
      const auto& valid = r.part("valid");
      const auto& test = r.part("test");
      std::string t = "NeuMF on recbole (" + std::to_string(rb.split.train.size()) + " training positives, " +
                      c.text("negatives") + " sampled negatives each, redrawn per epoch; " + c.text("epochs") +
                      " epochs; full ranking, " + std::to_string(static_cast<long long>(test.get("users"))) +
                      " test users):\n\n| model | valid Recall@10 | valid NDCG@10 | test Recall@10 | test NDCG@10 | "
                      "train s (wall) | train s (CPU) |\n|---|---|---|---|---|---|---|\n| neumf | " +
                      fmt(valid.get("recall@10")) + " | " + fmt(valid.get("ndcg@10")) + " | " +
                      fmt(test.get("recall@10")) + " | " + fmt(test.get("ndcg@10")) + " | " + fmt(r.seconds, 1) +
                      " | " + fmt(r.cpu_seconds, 1) + " |\n";
      std::printf("%s", t.c_str());
      md << t;
      csv << "recbole,neumf,0,recall@10=" << test.get("recall@10") << ",ndcg@10=" << test.get("ndcg@10") << ",,,"
          << r.epochs_run << ',' << r.seconds << ',' << r.cpu_seconds << ',' << r.cpu_seconds / std::max(1, r.epochs_run)
          << ",," << c.text("dims") << "\n";
    }
    metarec::detail::write_file_atomically(out_path, csv.str(), "bench_mlp");
    metarec::detail::write_file_atomically(md_path, md.str(), "bench_mlp");
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
