#include "conformance/checks.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <iterator>
#include <ostream>
#include <random>
#include <regex>
#include <thread>
#include <utility>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace conformance {
namespace {

// Thrown by Check::Require*() to stop a check; caught by RunCheck() only.
struct CheckStopped {};

// Identifiers of the test data; the values are unique per check and run.
constexpr std::string_view kIdentifierSystem = "http://example.org/fhir-conformance/identifier";

const std::pair<std::string, std::string> kPreferRepresentation{"Prefer", "return=representation"};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "application/fhir+json; charset=utf-8" -> "application/fhir+json".
std::string MediaType(std::string_view content_type) {
  std::string type = Lower(content_type.substr(0, content_type.find(';')));
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  type.erase(type.begin(), std::find_if(type.begin(), type.end(), not_space));
  type.erase(std::find_if(type.rbegin(), type.rend(), not_space).base(), type.end());
  return type;
}

}  // namespace

std::string OneLine(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  if (s.size() > max) out += "...";
  return out;
}

std::string Explanation(const Response& response) {
  rapidjson::Document doc;
  doc.Parse(response.body.data(), response.body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    std::string text = JsonString(doc, "issue[0].diagnostics");
    if (text.empty()) text = JsonString(doc, "issue[0].details.text");
    if (!text.empty()) return OneLine(text, 200);
  }
  if (response.body.empty()) return "empty body";
  return "body: " + OneLine(response.body, 200);
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

namespace {

std::string HttpDate(std::chrono::system_clock::time_point when) {
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[64];
  std::size_t n = std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buffer, n);
}

std::string RandomHex(std::size_t digits) {
  static std::mt19937_64 engine = [] {
    std::random_device device;
    std::seed_seq seed{
        device(), device(), device(), device(),
        static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count())};
    return std::mt19937_64(seed);
  }();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < digits; ++i) out += kHex[engine() & 0x0F];
  return out;
}

// A random (version 4) UUID, for urn:uuid: fullUrls in Bundles.
std::string RandomUuid() {
  std::string hex = RandomHex(30);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-4" + hex.substr(12, 3) + "-" +
         "89ab"[hex[15] % 4] + hex.substr(16, 3) + "-" + hex.substr(19, 11) + "0";
}

// [base]/Type/id[/_history/vid] (absolute or relative), as found in Location headers and in
// Bundle.entry.response.location.
struct Location {
  std::string id;
  std::string version;  // empty when the location has no /_history/ part
};

std::optional<Location> ParseLocation(std::string_view location, std::string_view type) {
  std::regex pattern("(?:^|/)" + std::string(type) +
                     R"(/([A-Za-z0-9\-.]{1,64})(?:/_history/([A-Za-z0-9\-.]{1,64}))?/?$)");
  std::string text(location);
  std::smatch match;
  if (!std::regex_search(text, match, pattern)) return std::nullopt;
  return Location{match[1].str(), match[2].matched ? match[2].str() : std::string()};
}

// A Patient carrying one identifier of kIdentifierSystem; `id` is left out when empty.
std::string PatientJson(std::string_view identifier, std::string_view family,
                        std::string_view id = {}) {
  std::string json = R"({"resourceType":"Patient",)";
  if (!id.empty()) json += R"("id":)" + JsonQuote(id) + ",";
  json += R"("identifier":[{"system":)" + JsonQuote(kIdentifierSystem) + R"(,"value":)" +
          JsonQuote(identifier) + "}],";
  json +=
      R"("active":true,"name":[{"family":)" + JsonQuote(family) + R"(,"given":["Conformance"]}]})";
  return json;
}

// The search parameter matching PatientJson(identifier, ...), URL-encoded.
std::string IdentifierQuery(std::string_view identifier) {
  return "identifier=" +
         EncodeQueryValue(std::string(kIdentifierSystem) + "|" + std::string(identifier));
}

}  // namespace

std::string ResponseId(const Response& response, std::string_view type) {
  if (!response.body.empty()) {
    rapidjson::Document doc;
    doc.Parse(response.body.data(), response.body.size());
    if (!doc.HasParseError() && doc.IsObject() && JsonString(doc, "resourceType") == type) {
      std::string id = JsonString(doc, "id");
      if (!id.empty()) return id;
    }
  }
  std::optional<Location> location = ParseLocation(response.Header("Location"), type);
  return location ? location->id : std::string();
}

namespace {

struct Created {
  std::string id;
  Response response;
};

// Creates a Patient for a check to work on; stops the check when that fails.
Created CreatePatient(Check& c, std::string_view identifier,
                      std::string_view family = "Conformance") {
  Response r =
      c.Request("POST", "Patient", {kPreferRepresentation}, PatientJson(identifier, family));
  c.RequireStatus(r, {201}, "create a Patient to work on (POST [base]/Patient)");
  std::string id = ResponseId(r, "Patient");
  c.Require(!id.empty(), "the created Patient has an id neither in its body nor in Location");
  return {id, std::move(r)};
}

// Updates the Patient made by CreatePatient(); stops the check when that fails.
Response UpdatePatient(Check& c, const std::string& id, std::string_view identifier,
                       std::string_view family) {
  Response r = c.Request("PUT", "Patient/" + id, {kPreferRepresentation},
                         PatientJson(identifier, family, id));
  c.RequireStatus(r, {200}, "update the Patient (PUT [base]/Patient/[id])");
  return r;
}

// Number of entries with search.mode "match" (or no mode) in a searchset Bundle.
std::size_t CountMatches(const rapidjson::Value& bundle) {
  std::size_t matches = 0;
  const rapidjson::Value* entries = JsonAt(bundle, "entry");
  if (entries == nullptr || !entries->IsArray()) return 0;
  for (const rapidjson::Value& entry : entries->GetArray()) {
    std::string mode = JsonString(entry, "search.mode");
    if (mode.empty() || mode == "match") ++matches;
  }
  return matches;
}

// Runs GET [base]/Patient?`query` and expects `expected` matches (and Bundle.total, when
// present, to agree). Returns the searchset.
rapidjson::Document ExpectPatientSearch(Check& c, const std::string& query, std::size_t expected,
                                        std::string_view why) {
  std::string what = "GET [base]/Patient?" + query;
  Response r = c.Request("GET", "Patient?" + query);
  c.RequireStatus(r, {200}, what);
  rapidjson::Document bundle = c.RequireJson(r, what);
  c.ExpectResourceType(bundle, "Bundle", what);
  std::string type = JsonString(bundle, "type");
  c.Expect(type == "searchset",
           what + ": Bundle.type is " + Quoted(type) + ", expected \"searchset\"");
  std::size_t matches = CountMatches(bundle);
  c.Expect(matches == expected, what + ": " + std::to_string(matches) +
                                    " matching entries, expected " + std::to_string(expected) +
                                    " (" + std::string(why) + ")");
  if (std::optional<std::int64_t> total = JsonInt(bundle, "total")) {
    c.Expect(*total == static_cast<std::int64_t>(expected),
             what + ": Bundle.total is " + std::to_string(*total) + ", expected " +
                 std::to_string(expected) + " (" + std::string(why) + ")");
  }
  return bundle;
}

}  // namespace

std::string LinkUrl(const rapidjson::Value& bundle, std::string_view relation) {
  const rapidjson::Value* links = JsonAt(bundle, "link");
  if (links == nullptr || !links->IsArray()) return {};
  for (const rapidjson::Value& link : links->GetArray()) {
    if (JsonString(link, "relation") == relation) return JsonString(link, "url");
  }
  return {};
}

