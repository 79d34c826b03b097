#pragma once

#include <string>
#include <string_view>
#include <utility>  // before any Asio header (STYLE.md)

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include "fhir/base/status.h"

namespace server {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// The Content-Type of every response with a FHIR body.
inline constexpr std::string_view kFhirJsonContentType = "application/fhir+json; charset=utf-8";

class RestService;
namespace auth {
class Authenticator;
}

struct HandlerOptions {
  std::string base_path;        // as Config::base_path: "" or "/fhir", no trailing slash
  std::string capability_json;  // the compact CapabilityStatement served at [base]/metadata
  RestService* rest = nullptr;  // the REST interactions; without it only metadata is served
  // Bearer-token authentication and SMART scopes (server/auth); null = off.
  const auth::Authenticator* auth = nullptr;
};

// The FHIR REST router (http://hl7.org/fhir/R4/http.html), free of sockets so that tests call
// it directly. Handle() is const and may run on many threads at once.
class Handler {
 public:
  explicit Handler(HandlerOptions options);

  // Answers `request` in the request's HTTP version; Connection handling is the caller's.
  // Paths under the base other than metadata go to the RestService (after the format checks
  // below, and 415 for a body whose Content-Type is not FHIR JSON or, for PATCH, JSON Patch);
  // its RestResponse becomes HTTP here: ETag, Last-Modified (HTTP-date), Location (absolute).
  // For metadata, checked in this order:
  //   a path outside the base -> 404 (issue code not-found; diagnostics name the path)
  //   a method other than GET      -> 405 with Allow: GET
  //   no acceptable format         -> 406 (see below)
  //   otherwise                    -> 200 with the CapabilityStatement
  // A 200 needs a JSON format: `_format` (json, application/json, application/fhir+json)
  // overrides Accept, which must allow application/fhir+json, application/json or
  // application/json+fhir (directly, or by */* or application/*) unless absent; otherwise 406.
  // `_pretty=true` indents the body. Every body is FHIR JSON (an OperationOutcome on errors).
  // With `auth`, a request under the base other than metadata first needs a valid bearer
  // token (else 401, WWW-Authenticate: Bearer realm="fhir-server"[, error="invalid_token",
  // error_description="..."], OperationOutcome code login), then scopes that allow its
  // interaction (else 403, error="insufficient_scope", code forbidden); the principal travels
  // in RestRequest::principal. GET [base]/.well-known/smart-configuration and
  // /.well-known/smart-configuration answer the SMART configuration (application/json), open
  // to all, only with `auth`.
  Response Handle(const Request& request) const;

 private:
  std::string NotFoundDiagnostics(std::string_view path) const;

  HandlerOptions options_;
};

// A response whose body is a one-issue OperationOutcome (severity error, code `type`), with
// the FHIR Content-Type; `version` is the HTTP version (11 for HTTP/1.1). Also for errors found
// outside Handler::Handle, such as 413 from the session.
Response OutcomeResponse(boost::beast::http::status status, unsigned version, fhir::IssueType type,
                         std::string_view diagnostics);

}  // namespace server
