#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fhir {

struct Extension;

// A FHIR primitive element: its value plus the `id` and `extension` that JSON carries in the
// `_name` companion property. Any of the three may be absent; the element is absent when all
// are. The FHIR primitive types share three C++ shapes (see PrimitiveKind in reflection.h); the
// aliases below keep field declarations readable (`Date birth_date;`).
template <class V>
struct Primitive {
  std::string id;
  std::vector<Extension> extension;
  std::optional<V> value;

  bool empty() const { return !value && id.empty() && extension.empty(); }
};

using Boolean = Primitive<bool>;
using Integer = Primitive<std::int32_t>;
using PositiveInt = Primitive<std::int32_t>;
using UnsignedInt = Primitive<std::int32_t>;
using Decimal = Primitive<std::string>;  // the exact JSON source text: 1.50 stays 1.50
using String = Primitive<std::string>;
using Markdown = Primitive<std::string>;
using Code = Primitive<std::string>;
using Id = Primitive<std::string>;
using Uri = Primitive<std::string>;
using Url = Primitive<std::string>;
using Canonical = Primitive<std::string>;
using Oid = Primitive<std::string>;
using Uuid = Primitive<std::string>;
using Base64Binary = Primitive<std::string>;
using Date = Primitive<std::string>;
using DateTime = Primitive<std::string>;
using Instant = Primitive<std::string>;
using Time = Primitive<std::string>;
using Xhtml = Primitive<std::string>;

}  // namespace fhir
