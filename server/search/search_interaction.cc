#include "server/search/search_interaction.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fhir/model/reflection.h"
#include "fhir/model/registry.h"
#include "server/rest_util.h"

namespace server::search {
namespace {

using fhir::IssueType;
using storage::StoredVersion;

constexpr int kMaxIncludeRounds = 4;

void WriteString(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// The element name a top-level JSON property belongs to ("valueQuantity" -> "value",
// "_birthDate" -> "birthDate"), via the type's reflection.
std::string_view ElementOf(const fhir::TypeInfo* type, std::string_view property) {
  if (property.starts_with("_")) property.remove_prefix(1);
  if (type == nullptr) return property;
  const fhir::JsonName* name = type->FindJsonName(property);
  if (name == nullptr) return property;
  return type->fields[name->field].name;
}

// The resource JSON trimmed for _summary / _elements, tagged SUBSETTED (search.html#summary).
std::string Subset(const StoredVersion& v, const ParsedSearch& search) {
  rapidjson::Document doc;
  doc.Parse(v.json.data(), v.json.size());
  if (doc.HasParseError() || !doc.IsObject()) return v.json;
  const fhir::TypeInfo* type = fhir::FindResourceType(v.type);
  std::set<std::string, std::less<>> elements(search.elements.begin(), search.elements.end());
  auto keep = [&](std::string_view property) {
    std::string_view element = ElementOf(type, property);
    if (element == "resourceType" || element == "id" || element == "meta") return true;
    switch (search.summary) {
      case SummaryMode::kText:
        return element == "text" || element == "implicitRules";
      case SummaryMode::kData:
        return element != "text";
      case SummaryMode::kTrue: {
        if (type == nullptr) return false;
        const fhir::FieldInfo* field = type->FindField(element);
        return field != nullptr && (field->is_summary || field->min > 0);
      }
      default:
        break;
    }
    if (!elements.empty()) {
      if (element == "implicitRules") return true;
      if (elements.count(element) > 0) return true;
      const fhir::FieldInfo* field = type != nullptr ? type->FindField(element) : nullptr;
      return field != nullptr && field->is_modifier;  // modifiers are never left out
    }
    return true;
  };
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  bool wrote_meta = false;
  auto write_tag = [&] {
    w.StartObject();
    w.Key("system");
    w.String("http://terminology.hl7.org/CodeSystem/v3-ObservationValue");
    w.Key("code");
    w.String("SUBSETTED");
    w.Key("display");
    w.String("subsetted");
    w.EndObject();
  };
  // Indexed member access: RapidJSON's member iterators trip C++20's reversed operators.
  for (rapidjson::SizeType i = 0; i < doc.MemberCount(); ++i) {
    auto& member = doc.MemberBegin()[i];
    std::string_view name(member.name.GetString(), member.name.GetStringLength());
    if (!keep(name)) continue;
    w.Key(member.name.GetString(), member.name.GetStringLength());
    if (name == "meta" && member.value.IsObject()) {
      wrote_meta = true;
      w.StartObject();
      bool wrote_tag = false;
      for (rapidjson::SizeType j = 0; j < member.value.MemberCount(); ++j) {
        auto& m = member.value.MemberBegin()[j];
        w.Key(m.name.GetString(), m.name.GetStringLength());
        if (std::string_view(m.name.GetString()) == "tag" && m.value.IsArray()) {
          wrote_tag = true;
          w.StartArray();
          for (auto& tag : m.value.GetArray()) tag.Accept(w);
          write_tag();
          w.EndArray();
        } else {
          m.value.Accept(w);
        }
      }
      if (!wrote_tag) {
        w.Key("tag");
        w.StartArray();
        write_tag();
        w.EndArray();
      }
      w.EndObject();
    } else {
      member.value.Accept(w);
    }
    if (name == "id" && !wrote_meta && !doc.HasMember("meta")) {
      wrote_meta = true;
      w.Key("meta");
      w.StartObject();
      w.Key("tag");
      w.StartArray();
      write_tag();
      w.EndArray();
      w.EndObject();
    }
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string Entry(const SearchTarget& target, const StoredVersion& v, std::string_view mode,
                  const ParsedSearch& search) {
  const bool subset = search.summary != SummaryMode::kFalse || !search.elements.empty();
  std::string resource = subset ? Subset(v, search) : v.json;
  if (target.access != nullptr && target.access->emergency_used()) {
    resource = auth::WithSecurityLabel(resource, auth::kActReasonSystem, "ETREAT");
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("fullUrl");
  WriteString(w, target.base_url + "/" + v.type + "/" + v.id);
  w.Key("resource");
  w.RawValue(resource.data(), resource.size(), rapidjson::kObjectType);
  w.Key("search");
  w.StartObject();
  w.Key("mode");
  WriteString(w, mode);
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string OutcomeEntry(const std::vector<std::string>& warnings) {
  std::vector<fhir::Issue> issues;
  for (const std::string& text : warnings) {
    issues.push_back({fhir::Severity::kWarning, IssueType::kNotSupported,
                      text + " (ignored: Prefer handling=lenient)",
                      {}});
  }
  std::string outcome = OperationOutcomeOf(fhir::Status(std::move(issues)));
  return "{\"resource\":" + outcome + ",\"search\":{\"mode\":\"outcome\"}}";
}

// Resolves the includes of `matches` (and, with :iterate, of what they include).
fhir::Result<std::vector<StoredVersion>> Includes(const SearchTarget& target,
                                                  const ParsedSearch& search,
                                                  const std::vector<StoredVersion>& matches) {
  std::vector<StoredVersion> out;
  std::set<std::string> seen;
  for (const StoredVersion& v : matches) seen.insert(v.type + "/" + v.id);
  std::vector<StoredVersion> frontier = matches;
  for (int round = 0; round < kMaxIncludeRounds && !frontier.empty(); ++round) {
    std::vector<StoredVersion> found;
    auto run = [&](const Include& include) -> fhir::Status {
      if (round > 0 && !include.iterate) return fhir::Status::Ok();
      std::vector<storage::ResourceKey> from;
      for (const StoredVersion& v : frontier) {
        // Forward: from resources of the source type; reverse: pointing at any of them.
        if (!include.query.reverse && include.query.source_type != "*" &&
            v.type != include.query.source_type) {
          continue;
        }
        from.push_back({v.type, v.id});
      }
      if (from.empty()) return fhir::Status::Ok();
      std::vector<storage::IncludeQuery> queries;
      if (include.query.source_type == "*" && include.query.reverse) {
        queries.push_back(include.query);  // `*`: every type's every reference to them
      } else if (include.query.source_type == "*") {
        // `*`: every reference parameter of the types of `from`.
        std::set<std::string> types;
        for (const auto& key : from) types.insert(key.type);
        for (const std::string& type : types) {
          storage::IncludeQuery q = include.query;
          q.source_type = type;
          queries.push_back(std::move(q));
        }
      } else {
        queries.push_back(include.query);
      }
      for (const storage::IncludeQuery& q : queries) {
        FHIR_ASSIGN_OR_RETURN(std::vector<StoredVersion> versions, target.store.Include(from, q));
        for (StoredVersion& v : versions) {
          if (seen.insert(v.type + "/" + v.id).second) found.push_back(std::move(v));
        }
      }
      return fhir::Status::Ok();
    };
    for (const Include& include : search.includes) FHIR_RETURN_IF_ERROR(run(include));
    for (const Include& include : search.revincludes) FHIR_RETURN_IF_ERROR(run(include));
    out.insert(out.end(), found.begin(), found.end());
    frontier = std::move(found);
  }
  return out;
}

// The types a query's chains and _has reach.
void NestedTypes(const storage::SearchQuery& query, std::set<std::string>& types) {
  for (const storage::Criterion& criterion : query.criteria) {
    for (const storage::Match& m : criterion.any) {
      if (m.chain) {
        if (!m.chain->type.empty()) types.insert(m.chain->type);
        NestedTypes(*m.chain, types);
      }
    }
  }
  for (const storage::HasCriterion& has : query.has) {
    if (has.query) {
      if (!has.query->type.empty()) types.insert(has.query->type);
      NestedTypes(*has.query, types);
    }
  }
  if (query.contained) NestedTypes(*query.contained, types);
}

// Sets the access filters on `query` and on copies of its nested chain and _has queries (the
// originals stay unrestricted).
void ApplyAccess(storage::SearchQuery& query, const std::vector<storage::CompartmentFilter>& filters) {
  query.access = filters;
  for (storage::Criterion& criterion : query.criteria) {
    for (storage::Match& m : criterion.any) {
      if (m.chain) {
        m.chain = std::make_shared<storage::SearchQuery>(*m.chain);
        ApplyAccess(*m.chain, filters);
      }
    }
  }
  for (storage::HasCriterion& has : query.has) {
    if (has.query) {
      has.query = std::make_shared<storage::SearchQuery>(*has.query);
      ApplyAccess(*has.query, filters);
    }
  }
  if (query.contained) {
    query.contained = std::make_shared<storage::SearchQuery>(*query.contained);
    ApplyAccess(*query.contained, filters);
  }
}

// The access filters for `query` (nullopt: unrestricted). `every_type`: the result may hold
// any type (system search, includes).
fhir::Result<std::optional<std::vector<storage::CompartmentFilter>>> AccessFilters(
    auth::AccessControl* access, const storage::SearchQuery& query, bool every_type) {
  if (access == nullptr) return std::optional<std::vector<storage::CompartmentFilter>>();
  std::set<std::string> types;
  if (!every_type) {
    if (!query.type.empty()) types.insert(query.type);
    types.insert(query.types.begin(), query.types.end());
    NestedTypes(query, types);
  }
  return access->SearchFilters(types);
}

fhir::Result<std::int64_t> CountOf(const SearchTarget& target, storage::SearchQuery query) {
  query.limit = 1;
  query.offset = 0;
  query.after.reset();
  query.before.reset();
  query.sort.clear();
  FHIR_ASSIGN_OR_RETURN(storage::SearchPage page, target.txn != nullptr
                                                      ? target.txn->Search(query, true)
                                                      : target.store.Search(query, true));
  return page.total;
}

// Drops the included resources the filters do not allow; true when it dropped any.
fhir::Result<bool> DropForbidden(const SearchTarget& target,
                                 const std::vector<storage::CompartmentFilter>& filters,
                                 std::vector<StoredVersion>& versions) {
  std::map<std::string, std::vector<std::string>> by_type;
  for (const StoredVersion& v : versions) by_type[v.type].push_back(v.id);
  std::set<std::string> allowed;
  for (const auto& [type, ids] : by_type) {
    storage::SearchQuery q;
    q.type = type;
    storage::Criterion criterion;
    criterion.param = "_id";
    for (const std::string& id : ids) {
      storage::Match m;
      m.kind = storage::Match::Kind::kId;
      m.value = id;
      criterion.any.push_back(std::move(m));
    }
    q.criteria.push_back(std::move(criterion));
    q.access = filters;
    FHIR_ASSIGN_OR_RETURN(storage::SearchPage page, target.txn != nullptr
                                                        ? target.txn->Search(q, false)
                                                        : target.store.Search(q, false));
    for (const StoredVersion& v : page.versions) allowed.insert(v.type + "/" + v.id);
  }
  const std::size_t before = versions.size();
  std::erase_if(versions, [&](const StoredVersion& v) {
    return allowed.count(v.type + "/" + v.id) == 0;
  });
  return versions.size() != before;
}

// The stored terminology for :in, :not-in, :above and :below: the current resource of `type`
// with canonical `url[|version]`, or "Type/id". Several with one canonical: the one updated
// last (a newer edition stored beside an older one). Read without access restrictions
// (ValueSets and CodeSystems are definitions, not records about anyone). Through `txn` when
// set, else `store`.
TerminologyLookup StoreLookup(storage::Store* store, storage::WriteTransaction* txn) {
  return [store, txn](std::string_view type,
                       std::string_view reference) -> fhir::Result<std::optional<std::string>> {
    storage::SearchQuery q;
    q.type = type;
    q.limit = 1;
    storage::Criterion criterion;
    storage::Match m;
    const std::string prefix = std::string(type) + "/";
    if (reference.starts_with(prefix)) {
      criterion.param = "_id";
      m.kind = storage::Match::Kind::kId;
      m.value = reference.substr(prefix.size());
    } else {
      criterion.table = storage::IndexTable::kUri;
      criterion.param = "url";
      m.kind = storage::Match::Kind::kUri;
      m.value = reference.substr(0, reference.find('|'));
      if (std::size_t bar = reference.find('|'); bar != std::string_view::npos) {
        storage::Criterion version;
        version.table = storage::IndexTable::kToken;
        version.param = "version";
        storage::Match v;
        v.kind = storage::Match::Kind::kToken;
        v.value = reference.substr(bar + 1);
        version.any.push_back(std::move(v));
        q.criteria.push_back(std::move(version));
      }
    }
    criterion.any.push_back(std::move(m));
    q.criteria.push_back(std::move(criterion));
    storage::SortKey newest;
    newest.param = "_lastUpdated";
    newest.descending = true;
    q.sort.push_back(std::move(newest));
    FHIR_ASSIGN_OR_RETURN(storage::SearchPage page,
                          txn != nullptr ? txn->Search(q, false) : store->Search(q, false));
    if (page.versions.empty()) return std::optional<std::string>();
    return std::optional<std::string>(std::move(page.versions.front().json));
  };
}

}  // namespace

RestResponse RunSearch(const SearchTarget& target, std::string_view type, const Params& params,
                       bool strict, std::string_view path,
                       const storage::CompartmentFilter* compartment) {
  fhir::Result<ParsedSearch> parsed =
      ParseSearch(type, params, strict, StoreLookup(&target.store, target.txn));
  if (!parsed.ok()) return ErrorResponse(parsed.status());
  ParsedSearch& search = *parsed;
  storage::SearchQuery& query = search.query;
  if (compartment != nullptr) {
    if (query.contained) {
      return ErrorResponse(fhir::Status(IssueType::kNotSupported,
                                        "_contained is not supported in a compartment search",
                                        "_contained"));
    }
    query.compartment = *compartment;
  }
  auto filters = AccessFilters(target.access, query,
                               query.type.empty() || !search.includes.empty() ||
                                   !search.revincludes.empty());
  if (!filters.ok()) return ErrorResponse(filters.status());
  storage::SearchQuery unrestricted;
  if (*filters) {
    unrestricted = query;
    ApplyAccess(query, **filters);
  }
  const bool count_only = search.summary == SummaryMode::kCount;
  query.limit = count_only ? 0 : search.count;
  query.offset = search.offset;
  query.after = search.after;
  query.before = search.before;
  // Searches in the default order page by cursor; sorted ones by offset.
  const bool keyset = search.query.sort.empty() && search.offset == 0;
  const bool want_total = count_only || search.total != TotalMode::kNone;
  fhir::Result<storage::SearchPage> page = storage::SearchPage{};
  if (count_only) {
    // Only the total: a page of nothing.
    query.limit = 1;
    page = target.txn != nullptr ? target.txn->Search(query, true) : target.store.Search(query, true);
    if (page.ok()) page->versions.clear();
  } else if (search.count == 0) {
    query.limit = 1;
    page = target.txn != nullptr ? target.txn->Search(query, want_total)
                                 : target.store.Search(query, want_total);
    if (page.ok()) page->versions.clear();
  } else {
    // One more than the page tells whether a next page exists.
    query.limit = search.count + 1;
    page = target.txn != nullptr ? target.txn->Search(query, want_total)
                                 : target.store.Search(query, want_total);
  }
  if (!page.ok()) return ErrorResponse(page.status());
  bool more = false;  // another page beyond this one, in the direction read
  if (!count_only && search.count > 0 &&
      page->versions.size() > static_cast<std::size_t>(search.count)) {
    page->versions.pop_back();
    more = true;
  }
  if (search.before) std::reverse(page->versions.begin(), page->versions.end());

  BundleWriter bundle("searchset");
  if (want_total) bundle.Total(page->total);
  const std::string base = target.base_url + "/" + std::string(path);
  auto link = [&](int offset) {
    Params p = search.used;
    if (offset > 0) p.emplace_back("_offset", std::to_string(offset));
    return base + QueryString(p, {});
  };
  auto cursor_link = [&](const char* key, const StoredVersion& v) {
    Params p = search.used;
    p.emplace_back(key, v.type + "/" + v.id);
    return base + QueryString(p, {});
  };
  if (keyset && !count_only && search.count > 0) {
    Params self = search.used;
    if (search.after) self.emplace_back("_after", search.after->first + "/" + search.after->second);
    if (search.before) {
      self.emplace_back("_before", search.before->first + "/" + search.before->second);
    }
    bundle.Link("self", base + QueryString(self, {}));
    const auto& versions = page->versions;
    bool has_next = search.before ? true : more;
    bool has_previous = search.before ? more : search.after.has_value();
    if (has_next && !versions.empty()) bundle.Link("next", cursor_link("_after", versions.back()));
    if (has_previous && !versions.empty()) {
      bundle.Link("previous", cursor_link("_before", versions.front()));
    }
  } else {
    bundle.Link("self", link(search.offset));
    if (more) bundle.Link("next", link(search.offset + search.count));
    if (search.offset > 0 && search.count > 0) {
      int previous = search.offset - search.count;
      bundle.Link("previous", link(previous > 0 ? previous : 0));
    }
  }
  for (const StoredVersion& v : page->versions) bundle.RawEntry(Entry(target, v, "match", search));
  bool redacted = false;
  if (*filters) {
    // Something was omitted when the search without the restriction finds more.
    auto all = CountOf(target, unrestricted);
    if (!all.ok()) return ErrorResponse(all.status());
    std::int64_t allowed_total = 0;
    if (want_total) {
      allowed_total = page->total;
    } else {
      auto counted = CountOf(target, query);
      if (!counted.ok()) return ErrorResponse(counted.status());
      allowed_total = *counted;
    }
    redacted = *all != allowed_total;
  }
  if (!count_only && (!search.includes.empty() || !search.revincludes.empty())) {
    fhir::Result<std::vector<StoredVersion>> included = Includes(target, search, page->versions);
    if (!included.ok()) return ErrorResponse(included.status());
    if (*filters) {
      auto dropped = DropForbidden(target, **filters, *included);
      if (!dropped.ok()) return ErrorResponse(dropped.status());
      redacted = redacted || *dropped;
    }
    for (const StoredVersion& v : *included) bundle.RawEntry(Entry(target, v, "include", search));
  }
  if (!search.ignored.empty()) bundle.RawEntry(OutcomeEntry(search.ignored));
  RestResponse response;
  response.body = redacted ? auth::MarkRedacted(bundle.Finish()) : bundle.Finish();
  return response;
}

fhir::Result<std::vector<std::string>> FindMatches(storage::WriteTransaction& txn,
                                                   std::string_view type, const Params& params,
                                                   auth::AccessControl* access) {
  Params criteria;
  for (const auto& [key, value] : params) {
    if (key == "_format" || key == "_pretty") continue;
    if (key == "_count" || key == "_sort" || key == "_include" || key == "_revinclude" ||
        key == "_summary" || key == "_elements" || key == "_total" || key == "_offset" ||
        key == "_after" || key == "_before") {
      return fhir::Status(IssueType::kInvalid,
                          "'" + key + "' is not a search criterion of a conditional interaction",
                          key);
    }
    criteria.emplace_back(key, value);
  }
  // Conditional interactions run inside the write transaction: the lookup reads through it.
  FHIR_ASSIGN_OR_RETURN(ParsedSearch search, ParseSearch(type, criteria, /*strict=*/true,
                                                         StoreLookup(nullptr, &txn)));
  search.query.limit = 0;
  FHIR_ASSIGN_OR_RETURN(auto filters, AccessFilters(access, search.query, false));
  if (filters) ApplyAccess(search.query, *filters);
  FHIR_ASSIGN_OR_RETURN(storage::SearchPage page, txn.Search(search.query, false));
  std::vector<std::string> ids;
  ids.reserve(page.versions.size());
  for (const StoredVersion& v : page.versions) ids.push_back(v.id);
  return ids;
}

}  // namespace server::search
