#include <metarec/metrics/full_ranking.hpp>

#include <catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <tuple>
#include <vector>

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_evaluation {

namespace mm = metarec::metrics;
using metarec::RowIndex;
using M = mm::RankingMetric;

namespace {

metarec::Dataset make_dataset(const std::vector<std::tuple<std::uint32_t, std::uint32_t, float>>& r,
                              std::int64_t num_users, std::int64_t num_items) {
  metarec::DatasetParts p;
  p.name = "tiny";
  for (const auto& [u, i, v] : r) {
    p.user.push_back(u);
    p.item.push_back(i);
    p.rating.push_back(v);
  }
  std::vector<std::int64_t> uids, iids;
  for (std::int64_t u = 0; u < num_users; ++u) uids.push_back(u);
  for (std::int64_t i = 0; i < num_items; ++i) iids.push_back(i);
  p.users = metarec::IdMap::from_ids(uids);
  p.items = metarec::IdMap::from_ids(iids);
  return metarec::Dataset(std::move(p));
}

// 3 users, 6 items. rows: 0:(u0,i0,4) 1:(u0,i1,3) 2:(u0,i2,5) 3:(u0,i4,2)
//                         4:(u1,i3,5) 5:(u1,i5,4) 6:(u2,i0,2) 7:(u2,i1,1)
metarec::Dataset tiny() {
  return make_dataset({{0, 0, 4}, {0, 1, 3}, {0, 2, 5}, {0, 4, 2},
                       {1, 3, 5}, {1, 5, 4}, {2, 0, 2}, {2, 1, 1}},
                      3, 6);
}
const std::vector<RowIndex> train{0, 1, 4, 6};
const std::vector<RowIndex> test{2, 3, 5, 7};

// u0: item 0 (a TRAINING item) scores highest; items 2 and 3 tie at 3.
// u1: items 1 and 5 tie at 2; item 3 (training) scores 9.
// u2: all items score 0.
Eigen::MatrixXf tiny_scores() {
  Eigen::MatrixXf s(3, 6);
  s << 10, 0.5f, 3, 3, 1, 2,  //
      1, 2, 0, 9, 0, 2,       //
      0, 0, 0, 0, 0, 0;
  return s;
}

}  // namespace

static_assert(mm::UserScorer<void (*)(std::uint32_t, Eigen::Ref<Eigen::VectorXf>)>);
static_assert(!mm::UserScorer<Eigen::MatrixXf>);  // Eigen's operator()(rows, cols) is a template
static_assert(!mm::UserScorer<int>);

TEST_CASE("full ranking: masked, tie-broken lists and hand-computed means",
          "[metrics][evaluation]") {
  const auto ds = tiny();
  const Eigen::MatrixXf s = tiny_scores();
  mm::FullRankingOptions opt;
  opt.ks = {1, 2};
  const auto r = mm::evaluate_full_ranking(ds, train, test, s, opt);
  REQUIRE(r.users == std::vector<std::uint32_t>{0, 1, 2});
  CHECK(r.users_skipped == 0);
  // u0 candidates 2,3,4,5 (0 and 1 masked) scores 3,3,1,2 -> 2 before 3 (tie: lower index first)
  CHECK(r.top(0)[0] == 2);
  CHECK(r.top(0)[1] == 3);
  // u1 candidates 0,1,2,4,5 scores 1,2,0,0,2 -> 1 before 5 (tie), item 3 masked
  CHECK(r.top(1)[0] == 1);
  CHECK(r.top(1)[1] == 5);
  // u2: all zero, item 0 masked -> 1, 2
  CHECK(r.top(2)[0] == 1);
  CHECK(r.top(2)[1] == 2);

  // Per user (relevant: u0 {2 (r5), 4 (r2)}, u1 {5 (r4)}, u2 {1 (r1)}):
  // precision@1: 1, 0, 1 -> 2/3; precision@2: 1/2 each -> 1/2
  CHECK(r.value(M::precision, 1) == Approx(2.0 / 3.0));
  CHECK(r.value(M::precision, 2) == Approx(0.5));
  // recall@2: u0 1/2, u1 1, u2 1 -> 2.5/3; recall_capped@1: u0 1/min(1,2) = 1, 0, 1 -> 2/3
  CHECK(r.value(M::recall, 2) == Approx(2.5 / 3.0));
  CHECK(r.value(M::recall, 1) == Approx(0.5 / 3.0 + 1.0 / 3.0));  // (1/2 + 0 + 1) / 3
  CHECK(r.value(M::recall_capped, 1) == Approx(2.0 / 3.0));
  // ndcg@2: u0 1/(1 + 1/log2 3), u1 (1/log2 3)/1, u2 1
  const double d2 = 1.0 / std::log2(3.0);
  CHECK(r.value(M::ndcg, 2) == Approx((1.0 / (1.0 + d2) + d2 + 1.0) / 3.0));
  // graded@2: u0 (2^5-1) / ((2^5-1) + (2^2-1)/log2 3), u1 15 d2 / 15, u2 1
  CHECK(r.value(M::graded_ndcg, 2) == Approx((31.0 / (31.0 + 3.0 * d2) + d2 + 1.0) / 3.0));
  // map@2: u0 (1/1)/min(2,2) = 1/2, u1 (1/2)/min(2,1) = 1/2, u2 1/1 = 1 -> 2/3
  CHECK(r.value(M::map, 2) == Approx(2.0 / 3.0));
  // mrr@2: 1, 1/2, 1; hit@1: 1, 0, 1
  CHECK(r.value(M::mrr, 2) == Approx(2.5 / 3.0));
  CHECK(r.value(M::hit, 1) == Approx(2.0 / 3.0));
  // per-user breakdown kept
  CHECK(r.per_user(1, static_cast<Eigen::Index>(r.column(5, 1))) == 0.5);  // map@2 of u1
  // coverage@1: {2, 1} -> 2/6; coverage@2: {2,3} u {1,5} u {1,2} = {1,2,3,5} -> 4/6
  REQUIRE(r.coverage.size() == 2);
  CHECK(r.coverage[0] == Approx(2.0 / 6.0));
  CHECK(r.coverage[1] == Approx(4.0 / 6.0));
  CHECK_THROWS_AS(r.value(M::ndcg, 7), std::invalid_argument);
}

TEST_CASE("full ranking: a training item never reaches the top-K, and would without masking",
          "[metrics][evaluation]") {
  const auto ds = tiny();
  const Eigen::MatrixXf s = tiny_scores();
  mm::FullRankingOptions opt;
  opt.ks = {2};
  const auto masked = mm::evaluate_full_ranking(ds, train, test, s, opt);
  for (std::size_t p = 0; p < masked.users.size(); ++p)
    for (const std::uint32_t i : masked.top(p))
      for (const RowIndex row : train)
        if (ds.user(row) == masked.users[p]) CHECK(i != ds.item(row));
  // The same scores with no training rows: u0's item 0 (score 10) and u1's item 3 (9) lead.
  const auto unmasked = mm::evaluate_full_ranking(ds, std::vector<RowIndex>{}, test, s, opt);
  CHECK(unmasked.top(0)[0] == 0);
  CHECK(unmasked.top(1)[0] == 3);
  CHECK(unmasked.value(M::precision, 2) < masked.value(M::precision, 2));
}

TEST_CASE("full ranking: threshold on ratings; users without relevant items skipped and counted",
          "[metrics][evaluation]") {
  const auto ds = tiny();
  mm::FullRankingOptions opt;
  opt.ks = {2};
  opt.metrics = {M::recall, M::precision};
  opt.min_relevant_rating = 4.0f;  // u0 keeps item 2 (r5) only; u2's only test item has r1
  const auto r = mm::evaluate_full_ranking(ds, train, test, tiny_scores(), opt);
  CHECK(r.users == std::vector<std::uint32_t>{0, 1});
  CHECK(r.users_skipped == 1);
  // recall@2: u0 1/1, u1 1/1 -> 1; precision@2: 1/2, 1/2
  CHECK(r.value(M::recall, 2) == 1.0);
  CHECK(r.value(M::precision, 2) == 0.5);
  CHECK(r.per_user.rows() == 2);
  CHECK(r.per_user.cols() == 2);
}

TEST_CASE("full ranking: callable and matrix agree; bad arguments throw",
          "[metrics][evaluation]") {
  const auto ds = tiny();
  const Eigen::MatrixXf s = tiny_scores();
  mm::FullRankingOptions opt;
  opt.ks = {1, 3};
  const auto a = mm::evaluate_full_ranking(ds, train, test, s, opt);
  const auto b = mm::evaluate_full_ranking(
      ds, train, test,
      [&s](std::uint32_t u, Eigen::Ref<Eigen::VectorXf> out) { out = s.row(u).transpose(); }, opt);
  CHECK(a.mean == b.mean);
  CHECK(a.top_items == b.top_items);

  CHECK_THROWS_AS(mm::evaluate_full_ranking(ds, train, test, Eigen::MatrixXf(3, 5), opt),
                  std::invalid_argument);
  CHECK_THROWS_AS(mm::evaluate_full_ranking(ds, train, std::vector<RowIndex>{2, 0}, s, opt),
                  std::invalid_argument);  // row 0 is a training row
  CHECK_THROWS_AS(mm::evaluate_full_ranking(ds, train, std::vector<RowIndex>{99}, s, opt),
                  std::invalid_argument);
  mm::FullRankingOptions zero;
  zero.ks = {0};
  CHECK_THROWS_AS(mm::evaluate_full_ranking(ds, train, test, s, zero), std::invalid_argument);
  // An exception of the scorer reaches the caller.
  CHECK_THROWS_AS(mm::evaluate_full_ranking(
                      ds, train, test,
                      [](std::uint32_t u, Eigen::Ref<Eigen::VectorXf> out) {
                        out.setZero();
                        if (u == 1) throw std::runtime_error("scorer failed");
                      },
                      opt),
                  std::runtime_error);
}

TEST_CASE("full ranking: matches a full-sort reference on random tied scores, any thread count",
          "[metrics][evaluation]") {
  const std::uint32_t nu = 60, ni = 80;
  std::mt19937_64 gen(7);
  std::vector<std::tuple<std::uint32_t, std::uint32_t, float>> rows;
  for (std::uint32_t u = 0; u < nu; ++u)
    for (std::uint32_t i = 0; i < ni; ++i)
      if (gen() % 5 == 0) rows.emplace_back(u, i, static_cast<float>(1 + gen() % 5));
  const auto ds = make_dataset(rows, nu, ni);
  std::vector<RowIndex> tr, te;
  for (RowIndex r = 0; r < ds.num_ratings(); ++r) (gen() % 4 == 0 ? te : tr).push_back(r);
  Eigen::MatrixXf s(nu, ni);
  for (std::uint32_t u = 0; u < nu; ++u)
    for (std::uint32_t i = 0; i < ni; ++i) s(u, i) = static_cast<float>(gen() % 7);  // many ties
  mm::FullRankingOptions opt;
  opt.ks = {1, 5, 20};
  opt.num_threads = 1;
  const auto one = mm::evaluate_full_ranking(ds, tr, te, s, opt);
  opt.num_threads = 3;
  const auto three = mm::evaluate_full_ranking(ds, tr, te, s, opt);
  CHECK(one.mean == three.mean);  // bitwise
  CHECK(one.per_user == three.per_user);
  CHECK(one.top_items == three.top_items);

  // Reference: full std::sort of the unmasked candidates, then the per-user public functions.
  double sum_ndcg = 0.0, sum_recall = 0.0, sum_map = 0.0;
  std::size_t users = 0;
  for (std::uint32_t u = 0; u < nu; ++u) {
    std::vector<std::uint32_t> rel, cand;
    std::vector<bool> is_train(ni, false);
    for (const RowIndex r : tr)
      if (ds.user(r) == u) is_train[ds.item(r)] = true;
    for (const RowIndex r : te)
      if (ds.user(r) == u) rel.push_back(ds.item(r));
    if (rel.empty()) continue;
    std::sort(rel.begin(), rel.end());
    for (std::uint32_t i = 0; i < ni; ++i)
      if (!is_train[i]) cand.push_back(i);
    std::stable_sort(cand.begin(), cand.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return s(u, a) > s(u, b); });
    cand.resize(std::min<std::size_t>(cand.size(), 20));
    REQUIRE(users < one.users.size());
    CHECK(one.users[users] == u);
    for (std::size_t p = 0; p < cand.size(); ++p) CHECK(one.top(users)[p] == cand[p]);
    sum_ndcg += mm::ndcg(cand, rel, 5);
    sum_recall += mm::recall(cand, rel, 20);
    sum_map += mm::average_precision(cand, rel, 1);
    ++users;
  }
  REQUIRE(users == one.users.size());
  CHECK(one.value(M::ndcg, 5) == Approx(sum_ndcg / static_cast<double>(users)).epsilon(1e-12));
  CHECK(one.value(M::recall, 20) == Approx(sum_recall / static_cast<double>(users)).epsilon(1e-12));
  CHECK(one.value(M::map, 1) == Approx(sum_map / static_cast<double>(users)).epsilon(1e-12));
}

