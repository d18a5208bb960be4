// Boltzmann-family benchmark (docs/models_bm.md):
//  1. `ml1m-90-10` rating prediction (ML-1M, global random 90/10): rbm-i, rbm-u, cf-nade-i,
//     cf-nade-u, test RMSE beside the AutoRec paper's I-RBM 0.854 / U-RBM 0.881 and the CF-NADE
//     paper's I-CF-NADE-S 0.830 (one layer) / 0.829 (two layers), U-CF-NADE-S 0.850 / 0.845; the
//     goals (I-RBM <= 0.850, U-RBM <= 0.875, I-CF-NADE <= 0.829); wall seconds, and the wall
//     seconds of training until the test RMSE first reached the paper's figure and the goal (the
//     test RMSE after each epoch is a trace that chooses nothing; its time is not counted);
//  2. the original study's Boltzmann table beside held-out figures: its RBM 0.590 (0/1 RMSE of a
//     sampled reconstruction of the TRAINING like/dislike entries) beside rbm-binary's (visible =
//     rated: the same like/dislike model) 0/1 RMSE of p(like) on held-out rated entries (seed-mf:
//     the original's random 75/25); its explainable
//     RBM 0.3116 (RMSE of a reconstruction of r/5 over a dense TRAINING matrix, missing entries as
//     zeros) beside rbm-explainable's held-out RMSE (ml1m-90-10; also /5); its NADE 0.920 (a
//     training RMSE) beside cf-nade-i's held-out RMSE (from 1.);
//  3. the explainable RBM on ML-100K (as its paper) and ML-1M, per-user random 80/20 (seed-ae):
//     precision, recall, NDCG @10 and MEP@10 / MER@10, with explained recommendations;
//  4. rbm-binary as a top-N recommender on `recbole` (ratings >= 3, 10-core, per-user 8:1:1);
//  5. speed: seconds per epoch with 1 and 2 threads; CD-k's cost against ratings × hidden × k.
//
//   bench_bm [--data DIR] [--data100k DIR] [--out build/bench_bm.csv] [--md build/bench_bm.md]
//            [--svg build/bench_bm.svg] [--models rbm-i,rbm-u,cf-nade-i,cf-nade-u] [--seed S]
//            [--threads T] [--set model:key=value,...] [--select] [--skip-rating]
//            [--skip-original] [--skip-explainable] [--skip-topn] [--skip-speed]
//
// Every model trains through the registry (registry/boltzmann.hpp) with its recipe: what
// `metarec train` does. --set overrides a recipe (tuning runs; a value that is a list continues
// after commas: rbm-i:cd-steps=1,3,5); --select trains with a 5% validation carve of the training
// rows instead of the recipe's fixed epochs (early stopping chooses each phase's epochs up to
// `epochs`, so a recipe's cd-epochs is not read; then the model is retrained on all training
// rows): the run that chose the recipes. Exits 0 with a message when the data is absent. Deterministic: the same seed
// gives the same figures for any thread count.

#include "bench_common.hpp"

#include <metarec/data/movielens.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/data/batch_source.hpp>
#include <metarec/models/boltzmann/cf_nade.hpp>
#include <metarec/models/boltzmann/rbm_cf.hpp>
#include <metarec/optim/adam.hpp>
#include <metarec/optim/sgd.hpp>
#include <metarec/registry/boltzmann.hpp>
#include <metarec/registry/command_line.hpp>
#include <metarec/registry/registry.hpp>
#include <metarec/report/item_scores.hpp>
#include <metarec/train/serialize.hpp>
#include <metarec/train/trainer.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

using metarec::bench::compiler;
using metarec::bench::cpu_model;

using namespace metarec;
using namespace metarec::registry;

// Published ml1m-90-10 figures and our goals.
struct Target {
  double paper;
  const char* paper_source;
  double goal;  // NaN: no goal
};
const std::map<std::string, Target>& targets() {
  static const std::map<std::string, Target> m{
      {"rbm-i", {0.854, "I-RBM, AutoRec paper (Sedhain et al. 2015)", 0.850}},
      {"rbm-u", {0.881, "U-RBM, AutoRec paper", 0.875}},
      {"cf-nade-i", {0.829, "I-CF-NADE-S 2 layers, CF-NADE paper (1 layer: 0.830)", 0.829}},
      {"cf-nade-u", {0.845, "U-CF-NADE-S 2 layers, CF-NADE paper (1 layer: 0.850)", NAN}}};
  return m;
}