namespace {

bool ExpectVersion(Check& c, const rapidjson::Value& resource, std::string_view expected,
                   std::string_view what) {
  std::string version = JsonString(resource, "meta.versionId");
  return c.Expect(version == expected, std::string(what) + ": meta.versionId is " +
                                           Quoted(version) + ", expected " + Quoted(expected));
}

std::string WeakETag(std::string_view version) { return "W/\"" + std::string(version) + "\""; }

// --- The checks, in the order of http://hl7.org/fhir/R4/http.html -------------------------

// http://hl7.org/fhir/R4/http.html#capabilities
void CheckMetadata(Check& c) {
  Response r = c.Request("GET", "metadata");
  c.RequireStatus(r, {200}, "GET [base]/metadata");
  rapidjson::Document doc = c.RequireJson(r, "GET [base]/metadata");
  c.ExpectResourceType(doc, "CapabilityStatement", "GET [base]/metadata");
  std::string version = JsonString(doc, "fhirVersion");
  c.Expect(version == "4.0.1",
           "CapabilityStatement.fhirVersion is " + Quoted(version) + ", expected \"4.0.1\"");
}

// http://hl7.org/fhir/R4/http.html#create
void CheckCreate(Check& c) {
  Response r =
      c.Request("POST", "Patient", {kPreferRepresentation}, PatientJson(c.UniqueId(), "Create"));
  const std::string what = "POST [base]/Patient";
  c.RequireStatus(r, {201}, what);
  rapidjson::Document doc = c.RequireJson(r, what + " with Prefer: return=representation");
  c.ExpectResourceType(doc, "Patient", what);
  std::string id = JsonString(doc, "id");
  c.Expect(!id.empty(), what + ": the returned Patient has no id");
  std::string location = r.Header("Location");
  std::optional<Location> parsed = ParseLocation(location, "Patient");
  if (c.Expect(
          parsed && !parsed->version.empty(),
          what + ": Location " + Quoted(location) + " is not [base]/Patient/[id]/_history/[vid]")) {
    c.Expect(parsed->id == id, what + ": Location names id " + Quoted(parsed->id) +
                                   " but the body has " + Quoted(id));
    c.Expect(parsed->version == "1",
             what + ": Location names version " + Quoted(parsed->version) + ", expected \"1\"");
  }
  c.ExpectHeader(r, "ETag", WeakETag("1"), what);
  ExpectVersion(c, doc, "1", what);
  c.Expect(!JsonString(doc, "meta.lastUpdated").empty(), what + ": meta.lastUpdated is missing");
}

// http://hl7.org/fhir/R4/http.html#read
void CheckRead(Check& c) {
  Created created = CreatePatient(c, c.UniqueId());
  const std::string what = "GET [base]/Patient/[id]";
  Response r = c.Request("GET", "Patient/" + created.id);
  c.RequireStatus(r, {200}, what);
  rapidjson::Document doc = c.RequireJson(r, what);
  c.ExpectResourceType(doc, "Patient", what);
  std::string id = JsonString(doc, "id");
  c.Expect(id == created.id, what + ": id is " + Quoted(id) + ", expected " + Quoted(created.id));
  ExpectVersion(c, doc, "1", what);
  c.ExpectHeader(r, "ETag", WeakETag("1"), what);
  // An HTTP-date (RFC 7231 IMF-fixdate), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
  std::string last_modified = r.Header("Last-Modified");
  static const std::regex kHttpDate(
      R"(^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$)");
  c.Expect(std::regex_match(last_modified, kHttpDate),
           what + ": Last-Modified " + Quoted(last_modified) + " is missing or not an HTTP-date");
}

// http://hl7.org/fhir/R4/http.html#read: unknown resources -> 404.
void CheckReadUnknown(Check& c) {
  Response r = c.Request("GET", "Patient/" + c.UniqueId());
  const std::string what = "GET [base]/Patient/[id never used]";
  c.ExpectStatus(r, {404}, what);
  c.ExpectOperationOutcome(r, what);
}

// http://hl7.org/fhir/R4/http.html#vread
void CheckVread(Check& c) {
  std::string identifier = c.UniqueId();
  Created created = CreatePatient(c, identifier, "VreadOne");
  UpdatePatient(c, created.id, identifier, "VreadTwo");
  for (std::string_view version : {"1", "2"}) {
    std::string what = "GET [base]/Patient/[id]/_history/" + std::string(version);
    Response r = c.Request("GET", "Patient/" + created.id + "/_history/" + std::string(version));
    if (!c.ExpectStatus(r, {200}, what)) continue;
    rapidjson::Document doc = c.RequireJson(r, what);
    ExpectVersion(c, doc, version, what);
    std::string family = JsonString(doc, "name[0].family");
    std::string expected = version == "1" ? "VreadOne" : "VreadTwo";
    c.Expect(family == expected,
             what + ": name.family is " + Quoted(family) + ", expected " + Quoted(expected));
    c.ExpectHeader(r, "ETag", WeakETag(version), what);
  }
  Response missing = c.Request("GET", "Patient/" + created.id + "/_history/99");
  c.ExpectStatus(missing, {404}, "GET [base]/Patient/[id]/_history/99 (no such version)");
}

// http://hl7.org/fhir/R4/http.html#update
void CheckUpdate(Check& c) {
  std::string identifier = c.UniqueId();
  Created created = CreatePatient(c, identifier, "Before");
  const std::string what = "PUT [base]/Patient/[id]";
  Response r = c.Request("PUT", "Patient/" + created.id, {kPreferRepresentation},
                         PatientJson(identifier, "After", created.id));
  c.RequireStatus(r, {200}, what);
  c.ExpectHeader(r, "ETag", WeakETag("2"), what);
  rapidjson::Document doc = c.RequireJson(r, what + " with Prefer: return=representation");
  ExpectVersion(c, doc, "2", what);
  Response read = c.Request("GET", "Patient/" + created.id);
  c.RequireStatus(read, {200}, "GET [base]/Patient/[id] after the update");
  rapidjson::Document stored = c.RequireJson(read, "GET [base]/Patient/[id] after the update");
  std::string family = JsonString(stored, "name[0].family");
  c.Expect(family == "After",
           "after the update, name.family reads " + Quoted(family) + ", expected \"After\"");
  ExpectVersion(c, stored, "2", "GET [base]/Patient/[id] after the update");
}

// Sending back exactly what the server returned must not make a new version.
void CheckUpdateNoChange(Check& c) {
  Created created = CreatePatient(c, c.UniqueId());
  c.Require(!created.response.body.empty(),
            "the create response has no body to send back (sent Prefer: return=representation)");
  const std::string what = "PUT [base]/Patient/[id] with the content just created";
  Response r =
      c.Request("PUT", "Patient/" + created.id, {kPreferRepresentation}, created.response.body);
  c.RequireStatus(r, {200}, what);
  c.ExpectHeader(r, "ETag", WeakETag("1"), what + " (no new version)");
  Response history = c.Request("GET", "Patient/" + created.id + "/_history");
  if (c.ExpectStatus(history, {200}, "GET [base]/Patient/[id]/_history")) {
    rapidjson::Document bundle = c.RequireJson(history, "GET [base]/Patient/[id]/_history");
    std::size_t entries = JsonArraySize(bundle, "entry");
    c.Expect(entries == 1, "the history has " + std::to_string(entries) +
                               " entries after an unchanged update, expected 1");
  }
}

// http://hl7.org/fhir/R4/http.html#upsert: update of a new id creates it.
void CheckUpdateAsCreate(Check& c) {
  std::string id = c.UniqueId();
  const std::string what = "PUT [base]/Patient/[new id]";
  Response r = c.Request("PUT", "Patient/" + id, {kPreferRepresentation},
                         PatientJson(c.UniqueId(), "Upsert", id));
  c.RequireStatus(r, {201}, what);
  c.ExpectHeader(r, "ETag", WeakETag("1"), what);
  Response read = c.Request("GET", "Patient/" + id);
  c.RequireStatus(read, {200}, "GET [base]/Patient/[id] after " + what);
  rapidjson::Document doc = c.RequireJson(read, "GET [base]/Patient/[id]");
  std::string read_id = JsonString(doc, "id");
  c.Expect(read_id == id,
           "the stored Patient has id " + Quoted(read_id) + ", expected " + Quoted(id));
  ExpectVersion(c, doc, "1", "GET [base]/Patient/[id] after " + what);
}

// http://hl7.org/fhir/R4/http.html#update: "If ... the id disagrees with the id in the URL,
// the server SHALL respond with an HTTP 400".
void CheckUpdateIdMismatch(Check& c) {
  std::string identifier = c.UniqueId();
  Created created = CreatePatient(c, identifier);
  const std::string what = "PUT [base]/Patient/[id] with another id in the body";
  Response r = c.Request("PUT", "Patient/" + created.id, {},
                         PatientJson(identifier, "Mismatch", c.UniqueId()));
  c.ExpectStatus(r, {400}, what);
  c.ExpectOperationOutcome(r, what);
  Response read = c.Request("GET", "Patient/" + created.id);
  if (c.ExpectStatus(read, {200}, "GET [base]/Patient/[id] after the rejected update")) {
    c.ExpectHeader(read, "ETag", WeakETag("1"),
                   "GET [base]/Patient/[id] after the rejected update");
  }
}

// http://hl7.org/fhir/R4/http.html#update: "If no id element is provided ... 400".
void CheckUpdateNoId(Check& c) {
  std::string identifier = c.UniqueId();
  Created created = CreatePatient(c, identifier);
  const std::string what = "PUT [base]/Patient/[id] with no id in the body";
  Response r = c.Request("PUT", "Patient/" + created.id, {}, PatientJson(identifier, "NoId"));
  c.ExpectStatus(r, {400}, what);
  c.ExpectOperationOutcome(r, what);
}

// http://hl7.org/fhir/R4/http.html#create: the body must be of the type of the URL.
void CheckCreateTypeMismatch(Check& c) {
  Response r = c.Request(
      "POST", "Patient", {},
      R"({"resourceType":"Observation","status":"final","code":{"text":"fhir-conformance"}})");
  c.ExpectStatus(r, {400}, "POST [base]/Patient with an Observation");
}

// http://hl7.org/fhir/R4/http.html#create: "400 Bad Request - resource could not be parsed".
void CheckMalformedJson(Check& c) {
  const std::string what = "POST [base]/Patient with truncated JSON";
  Response r = c.Request("POST", "Patient", {}, R"({"resourceType":"Patient","active":tr)");
  c.ExpectStatus(r, {400}, what);
  c.ExpectOperationOutcome(r, what);
}

// http://hl7.org/fhir/R4/http.html#parameters: Prefer handling=strict rejects what the server
// does not understand.
void CheckStrictUnknownElement(Check& c) {
  std::string identifier = c.UniqueId();
  std::string body = PatientJson(identifier, "Strict");
  body.insert(body.size() - 1, R"(,"notAnElementOfPatient":"x")");
  const std::string what =
      "POST [base]/Patient with an unknown element and Prefer: handling=strict";
  Response r = c.Request("POST", "Patient", {{"Prefer", "handling=strict"}}, body);
  c.ExpectStatus(r, {400}, what);
}

// http://hl7.org/fhir/R4/http.html: "404 Not Found - resource type not supported".
void CheckUnknownResourceType(Check& c) {
  Response read = c.Request("GET", "NotAResourceType/" + c.UniqueId());
  c.ExpectStatus(read, {404}, "GET [base]/NotAResourceType/[id]");
  Response search = c.Request("GET", "NotAResourceType?_id=" + c.UniqueId());
  c.ExpectStatus(search, {404}, "GET [base]/NotAResourceType?_id=[id]");
}

// http://hl7.org/fhir/R4/http.html#delete and #read ("410 Gone").
void CheckDelete(Check& c) {
  Created created = CreatePatient(c, c.UniqueId());
  Response r = c.Request("DELETE", "Patient/" + created.id);
  c.RequireStatus(r, {200, 204}, "DELETE [base]/Patient/[id]");
  const std::string what = "GET [base]/Patient/[id] after the delete";
  Response read = c.Request("GET", "Patient/" + created.id);
  c.ExpectStatus(read, {410}, what);
  c.ExpectOperationOutcome(read, what);
}

// http://hl7.org/fhir/R4/http.html#delete: deleting a deleted resource has no effect.
void CheckDeleteAgain(Check& c) {
  Created created = CreatePatient(c, c.UniqueId());
  Response first = c.Request("DELETE", "Patient/" + created.id);
  c.RequireStatus(first, {200, 204}, "DELETE [base]/Patient/[id]");
  Response second = c.Request("DELETE", "Patient/" + created.id);
  c.ExpectStatus(second, {200, 204}, "DELETE [base]/Patient/[id] a second time");
}

// http://hl7.org/fhir/R4/http.html#history
void CheckHistoryInstance(Check& c) {
  std::string identifier = c.UniqueId();
  Created created = CreatePatient(c, identifier, "One");
  UpdatePatient(c, created.id, identifier, "Two");
  Response deleted = c.Request("DELETE", "Patient/" + created.id);
  c.RequireStatus(deleted, {200, 204}, "DELETE [base]/Patient/[id]");

  const std::string what = "GET [base]/Patient/[id]/_history after create, update, delete";
  Response r = c.Request("GET", "Patient/" + created.id + "/_history");
  c.RequireStatus(r, {200}, what);
  rapidjson::Document bundle = c.RequireJson(r, what);
  c.ExpectResourceType(bundle, "Bundle", what);
  std::string type = JsonString(bundle, "type");
  c.Expect(type == "history", what + ": Bundle.type is " + Quoted(type) + ", expected \"history\"");
  std::optional<std::int64_t> total = JsonInt(bundle, "total");
  c.Expect(total && *total == 3, what + ": Bundle.total is " +
                                     (total ? std::to_string(*total) : std::string("absent")) +
                                     ", expected 3");
  std::size_t entries = JsonArraySize(bundle, "entry");
  c.Require(entries == 3, what + ": " + std::to_string(entries) + " entries, expected 3");
  // Newest first: the delete, then version 2, then version 1.
  const char* methods[] = {"DELETE", "PUT", "POST"};
  for (std::size_t i = 0; i < 3; ++i) {
    std::string at = "entry[" + std::to_string(i) + "]";
    std::string method = JsonString(bundle, at + ".request.method");
    c.Expect(method == methods[i], what + ": " + at + ".request.method is " + Quoted(method) +
                                       ", expected " + Quoted(methods[i]) + " (newest first)");
  }
  c.Expect(JsonAt(bundle, "entry[0].resource") == nullptr,
           what + ": the entry of the delete carries a resource");
  for (std::size_t i = 1; i < 3; ++i) {
    std::string at = "entry[" + std::to_string(i) + "].resource";
    std::string version = JsonString(bundle, at + ".meta.versionId");
    std::string expected = i == 1 ? "2" : "1";
    c.Expect(version == expected, what + ": " + at + ".meta.versionId is " + Quoted(version) +
                                      ", expected " + Quoted(expected) + " (newest first)");
  }
}

// The first entry of a history or search page, enough to tell two pages apart.
std::string FirstEntryKey(const rapidjson::Value& bundle) {
  return JsonString(bundle, "entry[0].fullUrl") + " " + JsonString(bundle, "entry[0].resource.id") +
         " " + JsonString(bundle, "entry[0].resource.meta.versionId") + " " +
         JsonString(bundle, "entry[0].request.method");
}

// http://hl7.org/fhir/R4/http.html#history and #paging
void CheckHistoryTypePaging(Check& c) {
  CreatePatient(c, c.UniqueId());
  CreatePatient(c, c.UniqueId());
  const std::string what = "GET [base]/Patient/_history?_count=1";
  Response r = c.Request("GET", "Patient/_history?_count=1");
  c.RequireStatus(r, {200}, what);
  rapidjson::Document first = c.RequireJson(r, what);
  c.ExpectResourceType(first, "Bundle", what);
  std::string type = JsonString(first, "type");
  c.Expect(type == "history", what + ": Bundle.type is " + Quoted(type) + ", expected \"history\"");
  std::size_t entries = JsonArraySize(first, "entry");
  c.Expect(entries == 1, what + ": " + std::to_string(entries) + " entries, expected 1");
  std::string next = LinkUrl(first, "next");
  c.Require(!next.empty(),
            what + ": no link with relation \"next\" although there are 2+ versions");
  const std::string next_what = "GET the next link " + Quoted(next);
  Response page = c.Request("GET", next);
  c.RequireStatus(page, {200}, next_what);
  rapidjson::Document second = c.RequireJson(page, next_what);
  c.ExpectResourceType(second, "Bundle", next_what);
  type = JsonString(second, "type");
  c.Expect(type == "history",
           next_what + ": Bundle.type is " + Quoted(type) + ", expected \"history\"");
  entries = JsonArraySize(second, "entry");
  c.Require(entries == 1, next_what + ": " + std::to_string(entries) + " entries, expected 1");
  c.Expect(FirstEntryKey(first) != FirstEntryKey(second),
           next_what + ": the second page repeats the entry of the first page");
}

// meta.lastUpdated of version `version` of Patient/`id`, read with vread.
std::string LastUpdated(Check& c, const std::string& id, std::string_view version) {
  std::string what = "GET [base]/Patient/[id]/_history/" + std::string(version);
  Response r = c.Request("GET", "Patient/" + id + "/_history/" + std::string(version));
  c.RequireStatus(r, {200}, what);
  rapidjson::Document doc = c.RequireJson(r, what);
  std::string last_updated = JsonString(doc, "meta.lastUpdated");
  c.Require(!last_updated.empty(), what + ": no meta.lastUpdated");
  return last_updated;
}

// http://hl7.org/fhir/R4/http.html#history: "_since: Only include resource versions that were
// created at or after the given instant in time".
void CheckHistorySince(Check& c) {
  std::string identifier = c.UniqueId();
  Created created = CreatePatient(c, identifier, "One");
  // Servers may keep lastUpdated to the second only: let it move on.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  UpdatePatient(c, created.id, identifier, "Two");
  std::string first = LastUpdated(c, created.id, "1");
  std::string second = LastUpdated(c, created.id, "2");
  struct Case {
    std::string since;
    std::size_t entries;
    std::string_view why;
  };
  const Case cases[] = {
      {first, 2, "both versions were made at or after version 1's lastUpdated"},
      {second, 1, "only version 2 was made at or after its own lastUpdated"},
      {"2999-01-01T00:00:00Z", 0, "no version was made after 2999"},
  };
  for (const Case& test : cases) {
    std::string query = "_since=" + EncodeQueryValue(test.since);
    std::string what = "GET [base]/Patient/[id]/_history?" + query;
    Response r = c.Request("GET", "Patient/" + created.id + "/_history?" + query);
    if (!c.ExpectStatus(r, {200}, what)) continue;
    rapidjson::Document bundle = c.RequireJson(r, what);
    std::size_t entries = JsonArraySize(bundle, "entry");
    c.Expect(entries == test.entries, what + ": " + std::to_string(entries) +
                                          " entries, expected " + std::to_string(test.entries) +
                                          " (" + std::string(test.why) + ")");
    if (test.entries == 1 && entries == 1) {
      ExpectVersion(c, *JsonAt(bundle, "entry[0].resource"), "2", what);
    }
  }
}

// http://hl7.org/fhir/R4/http.html#concurrency: If-Match on update.
void CheckIfMatch(Check& c) {
  std::string identifier = c.UniqueId();
  Created created = CreatePatient(c, identifier, "One");
  UpdatePatient(c, created.id, identifier, "Two");
  const std::string stale = "PUT [base]/Patient/[id] with If-Match: W/\"1\" (stale, current is 2)";
  Response r = c.Request("PUT", "Patient/" + created.id, {{"If-Match", WeakETag("1")}},
                         PatientJson(identifier, "Stale", created.id));
  c.ExpectStatus(r, {412}, stale);
  const std::string current = "PUT [base]/Patient/[id] with If-Match: W/\"2\" (current)";
  r = c.Request("PUT", "Patient/" + created.id, {{"If-Match", WeakETag("2")}},
                PatientJson(identifier, "Three", created.id));
  if (c.ExpectStatus(r, {200}, current)) c.ExpectHeader(r, "ETag", WeakETag("3"), current);
}

// http://hl7.org/fhir/R4/http.html#cread: If-None-Match on read.
void CheckIfNoneMatch(Check& c) {
  Created created = CreatePatient(c, c.UniqueId());
  Response r = c.Request("GET", "Patient/" + created.id, {{"If-None-Match", WeakETag("1")}});
  c.ExpectStatus(r, {304}, "GET [base]/Patient/[id] with If-None-Match: W/\"1\" (current)");
  r = c.Request("GET", "Patient/" + created.id, {{"If-None-Match", WeakETag("99")}});
  c.ExpectStatus(r, {200}, "GET [base]/Patient/[id] with If-None-Match: W/\"99\" (not current)");
}

// http://hl7.org/fhir/R4/http.html#cread: If-Modified-Since on read (RFC 7232 section 3.3).
void CheckIfModifiedSince(Check& c) {
  Created created = CreatePatient(c, c.UniqueId());
  std::string tomorrow = HttpDate(std::chrono::system_clock::now() + std::chrono::hours(24));
  Response r = c.Request("GET", "Patient/" + created.id, {{"If-Modified-Since", tomorrow}});
  c.ExpectStatus(r, {304}, "GET [base]/Patient/[id] with If-Modified-Since: " + tomorrow);
  const std::string past = "Sat, 01 Jan 2000 00:00:00 GMT";
  r = c.Request("GET", "Patient/" + created.id, {{"If-Modified-Since", past}});
  c.ExpectStatus(r, {200}, "GET [base]/Patient/[id] with If-Modified-Since: " + past);
}

// http://hl7.org/fhir/R4/http.html#ccreate
void CheckConditionalCreate(Check& c) {
  std::string identifier = c.UniqueId();
  std::string condition = "identifier=" + std::string(kIdentifierSystem) + "|" + identifier;
  Headers headers = {kPreferRepresentation, {"If-None-Exist", condition}};
  const std::string what = "POST [base]/Patient with If-None-Exist: " + condition;
  Response r = c.Request("POST", "Patient", headers, PatientJson(identifier, "Conditional"));
  c.RequireStatus(r, {201}, what + " (no match)");
  std::string id = ResponseId(r, "Patient");
  c.Require(!id.empty(), what + " (no match): no id in the body or Location");
  r = c.Request("POST", "Patient", headers, PatientJson(identifier, "Conditional"));
  c.RequireStatus(r, {200}, what + " (one match)");
  std::string again = ResponseId(r, "Patient");
  if (again.empty()) {
    c.Note("the 200 for a matching conditional create names no resource (no body, no Location)");
  } else {
    c.Expect(again == id,
             what + " (one match): names " + Quoted(again) + ", expected the match " + Quoted(id));
  }
  ExpectPatientSearch(c, IdentifierQuery(identifier), 1, "the second create must not store");
}

// http://hl7.org/fhir/R4/http.html#cond-update
void CheckConditionalUpdate(Check& c) {
  std::string identifier = c.UniqueId();
  std::string target = "Patient?" + IdentifierQuery(identifier);
  const std::string what = "PUT [base]/" + target;
  Response r = c.Request("PUT", target, {kPreferRepresentation}, PatientJson(identifier, "One"));
  c.RequireStatus(r, {201}, what + " (no match: creates)");
  std::string id = ResponseId(r, "Patient");
  c.Require(!id.empty(), what + " (no match): no id in the body or Location");
  r = c.Request("PUT", target, {kPreferRepresentation}, PatientJson(identifier, "Two"));
  c.RequireStatus(r, {200}, what + " (one match: updates)");
  std::string updated = ResponseId(r, "Patient");
  c.Expect(updated == id,
           what + " (one match): updated " + Quoted(updated) + ", expected " + Quoted(id));
  Response read = c.Request("GET", "Patient/" + id);
  c.RequireStatus(read, {200}, "GET [base]/Patient/[id] after the conditional update");
  rapidjson::Document doc = c.RequireJson(read, "GET [base]/Patient/[id]");
  ExpectVersion(c, doc, "2", "GET [base]/Patient/[id] after the conditional update");
  std::string family = JsonString(doc, "name[0].family");
  c.Expect(family == "Two", "after the conditional update, name.family reads " + Quoted(family) +
                                ", expected \"Two\"");
  ExpectPatientSearch(c, IdentifierQuery(identifier), 1, "one create, then one update");
}

// http://hl7.org/fhir/R4/http.html#cdelete
void CheckConditionalDelete(Check& c) {
  std::string identifier = c.UniqueId();
  Created created = CreatePatient(c, identifier);
  std::string target = "Patient?" + IdentifierQuery(identifier);
  Response r = c.Request("DELETE", target);
  c.RequireStatus(r, {200, 204}, "DELETE [base]/" + target);
  Response read = c.Request("GET", "Patient/" + created.id);
  c.ExpectStatus(read, {410}, "GET [base]/Patient/[id] after the conditional delete");
  ExpectPatientSearch(c, IdentifierQuery(identifier), 0, "the match was deleted");
}

const std::pair<std::string, std::string> kJsonPatch{"Content-Type", "application/json-patch+json"};

// http://hl7.org/fhir/R4/http.html#patch with JSON Patch (RFC 6902).
void CheckPatch(Check& c) {
  Created created = CreatePatient(c, c.UniqueId());
  const std::string what = "PATCH [base]/Patient/[id] replacing /active";
  Response r = c.Request("PATCH", "Patient/" + created.id, {kJsonPatch, kPreferRepresentation},
                         R"([{"op":"replace","path":"/active","value":false}])");
  c.RequireStatus(r, {200}, what);
  c.ExpectHeader(r, "ETag", WeakETag("2"), what);
  Response read = c.Request("GET", "Patient/" + created.id);
  c.RequireStatus(read, {200}, "GET [base]/Patient/[id] after the patch");
  rapidjson::Document doc = c.RequireJson(read, "GET [base]/Patient/[id] after the patch");
  ExpectVersion(c, doc, "2", "GET [base]/Patient/[id] after the patch");
  const rapidjson::Value* active = JsonAt(doc, "active");
  c.Expect(active != nullptr && active->IsBool() && !active->GetBool(),
           "after the patch, active is not false");
}

// http://hl7.org/fhir/R4/http.html#patch: a patch that cannot be applied -> 422.
void CheckPatchTestFails(Check& c) {
  Created created = CreatePatient(c, c.UniqueId());
  const std::string what = "PATCH [base]/Patient/[id] whose test op fails";
  Response r = c.Request(
      "PATCH", "Patient/" + created.id, {kJsonPatch},
      R"([{"op":"test","path":"/active","value":false},{"op":"replace","path":"/active","value":false}])");
  if (r.status == 400) {
    c.Note("a failed JSON Patch test op got 400; FHIR asks for 422 Unprocessable Entity");
  } else {
    c.ExpectStatus(r, {422}, what);
  }
  Response read = c.Request("GET", "Patient/" + created.id);
  c.RequireStatus(read, {200}, "GET [base]/Patient/[id] after the failed patch");
  c.ExpectHeader(read, "ETag", WeakETag("1"), "GET [base]/Patient/[id] after the failed patch");
  rapidjson::Document doc = c.RequireJson(read, "GET [base]/Patient/[id] after the failed patch");
  const rapidjson::Value* active = JsonAt(doc, "active");
  c.Expect(active != nullptr && active->IsBool() && active->GetBool(),
           "after the failed patch, active is no longer true");
}

// http://hl7.org/fhir/R4/http.html#ops: Prefer: return=minimal.
void CheckPreferMinimal(Check& c) {
  const std::string what = "POST [base]/Patient with Prefer: return=minimal";
  Response r = c.Request("POST", "Patient", {{"Prefer", "return=minimal"}},
                         PatientJson(c.UniqueId(), "Minimal"));
  c.RequireStatus(r, {201}, what);
  c.Expect(r.body.empty(), what + ": the body is not empty (" + OneLine(r.body, 80) + ")");
  std::string location = r.Header("Location");
  std::optional<Location> parsed = ParseLocation(location, "Patient");
  c.Expect(parsed && !parsed->version.empty(),
           what + ": Location " + Quoted(location) + " is not [base]/Patient/[id]/_history/[vid]");
}

// http://hl7.org/fhir/R4/http.html#ops: Prefer: return=OperationOutcome.
void CheckPreferOperationOutcome(Check& c) {
  const std::string what = "POST [base]/Patient with Prefer: return=OperationOutcome";
  Response r = c.Request("POST", "Patient", {{"Prefer", "return=OperationOutcome"}},
                         PatientJson(c.UniqueId(), "Outcome"));
  c.RequireStatus(r, {201}, what);
  rapidjson::Document doc = c.RequireJson(r, what);
  c.ExpectResourceType(doc, "OperationOutcome", what);
  c.Expect(!r.Header("Location").empty(), what + ": no Location header");
}

// http://hl7.org/fhir/R4/http.html#mime-type: _format and Accept select JSON.
void CheckFormatJson(Check& c) {
  Created created = CreatePatient(c, c.UniqueId());
  struct Case {
    std::string query;
    std::string accept;  // "" = no Accept header
  };
  const Case cases[] = {
      {"?_format=json", ""},
      {"?_format=" + EncodeQueryValue("application/fhir+json"), ""},
      {"", "application/fhir+json"},
  };
  for (const Case& test : cases) {
    std::string what = "GET [base]/Patient/[id]" + test.query +
                       (test.accept.empty() ? " without Accept" : " with Accept: " + test.accept);
    Response r = c.Request("GET", "Patient/" + created.id + test.query, {{"Accept", test.accept}});
    if (!c.ExpectStatus(r, {200}, what)) continue;
    std::string type = MediaType(r.Header("Content-Type"));
    c.Expect(type == "application/fhir+json",
             what + ": Content-Type is " + Quoted(type) + ", expected \"application/fhir+json\"");
    rapidjson::Document doc = c.RequireJson(r, what);
    c.ExpectResourceType(doc, "Patient", what);
  }
}

// http://hl7.org/fhir/R4/http.html#mime-type: a server that does not offer XML says 406.
void CheckAcceptXml(Check& c) {
  Created created = CreatePatient(c, c.UniqueId());
  const std::string what = "GET [base]/Patient/[id] with Accept: application/xml";
  Response r = c.Request("GET", "Patient/" + created.id, {{"Accept", "application/xml"}});
  std::string type = MediaType(r.Header("Content-Type"));
  if (r.status == 406) {
    c.Note("406 Not Acceptable: the server does not offer XML");
  } else if (r.status == 200 && (type == "application/fhir+xml" || type == "application/xml")) {
    c.Note("200 with Content-Type " + type + ": the server offers XML");
  } else {
    c.Expect(false, what + ": status " + std::to_string(r.status) + " with Content-Type " +
                        Quoted(type) + ", expected 406, or 200 with an XML Content-Type");
  }
}

// http://hl7.org/fhir/R4/http.html#mime-type: 415 for a body the server cannot read.
void CheckUnsupportedContentType(Check& c) {
  std::string identifier = c.UniqueId();
  const std::string what = "POST [base]/Patient with Content-Type: text/plain";
  Response r = c.Request("POST", "Patient", {{"Content-Type", "text/plain"}},
                         PatientJson(identifier, "Plain"));
  c.ExpectStatus(r, {415}, what);
  ExpectPatientSearch(c, IdentifierQuery(identifier), 0, "the text/plain create must not store");
}

// The status code of a Bundle.entry.response.status such as "201 Created".
std::string EntryStatus(const rapidjson::Value& bundle, std::size_t index) {
  std::string status = JsonString(bundle, "entry[" + std::to_string(index) + "].response.status");
  return status.substr(0, status.find(' '));
}

// http://hl7.org/fhir/R4/http.html#transaction: urn:uuid: references are resolved.
void CheckTransactionUrnUuid(Check& c) {
  std::string patient_url = "urn:uuid:" + RandomUuid();
  std::string observation_url = "urn:uuid:" + RandomUuid();
  std::string bundle_json =
      R"({"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":)" +
      JsonQuote(patient_url) + R"(,"resource":)" + PatientJson(c.UniqueId(), "Transaction") +
      R"(,"request":{"method":"POST","url":"Patient"}},{"fullUrl":)" + JsonQuote(observation_url) +
      R"(,"resource":{"resourceType":"Observation","status":"final","code":{"text":"fhir-conformance"},)"
      R"("subject":{"reference":)" +
      JsonQuote(patient_url) + R"(}},"request":{"method":"POST","url":"Observation"}}]})";
  const std::string what = "POST [base] with a transaction (Patient + Observation by urn:uuid)";
  Response r = c.Request("POST", "", {}, bundle_json);
  c.RequireStatus(r, {200}, what);
  rapidjson::Document bundle = c.RequireJson(r, what);
  c.ExpectResourceType(bundle, "Bundle", what);
  std::string type = JsonString(bundle, "type");
  c.Expect(type == "transaction-response",
           what + ": Bundle.type is " + Quoted(type) + ", expected \"transaction-response\"");
  std::size_t entries = JsonArraySize(bundle, "entry");
  c.Require(entries == 2, what + ": " + std::to_string(entries) + " entries, expected 2");
  for (std::size_t i = 0; i < 2; ++i) {
    std::string status = EntryStatus(bundle, i);
    c.Expect(status == "201", what + ": entry[" + std::to_string(i) + "].response.status is " +
                                  Quoted(status) + ", expected \"201\"");
  }
  std::string patient_location = JsonString(bundle, "entry[0].response.location");
  std::string observation_location = JsonString(bundle, "entry[1].response.location");
  std::optional<Location> patient = ParseLocation(patient_location, "Patient");
  std::optional<Location> observation = ParseLocation(observation_location, "Observation");
  c.Require(patient.has_value(), what + ": entry[0].response.location " + Quoted(patient_location) +
                                     " does not name a Patient");
  c.Require(observation.has_value(), what + ": entry[1].response.location " +
                                         Quoted(observation_location) +
                                         " does not name an Observation");
  Response read = c.Request("GET", "Observation/" + observation->id);
  c.RequireStatus(read, {200}, "GET [base]/Observation/[id] made by the transaction");
  rapidjson::Document stored = c.RequireJson(read, "GET [base]/Observation/[id]");
  std::string reference = JsonString(stored, "subject.reference");
  c.Expect(reference == "Patient/" + patient->id, "the stored Observation.subject.reference is " +
                                                      Quoted(reference) + ", expected " +
                                                      Quoted("Patient/" + patient->id));
}

// A Bundle entry updating Patient/`id` only if its version is 99, which it is not.
std::string StaleUpdateEntry(const std::string& id, std::string_view identifier) {
  return R"({"resource":)" + PatientJson(identifier, "Stale", id) +
         R"(,"request":{"method":"PUT","url":)" + JsonQuote("Patient/" + id) +
         R"(,"ifMatch":"W/\"99\""}})";
}

