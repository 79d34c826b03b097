#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fhir/base/status.h"
#include "server/search/terminology.h"
#include "storage/search_query.h"
#include "storage/store.h"

namespace server::search {

using Params = std::vector<std::pair<std::string, std::string>>;

// An _include or _revinclude, optionally :iterate.
struct Include {
  storage::IncludeQuery query;
  bool iterate = false;
  std::string text;  // as written, for the self link
};

enum class TotalMode { kNone, kEstimate, kAccurate };
enum class SummaryMode { kFalse, kTrue, kText, kData, kCount };

// A FHIR search request (http://hl7.org/fhir/R4/search.html) parsed against the R4 search
// parameters of its type: the store query plus the result parameters.
struct ParsedSearch {
  storage::SearchQuery query;
  std::vector<Include> includes;
  std::vector<Include> revincludes;
  int count = 50;
  int offset = 0;  // _offset: paging of sorted searches
  // _after / _before=Type/id: keyset paging of searches in the default order (what the paging
  // links use), so writes between page requests neither skip nor repeat a resource.
  std::optional<std::pair<std::string, std::string>> after, before;
  TotalMode total = TotalMode::kAccurate;
  SummaryMode summary = SummaryMode::kFalse;
  std::vector<std::string> elements;
  // The parameters that took effect, normalised, for the self link (lenient mode leaves the
  // ignored ones out).
  Params used;
  // Parameters ignored in lenient mode, with the reason (reported in the Bundle's outcome).
  std::vector<std::string> ignored;
};

constexpr int kMaxCount = 1000;

// `type` is the resource type searched; empty for a system-level search (`_type` narrows it).
// strict (Prefer: handling=strict): an unknown or unsupported parameter is an error naming it;
// otherwise it is ignored. A malformed value is always an error (kValue / kNotSupported with the
// parameter as location). `lookup` reads the stored ValueSets and CodeSystems for the token
// modifiers :in, :not-in, :above and :below; without it they are unsupported.
fhir::Result<ParsedSearch> ParseSearch(std::string_view type, const Params& params, bool strict,
                                       const TerminologyLookup& lookup = {});

// `value` split at every `separator` not escaped by a backslash; escapes are kept.
std::vector<std::string> SplitUnescaped(std::string_view value, char separator);
// `\,` `\$` `\|` `\\` -> `,` `$` `|` `\`.
std::string Unescape(std::string_view value);

}  // namespace server::search
