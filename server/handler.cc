#include "server/handler.h"

#include <chrono>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>

#include "server/audit/audit.h"
#include "server/auth/authenticator.h"
#include "server/auth/request_scopes.h"
#include "server/operation_outcome.h"
#include "server/rest_service.h"
#include "server/rest_util.h"

namespace server {
namespace {

namespace http = boost::beast::http;

std::string_view ToStd(boost::beast::string_view text) { return {text.data(), text.size()}; }

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = Lower(c);
  return out;
}

struct Target {
  std::string_view path;
  std::vector<std::pair<std::string, std::string>> params;  // decoded, in request order

  // The first value of `name`, if the query has it.
  std::optional<std::string_view> Param(std::string_view name) const {
    for (const auto& [key, value] : params) {
      if (key == name) return value;
    }
    return std::nullopt;
  }
};

Target SplitTarget(std::string_view target) {
  Target out;
  const size_t question = target.find('?');
  out.path = target.substr(0, question);
  if (question != std::string_view::npos) out.params = ParseQuery(target.substr(question + 1));
  return out;
}

// The media type of an Accept element or _format value without its parameters, lowercased.
std::string MediaType(std::string_view element) {
  return Lowercase(Trim(element.substr(0, element.find(';'))));
}

// True if the Accept element's parameters include a zero quality ("q=0", "q=0.000"): RFC 9110
// section 12.4.2 makes that "not acceptable".
bool HasZeroQuality(std::string_view element) {
  for (size_t semicolon = element.find(';'); semicolon != std::string_view::npos;
       semicolon = element.find(';')) {
    element.remove_prefix(semicolon + 1);
    const std::string_view param = Trim(element.substr(0, element.find(';')));
    if (param.size() > 2 && Lower(param[0]) == 'q' && param[1] == '=') {
      return param.substr(2).find_first_not_of("0.") == std::string_view::npos;
    }
  }
  return false;
}

bool IsJsonFormat(std::string_view format) {
  const std::string type = MediaType(format);
  return type == "json" || type == "application/json" || type == "application/fhir+json";
}

// Accept elements that let us answer with FHIR JSON. application/json+fhir is the DSTU2 name,
// which R4 asks servers to keep accepting.
bool IsJsonMediaRange(std::string_view element) {
  const std::string type = MediaType(element);
  return type == "application/fhir+json" || type == "application/json" ||
         type == "application/json+fhir" || type == "*/*" || type == "application/*";
}

// Why the request cannot have a JSON answer, or nullopt if it can
// (http://hl7.org/fhir/R4/http.html#mime).
std::optional<std::string> FormatProblem(const Request& request, const Target& target) {
  if (const std::optional<std::string_view> format = target.Param("_format")) {
    if (IsJsonFormat(*format)) return std::nullopt;
    return "_format '" + std::string(*format) +
           "' is not supported; this server produces only application/fhir+json";
  }
  std::string accept;
  for (auto [it, end] = request.equal_range(http::field::accept); it != end; ++it) {
    if (!accept.empty()) accept += ", ";
    accept += ToStd(it->value());
  }
  if (Trim(accept).empty()) return std::nullopt;  // absent (or blank): anything goes
  std::string_view rest = accept;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view element = rest.substr(0, comma);
    if (IsJsonMediaRange(element) && !HasZeroQuality(element)) return std::nullopt;
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return "Accept '" + accept +
         "' allows no format this server produces; it produces only application/fhir+json";
}

// Re-indents compact JSON. Numbers pass through as their source text (RawNumber), so decimals
// keep their precision as FHIR requires.
std::string Pretty(const std::string& json) {
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
  writer.SetIndent(' ', 2);
  rapidjson::Reader reader;
  rapidjson::StringStream stream(json.c_str());
  if (!reader.Parse<rapidjson::kParseNumbersAsStringsFlag>(stream, writer)) return json;
  return std::string(buffer.GetString(), buffer.GetSize());
}

Response JsonResponse(http::status status, unsigned version, std::string body) {
  Response response(status, version);
  response.set(http::field::content_type,
               boost::beast::string_view(kFhirJsonContentType.data(), kFhirJsonContentType.size()));
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

bool IsFhirJsonBody(std::string_view media_type) {
  return media_type == "application/fhir+json" || media_type == "application/json" ||
         media_type == "application/json+fhir";
}

// The path below the base, split on '/' and decoded.
std::vector<std::string> Segments(std::string_view rel) {
  std::vector<std::string> segments;
  while (!rel.empty()) {
    if (rel.front() == '/') {
      rel.remove_prefix(1);
      continue;
    }
    const size_t slash = rel.find('/');
    segments.push_back(PercentDecode(rel.substr(0, slash)));
    rel = slash == std::string_view::npos ? std::string_view() : rel.substr(slash + 1);
  }
  return segments;
}

// Hands a request under the base (other than metadata) to the RestService and turns its answer
// into HTTP. `event` (when given) receives what permitted the access and where a write went,
// for the audit.
Response RestAnswer(const HandlerOptions& options_, const Request& request, const Target& target,
                    std::shared_ptr<const auth::Principal> principal,
                    audit::Event* event = nullptr) {
  RestRequest r;
  r.method = std::string(ToStd(request.method_string()));
  r.segments = Segments(target.path.substr(options_.base_path.size()));
  for (const auto& [key, value] : target.params) {
    if (key != "_format" && key != "_pretty") r.params.emplace_back(key, value);
  }
  const unsigned version = request.version();
  if (principal) {
    // A POST _search may carry its parameters in a form body.
    Params checked = r.params;
    if (r.method == "POST" &&
        MediaType(ToStd(request[http::field::content_type])) ==
            "application/x-www-form-urlencoded") {
      for (auto& param : ParseQuery(request.body())) checked.push_back(std::move(param));
    }
    if (std::optional<std::string> problem =
            auth::RequestScopeProblem(*principal, r.method, r.segments, checked)) {
      Response denied = OutcomeResponse(http::status::forbidden, version,
                                        fhir::IssueType::kForbidden, *problem);
      denied.set(http::field::www_authenticate, auth::InsufficientScopeChallenge());
      return denied;
    }
    r.principal = std::move(principal);
  }
  r.body = request.body();
  r.content_type = MediaType(ToStd(request[http::field::content_type]));
  // POST [type]/_search carries its parameters as a form body.
  const bool form_search = r.method == "POST" && !r.segments.empty() &&
                           r.segments.back() == "_search" &&
                           r.content_type == "application/x-www-form-urlencoded";
  if (!r.body.empty() && !IsFhirJsonBody(r.content_type) && !form_search &&
      !(r.method == "PATCH" && r.content_type == "application/json-patch+json")) {
    return OutcomeResponse(http::status::unsupported_media_type, version,
                           fhir::IssueType::kNotSupported,
                           "Content-Type '" + r.content_type +
                               "' is not supported; send application/fhir+json" +
                               (r.method == "PATCH" ? " or application/json-patch+json" : ""));
  }
  r.if_match = std::string(ToStd(request[http::field::if_match]));
  r.if_none_match = std::string(ToStd(request[http::field::if_none_match]));
  r.if_modified_since = std::string(ToStd(request[http::field::if_modified_since]));
  r.if_none_exist = std::string(ToStd(request["If-None-Exist"]));
  r.prefer = std::string(ToStd(request["Prefer"]));

  RestResponse out = options_.rest->Handle(r);
  if (event != nullptr) {
    event->basis = std::move(out.access_basis);
    event->location = out.location;
  }
  Response response(static_cast<http::status>(out.status), version);
  if (!out.body.empty()) {
    response.set(http::field::content_type, boost::beast::string_view(
                                                kFhirJsonContentType.data(),
                                                kFhirJsonContentType.size()));
    if (request.method() != http::verb::head) response.body() = std::move(out.body);
  }
  if (!out.etag.empty()) response.set(http::field::etag, out.etag);
  if (!out.last_modified.empty()) {
    response.set(http::field::last_modified, HttpDateFromInstant(out.last_modified));
  }
  if (!out.location.empty()) {
    response.set(http::field::location, options_.rest->options().base_url + "/" + out.location);
  }
  for (const auto& [name, value] : out.headers) response.set(name, value);
  response.prepare_payload();
  return response;
}

// GET /.well-known/smart-configuration (SMART App Launch 2.0), open to all.
Response SmartConfiguration(const auth::Authenticator& authenticator, const Request& request) {
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    Response response = OutcomeResponse(
        http::status::method_not_allowed, request.version(), fhir::IssueType::kNotSupported,
        "Method " + std::string(ToStd(request.method_string())) + " is not allowed on " +
            std::string(ToStd(request.target())) + "; only GET is");
    response.set(http::field::allow, "GET");
    return response;
  }
  Response response(http::status::ok, request.version());
  response.set(http::field::content_type, "application/json");
  response.body() = authenticator.smart_configuration_json();
  response.prepare_payload();
  return response;
}

}  // namespace

