#pragma once
// Size checks of the four gradient / HVP entry points every sink-based model shares
// (detail::SinkModelEntryPoints): dense and sparse `loss_and_gradient` and
// `hessian_vector_product` throw std::invalid_argument on a θ, v or output of the wrong size, with a
// message naming the model, the function and both sizes, before writing anything.

#include <metarec/core/concepts.hpp>
#include <metarec/core/rng.hpp>

#include <catch.hpp>

#include <stdexcept>
#include <string>

namespace metarec::test {

/// The message of the std::invalid_argument `f()` throws ("" when it throws none; other
/// exceptions propagate).
template <class F>
std::string invalid_argument_message(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

/// `f()` throws std::invalid_argument naming `model::function` and the sizes `got` and `want`.
template <class F>
void check_size_error(F&& f, const std::string& model, const std::string& function,
                      Eigen::Index got, Eigen::Index want) {
  const std::string msg = invalid_argument_message(f);
  INFO("expected " << model << "::" << function << " to reject size " << got << " (model has "
                   << want << "); message: \"" << msg << "\"");
  REQUIRE(!msg.empty());
  CHECK(msg.find(model + "::" + function) != std::string::npos);
  CHECK(msg.find(" " + std::to_string(got) + " ") != std::string::npos);
  CHECK(msg.find(" " + std::to_string(want) + " ") != std::string::npos);
}

/// Every entry point rejects a θ one entry too short and one too long, a v and a dense or sparse
/// output of the wrong size, and leaves the output untouched when it throws; right sizes pass.
template <HasSparseHessianVectorProduct M>
void check_entry_point_sizes(const M& model, const typename M::Batch& batch,
                             const std::string& model_name) {
  using S = typename M::Scalar;
  const Eigen::Index n = model.num_parameters();
  REQUIRE(n > 1);
  Vector<S> theta(n);
  Rng rng(41);
  model.initialize(theta, rng);
  const Vector<S> v = Vector<S>::Constant(n, S(1));
  const Vector<S> marker = Vector<S>::Constant(n, S(7));
  Vector<S> dense = marker;
  SparseGradient<S> sparse(n);

  for (const Eigen::Index bad : {n - 1, n + 1}) {
    INFO("wrong size " << bad << " (model has " << n << " parameters)");
    const Vector<S> theta_bad = Vector<S>::Zero(bad);
    const Vector<S> v_bad = Vector<S>::Zero(bad);
    Vector<S> dense_bad = Vector<S>::Zero(bad);
    SparseGradient<S> sparse_bad(bad);

    // Dense gradient: θ, then the gradient.
    check_size_error([&] { (void)model.loss_and_gradient(theta_bad, batch, dense); }, model_name,
                     "loss_and_gradient", bad, n);
    check_size_error([&] { (void)model.loss_and_gradient(theta, batch, dense_bad); }, model_name,
                     "loss_and_gradient (gradient)", bad, n);
    // Sparse gradient: θ, then the sparse gradient.
    check_size_error([&] { (void)model.loss_and_gradient(theta_bad, batch, sparse); }, model_name,
                     "loss_and_gradient", bad, n);
    check_size_error([&] { (void)model.loss_and_gradient(theta, batch, sparse_bad); }, model_name,
                     "loss_and_gradient (sparse gradient)", bad, n);
    // Dense HVP: θ, v, out.
    check_size_error([&] { model.hessian_vector_product(theta_bad, batch, v, dense); }, model_name,
                     "hessian_vector_product", bad, n);
    check_size_error([&] { model.hessian_vector_product(theta, batch, v_bad, dense); }, model_name,
                     "hessian_vector_product (v)", bad, n);
    check_size_error([&] { model.hessian_vector_product(theta, batch, v, dense_bad); }, model_name,
                     "hessian_vector_product (out)", bad, n);
    // Sparse HVP: θ, v, out.
    check_size_error([&] { model.hessian_vector_product(theta_bad, batch, v, sparse); },
                     model_name, "hessian_vector_product", bad, n);
    check_size_error([&] { model.hessian_vector_product(theta, batch, v_bad, sparse); },
                     model_name, "hessian_vector_product (v)", bad, n);
    check_size_error([&] { model.hessian_vector_product(theta, batch, v, sparse_bad); },
                     model_name, "hessian_vector_product (sparse out)", bad, n);
  }
  // Nothing was written by the calls that threw.
  CHECK(dense == marker);
  CHECK(sparse.touched().empty());
  CHECK(sparse.dense().isZero(0));

  // The right sizes still pass.
  CHECK_NOTHROW(model.loss_and_gradient(theta, batch, dense));
  CHECK_NOTHROW(model.loss_and_gradient(theta, batch, sparse));
  sparse.clear();
  CHECK_NOTHROW(model.hessian_vector_product(theta, batch, v, dense));
  CHECK_NOTHROW(model.hessian_vector_product(theta, batch, v, sparse));
}

}  // namespace metarec::test
