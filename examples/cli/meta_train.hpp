#pragma once
// `metarec meta-train`: meta-train a cold-start model of the registry (registry/meta.hpp: mf-bias
// and mf-side with a shared, adapted user vector p0; melu with adapted decision layers) with MAML,
// first-order MAML, Reptile or Meta-SGD on the warm tasks of a MeLU protocol, then report query
// MAE / RMSE / nDCG@1 / nDCG@3 on the protocol's test tasks after K inner steps
// (report/task_scores.hpp). `--save` writes θ (and Meta-SGD's α) with the model configuration,
// for `metarec adapt`.

#include "args.hpp"
#include "registry_access.hpp"
#include "train.hpp"

#include <metarec/core/detail/json.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/movielens.hpp>
#include <metarec/data/protocols.hpp>
#include <metarec/registry/meta.hpp>
#include <metarec/registry/registry.hpp>
#include <metarec/report/task_scores.hpp>
#include <metarec/train/serialize.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace metarec::cli {

using report::QueryMetrics;

inline void print_meta_train_help(const registry::Registry& reg) {
  std::string models;
  for (const auto& m : reg.models())
    if (m.meta) models += (models.empty() ? "" : ", ") + m.name;
  std::printf(
      "usage: metarec meta-train --model M [--algo A] [options] [--json]\n\n"
      "Meta-trains a cold-start model on the warm tasks of a MeLU protocol and reports, for each\n"
      "scenario, the query MAE, RMSE, nDCG@1 and nDCG@3 of the test tasks after K inner steps on\n"
      "their support sets, and the meta-training time. Its options are the model's meta-learning\n"
      "options from the registry (`metarec meta-train --model M --help` lists them).\n\n"
      "  --model M         a meta-trainable model: %s (mf-bias)\n", models.c_str());
  const registry::ModelEntry& first = reg.find("mf-bias");
  for (const auto& o : first.meta.options) {
    if (o.name == "dims" || o.name == "reg" || o.name == "init-std") continue;  // model options below
    print_option(o, o.default_value, "");
  }
  std::printf(
      "  --protocol P      melu-warm, melu-user-cold, melu-item-cold, melu-user-item-cold, a\n"
      "                    comma-separated list, or all (melu-user-cold)\n"
      "  --data DIR        MovieLens directory (default: $METAREC_DATA or the shipped sample)\n"
      "  --threads T       OpenMP threads across the tasks of a meta-batch (1); same results\n"
      "  --seed S          seed of the protocol, initialisation and task order (42)\n"
      "  --save FILE       write theta (+ alpha for metasgd) and the model configuration\n"
      "  --log FILE        JSON lines: one object per meta-training epoch (query and validation\n"
      "                    loss, seconds), then one \"end\" object\n"
      "  --quiet           nothing on stderr (default: a line per epoch)\n"
      "  --json            print a JSON object as the last line\n\n"
      "model options (mf-bias, mf-side: --dims 16 --reg 0.01 --init-std 0.1; melu: --dims 32\n"
      "--hidden 64,64; autorec-u, deeprec, rbm-u, cf-nade-u: their train options such as --hidden;\n"
      "per model with --model M --help)\n");
}

inline void print_meta_model_help(const registry::ModelEntry& m, const std::string& protocol,
                                  const registry::Settings& user) {
  std::map<std::string, registry::SettingSource> src;
  const registry::Settings s = registry::resolve_meta_settings(m, protocol, user, &src);
  std::printf("usage: metarec meta-train --model %s [options] [--json]\n\n%s\noptions on %s (* = validated recipe):\n",
              m.name.c_str(), m.summary.c_str(), protocol.c_str());
  for (const auto& o : m.meta.options)
    print_option(o, s.text(o.name), src[o.name] == registry::SettingSource::recipe ? ", *" : "");
  if (const registry::Recipe* r = registry::meta_recipe(m, protocol, user)) std::printf("\n* %s\n", r->source.c_str());
}

inline std::string metrics_json(const QueryMetrics& q) {
  using metarec::detail::json_number;
  return "{\"mae\":" + json_number(q.mae) + ",\"rmse\":" + json_number(q.rmse) + ",\"ndcg@1\":" +
         json_number(q.ndcg1) + ",\"ndcg@3\":" + json_number(q.ndcg3) +
         ",\"tasks\":" + std::to_string(q.tasks) + ",\"rows\":" + std::to_string(q.rows) + "}";
}

