#pragma once

#include <cstddef>
#include <cstdint>

namespace fhir {

struct TypeInfo;

// The value of a choice element (`value[x]`): empty, or one alternative given by its 1-based
// index into the field's FieldInfo::choices and held on the heap. Deliberately not a
// std::variant: Extension.value[x] has 50 alternatives, and instantiating a variant of them in
// every translation unit made the generated code slow to compile. Copy and destruction go
// through the alternative's TypeInfo. The generated models add typed accessors per alternative
// (`patient.deceased_boolean()`, `patient.mutable_deceased_boolean()`).
class Choice {
 public:
  Choice() = default;
  Choice(const Choice& other);
  Choice(Choice&& other) noexcept;
  Choice& operator=(const Choice& other);
  Choice& operator=(Choice&& other) noexcept;
  ~Choice();

  std::size_t index() const { return index_; }  // 0 when empty
  bool empty() const { return index_ == 0; }
  const TypeInfo* type() const { return type_; }
  void* get() const { return value_; }  // nullptr when empty

  // The alternative `index` of type `type`: the current value if that alternative is active,
  // else a new default value replacing the previous one.
  void* Emplace(std::size_t index, const TypeInfo& type);
  void Reset();

  template <class T>
  T* As(std::size_t index) const {
    return index_ == index ? static_cast<T*>(value_) : nullptr;
  }

 private:
  const TypeInfo* type_ = nullptr;
  void* value_ = nullptr;
  std::size_t index_ = 0;
};

}  // namespace fhir
