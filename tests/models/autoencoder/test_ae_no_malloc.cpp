// Built with EIGEN_RUNTIME_NO_MALLOC: after one warm-up call, the autoencoders' loss, dense and
// sparse gradients, Hessian-vector products, predictions and scores allocate nothing through Eigen.
#include "no_malloc.hpp"  // first: makes Eigen's malloc check live in every build type
#include "models/tiny_data.hpp"

#include <metarec/models/autoencoder.hpp>

#include <catch.hpp>

#include <cmath>
#include <tuple>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_ae_no_malloc {

// The malloc check of the whole test_no_malloc executable: tests/models/mlp/test_mlp_no_malloc.cpp.

TEST_CASE("autoencoders: steps do not allocate after warm-up", "[models][autoencoder][alloc]") {
  Eigen::setNbThreads(1);
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const WholeRows users(ds, rows, RowSide::user);
  const RowBatch batch = users.batch(3);
  const auto models = std::make_tuple(
      AutoRec<float>(ds, {.side = RowSide::user, .hidden = 8, .reg = 0.1}, rows),
      DeepRec<float>(ds, {.encoder = {6, 4}, .dropout = 0.3, .refeed = 0.5}, rows),
      Cdae<float>(ds, {.hidden = 5, .negatives = 2}),
      MultVae<float>(ds, {.hidden = {6}, .latent = 3}),
      Svae<float>(ds, {.embedding = 4, .rnn = 5, .hidden = 4, .latent = 3}),
      Ease<float>(ds, {.reg = 1.0}, rows));
  std::apply(
      [&](const auto&... m) {
        auto check = [&](const auto& model) {
          INFO(std::remove_cvref_t<decltype(model)>::model_name);
          const Eigen::Index n = model.num_parameters();
          Vector<float> theta(n), g(n), hv(n), v = Vector<float>::Constant(n, 0.01f),
              pred(static_cast<Eigen::Index>(batch.num_targets()));
          Matrix<float> scores(ds.num_items(), static_cast<Eigen::Index>(batch.size()));
          Rng rng(1);
          model.initialize(theta, rng);
          SparseGradient<float> sg(n), sh(n);
          sg.reserve(1024);
          sh.reserve(1024);
          auto step = [&] {
            float total = model.loss(theta, batch);
            total += model.loss_and_gradient(theta, batch, g);
            model.hessian_vector_product(theta, batch, v, hv);
            sg.clear();
            total += model.loss_and_gradient(theta, batch, sg);
            sh.clear();
            model.hessian_vector_product(theta, batch, v, sh);
            model.predict(theta, batch, pred);
            model.score_all(theta, batch, scores);
            return total;
          };
          float total = 0;
          CHECK_FALSE(test::allocates([&] { total += step(); }));  // the first call warms up
          CHECK(std::isfinite(total));
          CHECK(hv.allFinite());
        };
        (check(m), ...);
      },
      models);
}

}  // namespace unity_test_ae_no_malloc
