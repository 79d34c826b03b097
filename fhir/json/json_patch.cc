#include "fhir/json/json_patch.h"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/pointer.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fhir/json/dom.h"

// Design: the patch runs on RapidJSON's mutable DOM, navigated with rapidjson::Pointer (RFC 6901
// parsing, `~0`/`~1` escapes and array indexes are RapidJSON's). RapidJSON's DOM cannot keep a
// number's source text (1.50 would come back as 1.5, which changes a FHIR decimal), and
// kParseNumbersAsStringsFlag alone turns numbers into strings that can no longer be told apart
// from real strings. So both documents are parsed through TaggingHandler, which stores every
// scalar string or number as a RapidJSON string prefixed by a one-byte tag: kStringTag + the
// decoded string, or kNumberTag + the number's exact text. Keys are not tagged, so Pointer works
// unchanged. Tags survive any move or copy of a value (unlike pointer identity: RapidJSON moves
// Values with memmove when arrays shrink, and keeps short strings inside the Value). Write()
// strips the tags again, emitting numbers with Writer::RawValue.
//
// Both documents share one MemoryPoolAllocator, so a patch's `value` is moved, not copied, into the
// document, and nothing is freed until the end.
//
// Limits (the result is re-parsed and stored, so a small patch must not make it huge or deep):
// every value placed in the document is checked against JsonDocument::kMaxDepth, which also
// bounds the recursion of Depth(), Equal(), EstimatedBytes() and Write(); `copy` is the only op
// that can amplify size, so copied bytes are budgeted.

namespace fhir::json {
namespace {

using rapidjson::SizeType;
using Pointer = rapidjson::Pointer;
using Value = rapidjson::Value;
using Document = rapidjson::Document;

constexpr char kStringTag = 's';
constexpr char kNumberTag = 'n';
constexpr std::size_t kMinCopyBudget = std::size_t{1} << 20;

bool IsTagged(const Value& v, char tag) {
  return v.IsString() && v.GetStringLength() > 0 && v.GetString()[0] == tag;
}

// The string or number text of a tagged value.
std::string_view Untagged(const Value& v) {
  assert(v.IsString() && v.GetStringLength() > 0);
  return {v.GetString() + 1, v.GetStringLength() - 1};
}

std::string_view Name(const Value& key) { return {key.GetString(), key.GetStringLength()}; }

// The index of the first member of `object` named `name`, or nullopt. Mutable objects are walked by
// index and found by index: under C++20, comparing RapidJSON 1.1's non-const member iterators is
// ambiguous (reversed operator==), which Clang rejects.
std::optional<SizeType> MemberIndex(const Value& object, std::string_view name) {
  SizeType i = 0;
  for (const auto& m : object.GetObject()) {
    if (Name(m.name) == name) return i;
    ++i;
  }
  return std::nullopt;
}

// Forwards SAX events to a GenericDocument, tagging strings and numbers (see the top comment) and
// refusing to nest deeper than JsonDocument::kMaxDepth.
class TaggingHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, TaggingHandler> {
 public:
  explicit TaggingHandler(Document& doc) : doc_(doc) {}

  bool Default() { return false; }  // Int(), Double(), ...: not sent with NumbersAsStrings
  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool RawNumber(const char* s, SizeType n, bool /*copy*/) { return Tagged(kNumberTag, s, n); }
  bool String(const char* s, SizeType n, bool /*copy*/) { return Tagged(kStringTag, s, n); }
  bool Key(const char* s, SizeType n, bool /*copy*/) { return doc_.Key(s, n, true); }
  bool StartObject() { return Enter() && doc_.StartObject(); }
  bool EndObject(SizeType members) {
    --depth_;
    return doc_.EndObject(members);
  }
  bool StartArray() { return Enter() && doc_.StartArray(); }
  bool EndArray(SizeType items) {
    --depth_;
    return doc_.EndArray(items);
  }

  bool too_deep() const { return too_deep_; }
  bool too_long() const { return too_long_; }

 private:
  bool Enter() {
    if (++depth_ > JsonDocument::kMaxDepth) {
      too_deep_ = true;
      return false;
    }
    return true;
  }
  bool Tagged(char tag, const char* s, SizeType n) {
    if (n == std::numeric_limits<SizeType>::max()) {
      too_long_ = true;
      return false;
    }
    scratch_.assign(1, tag);
    scratch_.append(s, n);
    return doc_.String(scratch_.data(), n + 1, true);
  }

