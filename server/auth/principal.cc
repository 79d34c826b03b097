#include "server/auth/principal.h"

namespace server::auth {
namespace {

bool IsTypeName(std::string_view text) {
  if (text.empty() || text.front() < 'A' || text.front() > 'Z') return false;
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
      return false;
    }
  }
  return true;
}

// "cruds", "rs", ... : each letter at most once and in c r u d s order; 0 when malformed.
uint8_t ParseV2Letters(std::string_view letters) {
  constexpr std::string_view kOrder = "cruds";
  constexpr uint8_t kBits[] = {kPermCreate, kPermRead, kPermUpdate, kPermDelete, kPermSearch};
  uint8_t bits = 0;
  size_t next = 0;  // letters before kOrder[next] are used up
  for (char c : letters) {
    const size_t at = kOrder.find(c, next);
    if (at == std::string_view::npos) return 0;
    bits = static_cast<uint8_t>(bits | kBits[at]);
    next = at + 1;
  }
  return bits;
}

}  // namespace

std::string_view InteractionCode(Interaction interaction) {
  switch (interaction) {
    case Interaction::kRead: return "read";
    case Interaction::kVread: return "vread";
    case Interaction::kHistoryInstance: return "history-instance";
    case Interaction::kHistoryType: return "history-type";
    case Interaction::kSearch: return "search-type";
    case Interaction::kCreate: return "create";
    case Interaction::kUpdate: return "update";
    case Interaction::kPatch: return "patch";
    case Interaction::kDelete: return "delete";
  }
  return "unknown";
}

uint8_t RequiredPermission(Interaction interaction) {
  switch (interaction) {
    case Interaction::kRead:
    case Interaction::kVread:
    case Interaction::kHistoryInstance:
      return kPermRead;
    case Interaction::kHistoryType:
    case Interaction::kSearch:
      return kPermSearch;
    case Interaction::kCreate: return kPermCreate;
    case Interaction::kUpdate:
    case Interaction::kPatch:
      return kPermUpdate;
    case Interaction::kDelete: return kPermDelete;
  }
  return 0xff;  // unreachable; no scope has every bit of an unknown interaction plus more
}

std::optional<Scope> ParseScope(std::string_view text) {
  Scope scope;
  scope.text = std::string(text);
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;  // openid, fhirUser, launch, ...
  const std::string_view context = text.substr(0, slash);
  if (context == "patient") {
    scope.context = ScopeContext::kPatient;
  } else if (context == "user") {
    scope.context = ScopeContext::kUser;
  } else if (context == "system") {
    scope.context = ScopeContext::kSystem;
  } else {
    return std::nullopt;  // launch/patient and the like
  }
  const std::string_view rest = text.substr(slash + 1);
  if (rest.find('?') != std::string_view::npos) return std::nullopt;  // not enforceable yet
  const size_t dot = rest.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string_view type = rest.substr(0, dot);
  const std::string_view access = rest.substr(dot + 1);
  if (type != "*" && !IsTypeName(type)) return std::nullopt;
  scope.resource_type = std::string(type);
  if (access == "read") {
    scope.permissions = kPermRead | kPermSearch;
  } else if (access == "write") {
    scope.permissions = kPermCreate | kPermUpdate | kPermDelete;
  } else if (access == "*") {
    scope.permissions = kPermCreate | kPermRead | kPermUpdate | kPermDelete | kPermSearch;
  } else {
    scope.permissions = ParseV2Letters(access);
    if (scope.permissions == 0) return std::nullopt;
  }
  return scope;
}

std::vector<Scope> ParseScopes(std::string_view scope_claim) {
  std::vector<Scope> scopes;
  while (!scope_claim.empty()) {
    const size_t space = scope_claim.find(' ');
    const std::string_view one = scope_claim.substr(0, space);
    if (std::optional<Scope> scope = ParseScope(one)) scopes.push_back(std::move(*scope));
    if (space == std::string_view::npos) break;
    scope_claim.remove_prefix(space + 1);
  }
  return scopes;
}

std::optional<std::string> Principal::PatientContext() const {
  if (!patient.empty()) return patient;
  if (fhir_user_type == "Patient" && !fhir_user_id.empty()) return fhir_user_id;
  return std::nullopt;
}

std::optional<std::string> Principal::practitioner_id() const {
  if (fhir_user_type == "Practitioner" && !fhir_user_id.empty()) return fhir_user_id;
  return std::nullopt;
}

ScopeDecision DecideScopes(const Principal& principal, std::string_view resource_type,
                           Interaction interaction) {
  ScopeDecision decision;
  const uint8_t needed = RequiredPermission(interaction);
  for (const Scope& scope : principal.scopes) {
    if ((scope.permissions & needed) != needed) continue;
    // A "*" request (system history) needs a wildcard scope: it returns every type.
    if (scope.resource_type != "*" && scope.resource_type != resource_type) continue;
    decision.allowed = true;
    switch (scope.context) {
      case ScopeContext::kPatient: decision.via_patient = true; break;
      case ScopeContext::kUser: decision.via_user = true; break;
      case ScopeContext::kSystem: decision.via_system = true; break;
    }
  }
  return decision;
}

}  // namespace server::auth
