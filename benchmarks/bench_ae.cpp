// Autoencoder-family benchmark on ML-1M (registry/autoencoder.hpp, docs/models_ae.md):
//  1. the original study's autoencoder table, correctly evaluated (input = training ratings only;
//     top-N over all items with the user's training items removed; settings chosen on validation),
//     beside its figures and training times: AutoRec and DeepRec RMSE on ml1m-90-10, CDAE,
//     Mult-VAE, EASE P/R/NDCG@100 on seed-ae (recall capped at min(100, |test|));
//  2. the recbole protocol (ratings >= 3, 10-core, per-user 8:1:1, full ranking @10) beside
//     RecBole's published ML-1M figures;
//  3. the 90/10 RMSE table (I-AutoRec, U-AutoRec, DeepRec) beside the AutoRec paper;
//  3b. the svae protocol on ML-100K (it needs rating times, which the shared ML-1M copy lacks):
//     SVAE beside Mult-VAE, Mult-DAE and EASE, P/R/NDCG@100 and @10 of the held-out test users;
//  4. wall seconds per epoch on 1 and 2 threads, and AutoRec's epoch against the number of ratings
//     (ML-100K and ML-1M);
//  5. time to accuracy: each model's final training run again, with the test metric after every
//     epoch (a measurement; it chooses nothing), and the wall seconds until the goal is reached.
//  --select: the grids the registry's recipes were chosen from, scored on VALIDATION only (the
//     protocol's validation rows, or the held-out share of the training rows); prints the best.
//
//   bench_ae [--data DIR] [--data100k DIR] [--out FILE.csv] [--md FILE.md] [--seed S]
//            [--threads N] [--models a,b] [--skip-original] [--skip-recbole] [--skip-svae]
//            [--svae-seeds N] [--skip-timing] [--skip-trace] [--select]
//
// Every model trains through its registry entry, as `metarec train --model M --protocol P` does.
// Exits 0 with a message when the data is absent. Deterministic: the same seed gives the same
// figures on any thread count (OpenMP parallelises inside a step, in a fixed order).

#include "bench_common.hpp"

#include <metarec/data/movielens.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/registry/autoencoder.hpp>
#include <metarec/registry/command_line.hpp>
#include <metarec/registry/registry.hpp>
#include <metarec/train/trainer.hpp>

#ifdef METAREC_HAS_OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using metarec::bench::compiler;
using metarec::bench::cpu_model;

using namespace metarec;
using namespace metarec::registry;

std::string fmt(double x, int prec = 4) {
  if (std::isnan(x)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, x);
  return buf;
}

// The 1-, 5- and 15-minute load averages (the machine may be shared).
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  if (!(in >> a >> b >> c)) return "unknown";
  return fmt(a, 2) + " " + fmt(b, 2) + " " + fmt(c, 2);
}

void set_threads(int t) {
#ifdef METAREC_HAS_OPENMP
  omp_set_num_threads(t);
#endif
  Eigen::setNbThreads(t);
}

// The original study's autoencoder table (khanhnamle1994/MetaRec, ML-1M): RMSE, or
// P@100 / R@100 / NDCG@100 (SVAE: percent, TRAIN metrics), and its training time.
struct Original {
  const char* model;
  const char* protocol;
  double rmse, p100, r100, ndcg100;
  const char* time;
};
const std::vector<Original>& original_table() {
  static const std::vector<Original> t{
      {"autorec-i", "ml1m-90-10", 0.910, NAN, NAN, NAN, "35 min"},
      {"deeprec", "ml1m-90-10", 0.9310, NAN, NAN, NAN, "54 min"},
      {"cdae", "seed-ae", NAN, 0.0894, 0.4137, 0.2528, "17 min"},
      {"mult-vae", "seed-ae", NAN, 0.0886, 0.4115, 0.2508, "6.5 min"},
      {"svae", "svae", NAN, 0.0818, 0.5850, 0.3807, "6 h 37 min"},
      {"ease", "seed-ae", NAN, 0.0757, 0.4181, 0.2561, "10 min"},
  };
  return t;
}
// RecBole's published ML-1M figures (hyper-tuning pages; docs/models_ae.md): Recall@10, NDCG@10.
const std::map<std::string, std::pair<double, double>>& recbole_published() {
  static const std::map<std::string, std::pair<double, double>> m{
      {"ease", {0.2139, 0.2865}}, {"mult-vae", {0.1995, 0.2523}}, {"cdae", {0.1936, 0.2500}},
      {"mult-dae", {0.1972, 0.2425}}};
  return m;
}
// The AutoRec paper (ML-1M, 90/10): I-AutoRec 0.831, U-AutoRec 0.874.
const std::map<std::string, double>& autorec_paper() {
  static const std::map<std::string, double> m{{"autorec-i", 0.831}, {"autorec-u", 0.874}};
  return m;
}
// The goals of issue #14 used for time to accuracy: RMSE at most, or NDCG@100 at least.
const std::map<std::string, double>& goal() {
  static const std::map<std::string, double> m{{"autorec-i", 0.827}, {"autorec-u", 0.870}, {"deeprec", 0.9310},
                                               {"cdae", 0.2528}, {"mult-vae", 0.2508}, {"mult-dae", 0.2508},
                                               {"ease", 0.4737 - 0.002}};
  return m;
}