  Document& doc_;
  std::string scratch_;
  int depth_ = 0;
  bool too_deep_ = false;
  bool too_long_ = false;
};

// Parses `json` into `doc` through TaggingHandler. `what` names the input in diagnostics.
Status ParseTagged(std::string_view json, Document& doc, std::string_view what,
                   const std::string& expression) {
  // StringStream stops at a NUL, so one inside the text would silently truncate it.
  if (!json.empty() && std::memchr(json.data(), 0, json.size()) != nullptr) {
    return Status(IssueType::kStructure, std::string(what) + " contains a NUL byte", expression);
  }
  const std::string buffer(json);
  Status status;
  auto generate = [&](Document& target) {
    rapidjson::StringStream stream(buffer.c_str());
    rapidjson::Reader reader;
    TaggingHandler handler(target);
    constexpr unsigned kFlags = rapidjson::kParseNumbersAsStringsFlag |
                                rapidjson::kParseValidateEncodingFlag |
                                rapidjson::kParseIterativeFlag;
    rapidjson::ParseResult ok = reader.Parse<kFlags>(stream, handler);
    if (handler.too_deep()) {
      status = Status(IssueType::kTooCostly,
                      std::string(what) + " nests arrays and objects deeper than " +
                          std::to_string(JsonDocument::kMaxDepth) + " levels",
                      expression);
    } else if (handler.too_long()) {
      status =
          Status(IssueType::kTooCostly, std::string(what) + " holds a too long string", expression);
    } else if (!ok) {
      status =
          Status(IssueType::kStructure,
                 std::string(what) + " is not valid JSON: byte " + std::to_string(ok.Offset()) +
                     ": " + rapidjson::GetParseError_En(ok.Code()),
                 expression);
    }
    return status.ok();
  };
  doc.Populate(generate);
  return status;
}

void Write(const Value& v, rapidjson::Writer<rapidjson::StringBuffer>& out) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      out.Null();
      break;
    case rapidjson::kFalseType:
      out.Bool(false);
      break;
    case rapidjson::kTrueType:
      out.Bool(true);
      break;
    case rapidjson::kStringType: {
      std::string_view text = Untagged(v);
      if (IsTagged(v, kNumberTag)) {
        out.RawValue(text.data(), text.size(), rapidjson::kNumberType);
      } else {
        out.String(text.data(), static_cast<SizeType>(text.size()));
      }
      break;
    }
    case rapidjson::kObjectType:
      out.StartObject();
      for (const auto& m : v.GetObject()) {
        out.Key(m.name.GetString(), m.name.GetStringLength());
        Write(m.value, out);
      }
      out.EndObject();
      break;
    case rapidjson::kArrayType:
      out.StartArray();
      for (const Value& item : v.GetArray()) Write(item, out);
      out.EndArray();
      break;
    case rapidjson::kNumberType:
      assert(false && "numbers are tagged strings");
      break;
  }
}

// Nested arrays and objects in `v`: 0 for a scalar, 1 for [] or [1].
int Depth(const Value& v) {
  int depth = 0;
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) depth = std::max(depth, Depth(m.value));
  } else if (v.IsArray()) {
    for (const Value& item : v.GetArray()) depth = std::max(depth, Depth(item));
  } else {
    return 0;
  }
  return depth + 1;
}

// Roughly the bytes `v` takes as compact JSON.
std::size_t EstimatedBytes(const Value& v) {
  std::size_t bytes = 2;
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      bytes += m.name.GetStringLength() + 4 + EstimatedBytes(m.value);
    }
  } else if (v.IsArray()) {
    for (const Value& item : v.GetArray()) bytes += 1 + EstimatedBytes(item);
  } else if (v.IsString()) {
    bytes += v.GetStringLength();
  } else {
    bytes = 5;
  }
  return bytes;
}

// A JSON number as sign, significant digits and exponent: value = 0.digits x 10^exponent, with no
// leading or trailing zeros in `digits` (empty for zero), so equal numbers compare equal.
struct Decimal {
  bool negative = false;
  std::string digits;
  std::int64_t exponent = 0;
  bool operator==(const Decimal&) const = default;
};

