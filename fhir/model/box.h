#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace fhir {

class Resource;

// A nullable owner with value semantics: copying a Box copies what it holds. The generated
// models hold every single complex element in a Box, which breaks the type cycles of FHIR
// (Reference.identifier is an Identifier, Identifier.assigner a Reference) and keeps absent
// elements free. Box<Resource> holds any concrete resource and copies it through
// Resource::Clone().
template <class T>
class Box {
 public:
  Box() = default;
  Box(std::unique_ptr<T> p) : p_(std::move(p)) {}  // NOLINT(google-explicit-constructor)
  Box(const Box& other) : p_(other.p_ ? CloneOf(*other.p_) : nullptr) {}
  Box(Box&&) noexcept = default;
  Box& operator=(const Box& other) {
    if (this != &other) p_ = other.p_ ? CloneOf(*other.p_) : nullptr;
    return *this;
  }
  Box& operator=(Box&&) noexcept = default;
  ~Box() = default;

  explicit operator bool() const { return p_ != nullptr; }
  T* get() const { return p_.get(); }
  T& operator*() const { return *p_; }
  T* operator->() const { return p_.get(); }
  void reset(std::unique_ptr<T> p = nullptr) { p_ = std::move(p); }
  std::unique_ptr<T> release() { return std::move(p_); }

  // Creates a default T if empty; returns it.
  T& ensure()
    requires(!std::is_abstract_v<T>)
  {
    if (!p_) p_ = std::make_unique<T>();
    return *p_;
  }

 private:
  static std::unique_ptr<T> CloneOf(const T& t) {
    if constexpr (std::is_same_v<T, Resource>) {
      return t.Clone();
    } else {
      return std::make_unique<T>(t);
    }
  }

  std::unique_ptr<T> p_;
};

}  // namespace fhir
