#include "fhir/json/dom.h"

#include <memory>
#include <string>
#include <string_view>

#include <doctest/doctest.h>

namespace fhir::json {
namespace {

using namespace std::string_view_literals;
using Kind = JsonValue::Kind;

// `depth` arrays nested in each other: "[[...]]".
std::string NestedArrays(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') +
         std::string(static_cast<std::size_t>(depth), ']');
}

TEST_CASE("JsonDocument keeps numbers as their source text") {
  // clang-format off
  const std::string_view numbers[] = {
      "0", "-0", "1.50", "-0.0", "1e3", "1E+3", "2.5e-10", "100",
      "12345678901234567890123456789", "0.10000000000000000000000001", "-2147483649",
  };
  // clang-format on
  for (std::string_view number : numbers) {
    CAPTURE(number);
    JsonDocument doc;
    const std::string json = "[" + std::string(number) + "]";
    REQUIRE(doc.Parse(json).ok());
    REQUIRE(doc.root().is_array());
    REQUIRE(doc.root().size == 1);
    const JsonValue& value = doc.root().array()[0];
    CHECK(value.kind == Kind::kNumber);
    CHECK(value.str() == number);
    CHECK(value.size == number.size());
  }
}

TEST_CASE("JsonDocument tells numbers and strings apart") {
  JsonDocument doc;
  REQUIRE(doc.Parse(R"({"n": 1.50, "s": "1.50"})").ok());
  const JsonValue* n = doc.root().Find("n");
  const JsonValue* s = doc.root().Find("s");
  REQUIRE(n != nullptr);
  REQUIRE(s != nullptr);
  CHECK(n->kind == Kind::kNumber);
  CHECK(s->kind == Kind::kString);
  CHECK(n->str() == "1.50");
  CHECK(s->str() == "1.50");
}

TEST_CASE("JsonDocument keeps duplicate keys and member order; Find returns the first") {
  JsonDocument doc;
  REQUIRE(doc.Parse(R"({"b": 1, "a": 2, "b": 3, "a": [4]})").ok());
  const JsonValue& root = doc.root();
  REQUIRE(root.is_object());
  REQUIRE(root.size == 4);
  const auto members = root.object();
  CHECK(members[0].name == "b");
  CHECK(members[0].value.str() == "1");
  CHECK(members[1].name == "a");
  CHECK(members[1].value.str() == "2");
  CHECK(members[2].name == "b");
  CHECK(members[2].value.str() == "3");
  CHECK(members[3].name == "a");
  CHECK(members[3].value.is_array());
  const JsonValue* b = root.Find("b");
  REQUIRE(b != nullptr);
  CHECK(b == &members[0].value);
  CHECK(root.Find("c") == nullptr);
  CHECK(root.Find("") == nullptr);
}

TEST_CASE("JsonDocument decodes string escapes in values and keys") {
  struct Case {
    std::string_view json;  // one JSON string
    std::string_view decoded;
  };
  // clang-format off
  const Case cases[] = {
      {R"("plain")", "plain"},
      {R"("")", ""},
      {R"("\"")", "\""},
      {R"("\\")", "\\"},
      {R"("\/")", "/"},
      {R"("\b\f\n\r\t")", "\b\f\n\r\t"},
      {R"("\u0041\u00e9")", "A\xc3\xa9"},
      {R"("\u20AC")", "\xe2\x82\xac"},
      {R"("\ud83d\ude00")", "\xf0\x9f\x98\x80"},
      {R"("a\u0000b")", "a\0b"sv},
      {"\"caf\xc3\xa9\"", "caf\xc3\xa9"},
  };
  // clang-format on
  for (const Case& c : cases) {
    CAPTURE(c.json);
    JsonDocument doc;
    REQUIRE(doc.Parse(c.json).ok());
    CHECK(doc.root().kind == Kind::kString);
    CHECK(doc.root().str() == c.decoded);
    CHECK(doc.root().size == c.decoded.size());
  }

  JsonDocument doc;
  REQUIRE(doc.Parse(R"({"a\u0062\n": "x\ty"})").ok());
  REQUIRE(doc.root().size == 1);
  CHECK(doc.root().object()[0].name == "ab\n");
  CHECK(doc.root().object()[0].value.str() == "x\ty");
  CHECK(doc.root().Find("ab\n") != nullptr);
}

TEST_CASE("JsonDocument builds every kind of value") {
  JsonDocument doc;
  REQUIRE(doc.Parse(R"( {"t": true, "f": false, "z": null, "e": [], "o": {},
                          "a": [1, "two", [3], {"four": 4}]} )")
              .ok());
  const JsonValue& root = doc.root();
  REQUIRE(root.is_object());
  CHECK(root.size == 6);
  CHECK(root.Find("t")->kind == Kind::kTrue);
  CHECK(root.Find("f")->kind == Kind::kFalse);
  CHECK(root.Find("z")->is_null());
  CHECK(root.Find("e")->is_array());
  CHECK(root.Find("e")->size == 0);
  CHECK(root.Find("e")->array().empty());
  CHECK(root.Find("o")->is_object());
  CHECK(root.Find("o")->size == 0);
  CHECK(root.Find("o")->object().empty());
  const JsonValue* a = root.Find("a");
  REQUIRE(a != nullptr);
  REQUIRE(a->size == 4);
  CHECK(a->array()[0].kind == Kind::kNumber);
  CHECK(a->array()[1].str() == "two");
  REQUIRE(a->array()[2].is_array());
  CHECK(a->array()[2].array()[0].str() == "3");
  REQUIRE(a->array()[3].is_object());
  CHECK(a->array()[3].Find("four")->str() == "4");
  // Find on something that is not an object finds nothing.
  CHECK(a->Find("four") == nullptr);
}