// REQUIRES: `text` is a number as RFC 8259 spells it (the reader checked it).
Decimal ToDecimal(std::string_view text) {
  // Exponents beyond this compare as equal; the reader already rejects positive ones above 308.
  constexpr std::int64_t kExponentCap = std::int64_t{1} << 40;
  Decimal out;
  std::size_t i = 0;
  if (text[i] == '-') ++i;
  std::string digits;
  std::int64_t integer_digits = 0;
  bool fraction = false;
  for (; i < text.size() && text[i] != 'e' && text[i] != 'E'; ++i) {
    if (text[i] == '.') {
      fraction = true;
      continue;
    }
    digits.push_back(text[i]);
    if (!fraction) ++integer_digits;
  }
  std::int64_t exponent = 0;
  if (i < text.size()) {
    ++i;  // 'e' or 'E'
    bool negative = false;
    if (text[i] == '+' || text[i] == '-') negative = text[i++] == '-';
    for (; i < text.size(); ++i) exponent = std::min(exponent * 10 + (text[i] - '0'), kExponentCap);
    if (negative) exponent = -exponent;
  }
  std::size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return out;  // zero, also -0 and 0.0e5
  std::size_t last = digits.find_last_not_of('0');
  out.negative = text[0] == '-';
  out.digits = digits.substr(first, last + 1 - first);
  out.exponent = integer_digits - static_cast<std::int64_t>(first) + exponent;
  return out;
}

// Sorted by name, keeping document order among duplicates, so objects compare in O(n log n).
std::vector<const Value::Member*> SortedMembers(const Value& object) {
  std::vector<const Value::Member*> members;
  members.reserve(object.MemberCount());
  for (const auto& m : object.GetObject()) members.push_back(&m);
  std::stable_sort(members.begin(), members.end(),
                   [](const auto* a, const auto* b) { return Name(a->name) < Name(b->name); });
  return members;
}

// JSON equality as RFC 6902 section 4.6 defines it for `test`.
bool Equal(const Value& a, const Value& b) {
  if (a.GetType() != b.GetType()) return false;
  switch (a.GetType()) {
    case rapidjson::kStringType:
      if (IsTagged(a, kNumberTag) != IsTagged(b, kNumberTag)) return false;
      if (IsTagged(a, kNumberTag)) return ToDecimal(Untagged(a)) == ToDecimal(Untagged(b));
      return Untagged(a) == Untagged(b);
    case rapidjson::kArrayType:
      if (a.Size() != b.Size()) return false;
      for (SizeType i = 0; i < a.Size(); ++i) {
        if (!Equal(a[i], b[i])) return false;
      }
      return true;
    case rapidjson::kObjectType: {
      if (a.MemberCount() != b.MemberCount()) return false;
      std::vector<const Value::Member*> left = SortedMembers(a);
      std::vector<const Value::Member*> right = SortedMembers(b);
      for (std::size_t i = 0; i < left.size(); ++i) {
        if (Name(left[i]->name) != Name(right[i]->name)) return false;
        if (!Equal(left[i]->value, right[i]->value)) return false;
      }
      return true;
    }
    default:  // null, false, true: the type says it all
      return true;
  }
}

enum class OpKind { kAdd, kRemove, kReplace, kMove, kCopy, kTest };

struct OpName {
  std::string_view name;
  OpKind kind;
};
constexpr OpName kOps[] = {{"add", OpKind::kAdd},         {"remove", OpKind::kRemove},
                           {"replace", OpKind::kReplace}, {"move", OpKind::kMove},
                           {"copy", OpKind::kCopy},       {"test", OpKind::kTest}};

// One checked operation of the patch.
struct Operation {
  OpKind kind = OpKind::kAdd;
  std::string_view name;  // "add", ... (static)
  std::string at;         // "Patch[2]"
  std::string path_text;
  std::string from_text;
  Pointer path;
  Pointer from;            // move, copy
  Value* value = nullptr;  // add, replace, test: in the patch document
};

