// SVAE (the sequential VAE): conformance in float and double, the loss pinned against a reference
// written with plain loops (GRU, VAE head, next-k targets, the batch's ε), time order, fold-in
// prediction and the errors.

#include <metarec/models/autoencoder/svae.hpp>

#include "models/autoencoder/ae_test_support.hpp"
#include "models/conformance.hpp"
#include "models/entry_point_sizes.hpp"

#include <catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_svae {

static_assert(Model<Svae<float>> && HasHessianVectorProduct<Svae<double>> && HasLocalSegments<Svae<double>>);

namespace {

// The tiny data set with each row's time given by `time(row)`.
template <class F>
Dataset with_times(const Dataset& ds, F&& time) {
  DatasetParts p;
  p.name = ds.name();
  p.source = ds.source();
  for (RowIndex r = 0; r < ds.num_ratings(); ++r) {
    p.user.push_back(ds.user(r));
    p.item.push_back(ds.item(r));
    p.rating.push_back(ds.rating(r));
    p.time.push_back(time(r));
  }
  p.users = ds.user_ids();
  p.items = ds.item_ids();
  return Dataset(std::move(p));
}

Block block_named(const ParameterLayout& lay, const std::string& name) {
  for (std::size_t j = 0; j < lay.names().size(); ++j)
    if (lay.names()[j] == name) return lay.blocks()[j];
  FAIL("no block " << name);
  return {};
}

// The batch loss by the file comment of svae.hpp, element by element (no Eigen products).
double reference_loss(const Svae<double>& m, const Vector<double>& th, const RowBatch& b) {
  const SvaeOptions& o = m.options();
  const ParameterLayout& lay = m.layout();
  const auto at = [&](const std::string& name, Eigen::Index i, Eigen::Index j) {
    const Block blk = block_named(lay, name);
    return th[blk.offset + j * blk.rows + i];
  };
  const auto affine = [&](const std::string& name, const std::vector<double>& x, Eigen::Index out) {
    std::vector<double> y(static_cast<std::size_t>(out));
    for (Eigen::Index i = 0; i < out; ++i) {
      double s = at(name + ".bias", i, 0);
      for (std::size_t j = 0; j < x.size(); ++j) s += at(name + ".weight", i, static_cast<Eigen::Index>(j)) * x[j];
      y[static_cast<std::size_t>(i)] = s;
    }
    return y;
  };
  const auto sig = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  const Eigen::Index r = o.rnn, d = o.latent, n = b.num_columns();
  const Dataset& ds = *b.data;
  double penalty = 0.0;
  for (const char* w : {"item_embedding", "gru.input.weight", "gru.hidden.weight", "encoder.weight",
                        "latent.weight", "decoder.weight", "output.weight"}) {
    const Block blk = block_named(lay, w);
    penalty += 0.5 * o.reg * th.segment(blk.offset, blk.size()).squaredNorm();
  }
  double total = 0.0;
  for (const RowExample& ex : b.examples) {
    std::vector<RowIndex> rows(ex.input.begin(), ex.input.end());
    std::sort(rows.begin(), rows.end(), [&](RowIndex x, RowIndex y) {
      return ds.time(x) != ds.time(y) ? ds.time(x) < ds.time(y) : x < y;
    });
    std::vector<std::uint32_t> s;
    for (const RowIndex row : rows) s.push_back(ds.item(row));
    const bool recon = std::equal(ex.input.begin(), ex.input.end(), ex.target.begin(), ex.target.end());
    std::vector<std::size_t> steps;
    std::vector<std::vector<std::uint32_t>> targets;
    if (recon) {
      for (std::size_t t = 1; t < s.size(); ++t) {
        steps.push_back(t);
        targets.emplace_back(s.begin() + static_cast<std::ptrdiff_t>(t),
                             s.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(s.size(), t + o.next_k)));
      }
    } else {
      steps.push_back(s.size());
      targets.emplace_back();
      for (const RowIndex row : ex.target) targets.back().push_back(ds.item(row));
    }
    // h_t for t = 0..T.
    std::vector<std::vector<double>> h(1, std::vector<double>(static_cast<std::size_t>(r), 0.0));
    for (std::size_t t = 0; t < s.size(); ++t) {
      std::vector<double> x(static_cast<std::size_t>(o.embedding));
      for (Eigen::Index k = 0; k < o.embedding; ++k) x[static_cast<std::size_t>(k)] = at("item_embedding", k, s[t]);
      const std::vector<double> gi = affine("gru.input", x, 3 * r), gh = affine("gru.hidden", h.back(), 3 * r);
      std::vector<double> next(static_cast<std::size_t>(r));
      for (Eigen::Index j = 0; j < r; ++j) {
        const auto J = static_cast<std::size_t>(j), R = static_cast<std::size_t>(r);
        const double rg = sig(gi[J] + gh[J]), ug = sig(gi[R + J] + gh[R + J]);
        const double ng = std::tanh(gi[2 * R + J] + rg * gh[2 * R + J]);
        next[J] = (1.0 - ug) * ng + ug * h.back()[J];
      }
      h.push_back(next);
    }
    double le = 0.0;
    for (std::size_t k = 0; k < steps.size(); ++k) {
      std::vector<double> a1 = affine("encoder", h[steps[k]], o.hidden);
      for (double& v : a1) v = std::tanh(v);
      const std::vector<double> q = affine("latent", a1, 2 * d);
      Rng rng(derive_seed(b.seed, detail::tag_svae_latent, ex.entity, steps[k]));
      std::vector<double> z(static_cast<std::size_t>(d));
      double kl = 0.0;
      for (std::size_t j = 0; j < z.size(); ++j) {
        const double mu = q[j], lv = q[z.size() + j];
        z[j] = mu + std::exp(0.5 * lv) * rng.normal();
        kl += 0.5 * (-lv + std::exp(lv) + mu * mu - 1.0);
      }
      std::vector<double> a3 = affine("decoder", z, o.hidden);
      for (double& v : a3) v = std::tanh(v);
      std::vector<double> y(static_cast<std::size_t>(n));
      for (Eigen::Index i = 0; i < n; ++i) {
        double v = at("output.bias", i, 0);
        for (std::size_t j = 0; j < a3.size(); ++j) v += at("output.weight", static_cast<Eigen::Index>(j), i) * a3[j];
        y[static_cast<std::size_t>(i)] = v;
      }
      double sum = 0.0;
      for (const double v : y) sum += std::exp(v);
      double nll = 0.0;
      for (const std::uint32_t j : targets[k]) nll -= (y[j] - std::log(sum)) / static_cast<double>(targets[k].size());
      le += nll + o.beta / static_cast<double>(steps.size()) * kl;
    }
    total += le / static_cast<double>(b.size());
  }
  return total + penalty;
}

}  // namespace

