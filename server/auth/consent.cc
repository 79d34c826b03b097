#include "server/auth/consent.h"

#include <string_view>

#include "fhir/search/normalize.h"

namespace server::auth {
namespace {

// Whether a condition holds: kMaybe when it cannot be told (type-level questions, or
// conditions this engine does not evaluate).
enum class Holds { kNo, kYes, kMaybe };

Holds And(Holds a, Holds b) {
  if (a == Holds::kNo || b == Holds::kNo) return Holds::kNo;
  if (a == Holds::kMaybe || b == Holds::kMaybe) return Holds::kMaybe;
  return Holds::kYes;
}

// "Patient/1" matches "Patient/1", "Patient/1/_history/2" and "http://x/fhir/Patient/1".
bool ReferenceIs(std::string_view reference, std::string_view target) {
  if (std::size_t history = reference.find("/_history/"); history != std::string_view::npos) {
    reference = reference.substr(0, history);
  }
  if (reference == target) return true;
  return reference.size() > target.size() && reference.ends_with(target) &&
         reference[reference.size() - target.size() - 1] == '/';
}

const std::string& ValueOf(const fhir::Primitive<std::string>& p) {
  static const std::string kEmpty;
  return p.value ? *p.value : kEmpty;
}

struct Evaluator {
  const ConsentQuery& query;

  bool IsActor(std::string_view reference) const {
    if (!query.actor.practitioner.empty() && ReferenceIs(reference, query.actor.practitioner)) {
      return true;
    }
    for (const std::string& org : query.actor.organizations) {
      if (ReferenceIs(reference, org)) return true;
    }
    return false;
  }

  // The conditions of one provision, without its nested ones. `actor_matched` is set when it
  // names the asker as actor.
  Holds Conditions(const fhir::Consent::Provision& p, bool& actor_matched) const {
    Holds holds = Holds::kYes;
    if (!p.actor.empty()) {
      bool any = false;
      for (const auto& actor : p.actor) {
        if (actor.reference && IsActor(ValueOf(actor.reference->reference))) any = true;
      }
      if (!any) return Holds::kNo;
      actor_matched = true;
    }
    if (p.period) {
      const std::string& start = ValueOf(p.period->start);
      const std::string& end = ValueOf(p.period->end);
      if (!start.empty()) {
        auto range = fhir::search::DateRange(start);
        if (!range || query.now_ms < range->low) return Holds::kNo;
      }
      if (!end.empty()) {
        auto range = fhir::search::DateRange(end);
        if (!range || query.now_ms > range->high) return Holds::kNo;
      }
    }
    if (!p.purpose.empty()) {
      bool any = false;
      for (const fhir::Coding& c : p.purpose) any = any || ValueOf(c.code) == query.purpose;
      if (!any) return Holds::kNo;
    }
    if (!p.class_.empty()) {
      Holds h = Holds::kNo;
      for (const fhir::Coding& c : p.class_) {
        if (ValueOf(c.system) == kResourceTypesSystem) {
          if (ValueOf(c.code) == query.resource_type) h = Holds::kYes;
        } else if (h == Holds::kNo) {
          h = Holds::kMaybe;  // a class by profile or other system: not evaluated
        }
      }
      holds = And(holds, h);
    }
    if (!p.data.empty()) {
      Holds h = Holds::kNo;
      const std::string self = query.resource_type + "/" + query.resource_id;
      for (const auto& data : p.data) {
        if (!data.reference) continue;
        const std::string& ref = ValueOf(data.reference->reference);
        if (query.resource_id.empty()) {
          // Type-level: it may hold for some resources of the type.
          std::string_view type_prefix = query.resource_type;
          std::size_t slash = ref.rfind('/');
          std::string_view head = slash == std::string::npos
                                      ? std::string_view()
                                      : std::string_view(ref).substr(0, slash);
          if (ReferenceIs(head, type_prefix) && h == Holds::kNo) h = Holds::kMaybe;
        } else if (ReferenceIs(ref, self)) {
          h = Holds::kYes;
        }
      }
      holds = And(holds, h);
    }
    if (!p.security_label.empty()) {
      Holds h = Holds::kNo;
      if (!query.security_labels) {
        h = Holds::kMaybe;
      } else {
        for (const fhir::Coding& c : p.security_label) {
          for (const auto& [system, code] : *query.security_labels) {
            if (ValueOf(c.code) == code && ValueOf(c.system) == system) h = Holds::kYes;
          }
        }
      }
      holds = And(holds, h);
    }
    if (!p.code.empty() || p.data_period) holds = And(holds, Holds::kMaybe);
    return holds;
  }

