#pragma once
/// @file meta.hpp
/// @brief The meta-learners of the registry: the cold-start models (mf-bias and mf-side with a
/// shared, adapted user vector p0; melu with adapted decision layers), the ONE table from an
/// algorithm's name to its policy (`with_algorithm`), meta-training from a random initialisation
/// or from the global model, and the configuration written into a meta-model file. Used by
/// `metarec meta-train` and `adapt`, bench_cold_start and the flagship example.

#include <metarec/core/detail/json.hpp>
#include <metarec/core/error.hpp>
#include <metarec/data/dataset.hpp>
#include <metarec/data/split.hpp>
#include <metarec/data/tasks.hpp>
#include <metarec/meta/adapt.hpp>
#include <metarec/meta/maml.hpp>
#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/models/mf/side_feature_mf.hpp>
#include <metarec/models/mlp/melu.hpp>
#include <metarec/optim/adam.hpp>
#include <metarec/optim/sgd.hpp>
#include <metarec/train/serialize.hpp>
#include <metarec/train/trainer.hpp>

#include <chrono>
#include <map>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace metarec::registry {

/// Everything `metarec meta-train` can set. Negative numbers mean "the model's default".
struct MetaConfig {
  std::string model = "mf-bias";  ///< mf-bias | mf-side | melu
  std::string algo = "maml";      ///< maml | fomaml | reptile | metasgd
  int inner_steps = 5;
  double inner_lr = -1;           ///< mf: 0.5, melu: 0.05
  double outer_lr = -1;           ///< mf: 0.01, melu: 0.001
  std::uint32_t meta_batch = 32;
  int epochs = 10;
  std::string adapt = "local";    ///< local (p0/b0 or the decision layers) | all
  int dims = -1;                  ///< MF latent dims (16) / MeLU embedding width (32)
  std::vector<Eigen::Index> hidden = {64, 64};  ///< MeLU decision layers
  double reg = 0.01;              ///< MF L2
  double init_std = 0.1;          ///< MF factors start N(0, init_std²)
  int pretrain_epochs = 0;        ///< > 0: start meta-training from the global model (fit_global)
  int patience = 0;               ///< early stopping on validation tasks (0: off; needs validation)
  std::uint64_t seed = 42;
  int threads = 1;
};

inline bool is_mf(const std::string& model) { return model == "mf-bias" || model == "mf-side"; }

/// Fills the model-dependent defaults.
inline MetaConfig with_defaults(MetaConfig c) {
  const bool mf = is_mf(c.model);
  if (c.inner_lr < 0) c.inner_lr = mf ? 0.5 : 0.05;
  if (c.outer_lr < 0) c.outer_lr = mf ? 0.01 : 0.001;
  if (c.dims < 0) c.dims = mf ? 16 : 32;
  return c;
}

inline const std::vector<std::string>& meta_model_names() {
  static const std::vector<std::string> n{"mf-bias", "mf-side", "melu"};
  return n;
}
/// The algorithm names `with_algorithm` knows.
inline const std::vector<std::string>& meta_algo_names() {
  static const std::vector<std::string> n{"maml", "fomaml", "reptile", "metasgd"};
  return n;
}