std::string fmt(double x, int prec = 4) {
  if (!std::isfinite(x)) return "-";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, x);
  return b;
}

// OpenMP threads for the cases of a batch (the results do not depend on it).
void set_threads([[maybe_unused]] int t) {
#if defined(_OPENMP)
  omp_set_num_threads(t);
#endif
}

// Wall seconds of training (the final fit) until the traced test RMSE first reached `target`
// (NaN when it never did), and that epoch (1-based; 0 when never).
std::pair<double, int> time_to(const report::TrainReport& r, double target) {
  double t = 0;
  for (std::size_t e = 0; e < r.test_trace.size() && e < r.history.size(); ++e) {
    t += r.history[e].seconds;
    if (std::sqrt(r.test_trace[e].test_metric) <= target) return {t, static_cast<int>(e) + 1};
  }
  return {NAN, 0};
}

// The epochs of each training phase of a run (a phase's epochs restart at 0), e.g. "21,4".
std::string phase_epochs(const report::TrainReport& r) {
  std::string out;
  int n = 0;
  for (std::size_t e = 0; e < r.history.size(); ++e) {
    if (e > 0 && r.history[e].epoch == 0) {
      out += std::to_string(n) + ",";
      n = 0;
    }
    ++n;
  }
  return out + std::to_string(n);
}

