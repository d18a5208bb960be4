// The Boltzmann family's registry entries: options, defaults and recipes are consistent, and every
// entry trains and reports on tiny data (rating errors, 0/1 errors, top-N with MEP/MER), with the
// CD-k schedule run as training phases and reproducible from the seed.

#include <metarec/data/protocols.hpp>
#include <metarec/registry/boltzmann.hpp>
#include <metarec/registry/registry.hpp>

#include "models/tiny_data.hpp"
#include "registry/cold_start_tasks.hpp"

#include <catch.hpp>

#include <cmath>
#include <string>
#include <vector>

using namespace metarec;
using namespace metarec::registry;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_registry_bm {

namespace {

report::TrainReport train(const ModelEntry& e, const Dataset& ds, const std::string& protocol, Settings user,
                          std::uint64_t seed = 3) {
  const ProtocolSplit ps = make_protocol_split(protocol, ds, seed);
  TrainRequest req{e.name, ds, ps, protocol, resolve_settings(e, protocol, user), seed};
  req.top.ks = {3};
  return e.train(req);
}

}  // namespace

TEST_CASE("boltzmann_models: names, options, defaults and recipes are consistent", "[models][boltzmann][registry]") {
  const Registry reg(boltzmann_models());
  CHECK(reg.names() == "rbm-u, rbm-i, rbm-binary, rbm-explainable, cf-nade-i, cf-nade-u");
  for (const ModelEntry& e : reg.models()) {
    INFO(e.name);
    CHECK(e.family == Family::boltzmann);
    CHECK(!e.summary.empty());
    for (const auto& o : e.options) CHECK_NOTHROW(check_value(o, o.default_value));
    for (const auto& p : e.protocols) CHECK_NOTHROW(resolve_settings(e, p, {}));
    for (const auto& r : e.recipes) {
      CHECK(e.runs_on(r.protocol));
      CHECK(!r.source.empty());
    }
  }
  const ModelEntry& rbm = reg.find("rbm-i");
  CHECK_THROWS_WITH(resolve_settings(rbm, "ml1m-90-10", Settings{{"cd-steps", "1,0"}}),
                    Catch::Contains("--cd-steps must be >= 1 (got 1,0)"));
  CHECK_THROWS_WITH(resolve_settings(rbm, "seed-ae", {}), Catch::Contains("does not run on protocol 'seed-ae'"));
}

TEST_CASE("RBM-CF and CF-NADE entries train and report rating errors", "[models][boltzmann][registry]") {
  const Dataset ds = test::tiny_dataset();
  const Registry reg(boltzmann_models());
  for (const std::string name : {"rbm-u", "rbm-i", "cf-nade-i", "cf-nade-u"}) {
    INFO(name);
    const bool nade = name.rfind("cf-nade", 0) == 0;
    Settings s{{"epochs", "3"}, {"batch", "2"}, {"valid-frac", "0.2"}};
    s.set("hidden", nade ? "4" : "5");
    if (!nade) s.set("cd-steps", "1,2"), s.set("cd-epochs", "2,1");  // within --epochs 3 (it caps the total)
    const report::TrainReport a = train(reg.find(name), ds, "ml1m-90-10", s);
    for (const char* part : {"train", "valid", "test"}) CHECK(std::isfinite(a.part(part).get("rmse")));
    CHECK(a.part("test").get("rmse") < 3.0);
    CHECK(a.epochs_run >= (nade ? 1 : 2));  // one or more epochs per phase
    const report::TrainReport b = train(reg.find(name), ds, "ml1m-90-10", s);
    CHECK(a.part("test").get("rmse") == b.part("test").get("rmse"));
  }
}

TEST_CASE("rbm-binary: top-N on a per-user split and 0/1 errors on a rating split", "[models][boltzmann][registry]") {
  const Dataset ds = test::tiny_dataset();
  const Registry reg(boltzmann_models());
  const ModelEntry& e = reg.find("rbm-binary");
  const report::TrainReport top = train(e, ds, "seed-ae", Settings{{"epochs", "3"}, {"hidden", "4"}, {"batch", "2"}});
  CHECK(std::isfinite(top.part("test").get("ndcg@3")));
  CHECK(top.part("test").get("users") > 0);
  const report::TrainReport zero_one = train(e, ds, "seed-mf", Settings{{"epochs", "3"}, {"hidden", "4"}, {"batch", "2"}});
  const double rmse = zero_one.part("test").get("rmse");
  CHECK(rmse >= 0.0);
  CHECK(rmse <= 1.0);  // probabilities against 0/1 labels
}

TEST_CASE("rbm-explainable: top-N with MEP and MER, and rating errors", "[models][boltzmann][registry]") {
  const Dataset ds = test::tiny_dataset();
  const Registry reg(boltzmann_models());
  const ModelEntry& e = reg.find("rbm-explainable");
  const Settings s{{"epochs", "3"}, {"hidden", "4"}, {"batch", "2"}, {"neighbours", "3"}};
  const report::TrainReport top = train(e, ds, "seed-ae", s);
  const auto& x = top.part("explainability");
  CHECK(x.get("mep@3") >= 0.0);
  CHECK(x.get("mep@3") <= 1.0);
  CHECK(x.get("mer@3") >= 0.0);
  CHECK(x.get("users") > 0);
  const report::TrainReport rating = train(e, ds, "seed-mf", s);
  CHECK(std::isfinite(rating.part("test").get("rmse")));
}

TEST_CASE("RBM phases: cd-epochs fixes each phase's epochs; the test trace follows them", "[models][boltzmann][registry]") {
  const Dataset ds = test::tiny_dataset();
  const Registry reg(boltzmann_models());
  const ModelEntry& e = reg.find("rbm-i");
  const ProtocolSplit ps = make_protocol_split("ml1m-90-10", ds, 3);
  const Settings s = resolve_settings(e, "ml1m-90-10",
                                      Settings{{"hidden", "4"}, {"batch", "2"}, {"valid-frac", "0"},
                                               {"cd-steps", "1,2"}, {"cd-epochs", "2,1"}});
  TrainRequest req{e.name, ds, ps, "ml1m-90-10", s, 3};
  req.run.trace_test = true;
  const report::TrainReport r = e.train(req);
  CHECK(r.epochs_run == 3);
  REQUIRE(r.history.size() == 3);
  REQUIRE(r.test_trace.size() == 3);
  CHECK(r.test_trace.back().epoch == 2);
  CHECK(r.test_trace.back().test_metric == Approx(r.part("test").get("mse")).epsilon(1e-6));
  Settings bad = s;
  bad.set("cd-epochs", "2");
  TrainRequest wrong{e.name, ds, ps, "ml1m-90-10", bad, 3};
  CHECK_THROWS_WITH(e.train(wrong), "--cd-epochs has 1 entries for 2 phases (--cd-steps 1,2); give one per phase or none");
}

TEST_CASE("RBM phases: --epochs caps the total of cd-epochs (a recipe's phases shrink to it)", "[models][boltzmann][registry]") {
  const Registry reg(boltzmann_models());
  const ModelEntry& e = reg.find("rbm-u");
  // the ml1m-90-10 recipe fixes cd-epochs 39,1; a user's --epochs 2 runs two epochs of phase 1
  CHECK(registry::detail::rbm_plan(resolve_settings(e, "ml1m-90-10", Settings{{"epochs", "2"}})).phase_epochs ==
        std::vector<int>{2, 0});
  CHECK(registry::detail::rbm_plan(resolve_settings(e, "ml1m-90-10", Settings{{"epochs", "39"}})).phase_epochs ==
        std::vector<int>{39, 0});
  CHECK(registry::detail::rbm_plan(resolve_settings(e, "ml1m-90-10", {})).phase_epochs == std::vector<int>{39, 1});
  CHECK(registry::detail::rbm_plan(resolve_settings(e, "ml1m-90-10", Settings{{"epochs", "100"}})).phase_epochs ==
        std::vector<int>{39, 1});
}

TEST_CASE("cold start: a new item gets the pooled rating distribution's mean from a fitted rbm-u or cf-nade-u",
          "[registry][meta][boltzmann]") {
  const Dataset ds = test::tiny_dataset();
  const Registry r(boltzmann_models());
  // Warm rows: every item but 8. The global model is fitted on them; item 8 is new.
  std::vector<RowIndex> warm, fresh;
  for (RowIndex row = 0; row < ds.num_ratings(); ++row) (ds.item(row) == 8 ? fresh : warm).push_back(row);
  REQUIRE(!fresh.empty());
  double counts[5] = {0, 0, 0, 0, 0};
  for (const RowIndex row : warm) counts[static_cast<int>(ds.rating(row)) - 1] += 1;
  double expected = 0;  // the add-one smoothed level frequencies' mean
  for (int k = 0; k < 5; ++k) expected += (k + 1) * (counts[k] + 1) / (static_cast<double>(warm.size()) + 5);
  // Each user who rated item 8: support = their other rows, query = item 8.
  const std::vector<Task> tasks = test::new_item_tasks(ds, warm, fresh);
  for (const char* name : {"rbm-u", "cf-nade-u"}) {
    INFO(name);
    const ModelEntry& e = r.find(name);
    const Settings s = resolve_meta_settings(e, "melu-user-cold", {{"hidden", "4"}});
    const auto model = e.meta.build(ds, s, 3.5);
    Vector<float> theta;
    (void)model->fit_global(theta, warm, 3, e.meta.global_fit(s), 7);
    CHECK(model->zero_untrained(theta, warm) > 0);
    CHECK(model->zero_untrained(theta, warm) == 0);
    for (const int steps : {0, 3}) {
      const auto p = model->predict_tasks(theta, nullptr, tasks, AdaptOptions{.steps = steps, .lr = 0.1});
      REQUIRE(p.score.size() == fresh.size());
      for (const float x : p.score) CHECK(x == Approx(expected).epsilon(1e-5));
    }
  }
}

}  // namespace unity_test_registry_bm
