#include "server/audit/audit.h"

#include <openssl/evp.h>

#include <algorithm>
#include <iterator>
#include <iostream>
#include <set>

#include <rapidjson/document.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fhir/model/registry.h"
#include "fhir/search/normalize.h"
#include "server/capability.h"
#include "server/rest_util.h"

namespace server::audit {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view kAuditEventType =
    "http://terminology.hl7.org/CodeSystem/audit-event-type";
constexpr std::string_view kRestfulInteraction = "http://hl7.org/fhir/restful-interaction";
constexpr std::string_view kActReason = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
constexpr std::string_view kEntityType = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
constexpr std::string_view kObjectRole = "http://terminology.hl7.org/CodeSystem/object-role";
constexpr std::string_view kSourceType =
    "http://terminology.hl7.org/CodeSystem/security-source-type";

void Str(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void Coding(Writer& w, std::string_view system, std::string_view code,
            std::string_view display = {}) {
  w.StartObject();
  w.Key("system");
  Str(w, system);
  w.Key("code");
  Str(w, code);
  if (!display.empty()) {
    w.Key("display");
    Str(w, display);
  }
  w.EndObject();
}

void CodeableConcept(Writer& w, std::string_view system, std::string_view code,
                     std::string_view text = {}) {
  w.StartObject();
  w.Key("coding");
  w.StartArray();
  Coding(w, system, code);
  w.EndArray();
  if (!text.empty()) {
    w.Key("text");
    Str(w, text);
  }
  w.EndObject();
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(std::max(n, 0)));
  return out;
}

bool IsType(const std::string& segment) { return fhir::FindResourceType(segment) != nullptr; }

// "Patient/1", "http://x/fhir/Patient/1/_history/2" -> "1"; "" for other references.
std::string PatientIdOf(std::string_view reference) {
  if (std::size_t history = reference.find("/_history/"); history != std::string_view::npos) {
    reference = reference.substr(0, history);
  }
  const std::size_t slash = reference.rfind('/');
  if (slash == std::string_view::npos) return {};
  const std::string_view id = reference.substr(slash + 1);
  const std::string_view head = reference.substr(0, slash);
  const bool patient = head == "Patient" || head.ends_with("/Patient");
  if (!patient || id.empty() || id.find_first_of("?#") != std::string_view::npos) return {};
  return std::string(id);
}

// The member `key` of a JSON object, or null. (Member iterators compare ambiguously in C++20.)
const rapidjson::Value* Get(const rapidjson::Value& object, std::string_view key) {
  if (!object.IsObject()) return nullptr;
  for (const auto& member : object.GetObject()) {
    if (std::string_view(member.name.GetString(), member.name.GetStringLength()) == key) {
      return &member.value;
    }
  }
  return nullptr;
}

void CollectPatients(const rapidjson::Value& value, std::set<std::string>& out) {
  if (value.IsArray()) {
    for (const auto& item : value.GetArray()) CollectPatients(item, out);
    return;
  }
  if (!value.IsObject()) return;
  const rapidjson::Value* type = Get(value, "resourceType");
  if (type != nullptr && type->IsString() && std::string_view(type->GetString()) == "Patient") {
    const rapidjson::Value* id = Get(value, "id");
    if (id != nullptr && id->IsString()) out.insert(id->GetString());
  }
  for (const auto& member : value.GetObject()) {
    if (member.value.IsString()) {
      if (std::string_view(member.name.GetString()) == "reference") {
        std::string id = PatientIdOf(
            std::string_view(member.value.GetString(), member.value.GetStringLength()));
        if (!id.empty()) out.insert(std::move(id));
      }
    } else {
      CollectPatients(member.value, out);
    }
  }
}

// The diagnostics (else details.text) of an OperationOutcome's first issue.
std::string OutcomeText(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return {};
  const rapidjson::Value* issues = Get(doc, "issue");
  if (issues == nullptr || !issues->IsArray() || issues->Empty()) return {};
  const rapidjson::Value& issue = (*issues)[0];
  if (const rapidjson::Value* d = Get(issue, "diagnostics"); d != nullptr && d->IsString()) {
    return d->GetString();
  }
  const rapidjson::Value* details = Get(issue, "details");
  const rapidjson::Value* text = details != nullptr ? Get(*details, "text") : nullptr;
  if (text != nullptr && text->IsString()) return text->GetString();
  return {};
}

// The resource an instance-level interaction touched, "Type/id", or "" (from the path, or the
// Location of a create).
std::string TouchedResource(const Event& e) {
  const auto& s = e.segments;
  if (s.size() >= 2 && IsType(s[0]) && s[1] != "_history" && s[1] != "_search") {
    return s[0] + "/" + s[1];
  }
  if (!e.location.empty()) {
    const std::size_t history = e.location.find("/_history/");
    return e.location.substr(0, history);
  }
  return {};
}

// The query of a search, relative to the base: "Observation?code=x" ("" for other requests).
std::string SearchQuery(const Event& e, std::string_view subtype) {
  if (subtype != "search-type" && subtype != "search-system") return {};
  std::string path;
  for (const std::string& segment : e.segments) {
    if (segment == "_search") break;
    if (!path.empty()) path += '/';
    path += segment;
  }
  return path + QueryString(e.params, {});
}

// Reads the top-level "type" of a JSON object and stops (returning false aborts the parse).
struct BundleTypeHandler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, BundleTypeHandler> {
  int depth = 0;
  bool next_is_type = false;
  std::string type;

