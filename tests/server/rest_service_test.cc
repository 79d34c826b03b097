// The REST interactions, socket-free, on a real SQLite store in a temporary file.

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "tests/server/rest_fixture.h"

namespace {

using server::RestRequest;
using server::RestResponse;
using server::testing::At;
using server::testing::Fixture;

const char kPatient[] =
    R"({"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.3","value":"A1"}],)"
    R"("name":[{"family":"Chalmers","given":["Peter"]}],"gender":"male"})";

std::string IdOf(const RestResponse& r) { return At(r.body, "id"); }

}  // namespace

TEST_CASE("create, read, vread, update, no-op update, delete, history") {
  Fixture f;
  RestResponse created = f.Call("POST", "Patient", kPatient);
  REQUIRE(created.status == 201);
  std::string id = IdOf(created);
  CHECK(id.size() == 36);
  CHECK(created.location == "Patient/" + id + "/_history/1");
  CHECK(created.etag == "W/\"1\"");
  CHECK(At(created.body, "meta.versionId") == "1");
  CHECK(At(created.body, "meta.lastUpdated") == created.last_modified);
  CHECK(At(created.body, "name[0].family") == "Chalmers");

  RestResponse read = f.Call("GET", "Patient/" + id);
  CHECK(read.status == 200);
  CHECK(read.body == created.body);
  CHECK(read.etag == "W/\"1\"");

  std::string updated_body = std::string(kPatient);
  updated_body.replace(updated_body.find("\"resourceType\":\"Patient\","),
                       25, "\"resourceType\":\"Patient\",\"id\":\"" + id + "\",");
  RestResponse same = f.Call("PUT", "Patient/" + id, updated_body);
  CHECK(same.status == 200);
  CHECK(same.etag == "W/\"1\"");  // identical content: no new version

  std::string changed = updated_body;
  changed.replace(changed.find("\"male\""), 6, "\"other\"");
  RestResponse updated = f.Call("PUT", "Patient/" + id, changed);
  CHECK(updated.status == 200);
  CHECK(updated.etag == "W/\"2\"");
  CHECK(At(updated.body, "gender") == "other");

  CHECK(f.Call("GET", "Patient/" + id + "/_history/1").body == created.body);
  CHECK(At(f.Call("GET", "Patient/" + id + "/_history/2").body, "gender") == "other");
  CHECK(f.Call("GET", "Patient/" + id + "/_history/3").status == 404);
  CHECK(f.Call("GET", "Patient/" + id + "/_history/x").status == 404);

  RestResponse deleted = f.Call("DELETE", "Patient/" + id);
  CHECK(deleted.status == 204);
  CHECK(deleted.etag == "W/\"3\"");
  RestResponse gone = f.Call("GET", "Patient/" + id);
  CHECK(gone.status == 410);
  CHECK(At(gone.body, "resourceType") == "OperationOutcome");
  CHECK(At(gone.body, "issue[0].code") == "deleted");
  CHECK(f.Call("DELETE", "Patient/" + id).status == 204);
  CHECK(f.Call("DELETE", "Patient/never").status == 204);
  CHECK(f.Call("GET", "Patient/never").status == 404);

  RestResponse history = f.Call("GET", "Patient/" + id + "/_history");
  CHECK(history.status == 200);
  CHECK(At(history.body, "type") == "history");
  CHECK(At(history.body, "total") == "3");
  CHECK(At(history.body, "entry[0].request.method") == "DELETE");
  CHECK(At(history.body, "entry[1].request.method") == "PUT");
  CHECK(At(history.body, "entry[2].request.method") == "POST");
  CHECK(At(history.body, "entry[2].resource.meta.versionId") == "1");
  CHECK(At(history.body, "entry[0].resource") == "");

  // _since takes an instant, _at a date or dateTime, _count a number: a 400 says which.
  RestResponse since = f.Call("GET", "Patient/" + id + "/_history?_since=2099-01-01");
  CHECK(since.status == 400);
  CHECK(At(since.body, "issue[0].diagnostics") ==
        "Invalid value '2099-01-01' for parameter _since: expected an instant with a time zone, "
        "e.g. 2024-01-31T12:00:00Z");
  CHECK(At(since.body, "issue[0].expression[0]") == "_since");
  RestResponse at = f.Call("GET", "_history?_at=yesterday");
  CHECK(at.status == 400);
  CHECK(At(at.body, "issue[0].diagnostics") ==
        "Invalid value 'yesterday' for parameter _at: expected a date or dateTime, e.g. "
        "2024-01-31 or 2024-01-31T12:00:00Z");
  CHECK(At(f.Call("GET", "Patient/_history?_count=-1").body, "issue[0].diagnostics") ==
        "Invalid value '-1' for parameter _count: expected a non-negative integer");
  CHECK(At(f.Call("GET", "Patient/" + id + "/_history?_at=2000").body, "total") == "0");
}

