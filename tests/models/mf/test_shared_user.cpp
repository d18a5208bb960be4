// shared_user_theta: a model trained with a column per user becomes the new-user (shared_user)
// form of the same model; the user columns fold into their mean, every other block is copied.
#include "models/tiny_data.hpp"

#include <metarec/core/rng.hpp>
#include <metarec/models/mf/matrix_factorization.hpp>
#include <metarec/models/mf/shared_user.hpp>
#include <metarec/models/mf/side_feature_mf.hpp>

#include <catch.hpp>

#include <string>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_shared_user {

namespace {
Vector<double> random_vector(Eigen::Index n, std::uint64_t seed) {
  Vector<double> v(n);
  Rng rng(seed);
  for (Eigen::Index k = 0; k < n; ++k) v[k] = rng.normal(0.0, 0.5);
  return v;
}

const Block& block(const ParameterLayout& l, const std::string& name) {
  for (std::size_t b = 0; b < l.names().size(); ++b)
    if (l.names()[b] == name) return l.blocks()[b];
  throw std::logic_error("no block " + name);
}
}  // namespace

TEST_CASE("shared_user_theta: biased MF, user columns averaged, item blocks copied",
          "[models][mf][shared_user]") {
  const Dataset ds = test::tiny_dataset();
  const MatrixFactorizationOptions per{.dims = 3, .biases = true, .global_mean = 3.5};
  MatrixFactorizationOptions one = per;
  one.shared_user = true;
  const MatrixFactorization<double> trained(ds.num_users(), ds.num_items(), per);
  const MatrixFactorization<double> shared(ds.num_users(), ds.num_items(), one);
  const Vector<double> t = random_vector(trained.num_parameters(), 7);
  const Vector<double> s = shared_user_theta<double>(shared.layout(), ds.num_users(), t);
  REQUIRE(s.size() == shared.num_parameters());

  const Block& P = block(trained.layout(), "user_factors");
  const Block& bu = block(trained.layout(), "user_bias");
  const auto users = static_cast<Eigen::Index>(ds.num_users());
  // By hand: the mean of the users' columns.
  for (Eigen::Index r = 0; r < 3; ++r) {
    double sum = 0;
    for (Eigen::Index u = 0; u < users; ++u) sum += t[P.offset + u * 3 + r];
    CHECK(s[block(shared.layout(), "user_factors").offset + r] == Approx(sum / static_cast<double>(users)).epsilon(1e-12));
  }
  double bsum = 0;
  for (Eigen::Index u = 0; u < users; ++u) bsum += t[bu.offset + u];
  CHECK(s[block(shared.layout(), "user_bias").offset] == Approx(bsum / static_cast<double>(users)).epsilon(1e-12));
  for (const char* name : {"item_factors", "item_bias"}) {
    const Block& a = block(trained.layout(), name);
    const Block& b = block(shared.layout(), name);
    CHECK(s.segment(b.offset, b.size()) == t.segment(a.offset, a.size()));
  }
}

TEST_CASE("shared_user_theta: users with equal columns predict as the shared model",
          "[models][mf][shared_user]") {
  // Every user's columns set to the same values: the per-user model and its folded shared form
  // must give every rating the same prediction (SideFeatureMF: user and item feature blocks too).
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const SideFeatureMF<double> trained(ds, {.dims = 2, .global_mean = 3.25});
  const SideFeatureMF<double> shared(ds, {.dims = 2, .global_mean = 3.25, .shared_user = true});
  Vector<double> t = random_vector(trained.num_parameters(), 11);
  const Block& P = block(trained.layout(), "user_factors");
  const Block& bu = block(trained.layout(), "user_bias");
  for (Eigen::Index u = 1; u < P.cols; ++u) {
    t.segment(P.offset + u * P.rows, P.rows) = t.segment(P.offset, P.rows);
    t[bu.offset + u] = t[bu.offset];
  }
  const Vector<double> s = shared_user_theta<double>(shared.layout(), ds.num_users(), t);
  Vector<double> a(static_cast<Eigen::Index>(rows.size())), b(a.size());
  trained.predict(t, RatingBatch{&ds, rows}, a);
  shared.predict(s, RatingBatch{&ds, rows}, b);
  for (Eigen::Index k = 0; k < a.size(); ++k) CHECK(b[k] == Approx(a[k]).epsilon(1e-12));
}

