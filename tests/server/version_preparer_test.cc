// The transaction's version preparer (server/version_preparer.h): every created resource comes
// back prepared as its own version 1, whether the thread or the caller prepared it.

#include "server/version_preparer.h"

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "fhir/json/parser.h"
#include "fhir/json/writer.h"
#include "fhir/search/index_extractor.h"

namespace server {
namespace {

// `n` Observations with ids o0, o1, ... and a subject each.
std::vector<std::unique_ptr<fhir::Resource>> Observations(int n) {
  std::vector<std::unique_ptr<fhir::Resource>> out;
  for (int i = 0; i < n; ++i) {
    const std::string json =
        R"({"resourceType":"Observation","id":"o)" + std::to_string(i) +
        R"(","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}]},)"
        R"("subject":{"reference":"Patient/p)" + std::to_string(i) +
        R"("},"valueQuantity":{"value":)" + std::to_string(150 + i) +
        R"(,"unit":"cm","system":"http://unitsofmeasure.org","code":"cm"}})";
    auto parsed = fhir::json::ParseResource(json);
    REQUIRE(parsed.ok());
    out.push_back(std::move(parsed).value());
  }
  return out;
}

std::vector<fhir::Resource*> Pointers(const std::vector<std::unique_ptr<fhir::Resource>>& all) {
  std::vector<fhir::Resource*> out;
  for (const auto& r : all) out.push_back(r.get());
  return out;
}

// What `p` must hold for `resource`: its version 1 as the resource now is (meta set by it).
void CheckPrepared(const PreparedVersion* p, const fhir::Resource& resource) {
  REQUIRE(p != nullptr);
  CHECK(p->v.type == "Observation");
  CHECK(p->v.id == resource.id);
  CHECK(p->v.version == 1);
  CHECK(p->v.json == fhir::json::Write(resource));
  CHECK(p->v.json.find("\"versionId\":\"1\"") != std::string::npos);
  const fhir::search::IndexEntries expected = fhir::search::ExtractIndexEntries(resource);
  CHECK(p->index.tokens.size() == expected.tokens.size());
  CHECK(p->index.references.size() == expected.references.size());
  REQUIRE(p->index.references.size() >= 1);
  CHECK(p->index.quantities.size() == expected.quantities.size());
}

// True once the thread has prepared entry i, false after 10 s.
bool EventuallyByThread(const VersionPreparer& preparer, std::size_t i) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!preparer.PreparedByThread(i)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST_CASE("version preparer: entries prepared by the caller and by the thread are each their own") {
  auto resources = Observations(64);
  std::promise<void> go;
  std::shared_future<void> started = go.get_future().share();
  VersionPreparer preparer(Pointers(resources), [started] { started.wait(); });
  // The thread waits: the first eight are the caller's.
  for (std::size_t i = 0; i < 8; ++i) {
    CheckPrepared(preparer.Get(i), *resources[i]);
    CHECK_FALSE(preparer.PreparedByThread(i));
  }
  CHECK(preparer.prepared_by_caller() == 8);
  go.set_value();
  // The thread skips those and goes on; entry 40 is surely its own once it says so.
  REQUIRE(EventuallyByThread(preparer, 40));
  for (std::size_t i = 8; i < resources.size(); ++i) {
    CheckPrepared(preparer.Get(i), *resources[i]);
  }
  CHECK(preparer.PreparedByThread(40));
  CHECK(preparer.prepared_by_caller() < 40);
}

TEST_CASE("version preparer: below 16 entries nothing is prepared here") {
  auto resources = Observations(VersionPreparer::kMinEntries - 1);
  VersionPreparer preparer(Pointers(resources));
  for (std::size_t i = 0; i < resources.size(); ++i) CHECK(preparer.Get(i) == nullptr);
  CHECK_FALSE(resources[0]->meta);  // untouched: the interaction prepares it itself
}

TEST_CASE("version preparer: destroyed half-way (a failed entry) while the thread works") {
  auto resources = Observations(200);
  {
    VersionPreparer preparer(Pointers(resources));
    for (std::size_t i = 0; i < 5; ++i) CheckPrepared(preparer.Get(i), *resources[i]);
    CHECK(preparer.prepared_by_caller() <= 5);
  }  // joins the thread after the entry it is on (ASan: nothing of it is used after)
}

}  // namespace
}  // namespace server
