// nn::BatchNorm: forward statistics, running-statistics update, and exact gradient and R-operator
// H·v in training mode (batch statistics couple the columns) and inference mode (running
// statistics, which are not trained: their gradient is zero by construction).
#include "block_check.hpp"

#include <metarec/nn/batch_norm.hpp>

#include <catch.hpp>

#include <cmath>

using namespace metarec;
using namespace metarec::test;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_batch_norm {

namespace {

// Input X (n × B) in θ, then BatchNorm. In inference mode the running statistics are overwritten
// with fixed values before each pass, so L does not depend on their θ entries (as the block
// reports: zero gradient) and the check covers γ, β and X.
struct BatchNormProbe {
  ParameterLayout layout;
  Block X;
  nn::BatchNorm bn;
  Eigen::Index n_ = 3, B = 5;
  bool training = true;
  nn::BatchNormWorkspace<double> ws;
  Matrix<double> Y, RY, dX, RdX;
  explicit BatchNormProbe(bool train) : training(train) {
    X = layout.add("x", n_, B);
    bn = nn::BatchNorm::add(layout, "bn", n_);
    ws.reserve(n_, B);
  }
  Eigen::Index n() const { return layout.size(); }
  Vector<double> fixed(const Vector<double>& t) const {
    Vector<double> u = t;
    if (!training) {
      u.segment(bn.running_mean.offset, n_) << 0.3, -0.2, 0.1;
      u.segment(bn.running_var.offset, n_) << 0.5, 1.7, 0.9;
    }
    return u;
  }
  Matrix<double> forward(const Vector<double>& t0) {
    const Vector<double> t = fixed(t0);
    Y.resize(n_, B);
    bn.forward<double>(t, X.map<double>(ConstVectorRef<double>(t)), Y, ws, training);
    return Y;
  }
  void backward(const Vector<double>& t0, const Matrix<double>& G, Vector<double>& g) {
    const Vector<double> t = fixed(t0);
    DenseGradientSink<double> sink(g);
    dX.resize(n_, B);
    bn.backward<double>(t, G, sink, ws, dX);
    X.map<double>(VectorRef<double>(g)) += dX;
  }
  Matrix<double> r_forward(const Vector<double>& t0, const Vector<double>& v) {
    const Vector<double> t = fixed(t0);
    RY.resize(n_, B);
    const nn::ConstMatRef<double> rx = X.map<double>(ConstVectorRef<double>(v));
    bn.r_forward<double>(t, v, X.map<double>(ConstVectorRef<double>(t)), &rx, RY, ws);
    return RY;
  }
  void r_backward(const Vector<double>& t0, const Vector<double>& v, const Matrix<double>& G,
                  const Matrix<double>& RG, Vector<double>& hv) {
    const Vector<double> t = fixed(t0);
    DenseGradientSink<double> sink(hv);
    RdX.resize(n_, B);
    bn.r_backward<double>(t, v, G, RG, sink, ws, RdX);
    X.map<double>(VectorRef<double>(hv)) += RdX;
  }
};

}  // namespace

TEST_CASE("BatchNorm (training mode): gradient and R-operator HVP", "[nn][batch_norm]") {
  BatchNormProbe p(true);
  check_block(p);
  check_block(p, 5);
}

TEST_CASE("BatchNorm (inference mode): gradient and R-operator HVP", "[nn][batch_norm]") {
  BatchNormProbe p(false);
  check_block(p);
}

TEST_CASE("BatchNorm: running statistics never receive a gradient or an H·v entry", "[nn][batch_norm]") {
  BatchNormProbe p(true);
  Rng rng(3);
  Harness<BatchNormProbe> h(p, rng);
  const Vector<double> t = random_vector(p.n(), rng);
  const Vector<double> g = h.grad(t);
  const Vector<double> hv = h.hvp(t, random_vector(p.n(), rng));
  CHECK(g.segment(p.bn.running_mean.offset, 2 * p.n_).isZero(0.0));
  CHECK(hv.segment(p.bn.running_mean.offset, 2 * p.n_).isZero(0.0));
  CHECK(g.segment(p.bn.gamma.offset, p.n_).norm() > 0);
}

TEST_CASE("BatchNorm: batch statistics, running update and inference mode", "[nn][batch_norm]") {
  ParameterLayout layout;
  const auto bn = nn::BatchNorm::add(layout, "bn", 2, 0.0);
  Vector<double> theta(layout.size());
  bn.initialize<double>(theta);
  theta.segment(bn.gamma.offset, 2) << 2.0, 1.0;
  theta.segment(bn.beta.offset, 2) << 0.5, -1.0;
  Matrix<double> X(2, 4);
  X << 1, 2, 3, 6,     // mean 3, biased variance (4 + 1 + 0 + 9) / 4 = 3.5
      -1, -1, 1, 1;    // mean 0, variance 1
  nn::BatchNormWorkspace<double> ws;
  ws.reserve(2, 4);
  Matrix<double> Y(2, 4);
  bn.forward<double>(theta, X, Y, ws, true);
  CHECK(ws.mean[0] == Approx(3.0));
  CHECK(ws.var[0] == Approx(3.5));
  CHECK(Y(0, 3) == Approx(2.0 * 3.0 / std::sqrt(3.5) + 0.5));
  const Matrix<double> row1 = (Matrix<double>(1, 4) << -2, -2, 0, 0).finished();
  CHECK(Y.row(1).isApprox(row1, 1e-15));
  // Training-mode outputs: mean β, biased standard deviation |γ| per feature.
  CHECK(Y.row(0).mean() == Approx(0.5));
  CHECK(std::sqrt((Y.row(0).array() - 0.5).square().mean()) == Approx(2.0));

  bn.update_running<double>(theta, ws, 0.1, 4);
  CHECK(theta[bn.running_mean.offset] == Approx(0.3));                   // 0.9·0 + 0.1·3
  CHECK(theta[bn.running_var.offset] == Approx(0.9 + 0.1 * 3.5 * 4 / 3));  // unbiased: 14/3
  CHECK(theta[bn.running_var.offset + 1] == Approx(0.9 + 0.1 * 4.0 / 3));

  // Inference with running statistics equal to the batch's (biased) ones reproduces training.
  theta.segment(bn.running_mean.offset, 2) = ws.mean;
  theta.segment(bn.running_var.offset, 2) = ws.var;
  Matrix<double> Yi(2, 4);
  bn.forward<double>(theta, X, Yi, ws, false);
  CHECK(Yi.isApprox(Y, 1e-12));
  // Inference is per column: a single column gives the same output as inside the batch.
  Matrix<double> Y1(2, 1);
  bn.forward<double>(theta, X.col(3), Y1, ws, false);
  CHECK(Y1.isApprox(Y.col(3), 1e-12));
}

}  // namespace unity_test_batch_norm