TEST_CASE("update as create with a client id; id and type mismatches are 400") {
  Fixture f;
  RestResponse r = f.Call("PUT", "Patient/p1", R"({"resourceType":"Patient","id":"p1"})");
  CHECK(r.status == 201);
  CHECK(r.location == "Patient/p1/_history/1");
  CHECK(f.Call("PUT", "Patient/p2", R"({"resourceType":"Patient","id":"p1"})").status == 400);
  CHECK(f.Call("PUT", "Patient/p2", R"({"resourceType":"Patient"})").status == 400);
  CHECK(f.Call("PUT", "Observation/p1", R"({"resourceType":"Patient","id":"p1"})").status == 400);
  CHECK(f.Call("POST", "Observation", R"({"resourceType":"Patient"})").status == 400);
  RestResponse bad = f.Call("POST", "Patient", R"({"resourceType":"Patient","gender":"mal"})");
  CHECK(bad.status == 400);
  CHECK(At(bad.body, "issue[0].code") == "code-invalid");
  CHECK(At(bad.body, "issue[0].expression[0]") == "Patient.gender");
  CHECK(f.Call("POST", "Patient", "{not json").status == 400);
  CHECK(f.Call("POST", "Patient", "").status == 400);
  RestResponse unknown = f.Call("GET", "Foo/1");
  CHECK(unknown.status == 404);
  CHECK(At(unknown.body, "issue[0].code") == "not-found");
  // Nothing was stored by the failures.
  CHECK(At(f.Call("GET", "_history").body, "total") == "1");
}

TEST_CASE("If-Match, If-None-Match and If-Modified-Since") {
  Fixture f;
  f.Call("PUT", "Patient/p1", R"({"resourceType":"Patient","id":"p1"})");
  RestRequest r;
  r.method = "PUT";
  r.segments = {"Patient", "p1"};
  r.body = R"({"resourceType":"Patient","id":"p1","active":true})";
  r.if_match = "W/\"7\"";
  CHECK(f.Call(r).status == 412);
  r.if_match = "W/\"1\"";
  CHECK(f.Call(r).status == 200);
  r.if_match = "W/\"1\"";  // stale now
  r.body = R"({"resourceType":"Patient","id":"p1","active":false})";
  CHECK(f.Call(r).status == 412);

  RestRequest get;
  get.method = "GET";
  get.segments = {"Patient", "p1"};
  get.if_none_match = "W/\"2\"";
  RestResponse not_modified = f.Call(get);
  CHECK(not_modified.status == 304);
  CHECK(not_modified.body.empty());
  get.if_none_match = "W/\"1\"";
  CHECK(f.Call(get).status == 200);
  get.if_none_match.clear();
  get.if_modified_since = "Fri, 01 Jan 2100 00:00:00 GMT";
  CHECK(f.Call(get).status == 304);
  get.if_modified_since = "Fri, 01 Jan 2010 00:00:00 GMT";
  CHECK(f.Call(get).status == 200);
}

