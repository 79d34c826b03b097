#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace storage {

// A search as the store executes it: AND of criteria over the current, non-deleted resources of
// one type, each criterion an OR of matches against one parameter's index table. The server
// parses FHIR search syntax (prefixes, modifiers, chains, _has) into this; the store compiles it
// to its query language. Dates are ms since the epoch, inclusive ranges (fhir/search/normalize.h).

enum class IndexTable : std::uint8_t {
  kString,
  kToken,
  kDate,
  kNumber,
  kQuantity,
  kReference,
  kUri,
  kComposite,
};

enum class Prefix : std::uint8_t { kEq, kNe, kGt, kLt, kGe, kLe, kSa, kEb, kAp };

struct SearchQuery;

struct Match {
  enum class Kind : std::uint8_t {
    kStringStarts,    // normalized LIKE 'text%'
    kStringExact,     // exact = text
    kStringContains,  // normalized LIKE '%text%'
    kToken,           // [system|]code; system optional (any), or system only (any code)
    kTokenText,       // :text: token text contains (normalised, word start)
    kTokenOfType,     // :of-type: type_system|type_code|value
    kRange,           // date / number / quantity: prefix against [low, high] (+ system/code)
    kReference,       // target_type/target_id (type may be empty: any), optional version
    kReferenceUrl,    // absolute URL or canonical (url, optional version)
    kReferenceIdentifier,  // :identifier: identifier system|value
    kChain,           // reference whose target matches `chain` (a query on the target type)
    kUri,             // uri = value
    kUriBelow,        // uri starts with value
    kUriAbove,        // value starts with uri
    kId,              // _id = value
    kComposite,       // `parts[i]` matches component i + 1 of one composite index row
    kTokenIn,         // system = *system and code in `codes` (:in, :above, :below), or with
                      // `codes_excluded` any code of the system but `codes`
  };
  Kind kind = Kind::kToken;
  Prefix prefix = Prefix::kEq;
  std::optional<std::string> system;  // token/quantity system; nullopt: any
  std::string value;                  // text, code, id, URL, identifier value
  std::string extra;                  // reference: target type; of-type: type code; version
  std::string extra2;                 // of-type: type system; reference: version
  // kRange, numbers and quantities: the search value and its implicit range [low, high) by its
  // significant digits (100 -> [99.5, 100.5)); dates: the inclusive ms range [time_low,
  // time_high] of the search value's precision.
  double number = 0, low = 0, high = 0;
  std::int64_t time_low = 0, time_high = 0;
  bool is_time = false;
  std::shared_ptr<SearchQuery> chain;  // kChain
  // kComposite: one match per component, in order, each of kind kToken, kRange, kStringStarts,
  // kReference, kReferenceUrl or kUri against that component's columns.
  std::vector<Match> parts;
  std::vector<std::string> codes;  // kTokenIn
  bool codes_excluded = false;     // kTokenIn
};

struct Criterion {
  IndexTable table = IndexTable::kToken;
  // The parameter code as indexed; "_id" (matches kId against the resource id) and
  // "_lastUpdated" (kRange on meta.lastUpdated) are answered from the resource table.
  std::string param;
  std::vector<Match> any;  // OR
  bool negate = false;     // :not (and `ne` on the whole set): resources with no matching entry
  std::optional<bool> missing;  // :missing=true/false (then `any` is empty)
};

// _has:Type:param:... — resources referenced (by `param` of `type`) from a resource of `type`
// that matches `query`.
struct HasCriterion {
  std::string param;
  std::shared_ptr<SearchQuery> query;  // over the referring type
};

struct SortKey {
  IndexTable table = IndexTable::kString;
  std::string param;  // "_id", "_lastUpdated", or a parameter code
  bool descending = false;
};

// Compartment search (GET Patient/123/Immunization): resources whose reference parameter, one of
// `params`, points at the compartment's owner. Also the access restriction of issue 5 (resident
// and Consent-gated access), which needs several owners, per-type parameters and negation.
struct CompartmentFilter {
  std::string owner_type;
  std::vector<std::string> owner_ids;  // OR: in the compartment of any of them
  // Parameter codes on the resource's own type (GET Patient/123/Immunization: Immunization's).
  std::vector<std::string> params;
  // (type, code) pairs: when non-empty, used instead of `params`, so one filter covers several
  // types (a resource of type T is a member through T's listed codes only).
  std::vector<std::pair<std::string, std::string>> type_params;
  bool any_owner = false;       // any resource of owner_type, not just `owner_ids`
  bool include_owners = false;  // the owners themselves are members (Patient/123 is in its own)
  bool negate = false;          // resources NOT in the compartment(s)
  std::string only_type;        // when set, only resources of this type can match the filter
};

struct SearchQuery {
  std::string type;  // empty: every type (system search; `types` may narrow it)
  std::vector<std::string> types;
  std::vector<Criterion> criteria;  // AND
  std::vector<HasCriterion> has;    // AND
  std::optional<CompartmentFilter> compartment;
  // Access control: when set, only resources matching one of these filters (OR; none: no
  // resource) are found. Applied inside the query, so totals and pages are right.
  std::optional<std::vector<CompartmentFilter>> access;
  // _contained=true|both (search.html#contained): a resource (of any type, unless `type` or
  // `types` say otherwise; the other conditions apply to it) matches when it contains a
  // resource of `contained->type` that meets `contained->criteria` (stored as index rows of
  // "#" + that type on the container, fhir/search/index_entries.h); with `contained_self`, a
  // resource of that type meeting them itself matches too. Only criteria: no _has, sort, ...
  std::shared_ptr<SearchQuery> contained;
  bool contained_self = false;
  std::vector<SortKey> sort;
  // Keyset paging in the default order (type, id), only without `sort`: resources strictly
  // after / before (type, id). `before` returns the page nearest to it first (descending).
  std::optional<std::pair<std::string, std::string>> after, before;
  int limit = 0;   // 0: no limit
  int offset = 0;
};

}  // namespace storage
