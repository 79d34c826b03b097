#include "fhir/base/status.h"

#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

namespace fhir {
namespace {

TEST_CASE("a default Status is ok and has no issues") {
  Status status;
  CHECK(status.ok());
  CHECK(status.issues().empty());
  CHECK(status.diagnostics() == "");
  CHECK(status.expression() == "");
  CHECK(status.type() == IssueType::kInformational);
  CHECK(status.ToString() == "ok");
  CHECK(Status::Ok().ok());
  CHECK(Status::Ok().issues().empty());
}

TEST_CASE("Status(type, diagnostics, expression) holds one error issue") {
  Status status(IssueType::kNotFound, "Patient/1 is not known", "Patient.id");
  CHECK_FALSE(status.ok());
  CHECK(status.type() == IssueType::kNotFound);
  CHECK(status.diagnostics() == "Patient/1 is not known");
  CHECK(status.expression() == "Patient.id");
  REQUIRE(status.issues().size() == 1);
  const Issue& issue = status.issues()[0];
  CHECK(issue.severity == Severity::kError);
  CHECK(issue.type == IssueType::kNotFound);
  CHECK(issue.diagnostics == "Patient/1 is not known");
  CHECK(issue.expression == "Patient.id");
  CHECK(status.ToString() == "not-found: Patient/1 is not known (at Patient.id)");
}

TEST_CASE("Status without an expression has an empty one and ToString omits it") {
  Status status(IssueType::kException, "disk full");
  CHECK_FALSE(status.ok());
  CHECK(status.expression() == "");
  CHECK(status.ToString() == "exception: disk full");
}

TEST_CASE("Status of several issues: the first decides type, diagnostics and expression") {
  Status status(std::vector<Issue>{
      {Severity::kError, IssueType::kValue, "bad date", "Patient.birthDate"},
      {Severity::kError, IssueType::kStructure, "unknown element", "Patient.foo"},
      {Severity::kWarning, IssueType::kInformational, "note", ""},
  });
  CHECK_FALSE(status.ok());
  CHECK(status.type() == IssueType::kValue);
  CHECK(status.diagnostics() == "bad date");
  CHECK(status.expression() == "Patient.birthDate");
  REQUIRE(status.issues().size() == 3);
  CHECK(status.issues()[1].type == IssueType::kStructure);
  CHECK(status.issues()[1].expression == "Patient.foo");
  CHECK(status.issues()[2].severity == Severity::kWarning);
  CHECK(status.ToString() ==
        "value: bad date (at Patient.birthDate); structure: unknown element (at Patient.foo); "
        "informational: note");
}

TEST_CASE("Status of an empty issue list is ok") {
  Status status(std::vector<Issue>{});
  CHECK(status.ok());
  CHECK(status.ToString() == "ok");
}

TEST_CASE("a default Issue is a processing error") {
  Issue issue;
  CHECK(issue.severity == Severity::kError);
  CHECK(issue.type == IssueType::kProcessing);
  CHECK(issue.diagnostics.empty());
  CHECK(issue.expression.empty());
}

TEST_CASE("IssueTypeCode spells every enumerator as the R4 issue-type code") {
  struct Case {
    IssueType type;
    std::string_view code;
  };
  // clang-format off
  const Case cases[] = {
      {IssueType::kInvalid, "invalid"},
      {IssueType::kStructure, "structure"},
      {IssueType::kRequired, "required"},
      {IssueType::kValue, "value"},
      {IssueType::kInvariant, "invariant"},
      {IssueType::kSecurity, "security"},
      {IssueType::kLogin, "login"},
      {IssueType::kForbidden, "forbidden"},
      {IssueType::kProcessing, "processing"},
      {IssueType::kNotSupported, "not-supported"},
      {IssueType::kDuplicate, "duplicate"},
      {IssueType::kMultipleMatches, "multiple-matches"},
      {IssueType::kNotFound, "not-found"},
      {IssueType::kDeleted, "deleted"},
      {IssueType::kTooLong, "too-long"},
      {IssueType::kCodeInvalid, "code-invalid"},
      {IssueType::kExtension, "extension"},
      {IssueType::kTooCostly, "too-costly"},
      {IssueType::kBusinessRule, "business-rule"},
      {IssueType::kConflict, "conflict"},
      {IssueType::kTransient, "transient"},
      {IssueType::kException, "exception"},
      {IssueType::kInformational, "informational"},
  };
  // clang-format on
  // Every enumerator is listed: they are consecutive from kInvalid to kInformational.
  CHECK(std::size(cases) == static_cast<std::size_t>(IssueType::kInformational) + 1);
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    CAPTURE(i);
    CHECK(static_cast<std::size_t>(cases[i].type) == i);
    CHECK(IssueTypeCode(cases[i].type) == cases[i].code);
  }
}

TEST_CASE("SeverityCode spells every enumerator as the R4 issue-severity code") {
  CHECK(SeverityCode(Severity::kFatal) == "fatal");
  CHECK(SeverityCode(Severity::kError) == "error");
  CHECK(SeverityCode(Severity::kWarning) == "warning");
  CHECK(SeverityCode(Severity::kInformation) == "information");
}

TEST_CASE("Result holds a value or a Status") {
  Result<int> value(42);
  CHECK(value.ok());
  CHECK(value.status().ok());
  CHECK(value.value() == 42);
  CHECK(*value == 42);

  Result<int> error(Status(IssueType::kNotFound, "gone", "Patient.id"));
  CHECK_FALSE(error.ok());
  CHECK(error.status().type() == IssueType::kNotFound);
  CHECK(error.status().diagnostics() == "gone");
  CHECK(error.status().expression() == "Patient.id");

  Result<std::string> text(std::string("abc"));
  REQUIRE(text.ok());
  CHECK(text->size() == 3);
  text.value() += "d";
  CHECK(*text == "abcd");
  std::string moved = std::move(text).value();
  CHECK(moved == "abcd");
}

TEST_CASE("Result holds a move-only value") {
  Result<std::unique_ptr<int>> result(std::make_unique<int>(7));
  REQUIRE(result.ok());
  REQUIRE(result.value() != nullptr);
  CHECK(*result.value() == 7);
  std::unique_ptr<int> taken = std::move(result).value();
  REQUIRE(taken != nullptr);
  CHECK(*taken == 7);
}

// --- the macros --------------------------------------------------------------------------------

int g_calls = 0;

Status Succeed() {
  ++g_calls;
  return Status::Ok();
}

Status Fail(IssueType type) {
  ++g_calls;
  return Status(type, "failed", "X.y");
}

Result<int> Number(int n) {
  ++g_calls;
  if (n < 0) return Status(IssueType::kValue, "negative", "n");
  return n;
}

Result<std::unique_ptr<int>> Pointer(int n) {
  if (n < 0) return Status(IssueType::kValue, "negative pointer", "p");
  return std::make_unique<int>(n);
}

// Runs `first` then `second`; reaches the end only if both are ok.
Status TwoSteps(bool first_ok, bool second_ok, bool* reached_end) {
  *reached_end = false;
  FHIR_RETURN_IF_ERROR(first_ok ? Succeed() : Fail(IssueType::kStructure));
  FHIR_RETURN_IF_ERROR(second_ok ? Succeed() : Fail(IssueType::kRequired));
  *reached_end = true;
  return Status::Ok();
}

// Adds two Results with FHIR_ASSIGN_OR_RETURN (twice in one function: distinct temporaries).
Result<int> Sum(int a, int b) {
  FHIR_ASSIGN_OR_RETURN(int x, Number(a));
  FHIR_ASSIGN_OR_RETURN(int y, Number(b));
  return x + y;
}

Status Deref(int n, int* out) {
  std::unique_ptr<int> p;
  FHIR_ASSIGN_OR_RETURN(p, Pointer(n));  // assigns to an existing variable, moving
  *out = *p;
  return Status::Ok();
}

Result<int> StatusInResult(bool fail) {
  FHIR_RETURN_IF_ERROR(fail ? Fail(IssueType::kConflict) : Succeed());
  return 1;
}

TEST_CASE("FHIR_RETURN_IF_ERROR returns the first error and evaluates each expression once") {
  struct Case {
    bool first_ok;
    bool second_ok;
    bool ok;
    IssueType type;
    int calls;
    bool reached_end;
  };
  // clang-format off
  const Case cases[] = {
      {true, true, true, IssueType::kInformational, 2, true},
      {false, true, false, IssueType::kStructure, 1, false},
      {true, false, false, IssueType::kRequired, 2, false},
      {false, false, false, IssueType::kStructure, 1, false},
  };
  // clang-format on
  for (const Case& c : cases) {
    CAPTURE(c.first_ok);
    CAPTURE(c.second_ok);
    g_calls = 0;
    bool reached_end = true;
    Status status = TwoSteps(c.first_ok, c.second_ok, &reached_end);
    CHECK(status.ok() == c.ok);
    CHECK(status.type() == c.type);
    CHECK(g_calls == c.calls);
    CHECK(reached_end == c.reached_end);
    if (!c.ok) {
      CHECK(status.diagnostics() == "failed");
      CHECK(status.expression() == "X.y");
    }
  }
}

TEST_CASE("FHIR_RETURN_IF_ERROR works in a function returning Result") {
  Result<int> ok = StatusInResult(false);
  REQUIRE(ok.ok());
  CHECK(ok.value() == 1);
  Result<int> failed = StatusInResult(true);
  CHECK_FALSE(failed.ok());
  CHECK(failed.status().type() == IssueType::kConflict);
}

TEST_CASE("FHIR_ASSIGN_OR_RETURN assigns the value or returns the Status") {
  g_calls = 0;
  Result<int> sum = Sum(2, 3);
  REQUIRE(sum.ok());
  CHECK(sum.value() == 5);
  CHECK(g_calls == 2);

  g_calls = 0;
  Result<int> first_fails = Sum(-1, 3);
  CHECK_FALSE(first_fails.ok());
  CHECK(first_fails.status().type() == IssueType::kValue);
  CHECK(first_fails.status().diagnostics() == "negative");
  CHECK(first_fails.status().expression() == "n");
  CHECK(g_calls == 1);  // the second Number() never ran

  g_calls = 0;
  Result<int> second_fails = Sum(1, -3);
  CHECK_FALSE(second_fails.ok());
  CHECK(g_calls == 2);

  int out = 0;
  CHECK(Deref(9, &out).ok());
  CHECK(out == 9);
  out = 0;
  Status failed = Deref(-9, &out);
  CHECK_FALSE(failed.ok());
  CHECK(failed.diagnostics() == "negative pointer");
  CHECK(out == 0);
}

}  // namespace
}  // namespace fhir