TEST_CASE("conditional create, update and delete") {
  Fixture f;
  RestRequest create;
  create.method = "POST";
  create.segments = {"Patient"};
  create.body = kPatient;
  create.if_none_exist = "identifier=urn:oid:1.2.3|A1";
  RestResponse first = f.Call(create);
  CHECK(first.status == 201);
  RestResponse second = f.Call(create);
  CHECK(second.status == 200);
  CHECK(IdOf(second) == IdOf(first));
  f.Call("POST", "Patient", kPatient);  // a duplicate identifier, made without the condition
  CHECK(f.Call(create).status == 412);

  RestResponse upd = f.Call("PUT", "Patient?identifier=urn:oid:1.2.3|B2",
                            R"({"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.3","value":"B2"}]})");
  CHECK(upd.status == 201);
  RestResponse upd2 = f.Call("PUT", "Patient?identifier=urn:oid:1.2.3|B2",
                             R"({"resourceType":"Patient","active":true,"identifier":[{"system":"urn:oid:1.2.3","value":"B2"}]})");
  CHECK(upd2.status == 200);
  CHECK(IdOf(upd2) == IdOf(upd));
  CHECK(upd2.etag == "W/\"2\"");
  CHECK(f.Call("PUT", "Patient?identifier=urn:oid:1.2.3|A1", kPatient).status == 412);
  // An unknown criterion would match too much: a conditional interaction refuses it.
  RestResponse unknown = f.Call("PUT", "Patient?shoe-size=x", kPatient);
  CHECK(unknown.status == 400);
  CHECK(At(unknown.body, "issue[0].expression[0]") == "shoe-size");
  // Any search parameter is a criterion: family=chalmers matches both A1 patients made above.
  CHECK(f.Call("PUT", "Patient?family=chalmers&gender=male", kPatient).status == 412);
  CHECK(f.Call("PUT", "Patient?family=chalmers&gender=female", kPatient).status == 201);

  CHECK(f.Call("DELETE", "Patient?identifier=urn:oid:1.2.3|A1").status == 412);
  CHECK(f.Call("DELETE", "Patient?identifier=urn:oid:1.2.3|B2").status == 204);
  CHECK(f.Call("GET", "Patient/" + IdOf(upd)).status == 410);
  CHECK(f.Call("DELETE", "Patient?identifier=urn:oid:1.2.3|none").status == 204);
}

TEST_CASE("concurrent conditional creates make one resource") {
  Fixture f;
  std::vector<std::thread> threads;
  std::atomic<int> created{0}, existing{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      RestRequest r;
      r.method = "POST";
      r.segments = {"Patient"};
      r.body = kPatient;
      r.if_none_exist = "identifier=urn:oid:1.2.3|A1";
      int status = f.Call(r).status;
      (status == 201 ? created : existing)++;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(created == 1);
  CHECK(existing == 7);
  CHECK(At(f.Call("GET", "Patient?identifier=A1").body, "total") == "1");
}

TEST_CASE("Prefer return") {
  Fixture f;
  RestRequest r;
  r.method = "POST";
  r.segments = {"Patient"};
  r.body = kPatient;
  r.prefer = "return=minimal";
  RestResponse minimal = f.Call(r);
  CHECK(minimal.status == 201);
  CHECK(minimal.body.empty());
  CHECK(!minimal.location.empty());
  r.prefer = "return=OperationOutcome";
  RestResponse outcome = f.Call(r);
  CHECK(At(outcome.body, "resourceType") == "OperationOutcome");
  CHECK(At(outcome.body, "issue[0].severity") == "information");
}

TEST_CASE("JSON Patch") {
  Fixture f;
  f.Call("PUT", "Patient/p1", R"({"resourceType":"Patient","id":"p1","gender":"male"})");
  RestResponse patched =
      f.Call("PATCH", "Patient/p1", R"([{"op":"replace","path":"/gender","value":"female"}])");
  CHECK(patched.status == 200);
  CHECK(patched.etag == "W/\"2\"");
  CHECK(At(patched.body, "gender") == "female");
  CHECK(f.Call("PATCH", "Patient/p1", R"([{"op":"test","path":"/gender","value":"male"}])").status ==
        422);
  CHECK(f.Call("PATCH", "Patient/p1", R"([{"op":"replace","path":"/gender","value":"x"}])").status ==
        422);
  CHECK(f.Call("PATCH", "Patient/p1", R"({"op":"x"})").status == 400);
  CHECK(f.Call("PATCH", "Patient/nope", R"([])").status == 404);
  CHECK(At(f.Call("GET", "Patient/p1").body, "meta.versionId") == "2");
}

TEST_CASE("transaction: urn:uuid references, all or nothing") {
  Fixture f;
  const char* tx = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
     "resource":{"resourceType":"Patient","identifier":[{"system":"s","value":"v"}]},
     "request":{"method":"POST","url":"Patient"}},
    {"fullUrl":"urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059",
     "resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},
                 "subject":{"reference":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}},
     "request":{"method":"POST","url":"Observation"}}]})";
  RestResponse r = f.Call("POST", "", tx);
  REQUIRE(r.status == 200);
  CHECK(At(r.body, "type") == "transaction-response");
  CHECK(At(r.body, "entry[0].response.status") == "201 Created");
  std::string patient_loc = At(r.body, "entry[0].response.location");
  std::string obs_loc = At(r.body, "entry[1].response.location");
  std::string patient_id = patient_loc.substr(8, 36);
  RestResponse obs = f.Call("GET", obs_loc.substr(0, obs_loc.find("/_history")));
  CHECK(At(obs.body, "subject.reference") == "Patient/" + patient_id);

  // A conditional reference resolves to the patient; a failing entry rolls back everything.
  const char* bad = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Observation","status":"final","code":{"text":"y"},
                 "subject":{"reference":"Patient?identifier=s|v"}},
     "request":{"method":"POST","url":"Observation"}},
    {"resource":{"resourceType":"Patient","id":"other"},
     "request":{"method":"PUT","url":"Patient/mismatch"}}]})";
  RestResponse failed = f.Call("POST", "", bad);
  CHECK(failed.status == 400);
  CHECK(At(failed.body, "resourceType") == "OperationOutcome");
  CHECK(At(f.Call("GET", "_history").body, "total") == "2");

  std::string good = bad;
  good.replace(good.find("Patient/mismatch"), 16, "Patient/other");
  RestResponse ok = f.Call("POST", "", good);
  CHECK(ok.status == 200);
  std::string loc = At(ok.body, "entry[0].response.location");
  CHECK(At(f.Call("GET", loc.substr(0, loc.find("/_history"))).body, "subject.reference") ==
        "Patient/" + patient_id);
}

