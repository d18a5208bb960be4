#include <metarec/optim.hpp>

#include <catch.hpp>

#include <sstream>
#include <stdexcept>
#include <vector>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_optim {

static_assert(Optimizer<Sgd<float>, float>);
static_assert(Optimizer<Sgd<double>, double>);
static_assert(Optimizer<Adagrad<float>, float>);
static_assert(Optimizer<Adam<double>, double>);
static_assert(!Optimizer<int, float>);
static_assert(!Optimizer<std::vector<double>, double>);

namespace {
Vector<double> vec(std::initializer_list<double> xs) {
  Vector<double> v(static_cast<Eigen::Index>(xs.size()));
  Eigen::Index k = 0;
  for (double x : xs) v[k++] = x;
  return v;
}
void check_eq(const Vector<double>& got, std::initializer_list<double> want, double tol = 1e-12) {
  REQUIRE(got.size() == static_cast<Eigen::Index>(want.size()));
  Eigen::Index k = 0;
  for (double w : want) {
    INFO("entry " << k);
    CHECK(got[k] == Approx(w).margin(tol).epsilon(0));
    ++k;
  }
}
}  // namespace

TEST_CASE("Sgd: plain step is theta - lr g", "[optim][sgd]") {
  Sgd<double> opt{SgdOptions{.lr = 0.1}};
  Vector<double> theta = vec({1, 2});
  opt.step(theta, vec({0.5, -1}));
  check_eq(theta, {0.95, 2.1});
  CHECK(opt.velocity().size() == 0);  // no momentum: no state stored
}

TEST_CASE("Sgd: heavy-ball momentum over two steps", "[optim][sgd]") {
  Sgd<double> opt{SgdOptions{.lr = 0.1, .momentum = 0.9}};
  opt.reset(2);
  Vector<double> theta = vec({1, 2});
  opt.step(theta, vec({0.5, -1}));  // v = [0.5, -1]
  check_eq(theta, {0.95, 2.1});
  opt.step(theta, vec({1, 0}));     // v = 0.9 v + g = [1.45, -0.9]
  check_eq(opt.velocity(), {1.45, -0.9});
  check_eq(theta, {0.805, 2.19});
}

TEST_CASE("Sgd: weight decay is added to the gradient", "[optim][sgd]") {
  Sgd<double> opt{SgdOptions{.lr = 0.1, .weight_decay = 0.1}};
  Vector<double> theta = vec({1, 2});
  opt.step(theta, vec({0.5, -1}));  // g' = [0.6, -0.8]
  check_eq(theta, {0.94, 2.08});
}

TEST_CASE("Adagrad: accumulators and per-coordinate steps", "[optim][adagrad]") {
  Adagrad<double> opt{AdagradOptions{.lr = 0.1, .eps = 0.0, .initial_accumulator = 0.1}};
  opt.reset(2);
  check_eq(opt.accumulator(), {0.1, 0.1});
  Vector<double> theta = vec({1, 2});
  opt.step(theta, vec({0.3, -0.4}));
  check_eq(opt.accumulator(), {0.19, 0.26});
  check_eq(theta, {0.9311752798388315, 2.078446454055274});
  opt.step(theta, vec({0.3, 0.0}));
  check_eq(opt.accumulator(), {0.28, 0.26});
  check_eq(theta, {0.8744806088874475, 2.078446454055274});
}

TEST_CASE("Adam: bias correction at steps 1 and 2", "[optim][adam]") {
  Adam<double> opt{AdamOptions{.lr = 0.1}};
  Vector<double> theta = vec({1, 2, 3});
  // Step 1: m̂ = g, v̂ = g², so each coordinate moves by lr·g/(|g|+ε) ≈ lr·sign(g); g = 0 stays.
  opt.step(theta, vec({0.5, -2, 0}));
  CHECK(opt.steps() == 1);
  check_eq(opt.first_moment(), {0.05, -0.2, 0});
  check_eq(opt.second_moment(), {0.00025, 0.004, 0});
  check_eq(theta, {0.900000002, 2.1, 3}, 1e-8);
  // Step 2: coordinate 1 sees -2 again: m = -0.38, m̂ = -0.38/0.19 = -2, v̂ = 0.007996/0.001999 = 4.
  opt.step(theta, vec({1, -2, 0}));
  check_eq(opt.first_moment(), {0.145, -0.38, 0});
  check_eq(opt.second_moment(), {0.00124975, 0.007996, 0});
  check_eq(theta, {0.8034818006385094, 2.2, 3}, 1e-8);
}