  // The outcomes a provision can lead to, as bits: 1 permit, 2 deny (an over-approximation
  // when something is kMaybe). `applies` says whether the provision itself applies.
  static constexpr int kPermit = 1;
  static constexpr int kDeny = 2;
  int Outcomes(const fhir::Consent::Provision& p, const std::string& parent_type,
               bool actor_on_path, Holds& applies) const {
    bool actor_matched = actor_on_path;
    applies = Conditions(p, actor_matched);
    if (applies == Holds::kNo) return 0;
    const std::string& type = p.type.value ? *p.type.value : parent_type;
    // A permit counts only with an actor on its path; otherwise it grants nothing (deny).
    const int own = type == "permit" && actor_matched ? kPermit : kDeny;
    int sure = 0;      // outcomes of nested provisions that surely apply, and surely decide
    int possible = 0;  // outcomes of nested provisions that may apply
    for (const auto& nested : p.provision) {
      Holds nested_applies = Holds::kNo;
      int outcomes = Outcomes(nested, type, actor_matched, nested_applies);
      possible |= outcomes;
      if (nested_applies == Holds::kYes && (outcomes == kPermit || outcomes == kDeny)) {
        sure |= outcomes;
      }
    }
    if (sure & kDeny) return kDeny;  // deny wins among siblings
    if (sure & kPermit) return possible;
    return own | possible;
  }

  // Whether a deny provision of `p` (or `p` itself) may apply; `ancestors` is how surely the
  // path to `p` applies.
  bool DenyMayApply(const fhir::Consent::Provision& p, const std::string& parent_type) const {
    bool actor_matched = false;
    if (Conditions(p, actor_matched) == Holds::kNo) return false;
    const std::string& type = p.type.value ? *p.type.value : parent_type;
    if (type == "deny") return true;
    for (const auto& nested : p.provision) {
      if (DenyMayApply(nested, type)) return true;
    }
    return false;
  }
};

std::string ConsentRef(const fhir::Consent& consent) { return "Consent/" + consent.id; }

}  // namespace

bool ConsentInForce(const fhir::Consent& consent, const std::string& patient_id) {
  if (ValueOf(consent.status) != "active") return false;
  if (!consent.patient || !ReferenceIs(ValueOf(consent.patient->reference), "Patient/" + patient_id)) {
    return false;
  }
  if (!consent.scope) return false;
  for (const fhir::Coding& c : consent.scope->coding) {
    if (ValueOf(c.system) == kConsentScopeSystem && ValueOf(c.code) == "patient-privacy") {
      return true;
    }
  }
  return false;
}

ConsentDecision DecideConsent(const ConsentQuery& query,
                              const std::vector<const fhir::Consent*>& consents) {
  Evaluator evaluator{query};
  ConsentDecision decision;
  std::vector<const fhir::Consent*> in_force;
  for (const fhir::Consent* consent : consents) {
    if (consent != nullptr && consent->provision && ConsentInForce(*consent, query.patient_id)) {
      in_force.push_back(consent);
    }
  }
  // Deny wins across Consents.
  for (const fhir::Consent* consent : in_force) {
    if (evaluator.DenyMayApply(*consent->provision, "deny")) {
      decision.consent = ConsentRef(*consent);
      decision.reason = decision.consent + " of Patient/" + query.patient_id + " denies " +
                        query.resource_type + " access for purpose " + query.purpose;
      return decision;
    }
  }
  for (const fhir::Consent* consent : in_force) {
    const fhir::Consent::Provision& base = *consent->provision;
    if (!base.type.value || *base.type.value != "permit") continue;
    Holds applies = Holds::kNo;
    int outcomes = evaluator.Outcomes(base, "permit", false, applies);
    if (applies == Holds::kYes && outcomes == Evaluator::kPermit) {
      decision.permitted = true;
      decision.consent = ConsentRef(*consent);
      decision.reason = "permitted by " + decision.consent;
      return decision;
    }
  }
  if (query.emergency_allowed) {
    decision.permitted = true;
    decision.emergency = true;
    decision.reason = "emergency access (purpose of use ETREAT) without Consent";
    return decision;
  }
  decision.reason = "no active Consent of Patient/" + query.patient_id + " permits " +
                    (query.actor.practitioner.empty() ? std::string("this user")
                                                      : query.actor.practitioner) +
                    " to access " + query.resource_type +
                    (query.resource_id.empty() ? std::string() : "/" + query.resource_id) +
                    " for purpose " + query.purpose;
  return decision;
}

}  // namespace server::auth