TEST_CASE("shared_user_theta: a parameter vector of another size is refused",
          "[models][mf][shared_user]") {
  const Dataset ds = test::tiny_dataset();
  const MatrixFactorization<double> shared(ds.num_users(), ds.num_items(),
                                           {.dims = 3, .biases = true, .shared_user = true});
  const MatrixFactorization<double> other(ds.num_users(), ds.num_items(), {.dims = 4, .biases = true});
  const Vector<double> t = random_vector(other.num_parameters(), 3);
  CHECK_THROWS_WITH(shared_user_theta<double>(shared.layout(), ds.num_users(), t),
                    Catch::Contains("hold " + std::to_string(t.size()) + " values") &&
                        Catch::Contains("users has"));
  // The per-user form is not a new-user layout.
  CHECK_THROWS_WITH(shared_user_theta<double>(other.layout(), ds.num_users(), t), Catch::Contains("not 1"));
}

TEST_CASE("set_own_user: the shared model predicts for user u as the per-user model does",
          "[models][mf][shared_user]") {
  // Random per-user SideFeatureMF (user and item feature blocks too), folded; then, user by user,
  // the user blocks set back to that user's own columns: the shared model's predictions of the
  // user's rows equal the per-user model's, and no other block changes.
  const Dataset ds = test::tiny_dataset();
  const auto rows = test::all_rows(ds);
  const SideFeatureMF<double> trained(ds, {.dims = 2, .global_mean = 3.25});
  const SideFeatureMF<double> shared(ds, {.dims = 2, .global_mean = 3.25, .shared_user = true});
  const Vector<double> t = random_vector(trained.num_parameters(), 13);
  const Vector<double> folded = shared_user_theta<double>(shared.layout(), ds.num_users(), t);
  const Block& P0 = block(shared.layout(), "user_factors");
  const Block& b0 = block(shared.layout(), "user_bias");
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
    std::vector<RowIndex> mine;
    for (const RowIndex r : rows)
      if (ds.user(r) == u) mine.push_back(r);
    Vector<double> s = folded;
    set_own_user<double>(shared.layout(), ds.num_users(), t, u, s);
    Vector<double> a(static_cast<Eigen::Index>(mine.size())), b(a.size());
    trained.predict(t, RatingBatch{&ds, mine}, a);
    shared.predict(s, RatingBatch{&ds, mine}, b);
    for (Eigen::Index k = 0; k < a.size(); ++k) CHECK(b[k] == Approx(a[k]).epsilon(1e-12));
    // Only the user blocks changed.
    Vector<double> d = s - folded;
    d.segment(P0.offset, P0.size()).setZero();
    d.segment(b0.offset, b0.size()).setZero();
    CHECK(d.cwiseAbs().maxCoeff() == 0.0);
  }
  Vector<double> s = folded;
  CHECK_THROWS_WITH(set_own_user<double>(shared.layout(), ds.num_users(), t, ds.num_users(), s),
                    Catch::Contains("is not one of the"));
  Vector<double> short_theta(folded.size() - 1);
  CHECK_THROWS_WITH(set_own_user<double>(shared.layout(), ds.num_users(), t, 0, short_theta),
                    Catch::Contains("theta holds"));
  CHECK_THROWS_WITH(set_own_user<double>(shared.layout(), ds.num_users(), folded, 0, s),
                    Catch::Contains("trained parameters hold"));
}

}  // namespace unity_test_shared_user