bool rating_model(const std::string& m) { return m == "autorec-i" || m == "autorec-u" || m == "deeprec"; }

struct Run {
  report::TrainReport report;
  Settings settings;
  double wall = 0;  // the whole entry.train call: selection run, retraining, evaluation
};

// "k=v k=v" of a grid point.
std::string settings_text(const Settings& s) {
  std::string text;
  for (const auto& [k, v] : s.values()) text += (text.empty() ? "" : " ") + k + "=" + v;
  return text;
}
// "best / run" epochs of a run (1-based).
std::string epochs_text(const Run& r) {
  return std::to_string(r.report.best_epoch + 1) + " / " + std::to_string(r.report.epochs_run);
}

// Calls f(model) with the registry's model for (name, request, split).
template <class F>
void with_model(const std::string& name, const TrainRequest& r, const Split& sp, F&& f) {
  using namespace metarec::registry::detail;
  if (name == "autorec-i") f(autorec_model(r, sp, RowSide::item));
  else if (name == "autorec-u") f(autorec_model(r, sp, RowSide::user));
  else if (name == "deeprec") f(deeprec_model(r, sp));
  else if (name == "cdae") f(cdae_model(r));
  else if (name == "mult-dae") f(mult_model(r, false));
  else if (name == "mult-vae") f(mult_model(r, true));
  else f(ease_model(r, sp));
}

struct TracePoint {
  int epoch;
  double wall;    // training wall seconds up to the end of this epoch (evaluation excluded)
  double metric;  // test RMSE or test NDCG@100
};

