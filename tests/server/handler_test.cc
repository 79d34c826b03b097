#include "server/handler.h"

#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include "server/capability.h"
#include "server/operation_outcome.h"

namespace server {
namespace {

namespace http = boost::beast::http;

rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  REQUIRE_MESSAGE(!doc.HasParseError(), text);
  REQUIRE(doc.IsObject());
  return doc;
}

std::string Str(const rapidjson::Value& value) {
  REQUIRE(value.IsString());
  return std::string(value.GetString(), value.GetStringLength());
}

CapabilityInput TestCapability() {
  CapabilityInput input;
  input.resource_types = {"Observation", "Patient"};
  input.base_url = "http://127.0.0.1:8080/fhir";
  input.software_version = "1.2.3";
  input.start_instant = "2024-05-01T12:34:56.789Z";
  return input;
}

Handler TestHandler(std::string base_path = "/fhir") {
  return Handler(HandlerOptions{std::move(base_path), CapabilityStatementJson(TestCapability())});
}

Request MakeRequest(http::verb method, std::string_view target, std::string_view accept = {}) {
  Request request(method, boost::beast::string_view(target.data(), target.size()), 11);
  if (!accept.empty()) {
    request.set(http::field::accept, boost::beast::string_view(accept.data(), accept.size()));
  }
  return request;
}

std::string Header(const Response& response, http::field field) {
  const auto value = response[field];
  return std::string(value.data(), value.size());
}

// Checks the FHIR error shape and returns the single issue.
const rapidjson::Value& SingleIssue(const rapidjson::Document& doc, std::string_view code) {
  CHECK(Str(doc["resourceType"]) == "OperationOutcome");
  REQUIRE(doc["issue"].IsArray());
  REQUIRE(doc["issue"].Size() == 1);
  const rapidjson::Value& issue = doc["issue"][0];
  CHECK(Str(issue["severity"]) == "error");
  CHECK(Str(issue["code"]) == code);
  return issue;
}

TEST_CASE("CapabilityStatementJson describes the server and claims no interactions") {
  const rapidjson::Document doc = ParseJson(CapabilityStatementJson(TestCapability()));
  CHECK(Str(doc["resourceType"]) == "CapabilityStatement");
  CHECK(Str(doc["status"]) == "active");
  CHECK(Str(doc["date"]) == "2024-05-01T12:34:56.789Z");
  CHECK(Str(doc["kind"]) == "instance");
  CHECK(Str(doc["fhirVersion"]) == "4.0.1");
  REQUIRE(doc["format"].Size() == 2);
  CHECK(Str(doc["format"][0]) == "application/fhir+json");
  CHECK(Str(doc["format"][1]) == "json");
  CHECK(Str(doc["software"]["name"]) == "fhir-server");
  CHECK(Str(doc["software"]["version"]) == "1.2.3");
  CHECK(!Str(doc["implementation"]["description"]).empty());
  CHECK(Str(doc["implementation"]["url"]) == "http://127.0.0.1:8080/fhir");
  REQUIRE(doc["rest"].Size() == 1);
  const rapidjson::Value& rest = doc["rest"][0];
  CHECK(Str(rest["mode"]) == "server");
  CHECK_FALSE(rest.HasMember("interaction"));
  REQUIRE(rest["resource"].Size() == 2);
  CHECK(Str(rest["resource"][0]["type"]) == "Observation");
  CHECK(Str(rest["resource"][1]["type"]) == "Patient");
  for (const rapidjson::Value& resource : rest["resource"].GetArray()) {
    CHECK(resource.MemberCount() == 1);  // type only: no interaction, no searchParam
  }
}

TEST_CASE("CapabilityStatementJson leaves out empty optional parts") {
  CapabilityInput input;
  input.start_instant = "2024-05-01T00:00:00.000Z";
  const rapidjson::Document doc = ParseJson(CapabilityStatementJson(input));
  CHECK_FALSE(doc["rest"][0].HasMember("resource"));  // FHIR JSON has no empty arrays
  CHECK_FALSE(doc["software"].HasMember("version"));
  CHECK_FALSE(doc["implementation"].HasMember("url"));
  CHECK(doc["implementation"].HasMember("description"));
}

TEST_CASE("FormatInstant writes UTC with milliseconds") {
  using std::chrono::milliseconds;
  const std::chrono::system_clock::time_point epoch{};
  CHECK(FormatInstant(epoch) == "1970-01-01T00:00:00.000Z");
  CHECK(FormatInstant(epoch + milliseconds(1714566896789)) == "2024-05-01T12:34:56.789Z");
}

TEST_CASE("OperationOutcomeJson builds one issue") {
  const rapidjson::Document doc =
      ParseJson(OperationOutcomeJson("error", "not-found", "no \"such\" thing", "Patient.name"));
  const rapidjson::Value& issue = SingleIssue(doc, "not-found");
  CHECK(Str(issue["diagnostics"]) == "no \"such\" thing");
  REQUIRE(issue["expression"].Size() == 1);
  CHECK(Str(issue["expression"][0]) == "Patient.name");

  const rapidjson::Document bare = ParseJson(OperationOutcomeJson("warning", "processing", ""));
  CHECK_FALSE(bare["issue"][0].HasMember("diagnostics"));
  CHECK_FALSE(bare["issue"][0].HasMember("expression"));
}

TEST_CASE("SanitizeUtf8 keeps well-formed UTF-8 and replaces the rest") {
  const std::string fffd = "\xEF\xBF\xBD";
  const struct {
    std::string in, out;
  } cases[] = {
      {"plain /fhir/x", "plain /fhir/x"},
      {"\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80", "\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80"},
      {std::string("a\0b", 3), std::string("a\0b", 3)},
      {"\xC0\x80", fffd + fffd},                        // overlong NUL
      {"\xED\xA0\x80", fffd + fffd + fffd},             // surrogate U+D800
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd},  // above U+10FFFF
      {"x\xE4\xB8", "x" + fffd + fffd},                 // truncated
      {"\xFF", fffd},
  };
  for (const auto& c : cases) CHECK(SanitizeUtf8(c.in) == c.out);