  bool Default() {
    next_is_type = false;
    return true;
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (next_is_type) {
      type.assign(s, n);
      return false;
    }
    return Default();
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    next_is_type = depth == 1 && std::string_view(s, n) == "type";
    return true;
  }
  bool StartObject() {
    next_is_type = false;
    ++depth;
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    --depth;
    return true;
  }
  bool StartArray() {
    next_is_type = false;
    ++depth;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth;
    return true;
  }
};

}  // namespace

Interaction Classify(const Event& e) {
  if (e.capabilities) return {"capabilities", 'R'};
  const auto& s = e.segments;
  const std::string& m = e.method;
  const bool get = m == "GET" || m == "HEAD";
  if (s.empty()) {
    if (m == "POST") return {e.bundle_type == "transaction" ? "transaction" : "batch", 'E'};
    if (get) return {"search-system", 'E'};
    return {"", 'E'};
  }
  if (s.size() == 1 && s[0] == "_history") return {"history-system", 'R'};
  if (s.size() == 1) {
    if (get) return {"search-type", 'E'};
    if (m == "POST") return {"create", 'C'};
    if (m == "PUT") return {"update", 'U'};
    if (m == "DELETE") return {"delete", 'D'};
    return {"", 'E'};
  }
  if (s.size() == 2 && s[1] == "_history") return {"history-type", 'R'};
  if (s.size() == 2 && s[1] == "_search") return {"search-type", 'E'};
  if (s.size() == 2) {
    if (get) return {"read", 'R'};
    if (m == "PUT") return {"update", 'U'};
    if (m == "PATCH") return {"patch", 'U'};
    if (m == "DELETE") return {"delete", 'D'};
    return {"", 'E'};
  }
  if (s.size() == 3 && s[2] == "_history") return {"history-instance", 'R'};
  if (s.size() == 3) return {"search-type", 'E'};  // compartment search
  if (s.size() == 4 && s[2] == "_history") return {"vread", 'R'};
  return {"", 'E'};
}

std::string_view OutcomeCode(int status) {
  if (status < 400) return "0";
  if (status < 500) return "4";
  if (status == 500) return "12";
  return "8";
}

std::vector<std::string> PatientsIn(std::string_view json) {
  if (json.empty()) return {};
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) return {};
  std::set<std::string> found;
  CollectPatients(doc, found);
  return {found.begin(), found.end()};
}

namespace {

// Writes an AuditEvent's JSON in the canonical element order (as fhir::json::Write would) and
// records the search index entries ExtractIndexEntries would make of it (audit_test checks
// both), so that the writer needs neither the model nor FHIRPath.
class Builder {
 public:
  Builder(Writer& w, fhir::search::IndexEntries& index) : w_(w), index_(index) {}

