#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/base/status.h"
#include "fhir/r4/consent.h"
#include "fhir/r4/resource.h"
#include "server/auth/consent.h"
#include "server/auth/principal.h"
#include "storage/search_query.h"
#include "storage/store.h"

namespace server::auth {

// Who sees what (issue 5), for one request, on top of the scope check (access.h):
//   - no principal (authentication off) or a system/ scope: everything the scopes allow;
//   - a resident (a patient/ scope, or a user/ scope of a Patient fhirUser): only the R4
//     Patient compartment of Principal::PatientContext() (and the Patient itself);
//   - a practitioner (a user/ scope of any other fhirUser): resources in no Patient
//     compartment, and a resident's compartment where that resident's Consents permit
//     (consent.h) or the emergency rule applies.
// Consents and PractitionerRoles are read from the store for each request (no cache), so a
// revoked Consent takes effect on the very next request.
class AccessControl {
 public:
  // `principal` null: no restriction. `txn`, when set, is read instead of the store.
  AccessControl(const Principal* principal, storage::Store& store, storage::WriteTransaction* txn,
                std::int64_t now_ms);

  enum class Mode { kUnrestricted, kResident, kPractitioner };
  Mode ModeFor(std::string_view type, Interaction interaction) const;

  struct Verdict {
    bool allowed = true;
    bool emergency = false;   // allowed by the emergency rule
    std::string consent;      // "Consent/1" when a Consent allowed it
    std::string diagnostics;  // why not
  };
  // May `interaction` touch `resource` (its current content, or the content being written)?
  fhir::Result<Verdict> Decide(const fhir::Resource& resource, Interaction interaction);
  // The same for a stored version's JSON.
  fhir::Result<Verdict> DecideStored(const storage::StoredVersion& v, Interaction interaction);
  // The same for the current version `v` of a resource (read, and writes over it): a resident
  // is answered by one indexed store query instead of parsing the resource.
  fhir::Result<Verdict> DecideCurrent(const storage::StoredVersion& v, Interaction interaction);

  // The access filters for a search over `types` (empty: every type), nested chained and _has
  // types included: nullopt when nothing is restricted.
  fhir::Result<std::optional<std::vector<storage::CompartmentFilter>>> SearchFilters(
      const std::set<std::string>& types);

  // What the request's accesses rested on so far: the Consents used, and whether the
  // emergency rule was.
  bool emergency_used() const { return emergency_used_; }
  const std::set<std::string>& consents_used() const { return consents_used_; }

 private:
  // The Patient ids whose compartment holds `resource` (itself when it is a Patient).
  static std::vector<std::string> Owners(const fhir::Resource& resource);
  fhir::Result<std::vector<storage::StoredVersion>> Find(std::string_view type,
                                                         const std::vector<std::pair<std::string, std::string>>& params);
  fhir::Status LoadActor();
  // The in-force Consents of every resident (patient id -> Consents), all loaded once.
  fhir::Status LoadAllConsents();
  fhir::Status LoadConsentsOf(const std::string& patient_id);
  std::vector<const fhir::Consent*> ConsentsOf(const std::string& patient_id) const;
  bool EmergencyAllowed(std::string_view type, Interaction interaction) const;

  const Principal* principal_;
  storage::Store& store_;
  storage::WriteTransaction* txn_;
  std::int64_t now_ms_;
  std::optional<ConsentActor> actor_;
  std::map<std::string, std::vector<std::unique_ptr<fhir::Consent>>> consents_;  // by patient
  bool all_consents_loaded_ = false;
  bool emergency_used_ = false;
  std::set<std::string> consents_used_;
};

// The resource JSON with `meta.security` gaining the Coding (system, code).
std::string WithSecurityLabel(std::string_view json, std::string_view system,
                              std::string_view code);
// A Bundle's JSON (as BundleWriter makes it) with Bundle.meta.security REDACTED
// (http://terminology.hl7.org/CodeSystem/v3-ObservationValue).
std::string MarkRedacted(std::string bundle_json);

inline constexpr char kActReasonSystem[] = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
inline constexpr char kObservationValueSystem[] =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";

}  // namespace server::auth