  // JSON output stays valid UTF-8 whatever the request bytes were.
  const rapidjson::Document doc = ParseJson(OperationOutcomeJson("error", "x", "at /\xFF"));
  CHECK(Str(doc["issue"][0]["diagnostics"]) == "at /" + fffd);
}

TEST_CASE("GET [base]/metadata returns the CapabilityStatement") {
  const Handler handler = TestHandler();
  const Response response = handler.Handle(MakeRequest(http::verb::get, "/fhir/metadata"));
  CHECK(response.result() == http::status::ok);
  CHECK(response.version() == 11);
  CHECK(Header(response, http::field::content_type) == "application/fhir+json; charset=utf-8");
  CHECK(Header(response, http::field::content_length) == std::to_string(response.body().size()));
  CHECK(response.body() == CapabilityStatementJson(TestCapability()));
  CHECK(Str(ParseJson(response.body())["resourceType"]) == "CapabilityStatement");

  Request http10 = MakeRequest(http::verb::get, "/fhir/metadata?foo=bar");
  http10.version(10);
  CHECK(handler.Handle(http10).version() == 10);
  CHECK(handler.Handle(http10).result() == http::status::ok);
}

TEST_CASE("An empty base path serves /metadata") {
  const Handler handler = TestHandler("");
  CHECK(handler.Handle(MakeRequest(http::verb::get, "/metadata")).result() == http::status::ok);
  CHECK(handler.Handle(MakeRequest(http::verb::get, "/fhir/metadata")).result() ==
        http::status::not_found);
}

TEST_CASE("Other paths get 404 with an OperationOutcome naming the path") {
  const Handler handler = TestHandler();
  for (const char* path : {"/fhir/Patient", "/fhir/Patient/1", "/fhir/metadata/", "/fhir", "/fhir/",
                           "/", "/other", "/fhirx/metadata", "/metadata"}) {
    CAPTURE(path);
    const Response response = handler.Handle(MakeRequest(http::verb::get, path));
    CHECK(response.result() == http::status::not_found);
    CHECK(Header(response, http::field::content_type) == "application/fhir+json; charset=utf-8");
    const rapidjson::Document doc = ParseJson(response.body());
    const rapidjson::Value& issue = SingleIssue(doc, "not-found");
    CHECK(Str(issue["diagnostics"]).find(std::string(path) + ";") != std::string::npos);
  }
  // The query is not part of the path.
  const Response with_query =
      handler.Handle(MakeRequest(http::verb::get, "/fhir/Patient?name=x&_pretty=false"));
  CHECK(Str(ParseJson(with_query.body())["issue"][0]["diagnostics"]).find("name=x") ==
        std::string::npos);
}

TEST_CASE("A method other than GET on metadata gets 405 with Allow") {
  const Handler handler = TestHandler();
  for (http::verb method : {http::verb::post, http::verb::put, http::verb::delete_,
                            http::verb::patch, http::verb::head, http::verb::options}) {
    CAPTURE(http::to_string(method));
    const Response response = handler.Handle(MakeRequest(method, "/fhir/metadata"));
    CHECK(response.result() == http::status::method_not_allowed);
    CHECK(Header(response, http::field::allow) == "GET");
    const rapidjson::Document doc = ParseJson(response.body());
    CHECK(Str(SingleIssue(doc, "not-supported")["diagnostics"]).find("/fhir/metadata") !=
          std::string::npos);
  }
}