// `r` is a failed transaction's answer: `status`, and an OperationOutcome whose first issue is
// the cause (`code`, `diagnostics`, at `expression`) and whose second names the entry, as sent.
void CheckEntryFailed(const RestResponse& r, int status, const std::string& code,
                      const std::string& diagnostics, const std::string& expression,
                      const std::string& entry) {
  CHECK(r.status == status);
  CHECK(At(r.body, "issue[0].code") == code);
  CHECK(At(r.body, "issue[0].diagnostics") == diagnostics);
  CHECK(At(r.body, "issue[0].expression[0]") == expression);
  CHECK(At(r.body, "issue[1].diagnostics") == entry + " failed; the transaction was rolled back");
}

// A Bundle's fullUrls are unique (bdl-7); a transaction writes each resource once
// (http.html#trules); an entry that fails says why, then which entry it was. Nothing is stored.
TEST_CASE("transaction: duplicate fullUrls, a resource written twice, unresolved references") {
  Fixture f;
  const std::string dup_full_url = R"({"resourceType":"Bundle","type":"TYPE","entry":[
    {"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
     "resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},
    {"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
     "resource":{"resourceType":"Patient","active":true},
     "request":{"method":"POST","url":"Patient"}}]})";
  for (const std::string type : {"transaction", "batch"}) {
    std::string body = dup_full_url;
    body.replace(body.find("TYPE"), 4, type);
    RestResponse r = f.Call("POST", "", body);
    CHECK(r.status == 400);
    CHECK(At(r.body, "issue[0].code") == "invariant");
    CHECK(At(r.body, "issue[0].expression[0]") == "Bundle.entry[1].fullUrl");
    CHECK(At(r.body, "issue[0].diagnostics") ==
          "Entries 0 and 1 have the same fullUrl urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a; "
          "fullUrls must be unique in a Bundle (bdl-7)");
  }
  // Different versions of one resource may share a fullUrl.
  RestResponse versions = f.Call("POST", "", R"({"resourceType":"Bundle","type":"batch","entry":[
    {"fullUrl":"http://x/Patient/v","resource":{"resourceType":"Patient","id":"v",
     "meta":{"versionId":"1"}},"request":{"method":"PUT","url":"Patient/v"}},
    {"fullUrl":"http://x/Patient/v","resource":{"resourceType":"Patient","id":"v",
     "meta":{"versionId":"2"},"active":true},"request":{"method":"PUT","url":"Patient/v"}}]})");
  CHECK(versions.status == 200);
  CHECK(At(versions.body, "entry[1].response.status") == "200 OK");
  CHECK(At(f.Call("GET", "Patient/v").body, "active") == "true");

  // Two updates of one resource, and an update and a delete of another: each fails whole.
  RestResponse twice = f.Call("POST", "", R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Patient","id":"x1"},"request":{"method":"PUT","url":"Patient/x1"}},
    {"resource":{"resourceType":"Patient","id":"x1","active":true},
     "request":{"method":"PUT","url":"Patient/x1"}}]})");
  CheckEntryFailed(twice, 400, "business-rule",
                   "Entry 1 writes Patient/x1, which entry 0 writes too; a transaction may "
                   "write each resource once",
                   "Bundle.entry[1].request.url", "Entry 1 (PUT Patient/x1)");
  CHECK(f.Call("GET", "Patient/x1").status == 404);
  RestResponse put_delete =
      f.Call("POST", "", R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Patient","id":"x2"},"request":{"method":"PUT","url":"Patient/x2"}},
    {"request":{"method":"DELETE","url":"Patient/x2"}}]})");
  CheckEntryFailed(put_delete, 400, "business-rule",
                   "Entry 0 writes Patient/x2, which entry 1 writes too; a transaction may "
                   "write each resource once",
                   "Bundle.entry[0].request.url", "Entry 0 (PUT Patient/x2)");
  CHECK(f.Call("GET", "Patient/x2").status == 404);
  // The same in a batch is two separate interactions.
  RestResponse batch = f.Call("POST", "", R"({"resourceType":"Bundle","type":"batch","entry":[
    {"resource":{"resourceType":"Patient","id":"x3"},"request":{"method":"PUT","url":"Patient/x3"}},
    {"resource":{"resourceType":"Patient","id":"x3","active":true},
     "request":{"method":"PUT","url":"Patient/x3"}}]})");
  CHECK(batch.status == 200);
  CHECK(At(f.Call("GET", "Patient/x3").body, "meta.versionId") == "2");

  // An unresolved reference: the reason first, as sent (a POST, not the PUT it became).
  RestResponse unresolved =
      f.Call("POST", "", R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Patient","id":"x4"},"request":{"method":"PUT","url":"Patient/x4"}},
    {"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},
                 "subject":{"reference":"urn:uuid:0e4e1b8a-5a2b-4f4e-9d55-000000000000"}},
     "request":{"method":"POST","url":"Observation"}}]})");
  CheckEntryFailed(unresolved, 400, "not-found",
                   "The reference urn:uuid:0e4e1b8a-5a2b-4f4e-9d55-000000000000 names no entry "
                   "of the transaction",
                   "Bundle.entry[1]", "Entry 1 (POST Observation)");
  CHECK(f.Call("GET", "Patient/x4").status == 404);
  RestResponse ambiguous =
      f.Call("POST", "", R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},
                 "subject":{"reference":"Patient?_id=v,x3"}},
     "request":{"method":"POST","url":"Observation"}}]})");
  CheckEntryFailed(ambiguous, 412, "multiple-matches",
                   "The conditional reference Patient?_id=v,x3 matches 2 resources; it must "
                   "match one",
                   "Bundle.entry[0]", "Entry 0 (POST Observation)");
  CHECK(At(f.Call("GET", "Observation").body, "total") == "0");
}

