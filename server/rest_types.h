#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fhir/base/status.h"
#include "server/audit/access_basis.h"
#include "server/auth/principal.h"

namespace server {

// One FHIR REST interaction, decoded from HTTP or from a batch/transaction Bundle entry.
struct RestRequest {
  std::string method;                 // GET, HEAD, POST, PUT, PATCH, DELETE
  std::vector<std::string> segments;  // the path below the base, split on '/', decoded
  std::vector<std::pair<std::string, std::string>> params;  // the query, decoded, in order
  std::string body;
  std::string content_type;  // media type only, lower case ("application/fhir+json")
  std::string if_match, if_none_match, if_modified_since, if_none_exist;
  std::string prefer;
  // Who asks, from a verified bearer token; null when authentication is off. Scopes are
  // checked before the request gets here (server/auth/access.h); Consent and compartment
  // checks are for the REST layer to apply with it.
  std::shared_ptr<const auth::Principal> principal;

  // The first value of query parameter `name`.
  std::optional<std::string_view> Param(std::string_view name) const {
    for (const auto& [key, value] : params) {
      if (key == name) return value;
    }
    return std::nullopt;
  }
};

// The answer to one interaction, before it becomes HTTP or a Bundle entry response.
struct RestResponse {
  int status = 200;
  std::string body;  // FHIR JSON, or empty
  std::string etag;  // W/"3"
  std::string last_modified;  // the instant (meta.lastUpdated); HTTP-date made by the caller
  std::string location;       // [base]/Patient/1/_history/3 (relative to the base: Patient/...)
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow, ...)
  // What permitted the access (a Consent, an emergency), for its AuditEvent (server/audit).
  audit::AccessBasis access_basis;
};

// The HTTP status for a failed interaction of `type` (STYLE.md: the single mapping):
// structure/required/value -> 400, invariant/business-rule/processing -> 422, not-found 404,
// deleted 410, conflict 409, multiple-matches 412, forbidden 403, exception 500.
int HttpStatusFor(fhir::IssueType type);

// A RestResponse carrying an OperationOutcome of every issue in `status`.
RestResponse ErrorResponse(const fhir::Status& status);
RestResponse ErrorResponse(int http_status, fhir::IssueType type, std::string diagnostics,
                           std::string expression = {});

// The OperationOutcome JSON of `status`'s issues.
std::string OperationOutcomeOf(const fhir::Status& status);

}  // namespace server
