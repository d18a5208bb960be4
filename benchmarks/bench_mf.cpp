// MF benchmark: every available MF model on ML-1M under `seed-mf` (test MSE) and `ml1m-90-10`
// (test RMSE), beside the figures of the original study, plus the per-rating SGD throughput of
// `fit` (fused `sgd_update` path and generic sparse path) and of a hand-written kernel.
//
//   bench_mf [--data DIR] [--data100k DIR] [--out build/bench_mf.csv] [--md build/bench_mf.md]
//            [--models mf,mf-bias,...] [--epochs N] [--dims K] [--lr X] [--reg X] [--batch B]
//            [--optimizer sgd|adam|adagrad] [--seed S] [--valid-frac F] [--skip-models]
//            [--skip-throughput]
//
// Hyperparameters: per model (`model_settings()` below), chosen on a validation split carved from
// the TRAINING ratings (a random `--valid-frac` of them, 5% by default; never the test rows). Each
// model trains on the rest of the training rows with early stopping on that validation split
// (patience 3) to choose the number of epochs, then is retrained on ALL training rows for that many
// epochs and evaluated once on the test rows. During that retraining the test MSE is also measured
// after every epoch (RunOptions::trace_test: a measurement that chooses nothing, its CPU time not
// counted as training), which gives the column "CPU s to original's MSE": the training CPU seconds
// at the end of the first epoch whose test MSE is at or below the original study's figure
// (seed-mf only; "-" when never reached). --dims/--epochs/--lr/
// --reg override the table for every model (for tuning runs: read valid_rmse in the CSV).
//
// Temporal MF needs rating times, which the shared ML-1M copy lacks: it is run on ML-100K
// (--data100k) under seed-mf and a per-user temporal 80/20 split, beside biased MF.
//
// Exits 0 with a message when the data is absent. Single-threaded and deterministic.

#include "bench_common.hpp"

#include <metarec/data/movielens.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/registry/command_line.hpp>
#include <metarec/registry/mf.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <string>
#include <vector>

#include <ctime>