// Checks the `path` or `from` member `member` of an operation and parses it into `pointer`.
Status ParsePointer(const Value* member, std::string_view name, const std::string& at,
                    std::string& text, Pointer& pointer) {
  const std::string expression = at + "." + std::string(name);
  if (member == nullptr) {
    return Status(IssueType::kStructure, "The operation has no \"" + std::string(name) + "\"",
                  expression);
  }
  if (!IsTagged(*member, kStringTag)) {
    return Status(IssueType::kStructure,
                  "\"" + std::string(name) + "\" must be a string holding a JSON Pointer",
                  expression);
  }
  text = std::string(Untagged(*member));
  // RapidJSON would read a leading '#' as a URI fragment; RFC 6902 pointers are plain.
  if (!text.empty() && text[0] != '/') {
    return Status(IssueType::kStructure,
                  "Malformed JSON Pointer \"" + text + "\": it must be empty or start with '/'",
                  expression);
  }
  pointer = Pointer(text.data(), text.size());
  if (!pointer.IsValid()) {
    return Status(IssueType::kStructure,
                  "Malformed JSON Pointer \"" + text + "\" at character " +
                      std::to_string(pointer.GetParseErrorOffset()) +
                      ": '~' must be followed by '0' or '1'",
                  expression);
  }
  return Status::Ok();
}

bool SameToken(const Pointer::Token& a, const Pointer::Token& b) {
  return a.length == b.length && std::memcmp(a.name, b.name, a.length) == 0;
}

// True if `prefix` points at a proper ancestor of what `path` points at.
bool IsProperPrefix(const Pointer& prefix, const Pointer& path) {
  if (prefix.GetTokenCount() >= path.GetTokenCount()) return false;
  for (std::size_t i = 0; i < prefix.GetTokenCount(); ++i) {
    if (!SameToken(prefix.GetTokens()[i], path.GetTokens()[i])) return false;
  }
  return true;
}

bool SamePointer(const Pointer& a, const Pointer& b) {
  if (a.GetTokenCount() != b.GetTokenCount()) return false;
  for (std::size_t i = 0; i < a.GetTokenCount(); ++i) {
    if (!SameToken(a.GetTokens()[i], b.GetTokens()[i])) return false;
  }
  return true;
}

Result<Operation> ParseOperation(Value& item, SizeType index) {
  Operation op;
  op.at = "Patch[" + std::to_string(index) + "]";
  if (!item.IsObject()) {
    return Status(IssueType::kStructure, "A JSON Patch operation must be an object", op.at);
  }
  const Value* kind = nullptr;
  const Value* path = nullptr;
  const Value* from = nullptr;
  for (SizeType i = 0; i < item.MemberCount(); ++i) {
    Value::Member& m = item.MemberBegin()[i];
    std::string_view name = Name(m.name);
    const Value** slot = name == "op"     ? &kind
                         : name == "path" ? &path
                         : name == "from" ? &from
                                          : nullptr;
    if (name == "value") {
      if (op.value != nullptr) {
        return Status(IssueType::kStructure, "\"value\" appears more than once", op.at + ".value");
      }
      op.value = &m.value;
      continue;
    }
    if (slot == nullptr) continue;  // RFC 6902 section 4: other members are ignored
    if (*slot != nullptr) {
      return Status(IssueType::kStructure, "\"" + std::string(name) + "\" appears more than once",
                    op.at + "." + std::string(name));
    }
    *slot = &m.value;
  }

  if (kind == nullptr) {
    return Status(IssueType::kStructure, "The operation has no \"op\"", op.at + ".op");
  }
  const auto* known = IsTagged(*kind, kStringTag)
                          ? std::find_if(std::begin(kOps), std::end(kOps),
                                         [&](const OpName& o) { return o.name == Untagged(*kind); })
                          : std::end(kOps);
  if (known == std::end(kOps)) {
    return Status(IssueType::kStructure,
                  "\"op\" must be one of add, remove, replace, move, copy, test", op.at + ".op");
  }
  op.kind = known->kind;
  op.name = known->name;

  FHIR_RETURN_IF_ERROR(ParsePointer(path, "path", op.at, op.path_text, op.path));
  if (op.kind == OpKind::kMove || op.kind == OpKind::kCopy) {
    FHIR_RETURN_IF_ERROR(ParsePointer(from, "from", op.at, op.from_text, op.from));
  }
  bool needs_value =
      op.kind == OpKind::kAdd || op.kind == OpKind::kReplace || op.kind == OpKind::kTest;
  if (!needs_value) {
    op.value = nullptr;
  } else if (op.value == nullptr) {
    return Status(IssueType::kStructure,
                  "The " + std::string(op.name) + " operation has no \"value\"", op.at + ".value");
  }
  if (op.kind == OpKind::kMove && IsProperPrefix(op.from, op.path)) {
    return Status(
        IssueType::kStructure,
        "Cannot move \"" + op.from_text + "\" into its own child \"" + op.path_text + "\"",
        op.at + ".path");
  }
  return op;
}

