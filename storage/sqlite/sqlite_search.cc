#include "storage/sqlite/sqlite_search.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "fhir/search/index_entries.h"
#include "fhir/search/normalize.h"
#include "fhir/search/search_registry.h"

namespace storage::sqlite {
namespace {

using fhir::IssueType;
using fhir::Result;
using fhir::Status;

const char* TableName(IndexTable table) {
  switch (table) {
    case IndexTable::kString:
      return "idx_string";
    case IndexTable::kToken:
      return "idx_token";
    case IndexTable::kDate:
      return "idx_date";
    case IndexTable::kNumber:
      return "idx_number";
    case IndexTable::kQuantity:
      return "idx_quantity";
    case IndexTable::kReference:
      return "idx_reference";
    case IndexTable::kUri:
      return "idx_uri";
    case IndexTable::kComposite:
      return "idx_composite";
  }
  return "idx_token";
}

// The smallest string greater than every string starting with `prefix` (byte order).
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xFF) prefix.pop_back();
  if (prefix.empty()) return "\xFF";
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

std::string EscapeLike(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '%' || ch == '_' || ch == '\\') out += '\\';
    out += ch;
  }
  return out;
}

constexpr std::int64_t kDayMs = 24 * 60 * 60 * 1000;

class Compiler {
 public:
  explicit Compiler(bool walk) : walk_(walk) {}

  Result<CompiledSearch> Compile(const SearchQuery& query) {
    CompiledSearch out;
    std::string where;
    FHIR_RETURN_IF_ERROR(Conditions(query, "c", where, out.binds, walk_));
    out.can_walk = query.sort.empty() && Driver(query) != nullptr;
    if (const Criterion* alone = CountedAlone(query)) {
      // Every index row is one of a current, non-deleted resource of the parameter's type (see
      // sqlite_search.h), so the resources with a matching row are the matches: no join.
      const std::string t = Alias("t");
      out.count_sql = std::string("SELECT count(DISTINCT ") + t + ".rid) FROM " +
                      TableName(alone->table) + " " + t + " WHERE ";
      FHIR_RETURN_IF_ERROR(
          IndexRowsSql(query, *alone, t, /*equal=*/true, out.count_sql, out.count_binds));
      const std::string e = Alias("t");
      out.estimate_sql = std::string("SELECT count(*) FROM (SELECT 1 FROM ") +
                         TableName(alone->table) + " " + e + " WHERE ";
      FHIR_RETURN_IF_ERROR(
          IndexRowsSql(query, *alone, e, /*equal=*/true, out.estimate_sql, out.estimate_binds));
      out.estimate_sql += " LIMIT ?)";
    } else {
      out.count_sql = "SELECT count(*) FROM current c WHERE " + where;
      out.count_binds = out.binds;
    }
    if ((query.after || query.before) && !query.sort.empty()) {
      return Status(IssueType::kNotSupported, "keyset paging needs the default order");
    }
    if (query.after) {
      out.cursor = " AND (c.type, c.id) > (?, ?)";
      out.cursor_binds.emplace_back(query.after->first);
      out.cursor_binds.emplace_back(query.after->second);
    }
    if (query.before) {
      out.cursor = " AND (c.type, c.id) < (?, ?)";
      out.cursor_binds.emplace_back(query.before->first);
      out.cursor_binds.emplace_back(query.before->second);
    }
    out.where = std::move(where);
    for (const SortKey& key : query.sort) {
      if (!out.order_by.empty()) out.order_by += ", ";
      FHIR_RETURN_IF_ERROR(SortExpression(key, "c", out.order_by, out.order_binds));
    }
    if (!out.order_by.empty()) out.order_by += ", ";
    out.order_by += query.before ? "c.type DESC, c.id DESC" : "c.type, c.id";
    return out;
  }

 private:
  using Binds = std::vector<CompiledSearch::BindValue>;

  std::string Alias(const char* base) { return base + std::to_string(++aliases_); }

  // The condition that the current row `c` (alias) satisfies `query`.
  // How selective a criterion's index lookup usually is (lower: fewer rows), without table
  // statistics: references and codes name few resources, ranges and text many.
  static int Selectivity(const Criterion& criterion) {
    if (criterion.negate || criterion.missing || criterion.any.empty() ||
        criterion.param == "_id" || criterion.param == "_lastUpdated") {
      return -1;  // never drives
    }
    int worst = 0;
    for (const Match& m : criterion.any) {
      int rank = 9;
      switch (m.kind) {
        case Match::Kind::kReference:
        case Match::Kind::kReferenceIdentifier:
        case Match::Kind::kReferenceUrl:
        case Match::Kind::kTokenOfType:
          rank = 1;
          break;
        case Match::Kind::kToken:
          rank = m.value.empty() ? 6 : 2;
          break;
        case Match::Kind::kComposite:  // the first component (a code, mostly) is indexed
          rank = 2;
          break;
        case Match::Kind::kTokenIn:
          rank = m.codes_excluded ? 6 : 2;
          break;
        case Match::Kind::kStringExact:
        case Match::Kind::kUri:
          rank = 3;
          break;
        case Match::Kind::kStringStarts:
        case Match::Kind::kUriBelow:
          rank = 4;
          break;
        case Match::Kind::kRange:
          // A date `eq` of day precision or finer (birthdate=1970-01-01) is a short range of
          // the date index; other ranges run to one end of it.
          rank = m.is_time && m.prefix == Prefix::kEq && m.time_high - m.time_low < kDayMs ? 3 : 6;
          break;
        case Match::Kind::kChain:
          rank = 6;
          break;
        default:
          rank = 8;
          break;
      }
      if (rank > worst) worst = rank;
    }
    return worst;
  }

