#include <utility>

#include "fhir/fhirpath/fhirpath.h"

namespace fhir::fhirpath {

Value Value::Element(const TypeInfo* type, const void* object) {
  Value v;
  v.kind_ = Kind::kElement;
  v.type_ = type;
  v.object_ = object;
  return v;
}

Value Value::Boolean(bool value) {
  Value v;
  v.kind_ = Kind::kBoolean;
  v.integer_ = value ? 1 : 0;
  return v;
}

Value Value::Integer(std::int64_t value) {
  Value v;
  v.kind_ = Kind::kInteger;
  v.integer_ = value;
  return v;
}

Value Value::Decimal(std::string text) {
  Value v;
  v.kind_ = Kind::kDecimal;
  v.text_ = std::move(text);
  return v;
}

Value Value::String(std::string text) {
  Value v;
  v.kind_ = Kind::kString;
  v.text_ = std::move(text);
  return v;
}

Value Value::Date(std::string text) {
  Value v;
  v.kind_ = Kind::kDate;
  v.text_ = std::move(text);
  return v;
}

Value Value::DateTime(std::string text) {
  Value v;
  v.kind_ = Kind::kDateTime;
  v.text_ = std::move(text);
  return v;
}

Value Value::Time(std::string text) {
  Value v;
  v.kind_ = Kind::kTime;
  v.text_ = std::move(text);
  return v;
}

Value Value::Quantity(std::string number, std::string unit) {
  Value v;
  v.kind_ = Kind::kQuantity;
  v.text_ = std::move(number);
  v.unit_ = std::move(unit);
  return v;
}

}  // namespace fhir::fhirpath