inline int run_meta_train(const std::vector<std::string>& argv) {
  const registry::Registry& reg = cli_registry();
  std::string model_name = "mf-bias";
  bool help = false;
  for (std::size_t k = 0; k < argv.size(); ++k) {
    if (argv[k] == "--model" && k + 1 < argv.size()) model_name = argv[k + 1];
    help |= argv[k] == "--help" || argv[k] == "-h";
  }
  bool model_given = false;
  for (const auto& a : argv) model_given |= a == "--model";
  if (help && !model_given) {
    print_meta_train_help(reg);
    return 0;
  }
  const registry::ModelEntry& m = reg.find(model_name);
  if (!m.meta) {
    std::string list;
    for (const auto& e : reg.models())
      if (e.meta) list += (list.empty() ? "" : ", ") + e.name;
    throw UsageError("model '" + m.name + "' is not meta-trainable (meta-trainable: " + list + ")");
  }
  std::set<std::string> values{"--model", "--protocol", "--data", "--threads", "--seed", "--save", "--log"};
  for (const auto& o : m.meta.options) values.insert("--" + o.name);
  const Args args(argv, values, {"--quiet"});
  const std::vector<std::string> protocols = registry::melu_protocols(args.get_or("--protocol", "melu-user-cold"));
  registry::Settings user;
  for (const auto& o : m.meta.options)
    if (const auto v = args.get("--" + o.name)) user.set(o.name, *v);
  if (args.has("--help")) {
    print_meta_model_help(m, protocols.front(), user);
    return 0;
  }
  const registry::Settings settings = registry::resolve_meta_settings(m, protocols.front(), user);
  const std::uint64_t seed = args.number<std::uint64_t>("--seed", 42);
  registry::MetaConfig c = registry::MetaConfig::from(settings, seed);
  const int threads = args.number<int>("--threads", 1);
  if (threads < 1) throw UsageError("--threads must be >= 1");
  const std::string save = args.get_or("--save", "");
  const std::string log_path = args.get_or("--log", "");
  const bool json = args.has("--json"), quiet = args.has("--quiet");
#if defined(_OPENMP)
  omp_set_num_threads(threads);
#endif

  make_parent_dirs({save});
  std::ofstream log = open_log(log_path);
  // Progress and log observe the epochs; they change no result.
  using metarec::detail::json_number;
  if (!quiet || log.is_open())
    c.on_epoch = [&](const registry::MetaEpoch& e) {
      if (!quiet) {
        std::fprintf(stderr, "epoch %llu/%d: query loss %.4f", static_cast<unsigned long long>(e.epoch + 1), c.epochs,
                     e.query_loss);
        if (!std::isnan(e.validation_loss))
          std::fprintf(stderr, ", validation loss %.4f%s", e.validation_loss, e.improved ? " (best)" : "");
        std::fprintf(stderr, ", %.1f s\n", e.seconds);
      }
      if (log.is_open()) {
        log << "{\"event\":\"epoch\",\"epoch\":" << e.epoch << ",\"steps\":" << e.steps
            << ",\"query_loss\":" << json_number(e.query_loss) << ",\"validation_loss\":"
            << json_number(e.validation_loss) << ",\"best_validation_loss\":" << json_number(e.best_validation_loss)
            << ",\"improved\":" << (e.improved ? "true" : "false") << ",\"seconds\":" << json_number(e.seconds)
            << "}\n";
        log.flush();
      }
    };
  const std::string dir = default_data_dir(args);
  const Dataset ds = load_movielens(dir);
  std::vector<ProtocolSplit> splits;
  for (const auto& p : protocols) splits.push_back(make_protocol_split(p, ds, seed));
  // Every MeLU scenario meta-trains on the same warm tasks (same seed). With --valid-users F a
  // seeded fraction F of them is held out as validation tasks (early stopping with --patience),
  // and their ratings are left out of the global model: bench_cold_start's procedure.
  if (splits.front().train_tasks.empty())
    throw std::runtime_error("the protocol has no meta-training tasks on " + dir);
  std::vector<Task> train_tasks, val_tasks;
  hold_out_tasks(splits.front().train_tasks, c.valid_users, seed, train_tasks, val_tasks);
  const std::vector<RowIndex> warm_rows = rows_without_task_users(ds, splits.front().split.train, val_tasks);
  const double mean = ds.mean_rating(warm_rows);

  const std::unique_ptr<registry::MetaModel> model = m.meta.build(ds, settings, mean);
  Vector<float> theta;
  double pretrain_seconds = 0;
  const std::string start = settings.has("start") ? settings.text("start") : "global";
  const bool per_user = start == "per-user", own = start == "own";
  Vector<float> own_vectors;         // --start own: the per-user MF before the fold
  std::vector<char> trained_users;   // ... and which users it was trained on
  if (own) {
    // Existing users from their own vectors: the per-user MF, no meta-training; each test user it
    // saw starts from their own vector (bench_cold_start's row; registry::predict_tasks_own_users).
    if (c.pretrain_epochs < 1) throw UsageError("--start own needs --pretrain-epochs >= 1");
    if (c.epochs != 0)
      throw UsageError("--start own fine-tunes the per-user MF without meta-training: --epochs must be 0 (got " +
                       std::to_string(c.epochs) + ")");
    if (!quiet)
      std::fprintf(stderr, "training MF with a vector per user, %d epochs; existing users keep their own vectors\n",
                   c.pretrain_epochs);
    pretrain_seconds = model->fit_per_user(theta, warm_rows, c.pretrain_epochs, seed, &own_vectors);
    (void)model->zero_untrained(theta, warm_rows);
    trained_users.assign(ds.num_users(), 0);
    for (const RowIndex r : warm_rows) trained_users[ds.user(r)] = 1;
  } else if (per_user) {
    // mf-bias's per-user start: biased MF with a vector per user, folded into the mean user.
    if (c.pretrain_epochs < 1) throw UsageError("--start per-user needs --pretrain-epochs >= 1");
    if (!quiet)
      std::fprintf(stderr, "training biased MF with a vector per user, %d epochs, then folding it into the mean user\n",
                   c.pretrain_epochs);
    pretrain_seconds = model->fit_per_user(theta, warm_rows, c.pretrain_epochs, seed);
    // Parameters no training rating touches (new items' factors and biases) at 0, as for the global model.
    (void)model->zero_untrained(theta, warm_rows);
  } else if (c.pretrain_epochs > 0) {
    if (!quiet) std::fprintf(stderr, "pre-training the global model, %d epochs\n", c.pretrain_epochs);
    pretrain_seconds = model->fit_global(theta, warm_rows, c.pretrain_epochs, m.meta.global_fit(settings), seed);
    // Parameters no training rating touches (new items' factors, unseen categories) keep an
    // untrained random draw; 0 is the neutral value (docs/benchmarks.md).
    (void)model->zero_untrained(theta, warm_rows);
  } else {
    theta = model->initial(seed);
  }
  const registry::MetaRun run = model->meta_train(theta, c, train_tasks, val_tasks);
  if (log.is_open())
    log << "{\"event\":\"end\",\"epochs_run\":" << run.result.epochs << ",\"best_epoch\":"
        << (val_tasks.empty() ? std::string("null") : std::to_string(run.result.best_epoch))
        << ",\"early_stopped\":" << (run.result.early_stopped ? "true" : "false")
        << ",\"meta_train_seconds\":" << json_number(run.seconds) << ",\"pretrain_seconds\":"
        << json_number(pretrain_seconds) << "}\n";
  const Vector<float>* alpha = run.alpha.size() > 0 ? &run.alpha : nullptr;
  std::vector<QueryMetrics> results;
  std::vector<std::size_t> own_tasks;  // --start own: tasks per scenario that started from their own vector
  for (const auto& s : splits) {
    if (own) {
      results.push_back(report::score_tasks(
          ds, registry::predict_tasks_own_users(*model, theta, own_vectors, s.test_tasks, c.adapt_options(), trained_users)));
      own_tasks.push_back(static_cast<std::size_t>(std::count_if(
          s.test_tasks.begin(), s.test_tasks.end(), [&](const Task& t) { return trained_users[t.user] != 0; })));
    } else {
      results.push_back(report::score_tasks(ds, model->predict_tasks(theta, alpha, s.test_tasks, c.adapt_options())));
    }
  }
  if (!save.empty()) {
    Vector<float> payload(theta.size() + (alpha ? alpha->size() : 0));
    payload.head(theta.size()) = theta;
    if (alpha) payload.tail(alpha->size()) = *alpha;
    save_parameters<float>(save, registry::meta_file_model(m.name),
                           registry::meta_config_string(m.name, settings, mean, seed, dir, ds, alpha != nullptr),
                           payload);
  }
  std::printf("model %s  algo %s  data %s (%u users, %u items, %zu ratings)\n", m.name.c_str(),
              c.algo.c_str(), dir.c_str(), ds.num_users(), ds.num_items(), ds.num_ratings());
  std::printf("parameters %lld  inner %d steps x %g (%s)  outer Adam %g  meta-batch %u  epochs %d\n",
              static_cast<long long>(model->num_parameters()), c.inner_steps, c.inner_lr,
              c.adapt.c_str(), c.outer_lr, c.meta_batch, c.epochs);
  std::printf("meta-training %zu tasks, %.2f s (%d thread%s)", train_tasks.size(), run.seconds,
              threads, threads == 1 ? "" : "s");
  if (!val_tasks.empty() && run.result.epochs > 0)
    std::printf("; %zu validation tasks, %llu epochs run, best %llu", val_tasks.size(),
                static_cast<unsigned long long>(run.result.epochs),
                static_cast<unsigned long long>(run.result.best_epoch + 1));
  else if (!val_tasks.empty() && !own)
    std::printf("; %zu validation tasks (no meta-epoch: the global model, fine-tuned)", val_tasks.size());
  else if (!val_tasks.empty())
    std::printf("; %zu warm users held out (not trained on)", val_tasks.size());
  if (per_user)
    std::printf("; per-user MF %d epochs, folded, %.2f s", c.pretrain_epochs, pretrain_seconds);
  else if (own)
    std::printf("; per-user MF %d epochs, %.2f s; existing users from their own vectors", c.pretrain_epochs,
                pretrain_seconds);
  else if (c.pretrain_epochs > 0)
    std::printf("; pre-training %d epochs, %.2f s", c.pretrain_epochs, pretrain_seconds);
  std::printf("\n");
  std::printf("%-22s %6s %7s %7s %7s %7s\n", "scenario", "tasks", "MAE", "RMSE", "nDCG@1", "nDCG@3");
  for (std::size_t k = 0; k < splits.size(); ++k)
    std::printf("%-22s %6zu %7.4f %7.4f %7.4f %7.4f%s\n", protocols[k].c_str(), results[k].tasks,
                results[k].mae, results[k].rmse, results[k].ndcg1, results[k].ndcg3,
                own ? ("  (" + std::to_string(own_tasks[k]) + " from their own vector)").c_str() : "");
  if (!save.empty()) std::printf("saved %s\n", save.c_str());
  if (json) {
    std::string j = "{\"model\":" + metarec::detail::json_string(m.name) + ",\"data\":" +
                    metarec::detail::json_string(dir) + ",\"seed\":" + std::to_string(seed);
    for (const auto& o : m.meta.options) {
      std::string key = o.name;
      for (auto& ch : key)
        if (ch == '-') ch = '_';
      j += ",\"" + key + "\":" + setting_json(o, settings.text(o.name));
    }
    std::string scen;
    for (std::size_t k = 0; k < splits.size(); ++k) {
      if (k) scen += ',';
      scen += metarec::detail::json_string(protocols[k]);
      scen += ':';
      scen += metrics_json(results[k]);
    }
    j += ",\"parameters\":" + std::to_string(model->num_parameters()) + ",\"train_tasks\":" +
         std::to_string(train_tasks.size()) + ",\"validation_tasks\":" + std::to_string(val_tasks.size()) +
         ",\"epochs_run\":" + std::to_string(run.result.epochs) + ",\"meta_train_seconds\":" +
         metarec::detail::json_number(run.seconds) + ",\"pretrain_seconds\":" +
         metarec::detail::json_number(pretrain_seconds) + ",\"scenarios\":{" + scen + "}}";
    std::printf("%s\n", j.c_str());
  }
  return 0;
}

}  // namespace metarec::cli