  // A Coding, indexed under `param` unless it is empty.
  void Coding(std::string_view param, std::string_view system, std::string_view code,
              std::string_view display = {}) {
    audit::Coding(w_, system, code, display);
    if (!param.empty()) Token(param, system, code, fhir::search::NormalizeString(display));
  }
  void Token(std::string_view param, std::string_view system, std::string_view code,
             std::string text = {}) {
    index_.tokens.push_back({std::string(param), std::string(system), std::string(code),
                             std::move(text), "", ""});
  }
  // A reference "Type/id" under `param`, with the identifier of its Reference.
  void Reference(std::string_view param, std::string_view reference,
                 std::string_view identifier_system = {}, std::string_view identifier_value = {}) {
    fhir::search::ReferenceEntry entry{std::string(param), "", "", "", "", "", ""};
    const std::size_t slash = reference.find('/');
    const bool type_and_id = slash != std::string_view::npos && slash + 1 < reference.size() &&
                             reference.find('/', slash + 1) == std::string_view::npos;
    if (type_and_id && IsType(std::string(reference.substr(0, slash)))) {
      entry.target_type = reference.substr(0, slash);
      entry.target_id = reference.substr(slash + 1);
    }
    entry.identifier_system = identifier_system;
    entry.identifier_value = identifier_value;
    index_.references.push_back(std::move(entry));
  }
  // An entity with `what`; Patient references are indexed under `patient` too.
  void Entity(std::string_view reference, std::string_view type_code,
              std::string_view type_display, std::string_view role_code,
              std::string_view role_display, std::string_view description = {}) {
    w_.StartObject();
    w_.Key("what");
    w_.StartObject();
    w_.Key("reference");
    Str(w_, reference);
    w_.EndObject();
    Reference("entity", reference);
    if (reference.starts_with("Patient/")) Reference("patient", reference);
    EntityCodes(type_code, type_display, role_code, role_display);
    if (!description.empty()) {
      w_.Key("description");
      Str(w_, description);
    }
    w_.EndObject();
  }
  void EntityCodes(std::string_view type_code, std::string_view type_display,
                   std::string_view role_code, std::string_view role_display) {
    w_.Key("type");
    Coding("entity-type", kEntityType, type_code, type_display);
    w_.Key("role");
    Coding("entity-role", kObjectRole, role_code, role_display);
  }

 private:
  Writer& w_;
  fhir::search::IndexEntries& index_;
};

}  // namespace

Built BuildAuditEvent(const Event& e, const Source& source,
                      const std::vector<std::string>& patients, std::string_view id,
                      std::string_view last_updated) {
  Built built;
  fhir::search::IndexEntries& index = built.index;
  const Interaction interaction = Classify(e);
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  Builder b(w, index);
  w.StartObject();
  w.Key("resourceType");
  Str(w, "AuditEvent");
  if (!id.empty()) {
    w.Key("id");
    Str(w, id);
    w.Key("meta");
    w.StartObject();
    w.Key("versionId");
    Str(w, "1");
    w.Key("lastUpdated");
    Str(w, last_updated);
    w.EndObject();
  }
  w.Key("type");
  b.Coding("type", kAuditEventType, "rest", "RESTful Operation");
  if (!interaction.subtype.empty()) {
    w.Key("subtype");
    w.StartArray();
    b.Coding("subtype", kRestfulInteraction, interaction.subtype);
    w.EndArray();
  }
  const std::string_view action(&interaction.action, 1);
  w.Key("action");
  Str(w, action);
  b.Token("action", "", action);
  const std::string recorded = FormatInstant(e.recorded);
  w.Key("recorded");
  Str(w, recorded);
  if (std::optional<fhir::search::TimeRange> range = fhir::search::DateRange(recorded)) {
    index.dates.push_back({"date", range->low, range->high});
  }
  w.Key("outcome");
  Str(w, OutcomeCode(e.status));
  b.Token("outcome", "", OutcomeCode(e.status));
  w.Key("outcomeDesc");
  std::string desc = std::to_string(e.status);
  if (e.status >= 400) {
    if (std::string text = OutcomeText(e.body); !text.empty()) desc += ": " + text;
  }
  Str(w, desc);
  if (e.basis.emergency) {
    w.Key("purposeOfEvent");
    w.StartArray();
    const std::string reason = e.basis.reason.empty() ? "emergency access" : e.basis.reason;
    CodeableConcept(w, kActReason, "ETREAT", reason);
    b.Token("purpose", kActReason, "ETREAT", fhir::search::NormalizeString(reason));
    w.EndArray();
  }

  w.Key("agent");
  w.StartArray();
  w.StartObject();
  w.Key("who");
  w.StartObject();
  if (e.principal) {
    const auth::Principal& p = *e.principal;
    if (!p.fhir_user.empty()) {
      w.Key("reference");
      Str(w, p.fhir_user);
    }
    w.Key("identifier");
    w.StartObject();
    if (!p.issuer.empty()) {
      w.Key("system");
      Str(w, p.issuer);
    }
    w.Key("value");
    Str(w, p.subject);
    w.EndObject();
    b.Reference("agent", p.fhir_user, p.issuer, p.subject);
    if (p.fhir_user.starts_with("Patient/")) {
      b.Reference("patient", p.fhir_user, p.issuer, p.subject);
    }
  } else {
    w.Key("display");
    Str(w, e.auth_failed ? "unauthenticated" : "anonymous");
  }
  w.EndObject();
  if (e.principal) {
    w.Key("altId");
    Str(w, e.principal->subject);
    b.Token("altid", "", e.principal->subject);
  }
  w.Key("requestor");
  w.Bool(true);
  if (!e.basis.consent.empty()) {
    w.Key("policy");
    w.StartArray();
    const std::string policy = source.site + "/" + e.basis.consent;
    Str(w, policy);
    w.EndArray();
    index.uris.push_back({"policy", policy});
  }
  if (e.principal) {
    w.Key("purposeOfUse");
    w.StartArray();
    CodeableConcept(w, kActReason, e.principal->purpose_of_use);
    b.Token("purpose", kActReason, e.principal->purpose_of_use);
    w.EndArray();
  }
  w.EndObject();
  w.EndArray();

  w.Key("source");
  w.StartObject();
  w.Key("site");
  Str(w, source.site);
  b.Token("site", "", source.site);
  w.Key("observer");
  w.StartObject();
  w.Key("display");
  Str(w, source.observer);
  w.EndObject();
  w.Key("type");
  w.StartArray();
  Coding(w, kSourceType, "4", "Application Server");
  w.EndArray();
  w.EndObject();

  const std::string touched = TouchedResource(e);
  const std::string query = SearchQuery(e, interaction.subtype);
  const bool any_entity =
      !patients.empty() || !touched.empty() || !query.empty() || !e.basis.consent.empty();
  if (any_entity) {
    w.Key("entity");
    w.StartArray();
    for (const std::string& patient : patients) {
      b.Entity("Patient/" + patient, "1", "Person", "1", "Patient");
    }
    if (!touched.empty() && !touched.starts_with("Patient/")) {
      b.Entity(touched, "2", "System Object", "4", "Domain Resource");
    }
    if (!query.empty()) {
      w.StartObject();
      b.EntityCodes("2", "System Object", "24", "Query");
      w.Key("description");
      Str(w, query);
      w.Key("query");
      Str(w, Base64(query));
      w.EndObject();
    }
    if (!e.basis.consent.empty()) {
      b.Entity(e.basis.consent, "2", "System Object", "4", "Domain Resource",
               "the Consent that permitted the access");
    }
    w.EndArray();
  }
  w.EndObject();
  built.json.assign(buffer.GetString(), buffer.GetSize());
  return built;
}