  // A criterion on an index table that a match must have a row for (not :not, not :missing).
  static bool NeedsIndexRow(const Criterion& criterion) {
    return criterion.param != "_id" && criterion.param != "_lastUpdated" && !criterion.negate &&
           !criterion.missing && !criterion.any.empty();
  }

  // The criterion whose index rows alone give the total: the only condition of a query on one
  // type (no compartment, access filter, _has or _contained).
  static const Criterion* CountedAlone(const SearchQuery& query) {
    if (query.type.empty() || query.criteria.size() != 1 || !query.has.empty() ||
        query.compartment || query.access || query.contained ||
        !NeedsIndexRow(query.criteria[0])) {
      return nullptr;
    }
    return &query.criteria[0];
  }

  // The criterion whose index rows drive the query (`c.rid IN (...)`); the others are probed
  // per candidate (`EXISTS ... WHERE t.rid = c.rid`). Without it SQLite walks every resource
  // of the type in (type, id) order and probes each criterion. None when an _id criterion is
  // there (the (type, id) key is best) or no criterion can drive.
  static const Criterion* Driver(const SearchQuery& query) {
    const Criterion* best = nullptr;
    int best_rank = 100;
    for (const Criterion& criterion : query.criteria) {
      if (criterion.param == "_id" && !criterion.negate && !criterion.missing) return nullptr;
      int rank = Selectivity(criterion);
      if (rank >= 0 && rank < best_rank) {
        best = &criterion;
        best_rank = rank;
      }
    }
    return best;
  }

  // `walk`: no criterion drives (the page walks the (type, id) index); nested queries (chains,
  // _has) always let one drive.
  Status Conditions(const SearchQuery& query, const std::string& c, std::string& sql, Binds& binds,
                    bool walk = false) {
    const Criterion* driver = walk ? nullptr : Driver(query);
    // A resource with an index row is current and not deleted (sqlite_search.h): the deleted
    // flag, which costs a read of each visited `current` row, is checked only without one.
    bool indexed = false;
    for (const Criterion& criterion : query.criteria) indexed = indexed || NeedsIndexRow(criterion);
    sql += indexed ? "1" : c + ".deleted = 0";
    if (!query.type.empty()) {
      // `+`: the type must not make SQLite walk the (type, id) index when a criterion drives.
      sql += std::string(" AND ") + (driver != nullptr ? "+" : "") + c + ".type = ?";
      binds.emplace_back(query.type);
    } else if (!query.types.empty()) {
      sql += " AND " + c + ".type IN (";
      for (std::size_t i = 0; i < query.types.size(); ++i) {
        sql += i == 0 ? "?" : ", ?";
        binds.emplace_back(query.types[i]);
      }
      sql += ")";
    }
    for (const Criterion& criterion : query.criteria) {
      sql += " AND ";
      FHIR_RETURN_IF_ERROR(CriterionSql(query, criterion, c, &criterion == driver, sql, binds));
    }
    if (query.compartment) {
      sql += " AND ";
      CompartmentSql(*query.compartment, c, sql, binds);
    }
    if (query.access) {
      sql += " AND (";
      if (query.access->empty()) sql += "0";
      for (std::size_t i = 0; i < query.access->size(); ++i) {
        if (i > 0) sql += " OR ";
        CompartmentSql((*query.access)[i], c, sql, binds);
      }
      sql += ")";
    }
    for (const HasCriterion& has : query.has) {
      if (!has.query || has.query->type.empty()) {
        return Status(IssueType::kNotSupported, "_has needs a resource type");
      }
      std::string r = Alias("r");
      std::string c2 = Alias("c");
      sql += " AND " + c + ".id IN (SELECT " + r + ".target_id FROM idx_reference " + r +
             " JOIN current " + c2 + " ON " + c2 + ".rid = " + r + ".rid WHERE " + r +
             ".pid IN (SELECT pid FROM param_codes WHERE type = ? AND code = ?) AND " + r +
             ".target_type = " + c + ".type AND ";
      binds.emplace_back(has.query->type);
      binds.emplace_back(has.param);
      FHIR_RETURN_IF_ERROR(Conditions(*has.query, c2, sql, binds));
      sql += ")";
    }
    if (query.contained) {
      sql += " AND ";
      FHIR_RETURN_IF_ERROR(ContainedSql(*query.contained, query.contained_self, c, sql, binds));
    }
    return Status::Ok();
  }

