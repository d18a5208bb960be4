#include <metarec/metrics/ranking.hpp>

#include <catch.hpp>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_ranking {

namespace mm = metarec::metrics;
using Ids = std::vector<std::uint32_t>;

namespace {
const double inv_log2_3 = 1.0 / std::log2(3.0);  // discount of rank 2 = 0.6309297536
}

TEST_CASE("ranking: hand-computed binary metrics", "[metrics][ranking]") {
  // ranked 5, 3, 8, 1, 9; relevant {1, 2, 3}: hits at rank 2 (item 3) and rank 4 (item 1).
  const Ids ranked{5, 3, 8, 1, 9};
  const Ids relevant{1, 2, 3};
  // @3: hits 1 -> precision 1/3
  CHECK(mm::precision(ranked, relevant, 3) == Approx(1.0 / 3.0));
  // @2: hits 1; recall = 1/|R| = 1/3, capped recall = 1/min(2, 3) = 1/2: the two denominators
  CHECK(mm::recall(ranked, relevant, 2) == Approx(1.0 / 3.0));
  CHECK(mm::recall_capped(ranked, relevant, 2) == Approx(0.5));
  // @5: hits 2 -> recall 2/3, capped 2/min(5,3) = 2/3 (they agree once K >= |R|)
  CHECK(mm::recall(ranked, relevant, 5) == Approx(2.0 / 3.0));
  CHECK(mm::recall_capped(ranked, relevant, 5) == Approx(2.0 / 3.0));
  // NDCG@2: DCG = 1/log2(3); IDCG = 1/log2(2) + 1/log2(3) (min(2,3) = 2 ideal hits)
  CHECK(mm::ndcg(ranked, relevant, 2) == Approx(inv_log2_3 / (1.0 + inv_log2_3)));
  // NDCG@5: DCG = 1/log2 3 + 1/log2 5; IDCG = 1 + 1/log2 3 + 1/log2 4
  CHECK(mm::ndcg(ranked, relevant, 5) ==
        Approx((inv_log2_3 + 1.0 / std::log2(5.0)) / (1.0 + inv_log2_3 + 0.5)));
  // AP@5: precisions at hits 1/2 and 2/4, sum 1.0, denominator min(5, 3) = 3 -> 1/3
  CHECK(mm::average_precision(ranked, relevant, 5) == Approx(1.0 / 3.0));
  // AP@2: (1/2) / min(2, 3) = 0.25; with |R| it would be 1/6, with the hit count 1/2
  CHECK(mm::average_precision(ranked, relevant, 2) == Approx(0.25));
  // RR: first hit at rank 2
  CHECK(mm::reciprocal_rank(ranked, relevant, 5) == 0.5);
  CHECK(mm::reciprocal_rank(ranked, relevant, 1) == 0.0);
  CHECK(mm::hit(ranked, relevant, 1) == 0.0);
  CHECK(mm::hit(ranked, relevant, 2) == 1.0);
}

TEST_CASE("ranking: MAP denominator is min(K, |R|), a perfect list scores 1", "[metrics][ranking]") {
  // |R| = 4 > K = 2, both top items relevant: (1/1 + 2/2) / min(2, 4) = 1
  CHECK(mm::average_precision(Ids{7, 8, 1}, Ids{1, 7, 8, 9}, 2) == 1.0);
  // |R| = 1 < K = 3, hit at rank 3: (1/3) / min(3, 1) = 1/3
  CHECK(mm::average_precision(Ids{4, 5, 6}, Ids{6}, 3) == Approx(1.0 / 3.0));
}

TEST_CASE("ranking: a list shorter than K counts missing positions as misses",
          "[metrics][ranking]") {
  const Ids ranked{3}, relevant{3};
  CHECK(mm::precision(ranked, relevant, 5) == Approx(0.2));  // 1 / K
  CHECK(mm::recall(ranked, relevant, 5) == 1.0);
  CHECK(mm::ndcg(ranked, relevant, 5) == 1.0);
  CHECK(mm::average_precision(ranked, relevant, 5) == 1.0);  // (1/1) / min(5, 1)
}

