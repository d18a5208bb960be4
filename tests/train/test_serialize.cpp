#include <metarec/train/serialize.hpp>

#include <catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

using namespace metarec;

// Its own namespace: the test target is compiled as one unity translation unit.
namespace unity_test_serialize {

namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    path = fs::temp_directory_path() / ("metarec-serialize-" + std::to_string(stamp));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_all(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(s.data(), static_cast<std::streamsize>(s.size()));
}

Vector<float> sample_theta() {
  Vector<float> t(5);
  t << 1.5f, -2.25f, 0.0f, 3.125f, -0.5f;
  return t;
}

}  // namespace

TEST_CASE("parameter files: round trip with the configuration", "[train][serialize]") {
  TempDir dir;
  const fs::path file = dir.path / "mf.bin";
  save_parameters<float>(file, "MatrixFactorization", "dims=2\nbiases=1\n", sample_theta());
  std::string config;
  const Vector<float> back = load_parameters<float>(file, "MatrixFactorization", 5, &config);
  CHECK(back == sample_theta());
  CHECK(config == "dims=2\nbiases=1\n");
  const std::string bytes = read_all(file);
  CHECK(bytes.compare(0, 8, std::string("METAREC\0", 8)) == 0);
  CHECK(!fs::exists(dir.path / "mf.bin.tmp"));

  Vector<double> d(3);
  d << 1e-300, -7.0, 3.0;
  save_parameters<double>(file, "X", "", d);  // overwrites atomically
  CHECK(load_parameters<double>(file, "X", 3) == d);
}

TEST_CASE("parameter files: a corrupted byte fails the checksum", "[train][serialize]") {
  TempDir dir;
  const fs::path file = dir.path / "p.bin";
  save_parameters<float>(file, "MatrixFactorization", "dims=2\n", sample_theta());
  std::string bytes = read_all(file);
  for (const std::size_t at : {std::size_t{20}, bytes.size() - 12, bytes.size() - 1}) {
    std::string bad = bytes;
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    write_all(file, bad);
    INFO("flipped byte " << at);
    CHECK_THROWS_WITH(load_parameters<float>(file, "MatrixFactorization", 5),
                      Catch::Contains("checksum") && Catch::Contains(file.string()));
  }
  write_all(file, bytes.substr(0, bytes.size() - 7));
  CHECK_THROWS_AS(load_parameters<float>(file, "MatrixFactorization", 5), format_error);
  write_all(file, "hello world, not a parameter file");
  CHECK_THROWS_WITH(load_parameters<float>(file, "MatrixFactorization", 5), Catch::Contains("magic"));
}

TEST_CASE("parameter files: another model, scalar, size or version is a clear error",
          "[train][serialize]") {
  TempDir dir;
  const fs::path file = dir.path / "p.bin";
  save_parameters<float>(file, "MatrixFactorization", "dims=2\n", sample_theta());
  CHECK_THROWS_WITH(load_parameters<float>(file, "FactorizationMachine", 5),
                    Catch::Contains("'MatrixFactorization'") &&
                        Catch::Contains("'FactorizationMachine'") && Catch::Contains(file.string()));
  CHECK_THROWS_WITH(load_parameters<double>(file, "MatrixFactorization", 5),
                    Catch::Contains("4-byte") && Catch::Contains("expected 8"));
  CHECK_THROWS_WITH(load_parameters<float>(file, "MatrixFactorization", 6),
                    Catch::Contains("holds 5 parameters") && Catch::Contains("has 6"));
  std::string bytes = read_all(file);
  bytes[8] = 2;  // format version 2
  write_all(file, bytes);
  CHECK_THROWS_WITH(load_parameters<float>(file, "MatrixFactorization", 5),
                    Catch::Contains("format version 2") && Catch::Contains("reads version 1"));
}

TEST_CASE("parameter files: a failed write leaves no partial file", "[train][serialize]") {
  TempDir dir;
  // The directory does not exist: nothing can be created.
  const fs::path missing = dir.path / "no-such-dir" / "p.bin";
  CHECK_THROWS_WITH(save_parameters<float>(missing, "M", "", sample_theta()),
                    Catch::Contains("no-such-dir"));
  CHECK(!fs::exists(missing));
  CHECK(!fs::exists(dir.path / "no-such-dir"));
  // The target is a non-empty directory: the temporary file is written, the rename fails, and the
  // temporary file is removed again.
  const fs::path target = dir.path / "occupied";
  fs::create_directories(target / "inside");
  CHECK_THROWS_WITH(save_parameters<float>(target, "M", "", sample_theta()),
                    Catch::Contains("cannot rename"));
  CHECK(fs::is_directory(target));
  CHECK(!fs::exists(dir.path / "occupied.tmp"));
  // A good file stays intact when a later write fails.
  const fs::path good = dir.path / "good.bin";
  save_parameters<float>(good, "M", "", sample_theta());
  const std::string before = read_all(good);
  fs::create_directories(dir.path / "good.bin.tmp");  // blocks the temporary file
  CHECK_THROWS(save_parameters<float>(good, "M", "", Vector<float>::Zero(2).eval()));
  CHECK(read_all(good) == before);
}

}  // namespace unity_test_serialize