  // _contained: `c` holds a resource of inner.type meeting inner's criteria, i.e. for one slot
  // of that type (fhir/search/index_entries.h ContainedType) has the slot's id token and index
  // rows for every criterion, or (`self`) is such a resource itself.
  Status ContainedSql(const SearchQuery& inner, bool self, const std::string& c, std::string& sql,
                      Binds& binds) {
    if (inner.type.empty() || !inner.has.empty() || inner.contained) {
      return Status(IssueType::kNotSupported, "_contained with _has or without a type");
    }
    sql += "(";
    if (self) {
      sql += "(";
      FHIR_RETURN_IF_ERROR(Conditions(inner, c, sql, binds));
      sql += ") OR ";
    }
    for (int slot = 1; slot <= fhir::search::kContainedSlots; ++slot) {
      if (slot > 1) sql += " OR ";
      sql += "(";
      FHIR_RETURN_IF_ERROR(ContainedSlotSql(inner, slot, self, c, sql, binds));
      sql += ")";
    }
    sql += ")";
    return Status::Ok();
  }

  // One slot of ContainedSql.
  Status ContainedSlotSql(const SearchQuery& inner, int slot, bool self, const std::string& c,
                          std::string& sql, Binds& binds) {
    SearchQuery rows;  // only its type is read: the parameters of the slot
    rows.type = fhir::search::ContainedType(inner.type, slot);
    Criterion holds;  // the slot is taken
    holds.table = IndexTable::kToken;
    holds.param = fhir::search::kContainedIdParam;
    holds.missing = false;
    FHIR_RETURN_IF_ERROR(CriterionSql(rows, holds, c, /*drive=*/false, sql, binds));
    // Without `self`, the first criterion that needs an index row gives the candidates.
    const Criterion* driver = nullptr;
    for (const Criterion& criterion : inner.criteria) {
      if (!self && driver == nullptr && NeedsIndexRow(criterion)) driver = &criterion;
    }
    for (const Criterion& criterion : inner.criteria) {
      sql += " AND ";
      if (criterion.param == "_lastUpdated") {
        return Status(IssueType::kNotSupported, "_lastUpdated of a contained resource");
      }
      if (criterion.param != "_id") {
        FHIR_RETURN_IF_ERROR(CriterionSql(rows, criterion, c, &criterion == driver, sql, binds));
        continue;
      }
      Criterion id = criterion;  // the contained id is a token
      id.table = IndexTable::kToken;
      id.param = fhir::search::kContainedIdParam;
      for (Match& m : id.any) m.kind = Match::Kind::kToken;
      FHIR_RETURN_IF_ERROR(CriterionSql(rows, id, c, /*drive=*/false, sql, binds));
    }
    return Status::Ok();
  }

  // The condition that row `c` is in (or, negated, outside) the compartment(s) of `f`.
  void CompartmentSql(const CompartmentFilter& f, const std::string& c, std::string& sql,
                      Binds& binds) {
    sql += "(";
    if (!f.only_type.empty()) {
      sql += c + ".type = ? AND ";
      binds.emplace_back(f.only_type);
    }
    if (f.negate) sql += "NOT ";
    sql += "(";
    if (!f.any_owner && f.owner_ids.empty()) {
      sql += "0))";
      return;
    }
    auto ids = [&](const std::string& column) {
      if (f.any_owner) return;
      sql += " AND " + column + " IN (";
      for (std::size_t i = 0; i < f.owner_ids.size(); ++i) {
        sql += i == 0 ? "?" : ", ?";
        binds.emplace_back(f.owner_ids[i]);
      }
      sql += ")";
    };
    const std::string r = Alias("r");
    sql += c + ".rid IN (SELECT " + r + ".rid FROM idx_reference " + r + " WHERE " + r +
           ".target_type = ?";
    binds.emplace_back(f.owner_type);
    ids(r + ".target_id");
    if (!f.type_params.empty()) {
      sql += " AND " + r + ".pid IN (SELECT pid FROM param_codes WHERE ";
      for (std::size_t i = 0; i < f.type_params.size(); ++i) {
        if (i > 0) sql += " OR ";
        sql += "(type = ? AND code = ?)";
        binds.emplace_back(f.type_params[i].first);
        binds.emplace_back(f.type_params[i].second);
      }
      sql += "))";
    } else {
      sql += " AND " + r + ".pid IN (SELECT pid FROM param_codes WHERE type = " + c +
             ".type AND code IN (";
      for (std::size_t i = 0; i < f.params.size(); ++i) {
        sql += i == 0 ? "?" : ", ?";
        binds.emplace_back(f.params[i]);
      }
      if (f.params.empty()) sql += "NULL";
      sql += ")))";
    }
    if (f.include_owners) {
      sql += " OR (" + c + ".type = ?";
      binds.emplace_back(f.owner_type);
      ids(c + ".id");
      sql += ")";
    }
    sql += "))";
  }