// A transaction creating many resources has them prepared (JSON, index entries) on a thread of
// its own while the earlier ones are written (server/version_preparer.h, from 16 entries on;
// the writing thread prepares those the other has not started, usually the first few): each is
// stored as version 1 with its references rewritten and is found by its index entries; one
// failing entry after them still rolls every one back.
TEST_CASE("transaction: many creates are stored, indexed and rolled back together") {
  Fixture f;
  constexpr int kObservations = 40;
  auto bundle = [&](const std::string& tag, bool fail) {
    std::string tx = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
    tx += R"({"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000001","resource":)"
          R"({"resourceType":"Patient","identifier":[{"system":"s","value":")" + tag + R"("}]},)"
          R"("request":{"method":"POST","url":"Patient"}})";
    for (int i = 0; i < kObservations; ++i) {
      tx += R"(,{"resource":{"resourceType":"Observation","status":"final",)"
            R"("identifier":[{"system":")" + tag + R"(","value":"o)" + std::to_string(i) +
            R"("}],"code":{"text":"x"},)"
            R"("subject":{"reference":"urn:uuid:00000000-0000-4000-8000-000000000001"}},)"
            R"("request":{"method":"POST","url":"Observation"}})";
    }
    if (fail) {
      tx += R"(,{"resource":{"resourceType":"Patient","id":"a"},)"
            R"("request":{"method":"PUT","url":"Patient/b"}})";
    }
    return tx + "]}";
  };
  RestResponse r = f.Call("POST", "", bundle("t1", false));
  REQUIRE(r.status == 200);
  const std::string patient_loc = At(r.body, "entry[0].response.location");
  const std::string patient = patient_loc.substr(0, patient_loc.find("/_history"));
  for (int i = 0; i < kObservations; ++i) {
    const std::string at = "entry[" + std::to_string(i + 1) + "].response.";
    CHECK(At(r.body, at + "status") == "201 Created");
    CHECK(At(r.body, at + "etag") == "W/\"1\"");
    const std::string loc = At(r.body, at + "location");
    RestResponse obs = f.Call("GET", loc.substr(0, loc.find("/_history")));
    REQUIRE(obs.status == 200);
    CHECK(At(obs.body, "meta.versionId") == "1");
    CHECK(At(obs.body, "subject.reference") == patient);
    CHECK(At(obs.body, "identifier[0].value") == "o" + std::to_string(i));
  }
  CHECK(At(f.Call("GET", "Observation?identifier=t1|o39").body, "total") == "1");
  CHECK(At(f.Call("GET", "Observation?subject=" + patient).body, "total") ==
        std::to_string(kObservations));

  RestResponse failed = f.Call("POST", "", bundle("t2", true));
  CHECK(failed.status == 400);
  CHECK(At(f.Call("GET", "Observation?identifier=t2|o0").body, "total") == "0");
  CHECK(At(f.Call("GET", "Patient?identifier=s|t2").body, "total") == "0");
  CHECK(At(f.Call("GET", "_history").body, "total") == std::to_string(kObservations + 1));
}