/// Builds the model named by `c.model` on `ds` (μ = `mean`) and calls `f(model)`.
template <class F>
decltype(auto) with_meta_model(const MetaConfig& c, const Dataset& ds, double mean, F&& f) {
  if (c.model == "mf-bias") {
    const MatrixFactorization<float> m(
        ds.num_users(), ds.num_items(),
        {.dims = c.dims, .biases = true, .reg = c.reg, .bias_reg = c.reg, .init_std = c.init_std,
         .global_mean = mean, .shared_user = true});
    return f(m);
  }
  if (c.model == "mf-side") {
    const SideFeatureMF<float> m(ds, {.dims = c.dims, .reg = c.reg, .bias_reg = c.reg,
                                      .feature_reg = c.reg, .init_std = c.init_std,
                                      .global_mean = mean,
                                      .shared_user = true});
    return f(m);
  }
  if (c.model == "melu") {
    MeluModelOptions o;
    o.embedding_dim = c.dims;
    o.hidden = c.hidden;
    const Melu<float> m(ds, o);
    return f(m);
  }
  std::string known;
  for (const auto& n : meta_model_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown --model '" + c.model + "' (known: " + known + ")");
}

/// The one table from an algorithm's name (maml, fomaml, reptile, metasgd) to its policy: calls
/// `f(std::type_identity<Policy>{})` and returns what it returns.
/// @throws std::invalid_argument on an unknown name, listing the known ones.
template <class F>
decltype(auto) with_algorithm(const std::string& name, F&& f) {
  if (name == "maml") return f(std::type_identity<SecondOrderMaml>{});
  if (name == "fomaml") return f(std::type_identity<FirstOrderMaml>{});
  if (name == "reptile") return f(std::type_identity<Reptile>{});
  if (name == "metasgd") return f(std::type_identity<MetaSgd>{});
  throw std::invalid_argument("unknown --algo '" + name + "' (known: maml, fomaml, reptile, metasgd)");
}

inline AdaptOptions adapt_options(const MetaConfig& c) {
  return AdaptOptions{.steps = c.inner_steps, .lr = c.inner_lr,
                      .adapted = c.adapt == "all" ? AdaptedSet::all : AdaptedSet::local};
}

template <class M>
double fit_global(const M& model, Vector<float>& theta, const Dataset& ds,
                  std::span<const RowIndex> rows, const MetaConfig& c, int epochs);

/// The result of meta-training.
struct MetaRun {
  double seconds = 0;           ///< meta-training (outer loop) seconds
  double pretrain_seconds = 0;  ///< global pre-training seconds (pretrain_epochs > 0)
  Vector<float> alpha;  ///< Meta-SGD's learned α (empty otherwise)
  MamlResult result;
};

/// Meta-trains θ with `Algorithm`; with `validation` tasks, θ ends as the epoch with the lowest
/// mean validation query loss (early stopping after `c.patience` epochs without improvement).
template <class Algorithm, class M>
MetaRun meta_train_with(const M& model, Vector<float>& theta, const Dataset& ds,
                        std::span<const Task> tasks, const MetaConfig& c,
                        std::span<const Task> validation = {}) {
  MamlOptions o;
  o.inner_steps = c.inner_steps;
  o.inner_lr = c.inner_lr;
  o.adapted = c.adapt == "all" ? AdaptedSet::all : AdaptedSet::local;
  o.epochs = static_cast<std::uint64_t>(c.epochs);
  o.seed = c.seed;
  o.patience = c.patience;
  Maml<M, Algorithm> maml(model, o, Adam<float>(AdamOptions{.lr = c.outer_lr}));
  TaskSampler sampler(tasks, c.meta_batch, c.seed);
  MetaRun run;
  const auto t0 = std::chrono::steady_clock::now();
  run.result = maml.train(theta, ds, sampler, validation);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if constexpr (Algorithm::learns_alpha) run.alpha = maml.alpha();
  return run;
}

/// Meta-trains θ with `c.algo` on `tasks`. θ starts from the seed's random initialisation, or,
/// with `c.pretrain_epochs > 0`, from the global model fitted on `pretrain_rows`.
template <class M>
MetaRun meta_train_model(const M& model, Vector<float>& theta, const Dataset& ds,
                         std::span<const Task> tasks, const MetaConfig& c,
                         std::span<const RowIndex> pretrain_rows = {}) {
  double pre = 0;
  if (c.pretrain_epochs > 0) {
    pre = fit_global(model, theta, ds, pretrain_rows, c, c.pretrain_epochs);
  } else {
    theta.resize(model.num_parameters());
    Rng rng(derive_seed(c.seed, 0x494E4954u));  // "INIT"
    model.initialize(theta, rng);
  }
  MetaRun run = with_algorithm(c.algo, [&]<class Algorithm>(std::type_identity<Algorithm>) {
    return meta_train_with<Algorithm>(model, theta, ds, tasks, c);
  });
  run.pretrain_seconds = pre;
  return run;
}

/// The non-meta baseline: the same model trained on the pooled rows (`fit`). MF: per-rating SGD;
/// MeLU: Adam on mini-batches. Returns the training seconds.
template <class M>
double fit_global(const M& model, Vector<float>& theta, const Dataset& ds,
                  std::span<const RowIndex> rows, const MetaConfig& c, int epochs) {
  theta.resize(model.num_parameters());
  Rng rng(derive_seed(c.seed, 0x494E4954u));
  model.initialize(theta, rng);
  TrainResult r;
  if (is_mf(c.model)) {
    Sgd<float> opt{SgdOptions{.lr = 0.01}};
    r = fit(model, theta, opt, ds, rows, TrainOptions{.epochs = epochs, .batch_size = 1, .seed = c.seed});
  } else {
    Adam<float> opt{AdamOptions{.lr = 1e-3}};
    r = fit(model, theta, opt, ds, rows, TrainOptions{.epochs = epochs, .batch_size = 64, .seed = c.seed});
  }
  return r.seconds;
}

/// Protocol names from `--protocol`: one name, a comma-separated list, or `all` (the four MeLU
/// scenarios).
inline std::vector<std::string> melu_protocols(const std::string& spec) {
  if (spec == "all") return {"melu-warm", "melu-user-cold", "melu-item-cold", "melu-user-item-cold"};
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto comma = spec.find(',', start);
    out.push_back(spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  for (const auto& p : out)
    if (p.rfind("melu-", 0) != 0)
      throw std::invalid_argument("--protocol: '" + p + "' is not a MeLU protocol (melu-warm, melu-user-cold, "
                       "melu-item-cold, melu-user-item-cold or all)");
  return out;
}

/// The configuration stored in a saved meta-model (key=value lines), and its reader.
inline std::string meta_config_string(const MetaConfig& c, double mean, const std::string& data,
                                      const Dataset& ds, bool has_alpha) {
  std::ostringstream s;
  s << "model=" << c.model << "\nalgo=" << c.algo << "\ninner_steps=" << c.inner_steps
    << "\ninner_lr=" << metarec::detail::json_number(c.inner_lr) << "\nadapt=" << c.adapt
    << "\ndims=" << c.dims << "\nhidden=";
  for (std::size_t k = 0; k < c.hidden.size(); ++k) s << (k ? "," : "") << c.hidden[k];
  const DataFingerprint fp = data_fingerprint(ds);
  s << "\nreg=" << metarec::detail::json_number(c.reg)
    << "\ninit_std=" << metarec::detail::json_number(c.init_std)
    << "\nglobal_mean=" << metarec::detail::json_number(mean) << "\nseed=" << c.seed
    << "\nalpha=" << (has_alpha ? 1 : 0) << "\ndata=" << data << "\nusers=" << ds.num_users()
    << "\nitems=" << ds.num_items() << "\nfingerprint=" << fp.ratings << ':' << fp.hash << '\n';
  return s.str();
}

inline std::map<std::string, std::string> parse_config(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return kv;
}

/// Parameter-file model name of a meta-trained model.
inline std::string meta_file_model(const std::string& model) { return "meta:" + model; }

}  // namespace metarec::registry
