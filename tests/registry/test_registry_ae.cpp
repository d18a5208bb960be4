// The autoencoder family's registry entries (registry/autoencoder.hpp): every entry resolves its
// settings, trains on tiny data through train_whole_rows on its protocols and reports finite,
// reproducible figures; EASE is solved in closed form. Also registry/recommend.hpp: a new user's
// top-N by rating, by EASE fold-in and blended.

#include <metarec/data/protocols.hpp>
#include <metarec/data/synthetic.hpp>
#include <metarec/registry/autoencoder.hpp>
#include <metarec/registry/recommend.hpp>
#include <metarec/registry/registry.hpp>

#include "models/tiny_data.hpp"
#include "registry/cold_start_tasks.hpp"

#include <catch.hpp>

#include <cmath>
#include <numeric>
#include <thread>
#include <vector>

using namespace metarec;
using namespace metarec::registry;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_registry_ae {

TEST_CASE("autoencoder entries: names, family, protocols, options", "[registry][autoencoder]") {
  const Registry r(autoencoder_models());
  for (const char* name : {"autorec-i", "autorec-u", "deeprec", "cdae", "mult-dae", "mult-vae", "svae", "ease"}) {
    INFO(name);
    const ModelEntry& e = r.find(name);
    CHECK(e.family == Family::autoencoder);
    CHECK(!e.summary.empty());
    for (const auto& p : e.protocols) CHECK_NOTHROW(resolve_settings(e, p, {}));
    for (const Recipe& rec : e.recipes) {
      CHECK(e.runs_on(rec.protocol));
      CHECK(rec.source.find("validation") != std::string::npos);
    }
  }
  CHECK(r.find("cdae").option("negatives") != nullptr);
  CHECK(r.find("mult-vae").option("negatives") == nullptr);
  CHECK(r.find("ease").option("epochs") == nullptr);
  CHECK_THROWS_WITH(resolve_settings(r.find("autorec-i"), "seed-ae", {}), Catch::Contains("does not run on protocol 'seed-ae'"));
}

TEST_CASE("autoencoder entries train on tiny data and report reproducibly", "[registry][autoencoder]") {
  const Dataset ds = test::tiny_dataset();
  const Registry r(autoencoder_models());
  struct Case {
    const char* model;
    const char* protocol;
    Settings user;
  };
  const std::vector<Case> cases{
      {"autorec-i", "ml1m-90-10", {{"hidden", "4"}, {"epochs", "3"}, {"batch", "2"}}},
      {"autorec-u", "seed-mf", {{"hidden", "4"}, {"epochs", "3"}, {"valid-frac", "0"}}},
      {"deeprec", "ml1m-90-10", {{"encoder", "4,2"}, {"epochs", "3"}, {"refeed", "0.5"}}},
      {"cdae", "seed-ae", {{"hidden", "3"}, {"epochs", "3"}, {"batch", "2"}}},
      {"mult-dae", "seed-ae", {{"hidden", "4"}, {"latent", "2"}, {"epochs", "3"}}},
      {"mult-vae", "seed-ae", {{"hidden", "4"}, {"latent", "2"}, {"epochs", "3"}}},
      {"ease", "seed-ae", {{"reg", "2"}}},
  };
  for (const Case& c : cases) {
    INFO(c.model << " on " << c.protocol);
    const ModelEntry& e = r.find(c.model);
    const ProtocolSplit ps = make_protocol_split(c.protocol, ds, 3);
    TrainRequest req{e.name, ds, ps, c.protocol, resolve_settings(e, c.protocol, c.user), 3};
    req.top.ks = {2, 5};
    const report::TrainReport a = e.train(req);
    const auto& test = a.part("test");
    const char* metric = evaluation_of(c.protocol) == Evaluation::top_n ? "ndcg@5" : "rmse";
    CHECK(std::isfinite(test.get(metric)));
    CHECK(a.parameters > 0);
    const report::TrainReport b = e.train(req);
    CHECK(b.part("test").get(metric) == test.get(metric));
    if (std::string(c.model) == "ease") CHECK(a.epochs_run == 1);
  }
}

TEST_CASE("the svae protocol: held-out users are folded in, never trained on", "[registry][autoencoder][svae]") {
  const Dataset ds = make_synthetic({.users = 80, .items = 60, .min_ratings_per_user = 12,
                                     .max_ratings_per_user = 40, .seed = 4}).dataset;
  const Registry r(autoencoder_models());
  const ProtocolSplit ps = make_protocol_split("svae", ds, 3);
  const Split& sp = ps.split;
  REQUIRE(!sp.cold_users.empty());
  REQUIRE(!sp.test.empty());
  // EASE through the registry equals EASE solved on the training users' rows only, scored from
  // every user's training (folded-in) rows; solved on all training rows it differs.
  const ModelEntry& ease = r.find("ease");
  TrainRequest req{ease.name, ds, ps, "svae", resolve_settings(ease, "svae", {{"reg", "5"}}), 3};
  req.top.ks = {5, 20};
  const double got = ease.train(req).part("test").get("ndcg@20");
  const Ease<float> model(ds, {.reg = 5.0}, sp.train);
  auto solved_on = [&](std::span<const RowIndex> rows) {
    const WholeRows trained(ds, rows, RowSide::user), inputs(ds, sp.train, RowSide::user);
    Vector<float> theta(model.num_parameters());
    model.fit_closed_form(VectorRef<float>(theta), trained.batch());
    const report::ItemScorer<Ease<float>> scorer(model, theta, ds, &inputs);
    std::vector<RowIndex> seen = sp.train;
    seen.insert(seen.end(), sp.valid.begin(), sp.valid.end());
    return report::ranking_metrics(ds, seen, sp.test, scorer, {5, 20}).get("ndcg@20");
  };
  CHECK(got == solved_on(registry::detail::rows_without_users(ds, sp.train, sp.cold_users)));
  CHECK(got != solved_on(sp.train));
  // SVAE trains and reports reproducibly.
  const ModelEntry& e = r.find("svae");
  TrainRequest sreq{e.name, ds, ps, "svae",
                    resolve_settings(e, "svae", {{"embedding", "4"}, {"rnn", "5"}, {"hidden", "4"}, {"latent", "3"},
                                                 {"epochs", "2"}, {"batch", "4"}}),
                    3};
  sreq.top.ks = {5, 20};
  const report::TrainReport a = e.train(sreq), b = e.train(sreq);
  CHECK(std::isfinite(a.part("test").get("ndcg@20")));
  CHECK(a.part("test").get("ndcg@20") == b.part("test").get("ndcg@20"));
  CHECK(a.part("valid").get("ndcg@5") == b.part("valid").get("ndcg@5"));
}

TEST_CASE("recommend: a new user of a top-N model by fold-in; rated items excluded; SVAE reads the order",
          "[registry][recommend][svae]") {
  const Dataset ds = test::tiny_dataset();
  const Registry r(autoencoder_models());
  const ModelEntry& e = r.find("svae");
  const Settings s = resolve_settings(e, "svae", {{"embedding", "3"}, {"rnn", "4"}, {"hidden", "3"}, {"latent", "2"}});
  const Svae<float> model = registry::detail::svae_model(ds, s);
  Vector<float> theta(model.num_parameters());
  Rng rng(3);
  model.initialize(theta, rng);
  const auto scorer = e.fold_in(ds, s, theta);
  NewUser u;
  u.items = {5, 0, 3};
  u.ratings = {5, 4, 2};
  const auto recs = recommend_by_fold_in(*scorer, ds, u, 100);
  REQUIRE(recs.size() == ds.num_items() - 3);
  const Dataset one = new_user_dataset(ds, u);
  const std::vector<RowIndex> rated{0, 1, 2};
  Matrix<float> all(ds.num_items(), 1), direct(ds.num_items(), 1);
  scorer->scores(one, rated, all);
  // The model's own scores of the user's rows as one example (time = the order given).
  const RowExample ex{0, rated, rated};
  model.score_all(theta, RowBatch{&one, {&ex, 1}, 0, RowSide::user}, direct);
  CHECK(all == direct);
  for (std::size_t k = 0; k < recs.size(); ++k) {
    CHECK(recs[k].item != 5);
    CHECK(recs[k].item != 0);
    CHECK(recs[k].item != 3);
    CHECK(recs[k].score == all(recs[k].item, 0));
    CHECK(recs[k].predicted == recs[k].score);
    if (k) CHECK(recs[k - 1].score >= recs[k].score);
  }
  // The same ratings in another order: SVAE's scores change, EASE's do not.
  NewUser v = u;
  std::swap(v.items[0], v.items[2]);
  std::swap(v.ratings[0], v.ratings[2]);
  Matrix<float> other(ds.num_items(), 1);
  scorer->scores(new_user_dataset(ds, v), rated, other);
  CHECK((other - all).cwiseAbs().maxCoeff() > 1e-6f);
  const ModelEntry& ease = r.find("ease");
  const Settings es = resolve_settings(ease, "svae", {});
  Vector<float> B(Ease<float>(ds, {.reg = es.number("reg")}).num_parameters());
  Ease<float>(ds, {.reg = es.number("reg")}).fit_closed_form(B, WholeRows(ds, test::all_rows(ds), RowSide::user).batch());
  const auto ease_scorer = ease.fold_in(ds, es, B);
  Matrix<float> e1(ds.num_items(), 1), e2(ds.num_items(), 1);
  ease_scorer->scores(one, rated, e1);
  ease_scorer->scores(new_user_dataset(ds, v), rated, e2);
  CHECK((e1 - e2).cwiseAbs().maxCoeff() <= 1e-6f);  // the same set (summed in another order)
  // A θ of another size is refused with both sizes.
  CHECK_THROWS_WITH(e.fold_in(ds, s, Vector<float>(3)), Catch::Contains("svae: 3 parameters") &&
                                                            Catch::Contains(std::to_string(model.num_parameters())));
  CHECK(!r.find("cdae").fold_in);
}

TEST_CASE("recommend: blend_standardised on hand-computed cases", "[registry][recommend]") {
  std::vector<float> out(3);
  const std::vector<float> a{1, 2, 3}, flat{3, 3, 3};
  blend_standardised(a, flat, 1.0, out);  // z(a) = (x - 2) / sqrt(2/3); a constant vector adds 0
  CHECK(out[0] == Approx(-1.224744871));
  CHECK(out[1] == Approx(0.0).margin(1e-7));
  CHECK(out[2] == Approx(1.224744871));
  std::vector<float> two(2);
  blend_standardised(std::vector<float>{0, 2}, std::vector<float>{1, 0}, 0.5, two);  // (-1, 1) + 0.5 (1, -1)
  CHECK(two[0] == Approx(-0.5));
  CHECK(two[1] == Approx(0.5));
  CHECK_THROWS_AS(blend_standardised(a, two, 1.0, out), std::invalid_argument);
  CHECK(parse_rank_by("ease") == RankBy::ease);
  CHECK_THROWS_WITH(parse_rank_by("pop"), Catch::Contains("blend, rating, ease"));
}

TEST_CASE("recommend: a new user's list by rating, by EASE and blended; rated items excluded; thread-safe",
          "[registry][recommend]") {
  const Dataset ds = test::tiny_dataset();
  const Registry r(autoencoder_models());
  const ModelEntry& e = r.find("autorec-u");
  const Settings s = resolve_meta_settings(e, "melu-user-cold", {{"hidden", "4"}});
  const auto model = e.meta.build(ds, s, 3.5);
  const Vector<float> theta = model->initial(5);
  const AdaptOptions ao{.steps = 2, .lr = 0.1};
  const std::vector<RowIndex> all = test::all_rows(ds);
  const ItemPrior prior(ds, all, 2.0);
  NewUser u;
  u.items = {0, 3};
  u.ratings = {5, 2};
  const std::size_t m = ds.num_items() - 2;

  // By rating: the adapted model's predictions, highest first, the rated items left out.
  const auto by_rating = recommend_new_user(*model, theta, nullptr, ao, nullptr, ds, u,
                                            {.rank_by = RankBy::rating, .top = 100});
  REQUIRE(by_rating.size() == m);
  const Dataset one = new_user_dataset(ds, u);
  std::vector<RowIndex> support{0, 1}, cand(m);
  std::iota(cand.begin(), cand.end(), RowIndex{2});
  const Vector<float> pred = model->score_new_user(theta, nullptr, ao, one, support, cand);
  for (std::size_t k = 0; k < m; ++k) {
    CHECK(by_rating[k].item != 0);
    CHECK(by_rating[k].item != 3);
    CHECK(by_rating[k].score == by_rating[k].predicted);
    if (k) CHECK(by_rating[k - 1].score >= by_rating[k].score);
    CHECK(pred[static_cast<Eigen::Index>(by_rating[k].item - (by_rating[k].item > 3 ? 2 : 1))] == by_rating[k].predicted);
  }

  // By EASE: the fold-in scores; the blend with w = 0 orders as EASE does.
  const auto by_ease = recommend_new_user(*model, theta, nullptr, ao, &prior, ds, u, {.rank_by = RankBy::ease, .top = 3});
  Matrix<float> fold(ds.num_items(), 1);
  prior.scores(one, 0, support, fold);
  REQUIRE(by_ease.size() == 3);
  for (const auto& rec : by_ease) CHECK(rec.score == fold(rec.item, 0));
  const auto w0 = recommend_new_user(*model, theta, nullptr, ao, &prior, ds, u, {.blend_weight = 0, .top = 3});
  for (std::size_t k = 0; k < 3; ++k) CHECK(w0[k].item == by_ease[k].item);
  CHECK_THROWS_AS(recommend_new_user(*model, theta, nullptr, ao, nullptr, ds, u, {}), std::invalid_argument);

  // Two users at once on two threads give the lists they get one at a time.
  NewUser v;
  v.items = {1, 2, 4};
  v.ratings = {4, 4, 1};
  const RecommendOptions o{.top = 5};
  const auto seq_u = recommend_new_user(*model, theta, nullptr, ao, &prior, ds, u, o);
  const auto seq_v = recommend_new_user(*model, theta, nullptr, ao, &prior, ds, v, o);
  std::vector<NewUserRecommendation> par_u, par_v;
  std::thread t1([&] { par_u = recommend_new_user(*model, theta, nullptr, ao, &prior, ds, u, o); });
  std::thread t2([&] { par_v = recommend_new_user(*model, theta, nullptr, ao, &prior, ds, v, o); });
  t1.join();
  t2.join();
  REQUIRE(par_u.size() == seq_u.size());
  REQUIRE(par_v.size() == seq_v.size());
  for (std::size_t k = 0; k < seq_u.size(); ++k) CHECK((par_u[k].item == seq_u[k].item && par_u[k].score == seq_u[k].score));
  for (std::size_t k = 0; k < seq_v.size(); ++k) CHECK((par_v[k].item == seq_v[k].item && par_v[k].score == seq_v[k].score));
}

TEST_CASE("meta_train: on_epoch observes every epoch and changes no result", "[registry][meta]") {
  const Dataset ds = test::tiny_dataset();
  const Registry r(autoencoder_models());
  const ModelEntry& e = r.find("autorec-u");
  const Settings s = resolve_meta_settings(e, "melu-user-cold", {{"hidden", "4"}});
  const auto model = e.meta.build(ds, s, 3.5);
  // One task per user: the first two rows support, the rest query; users 5 and 6 validate.
  std::vector<std::vector<RowIndex>> rows(ds.num_users());
  for (const RowIndex row : test::all_rows(ds)) rows[ds.user(row)].push_back(row);
  std::vector<Task> tasks, validation;
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
    REQUIRE(rows[u].size() >= 3);
    Task t{u, {rows[u].begin(), rows[u].begin() + 2}, {rows[u].begin() + 2, rows[u].end()}};
    (u >= 5 ? validation : tasks).push_back(std::move(t));
  }
  MetaConfig c;
  c.algo = "fomaml";
  c.inner_steps = 2;
  c.inner_lr = 0.1;
  c.outer_lr = 0.01;
  c.meta_batch = 2;
  c.epochs = 4;
  c.patience = 10;
  Vector<float> plain = model->initial(3), observed = plain;
  const MetaRun a = model->meta_train(plain, c, tasks, validation);
  std::vector<MetaEpoch> seen;
  c.on_epoch = [&](const MetaEpoch& ep) { seen.push_back(ep); };
  const MetaRun b = model->meta_train(observed, c, tasks, validation);
  CHECK(plain == observed);
  CHECK(a.result.epochs == b.result.epochs);
  REQUIRE(seen.size() == 4);
  for (std::size_t k = 0; k < seen.size(); ++k) {
    CHECK(seen[k].epoch == k);
    CHECK(seen[k].steps == 3 * (k + 1));  // 5 tasks in meta-batches of 2
    CHECK(std::isfinite(seen[k].query_loss));
    CHECK(std::isfinite(seen[k].validation_loss));
    CHECK(seen[k].best_validation_loss <= seen[k].validation_loss);
    if (k) CHECK(seen[k].seconds >= seen[k - 1].seconds);
  }
  CHECK(seen.front().improved);
}