  // Whether `code` on `type` (a resource type, or a contained one: "#Patient#2") reads the rows
  // of other parameters too.
  static bool SharesRows(std::string_view type, std::string_view code) {
    while (type.starts_with('#')) type.remove_prefix(1);
    type = type.substr(0, type.find('#'));
    const fhir::search::BoundParam* param = fhir::search::SearchRegistry::Get().Find(type, code);
    return param != nullptr && !param->rows_also_in.empty();
  }

  // The parameter ids of `code` on the query's type (or on any type). `equal`: the one id by
  // `=`, so that the rows of one token or reference come out of its value index, which holds
  // the rid, in rid order (a DISTINCT count needs no sort; a probe is one seek of (pid, code,
  // rid)). Otherwise `IN`: a probe on a value index without the rid must look the rid up, but
  // with `=` SQLite would rather range over the value index.
  // A parameter that reads other parameters' rows too (fhir/search/index_sharing.h) has
  // several ids: always `IN`.
  void ParamFilter(const SearchQuery& query, const std::string& t, const std::string& code,
                   bool equal, std::string& sql, Binds& binds) {
    if (!query.type.empty()) {
      if (equal && SharesRows(query.type, code)) equal = false;
      sql += t + ".pid " + (equal ? "=" : "IN") +
             " (SELECT pid FROM param_codes WHERE type = ? AND code = ?)";
      binds.emplace_back(query.type);
      binds.emplace_back(code);
      return;
    }
    // A system search: the parameter of the types it names, never of contained resources
    // (their rows are the container's, under types like "#Practitioner").
    sql += t + ".pid IN (SELECT pid FROM param_codes WHERE code = ? AND ";
    binds.emplace_back(code);
    if (query.types.empty()) {
      sql += "substr(type, 1, 1) <> '#')";
      return;
    }
    sql += "type IN (";
    for (std::size_t i = 0; i < query.types.size(); ++i) {
      sql += i == 0 ? "?" : ", ?";
      binds.emplace_back(query.types[i]);
    }
    sql += "))";
  }

  Status CriterionSql(const SearchQuery& query, const Criterion& criterion, const std::string& c,
                      bool drive, std::string& sql, Binds& binds) {
    if (criterion.param == "_id" || criterion.param == "_lastUpdated") {
      return ResourceColumnSql(criterion, c, sql, binds);
    }
    const std::string t = Alias("t");
    const std::string table = TableName(criterion.table);
    if (criterion.missing) {
      sql += std::string(*criterion.missing ? "NOT " : "") + "EXISTS (SELECT 1 FROM " + table +
             " " + t + " WHERE " + t + ".rid = " + c + ".rid AND ";
      ParamFilter(query, t, criterion.param, /*equal=*/false, sql, binds);
      sql += ")";
      return Status::Ok();
    }
    if (drive) {
      sql += c + ".rid IN (SELECT " + t + ".rid FROM " + table + " " + t + " WHERE ";
    } else {
      sql += std::string(criterion.negate ? "NOT " : "") + "EXISTS (SELECT 1 FROM " + table + " " +
             t + " WHERE " + t + ".rid = " + c + ".rid AND ";
    }
    FHIR_RETURN_IF_ERROR(
        IndexRowsSql(query, criterion, t, drive || SeeksByRid(criterion), sql, binds));
    sql += ")";
    return Status::Ok();
  }

  // Whether every match of `criterion` names a code or a target id, which with the pid and the
  // rid is a key prefix of the token index (pid, code, rid, system) or the reference index
  // (target_id, target_type, pid, rid): a probe of such a criterion is one index seek.
  static bool SeeksByRid(const Criterion& criterion) {
    for (const Match& m : criterion.any) {
      const bool seeks =
          criterion.table == IndexTable::kToken
              ? (m.kind == Match::Kind::kToken && !m.value.empty()) ||
                    m.kind == Match::Kind::kTokenOfType
              : criterion.table == IndexTable::kReference && m.kind == Match::Kind::kReference;
      if (!seeks) return false;
    }
    return true;
  }