// http://hl7.org/fhir/R4/http.html#transaction: all or nothing.
void CheckTransactionRollback(Check& c) {
  std::string existing_identifier = c.UniqueId();
  Created existing = CreatePatient(c, existing_identifier);
  std::string identifier = c.UniqueId();
  std::string bundle_json =
      R"({"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":)" +
      JsonQuote("urn:uuid:" + RandomUuid()) + R"(,"resource":)" +
      PatientJson(identifier, "Rollback") + R"(,"request":{"method":"POST","url":"Patient"}},)" +
      StaleUpdateEntry(existing.id, existing_identifier) + "]}";
  const std::string what =
      "POST [base] with a transaction whose second entry fails (PUT with a stale ifMatch)";
  Response r = c.Request("POST", "", {}, bundle_json);
  c.Expect(r.status >= 400 && r.status <= 499, what + ": status " + std::to_string(r.status) +
                                                   ", expected 4xx (" + Explanation(r) + ")");
  ExpectPatientSearch(c, IdentifierQuery(identifier), 0,
                      "the Patient created by the failed transaction must not be stored");
  Response read = c.Request("GET", "Patient/" + existing.id);
  if (c.ExpectStatus(read, {200}, "GET [base]/Patient/[id] after the failed transaction")) {
    c.ExpectHeader(read, "ETag", WeakETag("1"),
                   "GET [base]/Patient/[id] after the failed transaction");
  }
}

