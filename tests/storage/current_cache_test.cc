#include "storage/current_cache.h"

#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace storage {
namespace {

StoredVersion V(const std::string& id, std::int64_t version, std::size_t size = 10) {
  StoredVersion v;
  v.type = "Patient";
  v.id = id;
  v.version = version;
  v.json = std::string(size, 'x');
  return v;
}

TEST_CASE("CurrentCache keeps an offered version until a commit changes it") {
  CurrentCache cache(1000);
  CHECK_FALSE(cache.Find("Patient", "a").has_value());
  cache.Offer(V("a", 1), cache.Generation());
  auto found = cache.Find("Patient", "a");
  REQUIRE(found.has_value());
  CHECK(found->version == 1);
  CHECK(found->json == std::string(10, 'x'));
  CHECK_FALSE(cache.Find("Observation", "a").has_value());
  // A commit of another resource keeps it; a commit of it drops it.
  cache.Committed({CurrentCache::Key("Patient", "b")});
  CHECK(cache.Find("Patient", "a").has_value());
  cache.Committed({CurrentCache::Key("Patient", "a")});
  CHECK_FALSE(cache.Find("Patient", "a").has_value());
}

TEST_CASE("CurrentCache refuses a version read before a commit ended") {
  CurrentCache cache(1000);
  const std::uint64_t before = cache.Generation();
  cache.Committed({CurrentCache::Key("Patient", "a")});  // ends while the read runs
  cache.Offer(V("a", 1), before);
  CHECK_FALSE(cache.Find("Patient", "a").has_value());
  cache.Offer(V("a", 2), cache.Generation());
  auto found = cache.Find("Patient", "a");
  REQUIRE(found.has_value());
  CHECK(found->version == 2);
}

TEST_CASE("CurrentCache takes no version of a key while its commit runs") {
  CurrentCache cache(1000);
  cache.Offer(V("a", 1), cache.Generation());
  const std::vector<std::string> keys = {CurrentCache::Key("Patient", "a")};
  cache.Committing(keys);
  CHECK_FALSE(cache.Find("Patient", "a").has_value());
  // A read during the commit may have seen either version: neither is kept.
  cache.Offer(V("a", 1), cache.Generation());
  cache.Offer(V("a", 2), cache.Generation());
  CHECK_FALSE(cache.Find("Patient", "a").has_value());
  cache.Offer(V("b", 1), cache.Generation());  // other keys are kept meanwhile
  CHECK(cache.Find("Patient", "b").has_value());
  cache.Committed(keys);
  CHECK(cache.Find("Patient", "b").has_value());
  cache.Offer(V("a", 2), cache.Generation());
  CHECK(cache.Find("Patient", "a")->version == 2);
}

TEST_CASE("CurrentCache keeps the newer of two versions offered in one generation") {
  CurrentCache cache(1000);
  const std::uint64_t generation = cache.Generation();
  cache.Offer(V("a", 6), generation);  // read after a commit that is not reported yet
  cache.Offer(V("a", 5), generation);  // read before it
  CHECK(cache.Find("Patient", "a")->version == 6);
}

TEST_CASE("CurrentCache drops the least recently used past its size") {
  CurrentCache cache(250);
  cache.Offer(V("a", 1, 100), cache.Generation());
  cache.Offer(V("b", 1, 100), cache.Generation());
  CHECK(cache.Find("Patient", "a").has_value());  // a is now more recent than b
  cache.Offer(V("c", 1, 100), cache.Generation());
  CHECK(cache.Find("Patient", "a").has_value());
  CHECK_FALSE(cache.Find("Patient", "b").has_value());
  CHECK(cache.Find("Patient", "c").has_value());
  // A newer version of a kept one replaces it without counting twice.
  cache.Offer(V("c", 2, 100), cache.Generation());
  CHECK(cache.Find("Patient", "a").has_value());
  CHECK(cache.Find("Patient", "c")->version == 2);
  // Larger than the whole cache: not kept.
  cache.Offer(V("d", 1, 251), cache.Generation());
  CHECK_FALSE(cache.Find("Patient", "d").has_value());
}

}  // namespace
}  // namespace storage