TEST_CASE("query NDCG (MeLU): gains 2^r - 1 of the true ratings, ranked by prediction",
          "[metrics][evaluation][query]") {
  // ratings {5, 3, 1}, predictions {0.2, 0.9, 0.1} -> order: r3, r5, r1
  const std::vector<float> r{5, 3, 1}, p{0.2f, 0.9f, 0.1f};
  // @1: (2^3 - 1) / (2^5 - 1) = 7/31
  CHECK(mm::query_ndcg(r, p, 1) == Approx(7.0 / 31.0));
  // @3: DCG = 7 + 31/log2 3 + 1/2, IDCG = 31 + 7/log2 3 + 1/2
  const double d2 = 1.0 / std::log2(3.0);
  CHECK(mm::query_ndcg(r, p, 3) == Approx((7.0 + 31.0 * d2 + 0.5) / (31.0 + 7.0 * d2 + 0.5)));
  // K larger than the list: both sums stop at 3 items
  CHECK(mm::query_ndcg(r, p, 10) == mm::query_ndcg(r, p, 3));
  // equal predictions: the earlier position first -> rating 1 at the top: 1/31
  CHECK(mm::query_ndcg(std::vector<double>{1, 5}, std::vector<double>{0.5, 0.5}, 1) ==
        Approx(1.0 / 31.0));
  CHECK(std::isnan(mm::query_ndcg(std::vector<float>{}, std::vector<float>{}, 1)));
  CHECK_THROWS_AS(mm::query_ndcg(r, std::vector<float>{1, 2}, 1), std::invalid_argument);
  CHECK_THROWS_AS(mm::query_ndcg(r, p, 0), std::invalid_argument);
}

