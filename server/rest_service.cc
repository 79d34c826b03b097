#include "server/rest_service.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fhir/base/primitive_format.h"
#include "fhir/json/json_patch.h"
#include "fhir/json/parser.h"
#include "fhir/json/writer.h"
#include "fhir/model/registry.h"
#include "fhir/patch/fhirpath_patch.h"
#include "fhir/r4/datatypes.h"
#include "fhir/search/index_extractor.h"
#include "fhir/search/search_registry.h"
#include "server/audit/audit.h"
#include "server/auth/access_control.h"
#include "server/bundle_processor.h"
#include "server/capability.h"
#include "server/rest_util.h"
#include "server/search/search_interaction.h"

namespace server {

using fhir::IssueType;
using storage::StoredVersion;

// Where an interaction reads and writes: its own transactions, or a caller's.
struct RestService::Context {
  storage::Store& store;
  storage::WriteTransaction* txn;  // a transaction Bundle's, or nullptr
  // A transaction entry's resource, already parsed: the body of a create or update.
  std::unique_ptr<fhir::Resource> parsed = nullptr;
  // `parsed` prepared as version 1 (PrepareVersion), for an entry that creates it.
  PreparedVersion* prepared = nullptr;
  // Who may see what (issue 5); set by Handle/HandleIn for requests with a principal.
  std::unique_ptr<auth::AccessControl> access = nullptr;
  // Where a transaction entry's resource goes once written (RestService::HandleIn), or null.
  std::vector<std::unique_ptr<fhir::Resource>>* spent = nullptr;

  // Hands `resource` to `spent`, if set (else it is freed here).
  void Spend(std::unique_ptr<fhir::Resource> resource) {
    if (spent != nullptr && resource != nullptr) spent->push_back(std::move(resource));
  }

