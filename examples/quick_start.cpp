// Quick start (the README's C++ example, kept compiling here): load MovieLens-format data, split
// it with a named protocol, train biased matrix factorisation, and score the test set.
//   build/release/bin/quick_start [DATA_DIR]      (default: the shipped sample data/sample)

#include <metarec.hpp>

#include <cstdio>
#include <exception>
#include <string>

int main(int argc, char** argv) try {
  const std::string dir = argc > 1 ? argv[1] : std::string(METAREC_SOURCE_DIR) + "/data/sample";
  const metarec::Dataset ds = metarec::load_movielens(dir);
  const metarec::ProtocolSplit ps = metarec::make_protocol_split("seed-mf", ds, 42);

  using MF = metarec::MatrixFactorization<float>;
  const MF mf(ds.num_users(), ds.num_items(),
              {.dims = 64, .global_mean = ds.mean_rating(ps.split.train)});
  metarec::Vector<float> theta(mf.num_parameters());
  metarec::Rng rng(1);
  mf.initialize(theta, rng);

  metarec::Sgd<float> sgd({.lr = 0.005});
  metarec::fit(mf, theta, sgd, ds, ps.split.train, {.epochs = 30, .batch_size = 1, .seed = 42});

  metarec::Vector<float> pred(static_cast<Eigen::Index>(ps.split.test.size()));
  mf.predict(theta, metarec::RatingBatch{&ds, ps.split.test}, pred);

  double se = 0.0;
  for (std::size_t k = 0; k < ps.split.test.size(); ++k) {
    const double e = pred[static_cast<Eigen::Index>(k)] - ds.rating(ps.split.test[k]);
    se += e * e;
  }
  std::printf("%s: %zu ratings, seed-mf test MSE %.4f\n", dir.c_str(), ds.num_ratings(),
              se / static_cast<double>(ps.split.test.size()));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "quick_start: %s\n", e.what());
  return 1;
}