// Applies checked operations to a document.
class Patcher {
 public:
  Patcher(Document& doc, std::size_t copy_budget) : doc_(doc), copy_budget_(copy_budget) {}

  Status Apply(Operation& op) {
    switch (op.kind) {
      case OpKind::kAdd:
        return Add(op, op.path, *op.value);
      case OpKind::kRemove: {
        if (op.path.GetTokenCount() == 0) {
          return Failed(op, "path", "cannot remove the whole document");
        }
        Value removed;
        if (!Detach(op.path, removed)) return Failed(op, "path", "there is no value there");
        return Status::Ok();
      }
      case OpKind::kReplace: {
        Value* target = op.path.Get(doc_);
        if (target == nullptr) return Failed(op, "path", "there is no value there");
        FHIR_RETURN_IF_ERROR(CheckDepth(op, op.path, *op.value));
        *target = *op.value;
        return Status::Ok();
      }
      case OpKind::kMove: {
        if (op.from.Get(doc_) == nullptr) return Failed(op, "from", "there is no value there");
        if (SamePointer(op.from, op.path)) return Status::Ok();
        Value moved;
        Detach(op.from, moved);  // exists (checked above) and is not the root (a prefix of path)
        return Add(op, op.path, moved);
      }
      case OpKind::kCopy: {
        const Value* source = op.from.Get(doc_);
        if (source == nullptr) return Failed(op, "from", "there is no value there");
        std::size_t bytes = EstimatedBytes(*source);
        if (bytes > copy_budget_) {
          return Status(IssueType::kTooCostly,
                        "The copy operations would grow the document by more than " +
                            std::to_string(copied_ + copy_budget_) + " bytes",
                        op.at);
        }
        copy_budget_ -= bytes;
        copied_ += bytes;
        Value copy(*source, doc_.GetAllocator());
        return Add(op, op.path, copy);
      }
      case OpKind::kTest: {
        const Value* target = op.path.Get(doc_);
        if (target == nullptr) return Failed(op, "path", "there is no value there");
        if (!Equal(*target, *op.value)) return Failed(op, "path", "the value differs");
        return Status::Ok();
      }
    }
    return Status::Ok();
  }

 private:
  static Status Failed(const Operation& op, std::string_view member, std::string_view why) {
    const std::string& pointer = member == "from" ? op.from_text : op.path_text;
    return Status(IssueType::kProcessing,
                  std::string(op.name) + " at " + std::string(member) + " \"" + pointer +
                      "\" failed: " + std::string(why),
                  op.at + "." + std::string(member));
  }

  // `value` placed at `path` must not nest deeper than a document may.
  static Status CheckDepth(const Operation& op, const Pointer& path, const Value& value) {
    if (path.GetTokenCount() + static_cast<std::size_t>(Depth(value)) <=
        static_cast<std::size_t>(JsonDocument::kMaxDepth)) {
      return Status::Ok();
    }
    return Status(IssueType::kTooCostly,
                  std::string(op.name) + " at \"" + op.path_text +
                      "\" would nest arrays and objects deeper than " +
                      std::to_string(JsonDocument::kMaxDepth) + " levels",
                  op.at + ".path");
  }