TEST_CASE("ranking: graded NDCG (2^g - 1) differs from binary NDCG", "[metrics][ranking]") {
  // ranked 4, 2, 7; relevant {2, 4, 9} with grades item2 = 3, item4 = 1, item9 = 2.
  const Ids ranked{4, 2, 7};
  const Ids relevant{2, 4, 9};
  const std::vector<float> grades{3, 1, 2};
  // graded DCG@3 = (2^1-1)/log2 2 + (2^3-1)/log2 3 = 1 + 7/log2 3
  // ideal from ALL relevant grades sorted 3, 2, 1 (item 9 is not in the list but counts):
  // IDCG@3 = 7/1 + 3/log2 3 + 1/log2 4
  const double graded = (1.0 + 7.0 * inv_log2_3) / (7.0 + 3.0 * inv_log2_3 + 0.5);
  CHECK(mm::graded_ndcg(ranked, relevant, grades, 3) == Approx(graded));  // 0.5766...
  // binary: DCG = 1 + 1/log2 3, IDCG = 1 + 1/log2 3 + 1/2
  const double binary = (1.0 + inv_log2_3) / (1.0 + inv_log2_3 + 0.5);
  CHECK(mm::ndcg(ranked, relevant, 3) == Approx(binary));  // 0.7654...
  CHECK(graded != Approx(binary));
  // @1: graded 1 / 7 (grade 1 at the top, ideal grade 3), binary 1
  CHECK(mm::graded_ndcg(ranked, relevant, grades, 1) == Approx(1.0 / 7.0));
  CHECK(mm::ndcg(ranked, relevant, 1) == 1.0);
  // all grades 0: ideal DCG 0 -> NaN
  CHECK(std::isnan(mm::graded_ndcg(ranked, relevant, std::vector<float>{0, 0, 0}, 3)));
  CHECK_THROWS_AS(mm::graded_ndcg(ranked, relevant, std::vector<float>{1, 2}, 3),
                  std::invalid_argument);
  CHECK_THROWS_AS(mm::graded_ndcg(ranked, relevant, std::vector<float>{1, -2, 3}, 3),
                  std::invalid_argument);
}

TEST_CASE("ranking: a user without relevant items gets NaN from every metric",
          "[metrics][ranking]") {
  const Ids ranked{1, 2, 3}, none;
  CHECK(std::isnan(mm::precision(ranked, none, 2)));
  CHECK(std::isnan(mm::recall(ranked, none, 2)));
  CHECK(std::isnan(mm::recall_capped(ranked, none, 2)));
  CHECK(std::isnan(mm::ndcg(ranked, none, 2)));
  CHECK(std::isnan(mm::graded_ndcg(ranked, none, std::vector<float>{}, 2)));
  CHECK(std::isnan(mm::average_precision(ranked, none, 2)));
  CHECK(std::isnan(mm::reciprocal_rank(ranked, none, 2)));
  CHECK(std::isnan(mm::hit(ranked, none, 2)));
}

TEST_CASE("ranking: k = 0 and unsorted relevant ids throw", "[metrics][ranking]") {
  CHECK_THROWS_AS(mm::precision(Ids{1}, Ids{1}, 0), std::invalid_argument);
  CHECK_THROWS_AS(mm::recall(Ids{1}, Ids{3, 1}, 2), std::invalid_argument);
  CHECK_THROWS_AS(mm::ndcg(Ids{1}, Ids{1, 1}, 2), std::invalid_argument);
}

TEST_CASE("ranking: item coverage over users", "[metrics][ranking]") {
  mm::ItemCoverage at2(5), at3(5);
  const Ids a{0, 1, 2}, b{1, 3, 0};
  at2.add(a, 2);  // {0, 1}
  at2.add(b, 2);  // {0, 1, 3}
  CHECK(at2.distinct() == 3);
  CHECK(at2.value() == Approx(3.0 / 5.0));
  at3.add(a, 3);  // {0, 1, 2}
  at3.add(b, 3);  // {0, 1, 2, 3}
  CHECK(at3.value() == Approx(4.0 / 5.0));
  CHECK_THROWS_AS(at3.add(Ids{7}, 1), std::invalid_argument);
}

TEST_CASE("ranking: metric names round-trip", "[metrics][ranking]") {
  for (const auto m : mm::all_ranking_metrics) CHECK(mm::parse_ranking_metric(mm::name(m)) == m);
  CHECK(!mm::parse_ranking_metric("ndcg@10").has_value());
  static_assert(mm::name(mm::RankingMetric::recall_capped) == "recall_capped");
}

}  // namespace unity_test_ranking