std::string AuditEventJson(const Event& e, const Source& source,
                           const std::vector<std::string>& patients) {
  return BuildAuditEvent(e, source, patients, {}, {}).json;
}

Event EntryEvent(const RestRequest& outer, std::string_view method, std::string_view url,
                 const RestResponse& response) {
  Event e;
  e.recorded = std::chrono::system_clock::now();
  e.method = std::string(method);
  const std::size_t q = url.find('?');
  std::string_view path = url.substr(0, q);
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const std::size_t slash = path.find('/');
    e.segments.push_back(PercentDecode(path.substr(0, slash)));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  if (q != std::string_view::npos) e.params = ParseQuery(url.substr(q + 1));
  e.status = response.status;
  e.principal = outer.principal;
  e.body = response.body;
  e.location = response.location;
  e.basis = response.access_basis;
  return e;
}

std::string BundleTypeOf(std::string_view json) {
  BundleTypeHandler handler;
  rapidjson::Reader reader;
  rapidjson::MemoryStream stream(json.data(), json.size());
  reader.Parse(stream, handler);
  return handler.type;
}

std::optional<RestResponse> RejectClientWrite(const RestRequest& request) {
  const auto& s = request.segments;
  if (s.empty() || s[0] != "AuditEvent") return std::nullopt;
  const std::string& m = request.method;
  const bool write = m == "PUT" || m == "PATCH" || m == "DELETE" ||
                     (m == "POST" && !(s.size() == 2 && s[1] == "_search"));
  if (!write) return std::nullopt;
  RestResponse r = ErrorResponse(
      405, fhir::IssueType::kNotSupported,
      "AuditEvent resources are written by the server only and never change: " + m +
          " is not allowed on AuditEvent");
  r.headers.emplace_back("Allow", "GET, HEAD");
  return r;
}

// ------------------------------------------------------------------------------------------

AuditLog::AuditLog(storage::Store& store, LogOptions options)
    : store_(store), options_(std::move(options)) {
  writer_ = std::thread([this] { Run(); });
}

AuditLog::~AuditLog() { Stop(); }

