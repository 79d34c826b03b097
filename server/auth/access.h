#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/auth/principal.h"

namespace server::auth {

// What a REST request does, for the scope check.
struct Access {
  std::string resource_type;  // "*" for [base]/_history
  Interaction interaction = Interaction::kRead;
  std::string id = {};  // the resource id of instance interactions; "" for type/system level
};

// The access a request needs, from its method and its path below the base (decoded segments),
// mirroring RestService's routing:
//   GET|HEAD Type -> search-type, POST Type/_search -> search-type, POST Type -> create,
//   PUT Type?criteria -> update, DELETE Type?criteria -> delete, GET|HEAD Type/id -> read,
//   PUT Type/id -> update (also update-as-create), PATCH Type/id -> patch,
//   DELETE Type/id -> delete, GET|HEAD Type/id/_history -> history-instance,
//   GET|HEAD Type/id/_history/vid -> vread, GET|HEAD Type/_history -> history-type,
//   GET|HEAD _history -> history-type on "*",
//   GET|HEAD Type/id/Other (compartment search) -> search-type of Other.
// nullopt for POST [base] (a batch/transaction: each entry is checked on its own) and for any
// shape the REST layer does not serve (it answers 404/405 without touching data). Operations
// ($...) must be added here when the REST layer gains them.
std::optional<Access> RequiredAccess(std::string_view method,
                                     const std::vector<std::string>& segments);

// The same for a batch/transaction entry's request.method and request.url ("Patient/1?x=y",
// relative to the base; the query is ignored).
std::optional<Access> RequiredAccessOfUrl(std::string_view method, std::string_view url);

// The target types of reference search parameter `param` on `type` ("Observation", "subject"
// -> Device, Group, Location, Patient); empty when unknown. The server passes the R4 registry
// (server/auth/request_scopes.h); tests pass a table.
using ReferenceTargets =
    std::function<std::vector<std::string>(std::string_view type, std::string_view param)>;

// Every access a request needs: RequiredAccess()'s (for a compartment search also read of
// the compartment's owner, Type/id), and for searches (GET|HEAD [base], Type, Type/_search,
// Type/id/Other) the search permission on every type its result can contain or its
// criteria can reveal, so that no parameter reaches a type the scopes do not cover:
//   [base] search: each `_type` (none: "*")
//   _include[:iterate]=S:p:T -> T; S:p -> every target of p on S; * or S:* -> "*"
//   _revinclude[:iterate]=S:p[:T] -> S; * -> "*"
//   _has:T:p:... -> T (and the nested _has types)
//   chained p:T.x -> T; p.x -> every target of p on the searched type ("*" on [base])
// Conditional update/delete criteria (PUT/DELETE Type?...) get the chain and _has rule too.
// Unparseable values are not this layer's business: the search parser answers 400.
// Empty for POST [base] (each entry is checked) and shapes the REST layer does not serve.
std::vector<Access> RequiredAccesses(std::string_view method,
                                     const std::vector<std::string>& segments,
                                     const std::vector<std::pair<std::string, std::string>>& params,
                                     const ReferenceTargets& targets);

// nullopt when `principal`'s scopes allow `access`; else the 403 diagnostics, e.g.
// "The token's scopes do not allow read of Observation (a scope such as
//  patient/Observation.r or user/Observation.read is needed)".
// Until compartment filtering exists, access granted by patient/ scopes alone is narrowed in
// the two ways that need no search: it needs a patient context (Principal::PatientContext()),
// and on the Patient type an instance interaction reaches only that patient.
std::optional<std::string> ScopeProblem(const Principal& principal, const Access& access);
// The first problem among `accesses`.
std::optional<std::string> ScopeProblem(const Principal& principal,
                                        const std::vector<Access>& accesses);

// The realm of every Bearer challenge.
inline constexpr std::string_view kRealm = "fhir-server";

// WWW-Authenticate for a 403 on scopes (RFC 6750 section 3.1):
// Bearer realm="fhir-server", error="insufficient_scope"
std::string InsufficientScopeChallenge();

}  // namespace server::auth
