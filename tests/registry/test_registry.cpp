// The registry's settings (defaults < validated recipe < user), its checks and messages, and the
// training drivers on tiny data (a toy whole-row model, biased MF).

#include <metarec/data/protocols.hpp>
#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/registry/meta.hpp>
#include <metarec/registry/mf.hpp>
#include <metarec/models/mf/shared_user.hpp>
#include <metarec/optim/sgd.hpp>
#include <metarec/registry/model_entry.hpp>
#include <metarec/registry/registry.hpp>
#include <metarec/registry/train_driver.hpp>

#include "meta/whole_row_toy.hpp"
#include "models/tiny_data.hpp"

#include <catch.hpp>

#include <cmath>

using namespace metarec;
using namespace metarec::registry;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_registry {

namespace {

ModelEntry toy_entry() {
  ModelEntry e;
  e.name = "toy";
  e.family = Family::autoencoder;
  e.summary = "linear item-item toy";
  e.protocols = {"seed-mf", "ml1m-90-10", "seed-ae"};
  e.options = fit_options({.epochs = "5", .lr = "0.05", .batch = "2", .optimizer = "adam",
                           .patience = "2", .valid_frac = "0.2", .negatives = "4"});
  e.options.push_back({"reg", OptionKind::number, "0.01", "L2 on W", {}, 0});
  e.options.push_back({"mode", OptionKind::word, "a", "a word", {"a", "b"}});
  e.recipes = {{"seed-mf", {{"epochs", "7"}, {"reg", "0.02"}}, "a test recipe"}};
  e.train = [](const TrainRequest& r) {
    return train_whole_rows(
        [&](const Split&) { return test::LinearItemItem<float>(r.data.num_items(), r.settings.number("reg")); },
        r, FitPlan::from(r.settings), evaluation_of(r.protocol), RowSide::user);
  };
  return e;
}

}  // namespace

TEST_CASE("registry settings: option defaults, then the protocol's recipe, then the user", "[registry]") {
  const ModelEntry e = toy_entry();
  std::map<std::string, SettingSource> src;
  const Settings s = resolve_settings(e, "seed-mf", Settings{{"lr", "0.1"}}, &src);
  CHECK(s.integer("epochs") == 7);  // recipe
  CHECK(src["epochs"] == SettingSource::recipe);
  CHECK(s.number("reg") == 0.02);
  CHECK(s.number("lr") == 0.1);      // user
  CHECK(src["lr"] == SettingSource::user);
  CHECK(s.integer("batch") == 2);    // option default
  CHECK(src["batch"] == SettingSource::option_default);
  const Settings other = resolve_settings(e, "ml1m-90-10", {});
  CHECK(other.integer("epochs") == 5);  // no recipe for this protocol
  CHECK_THROWS_WITH(resolve_settings(e, "seed-mlp", {}),
                    Catch::Contains("does not run on protocol 'seed-mlp'") && Catch::Contains("seed-mf"));
  CHECK_THROWS_WITH(evaluation_of("melu-user-cold"), Catch::Contains("not a training protocol"));
  CHECK_THROWS_WITH(resolve_settings(e, "seed-mf", Settings{{"dims", "4"}}),
                    Catch::Contains("--dims is not an option of model 'toy'") && Catch::Contains("--reg"));
  CHECK_THROWS_WITH(resolve_settings(e, "seed-mf", Settings{{"lr", "x"}}),
                    Catch::Contains("--lr: expected a number, got 'x'"));
  CHECK_THROWS_WITH(resolve_settings(e, "seed-mf", Settings{{"lr", "0"}}), Catch::Contains("--lr must be > 0"));
  CHECK_THROWS_WITH(resolve_settings(e, "seed-mf", Settings{{"valid-frac", "0.7"}}),
                    Catch::Contains("--valid-frac must be in [0, 0.5)"));
  CHECK_THROWS_WITH(resolve_settings(e, "seed-mf", Settings{{"mode", "c"}}),
                    Catch::Contains("--mode must be one of a, b (got 'c')"));
  CHECK_THROWS_WITH(resolve_settings(e, "seed-mf", Settings{{"epochs", "2.5"}}),
                    Catch::Contains("--epochs: expected a whole number"));
  CHECK(Settings::parse_list("hidden", "64,32") == std::vector<long long>{64, 32});
  CHECK_THROWS_WITH(Settings::parse_list("hidden", "64,x"), Catch::Contains("--hidden: expected a number, got 'x'"));
}

TEST_CASE("registry: models by name", "[registry]") {
  Registry r({toy_entry()});
  CHECK(r.find("toy").summary == "linear item-item toy");
  CHECK_THROWS_WITH(r.find("tyo"), Catch::Contains("unknown --model 'tyo' (known: toy)"));
  CHECK_THROWS_AS(r.add({toy_entry()}), std::logic_error);
}

TEST_CASE("train_whole_rows: selection on held-out training rows, retraining, rating report", "[registry]") {
  const Dataset ds = test::tiny_dataset();
  const ModelEntry e = toy_entry();
  const ProtocolSplit ps = make_protocol_split("seed-mf", ds, 3);
  const Settings s = resolve_settings(e, "seed-mf", {});
  const TrainRequest req{e.name, ds, ps, "seed-mf", s, 3};
  const report::TrainReport a = e.train(req);
  REQUIRE(a.parts.size() == 3);
  CHECK(a.parts[0].first == "train");
  CHECK(a.parts[1].first == "valid");
  CHECK(a.parts[2].first == "test");
  CHECK(a.part("test").get("rows") == static_cast<double>(ps.split.test.size()));
  CHECK(std::isfinite(a.part("test").get("rmse")));
  CHECK(a.part("train").get("rows") == static_cast<double>(ps.split.train.size()));
  CHECK(a.epochs_run <= 7);
  const report::TrainReport b = e.train(req);  // deterministic
  CHECK(b.part("test").get("rmse") == a.part("test").get("rmse"));
  CHECK(a.part("test").json().find("\"rows\":" + std::to_string(ps.split.test.size())) != std::string::npos);
}

TEST_CASE("train_rating_rows: biased MF on tiny data, with and without the held-out selection", "[registry]") {
  const Dataset ds = test::tiny_dataset();
  const ProtocolSplit ps = make_protocol_split("seed-mf", ds, 3);
  auto run = [&](const char* valid_frac, const char* average = "0") {
    const Settings s{{"epochs", "6"}, {"lr", "0.02"}, {"batch", "1"}, {"optimizer", "sgd"}, {"patience", "2"},
                     {"lr-decay", "1"}, {"average", average}, {"valid-frac", valid_frac}, {"negatives", "4"}};
    const TrainRequest req{"mf-bias", ds, ps, "seed-mf", s, 3};
    return train_rating_rows(
        [&](const Split& sp) {
          return MatrixFactorization<float>(ds.num_users(), ds.num_items(),
                                            {.dims = 3, .global_mean = ds.mean_rating(sp.train)});
        },
        req, FitPlan::from(s), Evaluation::rating);
  };
  const report::TrainReport fixed = run("0");
  CHECK(fixed.epochs_run == 6);
  CHECK(fixed.part("valid").get("rows") == 0);
  const report::TrainReport selected = run("0.2");
  CHECK(selected.part("valid").get("rows") > 0);
  CHECK(selected.epochs_run == selected.best_epoch + 1);  // retrained for the chosen epochs
  CHECK(std::isfinite(selected.part("test").get("mse")));
  // --average reaches fit: the averaged parameters predict otherwise than the last iterate
  const report::TrainReport averaged = run("0", "0.9");
  CHECK(averaged.epochs_run == 6);
  CHECK(std::isfinite(averaged.part("test").get("mse")));
  CHECK(averaged.part("test").get("mse") != fixed.part("test").get("mse"));
}

TEST_CASE("train_whole_rows: top-N report by full ranking, training items removed", "[registry]") {
  const Dataset ds = test::tiny_dataset();
  const ModelEntry e = toy_entry();
  const ProtocolSplit ps = make_protocol_split("seed-ae", ds, 5);
  TrainRequest req{e.name, ds, ps, "seed-ae", resolve_settings(e, "seed-ae", {}), 5};
  req.top.ks = {2, 5};
  const report::TrainReport r = e.train(req);
  REQUIRE(r.parts.size() == 2);  // valid (held out of the training rows), test
  CHECK(r.parts[0].first == "valid");
  const auto& t = r.part("test");
  for (const char* m : {"precision@2", "recall@5", "ndcg@5", "map@2", "hit@5"}) {
    INFO(m);
    CHECK(t.get(m) >= 0.0);
    CHECK(t.get(m) <= 1.0);
  }
  CHECK(t.get("users") >= 1);
  CHECK(r.epochs_run == r.best_epoch + 1);
}

TEST_CASE("meta recipes: each algorithm its own validated steps, else the general recipe; the user last",
          "[registry][meta]") {
  ModelEntry e;
  e.name = "toy-meta";
  e.meta.options = meta_loop_options("0.1", "0.01");
  e.meta.build = [](const Dataset&, const Settings&, double) { return std::unique_ptr<MetaModel>(); };
  e.meta.recipes = melu_recipes_by_algo({{"inner-lr", "0.5"}, {"outer-lr", "0.001"}, {"epochs", "4"}}, "bench",
                                        {{"reptile", {{"outer-lr", "0.003"}}}, {"metasgd", {{"inner-lr", "0.2"}}}});
  REQUIRE(e.meta.recipes.size() == 12);  // 4 protocols x (general, reptile, metasgd)
  const Settings maml = resolve_meta_settings(e, "melu-user-cold", {});
  CHECK(maml.number("inner-lr") == 0.5);
  CHECK(maml.number("outer-lr") == 0.001);
  const Settings fomaml = resolve_meta_settings(e, "melu-warm", {{"algo", "fomaml"}});  // no recipe of its own
  CHECK(fomaml.number("outer-lr") == 0.001);
  std::map<std::string, SettingSource> src;
  const Settings reptile = resolve_meta_settings(e, "melu-item-cold", {{"algo", "reptile"}}, &src);
  CHECK(reptile.number("outer-lr") == 0.003);
  CHECK(reptile.number("inner-lr") == 0.5);  // the general recipe's, carried into reptile's
  CHECK(reptile.integer("epochs") == 4);
  CHECK(src["outer-lr"] == SettingSource::recipe);
  CHECK(meta_recipe(e, "melu-item-cold", {{"algo", "reptile"}})->source == "bench (reptile)");
  CHECK(meta_recipe(e, "melu-item-cold", {})->source == "bench");
  const Settings sgd = resolve_meta_settings(e, "melu-user-item-cold", {{"algo", "metasgd"}, {"inner-lr", "0.3"}});
  CHECK(sgd.number("inner-lr") == 0.3);  // the user's flag wins over the recipe
  CHECK(sgd.number("outer-lr") == 0.001);
  // The model's default algorithm picks the recipe when the user names none.
  for (auto& o : e.meta.options)
    if (o.name == "algo") o.default_value = "reptile";
  CHECK(resolve_meta_settings(e, "melu-user-cold", {}).number("outer-lr") == 0.003);
  CHECK(meta_recipe(e, "seed-mf", {}) == nullptr);
}

TEST_CASE("mf-bias's per-user start: its recipe, and fit_per_user = biased MF per user folded to the mean",
          "[registry][meta]") {
  const Registry r(mf_models());
  const ModelEntry& e = r.find("mf-bias");
  // Recipes by start: the global one by default, the per-user one (Reptile by default) on request.
  const Settings global = resolve_meta_settings(e, "melu-user-cold", {});
  CHECK(global.text("start") == "global");
  CHECK(global.integer("dims") == 16);
  CHECK(global.text("algo") == "maml");
  const Settings per = resolve_meta_settings(e, "melu-user-cold", {{"start", "per-user"}});
  CHECK(per.integer("dims") == 128);
  CHECK(per.number("reg") == 0.05);
  CHECK(per.text("algo") == "reptile");
  CHECK(per.number("outer-lr") == 0.001);
  CHECK(per.integer("pretrain-epochs") == 40);
  CHECK(meta_recipe(e, "melu-user-cold", {{"start", "per-user"}, {"algo", "fomaml"}})->source.find("(fomaml)") !=
        std::string::npos);
  CHECK(meta_recipe(e, "melu-user-cold", {{"start", "global"}, {"algo", "reptile"}})->settings.text("outer-lr") == "0.003");
  const Settings mine = resolve_meta_settings(e, "melu-user-cold", {{"start", "per-user"}, {"dims", "4"}});
  CHECK(mine.integer("dims") == 4);

  // fit_per_user: the same as fitting MF with a vector per user by hand and folding it.
  const Dataset ds = test::tiny_dataset();
  const std::vector<RowIndex> rows = test::all_rows(ds);
  Settings s = resolve_meta_settings(e, "melu-user-cold", {{"start", "per-user"}, {"dims", "3"}});
  const double mean = ds.mean_rating(rows);
  const auto model = e.meta.build(ds, s, mean);
  Vector<float> theta;
  (void)model->fit_per_user(theta, rows, 3, 11);
  const MatrixFactorization<float> mf(ds.num_users(), ds.num_items(),
                                      {.dims = 3, .reg = 0.05, .bias_reg = 0.05, .init_std = 0.1, .global_mean = mean});
  Vector<float> trained(mf.num_parameters());
  Rng rng(derive_seed(11, 0x464F4C44u));
  mf.initialize(trained, rng);
  Sgd<float> opt{SgdOptions{.lr = 0.005}};
  (void)fit(mf, trained, opt, ds, rows, TrainOptions{.epochs = 3, .batch_size = 1, .seed = 11});
  REQUIRE(model->layout() != nullptr);
  const Vector<float> folded = shared_user_theta<float>(*model->layout(), ds.num_users(), trained);
  REQUIRE(theta.size() == folded.size());
  CHECK(theta == folded);
  // With the out-parameter: the same fold, and the model before it.
  Vector<float> again, unfolded;
  (void)model->fit_per_user(again, rows, 3, 11, &unfolded);
  CHECK(again == theta);
  CHECK(unfolded == trained);
  // The item factors moved from their initial draw; the user vector is the users' mean.
  const Block P = mf.layout().blocks()[0];
  const Eigen::Map<const Matrix<float>> users(trained.data() + P.offset, P.rows, P.cols);
  const Eigen::VectorXf mean_user = users.rowwise().mean();
  for (Eigen::Index k = 0; k < 3; ++k) CHECK(theta[k] == Approx(mean_user[k]).margin(1e-6));
  // A model without a shared user vector has no per-user start.
  const MetaModelOf<MatrixFactorization<float>> plain(mf, ds);
  CHECK_THROWS_WITH(plain.fit_per_user(theta, rows, 1, 1), Catch::Contains("mf-bias, mf-side"));
}

TEST_CASE("mf-side's per-user fit, and existing users adapted from their own vectors",
          "[registry][meta]") {
  const Registry r(mf_models());
  const Dataset ds = test::tiny_dataset();
  const std::vector<RowIndex> rows = test::all_rows(ds);
  const double mean = ds.mean_rating(rows);
  const ModelEntry& e = r.find("mf-side");
  const auto model = e.meta.build(ds, resolve_meta_settings(e, "melu-user-cold", {{"dims", "3"}}), mean);
  Vector<float> folded, trained;
  (void)model->fit_per_user(folded, rows, 3, 5, &trained);
  // By hand: SideFeatureMF with a vector per user (the entry's options), the same draws and SGD.
  const SideFeatureMF<float> per(ds, {.dims = 3, .reg = 0.01, .bias_reg = 0.01, .feature_reg = 0.01,
                                      .init_std = 0.01, .global_mean = mean});
  Vector<float> hand(per.num_parameters());
  Rng rng(derive_seed(5, 0x464F4C44u));
  per.initialize(hand, rng);
  Sgd<float> opt{SgdOptions{.lr = 0.005}};
  (void)fit(per, hand, opt, ds, rows, TrainOptions{.epochs = 3, .batch_size = 1, .seed = 5});
  REQUIRE(trained.size() == hand.size());
  CHECK(trained == hand);
  REQUIRE(model->layout() != nullptr);
  CHECK(folded == shared_user_theta<float>(*model->layout(), ds.num_users(), trained));
  // Item 0 left out of the rows: after the fold its factors and bias are an untrained draw, which
  // zero_untrained sets to 0 (what --start per-user and bench_cold_start's fold rows do).
  {
    std::vector<RowIndex> without0;
    for (const RowIndex row : rows)
      if (ds.item(row) != 0) without0.push_back(row);
    Vector<float> f0;
    (void)model->fit_per_user(f0, without0, 1, 5);
    const ParameterLayout& lay = *model->layout();
    Block q{}, bi{};
    for (std::size_t b = 0; b < lay.blocks().size(); ++b) {
      if (lay.names()[b] == "item_factors") q = lay.blocks()[b];
      if (lay.names()[b] == "item_bias") bi = lay.blocks()[b];
    }
    REQUIRE(q.rows == 3);
    CHECK(!f0.segment(q.offset, q.rows).isZero());  // init std 0.01: small, not 0
    CHECK(model->zero_untrained(f0, without0) >= 3);
    CHECK(f0.segment(q.offset, q.rows).isZero());
    CHECK(f0[bi.offset] == 0.0f);
    CHECK(!f0.segment(q.offset + q.rows, q.rows).isZero());  // item 1 was trained: kept
  }

  // Without adaptation, each task's query predicted from its user's own vector = the per-user
  // model's predictions; from the mean user they differ.
  std::vector<Task> tasks;
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
    Task t{u, {}, {}};
    for (const RowIndex row : rows)
      if (ds.user(row) == u) (t.support.empty() ? t.support : t.query).push_back(row);
    if (!t.query.empty()) tasks.push_back(std::move(t));
  }
  REQUIRE(tasks.size() >= 2);
  const auto own = predict_tasks_own_users(*model, folded, trained, tasks, AdaptOptions{.steps = 0});
  const auto mean_user = model->predict_tasks(folded, nullptr, tasks, AdaptOptions{.steps = 0});
  REQUIRE(own.rows == mean_user.rows);
  REQUIRE(own.offset == mean_user.offset);
  Vector<float> expect(static_cast<Eigen::Index>(own.rows.size()));
  per.predict(trained, RatingBatch{&ds, own.rows, 0}, expect);
  double differ = 0;
  for (std::size_t k = 0; k < own.rows.size(); ++k) {
    CHECK(own.score[k] == Approx(expect[static_cast<Eigen::Index>(k)]).margin(1e-5));
    differ = std::max(differ, std::abs(static_cast<double>(own.score[k] - mean_user.score[k])));
  }
  CHECK(differ > 1e-4);
  // With adaptation: task by task, the same as adapting a θ whose user is set by hand.
  const AdaptOptions ao{.steps = 2, .lr = 0.3, .adapted = AdaptedSet::local};
  const auto adapted = predict_tasks_own_users(*model, folded, trained, tasks, ao);
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    Vector<float> th = folded;
    set_own_user<float>(*model->layout(), ds.num_users(), trained, tasks[t].user, th);
    const auto one = model->predict_tasks(th, nullptr, std::span<const Task>(tasks).subspan(t, 1), ao);
    for (std::size_t k = 0; k < one.score.size(); ++k) CHECK(adapted.score[adapted.offset[t] + k] == one.score[k]);
  }
  CHECK_THROWS_WITH(predict_tasks_own_users(*model, folded, folded, tasks, ao), Catch::Contains("trained parameters hold"));
  // Users flagged as not trained (every other one) start from the mean user, the others from their own vector.
  std::vector<char> seen(ds.num_users(), 0);
  for (std::uint32_t u = 0; u < ds.num_users(); u += 2) seen[u] = 1;
  const auto mixed = predict_tasks_own_users(*model, folded, trained, tasks, ao, seen);
  const auto from_mean = model->predict_tasks(folded, nullptr, tasks, ao);
  REQUIRE(mixed.offset == adapted.offset);
  int own_tasks = 0, mean_tasks = 0;
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    const auto& want = seen[tasks[t].user] ? adapted : from_mean;
    (seen[tasks[t].user] ? own_tasks : mean_tasks) += 1;
    for (std::size_t k = mixed.offset[t]; k < mixed.offset[t + 1]; ++k) CHECK(mixed.score[k] == want.score[k]);
  }
  CHECK(own_tasks > 0);
  CHECK(mean_tasks > 0);
  CHECK_THROWS_WITH(predict_tasks_own_users(*model, folded, trained, tasks, ao, std::vector<char>(3, 1)),
                    Catch::Contains("trained_users has 3 flags"));
}

}  // namespace unity_test_registry
