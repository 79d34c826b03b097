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
  if (n == 3 && get && !segments[2].empty() && segments[2].front() != '_' &&
      segments[2].front() != '$') {
    return Access{segments[2], Interaction::kSearch};  // compartment search: Patient/1/Condition
  }
  if (n == 4 && segments[2] == "_history" && get) {
    return Access{type, Interaction::kVread, id};
  }
  return std::nullopt;
}

namespace {

std::vector<std::string> Split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  while (true) {
    const size_t at = text.find(separator);
    parts.emplace_back(text.substr(0, at));
    if (at == std::string_view::npos) break;
    text.remove_prefix(at + 1);
  }
  return parts;
}

void AddSearch(std::vector<Access>& out, std::string_view type) {
  for (const Access& a : out) {
    if (a.resource_type == type && a.interaction == Interaction::kSearch) return;
  }
  out.push_back(Access{std::string(type), Interaction::kSearch});
}

void AddTargets(std::vector<Access>& out, const ReferenceTargets& targets, std::string_view type,
                std::string_view param) {
  if (type == "*" || param == "*") return AddSearch(out, "*");
  const std::vector<std::string> found =
      targets ? targets(type, param) : std::vector<std::string>{};
  if (found.empty()) return AddSearch(out, "*");  // unknown: only a wildcard scope covers it
  for (const std::string& t : found) AddSearch(out, t);
}

// The types a search parameter name reaches beyond `type`: chains and _has.
void AddCriterionTypes(std::vector<Access>& out, const ReferenceTargets& targets,
                       std::string_view type, std::string_view key) {
  if (key.starts_with("_has:")) {
    // _has:T:p:_has:T2:p2:name -> T, T2
    std::vector<std::string> parts = Split(key, ':');
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      if (parts[i] == "_has") AddSearch(out, parts[i + 1]);
    }
    return;
  }
  if (key.starts_with('_')) return;
  const size_t dot = key.find('.');
  if (dot == std::string_view::npos) return;
  // subject:Patient.organization.name: each link names its type or reaches its targets.
  std::string current(type);
  std::vector<std::string> links = Split(key, '.');
  links.pop_back();  // the last part is the parameter searched on the final type
  for (const std::string& link : links) {
    const size_t colon = link.find(':');
    if (colon != std::string::npos) {
      const std::string target = link.substr(colon + 1);
      AddSearch(out, target);
      current = target;
    } else {
      AddTargets(out, targets, current, link);
      std::vector<std::string> found =
          targets && current != "*" ? targets(current, link) : std::vector<std::string>{};
      current = found.size() == 1 ? found[0] : "*";
    }
  }
}

}  // namespace

std::vector<Access> RequiredAccesses(std::string_view method,
                                     const std::vector<std::string>& segments,
                                     const std::vector<std::pair<std::string, std::string>>& params,
                                     const ReferenceTargets& targets) {
  std::vector<Access> out;
  const bool get = method == "GET" || method == "HEAD";
  std::string searched;  // the type searched; "*" for a system search; "" when no search
  if (segments.empty()) {
    if (!get) return out;
    searched = "*";
    bool typed = false;
    for (const auto& [key, value] : params) {
      if (key != "_type") continue;
      typed = true;
      for (const std::string& t : Split(value, ',')) AddSearch(out, t);
    }
    if (!typed) AddSearch(out, "*");
  } else if (std::optional<Access> access = RequiredAccess(method, segments)) {
    // Searches, and conditional updates and deletes (their criteria are a search).
    if (access->interaction == Interaction::kSearch ||
        (segments.size() == 1 && (method == "PUT" || method == "DELETE"))) {
      searched = access->resource_type;
    }
    if (segments.size() == 3 && access->interaction == Interaction::kSearch) {
      // A compartment search reveals its owner: it needs reading Patient/1 as well.
      out.push_back(Access{segments[0], Interaction::kRead, segments[1]});
    }
    out.push_back(std::move(*access));
  } else {
    return out;
  }
  if (searched.empty()) return out;
  const bool search = out.back().interaction == Interaction::kSearch;
  for (const auto& [key, value] : params) {
    if (!search) {
      AddCriterionTypes(out, targets, searched, key);
    } else if (key == "_include" || key.starts_with("_include:")) {
      const std::vector<std::string> parts = Split(value, ':');
      if (value == "*" || parts.size() < 2) {
        AddSearch(out, "*");
      } else if (parts.size() >= 3) {
        AddSearch(out, parts[2]);
      } else {
        AddTargets(out, targets, parts[0], parts[1]);
      }
    } else if (key == "_revinclude" || key.starts_with("_revinclude:")) {
      const std::vector<std::string> parts = Split(value, ':');
      AddSearch(out, value == "*" || parts.size() < 2 ? "*" : parts[0]);
    } else {
      AddCriterionTypes(out, targets, searched, key);
    }
  }
  return out;
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

std::optional<std::string> ScopeProblem(const Principal& principal,
                                        const std::vector<Access>& accesses) {
  for (const Access& access : accesses) {
    if (std::optional<std::string> problem = ScopeProblem(principal, access)) return problem;
  }
  return std::nullopt;
}

std::string InsufficientScopeChallenge() {
  return "Bearer realm=\"" + std::string(kRealm) + "\", error=\"insufficient_scope\"";
}

}  // namespace server::auth
