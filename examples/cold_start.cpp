// Cold-start recommendation with MAML: the flagship example.
//
// A new user arrives with a handful of ratings (the support set). We want good predictions for
// the other movies they will rate (the query set). Six ways of doing it, on the MeLU protocols:
//   1. a global model trained on everybody's ratings, used as is;
//   2. the same global model fine-tuned on the new user's support set (same inner steps);
//   3-6. meta-learning an initialisation that adapts well in those few steps: first-order MAML,
//        second-order MAML, Reptile and Meta-SGD (which also learns a step size per parameter).
// The model is SVDFeature-style MF with side features and one shared user vector p0, which the
// inner loop adapts (with the user bias b0) into the new user's vector.
//
//   cold_start [--data DIR] [--all-scenarios] [--quick] [--epochs E] [--seed S]
// DIR defaults to $METAREC_DATA, else the shipped synthetic sample data/sample.

#include <metarec/data/movielens.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/meta/maml.hpp>
#include <metarec/metrics/full_ranking.hpp>
#include <metarec/metrics/regression.hpp>
#include <metarec/models/mf/side_feature_mf.hpp>
#include <metarec/optim/adam.hpp>
#include <metarec/optim/sgd.hpp>
#include <metarec/train/trainer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

using Model = metarec::SideFeatureMF<float>;
using Theta = metarec::Vector<float>;