// http://hl7.org/fhir/R4/http.html#trules: a transaction whose entries write one resource twice
// fails; bdl-7: fullUrls are unique in a Bundle. Neither stores anything.
void CheckTransactionOverlap(Check& c) {
  std::string identifier = c.UniqueId();
  std::string id = "conf-" + c.UniqueId();
  std::string put = R"({"resource":)" + PatientJson(identifier, "Twice", id) +
                    R"(,"request":{"method":"PUT","url":)" + JsonQuote("Patient/" + id) + "}}";
  std::string twice =
      R"({"resourceType":"Bundle","type":"transaction","entry":[)" + put + "," + put + "]}";
  std::string what = "POST [base] with a transaction updating Patient/[id] twice";
  Response r = c.Request("POST", "", {}, twice);
  c.Expect(r.status == 400, what + ": status " + std::to_string(r.status) + ", expected 400 (" +
                                Explanation(r) + ")");
  ExpectPatientSearch(c, IdentifierQuery(identifier), 0,
                      "the Patient of the failed transaction must not be stored");

  std::string full_url = JsonQuote("urn:uuid:" + RandomUuid());
  std::string create = R"({"fullUrl":)" + full_url + R"(,"resource":)" +
                       PatientJson(identifier, "SameFullUrl") +
                       R"(,"request":{"method":"POST","url":"Patient"}})";
  std::string same_url =
      R"({"resourceType":"Bundle","type":"transaction","entry":[)" + create + "," + create + "]}";
  what = "POST [base] with a transaction whose two entries share a fullUrl";
  r = c.Request("POST", "", {}, same_url);
  c.Expect(r.status == 400, what + ": status " + std::to_string(r.status) + ", expected 400 (" +
                                Explanation(r) + ")");
  ExpectPatientSearch(c, IdentifierQuery(identifier), 0,
                      "the Patients of the failed transaction must not be stored");
}

