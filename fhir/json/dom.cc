#include "fhir/json/dom.h"

#include <cstring>
#include <new>
#include <string>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

namespace fhir::json {

const JsonValue* JsonValue::Find(std::string_view key) const {
  if (kind != Kind::kObject) return nullptr;
  for (const JsonMember& m : object()) {
    if (m.name == key) return &m.value;
  }
  return nullptr;
}

namespace {

// Builds JsonValues from RapidJSON's SAX events on a value stack, as RapidJSON's own
// GenericDocument does, but with numbers kept as text.
class TreeBuilder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, TreeBuilder> {
 public:
  explicit TreeBuilder(JsonDocument& doc) : doc_(doc) {}

  bool Null() { return Push(JsonValue::Kind::kNull, nullptr, 0); }
  bool Bool(bool b) { return Push(b ? JsonValue::Kind::kTrue : JsonValue::Kind::kFalse, nullptr, 0); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return Push(JsonValue::Kind::kNumber, Keep(s, n, copy), n);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    // RapidJSON 1.1 decodes a lone low-surrogate escape (\udc00) into the invalid UTF-8 bytes
    // ED B0..BF: UTF-8 never encodes surrogates, so any ED A0..BF is one.
    for (rapidjson::SizeType i = 0; i + 1 < n; ++i) {
      if (static_cast<unsigned char>(s[i]) == 0xED && static_cast<unsigned char>(s[i + 1]) >= 0xA0) {
        bad_surrogate_ = true;
        return false;
      }
    }
    return Push(JsonValue::Kind::kString, Keep(s, n, copy), n);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return String(s, n, copy); }
  bool StartObject() { return Enter(); }
  bool StartArray() { return Enter(); }
  bool EndObject(rapidjson::SizeType count) {
    auto* members = doc_.Allocate<JsonMember>(count);
    std::size_t first = stack_.size() - 2 * std::size_t{count};
    for (std::size_t i = 0; i < count; ++i) {
      members[i].name = stack_[first + 2 * i].str();
      members[i].value = stack_[first + 2 * i + 1];
    }
    stack_.resize(first);
    --depth_;
    JsonValue v;
    v.kind = JsonValue::Kind::kObject;
    v.size = count;
    v.members = members;
    stack_.push_back(v);
    return true;
  }
  bool EndArray(rapidjson::SizeType count) {
    auto* items = doc_.Allocate<JsonValue>(count);
    std::size_t first = stack_.size() - count;
    std::copy(stack_.begin() + static_cast<std::ptrdiff_t>(first), stack_.end(), items);
    stack_.resize(first);
    --depth_;
    JsonValue v;
    v.kind = JsonValue::Kind::kArray;
    v.size = count;
    v.items = items;
    stack_.push_back(v);
    return true;
  }

  bool too_deep() const { return too_deep_; }
  bool bad_surrogate() const { return bad_surrogate_; }
  const JsonValue& result() const { return stack_.back(); }

 private:
  bool Enter() {
    if (++depth_ > JsonDocument::kMaxDepth) {
      too_deep_ = true;
      return false;
    }
    return true;
  }
  const char* Keep(const char* s, rapidjson::SizeType n, bool copy) {
    if (!copy) return s;
    char* out = doc_.Allocate<char>(n + 1);
    std::memcpy(out, s, n);
    return out;
  }
  bool Push(JsonValue::Kind kind, const char* text, rapidjson::SizeType n) {
    JsonValue v;
    v.kind = kind;
    v.size = n;
    v.text = text;
    stack_.push_back(v);
    return true;
  }

  JsonDocument& doc_;
  std::vector<JsonValue> stack_;
  int depth_ = 0;
  bool too_deep_ = false;
  bool bad_surrogate_ = false;
};

constexpr std::size_t kBlockBytes = 64 * 1024;

}  // namespace

JsonDocument::JsonDocument() = default;
JsonDocument::~JsonDocument() = default;

void* JsonDocument::AllocateBytes(std::size_t bytes, std::size_t align) {
  if (bytes == 0) return nullptr;
  std::size_t pad = (align - reinterpret_cast<std::uintptr_t>(cursor_) % align) % align;
  if (cursor_ == nullptr || pad + bytes > left_) {
    std::size_t size = std::max(kBlockBytes, bytes + align);
    blocks_.push_back(std::make_unique<std::byte[]>(size));
    cursor_ = blocks_.back().get();
    left_ = size;
    pad = (align - reinterpret_cast<std::uintptr_t>(cursor_) % align) % align;
  }
  std::byte* out = cursor_ + pad;
  cursor_ += pad + bytes;
  left_ -= pad + bytes;
  std::memset(out, 0, bytes);
  return out;
}

Status JsonDocument::Parse(std::string_view json) {
  // A UTF-8 byte order mark, which some Windows tools write, is ignored (RFC 8259 8.1 allows it);
  // byte offsets in errors count from after it.
  if (json.starts_with("\xEF\xBB\xBF")) json.remove_prefix(3);
  if (!json.empty() && std::memchr(json.data(), 0, json.size()) != nullptr) {
    return Status(IssueType::kStructure, "The JSON contains a NUL byte");
  }
  buffer_.assign(json.data(), json.size());
  // RapidJSON's UTF-8 validation reads up to three continuation bytes without checking for the
  // end: a document cut inside a multi-byte character would read past the terminator. The
  // padding keeps those reads inside the buffer (the first NUL ends the in-situ stream).
  buffer_.append(4, '\0');
  rapidjson::InsituStringStream stream(buffer_.data());
  rapidjson::Reader reader;
  TreeBuilder builder(*this);
  constexpr unsigned kFlags = rapidjson::kParseInsituFlag | rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseIterativeFlag;
  rapidjson::ParseResult ok = reader.Parse<kFlags>(stream, builder);
  if (builder.too_deep()) {
    return Status(IssueType::kTooCostly, "The JSON nests arrays and objects deeper than " +
                                             std::to_string(kMaxDepth) + " levels");
  }
  if (builder.bad_surrogate()) {
    return Status(IssueType::kStructure,
                  "Malformed JSON at byte " + std::to_string(ok.Offset()) +
                      ": a \\u escape encodes an unpaired surrogate, which is not Unicode");
  }
  if (!ok) {
    return Status(IssueType::kStructure,
                  std::string("Malformed JSON at byte ") + std::to_string(ok.Offset()) + ": " +
                      rapidjson::GetParseError_En(ok.Code()));
  }
  root_ = builder.result();
  return Status::Ok();
}

}  // namespace fhir::json