TEST_CASE("JsonDocument accepts scalar roots") {
  struct Case {
    std::string_view json;
    Kind kind;
  };
  const Case cases[] = {
      {"42", Kind::kNumber}, {" \"s\" ", Kind::kString}, {"null", Kind::kNull},
      {"true", Kind::kTrue}, {"\n[]\n", Kind::kArray},
  };
  for (const Case& c : cases) {
    CAPTURE(c.json);
    JsonDocument doc;
    REQUIRE(doc.Parse(c.json).ok());
    CHECK(doc.root().kind == c.kind);
  }
}

TEST_CASE("JsonDocument owns its text: values outlive the input") {
  JsonDocument doc;
  {
    std::string input = R"({"key": "value", "n": 3.25})";
    REQUIRE(doc.Parse(input).ok());
    input.assign(input.size(), 'x');
  }
  CHECK(doc.root().object()[0].name == "key");
  CHECK(doc.root().Find("key")->str() == "value");
  CHECK(doc.root().Find("n")->str() == "3.25");
}

TEST_CASE("JsonDocument handles many values (arena spanning blocks)") {
  std::string json = "[";
  for (int i = 0; i < 20000; ++i) {
    if (i > 0) json += ',';
    json += "{\"k" + std::to_string(i) + "\":\"v" + std::to_string(i) + "\"}";
  }
  json += "]";
  JsonDocument doc;
  REQUIRE(doc.Parse(json).ok());
  REQUIRE(doc.root().size == 20000);
  CHECK(doc.root().array()[0].Find("k0")->str() == "v0");
  CHECK(doc.root().array()[12345].Find("k12345")->str() == "v12345");
  CHECK(doc.root().array()[19999].Find("k19999")->str() == "v19999");
}

TEST_CASE("JsonDocument reports malformed JSON with the byte offset") {
  struct Case {
    std::string_view name;
    std::string_view json;
    std::string_view diagnostics;
  };
  // clang-format off
  const Case cases[] = {
      {"empty", "", "Malformed JSON at byte 0: The document is empty."},
      {"only whitespace", "  \n", "Malformed JSON at byte 3: The document is empty."},
      {"trailing comma in object", R"({"a":1,})",
       "Malformed JSON at byte 7: Missing a name for object member."},
      {"trailing comma in array", "[1,2,]", "Malformed JSON at byte 5: Invalid value."},
      {"missing colon", R"({"a" 1})",
       "Malformed JSON at byte 5: Missing a colon after a name of object member."},
      {"missing comma", R"({"a":1 "b":2})",
       "Malformed JSON at byte 7: Missing a comma or '}' after an object member."},
      {"unterminated string", R"({"a":"bc)",
       "Malformed JSON at byte 8: Missing a closing quotation mark in string."},
      {"unterminated object", R"({"a":1)",
       "Malformed JSON at byte 6: Missing a comma or '}' after an object member."},
      {"trailing garbage", "{} x",
       "Malformed JSON at byte 3: The document root must not be followed by other values."},
      {"two roots", "{}{}",
       "Malformed JSON at byte 2: The document root must not be followed by other values."},
      {"single quotes", "{'a':1}", "Malformed JSON at byte 1: Missing a name for object member."},
      {"bare word", "[nul]", "Malformed JSON at byte 4: Invalid value."},
      {"leading zero", "[01]",
       "Malformed JSON at byte 2: Missing a comma or ']' after an array element."},
      {"bad escape", R"(["\x"])", "Malformed JSON at byte 2: Invalid escape character in string."},
      // RapidJSON's wording for an unescaped control character.
      {"raw control character", "[\"a\x01\"]",
       "Malformed JSON at byte 3: Invalid escape character in string."},
      {"invalid UTF-8 byte", "[\"a\xff\"]", "Malformed JSON at byte 3: Invalid encoding in string."},
      {"overlong UTF-8", "[\"\xc0\xaf\"]", "Malformed JSON at byte 2: Invalid encoding in string."},
      {"truncated UTF-8", "[\"\xe2\x82\"]", "Malformed JSON at byte 2: Invalid encoding in string."},
      {"lone high surrogate", R"(["\ud800"])",
       "Malformed JSON at byte 2: The surrogate pair in string is invalid."},
      {"high surrogate before a non-surrogate", R"(["\ud800\u0041"])",
       "Malformed JSON at byte 2: The surrogate pair in string is invalid."},
  };
  // clang-format on
  for (const Case& c : cases) {
    CAPTURE(c.name);
    JsonDocument doc;
    Status status = doc.Parse(c.json);
    REQUIRE_FALSE(status.ok());
    REQUIRE(status.issues().size() == 1);
    CHECK(status.type() == IssueType::kStructure);
    CHECK(status.diagnostics() == c.diagnostics);
    CHECK(status.expression() == "");
  }
}

