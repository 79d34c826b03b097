#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/base/status.h"

namespace fhir::json {

struct JsonMember;

// A read-only JSON tree that keeps what the FHIR rules need and RapidJSON's DOM loses: numbers
// as their exact source text (decimal 1.50 stays 1.50, and a number is never confused with a
// string), duplicate keys, and member order. Strings and numbers point into the document's
// buffer (parsed in situ); nodes live in the document's arena.
struct JsonValue {
  enum class Kind : std::uint8_t { kNull, kFalse, kTrue, kNumber, kString, kArray, kObject };

  Kind kind = Kind::kNull;
  std::uint32_t size = 0;  // characters of a string or number; items of an array or object
  union {
    const char* text;
    const JsonValue* items;
    const JsonMember* members;
  };

  JsonValue() : text(nullptr) {}
  bool is_object() const { return kind == Kind::kObject; }
  bool is_array() const { return kind == Kind::kArray; }
  bool is_string() const { return kind == Kind::kString; }
  bool is_null() const { return kind == Kind::kNull; }
  std::string_view str() const { return {text, size}; }  // kString, kNumber
  std::span<const JsonValue> array() const { return {items, size}; }
  std::span<const JsonMember> object() const;
  const JsonValue* Find(std::string_view key) const;  // first member named `key`, or nullptr
};

struct JsonMember {
  std::string_view name;
  JsonValue value;
};

inline std::span<const JsonMember> JsonValue::object() const { return {members, size}; }

// Owns the parsed tree.
class JsonDocument {
 public:
  static constexpr int kMaxDepth = 200;

  JsonDocument();
  ~JsonDocument();
  JsonDocument(const JsonDocument&) = delete;
  JsonDocument& operator=(const JsonDocument&) = delete;

  // Parses `json` (RFC 8259, UTF-8 validated). Fails with kStructure naming the byte offset on
  // malformed input, and kTooCostly beyond kMaxDepth nested arrays/objects.
  Status Parse(std::string_view json);
  const JsonValue& root() const { return root_; }

  // Allocates `n` zero-initialised T in the arena (T trivially destructible).
  template <class T>
  T* Allocate(std::size_t n) {
    return static_cast<T*>(AllocateBytes(n * sizeof(T), alignof(T)));
  }

 private:
  void* AllocateBytes(std::size_t bytes, std::size_t align);

  std::string buffer_;
  std::vector<std::unique_ptr<std::byte[]>> blocks_;
  std::byte* cursor_ = nullptr;
  std::size_t left_ = 0;
  JsonValue root_;
};

}  // namespace fhir::json
