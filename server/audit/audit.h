#pragma once

// AuditEvent for every REST interaction (issue 5): the request path records a small Event and
// queues it; a background thread turns queued Events into R4 AuditEvents and writes them in two
// steps. First, each batch is appended to the store's journal as one record (one row, one
// commit): from then on the AuditEvents are durable, and this is all the cost a busy server pays
// per request. Second, when the server is idle (or an AuditEvent is asked for, see Flush), the
// journal's records become AuditEvent resources with their search index, each in the
// transaction that removes its record. Storing and indexing an AuditEvent costs more CPU than
// the read it records (about 45 us against 25 us); done at once, it made reads 5x slower.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "server/audit/access_basis.h"
#include "server/auth/principal.h"
#include "server/rest_types.h"
#include "storage/store.h"
#include "storage/suspension.h"

namespace server::audit {

// One interaction as the request path saw it. Cheap to fill: everything that needs parsing
// (the patients in a body, the OperationOutcome's text) is left to the writer thread.
struct Event {
  std::chrono::system_clock::time_point recorded;
  std::string method;                 // GET, HEAD, POST, PUT, PATCH, DELETE
  std::vector<std::string> segments;  // the path below the base, decoded
  std::vector<std::pair<std::string, std::string>> params;  // the query (and a _search form)
  bool capabilities = false;          // GET [base]/metadata
  std::string bundle_type;            // POST [base]: the Bundle's type ("batch", "transaction")
  int status = 0;                     // the HTTP status answered
  // Who asked (a verified token); null with authentication off, or when it failed (401).
  std::shared_ptr<const auth::Principal> principal;
  bool auth_failed = false;  // 401: a token was missing or invalid (the agent is unknown)
  // The body answered (a resource, a Bundle, an OperationOutcome), or for a create/update
  // answered without a body, the resource sent: the patients are found in it.
  std::string body;
  std::string location;  // Type/id/_history/v of a write, when answered
  // The patients of `body`, when Submit() found them already (a large body is not queued).
  std::optional<std::vector<std::string>> patients;
  AccessBasis basis;
};

// The interaction of `event`: its http://hl7.org/fhir/restful-interaction code ("" when the
// request is none, e.g. an unknown method) and AuditEvent.action (C, R, U, D or E).
struct Interaction {
  std::string_view subtype;
  char action = 'E';
};
Interaction Classify(const Event& event);

// AuditEvent.outcome for an HTTP status: "0" below 400, "4" for 4xx, "12" for 500 (a bug:
// the server failed), "8" for other 5xx.
std::string_view OutcomeCode(int status);

// The server as AuditEvent.source.
struct Source {
  std::string site;                    // the public base URL
  std::string observer = "fhir-server";
};

// The patients a body shows or refers to: a Patient resource's own id, and every Reference to
// a Patient ("Patient/1", ".../Patient/1/_history/2"), anywhere in it (Bundles included).
// Sorted, without duplicates. Empty for malformed JSON.
std::vector<std::string> PatientsIn(std::string_view json);

// The R4 AuditEvent of `event` as compact, canonical JSON, with `id` and meta (versionId 1,
// lastUpdated `last_updated`; neither when `id` is empty). `patients` are those found in its
// body (PatientsIn), listed as entities with role Patient. Written directly, without the model.
std::string AuditEventJson(const Event& event, const Source& source,
                           const std::vector<std::string>& patients, std::string_view id = {},
                           std::string_view last_updated = {});

// The Event of one batch/transaction entry (`url` relative to the base) answered `response`.
Event EntryEvent(const RestRequest& outer, std::string_view method, std::string_view url,
                 const RestResponse& response);

// The `type` of a batch/transaction Bundle in `json`, read without building a document (it is
// normally the second key); "" if absent or not JSON.
std::string BundleTypeOf(std::string_view json);

// Whether `request` may read AuditEvents (their type, a system-level search or history, a
// compartment's `*`, a parameter naming AuditEvent, a wildcard _include/_revinclude): the
// server first makes every journaled AuditEvent a resource (AuditLog::Flush), so that what it
// answers is complete. A batch/transaction is judged by its entries (MayEntryReadAuditEvents).
bool MayReadAuditEvents(const RestRequest& request);
// The same for a Bundle entry's method and url (relative to the base).
bool MayEntryReadAuditEvents(std::string_view method, std::string_view url);

// AuditEvents are written by the server only and never change: a client's create, update,
// patch or delete of AuditEvent (conditional ones too) gets 405 with an OperationOutcome.
std::optional<RestResponse> RejectClientWrite(const RestRequest& request);

struct LogOptions {
  Source source;
  // The writer commits what is queued at least this often, and at once when `batch` events
  // wait. A kill -9 loses at most what was queued since the last commit.
  std::chrono::milliseconds interval{50};
  std::size_t batch = 500;
  // Submit() blocks while this many events wait (the store cannot keep up): no event is
  // dropped, and the queue (about 2 KB an event) and the loss window of a kill -9 stay bounded.
  std::size_t max_queue = 20'000;
  // Journaled AuditEvents become resources once no event was submitted for `idle`, and also
  // while busy when more than `max_backlog` wait (about 1 KB of journal each), so that an
  // unbroken load cannot grow the journal without bound: then the server slows down to the
  // full cost of its audit.
  std::chrono::milliseconds idle{200};
  std::size_t max_backlog = 500'000;
};

// Bodies larger than this are not queued: Submit() keeps only their patients.
inline constexpr std::size_t kMaxQueuedBody = 16 * 1024;

// The queue and its writer thread. Thread-safe.
class AuditLog {
 public:
  // Starts the writer thread on `store`, which must outlive the log.
  AuditLog(storage::Store& store, LogOptions options);
  ~AuditLog();  // Stop()
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Queues `event` (its AuditEvent is journaled within `interval`).
  void Submit(Event event);
  // Blocks until every event submitted before the call is a searchable AuditEvent resource
  // (or failed): the server calls it before any request that may read AuditEvents.
  void Flush();
  // Writes what is queued, makes the journal's AuditEvents resources, and ends the writer
  // (graceful shutdown). Submit() after Stop() writes nothing.
  void Stop();

  std::uint64_t written() const;  // AuditEvents stored as resources
  std::uint64_t failed() const;   // events whose AuditEvent could not be built or stored

 private:
  void Run();
  // Appends the AuditEvents of `events` to the journal as one record.
  void Journal(std::vector<Event>& events);
  // Turns the oldest journal record into AuditEvent resources; notes an empty journal.
  void MaterializeOldest();
  // The journal line of `event` (journal_line.h).
  std::string JournalLine(const Event& event);
  // The AuditEvent of one journal line (either layout), or nullopt when it is not one.
  std::optional<storage::StoredVersion> JournaledVersion(std::string_view line) const;

  storage::Store& store_;
  LogOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;      // the writer: work or stop
  storage::Condition progress_;  // Flush() and a full queue: a batch ended
  std::deque<Event> queue_;
  std::uint64_t submitted_ = 0;  // events accepted so far
  std::uint64_t done_ = 0;       // events written or failed so far
  std::uint64_t written_ = 0;
  std::uint64_t failed_ = 0;
  bool stopping_ = false;
  int flush_waiters_ = 0;       // Flush() calls waiting
  bool journal_empty_ = false;  // no journal record left (unknown, so false, at start)
  std::uint64_t backlog_ = 0;   // events journaled by this log and not yet resources
  std::chrono::steady_clock::time_point last_submit_ = std::chrono::steady_clock::now();
  bool finished_ = false;  // the writer ended
  std::thread writer_;
};

}  // namespace server::audit
