#include "server/audit/audit.h"

#include <openssl/evp.h>

#include <algorithm>
#include <iterator>
#include <iostream>
#include <set>

#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fhir/json/parser.h"
#include "fhir/model/registry.h"
#include "fhir/search/index_extractor.h"
#include "server/audit/journal_line.h"
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

// Collects the patients of a JSON text as the reader goes, without building a document (a
// third of the audit's cost per read was the document): every "reference" string to a Patient,
// and the id of every object whose resourceType is Patient.
class PatientScanner
    : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, PatientScanner> {
 public:
  explicit PatientScanner(std::set<std::string>& out) : out_(out) {}

  bool Key(const char* text, rapidjson::SizeType length, bool /*copy*/) {
    key_.assign(text, length);
    return true;
  }
  bool String(const char* text, rapidjson::SizeType length, bool /*copy*/) {
    const std::string_view value(text, length);
    if (key_ == "reference") {
      if (std::string id = PatientIdOf(value); !id.empty()) out_.insert(std::move(id));
    } else if (!objects_.empty() && key_ == "resourceType") {
      objects_.back().patient = value == "Patient";
    } else if (!objects_.empty() && key_ == "id") {
      objects_.back().id.assign(value);
    }
    key_.clear();
    return true;
  }
  bool StartObject() {
    objects_.emplace_back();
    key_.clear();
    return true;
  }
  bool EndObject(rapidjson::SizeType /*members*/) {
    if (objects_.back().patient && !objects_.back().id.empty()) {
      out_.insert(std::move(objects_.back().id));
    }
    objects_.pop_back();
    return true;
  }
  bool Default() {  // any other value, and arrays
    key_.clear();
    return true;
  }

 private:
  struct Object {
    bool patient = false;
    std::string id;
  };
  std::set<std::string>& out_;
  std::vector<Object> objects_;
  std::string key_;  // the key whose value comes next, if any
};

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
  std::set<std::string> found;
  PatientScanner scanner(found);
  rapidjson::MemoryStream bytes(json.data(), json.size());
  rapidjson::Reader reader;
  if (reader.Parse(bytes, scanner).IsError()) return {};
  return {found.begin(), found.end()};
}

namespace {

// Writes the parts of an AuditEvent's JSON that repeat, in the canonical element order (as
// fhir::json::Write would; audit_test checks it).
class Builder {
 public:
  explicit Builder(Writer& w) : w_(w) {}

  // An entity with `what`.
  void Entity(std::string_view reference, std::string_view type_code,
              std::string_view type_display, std::string_view role_code,
              std::string_view role_display, std::string_view description = {}) {
    w_.StartObject();
    w_.Key("what");
    w_.StartObject();
    w_.Key("reference");
    Str(w_, reference);
    w_.EndObject();
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
    audit::Coding(w_, kEntityType, type_code, type_display);
    w_.Key("role");
    audit::Coding(w_, kObjectRole, role_code, role_display);
  }

 private:
  Writer& w_;
};

}  // namespace

std::string AuditEventJson(const Event& e, const Source& source,
                           const std::vector<std::string>& patients, std::string_view id,
                           std::string_view last_updated) {
  const Interaction interaction = Classify(e);
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  Builder b(w);
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
  Coding(w, kAuditEventType, "rest", "RESTful Operation");
  if (!interaction.subtype.empty()) {
    w.Key("subtype");
    w.StartArray();
    Coding(w, kRestfulInteraction, interaction.subtype);
    w.EndArray();
  }
  const std::string_view action(&interaction.action, 1);
  w.Key("action");
  Str(w, action);
  const std::string recorded = FormatInstant(e.recorded);
  w.Key("recorded");
  Str(w, recorded);
  w.Key("outcome");
  Str(w, OutcomeCode(e.status));
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
  } else {
    w.Key("display");
    Str(w, e.auth_failed ? "unauthenticated" : "anonymous");
  }
  w.EndObject();
  if (e.principal) {
    w.Key("altId");
    Str(w, e.principal->subject);
  }
  w.Key("requestor");
  w.Bool(true);
  if (!e.basis.consent.empty()) {
    w.Key("policy");
    w.StartArray();
    const std::string policy = source.site + "/" + e.basis.consent;
    Str(w, policy);
    w.EndArray();
  }
  if (e.principal) {
    w.Key("purposeOfUse");
    w.StartArray();
    CodeableConcept(w, kActReason, e.principal->purpose_of_use);
    w.EndArray();
  }
  w.EndObject();
  w.EndArray();

  w.Key("source");
  w.StartObject();
  w.Key("site");
  Str(w, source.site);
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
  return std::string(buffer.GetString(), buffer.GetSize());
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