  // The condition that index row `t` belongs to `criterion`'s parameter and matches one of its
  // values (`equal`: see ParamFilter).
  Status IndexRowsSql(const SearchQuery& query, const Criterion& criterion, const std::string& t,
                      bool equal, std::string& sql, Binds& binds) {
    if (criterion.any.empty()) return Status(IssueType::kValue, "a criterion without values");
    ParamFilter(query, t, criterion.param, equal, sql, binds);
    const bool several = criterion.any.size() > 1;
    sql += several ? " AND (" : " AND ";
    FHIR_RETURN_IF_ERROR(AnyMatchSql(criterion.any, 0, criterion.any.size(), t, sql, binds));
    if (several) sql += ")";
    return Status::Ok();
  }

  // The OR of matches [from, to), as a balanced tree: SQLite limits the depth of an expression
  // (1,000) and its parser's stack (100 entries), and a chain `a OR b OR c ...` of 450 values
  // passed the one, as did three hops of a chain with their parentheses the other. One match
  // goes without parentheses (a match is a conjunction, or parenthesised itself); the caller
  // puts several in parentheses.
  Status AnyMatchSql(const std::vector<Match>& any, std::size_t from, std::size_t to,
                     const std::string& t, std::string& sql, Binds& binds) {
    if (to - from == 1) return MatchSql(any[from], t, sql, binds);
    const std::size_t middle = from + (to - from) / 2;
    sql += "(";
    FHIR_RETURN_IF_ERROR(AnyMatchSql(any, from, middle, t, sql, binds));
    sql += ") OR (";
    FHIR_RETURN_IF_ERROR(AnyMatchSql(any, middle, to, t, sql, binds));
    sql += ")";
    return Status::Ok();
  }

  Status ResourceColumnSql(const Criterion& criterion, const std::string& c, std::string& sql,
                           Binds& binds) {
    if (criterion.missing) {
      sql += *criterion.missing ? "0" : "1";  // every resource has an id and a lastUpdated
      return Status::Ok();
    }
    sql += criterion.negate ? "NOT (" : "(";
    for (std::size_t i = 0; i < criterion.any.size(); ++i) {
      if (i > 0) sql += " OR ";
      const Match& m = criterion.any[i];
      if (criterion.param == "_id") {
        sql += c + ".id = ?";
        binds.emplace_back(m.value);
      } else {
        // meta.lastUpdated is an instant with ms: the range [v, v]. Text order is time order.
        std::string lu = c + ".last_updated";
        RangeSql(m, lu, lu, [](std::int64_t ms) { return fhir::search::FormatInstant(ms); }, sql,
                 binds);
      }
    }
    sql += ")";
    return Status::Ok();
  }

  // A prefix comparison of the resource range [rl, rh] with the search value (see
  // http://hl7.org/fhir/R4/search.html#prefix).
  template <class Convert>
  void RangeSql(const Match& m, const std::string& rl, const std::string& rh, Convert convert,
                std::string& sql, Binds& binds) {
    auto low = [&] { binds.emplace_back(convert(m.time_low)); };
    auto high = [&] { binds.emplace_back(convert(m.time_high)); };
    switch (m.prefix) {
      case Prefix::kEq:
        // `rl <= high` follows from the other two (an index range has rl <= rh: a Period's
        // start is not after its end, per-1); it bounds the date index's range on rl.
        sql += rl + " >= ? AND " + rl + " <= ? AND " + rh + " <= ?";
        low();
        high();
        high();
        break;
      case Prefix::kNe:
        sql += "NOT (" + rl + " >= ? AND " + rh + " <= ?)";
        low();
        high();
        break;
      case Prefix::kGt:
        sql += rh + " > ?";
        high();
        break;
      case Prefix::kLt:
        sql += rl + " < ?";
        low();
        break;
      case Prefix::kGe:
        sql += rh + " >= ?";
        low();
        break;
      case Prefix::kLe:
        sql += rl + " <= ?";
        high();
        break;
      case Prefix::kSa:
        sql += rl + " > ?";
        high();
        break;
      case Prefix::kEb:
        sql += rh + " < ?";
        low();
        break;
      case Prefix::kAp: {
        // Approximately: overlaps the search range widened by 10% of its distance from now.
        sql += rh + " >= ? AND " + rl + " <= ?";
        low();
        high();
        break;
      }
    }
  }

  // As RangeSql, for numbers and quantities with the implicit range of m's digits.
  void NumberSql(const Match& m, const std::string& rl, const std::string& rh, std::string& sql,
                 Binds& binds) {
    switch (m.prefix) {
      case Prefix::kEq:
        sql += rl + " >= ? AND " + rh + " < ?";
        binds.emplace_back(m.low);
        binds.emplace_back(m.high);
        break;
      case Prefix::kNe:
        sql += "NOT (" + rl + " >= ? AND " + rh + " < ?)";
        binds.emplace_back(m.low);
        binds.emplace_back(m.high);
        break;
      case Prefix::kGt:
      case Prefix::kSa:
        sql += (m.prefix == Prefix::kGt ? rh : rl) + " > ?";
        binds.emplace_back(m.number);
        break;
      case Prefix::kLt:
      case Prefix::kEb:
        sql += (m.prefix == Prefix::kLt ? rl : rh) + " < ?";
        binds.emplace_back(m.number);
        break;
      case Prefix::kGe:
        sql += rh + " >= ?";
        binds.emplace_back(m.number);
        break;
      case Prefix::kLe:
        sql += rl + " <= ?";
        binds.emplace_back(m.number);
        break;
      case Prefix::kAp: {
        double margin = std::fabs(m.number) * 0.1;
        sql += rh + " >= ? AND " + rl + " <= ?";
        binds.emplace_back(m.number - margin);
        binds.emplace_back(m.number + margin);
        break;
      }
    }
  }