// http://hl7.org/fhir/R4/http.html#transaction: a batch's entries succeed or fail alone.
void CheckBatch(Check& c) {
  std::string existing_identifier = c.UniqueId();
  Created existing = CreatePatient(c, existing_identifier);
  std::string identifier = c.UniqueId();
  std::string bundle_json = R"({"resourceType":"Bundle","type":"batch","entry":[{"resource":)" +
                            PatientJson(identifier, "Batch") +
                            R"(,"request":{"method":"POST","url":"Patient"}},)" +
                            StaleUpdateEntry(existing.id, existing_identifier) + "]}";
  const std::string what = "POST [base] with a batch of a good create and a stale update";
  Response r = c.Request("POST", "", {}, bundle_json);
  c.RequireStatus(r, {200}, what);
  rapidjson::Document bundle = c.RequireJson(r, what);
  c.ExpectResourceType(bundle, "Bundle", what);
  std::string type = JsonString(bundle, "type");
  c.Expect(type == "batch-response",
           what + ": Bundle.type is " + Quoted(type) + ", expected \"batch-response\"");
  std::size_t entries = JsonArraySize(bundle, "entry");
  c.Require(entries == 2, what + ": " + std::to_string(entries) + " entries, expected 2");
  std::string good = EntryStatus(bundle, 0);
  c.Expect(good == "201",
           what + ": entry[0].response.status is " + Quoted(good) + ", expected \"201\"");
  std::string bad = EntryStatus(bundle, 1);
  if (c.Expect(bad.size() == 3 && bad[0] == '4',
               what + ": entry[1].response.status is " + Quoted(bad) + ", expected 4xx")) {
    if (bad != "412") c.Note("the stale ifMatch entry got " + bad + "; 412 is the usual answer");
  }
  ExpectPatientSearch(c, IdentifierQuery(identifier), 1, "the good entry of the batch is stored");
}