// Transactions, batches and failing ones posted from many threads at once (group commit,
// savepoints, the audit journal's flushes) all finish, each with its own outcome.
TEST_CASE("transactions and batches posted concurrently all complete") {
  Fixture f;
  constexpr int kThreads = 6;
  constexpr int kRounds = 5;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const std::string id = "c" + std::to_string(t) + "-" + std::to_string(i);
        const std::string kind = (t + i) % 2 == 0 ? "transaction" : "batch";
        std::string bundle = R"({"resourceType":"Bundle","type":")" + kind + R"(","entry":[)";
        bundle += R"({"resource":{"resourceType":"Patient","id":")" + id +
                  R"("},"request":{"method":"PUT","url":"Patient/)" + id + R"("}})";
        if (i == 2) {  // a bad entry: the transaction fails whole, the batch answers it alone
          bundle += R"(,{"resource":{"resourceType":"Patient","id":"x"},)"
                    R"("request":{"method":"PUT","url":"Patient/y"}})";
        }
        bundle += "]}";
        const RestResponse r = f.Call("POST", "", bundle);
        const bool failed_whole = i == 2 && kind == "transaction";
        if (r.status != (failed_whole ? 400 : 200)) ++wrong;
        const int read = f.Call("GET", "Patient/" + id).status;
        if (read != (failed_whole ? 404 : 200)) ++wrong;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(wrong.load() == 0);
}

TEST_CASE("batch answers each entry") {
  Fixture f;
  const char* batch = R"({"resourceType":"Bundle","type":"batch","entry":[
    {"resource":{"resourceType":"Patient","id":"b1"},"request":{"method":"PUT","url":"Patient/b1"}},
    {"request":{"method":"GET","url":"Patient/missing"}},
    {"request":{"method":"GET","url":"Patient/b1"}}]})";
  RestResponse r = f.Call("POST", "", batch);
  REQUIRE(r.status == 200);
  CHECK(At(r.body, "type") == "batch-response");
  CHECK(At(r.body, "entry[0].response.status") == "201 Created");
  CHECK(At(r.body, "entry[1].response.status") == "404 Not Found");
  CHECK(At(r.body, "entry[1].response.outcome.resourceType") == "OperationOutcome");
  CHECK(At(r.body, "entry[2].response.status") == "200 OK");
  CHECK(At(r.body, "entry[2].resource.id") == "b1");
  CHECK(f.Call("POST", "", R"({"resourceType":"Bundle","type":"collection"})").status == 400);
}

