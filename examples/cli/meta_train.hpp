#pragma once
// `metarec meta-train`: meta-train a cold-start model of the registry (registry/meta.hpp: mf-bias
// and mf-side with a shared, adapted user vector p0; melu with adapted decision layers) with MAML,
// first-order MAML, Reptile or Meta-SGD on the warm tasks of a MeLU protocol, then report query
// MAE / RMSE / nDCG@1 / nDCG@3 on the protocol's test tasks after K inner steps
// (report/task_scores.hpp). `--save` writes θ (and Meta-SGD's α) with the model configuration,
// for `metarec adapt`.

#include "args.hpp"

#include <metarec/data/dataset.hpp>
#include <metarec/data/movielens.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/registry/meta.hpp>
#include <metarec/report/task_scores.hpp>
#include <metarec/train/serialize.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace metarec::cli {

using registry::adapt_options;
using registry::MetaConfig;
using registry::meta_algo_names;
using registry::meta_config_string;
using registry::meta_file_model;
using registry::meta_model_names;
using registry::meta_train_model;
using registry::MetaRun;
using registry::melu_protocols;
using registry::parse_config;
using registry::with_defaults;
using registry::with_meta_model;
using report::QueryMetrics;

inline void print_meta_train_help() {
  std::printf(
      "usage: metarec meta-train --model M --algo A [options] [--json]\n\n"
      "Meta-trains a cold-start model on the warm tasks of a MeLU protocol and reports, for each\n"
      "scenario, the query MAE, RMSE, nDCG@1 and nDCG@3 of the test tasks after K inner steps on\n"
      "their support sets, and the meta-training time.\n\n"
      "  --model M         mf-bias, mf-side (both with a shared, adapted user vector p0) or melu\n"
      "  --algo A          maml (second order), fomaml, reptile or metasgd (maml)\n"
      "  --inner-steps K   inner gradient steps per task (5)\n"
      "  --inner-lr A      inner step size (mf: 0.5, melu: 0.05)\n"
      "  --outer-lr B      Adam step size of the outer loop (mf: 0.01, melu: 0.001)\n"
      "  --meta-batch N    tasks per outer step (32)\n"
      "  --epochs E        passes over the meta-training tasks (10)\n"
      "  --protocol P      melu-warm, melu-user-cold, melu-item-cold, melu-user-item-cold, a\n"
      "                    comma-separated list, or all (melu-user-cold)\n"
      "  --data DIR        MovieLens directory (default: $METAREC_DATA or the shipped sample)\n"
      "  --adapt all|local what the inner loop adapts: local = p0, b0 (mf) or the decision layers\n"
      "                    (melu); all = every parameter the support set touches (local)\n"
      "  --dims D          MF latent dims (16) / MeLU embedding width (32)\n"
      "  --hidden LIST     MeLU decision layers (64,64)\n"
      "  --reg X           MF L2 regularisation (0.01)\n"
      "  --init-std X      MF factors start N(0, X^2) (0.1)\n"
      "  --pretrain-epochs N  start from the global model trained N epochs on the pooled warm\n"
      "                    ratings (0: random initialisation)\n"
      "  --threads T       OpenMP threads across the tasks of a meta-batch (1); same results\n"
      "  --seed S          seed of the protocol, initialisation and task order (42)\n"
      "  --save FILE       write theta (+ alpha for metasgd) and the model configuration\n"
      "  --json            print a JSON object as the last line\n");
}

inline std::string metrics_json(const QueryMetrics& q) {
  using metarec::detail::json_number;
  return "{\"mae\":" + json_number(q.mae) + ",\"rmse\":" + json_number(q.rmse) + ",\"ndcg@1\":" +
         json_number(q.ndcg1) + ",\"ndcg@3\":" + json_number(q.ndcg3) +
         ",\"tasks\":" + std::to_string(q.tasks) + ",\"rows\":" + std::to_string(q.rows) + "}";
}