  // RFC 6902 section 4.1 "add": moves `value` to `path`, replacing an object member or inserting
  // into an array.
  Status Add(const Operation& op, const Pointer& path, Value& value) {
    FHIR_RETURN_IF_ERROR(CheckDepth(op, path, value));
    const std::size_t count = path.GetTokenCount();
    if (count == 0) {
      static_cast<Value&>(doc_) = value;
      return Status::Ok();
    }
    const Pointer::Token& last = path.GetTokens()[count - 1];
    Value* parent = Pointer(path.GetTokens(), count - 1).Get(doc_);
    // The last raw '/' separates the last token: an escaped one is spelled ~1.
    const std::string parent_text = op.path_text.substr(0, op.path_text.rfind('/'));
    if (parent == nullptr) {
      return Failed(op, "path",
                    "the parent \"" + parent_text +
                        "\" does not exist (objects are not created recursively)");
    }
    auto& allocator = doc_.GetAllocator();
    if (parent->IsObject()) {
      std::optional<SizeType> member = MemberIndex(*parent, {last.name, last.length});
      if (member) {
        parent->MemberBegin()[*member].value = value;
      } else {
        Value name(last.name, last.length, allocator);
        parent->AddMember(name, value, allocator);
      }
      return Status::Ok();
    }
    if (!parent->IsArray()) {
      return Failed(op, "path",
                    "the parent \"" + parent_text + "\" is neither an object nor an array");
    }
    if (last.length == 1 && last.name[0] == '-') {
      parent->PushBack(value, allocator);
      return Status::Ok();
    }
    if (last.index == rapidjson::kPointerInvalidIndex) {
      return Failed(op, "path",
                    "\"" + std::string(last.name, last.length) + "\" is not an array index");
    }
    if (last.index > parent->Size()) {
      return Failed(op, "path",
                    "index " + std::to_string(last.index) + " is beyond the end of an array of " +
                        std::to_string(parent->Size()) + " items");
    }
    // RapidJSON 1.1 has no Insert: append, then swap the new item down into place.
    parent->PushBack(value, allocator);
    for (SizeType i = parent->Size() - 1; i > last.index; --i) (*parent)[i].Swap((*parent)[i - 1]);
    return Status::Ok();
  }

  // Moves the value at `path` (not the root) into `removed` and removes its slot. False when there
  // is no such value.
  bool Detach(const Pointer& path, Value& removed) {
    const std::size_t count = path.GetTokenCount();
    const Pointer::Token& last = path.GetTokens()[count - 1];
    Value* parent = Pointer(path.GetTokens(), count - 1).Get(doc_);
    if (parent == nullptr) return false;
    if (parent->IsObject()) {
      std::optional<SizeType> member = MemberIndex(*parent, {last.name, last.length});
      if (!member) return false;
      removed = parent->MemberBegin()[*member].value;
      parent->EraseMember(parent->MemberBegin() + *member);  // keeps order, unlike RemoveMember
      return true;
    }
    if (parent->IsArray()) {
      if (last.index == rapidjson::kPointerInvalidIndex || last.index >= parent->Size()) {
        return false;
      }
      removed = (*parent)[last.index];
      parent->Erase(parent->Begin() + last.index);
      return true;
    }
    return false;
  }

  Document& doc_;
  std::size_t copy_budget_;
  std::size_t copied_ = 0;
};

}  // namespace

Result<std::string> ApplyJsonPatch(std::string_view document, std::string_view patch) {
  rapidjson::MemoryPoolAllocator<> allocator;  // outlives both documents
  Document patch_doc(&allocator);
  FHIR_RETURN_IF_ERROR(ParseTagged(patch, patch_doc, "The JSON Patch document", "Patch"));
  if (!patch_doc.IsArray()) {
    return Status(IssueType::kStructure, "A JSON Patch document must be an array of operations",
                  "Patch");
  }
  // Every operation is checked before any is applied: a malformed patch is a malformed request
  // whatever the document holds.
  std::vector<Operation> operations;
  operations.reserve(patch_doc.Size());
  for (SizeType i = 0; i < patch_doc.Size(); ++i) {
    FHIR_ASSIGN_OR_RETURN(Operation op, ParseOperation(patch_doc[i], i));
    operations.push_back(std::move(op));
  }

  Document doc(&allocator);
  FHIR_RETURN_IF_ERROR(ParseTagged(document, doc, "The document to patch", ""));
  Patcher patcher(doc, std::max(kMinCopyBudget, document.size() + patch.size()));
  for (Operation& op : operations) FHIR_RETURN_IF_ERROR(patcher.Apply(op));

  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  Write(doc, writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace fhir::json