// http://hl7.org/fhir/R4/search.html on a token parameter.
void CheckSearchIdentifier(Check& c) {
  std::string identifier = c.UniqueId();
  Created created = CreatePatient(c, identifier);
  rapidjson::Document bundle =
      ExpectPatientSearch(c, IdentifierQuery(identifier), 1, "exactly one Patient has it");
  c.Expect(JsonInt(bundle, "total").has_value(), "the searchset has no Bundle.total");
  std::string id = JsonString(bundle, "entry[0].resource.id");
  c.Expect(id == created.id, "the match has id " + Quoted(id) + ", expected " + Quoted(created.id));
}

// http://hl7.org/fhir/R4/search.html#id
void CheckSearchId(Check& c) {
  Created created = CreatePatient(c, c.UniqueId());
  rapidjson::Document bundle =
      ExpectPatientSearch(c, "_id=" + EncodeQueryValue(created.id), 1, "ids are unique");
  std::string id = JsonString(bundle, "entry[0].resource.id");
  c.Expect(id == created.id, "the match has id " + Quoted(id) + ", expected " + Quoted(created.id));
}

constexpr CheckEntry kChecks[] = {
    {"metadata", "GET [base]/metadata: CapabilityStatement for FHIR 4.0.1", CheckMetadata},
    {"create", "POST: 201, Location .../_history/1, ETag W/\"1\", meta", CheckCreate},
    {"read", "GET [type]/[id]: 200, same id, ETag, Last-Modified", CheckRead},
    {"read-unknown", "GET of an unknown id: 404 with OperationOutcome", CheckReadUnknown},
    {"vread", "GET [type]/[id]/_history/[vid] of an old and the current version", CheckVread},
    {"update", "PUT: 200, version 2, ETag W/\"2\"", CheckUpdate},
    {"update-no-change", "PUT of identical content makes no new version", CheckUpdateNoChange},
    {"update-as-create", "PUT of a new client-chosen id: 201", CheckUpdateAsCreate},
    {"update-id-mismatch", "PUT with body id != URL id: 400 with OperationOutcome",
     CheckUpdateIdMismatch},
    {"update-no-id", "PUT with no id in the body: 400 with OperationOutcome", CheckUpdateNoId},
    {"create-type-mismatch", "POST of an Observation to [base]/Patient: 400",
     CheckCreateTypeMismatch},
    {"malformed-json", "POST of malformed JSON: 400 with OperationOutcome", CheckMalformedJson},
    {"strict-unknown-element", "Prefer: handling=strict with an unknown element: 400",
     CheckStrictUnknownElement},
    {"unknown-resource-type", "read or search of an unknown type: 404", CheckUnknownResourceType},
    {"delete", "DELETE: 200/204, then read: 410 with OperationOutcome", CheckDelete},
    {"delete-again", "DELETE of a deleted resource: 200/204", CheckDeleteAgain},
    {"history-instance", "history of create, update, delete: 3 entries, newest first",
     CheckHistoryInstance},
    {"history-type-paging", "Patient/_history?_count=1 has a working next link",
     CheckHistoryTypePaging},
    {"history-since", "_history?_since= keeps versions at or after the instant", CheckHistorySince},
    {"if-match", "If-Match: stale -> 412, current -> 200", CheckIfMatch},
    {"if-none-match", "If-None-Match with the current ETag: 304", CheckIfNoneMatch},
    {"if-modified-since", "If-Modified-Since in the future: 304; long ago: 200",
     CheckIfModifiedSince},
    {"conditional-create", "If-None-Exist: no match 201, one match 200 with the same id",
     CheckConditionalCreate},
    {"conditional-update", "PUT [type]?identifier=: creates, then updates the same id",
     CheckConditionalUpdate},
    {"conditional-delete", "DELETE [type]?identifier=", CheckConditionalDelete},
    {"patch", "JSON Patch replace: 200, version + 1", CheckPatch},
    {"patch-test-fails", "JSON Patch with a failing test op: 422, nothing changed",
     CheckPatchTestFails},
    {"prefer-minimal", "Prefer: return=minimal: empty body, Location", CheckPreferMinimal},
    {"prefer-operationoutcome", "Prefer: return=OperationOutcome", CheckPreferOperationOutcome},
    {"format-json", "_format=json and Accept: application/fhir+json", CheckFormatJson},
    {"accept-xml", "Accept: application/xml: 406, or 200 with XML", CheckAcceptXml},
    {"unsupported-content-type", "POST with Content-Type: text/plain: 415",
     CheckUnsupportedContentType},
    {"transaction-urn-uuid", "transaction resolving urn:uuid: references", CheckTransactionUrnUuid},
    {"transaction-rollback", "transaction with a failing entry: 4xx, nothing stored",
     CheckTransactionRollback},
    {"transaction-overlap",
     "transaction writing a resource twice, or with a repeated fullUrl: 400, nothing stored",
     CheckTransactionOverlap},
    {"batch", "batch with a good and a failing entry: per-entry statuses", CheckBatch},
    {"search-identifier", "Patient?identifier=system|value: one match, total 1",
     CheckSearchIdentifier},
    {"search-id", "Patient?_id=", CheckSearchId},
};

}  // namespace