inline int run_meta_train(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {"--model", "--algo", "--inner-steps", "--inner-lr", "--outer-lr", "--meta-batch",
                   "--epochs", "--protocol", "--data", "--adapt", "--threads", "--seed", "--save",
                   "--dims", "--hidden", "--reg", "--pretrain-epochs", "--init-std"},
                  {});
  if (args.has("--help")) {
    print_meta_train_help();
    return 0;
  }
  MetaConfig c;
  c.model = args.get_or("--model", c.model);
  c.algo = args.get_or("--algo", c.algo);
  c.inner_steps = args.number<int>("--inner-steps", c.inner_steps);
  c.inner_lr = args.number<double>("--inner-lr", c.inner_lr);
  c.outer_lr = args.number<double>("--outer-lr", c.outer_lr);
  c.meta_batch = args.number<std::uint32_t>("--meta-batch", c.meta_batch);
  c.epochs = args.number<int>("--epochs", c.epochs);
  c.adapt = args.get_or("--adapt", c.adapt);
  c.threads = args.number<int>("--threads", c.threads);
  c.seed = args.number<std::uint64_t>("--seed", c.seed);
  c.dims = args.number<int>("--dims", c.dims);
  c.hidden = args.list<Eigen::Index>("--hidden", c.hidden);
  c.reg = args.number<double>("--reg", c.reg);
  c.pretrain_epochs = args.number<int>("--pretrain-epochs", c.pretrain_epochs);
  c.init_std = args.number<double>("--init-std", c.init_std);
  const std::string save = args.get_or("--save", "");
  const bool json = args.has("--json");
  bool known_model = false, known_algo = false;
  for (const auto& n : meta_model_names()) known_model |= n == c.model;
  for (const auto& n : meta_algo_names()) known_algo |= n == c.algo;
  if (!known_model) throw UsageError("unknown --model '" + c.model + "' (known: mf-bias, mf-side, melu)");
  if (!known_algo)
    throw UsageError("unknown --algo '" + c.algo + "' (known: maml, fomaml, reptile, metasgd)");
  if (c.adapt != "all" && c.adapt != "local")
    throw UsageError("--adapt must be all or local (got '" + c.adapt + "')");
  if (c.inner_steps < 0) throw UsageError("--inner-steps must be >= 0");
  if (args.has("--inner-lr") && !(c.inner_lr > 0)) throw UsageError("--inner-lr must be > 0");
  if (args.has("--outer-lr") && !(c.outer_lr > 0)) throw UsageError("--outer-lr must be > 0");
  if (c.meta_batch < 1) throw UsageError("--meta-batch must be >= 1");
  if (c.epochs < 0) throw UsageError("--epochs must be >= 0");
  if (!(c.init_std >= 0)) throw UsageError("--init-std must be >= 0");
  if (c.pretrain_epochs < 0) throw UsageError("--pretrain-epochs must be >= 0");
  if (c.threads < 1) throw UsageError("--threads must be >= 1");
  if (args.has("--dims") && c.dims < 1) throw UsageError("--dims must be >= 1");
  for (const auto h : c.hidden)
    if (h < 1) throw UsageError("--hidden: every size must be >= 1");
  c = with_defaults(c);
  const std::vector<std::string> protocols = melu_protocols(args.get_or("--protocol", "melu-user-cold"));
#if defined(_OPENMP)
  omp_set_num_threads(c.threads);
