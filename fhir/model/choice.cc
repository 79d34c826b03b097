#include "fhir/model/choice.h"

#include <utility>

#include "fhir/model/reflection.h"

namespace fhir {

Choice::Choice(const Choice& other)
    : type_(other.type_),
      value_(other.value_ ? other.type_->clone_value(other.value_) : nullptr),
      index_(other.index_) {}

Choice::Choice(Choice&& other) noexcept
    : type_(std::exchange(other.type_, nullptr)),
      value_(std::exchange(other.value_, nullptr)),
      index_(std::exchange(other.index_, 0)) {}

Choice& Choice::operator=(const Choice& other) {
  if (this != &other) {
    Choice copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Choice& Choice::operator=(Choice&& other) noexcept {
  if (this != &other) {
    Reset();
    type_ = std::exchange(other.type_, nullptr);
    value_ = std::exchange(other.value_, nullptr);
    index_ = std::exchange(other.index_, 0);
  }
  return *this;
}

Choice::~Choice() { Reset(); }

void* Choice::Emplace(std::size_t index, const TypeInfo& type) {
  if (index_ == index && value_ != nullptr) return value_;
  Reset();
  value_ = type.new_value();
  type_ = &type;
  index_ = index;
  return value_;
}

void Choice::Reset() {
  if (value_ != nullptr) type_->delete_value(value_);
  value_ = nullptr;
  type_ = nullptr;
  index_ = 0;
}

}  // namespace fhir
