// The checks of the black-box conformance suite: each one exercises one part of the FHIR R4
// RESTful API (http://hl7.org/fhir/R4/http.html) against a live server, creating its own data
// with unique identifiers so that it can run against a server that holds other data.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "conformance/http_client.h"

namespace conformance {

// The context of one running check: sends requests and records what went wrong.
// Expect*() record a failure and let the check continue; Require*() record a failure and
// stop the check (use them when later steps make no sense without this one).
class Check {
 public:
  // Logs every exchange to `log` when `verbose`.
  Check(HttpClient& client, bool verbose, std::ostream& log);

  // Sends a request (see HttpClient::Request). A transport failure (connection refused,
  // timeout, unparsable HTTP) stops the check with that reason.
  Response Request(std::string_view method, std::string_view target, const Headers& headers = {},
                   std::string_view body = {});

  // Records `message` as a failure when `condition` is false; returns `condition`.
  bool Expect(bool condition, std::string_view message);
  // As Expect(), and stops the check when `condition` is false.
  void Require(bool condition, std::string_view message);

  // Expects the status to be one of `statuses`; the failure names `what` was done and shows
  // the actual status with the server's diagnostics.
  bool ExpectStatus(const Response& response, std::initializer_list<int> statuses,
                    std::string_view what);
  void RequireStatus(const Response& response, std::initializer_list<int> statuses,
                     std::string_view what);
  // Expects `header` to be exactly `expected`.
  bool ExpectHeader(const Response& response, std::string_view header, std::string_view expected,
                    std::string_view what);

  // Parses the body as a JSON object; stops the check if it is not one.
  rapidjson::Document RequireJson(const Response& response, std::string_view what);
  // Expects `resource.resourceType` to be `type`.
  bool ExpectResourceType(const rapidjson::Value& resource, std::string_view type,
                          std::string_view what);
  // Expects the body to be an OperationOutcome with at least one issue.
  bool ExpectOperationOutcome(const Response& response, std::string_view what);

  // Something worth telling that is not a failure (e.g. which of two allowed answers came).
  void Note(std::string note);

  // A fresh value, unique across checks and runs, valid as a FHIR id ([A-Za-z0-9\-.]{1,64}).
  std::string UniqueId();

  bool verbose() const { return verbose_; }
  const std::vector<std::string>& failures() const { return failures_; }
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  HttpClient& client_;
  bool verbose_;
  std::ostream& log_;
  std::vector<std::string> failures_;
  std::vector<std::string> notes_;
};

// JSON helpers. A path is a dot-separated list of member names, each optionally followed by
// array indices: "entry[0].resource.meta.versionId". They return nullptr / "" / nullopt when
// a step is missing or of another JSON type.
const rapidjson::Value* JsonAt(const rapidjson::Value& root, std::string_view path);
std::string JsonString(const rapidjson::Value& root, std::string_view path);
std::optional<std::int64_t> JsonInt(const rapidjson::Value& root, std::string_view path);
// Number of elements of the array at `path`; 0 when absent.
std::size_t JsonArraySize(const rapidjson::Value& root, std::string_view path);
// `s` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view s);

// Helpers shared by the check files.
// `s` in double quotes, for messages.
std::string Quoted(std::string_view s);
// `s` cut to `max` characters (then "..."), with line breaks and tabs as spaces.
std::string OneLine(std::string_view s, std::size_t max);
// What the server said about an error: the OperationOutcome's first diagnostics or details,
// else the start of the body.
std::string Explanation(const Response& response);
// The id in a write response: the body's id when it is a `type`, else the Location header's.
std::string ResponseId(const Response& response, std::string_view type);
// The url of the Bundle link with `relation`, or "".
std::string LinkUrl(const rapidjson::Value& bundle, std::string_view relation);

using CheckFunction = void (*)(Check&);

struct CheckEntry {
  std::string_view name;
  std::string_view description;
  CheckFunction run;
};

// Every check, in the order they run: those of checks.cc (http.html), then SearchChecks().
std::span<const CheckEntry> AllChecks();
// The checks of search.html (search_checks.cc).
std::span<const CheckEntry> SearchChecks();

struct CheckResult {
  bool passed = false;
  std::vector<std::string> failures;
  std::vector<std::string> notes;
};

// Runs one check with its own Check context; never throws.
CheckResult RunCheck(const CheckEntry& entry, HttpClient& client, bool verbose, std::ostream& log);

}  // namespace conformance