  Status MatchSql(const Match& m, const std::string& t, std::string& sql, Binds& binds) {
    using Kind = Match::Kind;
    switch (m.kind) {
      case Kind::kStringStarts: {
        std::string text = fhir::search::NormalizeString(m.value);
        sql += t + ".normalized >= ? AND " + t + ".normalized < ?";
        binds.emplace_back(text);
        binds.emplace_back(PrefixEnd(text));
        break;
      }
      case Kind::kStringExact:
        sql += t + ".exact = ?";
        binds.emplace_back(m.value);
        break;
      case Kind::kStringContains:
        sql += t + ".normalized LIKE ? ESCAPE '\\'";
        binds.emplace_back("%" + EscapeLike(fhir::search::NormalizeString(m.value)) + "%");
        break;
      case Kind::kToken:
        if (!m.value.empty()) {
          sql += t + ".code = ?";
          binds.emplace_back(m.value);
          if (m.system) {
            sql += " AND " + t + ".system = ?";
            binds.emplace_back(*m.system);
          }
        } else if (m.system) {
          sql += t + ".system = ? AND " + t + ".code <> ''";
          binds.emplace_back(*m.system);
        } else {
          sql += "0";
        }
        break;
      case Kind::kTokenText: {
        std::string text = fhir::search::NormalizeString(m.value);
        sql += "(" + t + ".text LIKE ? ESCAPE '\\' OR " + t + ".text LIKE ? ESCAPE '\\')";
        binds.emplace_back(EscapeLike(text) + "%");
        binds.emplace_back("% " + EscapeLike(text) + "%");
        break;
      }
      case Kind::kTokenOfType:
        sql += t + ".type_system = ? AND " + t + ".type_code = ? AND " + t + ".code = ?";
        binds.emplace_back(m.extra2);
        binds.emplace_back(m.extra);
        binds.emplace_back(m.value);
        break;
      case Kind::kRange:
        if (m.is_time) {
          RangeSql(m, t + ".low", t + ".high", [](std::int64_t ms) { return ms; }, sql, binds);
        } else {
          NumberSql(m, t + ".low", t + ".high", sql, binds);
        }
        if (m.system) {
          sql += " AND " + t + ".system = ?";
          binds.emplace_back(*m.system);
        }
        if (!m.extra.empty()) {
          sql += " AND " + t + ".code = ?";
          binds.emplace_back(m.extra);
        }
        break;
      case Kind::kReference:
        sql += t + ".target_id = ?";
        binds.emplace_back(m.value);
        if (!m.extra.empty()) {
          sql += " AND " + t + ".target_type = ?";
          binds.emplace_back(m.extra);
        }
        if (!m.extra2.empty()) {
          sql += " AND " + t + ".version = ?";
          binds.emplace_back(m.extra2);
        }
        break;
      case Kind::kReferenceUrl:
        // `<> ''` lets SQLite use the partial index idx_reference_url_set.
        sql += t + ".url = ? AND " + t + ".url <> ''";
        binds.emplace_back(m.value);
        if (!m.extra2.empty()) {
          sql += " AND " + t + ".version = ?";
          binds.emplace_back(m.extra2);
        }
        break;
      case Kind::kReferenceIdentifier:
        // `<> ''` lets SQLite use the partial index idx_reference_identifier_set.
        sql += t + ".identifier_value = ? AND " + t + ".identifier_value <> ''";
        binds.emplace_back(m.value);
        if (m.system) {
          sql += " AND " + t + ".identifier_system = ?";
          binds.emplace_back(*m.system);
        }
        break;
      case Kind::kChain: {
        if (!m.chain || m.chain->type.empty()) {
          return Status(IssueType::kNotSupported, "a chained parameter needs its target type");
        }
        const std::string c2 = Alias("c");
        sql += t + ".target_type = ? AND " + t + ".target_id IN (SELECT " + c2 + ".id FROM ";
        binds.emplace_back(m.chain->type);
        if (const Criterion* alone = CountedAlone(*m.chain)) {
          // One criterion: the targets are the resources of its index rows (which are of
          // current, non-deleted resources of the type), one subquery a hop instead of two,
          // so that SQLite's parser (a stack of 100 entries) takes chains of six hops.
          const std::string t2 = Alias("t");
          sql += std::string(TableName(alone->table)) + " " + t2 + " JOIN current " + c2 +
                 " ON " + c2 + ".rid = " + t2 + ".rid WHERE ";
          FHIR_RETURN_IF_ERROR(IndexRowsSql(*m.chain, *alone, t2, /*equal=*/true, sql, binds));
        } else {
          sql += "current " + c2 + " WHERE ";
          FHIR_RETURN_IF_ERROR(Conditions(*m.chain, c2, sql, binds));
        }
        sql += ")";
        break;
      }
      case Kind::kUri:
        sql += t + ".value = ?";
        binds.emplace_back(m.value);
        break;
      case Kind::kUriBelow:
        sql += t + ".value >= ? AND " + t + ".value < ?";
        binds.emplace_back(m.value);
        binds.emplace_back(PrefixEnd(m.value));
        break;
      case Kind::kUriAbove:
        sql += "? >= " + t + ".value AND substr(?, 1, length(" + t + ".value)) = " + t + ".value";
        binds.emplace_back(m.value);
        binds.emplace_back(m.value);
        break;
      case Kind::kId:
        return Status(IssueType::kValue, "an _id match outside the _id parameter");
      case Kind::kComposite:
        return CompositeSql(m, t, sql, binds);
      case Kind::kTokenIn:
        TokenInSql(m, t, sql, binds);
        break;
    }
    return Status::Ok();
  }