TEMPLATE_TEST_CASE("SVAE conforms", "[models][autoencoder][svae]", float, double) {
  const Dataset ds = test::tiny_dataset();
  const WholeRows w(ds, test::all_rows(ds), RowSide::user);
  test::conforms(Svae<TestType>(ds, {.embedding = 3, .rnn = 4, .hidden = 3, .latent = 2, .next_k = 2,
                                     .beta = 0.3, .reg = 0.01}),
                 w.batch(3));
  const test::HalfRows half(ds);
  const WholeRows fold(ds, half.train, half.held_out, RowSide::user);
  test::conforms(Svae<TestType>(ds, {.embedding = 2, .rnn = 3, .hidden = 2, .latent = 2, .beta = 0.5}), fold.batch(8));
}

TEST_CASE("SVAE: the loss is the model's definition, element by element", "[models][autoencoder][svae]") {
  // Times run against the row order, so the sequence is each user's rows reversed.
  const Dataset base = test::tiny_dataset();
  const Dataset ds = with_times(base, [](RowIndex r) { return std::int64_t{5000000} - 60 * static_cast<std::int64_t>(r); });
  const Svae<double> m(ds, {.embedding = 3, .rnn = 4, .hidden = 3, .latent = 2, .next_k = 2, .beta = 0.3, .reg = 0.02});
  const Vector<double> th = test::theta_of(m, 8);
  const WholeRows w(ds, test::all_rows(ds), RowSide::user);
  const double recon = m.loss(th, w.batch(11));
  CHECK(recon == Approx(reference_loss(m, th, w.batch(11))).epsilon(1e-12));
  const test::HalfRows half(ds);
  const WholeRows fold(ds, half.train, half.held_out, RowSide::user);
  CHECK(m.loss(th, fold.batch(4)) == Approx(reference_loss(m, th, fold.batch(4))).epsilon(1e-12));

  // The order is the time order: the same rows in time = row order give another loss, and the
  // reference agrees there too.
  const Dataset forward = with_times(base, [](RowIndex r) { return std::int64_t{5000000} + 60 * static_cast<std::int64_t>(r); });
  const Svae<double> mf(forward, m.options());
  const WholeRows wf(forward, test::all_rows(forward), RowSide::user);
  const double other = mf.loss(th, wf.batch(11));
  CHECK(std::abs(other - recon) > 1e-6);
  CHECK(other == Approx(reference_loss(mf, th, wf.batch(11))).epsilon(1e-12));
  // Another ε: another loss (the draws come from the batch seed).
  CHECK(std::abs(m.loss(th, w.batch(12)) - recon) > 1e-9);
  CHECK(m.loss(th, w.batch(11)) == recon);
}

