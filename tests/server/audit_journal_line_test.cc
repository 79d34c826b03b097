#include "server/audit/journal_line.h"

#include <chrono>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "server/audit/audit.h"
#include "server/auth/principal.h"

namespace server {
namespace {

const audit::Source kSource{"http://test/fhir", "fhir-server"};

// The AuditEvent built from a decoded line is the one built from the event itself.
void CheckRoundTrip(const audit::Event& e, const std::vector<std::string>& patients) {
  const std::string line =
      audit::EncodeJournalLine(e, patients, "ae-1", "2024-06-01T12:00:01.000Z");
  CAPTURE(line);
  CHECK(line.find('\n') == std::string::npos);  // one line of a journal record
  auto decoded = audit::DecodeJournalLine(line);
  REQUIRE(decoded.has_value());
  CHECK(decoded->id == "ae-1");
  CHECK(decoded->last_updated == "2024-06-01T12:00:01.000Z");
  CHECK(decoded->patients == patients);
  CHECK(audit::AuditEventJson(decoded->event, kSource, decoded->patients, decoded->id,
                              decoded->last_updated) ==
        audit::AuditEventJson(e, kSource, patients, "ae-1", "2024-06-01T12:00:01.000Z"));
}

TEST_CASE("audit journal line: every part of the AuditEvent survives the compact line") {
  audit::Event read;
  read.recorded = std::chrono::system_clock::time_point(std::chrono::milliseconds(1717243200123));
  read.method = "GET";
  read.segments = {"Immunization", "im1"};
  read.status = 200;
  read.body = R"({"resourceType":"Immunization","id":"im1"})";
  auto principal = std::make_shared<auth::Principal>();
  principal->subject = "dr-9";
  principal->issuer = "https://issuer.test";
  principal->fhir_user = "Practitioner/9";
  principal->purpose_of_use = "TREAT";
  read.principal = principal;
  read.basis.consent = "Consent/c1";
  CheckRoundTrip(read, {"p1", "p2"});
  // The body of a success is not kept: the AuditEvent does not show it.
  auto decoded = audit::DecodeJournalLine(audit::EncodeJournalLine(read, {}, "x", "y"));
  REQUIRE(decoded.has_value());
  CHECK(decoded->event.body.empty());

  audit::Event search;
  search.recorded = std::chrono::system_clock::now();
  search.method = "POST";
  search.segments = {"Observation", "_search"};
  search.params = {{"code", "x,y"}, {"subject:Patient", "p\"1\t\\"}};
  search.status = 200;
  CheckRoundTrip(search, {"p\"1\t\\"});

  audit::Event refused;
  refused.recorded = std::chrono::system_clock::now();
  refused.method = "DELETE";
  refused.segments = {"Condition", "c1"};
  refused.status = 403;
  refused.body = R"({"resourceType":"OperationOutcome","issue":[{"severity":"error",)"
                 R"("code":"forbidden","diagnostics":"no Consent"}]})";
  refused.auth_failed = false;
  auto emergency = std::make_shared<auth::Principal>(*principal);
  emergency->purpose_of_use = "ETREAT";
  refused.principal = emergency;
  refused.basis = audit::AccessBasis{"", true, "break-the-glass"};
  CheckRoundTrip(refused, {});
  CHECK(audit::DecodeJournalLine(audit::EncodeJournalLine(refused, {}, "x", "y"))->event.body ==
        refused.body);

  audit::Event unauthenticated;
  unauthenticated.method = "POST";
  unauthenticated.bundle_type = "transaction";
  unauthenticated.status = 401;
  unauthenticated.auth_failed = true;
  unauthenticated.location = "Patient/p9/_history/1";
  CheckRoundTrip(unauthenticated, {});

  audit::Event capabilities;
  capabilities.method = "GET";
  capabilities.segments = {"metadata"};
  capabilities.capabilities = true;
  capabilities.status = 200;
  CheckRoundTrip(capabilities, {});
}

TEST_CASE("audit journal line: anything else is refused") {
  audit::Event e;
  e.method = "GET";
  const std::string line = audit::EncodeJournalLine(e, {}, "id", "t");
  REQUIRE(audit::DecodeJournalLine(line).has_value());
  CHECK_FALSE(audit::DecodeJournalLine("").has_value());
  CHECK_FALSE(audit::DecodeJournalLine("[").has_value());
  CHECK_FALSE(audit::DecodeJournalLine("{}").has_value());
  CHECK_FALSE(audit::DecodeJournalLine("id\t2024\t{}").has_value());
  CHECK_FALSE(audit::DecodeJournalLine("[2" + line.substr(2)).has_value());  // another layout
  std::string wrong_type = line;
  wrong_type.replace(wrong_type.find("\"GET\""), 5, "7");
  CHECK_FALSE(audit::DecodeJournalLine(wrong_type).has_value());
  CHECK_FALSE(audit::DecodeJournalLine(line.substr(0, line.size() - 1)).has_value());
}

}  // namespace
}  // namespace server
