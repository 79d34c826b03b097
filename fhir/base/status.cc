#include "fhir/base/status.h"

namespace fhir {

std::string_view IssueTypeCode(IssueType type) {
  switch (type) {
    case IssueType::kInvalid: return "invalid";
    case IssueType::kStructure: return "structure";
    case IssueType::kRequired: return "required";
    case IssueType::kValue: return "value";
    case IssueType::kInvariant: return "invariant";
    case IssueType::kSecurity: return "security";
    case IssueType::kLogin: return "login";
    case IssueType::kForbidden: return "forbidden";
    case IssueType::kProcessing: return "processing";
    case IssueType::kNotSupported: return "not-supported";
    case IssueType::kDuplicate: return "duplicate";
    case IssueType::kMultipleMatches: return "multiple-matches";
    case IssueType::kNotFound: return "not-found";
    case IssueType::kDeleted: return "deleted";
    case IssueType::kTooLong: return "too-long";
    case IssueType::kCodeInvalid: return "code-invalid";
    case IssueType::kExtension: return "extension";
    case IssueType::kTooCostly: return "too-costly";
    case IssueType::kBusinessRule: return "business-rule";
    case IssueType::kConflict: return "conflict";
    case IssueType::kTransient: return "transient";
    case IssueType::kException: return "exception";
    case IssueType::kInformational: return "informational";
  }
  return "processing";
}

std::string_view SeverityCode(Severity severity) {
  switch (severity) {
    case Severity::kFatal: return "fatal";
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kInformation: return "information";
  }
  return "error";
}

Status::Status(IssueType type, std::string diagnostics, std::string expression)
    : issues_{Issue{Severity::kError, type, std::move(diagnostics), std::move(expression)}} {}

Status::Status(std::vector<Issue> issues) : issues_(std::move(issues)) {}

namespace {
const std::string& EmptyString() {
  static const std::string* empty = new std::string();
  return *empty;
}
}  // namespace

IssueType Status::type() const { return ok() ? IssueType::kInformational : issues_[0].type; }

const std::string& Status::diagnostics() const {
  return ok() ? EmptyString() : issues_[0].diagnostics;
}

const std::string& Status::expression() const {
  return ok() ? EmptyString() : issues_[0].expression;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out;
  for (const Issue& issue : issues_) {
    if (!out.empty()) out += "; ";
    out += IssueTypeCode(issue.type);
    out += ": ";
    out += issue.diagnostics;
    if (!issue.expression.empty()) out += " (at " + issue.expression + ")";
  }
  return out;
}

}  // namespace fhir