#endif

  if (!save.empty() && std::filesystem::path(save).has_parent_path())
    std::filesystem::create_directories(std::filesystem::path(save).parent_path());
  const std::string dir = default_data_dir(args);
  const Dataset ds = load_movielens(dir);
  std::vector<ProtocolSplit> splits;
  for (const auto& p : protocols) splits.push_back(make_protocol_split(p, ds, c.seed));
  // Every MeLU scenario meta-trains on the same warm tasks (same seed).
  const std::vector<Task>& train_tasks = splits.front().train_tasks;
  if (train_tasks.empty())
    throw std::runtime_error("the protocol has no meta-training tasks on " + dir);
  const double mean = ds.mean_rating(splits.front().split.train);

  return with_meta_model(c, ds, mean, [&](const auto& model) {
    Vector<float> theta;
    const MetaRun run = meta_train_model(model, theta, ds, train_tasks, c, splits.front().split.train);
    const Vector<float>* alpha = run.alpha.size() > 0 ? &run.alpha : nullptr;
    std::vector<QueryMetrics> results;
    for (const auto& s : splits)
      results.push_back(report::adapt_and_score(model, theta, ds, s.test_tasks, adapt_options(c), alpha));
    if (!save.empty()) {
      Vector<float> payload(theta.size() + (alpha ? alpha->size() : 0));
      payload.head(theta.size()) = theta;
      if (alpha) payload.tail(alpha->size()) = *alpha;
      save_parameters<float>(save, meta_file_model(c.model),
                             meta_config_string(c, mean, dir, ds, alpha != nullptr), payload);
    }
    std::printf("model %s  algo %s  data %s (%u users, %u items, %zu ratings)\n", c.model.c_str(),
                c.algo.c_str(), dir.c_str(), ds.num_users(), ds.num_items(), ds.num_ratings());
    std::printf("parameters %lld  inner %d steps x %g (%s)  outer Adam %g  meta-batch %u  epochs %d\n",
                static_cast<long long>(model.num_parameters()), c.inner_steps, c.inner_lr,
                c.adapt.c_str(), c.outer_lr, c.meta_batch, c.epochs);
    std::printf("meta-training %zu tasks, %.2f s (%d thread%s)", train_tasks.size(), run.seconds,
                c.threads, c.threads == 1 ? "" : "s");
    if (c.pretrain_epochs > 0)
      std::printf("; pre-training %d epochs, %.2f s", c.pretrain_epochs, run.pretrain_seconds);
    std::printf("\n");
    std::printf("%-22s %6s %7s %7s %7s %7s\n", "scenario", "tasks", "MAE", "RMSE", "nDCG@1", "nDCG@3");
    for (std::size_t k = 0; k < splits.size(); ++k)
      std::printf("%-22s %6zu %7.4f %7.4f %7.4f %7.4f\n", protocols[k].c_str(), results[k].tasks,
                  results[k].mae, results[k].rmse, results[k].ndcg1, results[k].ndcg3);
    if (!save.empty()) std::printf("saved %s\n", save.c_str());
    if (json) {
      std::string scen;
      for (std::size_t k = 0; k < splits.size(); ++k)
        scen += (k ? "," : "") + ("\"" + protocols[k] + "\":" + metrics_json(results[k]));
      std::printf(
          "{\"model\":\"%s\",\"algo\":\"%s\",\"data\":\"%s\",\"seed\":%llu,\"inner_steps\":%d,"
          "\"inner_lr\":%s,\"outer_lr\":%s,\"meta_batch\":%u,\"epochs\":%d,\"adapt\":\"%s\","
          "\"parameters\":%lld,\"train_tasks\":%zu,\"meta_train_seconds\":%s,\"pretrain_epochs\":%d,"
          "\"pretrain_seconds\":%s,\"scenarios\":{%s}}\n",
          c.model.c_str(), c.algo.c_str(), json_escape(dir).c_str(),
          static_cast<unsigned long long>(c.seed), c.inner_steps,
          metarec::detail::json_number(c.inner_lr).c_str(),
          metarec::detail::json_number(c.outer_lr).c_str(), c.meta_batch, c.epochs,
          c.adapt.c_str(), static_cast<long long>(model.num_parameters()), train_tasks.size(),
          metarec::detail::json_number(run.seconds).c_str(), c.pretrain_epochs,
          metarec::detail::json_number(run.pretrain_seconds).c_str(), scen.c_str());
    }
    return 0;
  });
}

}  // namespace metarec::cli