void AuditLog::Submit(Event event) {
  // A large body (a search Bundle) is reduced to its patients here, so that the queue stays
  // small: 20,000 records of at most this many bytes each.
  if (event.body.size() > kMaxQueuedBody) {
    if (event.status < 300) event.patients = PatientsIn(event.body);
    std::string().swap(event.body);
  }
  std::unique_lock lock(mutex_);
  if (stopping_) return;
  progress_.wait(lock, [this] { return queue_.size() < options_.max_queue || stopping_; });
  queue_.push_back(std::move(event));
  ++submitted_;
  if (queue_.size() >= options_.batch) wake_.notify_one();
}

void AuditLog::Flush() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = submitted_;
  flush_requested_ = true;
  wake_.notify_one();
  progress_.wait(lock, [&] { return done_ >= target || finished_; });
}

void AuditLog::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  progress_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::uint64_t AuditLog::written() const {
  std::lock_guard lock(mutex_);
  return written_;
}

std::uint64_t AuditLog::failed() const {
  std::lock_guard lock(mutex_);
  return failed_;
}

void AuditLog::Run() {
  std::vector<Event> batch;
  while (true) {
    bool last = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, options_.interval, [this] {
        return stopping_ || flush_requested_ || queue_.size() >= options_.batch;
      });
      // At most `batch` events per store transaction: the queue frees up as each commits.
      const std::size_t n = std::min(queue_.size(), options_.batch);
      batch.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      flush_requested_ = flush_requested_ && !queue_.empty();
      last = stopping_;
    }
    progress_.notify_all();  // room in the queue
    if (!batch.empty()) WriteBatch(batch);
    batch.clear();
    if (last) {
      std::lock_guard lock(mutex_);
      if (queue_.empty()) {
        finished_ = true;
        break;
      }
    }
  }
  progress_.notify_all();
}

void AuditLog::WriteBatch(std::vector<Event>& events) {
  // Built before the write transaction, which then only inserts: REST writes wait for it.
  std::vector<Prepared> prepared;
  prepared.reserve(events.size());
  std::uint64_t bad = 0;
  for (Event& e : events) {
    auto made = Prepare(e);
    if (!made.ok()) {
      std::cerr << "fhir-server: audit: invalid AuditEvent: " << made.status().ToString() << "\n";
      ++bad;
      continue;
    }
    prepared.push_back(std::move(made).value());
  }
  std::uint64_t ok = 0;
  auto txn = store_.BeginWrite();
  fhir::Status status = txn.ok() ? fhir::Status() : txn.status();
  for (Prepared& p : prepared) {
    if (!status.ok()) break;
    status = txn.value()->Put(p.version, p.index);
  }
  if (status.ok()) status = txn.value()->Commit();
  if (status.ok()) {
    ok = prepared.size();
  } else {
    std::cerr << "fhir-server: audit: cannot store " << prepared.size()
              << " AuditEvents: " << status.ToString() << "\n";
    bad += prepared.size();
  }
  std::lock_guard lock(mutex_);
  written_ += ok;
  failed_ += bad;
  done_ += events.size();
}

fhir::Result<AuditLog::Prepared> AuditLog::Prepare(const Event& e) {
  std::vector<std::string> patients;
  const Interaction interaction = Classify(e);
  const auto& s = e.segments;
  const bool bundle = interaction.subtype == "batch" || interaction.subtype == "transaction";
  if (e.status < 300 && !bundle) {  // a Bundle's entries have AuditEvents of their own
    patients = e.patients ? *e.patients : PatientsIn(e.body);
  }
  // The resident whose record was asked for, also when the access was refused or answered
  // nothing readable: the current (or, after a delete, the last) version says who it is.
  if (s.size() >= 2 && IsType(s[0]) && s[1] != "_history" && s[1] != "_search") {
    if (s[0] == "Patient") {
      patients.push_back(s[1]);
    } else if (patients.empty() && interaction.subtype != "search-type") {
      auto stored = store_.ReadCurrent(s[0], s[1]);
      if (stored.ok() && stored->deleted && stored->version > 1) {
        auto previous = store_.ReadVersion(s[0], s[1], stored->version - 1);
        if (previous.ok()) patients = PatientsIn(previous->json);
      } else if (stored.ok()) {
        patients = PatientsIn(stored->json);
      }
    }
  }
  std::sort(patients.begin(), patients.end());
  patients.erase(std::unique(patients.begin(), patients.end()), patients.end());
  Prepared p;
  p.version.type = "AuditEvent";
  p.version.id = NewResourceId();
  p.version.version = 1;
  p.version.last_updated = FormatInstant(std::chrono::system_clock::now());
  Built built =
      BuildAuditEvent(e, options_.source, patients, p.version.id, p.version.last_updated);
  p.version.json = std::move(built.json);
  p.index = std::move(built.index);
  return p;
}

}  // namespace server::audit