Check::Check(HttpClient& client, bool verbose, std::ostream& log)
    : client_(client), verbose_(verbose), log_(log) {}

Response Check::Request(std::string_view method, std::string_view target, const Headers& headers,
                        std::string_view body) {
  if (verbose_) {
    log_ << "> " << method << " " << target << "\n";
    for (const auto& [name, value] : headers) log_ << ">   " << name << ": " << value << "\n";
    if (!body.empty()) log_ << ">   " << OneLine(body, 2000) << "\n";
  }
  Response response = client_.Request(method, target, headers, body);
  if (verbose_) {
    if (!response.error.empty()) {
      log_ << "< error: " << response.error << "\n";
    } else {
      log_ << "< " << response.status << "\n";
      for (const auto& [name, value] : response.headers) {
        log_ << "<   " << name << ": " << value << "\n";
      }
      if (!response.body.empty()) log_ << "<   " << OneLine(response.body, 2000) << "\n";
    }
  }
  if (!response.error.empty()) {
    bool absolute = target.substr(0, 7) == "http://" || target.substr(0, 8) == "https://";
    Require(false, std::string(method) + (absolute ? " " : " [base]/") + std::string(target) +
                       ": " + response.error);
  }
  return response;
}

bool Check::Expect(bool condition, std::string_view message) {
  if (!condition) {
    failures_.emplace_back(message);
    if (verbose_) log_ << "! " << message << "\n";
  }
  return condition;
}

