#include "server/rest_types.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "server/operation_outcome.h"

namespace server {

int HttpStatusFor(fhir::IssueType type) {
  using fhir::IssueType;
  switch (type) {
    case IssueType::kStructure:
    case IssueType::kRequired:
    case IssueType::kValue:
    case IssueType::kInvalid:
    case IssueType::kCodeInvalid:
    case IssueType::kExtension:
    case IssueType::kTooLong:
      return 400;
    case IssueType::kInvariant:
    case IssueType::kBusinessRule:
    case IssueType::kProcessing:
      return 422;
    case IssueType::kLogin:
    case IssueType::kSecurity:
      return 401;
    case IssueType::kForbidden:
      return 403;
    case IssueType::kNotFound:
      return 404;
    case IssueType::kNotSupported:
      return 400;
    case IssueType::kDeleted:
      return 410;
    case IssueType::kConflict:
    case IssueType::kDuplicate:
      return 409;
    case IssueType::kMultipleMatches:
      return 412;
    case IssueType::kTooCostly:
      return 400;
    case IssueType::kTransient:
      return 503;
    case IssueType::kException:
    case IssueType::kInformational:
      return 500;
  }
  return 500;
}

std::string OperationOutcomeOf(const fhir::Status& status) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("resourceType");
  w.String("OperationOutcome");
  w.Key("issue");
  w.StartArray();
  for (const fhir::Issue& issue : status.issues()) {
    w.StartObject();
    w.Key("severity");
    std::string_view severity = fhir::SeverityCode(issue.severity);
    w.String(severity.data(), static_cast<rapidjson::SizeType>(severity.size()));
    w.Key("code");
    std::string_view code = fhir::IssueTypeCode(issue.type);
    w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
    if (!issue.diagnostics.empty()) {
      std::string text = SanitizeUtf8(issue.diagnostics);
      w.Key("diagnostics");
      w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    }
    if (!issue.expression.empty()) {
      std::string text = SanitizeUtf8(issue.expression);
      w.Key("expression");
      w.StartArray();
      w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

RestResponse ErrorResponse(const fhir::Status& status) {
  RestResponse r;
  r.status = HttpStatusFor(status.type());
  r.body = OperationOutcomeOf(status);
  return r;
}

RestResponse ErrorResponse(int http_status, fhir::IssueType type, std::string diagnostics,
                           std::string expression) {
  RestResponse r;
  r.status = http_status;
  r.body = OperationOutcomeOf(fhir::Status(type, std::move(diagnostics), std::move(expression)));
  return r;
}

}  // namespace server
