#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fhir {

// The R4 issue-type codes (http://hl7.org/fhir/R4/valueset-issue-type.html) that the server
// reports. Only server/ maps them to HTTP status codes.
enum class IssueType {
  kInvalid,
  kStructure,
  kRequired,
  kValue,
  kInvariant,
  kSecurity,
  kLogin,
  kForbidden,
  kProcessing,
  kNotSupported,
  kDuplicate,
  kMultipleMatches,
  kNotFound,
  kDeleted,
  kTooLong,
  kCodeInvalid,
  kExtension,
  kTooCostly,
  kBusinessRule,
  kConflict,
  kTransient,
  kException,
  kInformational,
};

// The R4 issue-severity codes.
enum class Severity { kFatal, kError, kWarning, kInformation };

// The code of `type` as OperationOutcome.issue.code spells it ("structure", "not-found", ...).
std::string_view IssueTypeCode(IssueType type);
std::string_view SeverityCode(Severity severity);

// One OperationOutcome.issue: what is wrong and where (a FHIRPath-like expression such as
// `Patient.contact[0].telecom[1].value`; empty when the issue concerns the whole input).
struct Issue {
  Severity severity = Severity::kError;
  IssueType type = IssueType::kProcessing;
  std::string diagnostics;
  std::string expression;
};

// "Could not finish": ok, or one or more issues of which at least one is an error.
// The first issue decides type(), diagnostics() and expression().
class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(IssueType type, std::string diagnostics, std::string expression = {});
  explicit Status(std::vector<Issue> issues);

  static Status Ok() { return Status(); }

  bool ok() const { return issues_.empty(); }
  IssueType type() const;
  const std::string& diagnostics() const;
  const std::string& expression() const;
  const std::vector<Issue>& issues() const { return issues_; }

  // "type: diagnostics (at expression)"; for logs and test failure messages.
  std::string ToString() const;

 private:
  std::vector<Issue> issues_;
};

// A value of type T, or the Status that says why there is none (like absl::StatusOr).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

#define FHIR_STATUS_CONCAT_INNER(a, b) a##b
#define FHIR_STATUS_CONCAT(a, b) FHIR_STATUS_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the calling function unless it is ok.
#define FHIR_RETURN_IF_ERROR(expr)        \
  do {                                    \
    ::fhir::Status fhir_status_ = (expr); \
    if (!fhir_status_.ok()) return fhir_status_; \
  } while (false)

// `lhs = value of expr`, or returns its Status from the calling function.
#define FHIR_ASSIGN_OR_RETURN(lhs, expr) \
  FHIR_ASSIGN_OR_RETURN_IMPL(FHIR_STATUS_CONCAT(fhir_result_, __LINE__), lhs, expr)
#define FHIR_ASSIGN_OR_RETURN_IMPL(result, lhs, expr) \
  auto result = (expr);                               \
  if (!result.ok()) return result.status();           \
  lhs = std::move(result).value()

}  // namespace fhir