namespace {

struct Row {  // one line of the table
  std::string method;
  double mae = 0, rmse = 0, ndcg1 = 0, ndcg3 = 0, seconds = 0;
};

// Adapts θ to each test task's support set, predicts its query set, and scores the predictions.
Row evaluate(const Model& model, const Theta& theta, const metarec::Dataset& ds,
             const std::vector<metarec::Task>& tasks, const metarec::AdaptOptions& inner,
             const Theta* alpha = nullptr) {
  std::vector<metarec::RowIndex> rows;
  std::vector<float> truth, pred;
  for (const metarec::Task& task : tasks) {
    const metarec::RatingBatch support{&ds, task.support}, query{&ds, task.query};
    const Theta user_theta = metarec::adapt(model, theta, support, inner, alpha);  // θ' for this user
    Theta p(static_cast<Eigen::Index>(task.query.size()));
    model.predict(user_theta, query, p);
    for (std::size_t k = 0; k < task.query.size(); ++k) {
      rows.push_back(task.query[k]);
      truth.push_back(ds.rating(task.query[k]));
      pred.push_back(std::clamp(p[static_cast<Eigen::Index>(k)], 1.0f, 5.0f));
    }
  }
  const std::vector<std::size_t> ks{1, 3};
  const auto ndcg = metarec::metrics::evaluate_query_ndcg(ds, rows, pred, ks);  // MeLU's nDCG
  return {"", metarec::metrics::mae(truth, pred), metarec::metrics::rmse(truth, pred), ndcg.mean[0],
          ndcg.mean[1], 0.0};
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Meta-trains θ (starting from the given θ) with one algorithm of the MAML family; returns the
// seconds taken.
template <class Algorithm>
double meta_train(const Model& model, Theta& theta, Theta& alpha, const metarec::Dataset& ds,
                  const std::vector<metarec::Task>& tasks, const metarec::MamlOptions& options) {
  metarec::Maml<Model, Algorithm> maml(model, options, metarec::Adam<float>({.lr = 0.001}));
  metarec::TaskSampler sampler(tasks, /*meta_batch=*/32, /*seed=*/7);
  const auto t0 = std::chrono::steady_clock::now();
  (void)maml.train(theta, ds, sampler);
  alpha = maml.alpha();  // Meta-SGD's learned per-parameter step sizes (empty for the others)
  return seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) try {
  std::string dir = std::getenv("METAREC_DATA") ? std::getenv("METAREC_DATA") : "";
  bool all_scenarios = false, quick = false;
  std::uint64_t epochs = 10, seed = 42;
  for (int k = 1; k < argc; ++k) {
    const std::string a = argv[k];
    if (a == "--data" && k + 1 < argc) dir = argv[++k];
    else if (a == "--all-scenarios") all_scenarios = true;
    else if (a == "--quick") quick = true;
    else if ((a == "--epochs" || a == "--seed") && k + 1 < argc) {
      char* end = nullptr;
      const std::string v = argv[++k];
      const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || v[0] == '-') {
        std::fprintf(stderr, "cold_start: %s: expected a non-negative integer, got '%s'\n", a.c_str(), v.c_str());
        return 2;
      }
      (a == "--epochs" ? epochs : seed) = x;
    } else {
      std::fprintf(stderr, "usage: cold_start [--data DIR] [--all-scenarios] [--quick] [--epochs E] [--seed S]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  if (dir.empty()) dir = METAREC_SOURCE_DIR "/data/sample";
  if (quick) epochs = 2;

  const metarec::Dataset ds = metarec::load_movielens(dir);
  std::printf("data %s: %u users, %u items, %zu ratings\n", dir.c_str(), ds.num_users(),
              ds.num_items(), ds.num_ratings());
  std::vector<std::string> scenarios{"melu-user-cold"};
  if (all_scenarios) scenarios = {"melu-warm", "melu-user-cold", "melu-item-cold", "melu-user-item-cold"};

  // Meta-training uses the warm users' tasks, which are the same for every scenario (same seed).
  const metarec::ProtocolSplit cold = metarec::make_protocol_split("melu-user-cold", ds, seed);
  const Model model(ds, {.dims = 16, .reg = 0.01, .bias_reg = 0.01, .feature_reg = 0.01,
                         .global_mean = ds.mean_rating(cold.split.train), .shared_user = true});
  const metarec::MamlOptions options{.inner_steps = 5, .inner_lr = 0.5,
                                     .adapted = metarec::AdaptedSet::local,  // p0 and b0
                                     .epochs = epochs, .seed = seed};
  const metarec::AdaptOptions inner{.steps = options.inner_steps, .lr = options.inner_lr,
                                    .adapted = options.adapted};
  const metarec::AdaptOptions no_adaptation{.steps = 0};

  // Baselines 1-2: one global model trained on the pooled warm ratings with plain SGD.
  Theta global(model.num_parameters()), alpha;
  metarec::Rng rng(1);
  model.initialize(global, rng);
  metarec::Sgd<float> sgd({.lr = 0.01});
  const metarec::TrainResult fitted = metarec::fit(
      model, global, sgd, ds, cold.split.train,
      metarec::TrainOptions{.epochs = quick ? 3 : 20, .batch_size = 1, .seed = seed});

  // 3-6: the meta-learners.
  struct Meta { const char* name; Theta theta; Theta alpha; double seconds; };
  std::vector<Meta> metas{{"first-order MAML", {}, {}, 0}, {"second-order MAML", {}, {}, 0},
                          {"Reptile", {}, {}, 0}, {"Meta-SGD", {}, {}, 0}};
  // Meta-training starts from the global model (pre-training), so the meta-learners only have to
  // learn where to put p0, b0 (and the items) for fast adaptation.
  for (Meta& m : metas) m.theta = global;
  const auto& tasks = cold.train_tasks;
  metas[0].seconds = meta_train<metarec::FirstOrderMaml>(model, metas[0].theta, metas[0].alpha, ds, tasks, options);
  metas[1].seconds = meta_train<metarec::SecondOrderMaml>(model, metas[1].theta, metas[1].alpha, ds, tasks, options);
  metas[2].seconds = meta_train<metarec::Reptile>(model, metas[2].theta, metas[2].alpha, ds, tasks, options);
  metas[3].seconds = meta_train<metarec::MetaSgd>(model, metas[3].theta, metas[3].alpha, ds, tasks, options);

  std::printf("model SideFeatureMF (shared user p0, %lld parameters); %zu meta-training tasks; "
              "inner loop: %d steps x %.2g on p0, b0; %llu epochs\n",
              static_cast<long long>(model.num_parameters()), tasks.size(), inner.steps, inner.lr,
              static_cast<unsigned long long>(epochs));
  for (const std::string& scenario : scenarios) {
    const metarec::ProtocolSplit p = metarec::make_protocol_split(scenario, ds, seed);
    std::vector<Row> table;
    table.push_back(evaluate(model, global, ds, p.test_tasks, no_adaptation));
    table.back().method = "global, no adaptation";
    table.back().seconds = fitted.seconds;
    table.push_back(evaluate(model, global, ds, p.test_tasks, inner));
    table.back().method = "global + fine-tuning";
    table.back().seconds = fitted.seconds;
    for (const Meta& m : metas) {
      table.push_back(evaluate(model, m.theta, ds, p.test_tasks, inner, m.alpha.size() ? &m.alpha : nullptr));
      table.back().method = m.name;
      table.back().seconds = m.seconds;
    }
    std::printf("\n%s: %zu test users (support = all but 10 ratings, query = 10)\n", scenario.c_str(),
                p.test_tasks.size());
    std::printf("| %-22s | %6s | %6s | %6s | %6s | %8s |\n", "method", "MAE", "RMSE", "nDCG@1",
                "nDCG@3", "train s");
    std::printf("|%s|%s|%s|%s|%s|%s|\n", "------------------------", "-------:", "-------:",
                "-------:", "-------:", "---------:");
    for (const Row& r : table)
      std::printf("| %-22s | %6.4f | %6.4f | %6.4f | %6.4f | %8.2f |\n", r.method.c_str(), r.mae,
                  r.rmse, r.ndcg1, r.ndcg3, r.seconds);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "cold_start: %s\n", e.what());
  return 1;
}
