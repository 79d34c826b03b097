#include "server/bundle_processor.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fhir/base/base64.h"
#include "fhir/json/parser.h"
#include "fhir/json/writer.h"
#include "fhir/model/registry.h"
#include "fhir/model/visit.h"
#include "fhir/r4/binary.h"
#include "fhir/r4/bundle.h"
#include "server/audit/audit.h"
#include "server/auth/access_control.h"
#include "server/auth/request_scopes.h"
#include "server/rest_service.h"
#include "server/rest_util.h"
#include "server/search/search_interaction.h"
#include "server/version_preparer.h"

namespace server {
namespace {

using fhir::IssueType;

std::string ReasonPhrase(int status) {
  switch (status) {
    case 200: return "200 OK";
    case 201: return "201 Created";
    case 204: return "204 No Content";
    case 304: return "304 Not Modified";
    case 400: return "400 Bad Request";
    case 403: return "403 Forbidden";
    case 404: return "404 Not Found";
    case 405: return "405 Method Not Allowed";
    case 409: return "409 Conflict";
    case 410: return "410 Gone";
    case 412: return "412 Precondition Failed";
    case 415: return "415 Unsupported Media Type";
    case 422: return "422 Unprocessable Entity";
    default: return std::to_string(status);
  }
}

void Write(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// The Bundle.entry.response of one answered entry (with the resource for reads, or when the
// client asked for representations).
std::string ResponseEntry(const RestResponse& r, bool with_resource) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  if (with_resource && !r.body.empty() && r.status < 300) {
    w.Key("resource");
    w.RawValue(r.body.data(), r.body.size(), rapidjson::kObjectType);
  }
  w.Key("response");
  w.StartObject();
  w.Key("status");
  Write(w, ReasonPhrase(r.status));
  if (!r.location.empty()) {
    w.Key("location");
    Write(w, r.location);
  }
  if (!r.etag.empty()) {
    w.Key("etag");
    Write(w, r.etag);
  }
  if (!r.last_modified.empty()) {
    w.Key("lastModified");
    Write(w, r.last_modified);
  }
  if (r.status >= 400 && !r.body.empty()) {
    w.Key("outcome");
    w.RawValue(r.body.data(), r.body.size(), rapidjson::kObjectType);
  }
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

// The answers of one Bundle's entries together stay under this many bytes: a batch of 2,000
// searches (`GET Patient?_revinclude=*&_count=1000`, 17 MB each) grew the server's memory
// without bound. Past it, a batch answers its remaining entries too-costly without running them,
// and a transaction fails.
constexpr std::size_t kMaxBundleAnswerBytes = std::size_t{64} << 20;

std::string AnswersTooLarge(std::size_t index) {
  return "Entry " + std::to_string(index) + " was not run: the answers of the entries before it "
         "exceed " + std::to_string(kMaxBundleAnswerBytes >> 20) + " MiB";
}

struct Entry {
  std::size_t index;  // position in the Bundle
  fhir::Bundle::Entry* entry;
  std::string method;
  std::string url;
  RestResponse response;
  // The `reference` of every Reference in the entry's resource, found before the transaction
  // takes the write gate (CollectReferences) and rewritten inside it (RewriteReferences).
  std::vector<std::string*> references;
};

// Fills each entry's `references`: walking the resources' element trees is a twentieth of a
// Synthea Bundle's time, and needs no store.
void CollectReferences(std::vector<Entry>& entries) {
  for (Entry& e : entries) {
    if (!e.entry->resource) continue;
    fhir::Resource& r = *e.entry->resource;
    fhir::VisitObjects(r.type_info(), r.type_info().object_of(&r),
                       [&](const fhir::TypeInfo& type, void* object) {
                         if (&type != &fhir::reflect::Reference) return;
                         auto& ref = static_cast<fhir::Reference*>(object)->reference.value;
                         if (ref) e.references.push_back(&*ref);
                       });
  }
}

int Rank(const std::string& method) {
  if (method == "DELETE") return 0;
  if (method == "POST") return 1;
  if (method == "PUT" || method == "PATCH") return 2;
  return 3;
}

// Whether entry `e` hands its parsed resource to the interaction (RestService::HandleIn)
// instead of a JSON body: creates and updates in a transaction.
bool HandsOverResource(const Entry& e) {
  return static_cast<bool>(e.entry->resource) && (e.method == "POST" || e.method == "PUT");
}

// Builds the RestRequest of one entry. `url` is relative to the base ("Patient/1?x=y").
// The entry's resource becomes the body unless `hand_over` (see HandsOverResource).
RestRequest EntryRequest(const RestRequest& outer, const Entry& e, bool hand_over = false) {
  RestRequest r;
  r.method = e.method;
  std::string_view url = e.url;
  std::size_t q = url.find('?');
  std::string_view path = url.substr(0, q);
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty()) {
    std::size_t slash = path.find('/');
    r.segments.push_back(PercentDecode(path.substr(0, slash)));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  if (q != std::string_view::npos) r.params = ParseQuery(url.substr(q + 1));
  const fhir::Bundle::Entry::Request& req = *e.entry->request;
  if (req.if_match.value) r.if_match = *req.if_match.value;
  if (req.if_none_match.value) r.if_none_match = *req.if_none_match.value;
  if (req.if_none_exist.value) r.if_none_exist = *req.if_none_exist.value;
  if (req.if_modified_since.value) {
    r.if_modified_since = HttpDateFromInstant(*req.if_modified_since.value);
  }
  r.prefer = outer.prefer;
  r.principal = outer.principal;
  if (e.entry->resource) {
    if (!hand_over) r.body = fhir::json::Write(*e.entry->resource);
    r.content_type = "application/fhir+json";
    if (e.method == "PATCH" && e.entry->resource->type_info().name == "Binary") {
      // JSON Patch travels as a Binary resource in Bundles (http.html#patch), its document
      // base64-encoded in `data` (left as it is when it is not base64: the patch then fails
      // as not JSON).
      auto* binary = static_cast<fhir::Binary*>(e.entry->resource.get());
      r.content_type = binary->content_type.value.value_or("");
      r.body = binary->data.value.value_or("");
      if (std::optional<std::string> decoded = fhir::Base64Decode(r.body)) {
        r.body = std::move(*decoded);
      }
    }
  }
  return r;
}

class TransactionRunner {
 public:
  // Why an entry cannot be run: the HTTP status and the issues.
  struct Failure {
    int http_status;
    fhir::Status cause;
  };

  TransactionRunner(RestService& service, const RestRequest& request, std::vector<Entry>& entries,
                    storage::WriteTransaction& txn)
      : service_(service), request_(request), entries_(entries), txn_(txn) {
    // Conditional matches see only what the caller may see (issue 5).
    if (request.principal) {
      access_ = std::make_unique<auth::AccessControl>(
          request.principal.get(), service.store(), &txn,
          std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count());
    }
  }

  // Fills each entry's response; returns the first failure (status >= 400), if any.
  std::optional<RestResponse> Run() {
    if (auto failed = AssignIds()) return failed;
    if (auto failed = RewriteReferences()) return failed;
    std::vector<Entry*> order;
    for (Entry& e : entries_) order.push_back(&e);
    std::stable_sort(order.begin(), order.end(),
                     [](const Entry* a, const Entry* b) { return Rank(a->method) < Rank(b->method); });
    // The resources the transaction creates (POSTs, now PUTs to fresh ids), in order.
    std::vector<fhir::Resource*> creating;
    std::map<std::size_t, std::size_t> creating_at;  // entry index -> position in `creating`
    for (const Entry* e : order) {
      if (created_.count(e->index) && !existing_.count(e->index) && HandsOverResource(*e)) {
        creating_at[e->index] = creating.size();
        creating.push_back(e->entry->resource.get());
      }
    }
    preparer_ = std::make_unique<VersionPreparer>(std::move(creating));
    for (Entry* e : order) {
      if (existing_.count(e->index)) {
        e->response = service_.HandleIn(ReadRequest(existing_[e->index]), txn_);
        continue;
      }
      // A transaction entry's resource is not written to JSON and parsed again: the model
      // parsed with the Bundle (references rewritten) goes to the interaction as it is.
      const bool hand_over = HandsOverResource(*e);
      RestRequest request = EntryRequest(request_, *e, hand_over);
      if (hand_over) {
        auto at = creating_at.find(e->index);
        PreparedVersion* prepared =
            at != creating_at.end() ? preparer_->Get(at->second) : nullptr;
        e->response = service_.HandleIn(request, txn_, e->entry->resource.release(), prepared,
                                        &spent_);
      } else {
        e->response = service_.HandleIn(request, txn_);
      }
      if (e->response.status >= 400) return e->response;
      if (auto failed = CheckWrittenOnce(*e, request)) return failed;
      answered_ += e->response.body.size();
      if (answered_ > kMaxBundleAnswerBytes) {
        return Fail(*e, 400, fhir::Status(IssueType::kTooCostly, AnswersTooLarge(e->index + 1)));
      }
    }
    return std::nullopt;
  }

 private:
  RestRequest ReadRequest(const std::string& reference) {
    RestRequest r;
    r.method = "GET";
    std::size_t slash = reference.find('/');
    r.segments = {reference.substr(0, slash), reference.substr(slash + 1)};
    r.principal = request_.principal;
    return r;
  }

  // POST entries become PUTs to fresh ids (or reads of the resource `ifNoneExist` finds), so
  // references to their fullUrls can be rewritten before anything is written.
  std::optional<RestResponse> AssignIds() {
    for (Entry& e : entries_) {
      fhir::Bundle::Entry& entry = *e.entry;
      std::string full_url = entry.full_url.value.value_or("");
      if (e.method == "POST" && entry.resource) {
        std::string type(entry.resource->type_info().name);
        const std::string_view url_type =
            std::string_view(e.url).substr(0, e.url.find_first_of("/?"));
        if (url_type != type) {
          return Fail(e, 400,
                      fhir::Status(IssueType::kInvalid,
                                   "The entry's resource is a " + type + ", but its request.url " +
                                       "creates a " + std::string(url_type),
                                   "Bundle.entry[" + std::to_string(e.index) + "].resource"));
        }
        const auto& req = *entry.request;
        std::string criteria;  // type?ifNoneExist
        if (req.if_none_exist.value) {
          criteria = type + "?" + *req.if_none_exist.value;
          // An earlier entry creates with the same criteria: this one is that resource (two
          // entries must not create the same resource twice).
          if (auto same = conditional_creates_.find(criteria); same != conditional_creates_.end()) {
            existing_[e.index] = same->second;
            if (!full_url.empty()) ids_[full_url] = same->second;
            e.method = "PUT";  // ordered as the creating entry (now a PUT), after it
            continue;
          }
          auto ids = search::FindMatches(txn_, type, ParseQuery(*req.if_none_exist.value),
                                         access_.get());
          if (!ids.ok()) return Fail(e, ErrorResponse(ids.status()).status, ids.status());
          if (ids->size() > 1) {
            return Fail(e, 412,
                        fhir::Status(IssueType::kMultipleMatches,
                                     "ifNoneExist matches " + std::to_string(ids->size()) +
                                         " resources",
                                     "Bundle.entry[" + std::to_string(e.index) +
                                         "].request.ifNoneExist"));
          }
          if (ids->size() == 1) {
            existing_[e.index] = type + "/" + (*ids)[0];
            if (!full_url.empty()) ids_[full_url] = existing_[e.index];
            continue;
          }
        }
        std::string id = NewResourceId(type);
        entry.resource->id = id;
        if (!criteria.empty()) conditional_creates_.emplace(criteria, type + "/" + id);
        e.method = "PUT";
        e.url = type + "/" + id;
        created_.insert(e.index);
        if (!full_url.empty()) ids_[full_url] = type + "/" + id;
      } else if (!full_url.empty() && entry.resource && !entry.resource->id.empty()) {
        ids_[full_url] = std::string(entry.resource->type_info().name) + "/" + entry.resource->id;
      }
    }
    return std::nullopt;
  }

  std::optional<RestResponse> RewriteReferences() {
    for (Entry& e : entries_) {
      for (std::string* ref : e.references) {
        if (auto f = Resolve(*ref)) return Fail(e, f->http_status, f->cause);
      }
    }
    return std::nullopt;
  }

  // A transaction writes each resource once: "if any resource identities (including resolved
  // identities from conditional update/delete) overlap", it fails (http.html#trules). `e` was
  // just written by `request`; records the resource it wrote (a conditional delete's are not
  // known here) and fails when an earlier entry wrote it.
  std::optional<RestResponse> CheckWrittenOnce(const Entry& e, const RestRequest& request) {
    if (e.method == "GET" || e.method == "HEAD") return std::nullopt;
    std::string identity;
    if (!e.response.location.empty()) {  // a create or update: Type/id/_history/n
      identity = e.response.location.substr(0, e.response.location.find("/_history/"));
    } else if (e.method == "DELETE" && request.segments.size() == 2 && request.params.empty()) {
      identity = request.segments[0] + "/" + request.segments[1];
    }
    if (identity.empty()) return std::nullopt;
    auto [at, added] = written_.emplace(identity, e.index);
    if (added) return std::nullopt;
    return Fail(e, 400,
                fhir::Status(IssueType::kBusinessRule,
                             "Entry " + std::to_string(e.index) + " writes " + identity +
                                 ", which entry " + std::to_string(at->second) +
                                 " writes too; a transaction may write each resource once",
                             "Bundle.entry[" + std::to_string(e.index) + "].request.url"));
  }

  // Rewrites one reference in place; returns why it cannot be resolved, if it cannot.
  std::optional<Failure> Resolve(std::string& ref) {
    if (auto it = ids_.find(ref); it != ids_.end()) {
      ref = it->second;
      return std::nullopt;
    }
    if (ref.rfind("urn:uuid:", 0) == 0 || ref.rfind("urn:oid:", 0) == 0) {
      return Failure{400, fhir::Status(IssueType::kNotFound,
                                       "The reference " + ref +
                                           " names no entry of the transaction")};
    }
    std::size_t q = ref.find('?');
    if (q == std::string::npos || ref.find("://") != std::string::npos) return std::nullopt;
    // Nothing is written before every reference is resolved, so one answer per distinct
    // conditional reference holds for the whole transaction (Synthea repeats a few hundred
    // times the same Practitioner?identifier=... and Organization?identifier=...).
    if (auto it = conditional_.find(ref); it != conditional_.end()) {
      ref = it->second;
      return std::nullopt;
    }
    std::string type = ref.substr(0, q);
    if (fhir::FindResourceType(type) == nullptr) {
      return Failure{400, fhir::Status(IssueType::kNotFound,
                                       "Unknown resource type in conditional reference " + ref)};
    }
    auto ids = search::FindMatches(txn_, type, ParseQuery(ref.substr(q + 1)), access_.get());
    if (!ids.ok()) return Failure{ErrorResponse(ids.status()).status, ids.status()};
    if (ids->size() != 1) {
      return Failure{412, fhir::Status(ids->empty() ? IssueType::kNotFound
                                                     : IssueType::kMultipleMatches,
                                       "The conditional reference " + ref + " matches " +
                                           std::to_string(ids->size()) +
                                           " resources; it must match one")};
    }
    std::string resolved = type + "/" + (*ids)[0];
    conditional_.emplace(ref, resolved);
    ref = std::move(resolved);
    return std::nullopt;
  }

  // The failure of entry `e` for `cause`, which fails the whole transaction: the cause's
  // issues (placed at the entry when they name no element), then which entry failed, as sent.
  static RestResponse Fail(const Entry& e, int http_status, const fhir::Status& cause) {
    const std::string at = "Bundle.entry[" + std::to_string(e.index) + "]";
    std::vector<fhir::Issue> issues = cause.issues();
    for (fhir::Issue& issue : issues) {
      if (issue.expression.empty()) issue.expression = at;
    }
    const auto& sent = *e.entry->request;
    issues.push_back({fhir::Severity::kError, IssueType::kProcessing,
                      "Entry " + std::to_string(e.index) + " (" +
                          sent.method.value.value_or("") + " " + sent.url.value.value_or("") +
                          ") failed; the transaction was rolled back",
                      at});
    RestResponse r;
    r.status = http_status;
    r.body = OperationOutcomeOf(fhir::Status(std::move(issues)));
    return r;
  }

  RestService& service_;
  const RestRequest& request_;
  std::vector<Entry>& entries_;
  storage::WriteTransaction& txn_;
  std::map<std::string, std::string> ids_;           // fullUrl -> Type/id
  std::map<std::size_t, std::string> existing_;      // entry index -> Type/id found
  std::map<std::string, std::string> conditional_;   // conditional reference -> Type/id
  std::map<std::string, std::string> conditional_creates_;  // type?ifNoneExist -> Type/id made
  std::map<std::string, std::size_t> written_;       // Type/id written -> the entry that did
  std::set<std::size_t> created_;
  std::size_t answered_ = 0;  // bytes of the entries' answers so far
  std::unique_ptr<auth::AccessControl> access_;
  // What the entries no longer need, freed with the runner, after the commit: outside the write
  // gate (freeing a Synthea Bundle's models and index entries was a twelfth of its gate time).
  std::unique_ptr<VersionPreparer> preparer_;
  std::vector<std::unique_ptr<fhir::Resource>> spent_;
};

std::string BundleResponse(std::string_view type, const std::vector<Entry>& entries,
                           bool representation) {
  BundleWriter bundle(type);
  for (const Entry& e : entries) {
    bundle.RawEntry(ResponseEntry(e.response, representation || e.method == "GET" ||
                                                  e.method == "HEAD"));
  }
  return bundle.Finish();
}

}  // namespace

RestResponse ProcessBundle(RestService& service, const RestRequest& request, bool nested) {
  if (nested) {
    return ErrorResponse(400, IssueType::kNotSupported,
                         "A batch or transaction cannot contain another one");
  }
  if (request.body.empty()) {
    return ErrorResponse(400, IssueType::kStructure, "POST to the base needs a Bundle");
  }
  fhir::json::ParseOptions options;
  options.lenient = request.prefer.find("handling=lenient") != std::string::npos;
  auto parsed = fhir::json::ParseResource(request.body, options);
  if (!parsed.ok()) return ErrorResponse(parsed.status());
  if (parsed.value()->type_info().name != "Bundle") {
    return ErrorResponse(400, IssueType::kInvalid,
                         "POST to the base needs a Bundle, not a " +
                             std::string(parsed.value()->type_info().name),
                         "resourceType");
  }
  auto& bundle = static_cast<fhir::Bundle&>(*parsed.value());
  std::string type = bundle.type.value.value_or("");
  if (type != "batch" && type != "transaction") {
    return ErrorResponse(400, IssueType::kInvalid,
                         "POST to the base accepts Bundles of type batch or transaction, not '" +
                             type + "'",
                         "Bundle.type");
  }
  std::vector<Entry> entries;
  for (std::size_t i = 0; i < bundle.entry.size(); ++i) {
    fhir::Bundle::Entry& entry = bundle.entry[i];
    std::string at = "Bundle.entry[" + std::to_string(i) + "].request";
    if (!entry.request || !entry.request->method.value || !entry.request->url.value) {
      return ErrorResponse(400, IssueType::kRequired,
                           "Each entry of a " + type + " needs request.method and request.url",
                           at);
    }
    entries.push_back(
        {i, &entry, *entry.request->method.value, *entry.request->url.value, {}, {}});
  }
  // bdl-7: fullUrls are unique, unless the entries are different versions of one resource.
  std::map<std::pair<std::string, std::string>, std::size_t> full_urls;  // (url, versionId)
  for (std::size_t i = 0; i < bundle.entry.size(); ++i) {
    const fhir::Bundle::Entry& entry = bundle.entry[i];
    if (!entry.full_url.value) continue;
    std::string version;
    if (entry.resource && entry.resource->meta && entry.resource->meta->version_id.value) {
      version = *entry.resource->meta->version_id.value;
    }
    auto [at, added] = full_urls.emplace(std::pair{*entry.full_url.value, version}, i);
    if (!added) {
      return ErrorResponse(400, IssueType::kInvariant,
                           "Entries " + std::to_string(at->second) + " and " + std::to_string(i) +
                               " have the same fullUrl " + *entry.full_url.value +
                               "; fullUrls must be unique in a Bundle (bdl-7)",
                           "Bundle.entry[" + std::to_string(i) + "].fullUrl");
    }
  }
  // Scopes (server/auth): a forbidden entry fails a transaction whole, and gets 403 in a batch.
  std::vector<std::string> forbidden(entries.size());  // the 403 diagnostics; "" = allowed
  for (Entry& e : entries) {
    if (!request.principal) break;
    std::optional<std::string> problem =
        auth::EntryScopeProblem(*request.principal, e.method, e.url);
    if (!problem) continue;
    if (type == "batch") {
      forbidden[e.index] = *problem;
      continue;
    }
    RestResponse denied =
        ErrorResponse(403, IssueType::kForbidden,
                      "Entry " + std::to_string(e.index) + " (" + e.method + " " + e.url +
                          "): " + *problem + "; the transaction was not run",
                      "Bundle.entry[" + std::to_string(e.index) + "]");
    denied.headers.emplace_back("WWW-Authenticate", auth::InsufficientScopeChallenge());
    return denied;
  }
  bool representation = request.prefer.find("return=representation") != std::string::npos;
  RestResponse out;
  audit::AuditLog* const audit_log = service.options().audit;  // each entry is audited
  if (type == "batch") {
    std::size_t answered = 0;
    for (Entry& e : entries) {
      if (answered > kMaxBundleAnswerBytes) {
        e.response = ErrorResponse(400, IssueType::kTooCostly, AnswersTooLarge(e.index));
      } else {
        e.response = forbidden[e.index].empty()
                         ? service.Handle(EntryRequest(request, e))
                         : ErrorResponse(403, IssueType::kForbidden, forbidden[e.index]);
      }
      answered += e.response.body.size();
      if (audit_log) audit_log->Submit(audit::EntryEvent(request, e.method, e.url, e.response));
    }
    out.body = BundleResponse("batch-response", entries, representation);
    return out;
  }
  // Journaled AuditEvents become resources before an entry may read them (server/audit);
  // not inside the transaction, whose write lock the audit writer needs.
  if (audit_log != nullptr &&
      std::any_of(entries.begin(), entries.end(), [](const Entry& e) {
        return audit::MayEntryReadAuditEvents(e.method, e.url);
      })) {
    audit_log->Flush();
  }
  CollectReferences(entries);
  auto txn = service.store().BeginWrite();
  if (!txn.ok()) return ErrorResponse(txn.status());
  std::vector<std::pair<std::string, std::string>> sent;  // method and url as sent: the
  for (const Entry& e : entries) sent.emplace_back(e.method, e.url);  // runner makes POSTs PUTs
  TransactionRunner runner(service, request, entries, *txn.value());
  if (std::optional<RestResponse> failed = runner.Run()) {
    return *failed;  // the transaction rolls back when `txn` goes
  }
  fhir::Status committed = txn.value()->Commit();
  if (!committed.ok()) return ErrorResponse(committed);
  // A failed transaction is audited as a whole (by the caller); a committed one per entry too.
  for (const Entry& e : entries) {
    if (audit_log) {
      const auto& [method, url] = sent[e.index];
      audit_log->Submit(audit::EntryEvent(request, method, url, e.response));
    }
  }
  out.body = BundleResponse("transaction-response", entries, representation);
  return out;
}

}  // namespace server