TEST_CASE("history paging and search by identifier") {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.Call("POST", "Patient", kPatient);
  RestResponse page = f.Call("GET", "Patient/_history?_count=2");
  CHECK(At(page.body, "total") == "3");
  CHECK(At(page.body, "entry[1].request.method") == "POST");
  CHECK(At(page.body, "entry[2]") == "");
  CHECK(At(page.body, "link[1].relation") == "next");
  RestResponse search = f.Call("GET", "Patient?identifier=urn:oid:1.2.3|A1");
  CHECK(At(search.body, "type") == "searchset");
  CHECK(At(search.body, "total") == "3");
  CHECK(At(search.body, "entry[0].search.mode") == "match");
  CHECK(At(f.Call("GET", "Patient?identifier=urn:oid:1.2.3|B").body, "total") == "0");
  CHECK(f.Call("GET", "Patient?_count=abc").status == 400);
}

TEST_CASE("concurrent If-Match updates lose no update") {
  Fixture f;
  f.Call("PUT", "Patient/c1", R"({"resourceType":"Patient","id":"c1","birthDate":"2000-01-01"})");
  constexpr int kThreads = 6, kUpdatesEach = 15;
  std::atomic<int> accepted{0}, stale{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int done = 0; done < kUpdatesEach;) {
        RestResponse current = f.Call("GET", "Patient/c1");
        RestRequest r;
        r.method = "PUT";
        r.segments = {"Patient", "c1"};
        r.if_match = current.etag;
        r.body = R"({"resourceType":"Patient","id":"c1","name":[{"family":"T)" +
                 std::to_string(t) + "-" + std::to_string(done) + R"("}]})";
        int status = f.Call(r).status;
        if (status == 200) {
          ++accepted;
          ++done;
        } else {
          CHECK(status == 412);
          ++stale;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(accepted == kThreads * kUpdatesEach);
  RestResponse last = f.Call("GET", "Patient/c1");
  CHECK(last.etag == "W/\"" + std::to_string(1 + kThreads * kUpdatesEach) + "\"");
  // Every accepted update is its own version: the history holds them all, once each.
  RestResponse history = f.Call("GET", "Patient/c1/_history?_count=1000");
  CHECK(At(history.body, "total") == std::to_string(1 + kThreads * kUpdatesEach));
}

namespace {

// A JSON Patch entry of a Bundle is a Binary whose `data` is the patch document in base64
// (http.html#patch).
TEST_CASE("transaction: a JSON Patch entry as a base64 Binary") {
  Fixture f;
  REQUIRE(f.Call("PUT", "Patient/bp", R"({"resourceType":"Patient","id":"bp"})").status == 201);
  // [{"op":"add","path":"/active","value":true}]
  const std::string patch =
      R"({"resourceType":"Binary","contentType":"application/json-patch+json",)"
      R"("data":"W3sib3AiOiJhZGQiLCJwYXRoIjoiL2FjdGl2ZSIsInZhbHVlIjp0cnVlfV0="})";
  RestResponse r = f.Call("POST", "",
                          R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":)" +
                              patch + R"(,"request":{"method":"PATCH","url":"Patient/bp"}}]})");
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(At(r.body, "entry[0].response.status") == "200 OK");
  RestResponse read = f.Call("GET", "Patient/bp");
  CHECK(At(read.body, "active") == "true");
  CHECK(At(read.body, "meta.versionId") == "2");
  // Not base64: the patch is not JSON, and nothing changes.
  RestResponse bad = f.Call(
      "POST", "",
      R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Binary",)"
      R"("contentType":"application/json-patch+json","data":"W3s"},)"
      R"("request":{"method":"PATCH","url":"Patient/bp"}}]})");
  CHECK(bad.status == 400);
  CHECK(At(f.Call("GET", "Patient/bp").body, "meta.versionId") == "2");
}

// A POST entry creates the type its request.url names: a Patient posted to Observation is
// refused, and the transaction with it.
TEST_CASE("transaction: a POST entry whose resource is not of its url's type is 400") {
  Fixture f;
  RestResponse r = f.Call(
      "POST", "",
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"resource":{"resourceType":"Patient","gender":"male"},"request":{"method":"POST","url":"Patient"}},)"
      R"({"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Observation"}}]})");
  CHECK(r.status == 400);
  CHECK(At(r.body, "issue[0].code") == "invalid");
  CHECK(At(r.body, "issue[0].diagnostics") ==
        "The entry's resource is a Patient, but its request.url creates a Observation");
  CHECK(At(r.body, "issue[0].expression[0]") == "Bundle.entry[1].resource");
  CHECK(At(f.Call("GET", "Patient").body, "total") == "0");
  CHECK(At(f.Call("GET", "Observation").body, "total") == "0");
  // In a batch, that entry alone fails.
  RestResponse batch = f.Call(
      "POST", "",
      R"({"resourceType":"Bundle","type":"batch","entry":[)"
      R"({"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Observation"}}]})");
  CHECK(batch.status == 200);
  CHECK(At(batch.body, "entry[0].response.status").rfind("400", 0) == 0);
}


