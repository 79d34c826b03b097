#include "server/auth/access.h"

namespace server::auth {

std::optional<Access> RequiredAccess(std::string_view method,
                                     const std::vector<std::string>& segments) {
  const bool get = method == "GET" || method == "HEAD";
  const size_t n = segments.size();
  if (n == 0) return std::nullopt;
  if (n == 1 && segments[0] == "_history") {
    if (get) return Access{"*", Interaction::kHistoryType};
    return std::nullopt;
  }
  const std::string& type = segments[0];
  if (type.empty() || type.front() == '$' || type.front() == '_') return std::nullopt;
  if (n == 1) {
    if (get) return Access{type, Interaction::kSearch};
    if (method == "POST") return Access{type, Interaction::kCreate};
    if (method == "PUT") return Access{type, Interaction::kUpdate};
    if (method == "DELETE") return Access{type, Interaction::kDelete};
    return std::nullopt;
  }
  if (n == 2 && segments[1] == "_history") {
    if (get) return Access{type, Interaction::kHistoryType};
    return std::nullopt;
  }
  if (n == 2 && segments[1] == "_search") {
    if (method == "POST") return Access{type, Interaction::kSearch};
    return std::nullopt;
  }
  const std::string& id = segments[1];
  if (n == 2) {
    if (get) return Access{type, Interaction::kRead, id};
    if (method == "PUT") return Access{type, Interaction::kUpdate, id};
    if (method == "PATCH") return Access{type, Interaction::kPatch, id};
    if (method == "DELETE") return Access{type, Interaction::kDelete, id};
    return std::nullopt;
  }
  if (n == 3 && segments[2] == "_history" && get) {
    return Access{type, Interaction::kHistoryInstance, id};
  }
  if (n == 4 && segments[2] == "_history" && get) {
    return Access{type, Interaction::kVread, id};
  }
  return std::nullopt;
}

std::optional<Access> RequiredAccessOfUrl(std::string_view method, std::string_view url) {
  std::string_view path = url.substr(0, url.find('?'));
  std::vector<std::string> segments;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    if (slash != 0) segments.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return RequiredAccess(method, segments);
}

std::optional<std::string> ScopeProblem(const Principal& principal, const Access& access) {
  const ScopeDecision decision =
      DecideScopes(principal, access.resource_type, access.interaction);
  if (decision.allowed && (decision.via_user || decision.via_system)) return std::nullopt;
  if (decision.allowed) {  // patient/ scopes only
    const std::optional<std::string> patient = principal.PatientContext();
    if (!patient) {
      return "The token's patient/ scopes need a patient context (a patient claim or a "
             "fhirUser Patient/...), and it has none";
    }
    if (access.resource_type == "Patient" && !access.id.empty() && access.id != *patient) {
      return "The token's patient/ scopes reach only Patient/" + *patient;
    }
    return std::nullopt;
  }
  const std::string_view letter = [&] {
    switch (RequiredPermission(access.interaction)) {
      case kPermCreate: return "c";
      case kPermRead: return "r";
      case kPermUpdate: return "u";
      case kPermDelete: return "d";
      default: return "s";
    }
  }();
  const bool read = letter == "r" || letter == "s";
  const std::string type = access.resource_type;
  const std::string of = type == "*" ? "all resource types" : type;
  return "The token's scopes do not allow " + std::string(InteractionCode(access.interaction)) +
         " of " + of + " (a scope such as patient/" + type + "." + std::string(letter) +
         " or user/" + type + (read ? ".read" : ".write") + " is needed)";
}

std::string InsufficientScopeChallenge() {
  return "Bearer realm=\"" + std::string(kRealm) + "\", error=\"insufficient_scope\"";
}

}  // namespace server::auth
