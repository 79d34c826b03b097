#include "server/auth/request_scopes.h"

#include "fhir/search/search_registry.h"
#include "server/rest_util.h"

namespace server::auth {

std::vector<std::string> RegistryReferenceTargets(std::string_view type, std::string_view param) {
  std::vector<std::string> out;
  const fhir::search::BoundParam* bound = fhir::search::SearchRegistry::Get().Find(type, param);
  if (bound == nullptr || bound->def->type != fhir::SearchParamType::kReference) return out;
  for (std::string_view target : bound->def->target) out.emplace_back(target);
  return out;
}

std::optional<std::string> RequestScopeProblem(
    const Principal& principal, std::string_view method, const std::vector<std::string>& segments,
    const std::vector<std::pair<std::string, std::string>>& params) {
  return ScopeProblem(principal,
                      RequiredAccesses(method, segments, params, RegistryReferenceTargets));
}

std::optional<std::string> EntryScopeProblem(const Principal& principal, std::string_view method,
                                             std::string_view url) {
  const size_t question = url.find('?');
  std::string_view path = url.substr(0, question);
  std::vector<std::string> segments;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    if (slash != 0) segments.push_back(PercentDecode(path.substr(0, slash)));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  const Params params =
      question == std::string_view::npos ? Params() : ParseQuery(url.substr(question + 1));
  return RequestScopeProblem(principal, method, segments, params);
}

}  // namespace server::auth
