#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fhir/r4/consent.h"

namespace server::auth {

// The Consent decision engine (issue 5): may this practitioner see this resident's data?
// Pure: the caller loads the resident's Consents, the practitioner's Organizations (through
// PractitionerRole) and the clock; nothing here touches the store.
//
// A Consent counts when `status` is active, `scope` has patient-privacy
// (http://terminology.hl7.org/CodeSystem/consentscope) and `patient` names the resident.
// Its base provision must be of type permit. A provision applies when every condition it
// states holds (none stated: it holds):
//   actor           one actor.reference is the practitioner or one of its Organizations
//   period          `now` lies within it
//   purpose         one code is the token's purpose of use
//   class           one Coding of http://hl7.org/fhir/resource-types is the resource type
//   data            one data.reference is the resource (Type/id)
//   securityLabel   the resource carries one of the labels (system and code)
//   code, dataPeriod  cannot be checked here: never grant, and a deny with them counts as
//                   applying (fail closed)
// A nested provision that applies overrides its parent (deny wins among siblings); a nested
// provision without `type` takes its parent's. A permit grants only when an actor matched on
// the path to it: a Consent naming nobody grants nobody.
// Across Consents, deny wins: a deny provision (of any Consent of the resident) that applies
// refuses the access even when another Consent permits it.
// Type-level questions (a search: no id and no labels) get a permit only when it holds for
// every resource of the type: a permit that needs `data` or `securityLabel` does not count,
// and a deny that might apply does.

inline constexpr char kConsentScopeSystem[] = "http://terminology.hl7.org/CodeSystem/consentscope";
inline constexpr char kResourceTypesSystem[] = "http://hl7.org/fhir/resource-types";

// Who asks: references as a Consent's actor spells them.
struct ConsentActor {
  std::string practitioner;  // the user: "Practitioner/9" (or "RelatedPerson/5"; "" when none)
  std::vector<std::string> organizations;  // "Organization/o1", via PractitionerRole
};

struct ConsentQuery {
  std::string patient_id;  // the resident whose data is asked for
  ConsentActor actor;
  std::string resource_type;
  std::string resource_id;  // "" for a type-level question (search)
  // The resource's meta.security labels (system, code); nullopt for a type-level question.
  std::optional<std::vector<std::pair<std::string, std::string>>> security_labels;
  std::string purpose = "TREAT";  // the token's purpose of use
  std::int64_t now_ms = 0;        // ms since the epoch
  // True when the token may use the emergency rule: purpose ETREAT with a user/ scope that
  // allows the interaction on the type.
  bool emergency_allowed = false;
};

struct ConsentDecision {
  bool permitted = false;
  bool emergency = false;  // permitted by the emergency rule, without Consent
  // "Consent/id": the Consent that permitted, or whose deny provision refused.
  std::string consent;
  std::string reason;  // why, in words, for OperationOutcomes and audit
};

// Whether `consent` counts at all for `patient_id`: active, patient-privacy, that patient.
bool ConsentInForce(const fhir::Consent& consent, const std::string& patient_id);

// The decision for `query` under the resident's Consents (others' are ignored).
ConsentDecision DecideConsent(const ConsentQuery& query,
                              const std::vector<const fhir::Consent*>& consents);

}  // namespace server::auth