bool MayReadAuditEvents(const RestRequest& r) {
  const auto& s = r.segments;
  if (s.empty()) return r.method == "GET" || r.method == "HEAD";  // a POST is a Bundle
  if (s[0] == "_history") return true;
  for (const std::string& segment : s) {
    if (segment == "AuditEvent" || segment == "*") return true;
  }
  for (const auto& [key, value] : r.params) {
    if (key.find("AuditEvent") != std::string::npos ||
        value.find("AuditEvent") != std::string::npos) {
      return true;
    }
    if ((key.starts_with("_include") || key.starts_with("_revinclude")) &&
        value.find('*') != std::string::npos) {
      return true;
    }
  }
  return false;
}

bool MayEntryReadAuditEvents(std::string_view method, std::string_view url) {
  if (method != "GET" && method != "HEAD") return false;  // writes read no AuditEvents
  while (url.starts_with('/')) url.remove_prefix(1);
  return url.empty() || url.starts_with('?') || url.starts_with("_history") ||
         url.find("AuditEvent") != std::string_view::npos ||
         url.find('*') != std::string_view::npos;
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
  progress_.Wait(lock, [this] { return queue_.size() < options_.max_queue || stopping_; });
  queue_.push_back(std::move(event));
  ++submitted_;
  last_submit_ = std::chrono::steady_clock::now();
  if (queue_.size() >= options_.batch) wake_.notify_one();
}

void AuditLog::Flush() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = submitted_;
  ++flush_waiters_;
  wake_.notify_one();
  progress_.Wait(lock, [&] { return (done_ >= target && journal_empty_) || finished_; });
  --flush_waiters_;
}

void AuditLog::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    progress_.NotifyAll();
  }
  wake_.notify_one();
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
    bool materialize = false;
    {
      std::unique_lock lock(mutex_);
      // The journal's turn: when asked (Flush, Stop), when it is too long, or when idle.
      const auto journal_due = [this] {
        if (journal_empty_) return false;
        if (stopping_ || flush_waiters_ > 0 || backlog_ > options_.max_backlog) return true;
        return queue_.empty() &&
               std::chrono::steady_clock::now() - last_submit_ >= options_.idle;
      };
      wake_.wait_for(lock, options_.interval, [&] {
        return stopping_ || flush_waiters_ > 0 || queue_.size() >= options_.batch ||
               journal_due();
      });
      // At most `batch` events per record: the queue frees up as each commits.
      const std::size_t n = std::min(queue_.size(), options_.batch);
      batch.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      last = stopping_;
      materialize = journal_due();
      progress_.NotifyAll();  // room in the queue
    }
    if (!batch.empty()) Journal(batch);
    batch.clear();
    if (materialize) MaterializeOldest();
    if (last) {
      std::lock_guard lock(mutex_);
      if (queue_.empty() && journal_empty_) {
        finished_ = true;
        progress_.NotifyAll();
        break;
      }
    }
  }
}

void AuditLog::Journal(std::vector<Event>& events) {
  // Built before the write transaction, which then only appends: REST writes wait for it.
  std::string record;
  for (const Event& e : events) {
    record += JournalLine(e);
    record += '\n';
  }
  // One append, then the commit: it commits with the REST writes beside it.
  fhir::Status appended;
  fhir::Status status = store_.WriteShared([&](storage::WriteTransaction& txn) {
    appended = txn.AppendJournal(record);
    return appended.ok();
  });
  if (status.ok()) status = appended;
  if (!status.ok()) {
    std::cerr << "fhir-server: audit: cannot journal " << events.size()
              << " AuditEvents: " << status.ToString() << "\n";
  }
  std::lock_guard lock(mutex_);
  if (status.ok()) {
    backlog_ += events.size();
    journal_empty_ = false;
  } else {
    failed_ += events.size();
  }
  done_ += events.size();
}