Response OutcomeResponse(http::status status, unsigned version, fhir::IssueType type,
                         std::string_view diagnostics) {
  return JsonResponse(status, version,
                      OperationOutcomeJson("error", fhir::IssueTypeCode(type), diagnostics));
}

Handler::Handler(HandlerOptions options) : options_(std::move(options)) {}

std::string Handler::NotFoundDiagnostics(std::string_view path) const {
  const std::string& base = options_.base_path;
  const bool under_base =
      path.starts_with(base) && (path.size() == base.size() || path[base.size()] == '/');
  if (!under_base) {
    return "Nothing is served at " + std::string(path) + "; the FHIR base is " + base + "/";
  }
  return "Nothing is served at " + std::string(path) + "; so far this server only answers " + base +
         "/metadata";
}

Response Handler::Handle(const Request& request) const {
  const Target target = SplitTarget(ToStd(request.target()));
  const bool pretty = target.Param("_pretty") == "true";
  const unsigned version = request.version();
  const auto finish = [pretty](Response response) {
    if (pretty) {
      response.body() = Pretty(response.body());
      response.prepare_payload();
    }
    return response;
  };

  const std::string& base = options_.base_path;
  if (options_.auth != nullptr && (target.path == base + "/.well-known/smart-configuration" ||
                                   target.path == "/.well-known/smart-configuration")) {
    return SmartConfiguration(*options_.auth, request);
  }
  const bool under_base = target.path.starts_with(base) &&
                          (target.path.size() == base.size() || target.path[base.size()] == '/');
  // The AuditEvent of an interaction (server/audit), queued once its answer is known.
  audit::AuditLog* const audit_log =
      options_.rest != nullptr ? options_.rest->options().audit : nullptr;
  std::optional<audit::Event> event;
  if (audit_log != nullptr && under_base) {
    event.emplace();
    event->recorded = std::chrono::system_clock::now();
    event->method = std::string(ToStd(request.method_string()));
    event->capabilities = target.path == base + "/metadata";
    if (!event->capabilities) event->segments = Segments(target.path.substr(base.size()));
    for (const auto& [key, value] : target.params) {
      if (key != "_format" && key != "_pretty") event->params.emplace_back(key, value);
    }
    if (event->method == "POST" && event->segments.empty() && !event->capabilities) {
      event->bundle_type = audit::BundleTypeOf(request.body());
    } else if (event->method == "POST" &&
               MediaType(ToStd(request[http::field::content_type])) ==
                   "application/x-www-form-urlencoded") {
      for (auto& param : ParseQuery(request.body())) event->params.push_back(std::move(param));
    }
  }
  const auto audited = [&](Response response) {
    if (event) {
      event->status = static_cast<int>(response.result_int());
      // A batch/transaction's entries have AuditEvents of their own (bundle_processor.cc).
      const bool bundle = !event->capabilities && event->segments.empty() &&
                          event->method == "POST" && event->status < 400;
      const bool sent_resource = event->method == "POST" || event->method == "PUT";
      if (!bundle) {
        event->body = response.body().empty() && sent_resource ? request.body() : response.body();
      }
      audit_log->Submit(std::move(*event));
    }
    return finish(std::move(response));
  };
  if (options_.rest != nullptr && under_base && target.path != base + "/metadata") {
    std::shared_ptr<const auth::Principal> principal;
    if (options_.auth != nullptr) {
      auth::AuthResult authenticated = options_.auth->Authenticate(
          ToStd(request[http::field::authorization]), std::chrono::system_clock::now());
      if (!authenticated.principal) {
        Response response = OutcomeResponse(http::status::unauthorized, version,
                                            fhir::IssueType::kLogin, authenticated.diagnostics);
        response.set(http::field::www_authenticate, authenticated.www_authenticate);
        if (event) event->auth_failed = true;
        return audited(std::move(response));
      }
      principal = std::move(authenticated.principal);
      if (event) event->principal = principal;
    }
    if (std::optional<std::string> problem = FormatProblem(request, target)) {
      return audited(OutcomeResponse(http::status::not_acceptable, version,
                                     fhir::IssueType::kNotSupported, *problem));
    }
    return audited(RestAnswer(options_, request, target, std::move(principal),
                              event ? &*event : nullptr));
  }
  if (target.path != base + "/metadata") {
    return finish(OutcomeResponse(http::status::not_found, version, fhir::IssueType::kNotFound,
                                  NotFoundDiagnostics(target.path)));
  }
  if (request.method() != http::verb::get) {
    Response response =
        OutcomeResponse(http::status::method_not_allowed, version, fhir::IssueType::kNotSupported,
                        "Method " + std::string(ToStd(request.method_string())) +
                            " is not allowed on " + std::string(target.path) + "; only GET is");
    response.set(http::field::allow, "GET");
    return audited(std::move(response));
  }
  if (std::optional<std::string> problem = FormatProblem(request, target)) {
    return audited(OutcomeResponse(http::status::not_acceptable, version,
                                   fhir::IssueType::kNotSupported, *problem));
  }
  return audited(JsonResponse(http::status::ok, version, options_.capability_json));
}

}  // namespace server
