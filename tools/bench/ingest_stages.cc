// ingest-stages: what a Synthea transaction ingest costs per resource, stage by stage, on one
// thread and without HTTP, so that the REST benchmark's ingest figure (rest_bench.sh) can be set
// against the work it cannot avoid. For each bundle, in the order the server does it:
//
//   parse     fhir::json::ParseResource of the whole Bundle (strict JSON, validation, models)
//   resolve   ids for the created resources and their references rewritten (urn:uuid fullUrls,
//             and conditional references Type?identifier=s|v found among the resources before)
//   prepare   server::PrepareVersion: meta, canonical JSON and index entries of each resource
//   store     one write transaction of the SQLite store: Put of every version with its index
//             rows, then Commit (synchronous=NORMAL, the server's default and what `make
//             bench-rest` runs; --sync full for FULL). This is the core of what the server does
//             in its single write gate; there the gate also covers a read of each created id,
//             the conditional searches, and each entry's response, so the gate ceiling printed
//             here is an upper bound
//   free      the models and the prepared versions released
//
// Times are this thread's CPU time (a loaded machine disturbs them less than wall time); the
// store's checkpointer thread is reported apart (the process's CPU time minus this thread's).
// The audit journal (one AuditEvent per entry) and HTTP are not part of it. It then prints the
// ceilings these costs set on N cores (upper bounds): the gate alone (1 / store) and all of the
// work, the checkpointer's included, spread perfectly over the cores (N / (total + others)).
//
// Usage: ingest-stages [--synthea DIR] [--dir TMPDIR] [--cores N] [--sync normal|full]
//   DIR holds the *.json.bz2 bundles (default ../shared/synthea, from the project's root); they are
//   decompressed with `bzip2 -dc` before anything is timed.

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fhir/json/parser.h"
#include "fhir/model/registry.h"
#include "fhir/model/visit.h"
#include "fhir/r4/bundle.h"
#include "server/rest_service.h"
#include "server/rest_util.h"
#include "storage/sqlite/sqlite_store.h"

