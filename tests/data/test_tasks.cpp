#include <metarec/data/tasks.hpp>

#include "split_test_utils.hpp"

#include <catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <set>
#include <vector>

// Counting global allocation functions (for the whole test executable, at global scope), to prove that iterating meta-batches allocates nothing.
namespace {
std::atomic<long> g_allocations{0};
}
// Every non-aligned form is replaced, so allocation and deallocation always pair malloc/free.
// GCC's -Wmismatched-new-delete sees `free` on memory from `operator new` once these replacements
// are inlined; here that pairing is the point, so the warning is silenced for this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++g_allocations;
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& tag) noexcept {
  return operator new(n, tag);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_tasks {


namespace {
const Dataset& data() { return test::small_synthetic().dataset; }

std::vector<std::vector<RowIndex>> snapshot(const TaskSampler& s) {
  std::vector<std::vector<RowIndex>> out;
  for (const auto& t : s.tasks()) {
    out.push_back({t.user});
    out.back().insert(out.back().end(), t.support.begin(), t.support.end());
    out.back().push_back(~0u);
    out.back().insert(out.back().end(), t.query.begin(), t.query.end());
  }
  return out;
}
}  // namespace

TEST_CASE("tasks: K-shot tasks have K support and Q query rows of their user; short users skipped",
          "[split][tasks]") {
  const Dataset& ds = data();
  const auto rows = all_rows(ds);
  TaskSampler sampler(ds, rows, {.support = 5, .query = 10, .meta_batch = 8}, 1);
  std::size_t expected_tasks = 0, expected_skipped = 0;
  for (std::uint32_t u = 0; u < ds.num_users(); ++u)
    (ds.by_user().count(u) >= 15 ? expected_tasks : expected_skipped) += 1;
  REQUIRE(expected_skipped > 0);
  CHECK(sampler.num_tasks() == expected_tasks);
  CHECK(sampler.num_skipped() == expected_skipped);
  CHECK(sampler.num_batches() == (expected_tasks + 7) / 8);
  std::set<std::uint32_t> users;
  for (std::size_t b = 0; b < sampler.num_batches(); ++b) {
    const auto batch = sampler.batch(b);
    CHECK(batch.size() == (b + 1 < sampler.num_batches() ? 8 : expected_tasks - 8 * b));
    for (const TaskView& t : batch) {
      REQUIRE(t.support.size() == 5);
      REQUIRE(t.query.size() == 10);
      CHECK(users.insert(t.user).second);  // each task once per epoch
      std::vector<RowIndex> both(t.support.begin(), t.support.end());
      both.insert(both.end(), t.query.begin(), t.query.end());
      std::sort(both.begin(), both.end());
      CHECK(std::adjacent_find(both.begin(), both.end()) == both.end());  // disjoint
      for (const auto r : both) CHECK(ds.user(r) == t.user);
    }
  }
  CHECK(users.size() == expected_tasks);
}

TEST_CASE("tasks: epochs are deterministic from (seed, epoch) and differ between epochs",
          "[split][tasks]") {
  const Dataset& ds = data();
  const auto rows = all_rows(ds);
  const TaskOptions o{.support = 3, .query = 4, .meta_batch = 16};
  TaskSampler a(ds, rows, o, 42), b(ds, rows, o, 42), c(ds, rows, o, 43);
  a.start_epoch(0), a.start_epoch(1), a.start_epoch(2), a.start_epoch(3);
  b.start_epoch(3);
  CHECK(snapshot(a) == snapshot(b));  // history does not matter
  const auto e3 = snapshot(a);
  a.start_epoch(4);
  CHECK(snapshot(a) != e3);
  c.start_epoch(3);
  CHECK(snapshot(c) != e3);
  // The order of the data file does not matter either (tasks keyed by original ids).
  const Dataset shuffled = test::reordered(ds, 3);
  TaskSampler d(shuffled, all_rows(shuffled), o, 42);
  d.start_epoch(3);
  REQUIRE(d.num_tasks() == a.num_tasks());
  for (std::size_t k = 0; k < d.num_tasks(); ++k) {
    const auto& x = b.tasks()[k];
    const auto& y = d.tasks()[k];
    CHECK(x.user == y.user);
    REQUIRE(x.support.size() == y.support.size());
    for (std::size_t j = 0; j < x.support.size(); ++j)
      CHECK(ds.item(x.support[j]) == shuffled.item(y.support[j]));
  }
}

TEST_CASE("tasks: iterating meta-batches and starting an epoch allocate nothing", "[split][tasks]") {
  const Dataset& ds = data();
  TaskSampler sampler(ds, all_rows(ds), {.mode = SupportMode::all_but_query, .query = 3}, 7);
  const long before = g_allocations.load();
  std::size_t seen = 0;
  for (std::uint64_t epoch = 1; epoch < 4; ++epoch) {
    sampler.start_epoch(epoch);
    for (std::size_t b = 0; b < sampler.num_batches(); ++b)
      for (const TaskView& t : sampler.batch(b)) seen += t.support.size() + t.query.size();
  }
  CHECK(g_allocations.load() == before);
  CHECK(seen == 3 * ds.num_ratings());  // all_but_query uses every row of every (eligible) user
}

TEST_CASE("tasks: MeLU-style variable support, bounds, item tasks and fixed task lists",
          "[split][tasks]") {
  const Dataset& ds = data();
  const auto rows = all_rows(ds);
  const TaskOptions melu{.mode = SupportMode::all_but_query, .query = 10, .min_rows = 13,
                         .max_rows = 40};
  std::size_t skipped = 0;
  const auto tasks = make_tasks(ds, rows, melu, 5, &skipped);
  REQUIRE(!tasks.empty());
  std::size_t expected_skipped = 0;
  for (std::uint32_t u = 0; u < ds.num_users(); ++u) {
    const auto n = ds.by_user().count(u);
    expected_skipped += (n < 13 || n > 40);
  }
  CHECK(skipped == expected_skipped);
  for (const Task& t : tasks) {
    CHECK(t.query.size() == 10);
    CHECK(t.support.size() + 10 == ds.by_user().count(t.user));
    CHECK(t.support.size() >= 3);
  }
  CHECK(make_tasks(ds, rows, melu, 5) == tasks);
  CHECK(make_tasks(ds, rows, melu, 6) != tasks);

  TaskSampler items(ds, rows, {.group = TaskGroup::item, .support = 2, .query = 2}, 1);
  REQUIRE(items.num_tasks() > 0);
  for (const auto& t : items.tasks())
    for (const auto r : t.support) CHECK(ds.item(r) == t.user);

  TaskSampler fixed(tasks, 4, 9);
  CHECK(fixed.num_tasks() == tasks.size());
  std::size_t matched = 0;
  for (const auto& view : fixed.tasks())
    for (const auto& t : tasks)
      if (t.user == view.user) {
        CHECK(std::equal(view.query.begin(), view.query.end(), t.query.begin(), t.query.end()));
        CHECK(std::equal(view.support.begin(), view.support.end(), t.support.begin(),
                         t.support.end()));
        ++matched;
      }
  CHECK(matched == tasks.size());
  CHECK_THROWS_WITH(TaskSampler(ds, rows, {.query = 0}, 1), Catch::Contains("TaskSampler"));
}

TEST_CASE("tasks: hold_out_tasks keeps a seeded fraction as validation, rounded, order kept", "[split][tasks]") {
  std::vector<Task> tasks(25);
  for (std::uint32_t k = 0; k < tasks.size(); ++k) tasks[k].user = k;
  std::vector<Task> train, val;
  hold_out_tasks(tasks, 0.1, 7, train, val);
  REQUIRE(val.size() == 3);  // 2.5 rounds half up
  REQUIRE(train.size() == 22);
  std::set<std::uint32_t> all;
  for (const auto* part : {&train, &val})
    for (std::size_t k = 0; k < part->size(); ++k) {
      all.insert((*part)[k].user);
      if (k) CHECK((*part)[k - 1].user < (*part)[k].user);
    }
  CHECK(all.size() == 25);
  std::vector<Task> train2, val2;
  hold_out_tasks(tasks, 0.1, 7, train2, val2);
  CHECK(val2 == val);
  hold_out_tasks(tasks, 0.1, 8, train2, val2);
  CHECK(val2 != val);  // another seed draws other users (fixed here: 3 of 25)
  hold_out_tasks(tasks, 0.0, 7, train2, val2);
  CHECK(val2.empty());
  CHECK(train2.size() == 25);
  CHECK_THROWS_AS(hold_out_tasks(tasks, 1.0, 7, train2, val2), std::invalid_argument);
}

TEST_CASE("tasks: rows_without_task_users drops the rows of the tasks' users, order kept", "[split][tasks]") {
  const Dataset& ds = data();
  std::vector<RowIndex> rows(ds.num_ratings());
  for (RowIndex r = 0; r < rows.size(); ++r) rows[r] = rows.size() - 1 - r;  // reversed: order must be kept
  const std::vector<Task> held{{1, {}, {}}, {4, {}, {}}};
  const std::vector<RowIndex> kept = rows_without_task_users(ds, rows, held);
  std::size_t expected = 0;
  for (const RowIndex r : rows) expected += ds.user(r) != 1 && ds.user(r) != 4;
  REQUIRE(kept.size() == expected);
  REQUIRE(expected < rows.size());
  for (std::size_t k = 0; k < kept.size(); ++k) {
    CHECK(ds.user(kept[k]) != 1);
    CHECK(ds.user(kept[k]) != 4);
    if (k) CHECK(kept[k - 1] > kept[k]);
  }
  CHECK(rows_without_task_users(ds, rows, {}) == rows);
  CHECK_THROWS_AS(rows_without_task_users(ds, rows, std::vector<Task>{{ds.num_users(), {}, {}}}), std::invalid_argument);
  const std::vector<RowIndex> bad{static_cast<RowIndex>(ds.num_ratings())};
  CHECK_THROWS_AS(rows_without_task_users(ds, bad, held), std::invalid_argument);
}

}  // namespace unity_test_tasks
