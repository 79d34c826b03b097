#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fhir::search {

// The search index values of one resource version, extracted from the R4 SearchParameter
// expressions (index_extractor.h) and stored in one table per parameter type by the store.
// Every entry names its parameter by code.

struct StringEntry {
  std::string param;
  std::string normalized;  // NormalizeString(): case- and accent-folded, for default/:contains
  std::string exact;       // the value as written, for :exact
};

// One code, coding or identifier. `text` is the normalised display/text for :text;
// `type_system`/`type_code` the Identifier.type coding for :of-type.
struct TokenEntry {
  std::string param;
  std::string system;
  std::string code;
  std::string text;
  std::string type_system;
  std::string type_code;
};

// An interval of time in milliseconds since 1970-01-01T00:00:00Z, both ends inclusive; a date of
// day precision covers the whole day. Open ends are the int64 limits.
struct DateEntry {
  std::string param;
  std::int64_t low = 0;
  std::int64_t high = 0;
};

// number and quantity: a value or a range [low, high] (Range, or a number's own value twice).
struct NumberEntry {
  std::string param;
  double low = 0;
  double high = 0;
};

struct QuantityEntry {
  std::string param;
  std::string system;
  std::string code;  // Quantity.code, or the unit when there is no code
  double low = 0;
  double high = 0;
};

// A reference: a local target ("Patient", "123", optional version), an absolute URL or canonical
// (`url`, with `|version` split off into version), and/or a logical identifier (:identifier).
struct ReferenceEntry {
  std::string param;
  std::string target_type;
  std::string target_id;
  std::string version;
  std::string url;
  std::string identifier_system;
  std::string identifier_value;
};

struct UriEntry {
  std::string param;
  std::string value;
};

// One value of a composite parameter's component, in the columns the store keeps for it:
// token (system, code), quantity (system, unit code, range), number (range), date (range in ms,
// `is_time`), string (code: normalised, exact: as written), reference (system: target type,
// code: target id, exact: absolute URL or canonical), uri (code).
struct CompositePart {
  std::string system;
  std::string code;
  std::string exact;
  double low = 0;
  double high = 0;
  std::int64_t time_low = 0;
  std::int64_t time_high = 0;
  bool is_time = false;
};

// A composite parameter (http://hl7.org/fhir/R4/search.html#composite): one entry per element
// its expression selects and per combination of its components' values on that element, so
// that a search matches only components of the same element. `parts` has one value per
// component, in the definition's order (2 or 3).
struct CompositeEntry {
  std::string param;
  std::vector<CompositePart> parts;
};

struct ContainedEntries;

struct IndexEntries {
  std::vector<StringEntry> strings;
  std::vector<TokenEntry> tokens;
  std::vector<DateEntry> dates;
  std::vector<NumberEntry> numbers;
  std::vector<QuantityEntry> quantities;
  std::vector<ReferenceEntry> references;
  std::vector<UriEntry> uris;
  std::vector<CompositeEntry> composites;
  // The resources contained in this one (_contained searches).
  std::vector<ContainedEntries> contained;

  bool empty() const;
};

// The code under which a contained resource's own id is indexed (a token), since it has no
// row of its own; it also marks that the container holds a resource of that type.
inline constexpr const char* kContainedIdParam = "_contained.id";

// Contained resources of one type beyond this many share the last one's slot (their criteria
// may then be met by different ones of them).
inline constexpr int kContainedSlots = 8;

// The parameter type of the `slot`th (1-based) contained resource of `type` in a container:
// "#Medication", "#Medication#2", ... "#Medication#8".
inline std::string ContainedType(std::string_view type, int slot) {
  std::string out = "#" + std::string(type);
  if (slot > 1) out += "#" + std::to_string(slot > kContainedSlots ? kContainedSlots : slot);
  return out;
}

// The entries of a contained resource, stored with its container under the parameters of
// type `type` = ContainedType(its resource type, its slot), so that a search of the
// container's own type never meets them, `_contained` searches find the container, and the
// criteria of such a search must hold for one contained resource (one slot). Resource-level
// parameters (_tag, _profile, _security, _source) are left out; its id is a token under
// kContainedIdParam (also when empty: the token marks that the slot is taken).
struct ContainedEntries {
  std::string type;
  IndexEntries entries;
};

inline bool IndexEntries::empty() const {
  return strings.empty() && tokens.empty() && dates.empty() && numbers.empty() &&
         quantities.empty() && references.empty() && uris.empty() && composites.empty() &&
         contained.empty();
}

}  // namespace fhir::search
