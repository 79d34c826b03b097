// Where an AuditEvent's cost goes (issue 5): builds the AuditEvents of N reads of one Patient
// and stores them the way the audit writer does (server/audit/audit.h: journal records of 500,
// then resources with their index, 500 per write transaction), timing each step, on a fresh SQLite store in a temporary file. Times are the process's CPU time (the
// checkpointer thread included), which a shared, loaded machine disturbs less than wall time.
//
// Usage: audit-store-bench [N] [DIR]   (default 50000 events, DIR /tmp)

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "fhir/json/parser.h"
#include "fhir/search/index_extractor.h"
#include "server/audit/audit.h"
#include "server/capability.h"
#include "server/rest_util.h"
#include "storage/sqlite/sqlite_store.h"

namespace {

// The process's CPU time.
struct Clock {
  using duration = std::chrono::nanoseconds;
  static std::chrono::nanoseconds now() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
  }
};

double MicrosPer(Clock::duration d, std::size_t n) {
  return std::chrono::duration<double, std::micro>(d).count() / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 50'000;
  const std::filesystem::path dir = argc > 2 ? argv[2] : "/tmp";
  const std::filesystem::path db = dir / ("audit-store-bench-" + std::to_string(getpid()) + ".db");
  storage::sqlite::SqliteOptions options;
  options.path = db.string();
  auto store = storage::sqlite::OpenSqliteStore(options);
  if (!store.ok()) {
    std::fprintf(stderr, "audit-store-bench: %s\n", store.status().ToString().c_str());
    return 1;
  }
  const std::string body =
      R"({"resourceType":"Patient","id":"p-1","meta":{"versionId":"1","lastUpdated":"2026-11-27T07:00:00.000Z"},"identifier":[{"system":"urn:oid:2.16.840.1.113883.2.4.6.3","value":"123456782"}],"name":[{"family":"Ruiz","given":["Ana"]}],"gender":"female","birthDate":"1980-02-03"})";
  server::audit::Source source{"http://127.0.0.1:8080/fhir", "fhir-server"};

  // 1. The hot path of the writer thread: patients and the AuditEvent's JSON.
  std::vector<storage::StoredVersion> versions(n);
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    server::audit::Event e;
    e.recorded = std::chrono::system_clock::now();
    e.method = "GET";
    e.segments = {"Patient", "p-1"};
    e.status = 200;
    e.body = body;
    std::vector<std::string> patients = server::audit::PatientsIn(e.body);
    storage::StoredVersion& v = versions[i];
    v.type = "AuditEvent";
    v.id = server::NewResourceId("AuditEvent");
    v.version = 1;
    v.last_updated = server::FormatInstant(std::chrono::system_clock::now());
    v.json = server::audit::AuditEventJson(e, source, patients, v.id, v.last_updated);
  }
  const auto t1 = Clock::now();

  // 2. The journal: one record of 500 AuditEvents per transaction.
  for (std::size_t b = 0; b < n; b += 500) {
    std::string record;
    for (std::size_t i = b; i < std::min(n, b + 500); ++i) record += versions[i].json + "\n";
    auto txn = (*store)->BeginWrite();
    if (!txn.ok() || !(*txn)->AppendJournal(record).ok() || !(*txn)->Commit().ok()) std::abort();
  }
  const auto t2 = Clock::now();

  // 3. Later, as resources: parsed, indexed by the extractor and stored, 500 per transaction.
  std::size_t rows = 0;
  for (std::size_t b = 0; b < n; b += 500) {
    auto txn = (*store)->BeginWrite();
    if (!txn.ok()) std::abort();
    for (std::size_t i = b; i < std::min(n, b + 500); ++i) {
      auto resource = fhir::json::ParseResource(versions[i].json);
      if (!resource.ok()) std::abort();
      const fhir::search::IndexEntries x = fhir::search::ExtractIndexEntries(**resource);
      rows += x.strings.size() + x.tokens.size() + x.dates.size() + x.numbers.size() +
              x.quantities.size() + x.references.size() + x.uris.size();
      if (!(*txn)->Put(versions[i], x).ok()) std::abort();
    }
    if (!(*txn)->Commit().ok()) std::abort();
  }
  const auto t3 = Clock::now();

  std::printf("audit-store-bench: %zu AuditEvents of a Patient read, %.1f index rows each\n", n,
              static_cast<double>(rows) / static_cast<double>(n));
  std::printf("  build (patients + JSON):                  %6.2f us/event\n", MicrosPer(t1 - t0, n));
  std::printf("  journal (a record per 500):               %6.2f us/event\n", MicrosPer(t2 - t1, n));
  std::printf("  as resources (parse, extract, store):     %6.2f us/event\n", MicrosPer(t3 - t2, n));
  store->reset();
  std::filesystem::remove(db);
  std::filesystem::remove(db.string() + "-wal");
  std::filesystem::remove(db.string() + "-shm");
  return 0;
}