TEST_CASE("SVAE: next-k targets, fold-in prediction and scores", "[models][autoencoder][svae]") {
  const Dataset ds = test::tiny_dataset();
  const Svae<double> m(ds, {.embedding = 3, .rnn = 4, .hidden = 3, .latent = 2, .next_k = 3});
  const Vector<double> th = test::theta_of(m, 2);
  const test::HalfRows half(ds);
  const WholeRows fold(ds, half.train, half.held_out, RowSide::user);
  const RowBatch b = fold.batch();
  Vector<double> p(static_cast<Eigen::Index>(b.num_targets()));
  m.predict(th, b, p);
  Matrix<double> scores(ds.num_items(), static_cast<Eigen::Index>(b.size()));
  m.score_all(th, b, scores);
  Eigen::Index k = 0;
  for (std::size_t e = 0; e < b.size(); ++e) {
    const auto y = scores.col(static_cast<Eigen::Index>(e));
    const double lse = std::log(y.array().exp().sum());
    for (const RowIndex r : b.examples[e].target) {
      CHECK(p[k] == Approx(std::exp(y[ds.item(r)] - lse)).epsilon(1e-12));
      CHECK(p[k] > 0.0);
      ++k;
    }
  }
  // score_all depends on the input only: the same inputs with other targets give the same scores.
  const WholeRows same_input(ds, half.train, half.train, RowSide::user);
  Matrix<double> again(ds.num_items(), static_cast<Eigen::Index>(same_input.size()));
  m.score_all(th, same_input.batch(), again);
  REQUIRE(same_input.size() == b.size());
  CHECK((again - scores).cwiseAbs().maxCoeff() == 0.0);
  // A user with two rows under reconstruction has one output step whose only target is the
  // second item (next_k = 3 is cut at the sequence's end); with one row, the loss is 0.
  const std::vector<RowIndex> two{ds.by_user()[0][0], ds.by_user()[0][1]};
  const WholeRows w2(ds, two, RowSide::user);
  const Svae<double> no_kl(ds, {.embedding = 3, .rnn = 4, .hidden = 3, .latent = 2, .next_k = 3, .beta = 0.0});
  const double l2 = no_kl.loss(th, w2.batch(5));
  CHECK(l2 == Approx(reference_loss(no_kl, th, w2.batch(5))).epsilon(1e-12));
  CHECK(l2 > 0.0);
  const std::vector<RowIndex> one{ds.by_user()[0][0]};
  const WholeRows w1(ds, one, RowSide::user);
  CHECK(no_kl.loss(th, w1.batch(5)) == 0.0);
}

TEST_CASE("SVAE: every entry point rejects wrong sizes; data without times is refused", "[models][autoencoder][svae]") {
  const Dataset ds = test::tiny_dataset();
  const WholeRows w(ds, test::all_rows(ds), RowSide::user);
  test::check_entry_point_sizes(Svae<double>(ds, {.embedding = 2, .rnn = 2, .hidden = 2, .latent = 2}), w.batch(), "Svae");
  CHECK_THROWS_WITH(Svae<double>(ds, {.rnn = 0}), Catch::Contains("Svae: widths must be >= 1"));
  CHECK_THROWS_WITH(Svae<double>(ds, {.next_k = 0}), Catch::Contains("Svae: next_k must be >= 1"));
  const Dataset untimed = test::tiny_dataset(3, false);
  CHECK_THROWS_WITH(Svae<double>(untimed), Catch::Contains("Svae: the data set 'tiny'") && Catch::Contains("no timestamps"));
  // A model built on timed data refuses a batch of untimed rows.
  const Svae<double> m(ds, {.embedding = 2, .rnn = 2, .hidden = 2, .latent = 2});
  const WholeRows wu(untimed, test::all_rows(untimed), RowSide::user);
  CHECK_THROWS_WITH(m.loss(test::theta_of(m), wu.batch()), Catch::Contains("Svae::loss") && Catch::Contains("no timestamps"));
}

}  // namespace unity_test_svae