namespace {

double ThreadMicros() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

double ProcessMicros() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

std::string Decompress(const std::filesystem::path& file) {
  if (file.string().find('\'') != std::string::npos) return {};  // not quoted below
  std::string command = "bzip2 -dc '" + file.string() + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  std::string out;
  char buffer[1 << 16];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  if (pclose(pipe) != 0) return {};
  return out;
}

// Every Identifier in `resource`, as the conditional reference that would find it.
void RememberIdentifiers(fhir::Resource& resource, std::map<std::string, std::string>& known) {
  const std::string type(resource.type_info().name);
  const std::string target = type + "/" + resource.id;
  fhir::VisitObjects(resource.type_info(), resource.type_info().object_of(&resource),
                     [&](const fhir::TypeInfo& info, void* object) {
                       if (&info != &fhir::reflect::Identifier) return;
                       auto* id = static_cast<fhir::Identifier*>(object);
                       known.emplace(type + "?identifier=" + id->system.value.value_or("") + "|" +
                                         id->value.value.value_or(""),
                                     target);
                     });
}

struct Stages {
  double parse = 0, resolve = 0, prepare = 0, store = 0, free = 0;
  double Total() const { return parse + resolve + prepare + store + free; }
};

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path synthea = "../shared/synthea";
  std::filesystem::path dir = "/tmp";
  int cores = 2;
  bool sync_full = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = i + 1 < argc ? argv[i + 1] : "";
    if (flag == "--synthea" && !value.empty()) {
      synthea = value;
    } else if (flag == "--dir" && !value.empty()) {
      dir = value;
    } else if (flag == "--cores" && !value.empty()) {
      cores = std::atoi(value.c_str());
      if (cores < 1) {
        std::fprintf(stderr, "ingest-stages: --cores needs a number >= 1\n");
        return 2;
      }
    } else if (flag == "--sync" && (value == "normal" || value == "full")) {
      sync_full = value == "full";
    } else {
      std::fprintf(stderr,
                   "usage: ingest-stages [--synthea DIR] [--dir TMPDIR] [--cores N] "
                   "[--sync normal|full]\n");
      return 2;
    }
  }
  std::vector<std::filesystem::path> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(synthea, error)) {
    if (entry.path().string().ends_with(".json.bz2")) files.push_back(entry.path());
  }
  if (files.empty()) {
    std::fprintf(stderr, "ingest-stages: no *.json.bz2 bundles in %s (--synthea DIR)\n",
                 synthea.c_str());
    return 2;
  }
  // The hospital and practitioner bundles ("0-...") first: the others refer to them.
  std::sort(files.begin(), files.end());
  std::vector<std::string> bundles;
  for (const auto& file : files) {
    bundles.push_back(Decompress(file));
    if (bundles.back().empty()) {
      std::fprintf(stderr, "ingest-stages: cannot decompress %s\n", file.c_str());
      return 2;
    }
  }

  const std::filesystem::path db = dir / ("ingest-stages-" + std::to_string(getpid()) + ".db");
  // Removes the database files on every way out, after the store (declared later) closed.
  struct RemoveFiles {
    std::string path;
    ~RemoveFiles() {
      std::error_code ignored;
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, ignored);
    }
  } remove_files{db.string()};
  storage::sqlite::SqliteOptions options;
  options.path = db.string();
  options.sync = sync_full ? storage::sqlite::SqliteOptions::Sync::kFull
                           : storage::sqlite::SqliteOptions::Sync::kNormal;
  auto store = storage::sqlite::OpenSqliteStore(options);
  if (!store.ok()) {
    std::fprintf(stderr, "ingest-stages: %s\n", store.status().ToString().c_str());
    return 1;
  }

  Stages s;
  std::size_t resources = 0, index_rows = 0;
  std::map<std::string, std::string> known;  // conditional reference -> Type/id
  const double process_start = ProcessMicros();
  const double thread_start = ThreadMicros();
  const auto wall_start = std::chrono::steady_clock::now();
  for (const std::string& body : bundles) {
    double t = ThreadMicros();
    auto parsed = fhir::json::ParseResource(body);
    if (!parsed.ok()) {
      std::fprintf(stderr, "ingest-stages: %s\n", parsed.status().ToString().c_str());
      return 1;
    }
    double now = ThreadMicros();
    s.parse += now - t;
    t = now;

    if (parsed.value()->type_info().name != "Bundle") {
      std::fprintf(stderr, "ingest-stages: a file holds a %s, not a Bundle\n",
                   std::string(parsed.value()->type_info().name).c_str());
      return 1;
    }
    auto& bundle = static_cast<fhir::Bundle&>(*parsed.value());
    std::map<std::string, std::string> full_urls;
    std::vector<fhir::Resource*> created;
    for (auto& entry : bundle.entry) {
      if (!entry.resource) continue;
      fhir::Resource& r = *entry.resource;
      r.id = server::NewResourceId(r.type_info().name);
      if (entry.full_url.value) {
        full_urls[*entry.full_url.value] = std::string(r.type_info().name) + "/" + r.id;
      }
      created.push_back(&r);
    }
    for (fhir::Resource* r : created) {
      fhir::VisitObjects(r->type_info(), r->type_info().object_of(r),
                         [&](const fhir::TypeInfo& info, void* object) {
                           if (&info != &fhir::reflect::Reference) return;
                           auto& ref = static_cast<fhir::Reference*>(object)->reference.value;
                           if (!ref) return;
                           if (auto it = full_urls.find(*ref); it != full_urls.end()) {
                             *ref = it->second;
                           } else if (auto found = known.find(*ref); found != known.end()) {
                             *ref = found->second;
                           }
                         });
      RememberIdentifiers(*r, known);
    }
    now = ThreadMicros();
    s.resolve += now - t;
    t = now;

    std::vector<server::PreparedVersion> prepared;
    prepared.reserve(created.size());
    for (fhir::Resource* r : created) prepared.push_back(server::PrepareVersion(*r, 1));
    now = ThreadMicros();
    s.prepare += now - t;
    t = now;

    auto txn = store.value()->BeginWrite();
    if (!txn.ok()) {
      std::fprintf(stderr, "ingest-stages: %s\n", txn.status().ToString().c_str());
      return 1;
    }
    for (server::PreparedVersion& p : prepared) {
      fhir::Status put = txn.value()->Put(p.v, p.index);
      if (!put.ok()) {
        std::fprintf(stderr, "ingest-stages: %s\n", put.ToString().c_str());
        return 1;
      }
      const auto& x = p.index;
      index_rows += x.strings.size() + x.tokens.size() + x.dates.size() + x.numbers.size() +
                    x.quantities.size() + x.references.size() + x.uris.size() +
                    x.composites.size();
    }
    fhir::Status committed = txn.value()->Commit();
    if (!committed.ok()) {
      std::fprintf(stderr, "ingest-stages: %s\n", committed.ToString().c_str());
      return 1;
    }
    txn.value().reset();
    now = ThreadMicros();
    s.store += now - t;
    t = now;

    resources += prepared.size();
    prepared.clear();
    parsed.value().reset();
    s.free += ThreadMicros() - t;
  }
  const double wall =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - wall_start)
          .count();
  const double others = (ProcessMicros() - process_start) - (ThreadMicros() - thread_start);
  store.value().reset();
  if (resources == 0) {
    std::fprintf(stderr, "ingest-stages: the bundles hold no resources\n");
    return 1;
  }

  const double n = static_cast<double>(resources);
  std::printf("ingest-stages: %zu bundles, %zu resources, %.1f index rows a resource\n",
              bundles.size(), resources, static_cast<double>(index_rows) / n);
  std::printf("CPU us a resource (this thread): parse %.1f, resolve %.1f, prepare %.1f, "
              "store %.1f, free %.1f; total %.1f\n",
              s.parse / n, s.resolve / n, s.prepare / n, s.store / n, s.free / n, s.Total() / n);
  std::printf("other threads (checkpointer): %.1f us a resource; wall %.1f us a resource "
              "(%.0f resources/s on one thread)\n",
              others / n, wall / n, n / (wall / 1e6));
  const double all = s.Total() / n + others / n;
  std::printf("ceilings on %d cores (upper bounds): the write gate alone %.0f resources/s; all "
              "of the work spread over the cores %.0f resources/s\n",
              cores, 1e6 / (s.store / n), cores * 1e6 / all);
  return 0;
}