TEST_CASE("Accept decides between 200 and 406") {
  const Handler handler = TestHandler();
  const struct {
    const char* accept;
    http::status status;
  } cases[] = {
      {"", http::status::ok},
      {"application/fhir+json", http::status::ok},
      {"application/json", http::status::ok},
      {"application/json+fhir", http::status::ok},
      {"*/*", http::status::ok},
      {"application/*", http::status::ok},
      {"APPLICATION/FHIR+JSON", http::status::ok},
      {"application/fhir+json; fhirVersion=4.0; charset=utf-8", http::status::ok},
      {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", http::status::ok},
      {"application/xml, application/json;q=0.1", http::status::ok},
      {"application/xml", http::status::not_acceptable},
      {"application/fhir+xml", http::status::not_acceptable},
      {"text/html", http::status::not_acceptable},
      {"text/*", http::status::not_acceptable},
      {"application/json;q=0", http::status::not_acceptable},
      {"*/*; q=0.000", http::status::not_acceptable},
  };
  for (const auto& c : cases) {
    CAPTURE(c.accept);
    const Response response =
        handler.Handle(MakeRequest(http::verb::get, "/fhir/metadata", c.accept));
    CHECK(response.result() == c.status);
    CHECK(Header(response, http::field::content_type) == "application/fhir+json; charset=utf-8");
    if (c.status == http::status::not_acceptable) {
      const rapidjson::Document doc = ParseJson(response.body());
      CHECK(Str(SingleIssue(doc, "not-supported")["diagnostics"]).find(c.accept) !=
            std::string::npos);
    }
  }
}

TEST_CASE("Accept headers on several lines are read together") {
  Request request = MakeRequest(http::verb::get, "/fhir/metadata");
  request.insert(http::field::accept, "text/html");
  request.insert(http::field::accept, "application/fhir+json");
  CHECK(TestHandler().Handle(request).result() == http::status::ok);
}

TEST_CASE("_format overrides Accept") {
  const Handler handler = TestHandler();
  const struct {
    const char* target;
    const char* accept;
    http::status status;
  } cases[] = {
      {"/fhir/metadata?_format=json", "application/xml", http::status::ok},
      {"/fhir/metadata?_format=application/json", "", http::status::ok},
      {"/fhir/metadata?_format=application/fhir+json", "text/html", http::status::ok},
      {"/fhir/metadata?_format=application%2Ffhir%2Bjson", "", http::status::ok},
      {"/fhir/metadata?_format=xml", "application/fhir+json", http::status::not_acceptable},
      {"/fhir/metadata?_format=application/fhir+xml", "", http::status::not_acceptable},
      {"/fhir/metadata?_format=", "", http::status::not_acceptable},
  };
  for (const auto& c : cases) {
    CAPTURE(c.target);
    CHECK(handler.Handle(MakeRequest(http::verb::get, c.target, c.accept)).result() == c.status);
  }
}

TEST_CASE("_pretty=true indents the same document") {
  const Handler handler = TestHandler();
  const Response compact = handler.Handle(MakeRequest(http::verb::get, "/fhir/metadata"));
  const Response pretty =
      handler.Handle(MakeRequest(http::verb::get, "/fhir/metadata?_pretty=true"));
  CHECK(pretty.result() == http::status::ok);
  CHECK(compact.body().find('\n') == std::string::npos);
  CHECK(pretty.body().rfind("{\n  \"resourceType\": \"CapabilityStatement\",\n", 0) == 0);
  CHECK(Header(pretty, http::field::content_length) == std::to_string(pretty.body().size()));
  CHECK(ParseJson(pretty.body()) == ParseJson(compact.body()));

  CHECK(handler.Handle(MakeRequest(http::verb::get, "/fhir/metadata?_pretty=false")).body() ==
        compact.body());
  const Response error = handler.Handle(MakeRequest(http::verb::get, "/fhir/x?_pretty=true"));
  CHECK(error.result() == http::status::not_found);
  CHECK(error.body().find("\n  \"issue\": [") != std::string::npos);
}

TEST_CASE("OutcomeResponse sets status, version and the FHIR content type") {
  const Response response =
      OutcomeResponse(http::status::payload_too_large, 10, fhir::IssueType::kTooLong, "too big");
  CHECK(response.result() == http::status::payload_too_large);
  CHECK(response.version() == 10);
  CHECK(Header(response, http::field::content_type) == "application/fhir+json; charset=utf-8");
  const rapidjson::Document doc = ParseJson(response.body());
  CHECK(Str(SingleIssue(doc, "too-long")["diagnostics"]) == "too big");
}

}  // namespace
}  // namespace server