TEST_CASE("Adam: AdamW decays theta directly, coupled L2 goes through the moments",
          "[optim][adam]") {
  Vector<double> g = vec({0.5, -2});
  SECTION("decoupled (AdamW): theta *= 1 - lr*wd, then the Adam step") {
    Adam<double> opt{AdamOptions{.lr = 0.1, .weight_decay = 0.5}};
    Vector<double> theta = vec({1, 2});
    opt.step(theta, g);
    check_eq(theta, {0.95 - 0.1, 1.9 + 0.1}, 1e-8);
    check_eq(opt.first_moment(), {0.05, -0.2});  // the moments never see the decay
  }
  SECTION("coupled: g' = g + wd*theta = [1, -1]") {
    Adam<double> opt{AdamOptions{.lr = 0.1, .weight_decay = 0.5, .decoupled = false}};
    Vector<double> theta = vec({1, 2});
    opt.step(theta, g);
    check_eq(opt.first_moment(), {0.1, -0.1});
    check_eq(theta, {0.9, 2.1}, 1e-8);
  }
}

namespace {
// A sparse gradient over 8 parameters touching [2,4) and [6,8).
SparseGradient<double> touched_grad() {
  SparseGradient<double> sg(8);
  sg.segment(2, 2) << 0.5, -1.0;
  sg.segment(6, 2) << 2.0, 0.25;
  return sg;
}
Vector<double> start_theta() { return vec({1, -1, 2, -2, 3, -3, 0.5, -0.5}); }

template <class O>
void check_sparse_matches_dense(O make_a, O make_b) {
  // Both optimisers first take the same dense step, so the state is non-zero everywhere.
  O dense = make_a, sparse = make_b;
  Vector<double> td = start_theta(), ts = start_theta();
  const Vector<double> g0 = vec({0.3, -0.2, 0.1, 0.4, -0.5, 0.6, -0.7, 0.8});
  dense.step(td, g0);
  sparse.step(ts, g0);
  REQUIRE(td == ts);
  const Vector<double> before = ts;
  const SparseGradient<double> sg = touched_grad();
  dense.step(td, sg.dense());
  sparse.step(ts, sg);
  for (Eigen::Index k : {2, 3, 6, 7}) {
    INFO("touched entry " << k);
    CHECK(ts[k] == Approx(td[k]).epsilon(1e-14));
    CHECK(ts[k] != before[k]);
  }
  for (Eigen::Index k : {0, 1, 4, 5}) {
    INFO("untouched entry " << k);
    CHECK(ts[k] == before[k]);
  }
}
}  // namespace

TEST_CASE("Sparse step equals the dense step on touched entries and leaves the others",
          "[optim][sparse]") {
  SECTION("Sgd with momentum and weight decay") {
    const Sgd<double> o{SgdOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01}};
    check_sparse_matches_dense(o, o);
  }
  SECTION("Adagrad") {
    const Adagrad<double> o{AdagradOptions{.lr = 0.1, .initial_accumulator = 0.1}};
    check_sparse_matches_dense(o, o);
  }
  SECTION("Adam (lazy: global step count for the bias correction)") {
    const Adam<double> o{AdamOptions{.lr = 0.01, .weight_decay = 0.1}};
    check_sparse_matches_dense(o, o);
  }
  SECTION("Adam coupled L2") {
    const Adam<double> o{AdamOptions{.lr = 0.01, .weight_decay = 0.1, .decoupled = false}};
    check_sparse_matches_dense(o, o);
  }
}

TEST_CASE("Lazy Adam: untouched rows keep their moments, the step count is global",
          "[optim][adam][sparse]") {
  Adam<double> opt{AdamOptions{.lr = 0.01}};
  Vector<double> theta = start_theta();
  opt.step(theta, vec({1, 1, 1, 1, 1, 1, 1, 1}));
  const Vector<double> m1 = opt.first_moment();
  opt.step(theta, touched_grad());
  CHECK(opt.steps() == 2);
  CHECK(opt.first_moment()[0] == m1[0]);
  CHECK(opt.first_moment()[2] == Approx(0.9 * m1[2] + 0.1 * 0.5));
}