void AuditLog::MaterializeOldest() {
  std::uint64_t stored = 0;
  std::uint64_t bad = 0;
  bool empty = false;
  fhir::Status status;
  {
    auto txn = store_.BeginWrite();
    status = txn.ok() ? fhir::Status() : txn.status();
    std::optional<storage::JournalRecord> record;
    if (status.ok()) {
      auto oldest = txn.value()->OldestJournal();
      if (oldest.ok()) {
        record = std::move(oldest).value();
      } else {
        status = oldest.status();
      }
    }
    empty = status.ok() && !record;
    if (status.ok() && record) {
      std::string_view rest = record->data;
      while (status.ok() && !rest.empty()) {
        const std::size_t end = rest.find('\n');
        const std::string_view line = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
        std::optional<storage::StoredVersion> made = JournaledVersion(line);
        if (!made) {
          ++bad;
          continue;
        }
        storage::StoredVersion& v = *made;
        // Indexed like any resource.
        auto resource = fhir::json::ParseResource(v.json, fhir::json::kStoredJson);
        if (!resource.ok()) {
          std::cerr << "fhir-server: audit: invalid AuditEvent: "
                    << resource.status().ToString() << "\n";
          ++bad;
          continue;
        }
        status = txn.value()->Put(v, fhir::search::ExtractIndexEntries(**resource));
        if (status.ok()) ++stored;
      }
      if (status.ok()) status = txn.value()->RemoveJournal(record->seq);
      if (status.ok()) status = txn.value()->Commit();
    }
  }
  if (!status.ok()) {
    // The record stays, and is tried again after the next append (a full disk may pass).
    std::cerr << "fhir-server: audit: cannot store journaled AuditEvents: " << status.ToString()
              << "\n";
    stored = 0;
    bad = 0;
  }
  std::lock_guard lock(mutex_);
  written_ += stored;
  failed_ += bad;
  backlog_ -= std::min(backlog_, stored + bad);
  // Also after a failure, so that Flush() and Stop() do not wait for what cannot be done now.
  if (empty || !status.ok()) journal_empty_ = true;
  progress_.NotifyAll();
}

std::optional<storage::StoredVersion> AuditLog::JournaledVersion(std::string_view line) const {
  storage::StoredVersion v;
  v.type = "AuditEvent";
  v.version = 1;
  if (line.starts_with('[')) {
    std::optional<JournaledEvent> journaled = DecodeJournalLine(line);
    if (!journaled) return std::nullopt;
    v.json = AuditEventJson(journaled->event, options_.source, journaled->patients, journaled->id,
                            journaled->last_updated);
    v.id = std::move(journaled->id);
    v.last_updated = std::move(journaled->last_updated);
    return v;
  }
  // Journals written before the compact lines: "id<TAB>lastUpdated<TAB>AuditEvent JSON".
  const std::size_t tab1 = line.find('\t');
  const std::size_t tab2 = tab1 == std::string_view::npos ? tab1 : line.find('\t', tab1 + 1);
  if (tab2 == std::string_view::npos) return std::nullopt;
  v.id = std::string(line.substr(0, tab1));
  v.last_updated = std::string(line.substr(tab1 + 1, tab2 - tab1 - 1));
  v.json = std::string(line.substr(tab2 + 1));
  return v;
}

std::string AuditLog::JournalLine(const Event& e) {
  std::vector<std::string> patients;
  const Interaction interaction = Classify(e);
  const auto& s = e.segments;
  const bool bundle = interaction.subtype == "batch" || interaction.subtype == "transaction";
  // A read of Patient/X answers Patient X (added below); without "Patient/" in it, it refers
  // to no other patient, and the scan (a fifth of the audit's cost per read) is not needed.
  const bool own_patient_only = s.size() >= 2 && s[0] == "Patient" &&
                                e.body.find("Patient/") == std::string::npos;
  if (e.status < 300 && !bundle && !own_patient_only) {  // a Bundle's entries: their own events
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
  // A search is about the patients its query names, also when it found nothing: a resident
  // sees who looked for their record ("patient=Patient/1", "subject:Patient=1", "patient=1",
  // and Patient's own "_id=1").
  if (interaction.subtype == "search-type" || interaction.subtype == "search-system") {
    for (const auto& [key, value] : e.params) {
      const std::string_view name(key);
      const bool bare_ids = name == "patient" || name.ends_with(":Patient") ||
                            (name == "_id" && !s.empty() && s[0] == "Patient");
      std::string_view rest(value);
      while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view one = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (std::string id = PatientIdOf(one); !id.empty()) {
          patients.push_back(std::move(id));
        } else if (bare_ids && !one.empty() && one.find_first_of("/|?#") == std::string::npos) {
          patients.emplace_back(one);
        }
      }
    }
  }
  std::sort(patients.begin(), patients.end());
  patients.erase(std::unique(patients.begin(), patients.end()), patients.end());
  return EncodeJournalLine(e, patients, NewResourceId("AuditEvent"),
                           FormatInstant(std::chrono::system_clock::now()));
}

}  // namespace server::audit
