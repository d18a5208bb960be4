// Cold-start benchmark on ML-1M with the MeLU protocols (docs/protocols.md): for each base model
// (mf-bias and mf-side with a shared, adapted user vector p0; MeLU with adapted decision layers),
// a global model without adaptation, the global model fine-tuned on each test user's support set,
// and four meta-learners (first-order MAML, second-order MAML, Reptile, Meta-SGD), scored on the
// query sets of the four scenarios (MAE, RMSE, nDCG@1, nDCG@3) with the meta-training seconds.
// Also: query MAE against the support size K (user-cold, MAML vs fine-tuning), and the cost per
// task of second- and first-order MAML on the MeLU-sized model with 1 and 2 threads.
//
//   bench_cold_start [--data DIR] [--quick] [--models mf-bias,mf-side,melu] [--md FILE]
//                    [--out FILE.csv] [--svg FILE.svg] [--threads T] [--seed S] [--skip-timing]
// Exits 0 with a message when ML-1M is absent.

#include "../examples/cli/meta_train.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace metarec;
using namespace metarec::cli;

namespace {

std::string compiler() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown";
#endif
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

/// Epochs of the global (non-meta) model, and whether meta-training starts from it.
int global_epochs(const MetaConfig& c, bool quick) { return is_mf(c.model) ? (quick ? 3 : 20) : (quick ? 1 : 2); }
bool meta_from_global(const MetaConfig&) { return true; }

/// The tuned setting of each base model (see docs/benchmarks.md).
MetaConfig model_config(const std::string& model, bool quick, std::uint64_t seed, int threads) {
  MetaConfig c;
  c.model = model;
  c.seed = seed;
  c.threads = threads;
  c.inner_steps = 5;
  c.adapt = "local";
  if (is_mf(model)) {
    c.dims = 16;
    c.reg = 0.01;
    c.init_std = 0.01;  // items never rated in training (the new items) keep factors near 0
    c.inner_lr = 0.5;
    c.outer_lr = 0.001;
    c.pretrain_epochs = global_epochs(c, quick);
    c.epochs = quick ? 1 : 5;
  } else {
    c.dims = 32;
    c.hidden = {64, 64};
    // From the global MeLU, a small inner step (0.05 diverged from it: user-cold MAE 1.13) and a
    // small outer step. From a random initialisation (step 0.05, outer 1e-3) MeLU reached a better
    // item-cold MAE (0.886) but a worse user-cold one (0.80); see docs/benchmarks.md.
    c.inner_lr = 0.01;
    c.outer_lr = 0.0003;
    c.pretrain_epochs = global_epochs(c, quick);
    c.epochs = quick ? 1 : 3;
  }
  return c;
}

struct Result {
  std::string model, method, scenario;
  QueryMetrics q;
  double seconds = 0;  ///< meta-training (or global training) seconds
};

/// Tasks of `tasks` with at least `min_support` support rows, each support cut to a seeded random
/// subset of K rows.
std::vector<Task> with_support(const std::vector<Task>& tasks, std::size_t k, std::size_t min_support,
                               std::uint64_t seed) {
  std::vector<Task> out;
  for (const Task& t : tasks) {
    if (t.support.size() < min_support) continue;
    Task c = t;
    Rng rng(derive_seed(seed, 0x4B53484Fu, t.user));  // same subset order for every K
    rng.shuffle(std::span<RowIndex>(c.support));
    c.support.resize(k);
    std::sort(c.support.begin(), c.support.end());
    out.push_back(std::move(c));
  }
  return out;
}

/// Chooses the fine-tuning step of the global model on the warm (meta-training) tasks.
template <class M>
double pick_finetune_lr(const M& model, const Vector<float>& theta, const Dataset& ds,
                        const std::vector<Task>& warm, const MetaConfig& c) {
  double best = c.inner_lr, best_mae = 1e300;
  for (const double f : {0.1, 0.3, 1.0, 3.0}) {
    AdaptOptions ao = adapt_options(c);
    ao.lr = c.inner_lr * f;
    const double mae = evaluate_tasks(model, theta, ds, warm, ao).mae;
    if (mae < best_mae) best_mae = mae, best = ao.lr;
  }
  return best;
}

void set_threads(int t) {
#if defined(_OPENMP)
  omp_set_num_threads(t);
#else
  (void)t;
#endif
}

/// Milliseconds per task of meta-training (outer steps over 32-task meta-batches of the warm tasks).
template <class Algorithm, class M>
double ms_per_task(const M& model, const Dataset& ds, const std::vector<Task>& tasks, int threads,
                   std::size_t n_tasks) {
  set_threads(threads);
  Vector<float> theta(model.num_parameters());
  Rng rng(1);
  model.initialize(theta, rng);
  std::vector<Task> subset(tasks.begin(), tasks.begin() + static_cast<std::ptrdiff_t>(std::min(n_tasks, tasks.size())));
  MamlOptions o;
  o.inner_steps = 5;
  o.inner_lr = 0.05;
  o.adapted = AdaptedSet::local;
  o.epochs = 1;
  o.seed = 3;
  Maml<M, Algorithm> warmup(model, o, Adam<float>(AdamOptions{.lr = 1e-3}));
  TaskSampler s0(std::span<const Task>(subset).first(std::min<std::size_t>(64, subset.size())), 32, 1);
  (void)warmup.train(theta, ds, s0);
  Maml<M, Algorithm> maml(model, o, Adam<float>(AdamOptions{.lr = 1e-3}));
  TaskSampler sampler(subset, 32, 1);
  const auto t0 = std::chrono::steady_clock::now();
  (void)maml.train(theta, ds, sampler);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return 1000.0 * s / static_cast<double>(subset.size());
}

std::string svg_curve(const std::vector<std::size_t>& ks, const std::vector<std::pair<std::string, std::vector<double>>>& series) {
  const double W = 560, H = 360, L = 60, R = 170, T = 30, B = 50;
  double lo = 1e9, hi = -1e9;
  for (const auto& s : series)
    for (const double v : s.second) lo = std::min(lo, v), hi = std::max(hi, v);
  const double pad = 0.05 * (hi - lo + 1e-9);
  lo -= pad, hi += pad;
  auto x = [&](std::size_t i) { return L + (W - L - R) * static_cast<double>(i) / static_cast<double>(ks.size() - 1); };
  auto y = [&](double v) { return T + (H - T - B) * (hi - v) / (hi - lo); };
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(1);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << L << "\" y=\"18\" font-size=\"14\">ML-1M melu-user-cold: query MAE vs support size K</text>\n"
    << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n"
    << "<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n";
  for (std::size_t i = 0; i < ks.size(); ++i)
    o << "<text x=\"" << x(i) << "\" y=\"" << H - B + 18 << "\" text-anchor=\"middle\">" << ks[i] << "</text>\n";
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 12 << "\" text-anchor=\"middle\">support ratings K (log-spaced ticks)</text>\n";
  for (int t = 0; t <= 4; ++t) {
    const double v = lo + (hi - lo) * t / 4.0;
    o << "<text x=\"" << L - 6 << "\" y=\"" << y(v) + 4 << "\" text-anchor=\"end\">";
    o.precision(3);
    o << v << "</text>\n";
    o.precision(1);
    o << "<line x1=\"" << L << "\" y1=\"" << y(v) << "\" x2=\"" << W - R << "\" y2=\"" << y(v) << "\" stroke=\"#ddd\"/>\n";
  }
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};
  for (std::size_t s = 0; s < series.size(); ++s) {
    o << "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" << colors[s % 4] << "\" points=\"";
    for (std::size_t i = 0; i < ks.size(); ++i) o << x(i) << ',' << y(series[s].second[i]) << ' ';
    o << "\"/>\n";
    for (std::size_t i = 0; i < ks.size(); ++i)
      o << "<circle cx=\"" << x(i) << "\" cy=\"" << y(series[s].second[i]) << "\" r=\"3\" fill=\"" << colors[s % 4] << "\"/>\n";
    o << "<text x=\"" << W - R + 10 << "\" y=\"" << T + 20 + 18 * static_cast<double>(s) << "\" fill=\""
      << colors[s % 4] << "\">" << series[s].first << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args(std::vector<std::string>(argv + 1, argv + argc),
                  {"--data", "--models", "--md", "--out", "--svg", "--threads", "--seed"},
                  {"--quick", "--skip-timing"});
  if (args.has("--help")) {
    std::printf("usage: bench_cold_start [--data DIR] [--quick] [--models LIST] [--md FILE] "
                "[--out FILE.csv] [--svg FILE.svg] [--threads T] [--seed S] [--skip-timing]\n");
    return 0;
  }
  const std::string dir = args.get_or("--data", METAREC_SOURCE_DIR "/../shared/data/ml-1m");
  if (!std::filesystem::exists(std::filesystem::path(dir) / "ratings.dat")) {
    std::printf("bench_cold_start: ML-1M not found at %s (pass --data DIR); nothing to do\n", dir.c_str());
    return 0;
  }
  const bool quick = args.has("--quick");
  const int threads = args.number<int>("--threads", 2);
  const auto seed = args.number<std::uint64_t>("--seed", 42);
  const std::vector<std::string> models = args.words("--models", {"mf-bias", "mf-side", "melu"});
  set_threads(threads);

  const Dataset ds = load_movielens(dir);
  const std::vector<std::string> scenarios = melu_protocols("all");
  std::vector<ProtocolSplit> splits;
  for (const auto& s : scenarios) splits.push_back(make_protocol_split(s, ds, seed));
  const std::vector<Task>& warm_tasks = splits[1].train_tasks;  // the same for every scenario
  const std::vector<RowIndex>& warm_rows = splits[1].split.train;  // whole warm partition
  const double mean = ds.mean_rating(warm_rows);
  std::printf("data %s: %u users, %u items, %zu ratings; %zu meta-training tasks; threads %d%s\n",
              dir.c_str(), ds.num_users(), ds.num_items(), ds.num_ratings(), warm_tasks.size(), threads,
              quick ? "; QUICK" : "");
  std::printf("machine: %s; compiler: %s; seed %llu\n", cpu_model().c_str(), compiler().c_str(),
              static_cast<unsigned long long>(seed));

  std::vector<Result> results;
  std::vector<std::string> settings;
  const std::vector<std::size_t> curve_k{1, 3, 5, 10, 20};
  std::vector<std::pair<std::string, std::vector<double>>> curve;
  std::size_t curve_tasks = 0;
  const std::vector<std::pair<std::string, std::string>> methods{
      {"fomaml", "FOMAML"}, {"maml", "MAML (2nd order)"}, {"reptile", "Reptile"}, {"metasgd", "Meta-SGD"}};

  for (const std::string& name : models) {
    const MetaConfig base = model_config(name, quick, seed, threads);
    with_meta_model(base, ds, mean, [&](const auto& model) {
      // Non-meta baselines: the global model (pooled warm ratings), used as is or fine-tuned.
      Vector<float> global;
      const double gsec = fit_global(model, global, ds, warm_rows, base, global_epochs(base, quick));
      MetaConfig ft = base;
      ft.inner_lr = pick_finetune_lr(model, global, ds, warm_tasks, base);
      std::ostringstream set;
      set << name << ": dims " << base.dims;
      if (is_mf(name)) set << ", reg " << base.reg << ", init std " << base.init_std;
      set << ", inner " << base.inner_steps << " steps x "
          << base.inner_lr << " (" << base.adapt << "), outer Adam " << base.outer_lr << ", "
          << base.epochs << " meta-epochs from "
          << (meta_from_global(base) ? "the global model" : "a random initialisation")
          << "; global model " << global_epochs(base, quick) << " epochs; meta-batch " << base.meta_batch << "; fine-tuning step " << ft.inner_lr
          << " (chosen on the warm tasks); " << model.num_parameters() << " parameters";
      settings.push_back(set.str());
      std::printf("\n%s\n", set.str().c_str());
      for (std::size_t s = 0; s < scenarios.size(); ++s) {
        results.push_back({name, "global, no adaptation", scenarios[s],
                           evaluate_tasks(model, global, ds, splits[s].test_tasks, AdaptOptions{.steps = 0}), gsec});
        results.push_back({name, "global + fine-tuning", scenarios[s],
                           evaluate_tasks(model, global, ds, splits[s].test_tasks, adapt_options(ft)), gsec});
      }
      Vector<float> maml_theta;
      for (const auto& [algo, label] : methods) {
        MetaConfig c = base;
        c.algo = algo;
        Vector<float> theta = global;
        if (!meta_from_global(base)) {
          Rng rng(derive_seed(seed, 0x494E4954u));
          model.initialize(theta, rng);
        }
        MetaConfig from_global = c;
        from_global.pretrain_epochs = 0;
        // Start from the global model already fitted above (pre-training), then meta-train.
        MetaRun run;
        if (algo == "maml") run = meta_train_with<SecondOrderMaml>(model, theta, ds, warm_tasks, from_global);
        if (algo == "fomaml") run = meta_train_with<FirstOrderMaml>(model, theta, ds, warm_tasks, from_global);
        if (algo == "reptile") run = meta_train_with<Reptile>(model, theta, ds, warm_tasks, from_global);
        if (algo == "metasgd") run = meta_train_with<MetaSgd>(model, theta, ds, warm_tasks, from_global);
        const Vector<float>* alpha = run.alpha.size() ? &run.alpha : nullptr;
        for (std::size_t s = 0; s < scenarios.size(); ++s)
          results.push_back({name, label, scenarios[s],
                             evaluate_tasks(model, theta, ds, splits[s].test_tasks, adapt_options(c), alpha),
                             run.seconds});
        std::printf("  %-18s meta-training %.1f s; user-cold MAE %.4f\n", label.c_str(), run.seconds,
                    results[results.size() - 3].q.mae);
        if (algo == "maml") maml_theta = theta;
      }
      // Curve (one model: mf-side when it runs, else the first): MAE vs K on user-cold.
      if (curve.empty() && (name == "mf-side" || models.size() == 1 ||
                            std::find(models.begin(), models.end(), "mf-side") == models.end())) {
        std::vector<double> mm, ff;
        for (const std::size_t k : curve_k) {
          const auto tasks = with_support(splits[1].test_tasks, k, curve_k.back(), seed);
          curve_tasks = tasks.size();
          MetaConfig c = base;
          mm.push_back(evaluate_tasks(model, maml_theta, ds, tasks, adapt_options(c)).mae);
          ff.push_back(evaluate_tasks(model, global, ds, tasks, adapt_options(ft)).mae);
        }
        curve.push_back({name + " MAML", mm});
        curve.push_back({name + " fine-tuned", ff});
      }
      return 0;
    });
  }

  // Cost per task, MeLU-sized model (six 32-d embeddings -> 64-64-1, decision layers adapted,
  // 5 inner steps, 32 tasks per meta-batch), on the warm tasks.
  std::vector<std::pair<std::string, double>> timing;
  if (!args.has("--skip-timing")) {
    const Melu<float> melu(ds, MeluModelOptions{});
    const std::size_t n = quick ? 128 : 512;
    for (const int t : {1, 2}) {
      timing.push_back({"second-order MAML, " + std::to_string(t) + " thread(s)",
                        ms_per_task<SecondOrderMaml>(melu, ds, warm_tasks, t, n)});
      timing.push_back({"first-order MAML, " + std::to_string(t) + " thread(s)",
                        ms_per_task<FirstOrderMaml>(melu, ds, warm_tasks, t, n)});
    }
    set_threads(threads);
  }
  double mean_support = 0;
  for (const Task& t : warm_tasks) mean_support += static_cast<double>(t.support.size());
  mean_support /= static_cast<double>(std::max<std::size_t>(1, warm_tasks.size()));

  // Report.
  std::ostringstream md;
  md << "machine: " << cpu_model() << "; compiler: " << compiler() << "; seed " << seed << "; "
     << threads << " threads" << (quick ? "; QUICK RUN" : "") << "\n\n";
  md << "Settings:\n\n";
  for (const auto& s : settings) md << "- " << s << "\n";
  for (const auto& model : models) {
    md << "\n### " << model << "\n\n| method |";
    for (const auto& s : scenarios) md << ' ' << s << " MAE / RMSE / nDCG@1 / nDCG@3 |";
    md << " meta-train s |\n|---|";
    for (std::size_t s = 0; s < scenarios.size(); ++s) md << "---|";
    md << "---:|\n";
    std::vector<std::string> order{"global, no adaptation", "global + fine-tuning"};
    for (const auto& m : methods) order.push_back(m.second);
    for (const auto& method : order) {
      md << "| " << method << " |";
      double sec = 0;
      for (const auto& s : scenarios)
        for (const Result& r : results)
          if (r.model == model && r.method == method && r.scenario == s) {
            char buf[128];
            std::snprintf(buf, sizeof buf, " %.4f / %.4f / %.4f / %.4f |", r.q.mae, r.q.rmse, r.q.ndcg1, r.q.ndcg3);
            md << buf;
            sec = r.seconds;
          }
      char buf[32];
      std::snprintf(buf, sizeof buf, " %.1f%s |\n", sec, method.rfind("global", 0) == 0 ? " (fit)" : "");
      md << buf;
    }
  }
  if (!curve.empty()) {
    md << "\nQuery MAE vs support size K (melu-user-cold, the " << curve_tasks
       << " test users with >= 20 support ratings; K random support ratings, same subsets for "
          "every method):\n\n| method |";
    for (const auto k : curve_k) md << " K=" << k << " |";
    md << "\n|---|";
    for (std::size_t i = 0; i < curve_k.size(); ++i) md << "---:|";
    md << "\n";
    for (const auto& [label, v] : curve) {
      md << "| " << label << " |";
      for (const double x : v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, " %.4f |", x);
        md << buf;
      }
      md << "\n";
    }
  }
  if (!timing.empty()) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "\nMeta-training cost per task, MeLU-sized model (%zu-task subset of the warm "
                  "tasks, mean support %.1f ratings, query 10):\n\n| algorithm | ms / task |\n|---|---:|\n",
                  quick ? std::size_t{128} : std::size_t{512}, mean_support);
    md << buf;
    for (const auto& [label, ms] : timing) {
      std::snprintf(buf, sizeof buf, "| %s | %.3f |\n", label.c_str(), ms);
      md << buf;
    }
  }
  std::printf("\n%s", md.str().c_str());
  if (auto f = args.get("--md")) std::ofstream(*f) << md.str();
  if (auto f = args.get("--out")) {
    std::ofstream csv(*f);
    csv << "model,method,scenario,mae,rmse,ndcg1,ndcg3,tasks,seconds\n";
    for (const Result& r : results)
      csv << r.model << ',' << r.method << ',' << r.scenario << ',' << r.q.mae << ',' << r.q.rmse << ','
          << r.q.ndcg1 << ',' << r.q.ndcg3 << ',' << r.q.tasks << ',' << r.seconds << '\n';
    for (const auto& [label, v] : curve)
      for (std::size_t i = 0; i < v.size(); ++i)
        csv << "curve," << label << ",melu-user-cold K=" << curve_k[i] << ',' << v[i] << ",,,,"
            << curve_tasks << ",\n";
    for (const auto& [label, ms] : timing) csv << "timing," << label << ",,," << ",,,," << ms << '\n';
  }
  if (auto f = args.get("--svg"); f && !curve.empty()) std::ofstream(*f) << svg_curve(curve_k, curve);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_cold_start: %s\n", e.what());
  return 1;
}