namespace {
template <class O>
void check_round_trip(const O& proto) {
  O a = proto;
  Vector<double> theta = start_theta();
  for (int s = 0; s < 3; ++s) a.step(theta, (vec({0.3, -0.2, 0.1, 0.4, -0.5, 0.6, -0.7, 0.8}) * (s + 1)).eval());
  a.set_lr(a.lr() * 0.5);  // a schedule changed the learning rate: it is part of the state
  std::stringstream buf;
  a.save_state(buf);
  Vector<double> theta_b = theta;
  for (int s = 0; s < 2; ++s) {
    a.step(theta, touched_grad());
    a.step(theta, vec({0.1, 0.1, 0.1, 0.1, -0.1, -0.1, -0.1, -0.1}));
  }
  O b = proto;  // fresh, never reset
  b.load_state(buf);
  CHECK(b.lr() == a.lr());
  for (int s = 0; s < 2; ++s) {
    b.step(theta_b, touched_grad());
    b.step(theta_b, vec({0.1, 0.1, 0.1, 0.1, -0.1, -0.1, -0.1, -0.1}));
  }
  CHECK(theta_b == theta);  // bitwise: the continuation is identical
}
}  // namespace

TEST_CASE("save_state / load_state: the continuation is identical", "[optim][state]") {
  check_round_trip(Sgd<double>{SgdOptions{.lr = 0.1, .momentum = 0.9}});
  check_round_trip(Adagrad<double>{AdagradOptions{.lr = 0.1}});
  check_round_trip(Adam<double>{AdamOptions{.lr = 0.01, .weight_decay = 0.1}});
}

TEST_CASE("load_state rejects another optimiser, scalar, size or a truncated stream",
          "[optim][state]") {
  Adam<double> adam;
  adam.reset(8);
  std::stringstream buf;
  adam.save_state(buf);
  const std::string bytes = buf.str();
  {
    Sgd<double> sgd;
    std::istringstream in(bytes);
    CHECK_THROWS_WITH(sgd.load_state(in), Catch::Contains("metarec.Adam") && Catch::Contains("metarec.Sgd"));
  }
  {
    Adam<float> f;
    std::istringstream in(bytes);
    CHECK_THROWS_WITH(f.load_state(in), Catch::Contains("scalar size 8") && Catch::Contains("4 bytes"));
  }
  {
    Adam<double> other;
    other.reset(5);
    std::istringstream in(bytes);
    CHECK_THROWS_WITH(other.load_state(in), Catch::Contains("8 parameters") && Catch::Contains("5"));
  }
  {
    Adam<double> other;
    std::istringstream in(bytes.substr(0, bytes.size() - 3));
    CHECK_THROWS_AS(other.load_state(in), format_error);
  }
}

TEST_CASE("step checks sizes at the boundary", "[optim]") {
  Sgd<float> opt;
  opt.reset(3);
  Vector<float> theta = Vector<float>::Zero(4), g = Vector<float>::Zero(4);
  CHECK_THROWS_WITH(opt.step(theta, g), Catch::Contains("reset"));
  Vector<float> g3 = Vector<float>::Zero(3), t3 = Vector<float>::Zero(3);
  CHECK_THROWS_AS(opt.step(theta, g3), std::invalid_argument);
  CHECK_NOTHROW(opt.step(t3, g3));
}

TEMPLATE_TEST_CASE("float optimisers follow the double ones closely", "[optim]", float) {
  Adam<TestType> f{AdamOptions{.lr = 0.1}};
  Adam<double> d{AdamOptions{.lr = 0.1}};
  Vector<TestType> tf = start_theta().cast<TestType>();
  Vector<double> td = start_theta();
  for (int s = 0; s < 5; ++s) {
    const Vector<double> g = vec({0.3, -0.2, 0.1, 0.4, -0.5, 0.6, -0.7, 0.8}) * (1.0 + s);
    f.step(tf, g.cast<TestType>().eval());
    d.step(td, g);
  }
  CHECK((tf.template cast<double>() - td).norm() < 1e-5);
}

}  // namespace unity_test_optim