TEST_CASE("query NDCG over a data set: per user, ties by lower item index",
          "[metrics][evaluation][query]") {
  const auto ds = tiny();
  // query rows of all users: u0 items 2 (r5), 4 (r2); u1 item 5 (r4); u2 item 1 (r1)
  const std::vector<RowIndex> q{2, 3, 5, 7};
  const std::vector<float> pred{0.1f, 0.9f, 0.3f, 0.3f};
  const std::vector<std::size_t> ks{1, 3};
  const auto res = mm::evaluate_query_ndcg(ds, q, pred, ks);
  CHECK(res.users == std::vector<std::uint32_t>{0, 1, 2});
  // u0 ranks item 4 (r2) first: @1 = 3/31; @3 (2 items) = (3 + 31/log2 3) / (31 + 3/log2 3)
  const double d2 = 1.0 / std::log2(3.0);
  CHECK(res.per_user(0, 0) == Approx(3.0 / 31.0));
  CHECK(res.per_user(0, 1) == Approx((3.0 + 31.0 * d2) / (31.0 + 3.0 * d2)));
  // single-item users score 1
  CHECK(res.mean[0] == Approx((3.0 / 31.0 + 2.0) / 3.0));
  // Equal predictions, rows given in reverse: item 2 (lower index, r5) still ranks first -> 1
  const auto tie = mm::evaluate_query_ndcg(ds, std::vector<RowIndex>{3, 2},
                                           std::vector<float>{0.5f, 0.5f}, ks);
  CHECK(tie.per_user(0, 0) == 1.0);
  CHECK_THROWS_AS(mm::evaluate_query_ndcg(ds, std::vector<RowIndex>{2, 2},
                                          std::vector<float>{0.5f, 0.5f}, ks),
                  std::invalid_argument);
  CHECK_THROWS_AS(mm::evaluate_query_ndcg(ds, q, std::vector<float>{1.0f}, ks),
                  std::invalid_argument);
}

}  // namespace unity_test_evaluation
