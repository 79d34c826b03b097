#include "server/rest_util.h"

#include <chrono>
#include <cstdint>
#include <regex>
#include <set>
#include <string>

#include <doctest/doctest.h>

namespace server {
namespace {

// The first 48 bits of a version-7 id: milliseconds since the Unix epoch.
std::uint64_t Millis(const std::string& id) {
  return std::stoull(id.substr(0, 8) + id.substr(9, 4), nullptr, 16);
}

std::uint64_t NowMillis() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

TEST_CASE("NewResourceId: a Patient's id is random (UUID version 4)") {
  const std::regex v4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewResourceId("Patient");
    CAPTURE(id);
    CHECK(std::regex_match(id, v4));
    seen.insert(id);
  }
  CHECK(seen.size() == 1000);
}

TEST_CASE("NewResourceId: other types' ids start with their creation time (UUID version 7)") {
  const std::regex v7("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  const std::uint64_t before = NowMillis();
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewResourceId(i % 2 == 0 ? "Observation" : "AuditEvent");
    CAPTURE(id);
    CHECK(std::regex_match(id, v7));
    // Made one after another, they sort by their time prefix.
    if (!previous.empty()) CHECK(id.substr(0, 13) >= previous.substr(0, 13));
    previous = id;
    seen.insert(id);
  }
  const std::uint64_t after = NowMillis();
  CHECK(seen.size() == 1000);
  CHECK(Millis(*seen.begin()) >= before);
  CHECK(Millis(*seen.rbegin()) <= after);
}

}  // namespace
}  // namespace server