TEST_CASE("cold start: a new item gets the mean rating from a fitted autorec-u, never an untrained draw",
          "[registry][meta][autoencoder]") {
  const Dataset ds = test::tiny_dataset();
  const Registry r(autoencoder_models());
  const ModelEntry& e = r.find("autorec-u");
  const Settings s = resolve_meta_settings(e, "melu-user-cold", {{"hidden", "4"}});
  const auto model = e.meta.build(ds, s, 3.5);
  // Warm rows: every item but 8. The global model is fitted on them; item 8 is new.
  std::vector<RowIndex> warm, fresh;
  for (const RowIndex row : test::all_rows(ds)) (ds.item(row) == 8 ? fresh : warm).push_back(row);
  REQUIRE(!fresh.empty());
  Vector<float> theta;
  (void)model->fit_global(theta, warm, 3, e.meta.global_fit(s), 7);
  CHECK(model->zero_untrained(theta, warm) > 0);
  CHECK(model->zero_untrained(theta, warm) == 0);
  // Each user who rated item 8: support = their other rows, query = item 8.
  const std::vector<Task> tasks = test::new_item_tasks(ds, warm, fresh);
  for (const int steps : {0, 3}) {
    const auto p = model->predict_tasks(theta, nullptr, tasks, AdaptOptions{.steps = steps, .lr = 0.1});
    REQUIRE(p.score.size() == fresh.size());
    for (const float x : p.score) CHECK(x == Approx(3.5f).epsilon(1e-6));
  }
}

}  // namespace unity_test_registry_ae