  fhir::Result<StoredVersion> ReadCurrent(std::string_view type, std::string_view id) {
    return txn ? txn->ReadCurrent(type, id) : store.ReadCurrent(type, id);
  }
};

namespace {


std::string Now() { return FormatInstant(std::chrono::system_clock::now()); }

std::string ETagOf(std::int64_t version) { return "W/\"" + std::to_string(version) + "\""; }

// "W/\"3\"" or "\"3\"" -> 3; nullopt when malformed.
std::optional<std::int64_t> VersionFromETag(std::string_view etag) {
  if (etag.substr(0, 2) == "W/") etag.remove_prefix(2);
  if (etag.size() < 3 || etag.front() != '"' || etag.back() != '"') return std::nullopt;
  etag = etag.substr(1, etag.size() - 2);
  std::int64_t v = 0;
  for (char c : etag) {
    if (c < '0' || c > '9' || v > 1'000'000'000'000) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return etag.empty() ? std::nullopt : std::optional<std::int64_t>(v);
}

// The value of `key` in a Prefer header ("return=minimal, handling=strict").
std::string PreferValue(std::string_view prefer, std::string_view key) {
  while (!prefer.empty()) {
    std::size_t comma = prefer.find_first_of(",;");
    std::string_view part = Trim(prefer.substr(0, comma));
    prefer = comma == std::string_view::npos ? std::string_view() : prefer.substr(comma + 1);
    std::size_t eq = part.find('=');
    if (eq != std::string_view::npos && Trim(part.substr(0, eq)) == key) {
      std::string_view value = Trim(part.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return std::string(value);
    }
  }
  return {};
}

bool Lenient(const RestRequest& r) { return PreferValue(r.prefer, "handling") == "lenient"; }
bool Strict(const RestRequest& r) { return PreferValue(r.prefer, "handling") == "strict"; }

void SetMeta(fhir::Resource& resource, std::int64_t version, const std::string& last_updated) {
  fhir::Meta& meta = resource.meta.ensure();
  meta.version_id.value = std::to_string(version);
  meta.last_updated.value = last_updated;
}

}  // namespace

PreparedVersion PrepareVersion(fhir::Resource& resource, std::int64_t version) {
  PreparedVersion p;
  p.v.type = resource.type_info().name;
  p.v.id = resource.id;
  p.v.version = version;
  p.v.last_updated = Now();
  SetMeta(resource, p.v.version, p.v.last_updated);
  p.v.json = fhir::json::Write(resource);
  p.index = fhir::search::ExtractIndexEntries(resource);
  return p;
}

namespace {

RestResponse Representation(const RestRequest& request, const StoredVersion& v, int status,
                            std::string_view outcome_text) {
  RestResponse r;
  r.status = status;
  r.etag = ETagOf(v.version);
  r.last_modified = v.last_updated;
  std::string ret = PreferValue(request.prefer, "return");
  if (ret == "minimal") {
    // no body
  } else if (ret == "OperationOutcome") {
    r.body = OperationOutcomeOf(fhir::Status(std::vector<fhir::Issue>{
        {fhir::Severity::kInformation, IssueType::kInformational, std::string(outcome_text), {}}}));
  } else {
    r.body = v.json;
  }
  return r;
}

// Parses a request body as a resource of `type` (from the URL), unless `given` is the body
// already parsed.
fhir::Result<std::unique_ptr<fhir::Resource>> ParseBody(const RestRequest& request,
                                                        std::string_view type,
                                                        std::unique_ptr<fhir::Resource> given) {
  if (request.body.empty() && given == nullptr) {
    return fhir::Status(IssueType::kStructure, "The request has no body; a resource is required");
  }
  fhir::json::ParseOptions options;
  options.lenient = Lenient(request);
  auto parsed = given != nullptr
                    ? fhir::Result<std::unique_ptr<fhir::Resource>>(std::move(given))
                    : fhir::json::ParseResource(request.body, options);
  if (!parsed.ok()) return parsed.status();
  if (parsed.value()->type_info().name != type) {
    return fhir::Status(IssueType::kInvalid,
                        "The body is a " + std::string(parsed.value()->type_info().name) +
                            " but the URL names " + std::string(type),
                        "resourceType");
  }
  return parsed;
}

}  // namespace

// ------------------------------------------------------------------------------------------

namespace {

class Interactions {
 public:
  Interactions(RestService::Context& ctx, const RestService::Options& options,
               const RestRequest& request)
      : ctx_(ctx), options_(options), request_(request) {}

  RestResponse Read(const fhir::TypeInfo& type, const std::string& id) {
    auto current = ctx_.ReadCurrent(type.name, id);
    if (!current.ok()) return NotFoundOrError(current.status(), type, id);
    if (current->deleted) return Gone(type, id, *current);
    if (auto refused = RefuseCurrent(*current, auth::Interaction::kRead)) return *refused;
    if (!request_.if_none_match.empty()) {
      auto v = VersionFromETag(request_.if_none_match);
      if (v && *v == current->version) return NotModified(*current);
    }
    if (!request_.if_modified_since.empty()) {
      std::optional<std::string> since = InstantFromHttpDate(request_.if_modified_since);
      if (since && current->last_updated.substr(0, 19) <= since->substr(0, 19)) {
        return NotModified(*current);
      }
    }
    RestResponse r;
    r.body = Marked(current->json);
    r.etag = ETagOf(current->version);
    r.last_modified = current->last_updated;
    return r;
  }

  RestResponse VRead(const fhir::TypeInfo& type, const std::string& id, const std::string& vid) {
    std::int64_t version = 0;
    if (!ParseVersion(vid, version)) {
      return ErrorResponse(404, IssueType::kNotFound, "No version '" + vid + "' of " +
                                                          std::string(type.name) + "/" + id);
    }
    auto v = ctx_.txn ? ReadVersionInTxn(type, id, version)
                      : ctx_.store.ReadVersion(type.name, id, version);
    if (!v.ok()) return NotFoundOrError(v.status(), type, id + "/_history/" + vid);
    if (v->deleted) return Gone(type, id, *v);
    if (auto refused = Refuse(*v, auth::Interaction::kVread)) return *refused;
    RestResponse r;
    r.body = Marked(v->json);
    r.etag = ETagOf(v->version);
    r.last_modified = v->last_updated;
    return r;
  }

  RestResponse Create(const fhir::TypeInfo& type) {
    auto parsed = ParseBody(request_, type.name, std::move(ctx_.parsed));
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    // A resident writes only into their own record; a practitioner may record new data for
    // anyone (no Consent needed to create).
    if (auto refused = RefuseResident(**parsed, auth::Interaction::kCreate)) return *refused;
    // Version 1 of a new id does not depend on what is stored: ready before the transaction.
    (*parsed)->id = NewResourceId(type.name);
    PreparedVersion prepared = PrepareVersion(**parsed, 1);
    ctx_.Spend(std::move(parsed).value());  // written as JSON already
    return WithTransaction([&](storage::WriteTransaction& txn) -> RestResponse {
      if (!request_.if_none_exist.empty()) {
        auto matches = Match(txn, type, ParseQuery(request_.if_none_exist), "If-None-Exist");
        if (!matches.ok()) return ErrorResponse(matches.status());
        if (matches->size() > 1) return MultipleMatches(type, matches->size());
        if (matches->size() == 1) {
          auto existing = txn.ReadCurrent(type.name, (*matches)[0]);
          if (!existing.ok()) return ErrorResponse(existing.status());
          existing->json = Marked(existing->json);  // ETREAT when found by the emergency rule
          RestResponse r = Representation(request_, *existing, 200, "Resource already exists");
          r.location = Location(*existing);
          return r;
        }
      }
      return PutPrepared(txn, prepared, /*created=*/true);
    });
  }

  RestResponse Update(const fhir::TypeInfo& type, const std::string& id) {
    auto parsed = ParseBody(request_, type.name, std::move(ctx_.parsed));
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    std::unique_ptr<fhir::Resource> resource = std::move(parsed).value();
    if (resource->id.empty()) {
      return ErrorResponse(400, IssueType::kRequired,
                           "An update needs the resource id in the body", "Resource.id");
    }
    if (resource->id != id) {
      return ErrorResponse(400, IssueType::kInvalid,
                           "The id in the body (" + resource->id + ") differs from the URL (" +
                               id + ")",
                           "Resource.id");
    }
    if (!fhir::IsValidId(id)) {
      return ErrorResponse(400, IssueType::kValue, "Invalid resource id '" + id + "'");
    }
    RestResponse r = WithTransaction([&](storage::WriteTransaction& txn) -> RestResponse {
      auto current = txn.ReadCurrent(type.name, id);
      if (!current.ok() && current.status().type() != IssueType::kNotFound) {
        return ErrorResponse(current.status());
      }
      std::optional<StoredVersion> cur;
      if (current.ok()) cur = std::move(current).value();
      if (RestResponse failed; !CheckIfMatch(cur, failed)) return failed;
      if (auto refused = RefuseWrite(cur, *resource, auth::Interaction::kUpdate)) return *refused;
      return Store(txn, *resource, cur);
    });
    ctx_.Spend(std::move(resource));
    return r;
  }

  RestResponse ConditionalUpdate(const fhir::TypeInfo& type) {
    auto parsed = ParseBody(request_, type.name, std::move(ctx_.parsed));
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    std::unique_ptr<fhir::Resource> resource = std::move(parsed).value();
    RestResponse r = WithTransaction([&](storage::WriteTransaction& txn) -> RestResponse {
      auto matches = Match(txn, type, request_.params, "");
      if (!matches.ok()) return ErrorResponse(matches.status());
      if (matches->size() > 1) return MultipleMatches(type, matches->size());
      if (matches->empty()) {
        if (resource->id.empty()) resource->id = NewResourceId(type.name);
        auto current = txn.ReadCurrent(type.name, resource->id);
        std::optional<StoredVersion> cur;
        if (current.ok()) cur = std::move(current).value();
        if (auto refused = RefuseWrite(cur, *resource, auth::Interaction::kUpdate)) return *refused;
        return Store(txn, *resource, cur);
      }
      const std::string& id = (*matches)[0];
      if (!resource->id.empty() && resource->id != id) {
        return ErrorResponse(400, IssueType::kInvalid,
                             "The id in the body (" + resource->id +
                                 ") differs from the matching resource (" + id + ")",
                             "Resource.id");
      }
      resource->id = id;
      auto current = txn.ReadCurrent(type.name, id);
      if (!current.ok()) return ErrorResponse(current.status());
      std::optional<StoredVersion> cur = std::move(current).value();
      if (RestResponse failed; !CheckIfMatch(cur, failed)) return failed;
      if (auto refused = RefuseWrite(cur, *resource, auth::Interaction::kUpdate)) return *refused;
      return Store(txn, *resource, cur);
    });
    ctx_.Spend(std::move(resource));
    return r;
  }

  RestResponse Delete(const fhir::TypeInfo& type, const std::string& id) {
    return WithTransaction([&](storage::WriteTransaction& txn) -> RestResponse {
      return DeleteIn(txn, type, id);
    });
  }

  RestResponse ConditionalDelete(const fhir::TypeInfo& type) {
    return WithTransaction([&](storage::WriteTransaction& txn) -> RestResponse {
      auto matches = Match(txn, type, request_.params, "");
      if (!matches.ok()) return ErrorResponse(matches.status());
      if (matches->size() > 1) return MultipleMatches(type, matches->size());
      if (matches->empty()) {
        RestResponse r;
        r.status = 204;
        return r;
      }
      return DeleteIn(txn, type, (*matches)[0]);
    });
  }

  RestResponse Patch(const fhir::TypeInfo& type, const std::string& id) {
    // JSON Patch, or FHIRPath Patch: a Parameters resource (http://hl7.org/fhir/R4/fhirpatch.html).
    std::optional<fhir::Parameters> fhirpath_patch;
    if (request_.content_type == "application/fhir+json" ||
        request_.content_type == "application/json") {
      auto parameters = fhir::json::Parse<fhir::Parameters>(request_.body);
      if (!parameters.ok()) return ErrorResponse(parameters.status());
      fhirpath_patch = std::move(parameters).value();
    } else if (request_.content_type != "application/json-patch+json") {
      return ErrorResponse(415, IssueType::kNotSupported,
                           "PATCH supports Content-Type application/json-patch+json (JSON "
                           "Patch) and application/fhir+json with a Parameters body (FHIRPath "
                           "Patch)");
    }
    return WithTransaction([&](storage::WriteTransaction& txn) -> RestResponse {
      auto current = txn.ReadCurrent(type.name, id);
      if (!current.ok()) return NotFoundOrError(current.status(), type, id);
      if (current->deleted) return Gone(type, id, *current);
      std::optional<StoredVersion> cur = *current;
      if (RestResponse failed; !CheckIfMatch(cur, failed)) return failed;
      if (auto refused = RefuseCurrent(*current, auth::Interaction::kPatch)) return *refused;
      if (fhirpath_patch) {
        // Errors: 400 for a malformed patch, 422 when it cannot apply or makes an invalid resource.
        auto stored = fhir::json::ParseResource(current->json, fhir::json::kStoredJson);
        if (!stored.ok()) return ErrorResponse(stored.status());
        auto result = fhir::patch::ApplyFhirPathPatch(**stored, *fhirpath_patch);
        if (!result.ok()) return ErrorResponse(result.status());
        if (result.value()->type_info().name != type.name || result.value()->id != id) {
          return ErrorResponse(422, IssueType::kProcessing,
                               "A patch must not change the resource type or id");
        }
        if (auto refused = RefuseResident(*result.value(), auth::Interaction::kPatch)) {
          return *refused;
        }
        return Store(txn, *result.value(), cur);
      }
      auto patched = fhir::json::ApplyJsonPatch(current->json, request_.body);
      if (!patched.ok()) return ErrorResponse(patched.status());
      auto parsed = fhir::json::ParseResource(*patched);
      if (!parsed.ok()) {
        // The patch produced an invalid resource: the request is well-formed but unprocessable.
        RestResponse r = ErrorResponse(parsed.status());
        r.status = 422;
        return r;
      }
      if (parsed.value()->type_info().name != type.name || parsed.value()->id != id) {
        return ErrorResponse(422, IssueType::kProcessing,
                             "A patch must not change the resource type or id");
      }
      if (auto refused = RefuseResident(*parsed.value(), auth::Interaction::kPatch)) {
        return *refused;
      }
      return Store(txn, *parsed.value(), cur);
    });
  }

  RestResponse History(const fhir::TypeInfo* type, const std::string& id) {
    storage::HistoryQuery q;
    if (type != nullptr) q.type = type->name;
    q.id = id;
    for (const auto& [key, value] : request_.params) {
      if (key == "_count") {
        if (!ParseCount(value, q.count)) return BadParam(key, value, "a non-negative integer");
      } else if (key == "_since") {
        if (!fhir::IsValidInstant(value)) {
          return BadParam(key, value, "an instant with a time zone, e.g. 2024-01-31T12:00:00Z");
        }
        q.since = NormalizeInstant(value);
      } else if (key == "_at") {
        if (!fhir::IsValidDateTime(value)) {
          return BadParam(key, value, "a date or dateTime, e.g. 2024-01-31 or 2024-01-31T12:00:00Z");
        }
        q.at = NormalizeInstant(value);
      } else if (key == "_cursor") {
        if (!ParseInt(value, q.before_sequence)) {
          return BadParam(key, value, "a cursor from a history page's link");
        }
      } else if (key == "_format" || key == "_pretty") {
      } else if (Strict(request_)) {
        return ErrorResponse(400, IssueType::kNotSupported,
                             "Unknown or unsupported history parameter '" + key + "'", key);
      }
    }
    const bool instance = type != nullptr && !id.empty();
    if (instance) {
      auto current = ctx_.ReadCurrent(type->name, id);
      if (!current.ok()) return NotFoundOrError(current.status(), *type, id);
      if (!current->deleted) {
        if (auto refused = RefuseCurrent(*current, auth::Interaction::kHistoryInstance)) return *refused;
      }
    }
    auto page = ctx_.store.History(q);
    if (!page.ok()) return ErrorResponse(page.status());
    // Versions the caller may not see are left out (a version's own content decides; a
    // deletion is shown only in an instance history the caller may read).
    bool redacted = false;
    if (ctx_.access != nullptr) {
      const auth::Interaction interaction =
          instance ? auth::Interaction::kHistoryInstance : auth::Interaction::kHistoryType;
      std::vector<StoredVersion> kept;
      for (StoredVersion& v : page->versions) {
        bool allowed = true;
        if (ctx_.access->ModeFor(v.type, interaction) !=
            auth::AccessControl::Mode::kUnrestricted) {
          if (v.deleted) {
            allowed = instance;
          } else {
            auto verdict = ctx_.access->DecideStored(v, interaction);
            if (!verdict.ok()) return ErrorResponse(verdict.status());
            allowed = verdict->allowed;
          }
        }
        if (allowed) {
          if (!v.deleted) v.json = Marked(v.json);
          kept.push_back(std::move(v));
        } else {
          redacted = true;
        }
      }
      page->versions = std::move(kept);
    }
    std::string self = HistoryPath(type, id);
    BundleWriter bundle("history");
    if (!redacted) bundle.Total(page->total);  // the total would count what was left out
    bundle.Link("self", options_.base_url + "/" + self + QueryString(request_.params, {}));
    if (page->more && !page->versions.empty()) {
      auto params = WithParam(request_.params, "_cursor",
                              std::to_string(page->versions.back().sequence));
      bundle.Link("next", options_.base_url + "/" + self + QueryString(params, {}));
    }
    for (const StoredVersion& v : page->versions) {
      bundle.HistoryEntry(options_.base_url, v);
    }
    RestResponse r;
    r.body = redacted ? auth::MarkRedacted(bundle.Finish()) : bundle.Finish();
    return r;
  }

  // GET [compartment]/[id]/[type]?...: a search of `type` within the compartment of the
  // resource (R4 CompartmentDefinitions: Patient, Encounter, Practitioner, RelatedPerson, Device).
  RestResponse CompartmentSearch(const fhir::TypeInfo& owner, const std::string& id,
                                 const fhir::TypeInfo& type) {
    const fhir::CompartmentMember* member =
        fhir::search::FindCompartmentMember(owner.name, type.name);
    if (member == nullptr) {
      return ErrorResponse(404, IssueType::kNotFound,
                           std::string(type.name) + " resources are never in a " +
                               std::string(owner.name) + " compartment");
    }
    storage::CompartmentFilter filter;
    filter.owner_type = owner.name;
    filter.owner_ids = {id};
    for (std::string_view param : member->params) filter.params.emplace_back(param);
    search::SearchTarget target{ctx_.store, ctx_.txn, options_.base_url, ctx_.access.get()};
    std::string path = std::string(owner.name) + "/" + id + "/" + std::string(type.name);
    return search::RunSearch(target, type.name, request_.params, Strict(request_), path, &filter);
  }

  // GET [compartment]/[id]/*?...: every resource in the compartment of the resource, of any
  // type (narrowed by _type), with the parameters of a system search.
  RestResponse CompartmentSearchAll(const fhir::TypeInfo& owner, const std::string& id) {
    storage::CompartmentFilter filter;
    filter.owner_type = owner.name;
    filter.owner_ids = {id};
    filter.type_params = fhir::search::CompartmentTypeParams(owner.name);
    if (filter.type_params.empty()) {
      return ErrorResponse(404, IssueType::kNotFound,
                           std::string(owner.name) + " is not a compartment (R4 has Patient, "
                                                     "Encounter, RelatedPerson, Practitioner and "
                                                     "Device)");
    }
    search::SearchTarget target{ctx_.store, ctx_.txn, options_.base_url, ctx_.access.get()};
    std::string path = std::string(owner.name) + "/" + id + "/*";
    return search::RunSearch(target, std::string_view(), request_.params, Strict(request_), path,
                             &filter);
  }

  // GET [type]?... and POST [type]/_search (form body), GET [base]?... (type null).
  RestResponse Search(const fhir::TypeInfo* type) {
    search::Params params = request_.params;
    std::string path = type != nullptr ? std::string(type->name) : std::string();
    if (request_.method == "POST") {
      if (request_.content_type != "application/x-www-form-urlencoded") {
        return ErrorResponse(415, IssueType::kNotSupported,
                             "POST _search takes an application/x-www-form-urlencoded body");
      }
      for (auto& param : ParseQuery(request_.body)) params.push_back(std::move(param));
    }
    search::SearchTarget target{ctx_.store, ctx_.txn, options_.base_url, ctx_.access.get()};
    return search::RunSearch(target, type != nullptr ? type->name : std::string_view(), params,
                             Strict(request_), path);
  }

 private:
  // Access control (server/auth/access_control.h): a 403 when the caller may not touch `v`.
  std::optional<RestResponse> Refuse(const StoredVersion& v, auth::Interaction interaction) {
    if (ctx_.access == nullptr) return std::nullopt;
    return Refused(ctx_.access->DecideStored(v, interaction));
  }
  // The same for the current version of a resource.
  std::optional<RestResponse> RefuseCurrent(const StoredVersion& v,
                                            auth::Interaction interaction) {
    if (ctx_.access == nullptr) return std::nullopt;
    return Refused(ctx_.access->DecideCurrent(v, interaction));
  }
  // A resident writes only resources in their own compartment.
  std::optional<RestResponse> RefuseResident(const fhir::Resource& resource,
                                             auth::Interaction interaction) {
    if (ctx_.access == nullptr ||
        ctx_.access->ModeFor(resource.type_info().name, interaction) !=
            auth::AccessControl::Mode::kResident) {
      return std::nullopt;
    }
    return Refused(ctx_.access->Decide(resource, interaction));
  }
  // An update: the existing content needs access (Consent for a practitioner); a resident's
  // new content must stay in their compartment.
  std::optional<RestResponse> RefuseWrite(const std::optional<StoredVersion>& current,
                                          const fhir::Resource& resource,
                                          auth::Interaction interaction) {
    if (current && !current->deleted) {
      if (auto refused = RefuseCurrent(*current, interaction)) return refused;
    }
    return RefuseResident(resource, interaction);
  }
  static std::optional<RestResponse> Refused(
      const fhir::Result<auth::AccessControl::Verdict>& verdict) {
    if (!verdict.ok()) return ErrorResponse(verdict.status());
    if (verdict->allowed) return std::nullopt;
    return ErrorResponse(403, IssueType::kForbidden, verdict->diagnostics);
  }
  // A resource body as returned: tagged ETREAT when the emergency rule let it through.
  std::string Marked(const std::string& json) const {
    if (ctx_.access == nullptr || !ctx_.access->emergency_used()) return json;
    return auth::WithSecurityLabel(json, auth::kActReasonSystem, "ETREAT");
  }

  template <class F>
  RestResponse WithTransaction(F&& body) {
    if (ctx_.txn != nullptr) return body(*ctx_.txn);
    // One interaction writes once (Store, DeleteIn), as its last step: it commits with others.
    RestResponse r;
    fhir::Status committed = ctx_.store.WriteShared([&](storage::WriteTransaction& txn) {
      r = body(txn);
      return r.status < 400;
    });
    if (!committed.ok()) return ErrorResponse(committed);
    return r;
  }

  // Writes `resource` as the next version after `current` (nullopt: none), unless it equals
  // the current version's content.
  RestResponse Store(storage::WriteTransaction& txn, fhir::Resource& resource,
                     const std::optional<StoredVersion>& current) {
    bool exists = current.has_value();
    if (exists && !current->deleted) {
      SetMeta(resource, current->version, current->last_updated);
      if (fhir::json::Write(resource) == current->json) {
        RestResponse r = Representation(request_, *current, 200, "No change");
        r.location = Location(*current);
        return r;
      }
    }
    // A transaction entry that creates it may come prepared (bundle_processor).
    if (PreparedVersion* ready = ctx_.prepared; ready != nullptr && !exists &&
        ready->v.version == 1 && ready->v.id == resource.id &&
        ready->v.type == resource.type_info().name) {
      return PutPrepared(txn, *ready, /*created=*/true);
    }
    PreparedVersion prepared = PrepareVersion(resource, exists ? current->version + 1 : 1);
    return PutPrepared(txn, prepared, /*created=*/!exists || current->deleted);
  }

  RestResponse PutPrepared(storage::WriteTransaction& txn, PreparedVersion& prepared,
                           bool created) {
    fhir::Status put = txn.Put(prepared.v, prepared.index);
    if (!put.ok()) return ErrorResponse(put);
    RestResponse r = Representation(request_, prepared.v, created ? 201 : 200,
                                     created ? "Created" : "Updated");
    r.location = Location(prepared.v);
    return r;
  }

  RestResponse DeleteIn(storage::WriteTransaction& txn, const fhir::TypeInfo& type,
                        const std::string& id) {
    auto current = txn.ReadCurrent(type.name, id);
    RestResponse r;
    r.status = 204;
    if (!current.ok()) {
      if (current.status().type() == IssueType::kNotFound) return r;
      return ErrorResponse(current.status());
    }
    std::optional<StoredVersion> cur = *current;
    if (RestResponse failed; !CheckIfMatch(cur, failed)) return failed;
    if (current->deleted) return r;
    if (auto refused = RefuseCurrent(*current, auth::Interaction::kDelete)) return *refused;
    StoredVersion v;
    v.type = type.name;
    v.id = id;
    v.version = current->version + 1;
    v.last_updated = Now();
    v.deleted = true;
    fhir::Status put = txn.Put(v, {});
    if (!put.ok()) return ErrorResponse(put);
    r.etag = ETagOf(v.version);
    return r;
  }

  bool CheckIfMatch(const std::optional<StoredVersion>& current, RestResponse& failed) {
    if (request_.if_match.empty()) return true;
    auto wanted = VersionFromETag(request_.if_match);
    if (!wanted) {
      failed = ErrorResponse(400, IssueType::kValue,
                             "Malformed If-Match header (expected W/\"version\")");
      return false;
    }
    if (!current || current->deleted || current->version != *wanted) {
      failed = ErrorResponse(
          412, IssueType::kConflict,
          "If-Match " + request_.if_match + " does not match the current version" +
              (current ? " (" + ETagOf(current->version) + (current->deleted ? ", deleted)" : ")")
                       : " (the resource does not exist)"));
      return false;
    }
    return true;
  }

  // Matches for a conditional interaction. Unlike search, an unsupported parameter is always
  // an error: ignoring it would match too much.
  fhir::Result<std::vector<std::string>> Match(
      storage::WriteTransaction& txn, const fhir::TypeInfo& type,
      const std::vector<std::pair<std::string, std::string>>& params, std::string_view what) {
    bool any = false;
    for (const auto& [key, value] : params) any = any || (key != "_format" && key != "_pretty");
    if (!any) {
      return fhir::Status(IssueType::kInvalid,
                          std::string(what.empty() ? "A conditional interaction" : what) +
                              " needs search criteria");
    }
    return search::FindMatches(txn, type.name, params, ctx_.access.get());
  }

  RestResponse MultipleMatches(const fhir::TypeInfo& type, std::size_t n) {
    return ErrorResponse(412, IssueType::kMultipleMatches,
                         std::to_string(n) + " " + std::string(type.name) +
                             " resources match the criteria; a conditional interaction needs "
                             "at most one");
  }

  fhir::Result<StoredVersion> ReadVersionInTxn(const fhir::TypeInfo& type, const std::string& id,
                                               std::int64_t version) {
    auto current = ctx_.txn->ReadCurrent(type.name, id);
    if (current.ok() && current->version == version) return current;
    return ctx_.store.ReadVersion(type.name, id, version);
  }

  RestResponse NotFoundOrError(const fhir::Status& status, const fhir::TypeInfo& type,
                               const std::string& id) {
    if (status.type() != IssueType::kNotFound) return ErrorResponse(status);
    return ErrorResponse(404, IssueType::kNotFound,
                         std::string(type.name) + "/" + id + " is not known");
  }

  RestResponse Gone(const fhir::TypeInfo& type, const std::string& id, const StoredVersion& v) {
    RestResponse r = ErrorResponse(410, IssueType::kDeleted,
                                   std::string(type.name) + "/" + id + " was deleted");
    r.etag = ETagOf(v.version);
    r.last_modified = v.last_updated;
    return r;
  }

  RestResponse NotModified(const StoredVersion& v) {
    RestResponse r;
    r.status = 304;
    r.etag = ETagOf(v.version);
    r.last_modified = v.last_updated;
    return r;
  }

  // A 400 for `key`=`value`, saying what the parameter takes (`expected`).
  RestResponse BadParam(const std::string& key, const std::string& value,
                        const std::string& expected) {
    return ErrorResponse(400, IssueType::kValue,
                         "Invalid value '" + value + "' for parameter " + key + ": expected " +
                             expected,
                         key);
  }

  static std::string Location(const StoredVersion& v) {
    return v.type + "/" + v.id + "/_history/" + std::to_string(v.version);
  }

  static std::string HistoryPath(const fhir::TypeInfo* type, const std::string& id) {
    if (type == nullptr) return "_history";
    if (id.empty()) return std::string(type->name) + "/_history";
    return std::string(type->name) + "/" + id + "/_history";
  }

  RestService::Context& ctx_;
  const RestService::Options& options_;
  const RestRequest& request_;
};

}  // namespace

// ------------------------------------------------------------------------------------------

RestService::RestService(storage::Store& store, Options options)
    : store_(store), options_(std::move(options)) {}

namespace {

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Runs `dispatch` with the request's access control, and says in the response what the
// access rested on (X-Access-Basis: emergency, or the Consents).
template <class F>
RestResponse WithAccess(const RestRequest& request, RestService::Context& context, F&& dispatch) {
  if (request.principal) {
    context.access = std::make_unique<auth::AccessControl>(request.principal.get(), context.store,
                                                           context.txn, NowMs());
  }
  RestResponse r = dispatch();
  if (context.access != nullptr && r.status < 400) {
    std::string basis;
    if (context.access->emergency_used()) basis = "emergency";
    // A search may rest on many residents' Consents: the header names the first few.
    constexpr std::size_t kMaxNamed = 8;
    const std::set<std::string>& consents = context.access->consents_used();
    std::size_t named = 0;
    for (const std::string& consent : consents) {
      if (named++ == kMaxNamed) {
        basis += " and " + std::to_string(consents.size() - kMaxNamed) + " more Consents";
        break;
      }
      basis += (basis.empty() ? "" : ", ") + consent;
    }
    if (!basis.empty()) r.headers.emplace_back("X-Access-Basis", basis);
    if (context.access->emergency_used()) {
      r.access_basis.emergency = true;
      r.access_basis.reason = "emergency access (purpose of use ETREAT) without Consent";
    }
    if (!context.access->consents_used().empty()) {
      r.access_basis.consent = *context.access->consents_used().begin();
    }
  }
  return r;
}

}  // namespace

RestResponse RestService::Handle(const RestRequest& request) {
  // Journaled AuditEvents become resources before anything may read them (server/audit).
  if (options_.audit != nullptr && audit::MayReadAuditEvents(request)) options_.audit->Flush();
  // A write commits together with others that are on their way (group commit, storage/store.h).
  std::shared_ptr<void> expected_write;
  if (request.method == "POST" || request.method == "PUT" || request.method == "PATCH" ||
      request.method == "DELETE") {
    expected_write = store_.ExpectWrite();
  }
  Context context{store_, nullptr};
  return WithAccess(request, context, [&] { return Dispatch(request, context); });
}

RestResponse RestService::HandleIn(const RestRequest& request, storage::WriteTransaction& txn) {
  Context context{store_, &txn};
  return WithAccess(request, context, [&] { return Dispatch(request, context); });
}

RestResponse RestService::HandleIn(const RestRequest& request, storage::WriteTransaction& txn,
                                   std::unique_ptr<fhir::Resource> resource,
                                   PreparedVersion* prepared,
                                   std::vector<std::unique_ptr<fhir::Resource>>* spent) {
  Context context{store_, &txn, std::move(resource), prepared};
  context.spent = spent;
  return WithAccess(request, context, [&] { return Dispatch(request, context); });
}

RestResponse RestService::Dispatch(const RestRequest& request, Context& context) {
  const auto& s = request.segments;
  const std::string& m = request.method;
  bool get = m == "GET" || m == "HEAD";
  auto not_allowed = [&](std::string allow) {
    RestResponse r = ErrorResponse(405, IssueType::kNotSupported,
                                   "Method " + m + " is not allowed here");
    r.headers.emplace_back("Allow", std::move(allow));
    return r;
  };
  if (std::optional<RestResponse> refused = audit::RejectClientWrite(request)) return *refused;
  if (s.empty()) {
    if (m == "POST") return ProcessBundle(*this, request, context.txn != nullptr);
    if (get) {
      Interactions i(context, options_, request);
      return i.Search(nullptr);
    }
    return not_allowed("GET, POST");
  }
  if (s.size() == 1 && s[0] == "_history") {
    if (!get) return not_allowed("GET");
    Interactions i(context, options_, request);
    return i.History(nullptr, "");
  }
  const fhir::TypeInfo* type = fhir::FindResourceType(s[0]);
  if (type == nullptr) {
    return ErrorResponse(404, IssueType::kNotFound, "Unknown resource type '" + s[0] + "'");
  }
  // A resident's privacy Consents are theirs to write (or a system/ scope's), and
  // PractitionerRoles (which carry Consents given to Organizations) a system/ scope's: a
  // practitioner who could write them could grant themselves access.
  if (context.access != nullptr && (type->name == "Consent" || type->name == "PractitionerRole") &&
      !get && !(s.size() == 2 && s[1] == "_search")) {
    const auth::Interaction interaction = m == "POST"     ? auth::Interaction::kCreate
                                          : m == "DELETE" ? auth::Interaction::kDelete
                                          : m == "PATCH"  ? auth::Interaction::kPatch
                                                          : auth::Interaction::kUpdate;
    if (context.access->ModeFor(type->name, interaction) ==
        auth::AccessControl::Mode::kPractitioner) {
      return ErrorResponse(403, IssueType::kForbidden,
                           type->name == "Consent"
                               ? "Only the resident (or a system/ scope) may write their Consents"
                               : "Only a system/ scope may write PractitionerRoles: they carry "
                                 "the Consents given to Organizations");
    }
  }
  Interactions i(context, options_, request);
  if (s.size() == 1) {
    if (get) return i.Search(type);
    if (m == "POST") return i.Create(*type);
    if (m == "PUT") {
      if (request.params.empty()) {
        return ErrorResponse(400, IssueType::kInvalid,
                             "PUT on a type needs search criteria (conditional update) or an id");
      }
      return i.ConditionalUpdate(*type);
    }
    if (m == "DELETE") {
      if (request.params.empty()) {
        return ErrorResponse(400, IssueType::kInvalid,
                             "DELETE on a type needs search criteria (conditional delete)");
      }
      return i.ConditionalDelete(*type);
    }
    return not_allowed("GET, HEAD, POST, PUT, DELETE");
  }
  if (s.size() == 2 && s[1] == "_history") {
    if (!get) return not_allowed("GET");
    return i.History(type, "");
  }
  if (s.size() == 2 && s[1] == "_search") {
    if (m != "POST") return not_allowed("POST");
    return i.Search(type);
  }
  const std::string& id = s[1];
  if (!fhir::IsValidId(id)) {
    return ErrorResponse(404, IssueType::kNotFound, "'" + id + "' is not a valid resource id");
  }
  if (s.size() == 2) {
    if (get) return i.Read(*type, id);
    if (m == "PUT") return i.Update(*type, id);
    if (m == "DELETE") return i.Delete(*type, id);
    if (m == "PATCH") return i.Patch(*type, id);
    return not_allowed("GET, HEAD, PUT, PATCH, DELETE");
  }
  if (s.size() == 3 && s[2] == "_history") {
    if (!get) return not_allowed("GET");
    return i.History(type, id);
  }
  if (s.size() == 3 && s[2] == "*") {
    if (!get) return not_allowed("GET");
    return i.CompartmentSearchAll(*type, id);
  }
  if (s.size() == 3 && fhir::FindResourceType(s[2]) != nullptr) {
    if (!get) return not_allowed("GET");
    return i.CompartmentSearch(*type, id, *fhir::FindResourceType(s[2]));
  }
  if (s.size() == 4 && s[2] == "_history") {
    if (!get) return not_allowed("GET");
    return i.VRead(*type, id, s[3]);
  }
  return ErrorResponse(404, IssueType::kNotFound, "No interaction at this path");
}

}  // namespace server