namespace {

using metarec::bench::compiler;
using metarec::bench::cpu_model;
using metarec::bench::thread_cpu_seconds;

using namespace metarec;

// Figures of the original study (seed-mf protocol, test MSE on ML-1M).
const std::map<std::string, double>& original_seed_mf() {
  static const std::map<std::string, double> m{
      {"mf", 0.8174},        {"mf-bias", 0.7895}, {"mf-side", 0.7843},   {"mf-temporal", 0.7939},
      {"fm", 0.8225},        {"mf-mixture", 0.7878}, {"mf-variational", 0.8385}};
  return m;
}

// Hand-written per-rating SGD for biased MF (the same update as fit with Sgd and batch size 1:
// loss (e² + λ‖p‖² + λ‖q‖² + λ_b(b_u² + b_i²)), gradient 2(...)), straight on θ with no sparse
// gradient bookkeeping. Returns updates per second.
double raw_kernel_throughput(const Dataset& ds, std::span<const RowIndex> rows, int dims, double lr_d,
                             double reg_d, int epochs, double mean) {
  const Eigen::Index k = dims;
  const std::uint32_t nu = ds.num_users(), ni = ds.num_items();
  Vector<float> P(k * nu), Q(k * ni), bu = Vector<float>::Zero(nu), bi = Vector<float>::Zero(ni);
  Rng rng(1);
  for (Eigen::Index j = 0; j < P.size(); ++j) P[j] = static_cast<float>(rng.normal(0, 0.1));
  for (Eigen::Index j = 0; j < Q.size(); ++j) Q[j] = static_cast<float>(rng.normal(0, 0.1));
  std::vector<RowIndex> order(rows.begin(), rows.end());
  const float lr = static_cast<float>(2 * lr_d), reg = static_cast<float>(reg_d), mu = static_cast<float>(mean);
  const double t0 = thread_cpu_seconds();
  for (int e = 0; e < epochs; ++e) {
    Rng r(derive_seed(7, static_cast<std::uint64_t>(e)));
    r.shuffle(std::span<RowIndex>(order));
    for (const RowIndex row : order) {
      const std::uint32_t u = ds.user(row), i = ds.item(row);
      Eigen::Map<Eigen::VectorXf> p(P.data() + u * k, k), q(Q.data() + i * k, k);
      const float err = mu + bu[u] + bi[i] + p.dot(q) - ds.rating(row);
      bu[u] -= lr * (err + reg * bu[u]);
      bi[i] -= lr * (err + reg * bi[i]);
      for (Eigen::Index j = 0; j < k; ++j) {
        const float pj = p[j], qj = q[j];
        p[j] -= lr * (err * qj + reg * pj);
        q[j] -= lr * (err * pj + reg * qj);
      }
    }
  }
  const double s = thread_cpu_seconds() - t0;
  if (!P.allFinite()) std::fprintf(stderr, "raw kernel diverged\n");
  return static_cast<double>(order.size()) * epochs / s;
}

struct Rate {
  double cpu = 0;   // rating updates per CPU second of this thread
  double wall = 0;  // rating updates per wall second
};

// fit() with Sgd, batch size 1: the fused sgd_update path (fused = true) or the generic
// sparse-gradient + Sgd::step path (fused = false). Updates per second.
Rate fit_throughput(const Dataset& ds, std::span<const RowIndex> rows, int dims, double lr,
                    double reg, int epochs, double mean, bool fused) {
  const MatrixFactorization<float> mf(ds.num_users(), ds.num_items(),
                                      {.dims = dims, .reg = reg, .bias_reg = reg, .global_mean = mean});
  Vector<float> theta(mf.num_parameters());
  Rng rng(1);
  mf.initialize(theta, rng);
  Sgd<float> opt{SgdOptions{.lr = lr}};
  TrainOptions o{.epochs = epochs, .batch_size = 1, .seed = 7};
  o.fused = fused;
  const double t0 = thread_cpu_seconds();
  const auto w0 = std::chrono::steady_clock::now();
  (void)fit(mf, theta, opt, ds, rows, o);
  const double n = static_cast<double>(rows.size()) * epochs;
  return {n / (thread_cpu_seconds() - t0),
          n / std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count()};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace metarec::registry;
  try {
    const std::vector<std::string> argv_s(argv + 1, argv + argc);
    const Args args(argv_s,
                    {"--data", "--out", "--models", "--epochs", "--dims", "--lr", "--reg", "--batch",
                     "--optimizer", "--seed", "--protocols", "--throughput-epochs", "--md", "--data100k", "--valid-frac"},
                    {"--skip-models", "--skip-throughput"});
    if (args.has("--help")) {
      std::printf("usage: bench_mf [--data DIR] [--out FILE.csv] [--models a,b] [--protocols p,q] "
                  "[--md FILE.md] [--data100k DIR] [--epochs N --dims K --lr X --reg X --batch B --optimizer O --seed S --valid-frac F] "
                  "[--skip-models] [--skip-throughput]\n");
      return 0;
    }
    const std::string dir = bench::data_dir(args, "--data", "ml-1m");
    if (bench::ml1m_missing(dir, "bench_mf")) return 0;
    const std::string out_path = args.get_or("--out", "build/bench_mf.csv");
    const std::string md_path = args.get_or("--md", "build/bench_mf.md");
    const std::string dir100k = bench::data_dir(args, "--data100k", "ml-100k");
    std::ostringstream md;  // the Markdown report, written at the end
    const std::vector<std::string> models =
        args.words("--models", {"mf", "mf-bias", "mf-side", "mf-temporal", "fm", "mf-mixture", "mf-variational", "svdpp"});
    const std::vector<std::string> protocols = args.words("--protocols", {"seed-mf", "ml1m-90-10"});
    // Overrides (for tuning runs: read valid_rmse in the CSV); unset = the model's recipe, the
    // settings the registry gives `metarec train` (registry/mf.hpp).
    Settings overrides;
    for (const char* o : {"dims", "epochs", "lr", "reg", "batch", "optimizer", "valid-frac"})
      if (const auto v = args.get(std::string("--") + o)) overrides.set(o, *v);
    const std::uint64_t seed = args.number<std::uint64_t>("--seed", 42);
    const double valid_frac = args.number<double>("--valid-frac", 0.05);
    const std::vector<ModelEntry> entries = mf_models();
    auto entry_of = [&](const std::string& m) -> const ModelEntry& {
      for (const auto& e : entries)
        if (e.name == m) return e;
      throw UsageError("--models: '" + m + "' is not a model of the MF family");
    };
    auto settings_text = [](const Settings& c) {
      char b[160];
      std::snprintf(b, sizeof b, "dims %s, lr %s, reg %s, %s batch %s, <= %s epochs", c.text("dims").c_str(),
                    c.text("lr").c_str(), c.text("reg").c_str(), c.text("optimizer").c_str(),
                    c.text("batch").c_str(), c.text("epochs").c_str());
      std::string s(b);
      if (c.number("bias-reg") >= 0) s += ", bias reg " + c.text("bias-reg");
      if (c.number("lr-decay") != 1.0) s += ", lr decay " + c.text("lr-decay");
      if (c.number("init-std") > 0) s += ", init std " + c.text("init-std");
      return s;
    };
    // The registry's training (registry/train_driver.hpp) does what this benchmark has always
    // done: (1) train on the training rows minus a random `valid-frac` of them with early stopping
    // on those (choosing the number of epochs); (2) retrain from the same initialisation on ALL
    // training rows for that many epochs; report (2) on the test rows, with its CPU seconds and
    // the validation RMSE of (1). The test rows are used once, at the end of (2); the test MSE
    // after each epoch of (2) is a trace that chooses nothing (its CPU time not counted).
    auto timed_train = [&](const ModelEntry& e, const Dataset& d, const ProtocolSplit& ps,
                           const std::string& recipe_protocol, const Settings& c, bool refit,
                           double& cpu_s) {
      RunOptions run;
      run.trace_test = true;
      run.refit = refit;
      const TrainRequest req{e.name, d, ps, recipe_protocol, c, seed, run};
      report::TrainReport r = e.train(req);
      cpu_s = r.cpu_seconds;
      return r;
    };
    auto settings_for = [&](const ModelEntry& e, const std::string& protocol) {
      Settings o = overrides;
      if (!o.has("valid-frac")) o.set("valid-frac", std::to_string(valid_frac));
      return resolve_settings(e, protocol, o);
    };
    auto mse = [](const report::TrainReport& r, const char* part) { return r.part(part).get("mse"); };
    auto rmse = [](const report::TrainReport& r, const char* part) { return r.part(part).get("rmse"); };

    const auto t_load = std::chrono::steady_clock::now();
    const Dataset ds = load_movielens(dir);
    std::printf("# bench_mf\n\ndata %s: %u users, %u items, %zu ratings (loaded in %.1f s)\n", dir.c_str(),
                ds.num_users(), ds.num_items(), ds.num_ratings(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count());
    std::printf("machine: %s; compiler: %s; seed %llu; single thread\n", cpu_model().c_str(),
                compiler().c_str(), static_cast<unsigned long long>(seed));
    md << "machine: " << cpu_model() << "; compiler: " << compiler() << "; seed " << seed
       << "; single thread; validation = " << valid_frac
       << " of the training ratings (random), early stopping with patience 3 chooses the epochs, then the "
          "model is retrained on all training ratings for that many epochs; CPU seconds = the retraining\n\n";

    if (!args.has("--skip-models")) {
      std::filesystem::path out(out_path);
      if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
      std::ostringstream csv;  // written atomically at the end of the model runs
      csv << "data,model,protocol,metric,value,original_seed_mf_mse,valid_rmse,epochs_run,best_epoch,train_cpu_seconds,"
             "train_wall_seconds,dims,lr,reg,batch,optimizer,seed,cpu_seconds_to_original,epoch_to_original,"
             "test_mse_per_epoch\n";
      const char* head =
          "| model | settings | seed-mf test MSE (original) | seed-mf test MSE (ours) | CPU s to original's MSE "
          "(epoch) | ml1m-90-10 test RMSE | valid RMSE (seed-mf / 90-10) | epochs (seed-mf / 90-10) | train CPU s "
          "(seed-mf / 90-10) | wall s |\n"
          "|---|---|---|---|---|---|---|---|---|---|\n";
      std::printf("%s", head);
      md << head;
      std::map<std::string, ProtocolSplit> splits;
      for (const auto& p : protocols) splits.emplace(p, make_protocol_split(p, ds, seed));
      // The first epoch of the retraining whose test MSE reached `target` (its 1-based number and
      // the training CPU s at its end); {0, NaN} when none did.
      auto reached = [](const report::TrainReport& r, double target) -> std::pair<int, double> {
        for (const auto& pt : r.test_trace)
          if (pt.test_metric <= target) return {pt.epoch + 1, pt.train_cpu_seconds};
        return {0, NAN};
      };
      auto csv_row = [&](const char* data, const std::string& m, const std::string& p, const report::TrainReport& r,
                         const Settings& c, double cpu_s, bool is_mse) {
        const double orig = original_seed_mf().count(m) ? original_seed_mf().at(m) : NAN;
        const bool vs_orig = p == "seed-mf" && std::string(data) == "ml-1m";
        const auto [ep, to] = vs_orig ? reached(r, orig) : std::pair<int, double>{0, NAN};
        csv << data << ',' << m << ',' << p << ',' << (is_mse ? "test_mse" : "test_rmse") << ','
            << (is_mse ? mse(r, "test") : rmse(r, "test")) << ',' << orig << ',' << rmse(r, "valid") << ','
            << r.epochs_run << ',' << r.best_epoch << ',' << cpu_s << ',' << r.seconds << ',' << c.text("dims")
            << ',' << c.text("lr") << ',' << c.text("reg") << ',' << c.text("batch") << ',' << c.text("optimizer")
            << ',' << seed << ',' << to << ',' << ep << ',';
        for (std::size_t k = 0; k < r.test_trace.size(); ++k) csv << (k ? ";" : "") << r.test_trace[k].test_metric;
        csv << '\n';
      };
      for (const auto& m : models) {
        const ModelEntry& e = entry_of(m);
        std::map<std::string, std::pair<report::TrainReport, double>> reps;
        std::string failure;
        Settings shown;
        for (const auto& p : protocols) {
          double cpu_s = 0;
          const Settings c = settings_for(e, p);
          shown = c;
          report::TrainReport r;
          try {
            r = timed_train(e, ds, splits.at(p), p, c, false, cpu_s);
          } catch (const std::invalid_argument& ex) {  // e.g. TemporalMF on data without times
            failure = ex.what();
            break;
          }
          csv_row("ml-1m", m, p, r, c, cpu_s, p == "seed-mf");
          reps[p] = {r, cpu_s};
        }
        const double orig = original_seed_mf().count(m) ? original_seed_mf().at(m) : NAN;
        auto get = [&](const char* p) -> const std::pair<report::TrainReport, double>* {
          const auto it = reps.find(p);
          return it == reps.end() ? nullptr : &it->second;
        };
        const auto* a = get("seed-mf");
        const auto* b = get("ml1m-90-10");
        if (!a && !b) {
          const std::string why = failure.empty() ? "not run" : "not run: " + failure;
          char line[1024];
          std::snprintf(line, sizeof line, "| %s | | %.4f | %s | | | | | | |\n", m.c_str(), orig, why.c_str());
          std::printf("%s", line);
          md << line;
          continue;
        }
        char to_orig[64] = "-";
        if (a) {
          const auto [ep, to] = reached(a->first, orig);
          if (ep > 0) std::snprintf(to_orig, sizeof to_orig, "%.2f (%d)", to, ep);
        }
        char line[1024];
        std::snprintf(line, sizeof line,
                      "| %s | %s | %.4f | %.4f | %s | %.4f | %.4f / %.4f | %d / %d | %.1f / %.1f | %.1f / %.1f |\n",
                      m.c_str(), settings_text(shown).c_str(), orig, a ? mse(a->first, "test") : NAN, to_orig,
                      b ? rmse(b->first, "test") : NAN, a ? rmse(a->first, "valid") : NAN,
                      b ? rmse(b->first, "valid") : NAN, a ? a->first.epochs_run : 0, b ? b->first.epochs_run : 0,
                      a ? a->second : NAN, b ? b->second : NAN, a ? a->first.seconds : NAN, b ? b->first.seconds : NAN);
        md << line;
        std::printf("%s", line);
        std::fflush(stdout);
      }

      // Temporal MF vs biased MF on ML-100K (has times): seed-mf and a per-user temporal 80/20
      // split; validation carved from the training rows (random for seed-mf; each user's latest
      // training rows for the temporal split). Both with the models' seed-mf recipes.
      if (std::filesystem::exists(std::filesystem::path(dir100k) / "u.data")) {
        const Dataset d100 = load_movielens(dir100k);
        const ProtocolSplit seed_mf = make_protocol_split("seed-mf", d100, seed);
        ProtocolSplit temporal;
        {
          const Split t = per_user_temporal_split(d100, {.train = 0.8, .valid = 0.0, .test = 0.2});
          std::vector<RowIndex> tr = t.train;
          std::sort(tr.begin(), tr.end());
          Split v = per_user_temporal_split(d100, tr, {.train = 1.0 - valid_frac, .valid = valid_frac, .test = 0.0});
          temporal.split = t;
          temporal.split.train = std::move(v.train);
          temporal.split.valid = std::move(v.valid);
        }
        const char* h100 =
            "\nML-100K, test MSE (temporal MF must beat biased MF):\n\n| model | settings | seed-mf test MSE | "
            "per-user temporal 80/20 test MSE | valid RMSE (seed-mf / temporal) | train CPU s |\n"
            "|---|---|---|---|---|---|\n";
        std::printf("%s", h100);
        md << h100;
        for (const std::string m : {"mf-bias", "mf-temporal"}) {
          const ModelEntry& e = entry_of(m);
          const Settings c = settings_for(e, "seed-mf");
          double ca = 0, cb = 0;
          const report::TrainReport a = timed_train(e, d100, seed_mf, "seed-mf", c, false, ca);
          const report::TrainReport b = timed_train(e, d100, temporal, "seed-mf", c, true, cb);
          csv_row("ml-100k", m, "seed-mf", a, c, ca, true);
          csv_row("ml-100k", m, "per-user-temporal-80-20", b, c, cb, true);
          char line[512];
          std::snprintf(line, sizeof line, "| %s | %s | %.4f | %.4f | %.4f / %.4f | %.1f / %.1f |\n", m.c_str(),
                        settings_text(c).c_str(), mse(a, "test"), mse(b, "test"), rmse(a, "valid"), rmse(b, "valid"),
                        ca, cb);
          std::printf("%s", line);
          md << line;
        }
      }
      metarec::detail::write_file_atomically(out, csv.str(), "bench_mf");
      std::printf("\nCSV written to %s\n", out_path.c_str());
    }

    if (!args.has("--skip-throughput")) {
      const ProtocolSplit ps = make_protocol_split("seed-mf", ds, seed);
      const double mean = ds.mean_rating(ps.split.train);
      const int te = args.number<int>("--throughput-epochs", 2);
      const Rate fused = fit_throughput(ds, ps.split.train, 64, 0.005, 0.05, te, mean, true);
      const Rate generic = fit_throughput(ds, ps.split.train, 64, 0.005, 0.05, te, mean, false);
      const double raw_rate = raw_kernel_throughput(ds, ps.split.train, 64, 0.005, 0.05, te, mean);
      std::printf("\nplain SGD, biased MF k=64, one core (CPU time), %zu ratings x %d epochs:\n", ps.split.train.size(), te);
      std::printf("  fit(), batch 1, fused sgd_update           : %.2f M rating updates/s (CPU), %.2f M/s (wall)\n", fused.cpu / 1e6, fused.wall / 1e6);
      std::printf("  fit(), batch 1, sparse gradient + Sgd::step : %.2f M rating updates/s (CPU), %.2f M/s (wall)\n", generic.cpu / 1e6, generic.wall / 1e6);
      std::printf("  hand-written per-rating kernel (reference)  : %.2f M rating updates/s\n", raw_rate / 1e6);
      char line[512];
      std::snprintf(line, sizeof line,
                    "\nthroughput (plain SGD, biased MF k=64, %zu ratings x %d epochs, one core): fit() fused "
                    "sgd_update %.2f M rating updates/s CPU (%.2f M/s wall); generic sparse path %.2f M/s CPU "
                    "(%.2f wall); hand-written kernel without prefetch %.2f M/s CPU\n",
                    ps.split.train.size(), te, fused.cpu / 1e6, fused.wall / 1e6, generic.cpu / 1e6,
                    generic.wall / 1e6, raw_rate / 1e6);
      md << line;
    }
    {
      std::filesystem::path mdp(md_path);
      if (mdp.has_parent_path()) std::filesystem::create_directories(mdp.parent_path());
      metarec::detail::write_file_atomically(mdp, md.str(), "bench_mf");
      std::printf("Markdown written to %s\n", md_path.c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_mf: %s\n", e.what());
    return 1;
  }
}
