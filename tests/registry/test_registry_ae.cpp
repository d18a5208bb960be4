// The autoencoder family's registry entries (registry/autoencoder.hpp): every entry resolves its
// settings, trains on tiny data through train_whole_rows on its protocols and reports finite,
// reproducible figures; EASE is solved in closed form.

#include <metarec/data/protocols.hpp>
#include <metarec/registry/autoencoder.hpp>
#include <metarec/registry/registry.hpp>

#include "models/tiny_data.hpp"

#include <catch.hpp>

#include <cmath>

using namespace metarec;
using namespace metarec::registry;

TEST_CASE("autoencoder entries: names, family, protocols, options", "[registry][autoencoder]") {
  const Registry r(autoencoder_models());
  for (const char* name : {"autorec-i", "autorec-u", "deeprec", "cdae", "mult-dae", "mult-vae", "ease"}) {
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
