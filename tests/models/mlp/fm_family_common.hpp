#pragma once
// Shared by the FM-family model tests (one translation unit per model, so no single test file
// dominates the compile time of the sanitizer build).
#include "models/conformance.hpp"
#include "models/tiny_data.hpp"

#include <metarec/models/mlp/field_network.hpp>

#include <cmath>

namespace metarec::test {

// Smooth hidden activation so float central differences stay meaningful (see test_melu.cpp).
inline FieldNetworkOptions small_fm(bool side, nn::LossKind loss = nn::LossKind::bce) {
  return {.embedding_dim = 3, .hidden = {4}, .activation = nn::Activation::tanh,
          .side_features = side, .loss = loss, .embedding_std = 0.5, .cin_layers = {3, 2}};
}

// The ReLU variant (kinks): conformance in double only.
template <class M>
void run_relu_conformance() {
  const Dataset ds = tiny_dataset();
  const auto rows = all_rows(ds);
  FieldNetworkOptions o = small_fm(true);
  o.activation = nn::Activation::relu;
  conforms(M(ds, o), RatingBatch{&ds, rows});
}

// The logit of one row, from the model's prediction.
template <class M>
double logit(const M& m, const Vector<double>& theta, const Dataset& ds, RowIndex r) {
  Vector<double> out(1);
  const RowIndex one[] = {r};
  m.predict(theta, RatingBatch{&ds, one}, out);
  return std::log(out[0] / (1 - out[0]));
}

}  // namespace metarec::test