// The final training run of `run` again (same model, initialisation, batches and optimiser as
// train_whole_rows' run on all training rows), with the test metric after every epoch.
std::vector<TracePoint> trace(const std::string& name, const Dataset& ds, const ProtocolSplit& ps,
                              const std::string& protocol, const Run& run, std::uint64_t seed) {
  const TrainRequest req{name, ds, ps, protocol, run.settings, seed};
  const Split& sp = ps.split;
  const RowSide side = name == "autorec-i" ? RowSide::item : RowSide::user;
  std::vector<TracePoint> out;
  with_model(name, req, sp, [&](const auto& model) {
    using M = std::remove_cvref_t<decltype(model)>;
    Vector<float> theta(model.num_parameters());
    Rng rng(derive_seed(seed, registry::detail::tag_init));
    model.initialize(theta, rng);
    const WholeRows rows(ds, sp.train, side);
    const WholeRows fold(ds, sp.train, sp.test, side);
    auto metric = [&]() {
      if (rating_model(name)) return registry::detail::row_error_values(model, theta, fold).get("rmse");
      const report::ItemScorer<M> scorer(model, theta, ds, &rows);
      return report::ranking_metrics(ds, sp.train, sp.test, scorer, {100}, true).get("ndcg@100");
    };
    if constexpr (HasClosedFormFit<M>) {
      const auto t0 = std::chrono::steady_clock::now();
      model.fit_closed_form(VectorRef<float>(theta), rows.batch());
      out.push_back({0, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), metric()});
    } else {
      const FitPlan plan = FitPlan::from([&] {
        Settings s = run.settings;
        if (!s.has("negatives")) s.set("negatives", "0");
        return s;
      }());
      RowBatches source(rows, plan.batch, seed);
      Adam<float> opt{AdamOptions{.lr = plan.lr}};
      double wall = 0;
      struct Observer {
        std::function<void(const EpochInfo&)> f;
        void on_epoch_end(const EpochInfo& e) { f(e); }
      } obs{[&](const EpochInfo& e) {
        wall += e.seconds;
        out.push_back({e.epoch, wall, metric()});
      }};
      (void)fit(model, theta, opt, source,
                {.epochs = run.report.epochs_run, .lr_decay = plan.lr_decay}, NoValidation{}, obs);
    }
  });
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> argv_s(argv + 1, argv + argc);
    const Args args(argv_s, {"--data", "--data100k", "--out", "--md", "--seed", "--threads", "--models", "--svae-seeds"},
                    {"--skip-original", "--skip-recbole", "--skip-svae", "--skip-timing", "--skip-trace", "--select"});
    if (args.has("--help")) {
      std::printf("usage: bench_ae [--data DIR] [--data100k DIR] [--out FILE.csv] [--md FILE.md] [--seed S] "
                  "[--threads N] [--models a,b] [--skip-original] [--skip-recbole] [--skip-svae] [--svae-seeds N] [--skip-timing] "
                  "[--skip-trace] [--select]\n");
      return 0;
    }
    const std::string dir = bench::data_dir(args, "--data", "ml-1m");
    const std::string dir100k = bench::data_dir(args, "--data100k", "ml-100k");
    if (bench::ml1m_missing(dir, "bench_ae")) return 0;
    const std::string out_path = args.get_or("--out", "build/bench_ae.csv");
    const std::string md_path = args.get_or("--md", "build/bench_ae.md");
    const std::uint64_t seed = args.number<std::uint64_t>("--seed", 42);
    const int threads = args.number<int>("--threads", 2);
    const std::vector<std::string> all{"autorec-i", "autorec-u", "deeprec", "cdae", "mult-dae", "mult-vae", "svae", "ease"};
    const std::vector<std::string> models = args.words("--models", all);
    const Registry registry(autoencoder_models());
    for (const auto& m : models) (void)registry.find(m);
    auto wanted = [&](const std::string& m) { return std::find(models.begin(), models.end(), m) != models.end(); };
    set_threads(threads);

    const Dataset ds = load_movielens(dir, {.load_side_features = false});
    std::map<std::string, ProtocolSplit> splits;
    auto split_of = [&](const std::string& p) -> const ProtocolSplit& {
      auto it = splits.find(p);
      if (it == splits.end()) it = splits.emplace(p, make_protocol_split(p, ds, seed)).first;
      return it->second;
    };

    std::ostringstream md, csv;
    csv << "table,model,protocol,threads,metric,value,reference,epochs_run,best_epoch,train_wall_s,train_cpu_s,total_wall_s\n";
    const std::string header = "machine: " + cpu_model() + "; compiler: " + compiler() + "; seed " +
                               std::to_string(seed) + "; threads " + std::to_string(threads) + "; data " + dir + " (" +
                               std::to_string(ds.num_ratings()) + " ratings, " + std::to_string(ds.num_users()) +
                               " users, " + std::to_string(ds.num_items()) + " items); load average at start " +
                               load_average() + " (" + std::to_string(std::thread::hardware_concurrency()) +
                               " hardware threads)\n";
    std::printf("%s\n", header.c_str());
    md << header << '\n';
    auto emit = [&](const std::string& text) {
      std::printf("%s", text.c_str());
      std::fflush(stdout);
      md << text;
    };

    // Selection splits: the protocol's training rows with a validation share held out as the
    // driver holds it out (per user for top-N, 5% of the ratings for ml1m-90-10), test EMPTIED.
    std::map<std::string, ProtocolSplit> selection_splits;
    auto selection_split_of = [&](const std::string& p) -> const ProtocolSplit& {
      auto it = selection_splits.find(p);
      if (it != selection_splits.end()) return it->second;
      ProtocolSplit s = split_of(p);
      if (s.split.valid.empty()) {
        std::vector<RowIndex> train = s.split.train;
        std::sort(train.begin(), train.end());
        if (p == "seed-ae") {
          const Split part = per_user_random_split(ds, train, {.train = 0.9, .valid = 0.1, .test = 0.0}, seed);
          s.split.train = part.train;
          s.split.valid = part.valid;
        } else {
          s.split = registry::detail::carve_validation(ds, s.split, 0.05, seed);
        }
      }
      s.split.test.clear();
      return selection_splits.emplace(p, std::move(s)).first->second;
    };

    std::map<std::pair<std::string, std::string>, Run> runs;
    auto train = [&](const std::string& name, const std::string& protocol, const ProtocolSplit& ps,
                     const Settings& user) {
      const ModelEntry& e = registry.find(name);
      Run r;
      r.settings = resolve_settings(e, protocol, user);
      TrainRequest req{e.name, ds, ps, protocol, r.settings, seed};
      req.top.ks = protocol == "seed-ae" ? std::vector<std::size_t>{100} : std::vector<std::size_t>{10};
      req.top.capped_recall = protocol == "seed-ae";
      const auto t0 = std::chrono::steady_clock::now();
      r.report = e.train(req);
      r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      return r;
    };
    auto run = [&](const std::string& name, const std::string& protocol) -> const Run& {
      const auto key = std::make_pair(name, protocol);
      if (!runs.count(key)) runs[key] = train(name, protocol, split_of(protocol), {});
      return runs.at(key);
    };
    auto csv_row = [&](const std::string& table, const std::string& model, const std::string& protocol,
                       const std::string& metric, double value, double reference, const Run& r) {
      csv << table << ',' << model << ',' << protocol << ',' << threads << ',' << metric << ',' << value << ','
          << reference << ',' << r.report.epochs_run << ',' << r.report.best_epoch + 1 << ',' << r.report.seconds
          << ',' << r.report.cpu_seconds << ',' << r.wall << '\n';
    };

    // The svae protocol on ML-100K (times needed): its held-out users' histories split in time.
    std::optional<Dataset> ml100k;
    const bool have100k = std::filesystem::exists(std::filesystem::path(dir100k) / "u.data");
    if (have100k) ml100k.emplace(load_movielens(dir100k, {.load_side_features = false}));
    std::map<std::uint64_t, ProtocolSplit> svae_splits;  // per seed
    auto svae_split_of = [&](std::uint64_t s) -> const ProtocolSplit& {
      auto it = svae_splits.find(s);
      if (it == svae_splits.end()) it = svae_splits.emplace(s, make_protocol_split("svae", *ml100k, s)).first;
      return it->second;
    };
    auto svae_run = [&](const std::string& name, const Settings& user, bool selection, std::uint64_t run_seed) {
      ProtocolSplit ps = svae_split_of(run_seed);
      if (selection) ps.split.test.clear();
      const ModelEntry& e = registry.find(name);
      Run r;
      r.settings = resolve_settings(e, "svae", user);
      TrainRequest req{e.name, *ml100k, ps, "svae", r.settings, run_seed};
      req.top.ks = {10, 100};  // as `metarec train`: early stopping on validation NDCG@10
      const auto t0 = std::chrono::steady_clock::now();
      r.report = e.train(req);
      r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      return r;
    };
    if (args.has("--select")) {
      // The grids of the recipes, scored on validation only.
      struct Grid {
        std::string model, protocol;
        std::vector<Settings> settings;
      };
      const std::vector<Grid> grids{
          {"autorec-i", "ml1m-90-10", {{{"reg", "100"}}, {{"reg", "200"}}, {{"reg", "300"}}}},
          {"autorec-u", "ml1m-90-10", {{{"reg", "30"}}, {{"reg", "100"}}, {{"reg", "300"}}}},
          {"deeprec", "ml1m-90-10", {{{"dropout", "0.5"}}, {{"dropout", "0.8"}}}},
          {"cdae", "seed-ae", {{{"hidden", "100"}, {"dropout", "0.2"}}, {{"hidden", "200"}, {"dropout", "0.2"}},
                               {{"hidden", "200"}, {"dropout", "0.5"}}}},
          {"mult-dae", "seed-ae", {{{"reg", "0"}}, {{"reg", "0.00004"}}}},
          {"mult-vae", "seed-ae", {{{"beta", "0.05"}}, {{"beta", "0.2"}}}},
          {"ease", "seed-ae", {{{"reg", "250"}}, {{"reg", "500"}}, {{"reg", "1000"}}, {{"reg", "2000"}}}},
          {"ease", "recbole", {{{"reg", "250"}}, {{"reg", "500"}}, {{"reg", "1000"}}, {{"reg", "2000"}}}},
          // The svae protocol on ML-100K (its validation users; NDCG@10, the metric early stopping
          // uses, as `metarec train`). Every point names each key the model's recipe sets, so a
          // recipe does not leak into the grid.
          {"svae", "svae", {{{"lr", "0.001"}}, {{"lr", "0.001"}, {"reg", "0.001"}}, {{"lr", "0.001"}, {"reg", "0"}},
                            {{"lr", "0.001"}, {"batch", "8"}}, {{"lr", "0.0005"}}, {{"lr", "0.002"}},
                            {{"lr", "0.001"}, {"beta", "0.1"}}}},
          {"mult-vae", "svae", {{{"batch", "32"}, {"lr", "0.001"}}, {{"batch", "32"}, {"lr", "0.005"}},
                                {{"batch", "100"}, {"lr", "0.001"}}, {{"batch", "100"}, {"lr", "0.005"}}}},
          {"mult-dae", "svae", {{{"batch", "32"}, {"lr", "0.001"}}, {{"batch", "32"}, {"lr", "0.005"}},
                                {{"batch", "100"}, {"lr", "0.001"}}, {{"batch", "100"}, {"lr", "0.005"}}}},
          {"ease", "svae", {{{"reg", "50"}}, {{"reg", "100"}}, {{"reg", "250"}}, {{"reg", "500"}}, {{"reg", "1000"}}}},
      };
      emit("Selection on validation data (each setting trained on the training rows with early stopping on "
           "validation rows: the protocol's (recbole), or a share held out of the training rows (10% per "
           "user on seed-ae, 5% of the ratings on ml1m-90-10; svae: its validation users, on ML-100K); the test "
           "rows are removed from these runs):\n\n"
           "| model | protocol | setting | valid metric | epochs (best / run) | wall s |\n|---|---|---|---|---|---|\n");
      for (const Grid& g : grids) {
        if (!wanted(g.model) || (g.protocol == "svae" && !have100k)) continue;
        const bool rmse = evaluation_of(g.protocol) == Evaluation::rating;
        const std::string metric = rmse ? "rmse" : g.protocol == "seed-ae" ? "ndcg@100" : "ndcg@10";
        std::string best;
        double best_value = rmse ? 1e300 : -1e300;
        for (const Settings& s : g.settings) {
          const Run r = g.protocol == "svae" ? svae_run(g.model, s, true, seed)
                                             : train(g.model, g.protocol, selection_split_of(g.protocol), s);
          const double v = r.report.part("valid").get(metric);
          const std::string text = settings_text(s);
          if (rmse ? v < best_value : v > best_value) {
            best_value = v;
            best = text;
          }
          emit("| " + g.model + " | " + g.protocol + " | " + text + " | " + metric + " " + fmt(v) + " | " +
               epochs_text(r) + " | " + fmt(r.wall, 1) + " |\n");
          csv_row("select", g.model, g.protocol, "valid_" + metric + " " + text, v, NAN, r);
        }
        emit("| " + g.model + " | " + g.protocol + " | **chosen: " + best + "** | | | |\n");
      }
      emit("\n");
    }

    if (!args.has("--skip-original")) {
      emit("The original study's autoencoder table, correctly evaluated (RMSE on ml1m-90-10; P/R/NDCG@100 on "
           "seed-ae, training items removed, recall capped at min(100, |test|)):\n\n"
           "| model | protocol | RMSE | P@100 | R@100 | NDCG@100 | original (RMSE or P/R/NDCG@100) | "
           "train s (final run) | total s (selection, retraining, evaluation) | original time |\n"
           "|---|---|---|---|---|---|---|---|---|---|\n");
      for (const Original& o : original_table()) {
        if (std::string(o.model) == "svae") {
          emit("| svae | svae | | | | | 8.18 / 58.50 / 38.07 (%, TRAIN metrics) | ML-100K: the svae table below "
               "(ML-1M here has no rating times) | | " + std::string(o.time) + " |\n");
          continue;
        }
        if (!wanted(o.model)) continue;
        const Run& r = run(o.model, o.protocol);
        const auto& t = r.report.part("test");
        if (std::isnan(o.rmse)) {
          emit("| " + std::string(o.model) + " | " + o.protocol + " | | " + fmt(t.get("precision@100")) + " | " +
               fmt(t.get("recall@100")) + " | " + fmt(t.get("ndcg@100")) + " | " + fmt(o.p100) + " / " +
               fmt(o.r100) + " / " + fmt(o.ndcg100) + " | " + fmt(r.report.seconds, 1) + " | " + fmt(r.wall, 1) +
               " | " + o.time + " |\n");
          csv_row("original", o.model, o.protocol, "precision@100", t.get("precision@100"), o.p100, r);
          csv_row("original", o.model, o.protocol, "recall@100", t.get("recall@100"), o.r100, r);
          csv_row("original", o.model, o.protocol, "ndcg@100", t.get("ndcg@100"), o.ndcg100, r);
        } else {
          emit("| " + std::string(o.model) + " | " + o.protocol + " | " + fmt(t.get("rmse")) + " | | | | " +
               fmt(o.rmse) + " | " + fmt(r.report.seconds, 1) + " | " + fmt(r.wall, 1) + " | " + o.time + " |\n");
          csv_row("original", o.model, o.protocol, "rmse", t.get("rmse"), o.rmse, r);
        }
      }
      emit("\n");
      // 90/10 RMSE table beside the AutoRec paper.
      emit("ml1m-90-10 (global random 90/10; epochs chosen on a 5% validation share of the training ratings, "
           "then retrained on all of them; the input of a test rating is its row's training ratings):\n\n"
           "| model | valid RMSE | test RMSE | AutoRec paper | epochs (chosen / run) | train s (final run) | "
           "train s (wall, all runs) | parameters |\n|---|---|---|---|---|---|---|---|\n");
      for (const std::string m : {"autorec-i", "autorec-u", "deeprec"}) {
        if (!wanted(m)) continue;
        const Run& r = run(m, "ml1m-90-10");
        const double paper = autorec_paper().count(m) ? autorec_paper().at(m) : NAN;
        emit("| " + m + " | " + fmt(r.report.part("valid").get("rmse")) + " | " +
             fmt(r.report.part("test").get("rmse")) + " | " + fmt(paper) + " | " +
             std::to_string(r.report.best_epoch + 1) + " / " + std::to_string(r.report.epochs_run) + " | " +
             fmt(r.report.seconds, 1) + " | " + fmt(r.wall, 1) + " | " + std::to_string(r.report.parameters) + " |\n");
        csv_row("ml1m-90-10", m, "ml1m-90-10", "rmse", r.report.part("test").get("rmse"), paper, r);
      }
      emit("\n");
    }

    if (!args.has("--skip-recbole")) {
      const ProtocolSplit& rb = split_of("recbole");
      emit("recbole (ratings >= 3, 10-core, per-user 8:1:1: " + std::to_string(rb.split.train.size()) + " / " +
           std::to_string(rb.split.valid.size()) + " / " + std::to_string(rb.split.test.size()) +
           " rows; early stopping on validation NDCG@10; full ranking, training and validation items removed):\n\n"
           "| model | valid NDCG@10 | test Recall@10 | test NDCG@10 | RecBole Recall@10 | RecBole NDCG@10 | "
           "epochs (best / run) | train s (wall) |\n|---|---|---|---|---|---|---|---|\n");
      for (const std::string m : {"cdae", "mult-dae", "mult-vae", "ease"}) {
        if (!wanted(m)) continue;
        const Run& r = run(m, "recbole");
        const auto& t = r.report.part("test");
        const auto pub = recbole_published().at(m);
        emit("| " + m + " | " + fmt(r.report.part("valid").get("ndcg@10")) + " | " + fmt(t.get("recall@10")) + " | " +
             fmt(t.get("ndcg@10")) + " | " + fmt(pub.first) + " | " + fmt(pub.second) + " | " +
             std::to_string(r.report.best_epoch + 1) + " / " + std::to_string(r.report.epochs_run) + " | " +
             fmt(r.wall, 1) + " |\n");
        csv_row("recbole", m, "recbole", "recall@10", t.get("recall@10"), pub.first, r);
        csv_row("recbole", m, "recbole", "ndcg@10", t.get("ndcg@10"), pub.second, r);
      }
      emit("\n");
    }

    if (!args.has("--skip-svae") && have100k) {
      const ProtocolSplit& ps = svae_split_of(seed);
      std::size_t valid_users = 0, test_users = 0;
      {
        std::vector<std::uint32_t> vu, tu;
        for (const RowIndex r : ps.split.valid) vu.push_back(ml100k->user(r));
        for (const RowIndex r : ps.split.test) tu.push_back(ml100k->user(r));
        for (auto* v : {&vu, &tu}) {
          std::sort(v->begin(), v->end());
          v->erase(std::unique(v->begin(), v->end()), v->end());
        }
        valid_users = vu.size();
        test_users = tu.size();
      }
      emit("svae protocol on ML-100K (ratings > 3.5; " + std::to_string(valid_users) + " validation and " +
           std::to_string(test_users) + " test users held out, their histories split in time 80/20, the first "
           "part folded in and never trained on; early stopping on validation NDCG@10; full ranking with the "
           "folded-in items removed). The original study's SVAE row, 8.18 / 58.50 / 38.07 %, is a TRAINING "
           "figure on ML-1M:\n\n| model | valid NDCG@10 | test P@100 | test R@100 | test NDCG@100 | test "
           "R@10 | test NDCG@10 | epochs (best / run) | train s | parameters |\n"
           "|---|---|---|---|---|---|---|---|---|---|\n");
      for (const std::string m : {"svae", "mult-vae", "mult-dae", "ease"}) {
        if (!wanted(m)) continue;
        const Run r = svae_run(m, {}, false, seed);
        const auto& t = r.report.part("test");
        emit("| " + m + " | " + fmt(r.report.part("valid").get("ndcg@10")) + " | " + fmt(t.get("precision@100")) +
             " | " + fmt(t.get("recall@100")) + " | " + fmt(t.get("ndcg@100")) + " | " + fmt(t.get("recall@10")) +
             " | " + fmt(t.get("ndcg@10")) + " | " + std::to_string(r.report.best_epoch + 1) + " / " +
             std::to_string(r.report.epochs_run) + " | " + fmt(r.report.seconds, 1) + " | " +
             std::to_string(r.report.parameters) + " |\n");
        for (const char* k : {"precision@100", "recall@100", "ndcg@100", "recall@10", "ndcg@10"})
          csv_row("svae-ml100k", m, "svae", k, t.get(k), NAN, r);
      }
      emit("\n");
      // ~93 test users a split: the same recipes on other seeds' splits (other held-out users).
      const int n_seeds = args.number<int>("--svae-seeds", 5);
      if (n_seeds > 1) {
        emit("The same recipes on " + std::to_string(n_seeds) + " splits (seeds " + std::to_string(seed) + ".." +
             std::to_string(seed + static_cast<std::uint64_t>(n_seeds) - 1) + ": other held-out users, other "
             "initialisations), test mean ± standard deviation over the splits:\n\n| model | NDCG@100 | R@100 | "
             "NDCG@10 | R@10 | train s (mean) |\n|---|---|---|---|---|---|\n");
        for (const std::string m : {"svae", "mult-vae", "mult-dae", "ease"}) {
          if (!wanted(m)) continue;
          std::map<std::string, std::vector<double>> v;
          double secs = 0;
          for (int k = 0; k < n_seeds; ++k) {
            const Run r = svae_run(m, {}, false, seed + static_cast<std::uint64_t>(k));
            for (const char* key : {"ndcg@100", "recall@100", "ndcg@10", "recall@10"}) {
              v[key].push_back(r.report.part("test").get(key));
              csv_row("svae-ml100k-seeds", m, "svae", std::string(key) + " seed " + std::to_string(seed + k),
                      r.report.part("test").get(key), NAN, r);
            }
            secs += r.report.seconds;
          }
          auto ms = [&](const std::vector<double>& x) {
            double mean = 0, var = 0;
            for (const double y : x) mean += y;
            mean /= static_cast<double>(x.size());
            for (const double y : x) var += (y - mean) * (y - mean);
            return fmt(mean) + " ± " + fmt(std::sqrt(var / static_cast<double>(x.size() - 1)));
          };
          emit("| " + m + " | " + ms(v["ndcg@100"]) + " | " + ms(v["recall@100"]) + " | " + ms(v["ndcg@10"]) + " | " +
               ms(v["recall@10"]) + " | " + fmt(secs / n_seeds, 1) + " |\n");
        }
        emit("\n");
      }
    }

    if (!args.has("--skip-timing")) {
      emit("Wall seconds per training epoch (2 epochs of each model's recipe on its main protocol's training rows, "
           "no validation; EASE: the closed form):\n\n| model | protocol | ratings | 1 thread | 2 threads |\n"
           "|---|---|---|---|---|\n");
      auto per_epoch = [&](const std::string& m, const Dataset& data, const std::string& protocol, int t) {
        set_threads(t);
        const ModelEntry& e = registry.find(m);
        Settings user;
        if (e.option("epochs")) {
          user.set("epochs", "2");
          user.set("valid-frac", "0");
        }
        const ProtocolSplit ps = make_protocol_split(protocol, data, seed);
        TrainRequest req{e.name, data, ps, protocol, resolve_settings(e, protocol, user), seed};
        req.top.ks = {100};
        const report::TrainReport r = e.train(req);
        set_threads(threads);
        return std::make_pair(r.seconds / std::max(1, r.epochs_run), ps.split.train.size());
      };
      for (const auto& m : models) {
        if (m == "svae") {  // needs times: ML-100K on its own protocol
          if (!have100k) continue;
          const auto one = per_epoch(m, *ml100k, "svae", 1), two = per_epoch(m, *ml100k, "svae", 2);
          emit("| svae (ML-100K) | svae | " + std::to_string(one.second) + " | " + fmt(one.first, 2) + " | " +
               fmt(two.first, 2) + " |\n");
          csv << "epoch_seconds,svae-ml100k,svae,1,seconds_per_epoch," << one.first << ",,,,,,\n";
          csv << "epoch_seconds,svae-ml100k,svae,2,seconds_per_epoch," << two.first << ",,,,,,\n";
          continue;
        }
        const std::string protocol = rating_model(m) ? "ml1m-90-10" : "seed-ae";
        const auto one = per_epoch(m, ds, protocol, 1), two = per_epoch(m, ds, protocol, 2);
        emit("| " + m + " | " + protocol + " | " + std::to_string(one.second) + " | " + fmt(one.first, 2) + " | " +
             fmt(two.first, 2) + " |\n");
        csv << "epoch_seconds," << m << ',' << protocol << ",1,seconds_per_epoch," << one.first << ",,,,,,\n";
        csv << "epoch_seconds," << m << ',' << protocol << ",2,seconds_per_epoch," << two.first << ",,,,,,\n";
      }
      if (wanted("autorec-i") && have100k) {
        const auto one = per_epoch("autorec-i", *ml100k, "ml1m-90-10", 1);
        const auto two = per_epoch("autorec-i", *ml100k, "ml1m-90-10", 2);
        emit("| autorec-i (ML-100K) | 90/10 | " + std::to_string(one.second) + " | " + fmt(one.first, 2) + " | " +
             fmt(two.first, 2) + " |\n");
        csv << "epoch_seconds,autorec-i-ml100k,90/10,1,seconds_per_epoch," << one.first << ",,,,,,\n";
        csv << "epoch_seconds,autorec-i-ml100k,90/10,2,seconds_per_epoch," << two.first << ",,,,,,\n";
      }
      emit("\n");
    }

    if (!args.has("--skip-trace")) {
      emit("Time to accuracy: the final training run again (same initialisation, batches and optimiser), the test "
           "metric after every epoch (RMSE, or NDCG@100 on seed-ae), training wall seconds (" +
           std::to_string(threads) + " threads) until the goal; a measurement, it chooses nothing:\n\n"
           "| model | goal | reached at epoch | wall s to goal | final metric | epochs | final train s |\n"
           "|---|---|---|---|---|---|---|\n");
      for (const auto& m : models) {
        if (m == "svae") continue;  // ML-100K, in the svae table
        const std::string protocol = rating_model(m) ? "ml1m-90-10" : "seed-ae";
        const Run& r = run(m, protocol);
        const auto points = trace(m, ds, split_of(protocol), protocol, r, seed);
        const double g = goal().at(m);
        const bool lower = rating_model(m);
        std::optional<TracePoint> hit;
        for (const auto& p : points) {
          csv << "trace," << m << ',' << protocol << ',' << threads << ",epoch " << p.epoch << ',' << p.metric << ','
              << g << ",,," << p.wall << ",,\n";
          if (!hit && (lower ? p.metric <= g : p.metric >= g)) hit = p;
        }
        const TracePoint& last = points.back();
        emit("| " + m + " | " + (lower ? "RMSE <= " : "NDCG@100 >= ") + fmt(g) + " | " +
             (hit ? std::to_string(hit->epoch + 1) : "not reached") + " | " + (hit ? fmt(hit->wall, 1) : "-") +
             " | " + fmt(last.metric) + " | " + std::to_string(points.size()) + " | " + fmt(last.wall, 1) + " |\n");
      }
      emit("\n");
    }
    emit("load average at the end: " + load_average() + "\n");
    metarec::detail::write_file_atomically(out_path, csv.str(), "bench_ae");
    metarec::detail::write_file_atomically(md_path, md.str(), "bench_ae");
    std::printf("wrote %s and %s\n", out_path.c_str(), md_path.c_str());
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "bench_ae: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ae: error: %s\n", e.what());
    return 1;
  }
}