  // Codes of one system (a ValueSet's, a hierarchy's), or every code of it but the listed ones.
  void TokenInSql(const Match& m, const std::string& t, std::string& sql, Binds& binds) {
    if (m.codes.empty() && !m.codes_excluded) {
      sql += "0";
      return;
    }
    sql += t + ".system = ? AND " + t + ".code ";
    binds.emplace_back(m.system.value_or(""));
    if (m.codes.empty()) {
      sql += "<> ''";
      return;
    }
    sql += m.codes_excluded ? "NOT IN (" : "IN (";
    for (std::size_t i = 0; i < m.codes.size(); ++i) {
      sql += i == 0 ? "?" : ", ?";
      binds.emplace_back(m.codes[i]);
    }
    sql += m.codes_excluded ? ") AND " + t + ".code <> ''" : ")";
  }

  // A composite match: each component's match on the same idx_composite row (so on the same
  // element), component i in the columns s<i> (system, target type), c<i> (code, normalised
  // string, target id, uri), x<i> (absolute URL) and l<i>/h<i> (range).
  Status CompositeSql(const Match& m, const std::string& t, std::string& sql, Binds& binds) {
    using Kind = Match::Kind;
    if (m.parts.empty() || m.parts.size() > 3) {
      return Status(IssueType::kValue, "a composite match has one to three components");
    }
    for (std::size_t i = 0; i < m.parts.size(); ++i) {
      const Match& p = m.parts[i];
      const std::string n = std::to_string(i + 1);
      const std::string s = t + ".s" + n, c = t + ".c" + n, x = t + ".x" + n;
      const std::string l = t + ".l" + n, h = t + ".h" + n;
      sql += i == 0 ? "(" : " AND (";
      switch (p.kind) {
        case Kind::kToken:
          if (!p.value.empty()) {
            sql += c + " = ?";
            binds.emplace_back(p.value);
            if (p.system) {
              sql += " AND " + s + " = ?";
              binds.emplace_back(*p.system);
            }
          } else if (p.system) {
            sql += s + " = ? AND " + c + " <> ''";
            binds.emplace_back(*p.system);
          } else {
            sql += "0";
          }
          break;
        case Kind::kRange:
          if (p.is_time) {
            RangeSql(p, l, h, [](std::int64_t ms) { return ms; }, sql, binds);
          } else {
            NumberSql(p, l, h, sql, binds);
          }
          if (p.system) {
            sql += " AND " + s + " = ?";
            binds.emplace_back(*p.system);
          }
          if (!p.extra.empty()) {
            sql += " AND " + c + " = ?";
            binds.emplace_back(p.extra);
          }
          break;
        case Kind::kStringStarts: {
          std::string text = fhir::search::NormalizeString(p.value);
          sql += c + " >= ? AND " + c + " < ?";
          binds.emplace_back(text);
          binds.emplace_back(PrefixEnd(text));
          break;
        }
        case Kind::kReference:
          if (!p.extra2.empty()) {
            return Status(IssueType::kNotSupported, "a versioned reference in a composite");
          }
          sql += c + " = ?";
          binds.emplace_back(p.value);
          if (!p.extra.empty()) {
            sql += " AND " + s + " = ?";
            binds.emplace_back(p.extra);
          }
          break;
        case Kind::kReferenceUrl:
          sql += x + " = ?";
          binds.emplace_back(p.value);
          break;
        case Kind::kUri:
          sql += c + " = ?";
          binds.emplace_back(p.value);
          break;
        default:
          return Status(IssueType::kNotSupported, "this match inside a composite");
      }
      sql += ")";
    }
    return Status::Ok();
  }