// The answers of one Bundle stay under 64 MiB: a batch answers the entries past it too-costly
// without running them; a transaction fails whole.
TEST_CASE("batch and transaction: answers past 64 MiB are not built") {
  Fixture f;
  const std::string family(900 * 1024, 'a');
  REQUIRE(f.Call("PUT", "Patient/big",
                 R"({"resourceType":"Patient","id":"big","name":[{"family":")" + family + R"("}]})")
              .status == 201);
  auto bundle = [](const std::string& type) {
    std::string b = R"({"resourceType":"Bundle","type":")" + type + R"(","entry":[)";
    for (int i = 0; i < 80; ++i) {
      b += std::string(i > 0 ? "," : "") + R"({"request":{"method":"GET","url":"Patient/big"}})";
    }
    return b + "]}";
  };
  RestResponse batch = f.Call("POST", "", bundle("batch"));
  REQUIRE(batch.status == 200);
  CHECK(At(batch.body, "entry[0].response.status") == "200 OK");
  CHECK(At(batch.body, "entry[79].response.status").rfind("400", 0) == 0);
  CHECK(At(batch.body, "entry[79].response.outcome.issue[0].code") == "too-costly");
  CHECK(At(batch.body, "entry[79].response.outcome.issue[0].diagnostics") ==
        "Entry 79 was not run: the answers of the entries before it exceed 64 MiB");
  CHECK(batch.body.size() < (std::size_t{70} << 20));
  RestResponse transaction = f.Call("POST", "", bundle("transaction"));
  CHECK(transaction.status == 400);
  CHECK(At(transaction.body, "issue[0].code") == "too-costly");
}


// Two entries of one transaction that create with the same ifNoneExist make one resource: the
// second is answered with the first's, and references to either fullUrl point at it.
TEST_CASE("transaction: entries with the same ifNoneExist create one resource") {
  Fixture f;
  const std::string create =
      R"({"resource":{"resourceType":"Patient","identifier":[{"system":"dup","value":"1"}]},)"
      R"("request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=dup|1"}})";
  RestResponse r = f.Call(
      "POST", "",
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"fullUrl":"urn:uuid:00000000-0000-4000-8000-00000000000a",)" + create.substr(1) + "," +
          R"({"fullUrl":"urn:uuid:00000000-0000-4000-8000-00000000000b",)" + create.substr(1) +
          R"(,{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},)"
          R"("subject":{"reference":"urn:uuid:00000000-0000-4000-8000-00000000000b"}},)"
          R"("request":{"method":"POST","url":"Observation"}}]})");
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(At(r.body, "entry[0].response.status") == "201 Created");
  CHECK(At(r.body, "entry[1].response.status") == "200 OK");
  RestResponse patients = f.Call("GET", "Patient?identifier=dup|1");
  CHECK(At(patients.body, "total") == "1");
  const std::string id = At(patients.body, "entry[0].resource.id");
  RestResponse observations = f.Call("GET", "Observation?subject=Patient/" + id);
  CHECK(At(observations.body, "total") == "1");
  // A later transaction with the same criteria finds it in the store.
  RestResponse again = f.Call("POST", "",
                              R"({"resourceType":"Bundle","type":"transaction","entry":[)" +
                                  create + "]}");
  CHECK(At(again.body, "entry[0].response.status") == "200 OK");
  CHECK(At(f.Call("GET", "Patient?identifier=dup|1").body, "total") == "1");
}

}  // namespace
