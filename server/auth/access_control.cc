#include "server/auth/access_control.h"

#include <algorithm>
#include <utility>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fhir/base/primitive_format.h"
#include "fhir/json/parser.h"
#include "fhir/r4/practitioner_role.h"
#include "fhir/fhirpath/fhirpath.h"
#include "fhir/model/registry.h"
#include "fhir/search/normalize.h"
#include "fhir/search/search_registry.h"
#include "fhir/search/search_parameter.h"
#include "server/search/search_parser.h"

namespace server::auth {
namespace {

constexpr std::string_view kPatient = "Patient";
// An AuditEvent in no resident's record is no public resource: it tells who did what (a
// search's query names the resident and what was looked for). Practitioners do not see those.
constexpr std::string_view kAuditEvent = "AuditEvent";

// (type, code) of every parameter that puts a resource of `type` in a Patient compartment.
void AddTypeParams(std::string_view type,
                   std::vector<std::pair<std::string, std::string>>& out) {
  const fhir::CompartmentMember* member = fhir::search::FindCompartmentMember(kPatient, type);
  if (member == nullptr) return;
  for (std::string_view param : member->params) out.emplace_back(type, param);
}

// Every resource type with members in the Patient compartment, plus Patient.
std::set<std::string> CompartmentTypes() {
  std::set<std::string> out{std::string(kPatient)};
  for (const fhir::CompartmentDef& def : fhir::AllCompartments()) {
    if (def.code != kPatient) continue;
    for (const fhir::CompartmentMember& member : def.members) out.emplace(member.type);
  }
  return out;
}

std::string ReferenceTarget(const fhir::Reference& reference, std::string_view type) {
  if (!reference.reference.value) return {};
  std::string_view ref = *reference.reference.value;
  if (std::size_t h = ref.find("/_history/"); h != std::string_view::npos) ref = ref.substr(0, h);
  std::size_t slash = ref.rfind('/');
  if (slash == std::string_view::npos) return {};
  std::string_view head = ref.substr(0, slash);
  if (!(head == type || head.ends_with("/" + std::string(type)))) return {};
  return std::string(ref.substr(slash + 1));
}

// Whether `now_ms` lies within `period` (a missing bound is open; an unreadable one excludes).
bool InPeriod(const fhir::Period& period, std::int64_t now_ms) {
  if (period.start.value) {
    auto range = fhir::search::DateRange(*period.start.value);
    if (!range || now_ms < range->low) return false;
  }
  if (period.end.value) {
    auto range = fhir::search::DateRange(*period.end.value);
    if (!range || now_ms > range->high) return false;
  }
  return true;
}

}  // namespace

AccessControl::AccessControl(const Principal* principal, storage::Store& store,
                             storage::WriteTransaction* txn, std::int64_t now_ms)
    : principal_(principal), store_(store), txn_(txn), now_ms_(now_ms) {}

AccessControl::Mode AccessControl::ModeFor(std::string_view type, Interaction interaction) const {
  if (principal_ == nullptr) return Mode::kUnrestricted;
  ScopeDecision d = DecideScopes(*principal_, type, interaction);
  if (d.via_system) return Mode::kUnrestricted;
  if (d.via_user && principal_->fhir_user_type != kPatient) return Mode::kPractitioner;
  if (!d.allowed && !principal_->PatientContext() && principal_->fhir_user_type != kPatient) {
    return Mode::kPractitioner;
  }
  return Mode::kResident;
}

bool AccessControl::EmergencyAllowed(std::string_view type, Interaction interaction) const {
  // Breaking the glass lets a practitioner read: updating, patching or deleting existing data
  // still needs a Consent (creating new data never does).
  const bool reading = interaction == Interaction::kRead || interaction == Interaction::kVread ||
                       interaction == Interaction::kHistoryInstance ||
                       interaction == Interaction::kHistoryType ||
                       interaction == Interaction::kSearch;
  return reading && principal_ != nullptr && principal_->IsEmergency() &&
         DecideScopes(*principal_, type, interaction).via_user;
}

std::vector<std::string> AccessControl::Owners(const fhir::Resource& resource) {
  std::vector<std::string> owners;
  const std::string_view type = resource.type_info().name;
  if (type == kPatient) owners.push_back(resource.id);
  const fhir::CompartmentMember* member = fhir::search::FindCompartmentMember(kPatient, type);
  if (member == nullptr) return owners;
  // Only the compartment's parameters are evaluated (as the indexer does for them).
  for (std::string_view code : member->params) {
    const fhir::search::BoundParam* param = fhir::search::SearchRegistry::Get().Find(type, code);
    if (param == nullptr || param->parsed == nullptr) continue;
    auto values = fhir::fhirpath::Evaluate(*param->parsed, resource);
    if (!values.ok()) continue;
    for (const fhir::fhirpath::Value& value : *values) {
      std::string id;
      if (value.kind() == fhir::fhirpath::Value::Kind::kElement && value.type() != nullptr &&
          value.type()->name == "Reference" && value.object() != nullptr) {
        id = ReferenceTarget(*static_cast<const fhir::Reference*>(value.object()), kPatient);
      } else if (value.kind() == fhir::fhirpath::Value::Kind::kString) {
        fhir::Reference reference;
        reference.reference.value = value.text();
        id = ReferenceTarget(reference, kPatient);
      }
      if (!id.empty() && std::find(owners.begin(), owners.end(), id) == owners.end()) {
        owners.push_back(std::move(id));
      }
    }
  }
  return owners;
}

fhir::Result<std::vector<storage::StoredVersion>> AccessControl::Find(
    std::string_view type, const std::vector<std::pair<std::string, std::string>>& params) {
  FHIR_ASSIGN_OR_RETURN(search::ParsedSearch parsed,
                        search::ParseSearch(type, params, /*strict=*/true));
  parsed.query.limit = 0;
  FHIR_ASSIGN_OR_RETURN(storage::SearchPage page, txn_ != nullptr
                                                      ? txn_->Search(parsed.query, false)
                                                      : store_.Search(parsed.query, false));
  return std::move(page.versions);
}

fhir::Status AccessControl::LoadActor() {
  if (actor_) return fhir::Status::Ok();
  ConsentActor actor;
  // Another kind of user (RelatedPerson/5) is matched as itself; only a Practitioner has
  // Organizations through PractitionerRole.
  if (principal_->fhir_user_type != "Practitioner" && !principal_->fhir_user_type.empty() &&
      fhir::IsValidId(principal_->fhir_user_id)) {
    actor.practitioner = principal_->fhir_user_type + "/" + principal_->fhir_user_id;
  }
  std::optional<std::string> id = principal_->practitioner_id();
  // An id that is no FHIR id ("7,8") must not become a search value that matches others.
  if (id && fhir::IsValidId(*id)) {
    actor.practitioner = "Practitioner/" + *id;
    FHIR_ASSIGN_OR_RETURN(std::vector<storage::StoredVersion> roles,
                          Find("PractitionerRole", {{"practitioner", *id}}));
    for (const storage::StoredVersion& v : roles) {
      auto role = fhir::json::Parse<fhir::PractitionerRole>(v.json, fhir::json::kStoredJson);
      if (!role.ok()) continue;
      if (role->active.value && !*role->active.value) continue;
      // A role that ended (or has not begun) makes no member of the Organization.
      if (role->period && !InPeriod(*role->period, now_ms_)) continue;
      if (!role->organization) continue;
      std::string org = ReferenceTarget(*role->organization, "Organization");
      if (!org.empty()) actor.organizations.push_back("Organization/" + org);
    }
  }
  actor_ = std::move(actor);
  return fhir::Status::Ok();
}

fhir::Status AccessControl::LoadAllConsents() {
  if (all_consents_loaded_) return fhir::Status::Ok();
  consents_.clear();
  FHIR_ASSIGN_OR_RETURN(std::vector<storage::StoredVersion> found,
                        Find("Consent", {{"status", "active"}}));
  for (const storage::StoredVersion& v : found) {
    auto consent = fhir::json::Parse<fhir::Consent>(v.json, fhir::json::kStoredJson);
    if (!consent.ok() || !consent->patient) continue;
    std::string patient = ReferenceTarget(*consent->patient, kPatient);
    if (patient.empty()) continue;
    consents_[patient].push_back(std::make_unique<fhir::Consent>(std::move(consent).value()));
  }
  all_consents_loaded_ = true;
  return fhir::Status::Ok();
}

fhir::Status AccessControl::LoadConsentsOf(const std::string& patient_id) {
  if (all_consents_loaded_ || consents_.count(patient_id) > 0) return fhir::Status::Ok();
  auto& list = consents_[patient_id];
  if (!fhir::IsValidId(patient_id)) return fhir::Status::Ok();  // none can name it
  FHIR_ASSIGN_OR_RETURN(std::vector<storage::StoredVersion> found,
                        Find("Consent", {{"patient", "Patient/" + patient_id},
                                         {"status", "active"}}));
  for (const storage::StoredVersion& v : found) {
    auto consent = fhir::json::Parse<fhir::Consent>(v.json, fhir::json::kStoredJson);
    if (consent.ok()) list.push_back(std::make_unique<fhir::Consent>(std::move(consent).value()));
  }
  return fhir::Status::Ok();
}

std::vector<const fhir::Consent*> AccessControl::ConsentsOf(const std::string& patient_id) const {
  std::vector<const fhir::Consent*> out;
  auto it = consents_.find(patient_id);
  if (it == consents_.end()) return out;
  for (const auto& consent : it->second) out.push_back(consent.get());
  return out;
}

fhir::Result<AccessControl::Verdict> AccessControl::Decide(const fhir::Resource& resource,
                                                           Interaction interaction) {
  Verdict verdict;
  const std::string type(resource.type_info().name);
  const Mode mode = ModeFor(type, interaction);
  if (mode == Mode::kUnrestricted) return verdict;
  const std::vector<std::string> owners = Owners(resource);
  const std::string self = type + "/" + resource.id;
  if (mode == Mode::kResident) {
    std::optional<std::string> patient = principal_->PatientContext();
    if (!patient) patient = principal_->fhir_user_id;
    if (std::find(owners.begin(), owners.end(), *patient) == owners.end()) {
      verdict.allowed = false;
      verdict.diagnostics = self + " is not in the compartment of Patient/" + *patient +
                            ", the only record this token may access";
    }
    return verdict;
  }
  if (owners.empty()) {  // in no resident's record
    if (type == kAuditEvent) {
      verdict.allowed = false;
      verdict.diagnostics =
          self + " is in no resident's record: only a system/ scope may access it";
    }
    return verdict;
  }
  FHIR_RETURN_IF_ERROR(LoadActor());
  ConsentQuery query;
  query.actor = *actor_;
  query.resource_type = type;
  query.resource_id = resource.id;
  std::vector<std::pair<std::string, std::string>> labels;
  if (resource.meta) {
    for (const fhir::Coding& c : resource.meta->security) {
      labels.emplace_back(c.system.value.value_or(""), c.code.value.value_or(""));
    }
  }
  query.security_labels = std::move(labels);
  query.purpose = principal_->purpose_of_use;
  query.now_ms = now_ms_;
  query.emergency_allowed = EmergencyAllowed(type, interaction);
  Verdict out;
  for (const std::string& owner : owners) {
    FHIR_RETURN_IF_ERROR(LoadConsentsOf(owner));
    query.patient_id = owner;
    ConsentDecision decision = DecideConsent(query, ConsentsOf(owner));
    if (!decision.permitted) {
      out.allowed = false;
      out.consent = decision.consent;
      // Neither the owner nor the Consent is named: the caller may see neither, and which
      // resident a resource belongs to is itself part of that resident's record.
      out.diagnostics =
          decision.consent.empty()
              ? "Consent is required: no active Consent of the resident whose record holds " +
                    self + " permits " +
                    (query.actor.practitioner.empty() ? std::string("this user")
                                                      : query.actor.practitioner) +
                    " to access it for purpose " + query.purpose
              : "Consent is required: a Consent of the resident whose record holds " + self +
                    " denies " + type + " access for purpose " + query.purpose;
      return out;
    }
    if (decision.emergency) out.emergency = true;
    if (!decision.consent.empty()) out.consent = decision.consent;
  }
  if (out.emergency) emergency_used_ = true;
  if (!out.consent.empty()) consents_used_.insert(out.consent);
  return out;
}

fhir::Result<AccessControl::Verdict> AccessControl::DecideStored(const storage::StoredVersion& v,
                                                                 Interaction interaction) {
  if (ModeFor(v.type, interaction) == Mode::kUnrestricted) return Verdict{};
  FHIR_ASSIGN_OR_RETURN(std::unique_ptr<fhir::Resource> resource,
                        fhir::json::ParseResource(v.json, fhir::json::kStoredJson));
  return Decide(*resource, interaction);
}

fhir::Result<AccessControl::Verdict> AccessControl::DecideCurrent(const storage::StoredVersion& v,
                                                                  Interaction interaction) {
  if (ModeFor(v.type, interaction) != Mode::kResident) return DecideStored(v, interaction);
  std::optional<std::string> patient = principal_->PatientContext();
  if (!patient) patient = principal_->fhir_user_id;
  storage::SearchQuery q;
  q.type = v.type;
  storage::Criterion criterion;
  criterion.param = "_id";
  storage::Match match;
  match.kind = storage::Match::Kind::kId;
  match.value = v.id;
  criterion.any.push_back(std::move(match));
  q.criteria.push_back(std::move(criterion));
  storage::CompartmentFilter f;
  f.owner_type = kPatient;
  f.owner_ids = {*patient};
  AddTypeParams(v.type, f.type_params);
  f.include_owners = true;
  q.access = std::vector<storage::CompartmentFilter>{std::move(f)};
  q.limit = 1;
  FHIR_ASSIGN_OR_RETURN(storage::SearchPage page,
                        txn_ != nullptr ? txn_->Search(q, false) : store_.Search(q, false));
  Verdict verdict;
  if (page.versions.empty()) {
    verdict.allowed = false;
    verdict.diagnostics = v.type + "/" + v.id + " is not in the compartment of Patient/" +
                          *patient + ", the only record this token may access";
  }
  return verdict;
}

fhir::Result<std::optional<std::vector<storage::CompartmentFilter>>> AccessControl::SearchFilters(
    const std::set<std::string>& requested) {
  if (principal_ == nullptr) return std::optional<std::vector<storage::CompartmentFilter>>();
  std::set<std::string> types = requested;
  if (types.empty()) {
    if (ModeFor("*", Interaction::kSearch) == Mode::kUnrestricted) return std::optional<std::vector<storage::CompartmentFilter>>();
  } else {
    bool all_unrestricted = true;
    for (const std::string& t : types) {
      all_unrestricted = all_unrestricted && ModeFor(t, Interaction::kSearch) == Mode::kUnrestricted;
    }
    if (all_unrestricted) return std::optional<std::vector<storage::CompartmentFilter>>();
  }
  const std::string probe = types.empty() ? "*" : *types.begin();
  std::vector<storage::CompartmentFilter> filters;
  if (ModeFor(probe, Interaction::kSearch) == Mode::kResident) {
    std::optional<std::string> patient = principal_->PatientContext();
    if (!patient && principal_->fhir_user_type == kPatient) patient = principal_->fhir_user_id;
    if (!patient) return std::optional(std::move(filters));  // no context: nothing
    storage::CompartmentFilter f;
    f.owner_type = kPatient;
    f.owner_ids = {*patient};
    f.type_params = fhir::search::CompartmentTypeParams(kPatient);
    f.include_owners = true;
    filters.push_back(std::move(f));
    return std::optional(std::move(filters));
  }
  // Practitioner: per type, the residents whose Consent permits (or, in an emergency, all but
  // those whose Consent denies it), and everything in no resident's record.
  if (types.empty()) types = CompartmentTypes();
  FHIR_RETURN_IF_ERROR(LoadActor());
  FHIR_RETURN_IF_ERROR(LoadAllConsents());
  for (const std::string& type : types) {
    if (ModeFor(type, Interaction::kSearch) == Mode::kUnrestricted) {
      storage::CompartmentFilter all;  // NOT (nothing): every resource of the type
      all.owner_type = kPatient;
      all.negate = true;
      all.only_type = type;
      filters.push_back(std::move(all));
      continue;
    }
    if (type != kPatient && fhir::search::FindCompartmentMember(kPatient, type) == nullptr) {
      continue;  // never in a resident's record: the ownerless filter covers it
    }
    ConsentQuery query;
    query.actor = *actor_;
    query.resource_type = type;
    query.purpose = principal_->purpose_of_use;
    query.now_ms = now_ms_;
    query.emergency_allowed = EmergencyAllowed(type, Interaction::kSearch);
    storage::CompartmentFilter f;
    f.owner_type = kPatient;
    f.only_type = type;
    AddTypeParams(type, f.type_params);
    f.include_owners = type == kPatient;
    f.negate = query.emergency_allowed;  // emergency: all but the refusing residents
    for (const auto& [patient, list] : consents_) {
      query.patient_id = patient;
      ConsentDecision decision = DecideConsent(query, ConsentsOf(patient));
      if (query.emergency_allowed) {
        if (!decision.permitted) f.owner_ids.push_back(patient);
      } else if (decision.permitted) {
        f.owner_ids.push_back(patient);
        consents_used_.insert(decision.consent);
      }
    }
    if (query.emergency_allowed) emergency_used_ = true;
    if (f.negate || !f.owner_ids.empty()) filters.push_back(std::move(f));
  }
  // Everything in no resident's record but AuditEvents: one filter for all types when the
  // search cannot return AuditEvents, else one per type (a filter names one type or all).
  storage::CompartmentFilter ownerless;
  ownerless.owner_type = kPatient;
  ownerless.any_owner = true;
  ownerless.negate = true;
  ownerless.include_owners = true;
  if (!requested.empty() && requested.count(std::string(kAuditEvent)) == 0) {
    ownerless.type_params = fhir::search::CompartmentTypeParams(kPatient);
    filters.push_back(std::move(ownerless));
  } else {
    std::set<std::string> ownerless_types = requested;
    if (ownerless_types.empty()) {
      for (std::string_view name : fhir::ResourceTypeNames()) ownerless_types.emplace(name);
    }
    for (const std::string& type : ownerless_types) {
      if (type == kAuditEvent) continue;
      storage::CompartmentFilter f = ownerless;
      f.only_type = type;
      AddTypeParams(type, f.type_params);
      filters.push_back(std::move(f));
    }
  }
  return std::optional(std::move(filters));
}

std::string WithSecurityLabel(std::string_view json, std::string_view system,
                              std::string_view code) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::string(json);
  auto& alloc = doc.GetAllocator();
  if (!doc.HasMember("meta") || !doc["meta"].IsObject()) {
    doc.RemoveMember("meta");
    doc.AddMember("meta", rapidjson::Value(rapidjson::kObjectType), alloc);
  }
  rapidjson::Value& meta = doc["meta"];
  if (!meta.HasMember("security") || !meta["security"].IsArray()) {
    meta.RemoveMember("security");
    meta.AddMember("security", rapidjson::Value(rapidjson::kArrayType), alloc);
  }
  rapidjson::Value coding(rapidjson::kObjectType);
  coding.AddMember("system",
                   rapidjson::Value(system.data(), static_cast<rapidjson::SizeType>(system.size()),
                                    alloc),
                   alloc);
  coding.AddMember(
      "code",
      rapidjson::Value(code.data(), static_cast<rapidjson::SizeType>(code.size()), alloc), alloc);
  meta["security"].PushBack(coding, alloc);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  doc.Accept(w);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string MarkRedacted(std::string bundle_json) {
  constexpr std::string_view kHead = "{\"resourceType\":\"Bundle\"";
  if (!std::string_view(bundle_json).starts_with(kHead)) return bundle_json;
  bundle_json.insert(kHead.size(),
                     ",\"meta\":{\"security\":[{\"system\":\"" +
                         std::string(kObservationValueSystem) +
                         "\",\"code\":\"REDACTED\",\"display\":\"redacted\"}]}");
  return bundle_json;
}

}  // namespace server::auth