  Status SortExpression(const SortKey& key, const std::string& c, std::string& sql, Binds& binds) {
    const char* direction = key.descending ? " DESC" : " ASC";
    if (key.param == "_id") {
      sql += c + ".id" + direction;
      return Status::Ok();
    }
    if (key.param == "_lastUpdated") {
      sql += c + ".last_updated" + direction;
      return Status::Ok();
    }
    const std::string t = Alias("s");
    std::string column;
    switch (key.table) {
      case IndexTable::kString:
        column = "normalized";
        break;
      case IndexTable::kToken:
        column = "code";
        break;
      case IndexTable::kDate:
      case IndexTable::kNumber:
      case IndexTable::kQuantity:
        column = key.descending ? "high" : "low";
        break;
      case IndexTable::kReference:
        column = "target_id";
        break;
      case IndexTable::kUri:
        column = "value";
        break;
      case IndexTable::kComposite:
        return Status(IssueType::kNotSupported, "sorting by a composite parameter");
    }
    sql += std::string("(SELECT ") + (key.descending ? "max(" : "min(") + t + "." + column +
           ") FROM " + TableName(key.table) + " " + t + " WHERE " + t + ".rid = " + c + ".rid AND " +
           t + ".pid IN (SELECT pid FROM param_codes WHERE type = " + c + ".type AND code = ?))" +
           direction + " NULLS LAST";
    binds.emplace_back(key.param);
    return Status::Ok();
  }

  const bool walk_;
  int aliases_ = 0;
};

}  // namespace

Result<CompiledSearch> CompileSearch(const SearchQuery& query, bool walk) {
  Compiler compiler(walk);
  return compiler.Compile(query);
}

std::int64_t MatchesToWalk(std::int64_t resources, std::int64_t rows) {
  // Measured at 1,000,000 resources: a walked resource costs about 0.75 us (an index step and
  // one index probe per criterion), a driven match about 5 us (a row read and a sort step).
  // Walking visits rows * resources / matches resources: cheaper while that is below
  // kDrivenPerWalked * matches, i.e. from matches > sqrt(rows * resources / kDrivenPerWalked).
  constexpr double kDrivenPerWalked = 4;  // a little below the measured 6: walk only when sure
  const double product = static_cast<double>(rows) * static_cast<double>(resources);
  return static_cast<std::int64_t>(std::sqrt(product / kDrivenPerWalked)) + 1;
}

bool WalkIsCheaper(std::int64_t matches, std::int64_t resources, std::int64_t rows) {
  return matches > 0 && rows > 0 && matches >= MatchesToWalk(resources, rows);
}

fhir::Status DeclareParamCodes(sqlite3* db) {
  auto failed = [db](const char* what) {
    return fhir::Status(fhir::IssueType::kException,
                        std::string("SQLite error while ") + what + ": " + sqlite3_errmsg(db));
  };
  const char* declare = R"sql(
CREATE TEMP TABLE param_shares(type TEXT NOT NULL, code TEXT NOT NULL, rows_of TEXT NOT NULL,
  PRIMARY KEY(type, code, rows_of)) WITHOUT ROWID;
CREATE TEMP VIEW param_codes(pid, type, code) AS
  SELECT pid, type, code FROM main.params
  UNION ALL
  SELECT p.pid, s.type, s.code FROM param_shares s
    JOIN main.params p ON p.type = s.type AND p.code = s.rows_of;
)sql";
  if (sqlite3_exec(db, declare, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return failed("declaring param_codes");
  }
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO param_shares VALUES(?, ?, ?)", -1, &insert, nullptr) !=
      SQLITE_OK) {
    return failed("preparing the param_shares insert");
  }
  auto bind = [insert](int i, std::string_view text) {
    return sqlite3_bind_text64(insert, i, text.data(), text.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8) == SQLITE_OK;
  };
  bool ok = true;
  for (const fhir::search::SharedRows& shared :
       fhir::search::SearchRegistry::Get().AllSharedRows()) {
    for (int slot = 0; ok && slot <= fhir::search::kContainedSlots; ++slot) {
      const std::string type = slot == 0 ? std::string(shared.type)
                                         : fhir::search::ContainedType(shared.type, slot);
      ok = bind(1, type) && bind(2, shared.code) && bind(3, shared.rows_of) &&
           sqlite3_step(insert) == SQLITE_DONE && sqlite3_reset(insert) == SQLITE_OK;
    }
  }
  fhir::Status status = ok ? fhir::Status::Ok() : failed("filling param_shares");
  sqlite3_finalize(insert);
  return status;
}

}  // namespace storage::sqlite
