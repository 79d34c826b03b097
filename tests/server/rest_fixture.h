#pragma once

// A RestService on a real SQLite store in a temporary file, called socket-free, and a JSON
// path reader for assertions: shared by the tests of the REST interactions and of search.

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "fhir/json/dom.h"
#include "server/rest_service.h"
#include "server/rest_util.h"
#include "storage/sqlite/sqlite_store.h"

namespace server::testing {

class Fixture {
 public:
  Fixture() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("rest_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".db");
    storage::sqlite::SqliteOptions options;
    options.path = path_.string();
    auto store = storage::sqlite::OpenSqliteStore(options);
    REQUIRE(store.ok());
    store_ = std::move(store).value();
    service_ = std::make_unique<server::RestService>(
        *store_, server::RestService::Options{"http://test/fhir"});
  }
  ~Fixture() {
    service_.reset();
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path_.string() + suffix);
    }
  }

  RestResponse Call(std::string method, std::string path, std::string body = {},
                    void (*tweak)(RestRequest&) = nullptr) {
    RestRequest r;
    r.method = std::move(method);
    std::size_t q = path.find('?');
    std::string p = path.substr(0, q);
    std::size_t start = 0;
    while (start < p.size()) {
      std::size_t slash = p.find('/', start);
      r.segments.push_back(p.substr(start, slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    if (q != std::string::npos) r.params = ParseQuery(path.substr(q + 1));
    r.body = std::move(body);
    r.content_type = r.method == "PATCH" ? "application/json-patch+json" : "application/fhir+json";
    if (tweak) tweak(r);
    return service_->Handle(r);
  }
  RestResponse Call(RestRequest r) { return service_->Handle(r); }
  storage::Store& store() { return *store_; }

 private:
  std::filesystem::path path_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<server::RestService> service_;
};

// A JSON value at a simple dotted path with [i] indexes, as text ("" if absent).
inline std::string At(const std::string& json, const std::string& path) {
  fhir::json::JsonDocument doc;
  if (!doc.Parse(json).ok()) return "<malformed>";
  const fhir::json::JsonValue* v = &doc.root();
  std::size_t i = 0;
  while (i < path.size() && v != nullptr) {
    std::size_t end = path.find_first_of(".[", i);
    std::string key = path.substr(i, end - i);
    if (!key.empty()) v = v->Find(key);
    i = end == std::string::npos ? path.size() : end;
    while (v != nullptr && i < path.size() && path[i] == '[') {
      std::size_t close = path.find(']', i);
      std::size_t index = std::stoul(path.substr(i + 1, close - i - 1));
      v = v->is_array() && index < v->size ? &v->items[index] : nullptr;
      i = close + 1;
    }
    if (i < path.size() && path[i] == '.') ++i;
  }
  if (v == nullptr) return "";
  switch (v->kind) {
    case fhir::json::JsonValue::Kind::kString:
    case fhir::json::JsonValue::Kind::kNumber: return std::string(v->str());
    case fhir::json::JsonValue::Kind::kTrue: return "true";
    case fhir::json::JsonValue::Kind::kFalse: return "false";
    case fhir::json::JsonValue::Kind::kNull: return "null";
    default: return "<" + std::to_string(v->size) + ">";
  }
}

}  // namespace server::testing