// A lone low surrogate (U+DC00..U+DFFF) encodes no Unicode character: accepting it puts the
// invalid UTF-8 bytes ED B0 80 into the tree (RapidJSON 1.1 only checks high surrogates), which
// the writer then copies into output that no strict parser accepts.
TEST_CASE("JsonDocument rejects a lone low surrogate escape") {
  const std::string_view inputs[] = {R"(["\udc00"])", R"(["a\udfffb"])", R"(["\udc00\ud800"])"};
  for (std::string_view json : inputs) {
    CAPTURE(json);
    JsonDocument doc;
    Status status = doc.Parse(json);
    CHECK_FALSE(status.ok());
    CHECK(status.issues().size() == 1);
    CHECK(status.type() == IssueType::kStructure);
    CHECK(status.expression() == "");
  }
}

TEST_CASE("JsonDocument rejects a NUL byte anywhere") {
  const std::string_view inputs[] = {"{}\0"sv, "[\"a\0b\"]"sv, "\0{}"sv};
  for (std::string_view json : inputs) {
    CAPTURE(json.size());
    JsonDocument doc;
    Status status = doc.Parse(json);
    REQUIRE_FALSE(status.ok());
    CHECK(status.type() == IssueType::kStructure);
    CHECK(status.diagnostics() == "The JSON contains a NUL byte");
  }
}

TEST_CASE("JsonDocument ignores a leading UTF-8 byte order mark, and only that") {
  JsonDocument doc;
  Status status = doc.Parse("\xEF\xBB\xBF{\"a\":1}");
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  REQUIRE(doc.root().Find("a") != nullptr);
  CHECK(doc.root().Find("a")->str() == "1");
  // Twice, or anywhere else, it is not JSON.
  for (std::string_view json : {"\xEF\xBB\xBF\xEF\xBB\xBF{}"sv, "{}\xEF\xBB\xBF"sv,
                                "\xEF\xBB{}"sv}) {
    JsonDocument bad;
    CHECK_FALSE(bad.Parse(json).ok());
  }
}

TEST_CASE("JsonDocument allows 200 levels of nesting, not 201") {
  CHECK(JsonDocument::kMaxDepth == 200);
  {
    JsonDocument doc;
    Status status = doc.Parse(NestedArrays(200));
    CHECK_MESSAGE(status.ok(), status.ToString());
  }
  {
    JsonDocument doc;
    REQUIRE(doc.Parse(R"({"a":)" + NestedArrays(199) + "}").ok());
  }
  const std::string too_deep[] = {
      NestedArrays(201),
      R"({"a":)" + NestedArrays(200) + "}",
      std::string(100000, '['),  // also deeper than the limit long before it ends
  };
  for (const std::string& json : too_deep) {
    CAPTURE(json.size());
    JsonDocument doc;
    Status status = doc.Parse(json);
    REQUIRE_FALSE(status.ok());
    REQUIRE(status.issues().size() == 1);
    CHECK(status.type() == IssueType::kTooCostly);
    CHECK(status.diagnostics() == "The JSON nests arrays and objects deeper than 200 levels");
    CHECK(status.expression() == "");
  }
}

// std::string_view() has data() == nullptr; passing it to memchr would be undefined behaviour
// even for length 0 (UBSan: "null pointer passed as argument 1"), so Parse() must guard it.
TEST_CASE("JsonDocument parses an empty view with a null data pointer as empty input") {
  JsonDocument doc;
  Status status = doc.Parse(std::string_view());
  REQUIRE_FALSE(status.ok());
  CHECK(status.type() == IssueType::kStructure);
  CHECK(status.diagnostics() == "Malformed JSON at byte 0: The document is empty.");
}

TEST_CASE("JsonDocument::Allocate returns zeroed memory") {
  JsonDocument doc;
  auto* values = doc.Allocate<JsonValue>(3);
  REQUIRE(values != nullptr);
  for (int i = 0; i < 3; ++i) {
    CHECK(values[i].kind == Kind::kNull);
    CHECK(values[i].size == 0);
  }
  auto* bytes = doc.Allocate<char>(100000);  // larger than a block
  REQUIRE(bytes != nullptr);
  CHECK(bytes[0] == 0);
  CHECK(bytes[99999] == 0);
}

}  // namespace
}  // namespace fhir::json
