// Round trip of every official R4 example (hl7.fhir.r4.examples 4.0.1, vendored in
// tests/data/r4-examples.tar.xz): parse strictly, write, and compare with the input as a JSON
// tree; then parse the output again and check that writing it is byte-stable.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "fhir/json/dom.h"
#include "fhir/json/parser.h"
#include "fhir/json/writer.h"
#include "tests/fhir/json/json_compare.h"

namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// roundtrip_skips.txt: "FILE  reason" per line; '#' starts a comment.
std::map<std::string, std::string> Skips() {
  std::map<std::string, std::string> skips;
  std::istringstream in(ReadFile(FHIR_ROUNDTRIP_SKIPS));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.find(' ');
    skips[line.substr(0, space)] =
        space == std::string::npos ? "" : line.substr(line.find_first_not_of(' ', space));
  }
  return skips;
}

}  // namespace

TEST_CASE("every official R4 example survives parse -> write -> parse unchanged") {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(FHIR_EXAMPLES_DIR)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() == 5306);

  std::map<std::string, std::string> skips = Skips();
  int passed = 0, skipped = 0;
  for (const auto& path : files) {
    std::string name = path.filename().string();
    std::string input = ReadFile(path);
    auto parsed = fhir::json::ParseResource(input);
    if (skips.count(name)) {
      // A skipped example must really be invalid: if it parses, the skip list is stale.
      CHECK_MESSAGE(!parsed.ok(), name << " is on the skip list but parses");
      ++skipped;
      continue;
    }
    if (!parsed.ok()) {
      FAIL_CHECK(name << ": " << parsed.status().ToString());
      continue;
    }
    std::string output = fhir::json::Write(*parsed.value());
    fhir::json::JsonDocument in_doc, out_doc;
    REQUIRE(in_doc.Parse(input).ok());
    REQUIRE(out_doc.Parse(output).ok());
    std::string diff = fhir::json::testing::Diff(in_doc.root(), out_doc.root());
    if (!diff.empty()) {
      FAIL_CHECK(name << ": " << diff);
      continue;
    }
    auto again = fhir::json::ParseResource(output);
    REQUIRE_MESSAGE(again.ok(), name << ": " << again.status().ToString());
    if (fhir::json::Write(*again.value()) != output) {
      FAIL_CHECK(name << ": second write differs");
      continue;
    }
    ++passed;
  }
  std::printf("R4 example round trip: %d passed, %d skipped (invalid examples) of %zu\n", passed,
              skipped, files.size());
  CHECK(passed + skipped == static_cast<int>(files.size()));
}
