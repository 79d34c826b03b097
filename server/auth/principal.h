#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace server::auth {

// The interactions a scope can allow (http://hl7.org/fhir/R4/http.html). History is split by
// level because SMART v2 grants instance history with `r` and type history with `s`.
enum class Interaction {
  kRead,
  kVread,
  kHistoryInstance,
  kHistoryType,  // [base]/Type/_history, and [base]/_history with Type "*"
  kSearch,
  kCreate,
  kUpdate,
  kPatch,
  kDelete,
};

// The code used in messages and in the HTTP tests ("read", "history-instance", ...), as the
// CapabilityStatement's TypeRestfulInteraction spells it.
std::string_view InteractionCode(Interaction interaction);

// The SMART v2 permission letter an interaction needs: c r u d s.
enum Permission : uint8_t {
  kPermCreate = 1 << 0,
  kPermRead = 1 << 1,
  kPermUpdate = 1 << 2,
  kPermDelete = 1 << 3,
  kPermSearch = 1 << 4,
};
uint8_t RequiredPermission(Interaction interaction);

// Whose data a scope reaches: patient/ = the patient in context (launch `patient` claim or a
// Patient fhirUser), user/ = what the user may see, system/ = a backend service.
enum class ScopeContext { kPatient, kUser, kSystem };

// One SMART resource scope (http://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).
//   v1: patient/Immunization.read (r s), user/*.write (c u d), patient/*.* (c r u d s)
//   v2: patient/Condition.rs, system/*.cruds: letters from c r u d s, each at most once, in
//       that order.
struct Scope {
  ScopeContext context = ScopeContext::kPatient;
  std::string resource_type;  // "Observation", or "*" for every type
  uint8_t permissions = 0;    // Permission bits
  std::string text;           // as the token spelled it
};

// Parses one scope. Returns nullopt for scopes that grant no resource access: the non-resource
// SMART scopes (openid, fhirUser, launch, launch/patient, offline_access, online_access), any
// malformed scope, and v2 scopes with query parameters (patient/Observation.rs?category=...),
// which this server cannot enforce yet and so does not honour (fail closed).
std::optional<Scope> ParseScope(std::string_view text);

// Splits a space-separated `scope` claim (RFC 8693 / SMART) and keeps the resource scopes.
std::vector<Scope> ParseScopes(std::string_view scope_claim);

// Who is calling, from a verified token. The Consent, compartment and audit layers build on
// this: `PatientContext()` names the resident whose compartment patient/ scopes reach,
// `practitioner_id()` the practitioner whose Consents apply, `IsEmergency()` the break-glass
// purpose.
struct Principal {
  std::string subject;  // `sub`
  std::string issuer;   // `iss` ("" when absent)
  std::string client_id;  // `client_id` or `azp`, when present
  std::vector<Scope> scopes;
  std::string scope_text;  // the `scope` claim as sent
  // `fhirUser`, reduced to "Type/id" (an absolute URL keeps its last two segments), and split.
  std::string fhir_user;
  std::string fhir_user_type;  // "Patient", "Practitioner", "RelatedPerson", "Person", ""
  std::string fhir_user_id;
  std::string patient;  // `patient` launch context: a Patient id ("" when absent)
  // `purpose_of_use`: a v3 ActReason code (TREAT, ETREAT, HPAYMT, ...). TREAT when absent.
  std::string purpose_of_use = "TREAT";
  int64_t expires_at = 0;  // `exp`, seconds since the epoch

  bool IsEmergency() const { return purpose_of_use == "ETREAT"; }
  // The Patient id patient/ scopes refer to: the `patient` claim, else fhirUser's id when
  // fhirUser is a Patient; nullopt when neither says.
  std::optional<std::string> PatientContext() const;
  // fhirUser's id when it is a Practitioner.
  std::optional<std::string> practitioner_id() const;
};

// The scope decision for one interaction on one resource type (`resource_type` "*" asks for a
// scope on every type, as [base]/_history needs). `allowed` is true when any scope grants the
// interaction's permission on that type; the `via_*` flags say which scope contexts granted it,
// so the compartment and Consent layers can narrow patient/ and user/ access.
struct ScopeDecision {
  bool allowed = false;
  bool via_patient = false;
  bool via_user = false;
  bool via_system = false;
};
ScopeDecision DecideScopes(const Principal& principal, std::string_view resource_type,
                           Interaction interaction);

}  // namespace server::auth