void Check::Require(bool condition, std::string_view message) {
  if (!Expect(condition, message)) throw CheckStopped{};
}

bool Check::ExpectStatus(const Response& response, std::initializer_list<int> statuses,
                         std::string_view what) {
  if (std::find(statuses.begin(), statuses.end(), response.status) != statuses.end()) return true;
  std::string expected;
  for (int status : statuses) {
    if (!expected.empty()) expected += " or ";
    expected += std::to_string(status);
  }
  return Expect(false, std::string(what) + ": status " + std::to_string(response.status) +
                           ", expected " + expected + " (" + Explanation(response) + ")");
}

void Check::RequireStatus(const Response& response, std::initializer_list<int> statuses,
                          std::string_view what) {
  if (!ExpectStatus(response, statuses, what)) throw CheckStopped{};
}

bool Check::ExpectHeader(const Response& response, std::string_view header,
                         std::string_view expected, std::string_view what) {
  if (!response.HasHeader(header)) {
    return Expect(false, std::string(what) + ": no " + std::string(header) + " header, expected " +
                             std::string(expected));
  }
  std::string actual = response.Header(header);
  return Expect(actual == expected, std::string(what) + ": " + std::string(header) + " is " +
                                        actual + ", expected " + std::string(expected));
}

rapidjson::Document Check::RequireJson(const Response& response, std::string_view what) {
  rapidjson::Document doc;
  doc.Parse(response.body.data(), response.body.size());
  Require(!doc.HasParseError() && doc.IsObject(),
          std::string(what) + ": the body is not a JSON object (" +
              (response.body.empty() ? std::string("empty body") : OneLine(response.body, 120)) +
              ")");
  return doc;
}

bool Check::ExpectResourceType(const rapidjson::Value& resource, std::string_view type,
                               std::string_view what) {
  std::string actual = JsonString(resource, "resourceType");
  return Expect(actual == type, std::string(what) + ": resourceType is " + Quoted(actual) +
                                    ", expected " + Quoted(type));
}

bool Check::ExpectOperationOutcome(const Response& response, std::string_view what) {
  rapidjson::Document doc;
  doc.Parse(response.body.data(), response.body.size());
  bool ok = !doc.HasParseError() && doc.IsObject() &&
            JsonString(doc, "resourceType") == "OperationOutcome" &&
            JsonArraySize(doc, "issue") > 0;
  return Expect(
      ok, std::string(what) + ": the body is not an OperationOutcome with issues (" +
              (response.body.empty() ? std::string("empty body") : OneLine(response.body, 120)) +
              ")");
}

void Check::Note(std::string note) {
  if (verbose_) log_ << "note: " << note << "\n";
  notes_.push_back(std::move(note));
}

std::string Check::UniqueId() {
  // A random prefix per run keeps runs apart; the counter keeps values of one run apart.
  static const std::string prefix = "cf-" + RandomHex(12);
  static std::atomic<unsigned> counter{0};
  return prefix + "-" + std::to_string(++counter);
}

const rapidjson::Value* JsonAt(const rapidjson::Value& root, std::string_view path) {
  const rapidjson::Value* value = &root;
  while (!path.empty()) {
    std::size_t dot = path.find('.');
    std::string_view step = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    std::size_t bracket = step.find('[');
    std::string_view name = step.substr(0, bracket);
    if (!name.empty()) {
      if (!value->IsObject()) return nullptr;
      rapidjson::Value key(rapidjson::StringRef(name.data(), name.size()));
      auto member = value->FindMember(key);
      if (member == value->MemberEnd()) return nullptr;
      value = &member->value;
    }
    while (bracket != std::string_view::npos) {
      std::size_t close = step.find(']', bracket);
      if (close == std::string_view::npos || close == bracket + 1) return nullptr;
      std::size_t index = 0;
      for (char digit : step.substr(bracket + 1, close - bracket - 1)) {
        if (!std::isdigit(static_cast<unsigned char>(digit))) return nullptr;
        index = index * 10 + static_cast<std::size_t>(digit - '0');
      }
      if (!value->IsArray() || index >= value->Size()) return nullptr;
      value = &(*value)[static_cast<rapidjson::SizeType>(index)];
      bracket = step.find('[', close);
    }
  }
  return value;
}

std::string JsonString(const rapidjson::Value& root, std::string_view path) {
  const rapidjson::Value* value = JsonAt(root, path);
  if (value == nullptr || !value->IsString()) return {};
  return std::string(value->GetString(), value->GetStringLength());
}

std::optional<std::int64_t> JsonInt(const rapidjson::Value& root, std::string_view path) {
  const rapidjson::Value* value = JsonAt(root, path);
  if (value == nullptr || !value->IsInt64()) return std::nullopt;
  return value->GetInt64();
}

std::size_t JsonArraySize(const rapidjson::Value& root, std::string_view path) {
  const rapidjson::Value* value = JsonAt(root, path);
  if (value == nullptr || !value->IsArray()) return 0;
  return value->Size();
}

std::string JsonQuote(std::string_view s) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::span<const CheckEntry> AllChecks() {
  static const std::vector<CheckEntry> all = [] {
    std::vector<CheckEntry> checks(std::begin(kChecks), std::end(kChecks));
    std::span<const CheckEntry> search = SearchChecks();
    checks.insert(checks.end(), search.begin(), search.end());
    return checks;
  }();
  return all;
}

CheckResult RunCheck(const CheckEntry& entry, HttpClient& client, bool verbose, std::ostream& log) {
  if (verbose) log << "=== " << entry.name << ": " << entry.description << "\n";
  Check check(client, verbose, log);
  try {
    entry.run(check);
  } catch (const CheckStopped&) {
    // The failure that stopped the check is already recorded.
  } catch (const std::exception& e) {
    check.Expect(false, std::string("unexpected exception: ") + e.what());
  }
  CheckResult result;
  result.failures = check.failures();
  result.notes = check.notes();
  result.passed = result.failures.empty();
  return result;
}

}  // namespace conformance
