#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/auth/access.h"
#include "server/auth/principal.h"

namespace server::auth {

// The R4 targets of reference search parameters, from fhir::search::SearchRegistry.
std::vector<std::string> RegistryReferenceTargets(std::string_view type, std::string_view param);

// Why `principal` may not make this REST request (see RequiredAccesses(); reference targets
// from the R4 registry), or nullopt.
std::optional<std::string> RequestScopeProblem(
    const Principal& principal, std::string_view method, const std::vector<std::string>& segments,
    const std::vector<std::pair<std::string, std::string>>& params);

// The same for a batch/transaction entry's request.method and request.url ("Patient?x=y",
// relative to the base).
std::optional<std::string> EntryScopeProblem(const Principal& principal, std::string_view method,
                                             std::string_view url);

}  // namespace server::auth