// The settings a run shows: every option that differs from the entry's default, and the recipe's.
std::string settings_text(const ModelEntry& e, const Settings& s) {
  std::string out;
  for (const auto& o : e.options) {
    if (s.text(o.name) == o.default_value && o.name != "epochs" && o.name != "lr" && o.name != "hidden") continue;
    if (o.name == "negatives" || o.name == "patience") continue;
    out += (out.empty() ? "" : ", ") + o.name + " " + s.text(o.name);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Eigen::setNbThreads(1);
    const std::vector<std::string> argv_s(argv + 1, argv + argc);
    const Args args(argv_s,
                    {"--data", "--data100k", "--out", "--md", "--svg", "--models", "--seed", "--threads", "--set"},
                    {"--select", "--skip-rating", "--skip-original", "--skip-explainable", "--skip-topn", "--skip-speed"});
    if (args.has("--help")) {
      std::printf("usage: bench_bm [--data DIR] [--data100k DIR] [--out FILE.csv] [--md FILE.md] [--svg FILE.svg] "
                  "[--models a,b] [--seed S] [--threads T] [--set model:key=value,...] [--select] [--skip-rating] "
                  "[--skip-original] [--skip-explainable] [--skip-topn] [--skip-speed]\n");
      return 0;
    }
    const std::string dir = bench::data_dir(args, "--data", "ml-1m");
    const std::string dir100k = bench::data_dir(args, "--data100k", "ml-100k");
    if (bench::ml1m_missing(dir, "bench_bm")) return 0;
    const std::string out_path = args.get_or("--out", "build/bench_bm.csv");
    const std::string md_path = args.get_or("--md", "build/bench_bm.md");
    const std::string svg_path = args.get_or("--svg", "build/bench_bm.svg");
    const std::uint64_t seed = args.number<std::uint64_t>("--seed", 42);
    const int threads = args.number<int>("--threads", 2);
    const bool select = args.has("--select");
    const std::vector<std::string> models = args.words("--models", {"rbm-i", "rbm-u", "cf-nade-i", "cf-nade-u"});
    // --set model:key=value,...; a word without ':' and '=' continues the previous value as a
    // list (rbm-i:cd-steps=1,3,5 sets cd-steps to "1,3,5").
    std::map<std::string, Settings> overrides;
    std::string last_model, last_key, last_value;
    for (const auto& w : args.words("--set", {})) {
      const auto colon = w.find(':'), eq = w.find('=');
      if (colon == std::string::npos && eq == std::string::npos && !last_key.empty()) {
        last_value += "," + w;
        overrides[last_model].set(last_key, last_value);
        continue;
      }
      if (colon == std::string::npos || eq == std::string::npos || eq < colon)
        throw UsageError("--set: expected model:key=value, got '" + w + "'");
      last_model = w.substr(0, colon);
      last_key = w.substr(colon + 1, eq - colon - 1);
      last_value = w.substr(eq + 1);
      overrides[last_model].set(last_key, last_value);
    }
    const Registry reg(boltzmann_models());
    set_threads(threads);

    std::ostringstream md, csv;
    csv << "section,data,model,protocol,metric,value,reference,epochs,wall_seconds,cpu_seconds,"
           "seconds_to_reference,seconds_to_goal,threads,seed,settings\n";
    const auto t_load = std::chrono::steady_clock::now();
    const Dataset ds = load_movielens(dir);
    std::printf("# bench_bm\n\ndata %s: %u users, %u items, %zu ratings (loaded in %.1f s)\n", dir.c_str(),
                ds.num_users(), ds.num_items(), ds.num_ratings(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count());
    std::printf("machine: %s; compiler: %s; seed %llu; %d thread(s)\n", cpu_model().c_str(), compiler().c_str(),
                static_cast<unsigned long long>(seed), threads);
    md << "machine: " << cpu_model() << "; compiler: " << compiler() << "; seed " << seed << "; " << threads
       << " thread(s) (OpenMP across the cases of a batch; the results are the same for any thread count)\n\n";

    // One registry run: the entry's recipe for `protocol`, the --set overrides, --select's carve.
    auto run = [&](const std::string& name, const Dataset& data, const std::string& protocol, bool trace,
                   std::vector<std::size_t> ks = {10}, const std::string& save = "") {
      const ModelEntry& e = reg.find(name);
      Settings user = overrides.count(name) ? overrides.at(name) : Settings{};
      if (select && !user.has("valid-frac")) {
        user.set("valid-frac", "0.05");
        if (e.option("cd-epochs")) user.set("cd-epochs", "");
      }
      const Settings s = resolve_settings(e, protocol, user);
      const ProtocolSplit ps = make_protocol_split(protocol, data, seed);
      TrainRequest req{name, data, ps, protocol, s, seed};
      req.run.trace_test = trace;
      req.run.save = save;
      req.top.ks = std::move(ks);
      const auto t0 = std::chrono::steady_clock::now();
      report::TrainReport r = e.train(req);
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      return std::make_tuple(std::move(r), s, wall);
    };
    // One CSV row of a registry run.
    auto csv_row = [&](const char* section, const std::string& data, const std::string& model, const std::string& protocol,
                       const std::string& metric, double value, const std::string& reference, const report::TrainReport& r,
                       double wall, const Settings& s, double to_reference = NAN, double to_goal = NAN) {
      csv << section << ',' << data << ',' << model << ',' << protocol << ',' << metric << ',' << value << ','
          << reference << ',' << r.epochs_run << ',' << wall << ',' << r.cpu_seconds << ',' << to_reference << ','
          << to_goal << ',' << threads << ',' << seed << ",\"" << settings_text(reg.find(model), s) << "\"\n";
    };
    auto flush = [&] {
      std::fflush(stdout);
      std::filesystem::path out(out_path), mdp(md_path);
      if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
      if (mdp.has_parent_path()) std::filesystem::create_directories(mdp.parent_path());
      metarec::detail::write_file_atomically(out, csv.str(), "bench_bm");
      metarec::detail::write_file_atomically(mdp, md.str(), "bench_bm");
    };

    // --- 1. ml1m-90-10 --------------------------------------------------------------------------
    std::map<std::string, report::TrainReport> rating;
    if (!args.has("--skip-rating")) {
      const char* head =
          "\n## ml1m-90-10 rating prediction (test RMSE)\n\n"
          "| model | test RMSE | paper | goal | met | valid RMSE | epochs (per phase) | wall s (whole run) | s to paper's "
          "(epoch) | s to goal (epoch) | settings |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
      std::printf("%s", head);
      md << head;
      for (const auto& m : models) {
        auto [r, s, wall] = run(m, ds, "ml1m-90-10", true);
        const Target t = targets().count(m) ? targets().at(m) : Target{NAN, "", NAN};
        const double rmse = r.part("test").get("rmse");
        const auto [tp, ep] = time_to(r, t.paper);
        const auto [tg, eg] = time_to(r, t.goal);
        const std::string met = std::isfinite(t.goal) ? (rmse <= t.goal ? "yes" : "no") : "-";
        char line[1024];
        std::snprintf(line, sizeof line, "| %s | %s | %s (%s) | %s | %s | %s | %d (%s) | %.1f | %s (%d) | %s (%d) | %s |\n",
                      m.c_str(), fmt(rmse).c_str(), fmt(t.paper, 3).c_str(), t.paper_source, fmt(t.goal, 3).c_str(),
                      met.c_str(), fmt(r.part("valid").get("rmse")).c_str(), r.epochs_run, phase_epochs(r).c_str(), wall,
                      fmt(tp, 1).c_str(),
                      ep, fmt(tg, 1).c_str(), eg, settings_text(reg.find(m), s).c_str());
        std::printf("%s", line);
        md << line;
        csv_row("ml1m-90-10", "ml-1m", m, "ml1m-90-10", "test_rmse", rmse, fmt(t.paper, 3) + " (paper)", r, wall, s, tp, tg);
        std::string trace;
        for (std::size_t k = 0; k < r.test_trace.size(); ++k)
          trace += (k ? " " : "") + fmt(std::sqrt(r.test_trace[k].test_metric));
        md << "\n  test RMSE after each epoch of " << m << ": " << trace << "\n\n";
        rating.emplace(m, std::move(r));
        flush();
      }
    }

    // --- 2. the original study's table ---------------------------------------------------------
    if (!args.has("--skip-original")) {
      const char* head =
          "\n## The original study's Boltzmann table, beside held-out figures (ML-1M)\n\n"
          "| model | original figure | what it was | original time | ours (held out) | what it is | our wall s |\n"
          "|---|---|---|---|---|---|---|\n";
      std::printf("%s", head);
      md << head;
      // One row: our model trained on `protocol`, its held-out test RMSE beside the original figure.
      auto original_row = [&](const char* label, const char* figure, const char* was, const char* time,
                              const std::string& model, const std::string& protocol, const char* metric,
                              const std::string& ours, bool r5) {
        auto [r, s, wall] = run(model, ds, protocol, false);
        const double v = r.part("test").get("rmse");
        const std::string value = r5 ? fmt(v) + " (" + fmt(v / 5.0) + " on the r/5 scale)" : fmt(v);
        const std::string line = std::string("| ") + label + " | " + figure + " | " + was + " | " + time + " | " + value +
                                 " | " + ours + " | " + fmt(wall, 1) + " |\n";
        std::printf("%s", line.c_str());
        md << line;
        csv_row("original", "ml-1m", model, protocol, metric, v, std::string(figure) + " (original, train)", r, wall, s);
        flush();
      };
      original_row("RBM", "0.590",
                   "0/1 RMSE of a CD-10 Gibbs sample against the TRAINING like/dislike entries (rating >= 3), 50 "
                   "epochs, random 75/25",
                   "10 min 56 s", "rbm-binary", "seed-mf", "test_01_rmse",
                   "rbm-binary (its seed-mf recipe: visible = rated, the original's like/dislike model): 0/1 RMSE of "
                   "p(like | training row) on the 25% held-out rated entries (seed-mf, random 75/25)",
                   false);
      original_row("Explainable RBM", "0.3116",
                   "RMSE of a binary RBM's reconstruction of r/5 over the dense TRAINING matrix of 1,000 users, "
                   "missing entries counted as zeros",
                   "1 min 43 s", "rbm-explainable", "ml1m-90-10", "test_rmse",
                   "rbm-explainable: test RMSE on the held-out ratings (ml1m-90-10), rated entries only", true);
      if (rating.count("cf-nade-i")) {
        const report::TrainReport& r = rating.at("cf-nade-i");
        char line[1024];
        std::snprintf(line, sizeof line,
                      "| NADE | 0.920 | a TRAINING RMSE (Keras NADE) | 90 min 45 s | %s | cf-nade-i: test RMSE "
                      "(ml1m-90-10, section above) | %.1f |\n",
                      fmt(r.part("test").get("rmse")).c_str(), r.seconds);
        std::printf("%s", line);
        md << line;
      }
    }

    // --- 3. the explainable RBM --------------------------------------------------------------
    if (!args.has("--skip-explainable")) {
      const char* head =
          "\n## Explainable RBM, top-10 of the unseen items (seed-ae: per-user random 80/20)\n\n"
          "| data | P@10 | R@10 | NDCG@10 | MEP@10 | MER@10 | users | wall s | settings |\n"
          "|---|---|---|---|---|---|---|---|---|\n";
      std::printf("%s", head);
      md << head;
      std::optional<Dataset> d100;
      std::vector<std::pair<std::string, const Dataset*>> sets;
      if (std::filesystem::exists(std::filesystem::path(dir100k) / "u.data")) {
        d100.emplace(load_movielens(dir100k));
        sets.emplace_back("ml-100k", &*d100);
      }
      sets.emplace_back("ml-1m", &ds);
      std::ostringstream examples;
      for (const auto& [name, data] : sets) {
        const std::string saved = (std::filesystem::path(out_path).parent_path() / ("bench_bm_explainable_" + name + ".bin")).string();
        auto [r, s, wall] = run("rbm-explainable", *data, "seed-ae", false, {10}, saved);
        const auto& t = r.part("test");
        const auto& x = r.part("explainability");
        char line[1024];
        std::snprintf(line, sizeof line, "| %s | %s | %s | %s | %s | %s | %.0f | %.1f | %s |\n", name.c_str(),
                      fmt(t.get("precision@10")).c_str(), fmt(t.get("recall@10")).c_str(), fmt(t.get("ndcg@10")).c_str(),
                      fmt(x.get("mep@10")).c_str(), fmt(x.get("mer@10")).c_str(), x.get("users"), wall,
                      settings_text(reg.find("rbm-explainable"), s).c_str());
        std::printf("%s", line);
        md << line;
        for (const char* metric : {"precision@10", "recall@10", "ndcg@10", "mep@10", "mer@10"})
          csv_row("explainable", name, "rbm-explainable", "seed-ae", metric,
                  std::isnan(t.get(metric)) ? x.get(metric) : t.get(metric), "paper figures not recovered", r, wall, s);
        // the saved model, rebuilt and asked for two users' recommendations with their explanations
        const ProtocolSplit ps = make_protocol_split("seed-ae", *data, seed);
        const ExplainabilityOptions eo{.neighbours = s.integer32("neighbours"), .threshold = s.number("explain-threshold"),
                                       .rating_weighted = s.text("explain-weight") == "rating"};
        const auto E = std::make_shared<const ExplainabilityMatrix>(ExplainabilityMatrix::from_neighbours(*data, ps.split.train, eo));
        const ExplainableRbm<float> model(E, {.rbm = registry::detail::softmax_options(s, static_cast<int>(s.list("cd-steps").size()) - 1)});
        const Vector<float> theta = load_parameters<float>(saved, "rbm-explainable", model.num_parameters());
        const WholeRows inputs(*data, ps.split.train, RowSide::user);
        const report::ItemScorer<ExplainableRbm<float>> scorer(model, theta, *data, &inputs);
        examples << "\n" << name << ", the top 5 of two users (their training items removed):\n\n";
        for (const std::uint32_t u : {0u, 1u}) {
          std::vector<std::uint32_t> seen;
          for (const RowIndex row : inputs.input_of(u)) seen.push_back(data->item(row));
          std::sort(seen.begin(), seen.end());
          examples << "- user " << data->user_ids().original(u) << ":";
          for (const auto& rec : report::top_n(scorer, u, data->num_items(), seen, 5)) {
            const std::string title = data->item_titles().empty() ? "item " + std::to_string(data->item_ids().original(rec.item))
                                                                  : data->item_titles()[rec.item];
            examples << " " << title << " (" << fmt(rec.score, 2) << "; " << E->explanation(u, rec.item) << ");";
          }
          examples << "\n";
        }
        flush();
      }
      md << examples.str();
      md << "\nThe paper's figures (ML-100K, MEP@10 / MER@10 / nDCG@10 as plots) could not be recovered "
            "here: no side-by-side number is given rather than an invented one.\n";
    }

    // --- 4. rbm-binary top-N -----------------------------------------------------------------
    if (!args.has("--skip-topn")) {
      auto [r, s, wall] = run("rbm-binary", ds, "recbole", false);
      const auto& t = r.part("test");
      char line[1024];
      std::snprintf(line, sizeof line,
                    "\n## rbm-binary, top-N on recbole (ratings >= 3, 10-core, per-user 8:1:1; full ranking, "
                    "training and validation items removed)\n\n| P@10 | R@10 | NDCG@10 | hit@10 | users | epochs | "
                    "wall s | settings |\n|---|---|---|---|---|---|---|---|\n| %s | %s | %s | %s | %.0f | %d | %.1f | %s |\n",
                    fmt(t.get("precision@10")).c_str(), fmt(t.get("recall@10")).c_str(), fmt(t.get("ndcg@10")).c_str(),
                    fmt(t.get("hit@10")).c_str(), t.get("users"), r.epochs_run, wall,
                    settings_text(reg.find("rbm-binary"), s).c_str());
      std::printf("%s", line);
      md << line;
      for (const char* metric : {"precision@10", "recall@10", "ndcg@10"})
        csv_row("topn", "ml-1m", "rbm-binary", "recbole", metric, t.get(metric), "", r, wall, s);
      flush();
    }

    // --- 5. speed ------------------------------------------------------------------------------
    if (!args.has("--skip-speed")) {
      const ProtocolSplit ps = make_protocol_split("ml1m-90-10", ds, seed);
      const WholeRows items(ds, ps.split.train, RowSide::item);
      const double ratings = static_cast<double>(ps.split.train.size());
      // seconds of one CD-k epoch of rbm-i (batch 1000, SGD with momentum) with t threads
      auto rbm_epoch = [&](int hidden, int k, int t) {
        set_threads(t);
        const RbmCf<float> m(ds.num_users(), {.hidden = hidden, .cd_steps = k}, RowSide::item);
        Vector<float> theta(m.num_parameters());
        Rng rng(1);
        m.initialize(theta, rng);
        RowBatches src(items, 1000, seed);
        Sgd<float> opt({.lr = 0.1, .momentum = 0.9});
        return fit(m, theta, opt, src, {.epochs = 1}).seconds;
      };
      auto nade_epoch = [&](const std::vector<int>& hidden, int t) {
        set_threads(t);
        const CfNade<float> m(ds.num_users(), {.hidden = hidden}, RowSide::item);
        Vector<float> theta(m.num_parameters());
        Rng rng(1);
        m.initialize(theta, rng);
        RowBatches src(items, 512, seed);
        Adam<float> opt({.lr = 1e-3});
        return fit(m, theta, opt, src, {.epochs = 1}).seconds;
      };
      std::string head =
          "\n## Speed (ML-1M ml1m-90-10 training rows, one epoch; wall seconds)\n\n"
          "| model | 1 thread | 2 threads | speed-up |\n|---|---|---|---|\n";
      std::printf("%s", head.c_str());
      md << head;
      auto speed_row = [&](const std::string& name, double one, double two) {
        char line[256];
        std::snprintf(line, sizeof line, "| %s | %.2f | %.2f | %.2f |\n", name.c_str(), one, two, one / two);
        std::printf("%s", line);
        md << line;
        csv << "speed,ml-1m," << name << ",ml1m-90-10,seconds_per_epoch_1_and_2_threads," << one << ' ' << two << ",,1,,,,,1 2,"
            << seed << ",\n";
      };
      speed_row("rbm-i, F 100, CD-1, batch 1000", rbm_epoch(100, 1, 1), rbm_epoch(100, 1, 2));
      speed_row("cf-nade-i, H 500, batch 512", nade_epoch({500}, 1), nade_epoch({500}, 2));
      head = "\nCD-k's cost (rbm-i, one thread): seconds per epoch and nanoseconds per (training rating × hidden unit × "
             "Gibbs step); the steps of the chain are the part proportional to k (the positive phase and the loss "
             "are paid once)\n\n| hidden F | k | s/epoch | ns per rating·F·k |\n|---|---|---|---|\n";
      std::printf("%s", head.c_str());
      md << head;
      for (const int F : {50, 100, 200})
        for (const int k : {1, 3, 5}) {
          const double s = rbm_epoch(F, k, 1);
          char line[256];
          std::snprintf(line, sizeof line, "| %d | %d | %.2f | %.3f |\n", F, k, s, 1e9 * s / (ratings * F * k));
          std::printf("%s", line);
          md << line;
          csv << "cd_cost,ml-1m,rbm-i,ml1m-90-10,seconds_per_epoch," << s << ",,1,,,,,1," << seed << ",\"hidden " << F
              << ", cd-steps " << k << "\"\n";
        }
      set_threads(threads);
      flush();
    }

    // --- SVG: test RMSE against training seconds (section 1) -----------------------------------
    if (!rating.empty()) {
      std::ostringstream svg;
      const double W = 640, H = 400, x0 = 60, y0 = 20, w = 540, h = 330, lo = 0.82, hi = 0.95;
      double tmax = 1;
      for (const auto& [m, r] : rating) {
        double t = 0;
        for (const auto& e : r.history) t += e.seconds;
        tmax = std::max(tmax, t);
      }
      svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
          << "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
          << "<text x=\"" << x0 << "\" y=\"14\">ml1m-90-10: test RMSE after each epoch vs training wall seconds</text>\n";
      for (double v = lo; v <= hi + 1e-9; v += 0.01) {
        const double y = y0 + h * (hi - v) / (hi - lo);
        svg << "<line x1=\"" << x0 << "\" x2=\"" << x0 + w << "\" y1=\"" << y << "\" y2=\"" << y
            << "\" stroke=\"#ddd\"/><text x=\"" << x0 - 40 << "\" y=\"" << y + 4 << "\">" << fmt(v, 2) << "</text>\n";
      }
      svg << "<text x=\"" << x0 + w / 2 << "\" y=\"" << H - 10 << "\">seconds (max " << fmt(tmax, 0) << ")</text>\n";
      const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};
      int c = 0;
      for (const auto& [m, r] : rating) {
        std::string pts;
        double t = 0;
        for (std::size_t e = 0; e < r.test_trace.size() && e < r.history.size(); ++e) {
          t += r.history[e].seconds;
          const double v = std::clamp(std::sqrt(r.test_trace[e].test_metric), lo, hi);
          pts += fmt(x0 + w * t / tmax, 1) + "," + fmt(y0 + h * (hi - v) / (hi - lo), 1) + " ";
        }
        svg << "<polyline fill=\"none\" stroke=\"" << colours[c % 4] << "\" stroke-width=\"2\" points=\"" << pts
            << "\"/>\n<text x=\"" << x0 + w - 90 << "\" y=\"" << y0 + 15 + 14 * c << "\" fill=\"" << colours[c % 4]
            << "\">" << m << "</text>\n";
        if (targets().count(m)) {
          const double y = y0 + h * (hi - targets().at(m).paper) / (hi - lo);
          svg << "<line x1=\"" << x0 << "\" x2=\"" << x0 + w << "\" y1=\"" << y << "\" y2=\"" << y << "\" stroke=\""
              << colours[c % 4] << "\" stroke-dasharray=\"4 3\"/>\n";
        }
        ++c;
      }
      svg << "</svg>\n";
      std::filesystem::path sp(svg_path);
      if (sp.has_parent_path()) std::filesystem::create_directories(sp.parent_path());
      metarec::detail::write_file_atomically(sp, svg.str(), "bench_bm");
    }
    flush();
    std::printf("\nCSV written to %s, Markdown to %s\n", out_path.c_str(), md_path.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_bm: %s\n", e.what());
    return 1;
  }
}
