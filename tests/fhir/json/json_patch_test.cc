#include "fhir/json/json_patch.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <doctest/doctest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fhir/json/dom.h"
#include "tests/fhir/json/json_compare.h"

namespace fhir::json {
namespace {

struct PatchCase {
  std::string_view name;
  std::string_view document;
  std::string_view patch;
  std::string_view expected;  // compact, member order kept
};

// clang-format off
const PatchCase kPatchCases[] = {
    // add
    {"add a member", R"({"a":1})", R"([{"op":"add","path":"/b","value":2}])", R"({"a":1,"b":2})"},
    {"add replaces an existing member in place", R"({"a":1,"b":2})",
     R"([{"op":"add","path":"/a","value":"x"}])", R"({"a":"x","b":2})"},
    {"add inserts into an array", R"({"a":[1,2]})", R"([{"op":"add","path":"/a/1","value":3}])",
     R"({"a":[1,3,2]})"},
    {"add at index 0", R"([1,2])", R"([{"op":"add","path":"/0","value":0}])", R"([0,1,2])"},
    {"add at index == size appends", R"({"a":[1,2]})", R"([{"op":"add","path":"/a/2","value":3}])",
     R"({"a":[1,2,3]})"},
    {"add at - appends", R"({"a":[1,2]})", R"([{"op":"add","path":"/a/-","value":3}])",
     R"({"a":[1,2,3]})"},
    {"add at - appends an array as one item", R"({"a":[]})",
     R"([{"op":"add","path":"/a/-","value":[1,[2]]}])", R"({"a":[[1,[2]]]})"},
    {"- names a member of an object", R"({"a":{}})", R"([{"op":"add","path":"/a/-","value":1}])",
     R"({"a":{"-":1}})"},
    {"add the empty key", R"({})", R"([{"op":"add","path":"/","value":1}])", R"({"":1})"},
    {"add at the root replaces the document", R"({"a":1})",
     R"([{"op":"add","path":"","value":{"b":[true,false,null]}}])", R"({"b":[true,false,null]})"},
    {"add a nested member object", R"({"a":1})",
     R"([{"op":"add","path":"/c","value":{"d":{}}}])", R"({"a":1,"c":{"d":{}}})"},
    {"add into nested arrays", R"({"a":[[1,2],[3]]})",
     R"([{"op":"add","path":"/a/0/1","value":9},{"op":"add","path":"/a/1/-","value":[]}])",
     R"({"a":[[1,9,2],[3,[]]]})"},
    {"unknown members of an operation are ignored", R"({})",
     R"([{"op":"add","path":"/a","value":1,"xyz":{"from":1}}])", R"({"a":1})"},
    {"from is ignored by add", R"({})", R"([{"op":"add","path":"/a","value":1,"from":7}])",
     R"({"a":1})"},
    // remove
    {"remove a member keeps the order of the others", R"({"a":1,"b":2,"c":3})",
     R"([{"op":"remove","path":"/b"}])", R"({"a":1,"c":3})"},
    {"remove an array item", R"({"a":[1,2,3]})", R"([{"op":"remove","path":"/a/0"}])",
     R"({"a":[2,3]})"},
    {"remove from nested arrays", R"([[1],[2,3]])", R"([{"op":"remove","path":"/1/0"}])",
     R"([[1],[3]])"},
    // replace
    {"replace a member", R"({"a":1,"b":2})", R"([{"op":"replace","path":"/a","value":[1]}])",
     R"({"a":[1],"b":2})"},
    {"replace an array item", R"([1,2,3])", R"([{"op":"replace","path":"/1","value":"x"}])",
     R"([1,"x",3])"},
    {"replace the root", R"({"a":1})", R"([{"op":"replace","path":"","value":[]}])", R"([])"},
    {"replace with null", R"({"a":1})", R"([{"op":"replace","path":"/a","value":null}])",
     R"({"a":null})"},
    // move
    {"move a member between objects", R"({"a":{"x":1,"y":2},"b":{"z":3}})",
     R"([{"op":"move","from":"/a/x","path":"/b/x"}])", R"({"a":{"y":2},"b":{"z":3,"x":1}})"},
    {"move an array item to the end", R"(["all","grass","cows","eat"])",
     R"([{"op":"move","from":"/1","path":"/3"}])", R"(["all","cows","eat","grass"])"},
    {"move an array item to the front", R"([1,2,3])", R"([{"op":"move","from":"/2","path":"/0"}])",
     R"([3,1,2])"},
    {"move to - appends", R"({"a":[1,2],"b":3})", R"([{"op":"move","from":"/b","path":"/a/-"}])",
     R"({"a":[1,2,3]})"},
    {"move to the same location changes nothing", R"({"a":1,"b":2})",
     R"([{"op":"move","from":"/a","path":"/a"}])", R"({"a":1,"b":2})"},
    {"move a member onto another replaces it", R"({"a":1,"b":2})",
     R"([{"op":"move","from":"/a","path":"/b"}])", R"({"b":1})"},
    {"move a member to the root", R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":""}])",
     R"({"b":1})"},
    // copy
    {"copy a member", R"({"a":{"b":[1.50]}})", R"([{"op":"copy","from":"/a","path":"/c"}])",
     R"({"a":{"b":[1.50]},"c":{"b":[1.50]}})"},
    {"copy an array item into the array", R"([1,2])", R"([{"op":"copy","from":"/0","path":"/-"}])",
     R"([1,2,1])"},
    {"copy the root into itself", R"({"a":1})", R"([{"op":"copy","from":"","path":"/b"}])",
     R"({"a":1,"b":{"a":1}})"},
    {"copies are independent", R"({"a":[1]})",
     R"([{"op":"copy","from":"/a","path":"/b"},{"op":"add","path":"/b/-","value":2}])",
     R"({"a":[1],"b":[1,2]})"},
    // test
    {"test strings, numbers, booleans, null", R"({"s":"x","n":2,"t":true,"f":false,"z":null})",
     R"([{"op":"test","path":"/s","value":"x"},{"op":"test","path":"/n","value":2},)"
     R"({"op":"test","path":"/t","value":true},{"op":"test","path":"/f","value":false},)"
     R"({"op":"test","path":"/z","value":null}])",
     R"({"s":"x","n":2,"t":true,"f":false,"z":null})"},
    {"test compares numbers by value", R"([1,1.50,1000,0,-2.5e-3,100])",
     R"([{"op":"test","path":"/0","value":1.0},{"op":"test","path":"/1","value":1.5},)"
     R"({"op":"test","path":"/2","value":1e3},{"op":"test","path":"/3","value":-0.0},)"
     R"({"op":"test","path":"/4","value":-0.0025},{"op":"test","path":"/5","value":1E+2}])",
     R"([1,1.50,1000,0,-2.5e-3,100])"},
    {"test compares objects regardless of member order", R"({"a":{"x":1,"y":[{"p":1,"q":2}]}})",
     R"([{"op":"test","path":"/a","value":{"y":[{"q":2,"p":1}],"x":1}}])",
     R"({"a":{"x":1,"y":[{"p":1,"q":2}]}})"},
    {"test the whole document", R"({"a":[1,"2"]})",
     R"([{"op":"test","path":"","value":{"a":[1.0,"2"]}}])", R"({"a":[1,"2"]})"},
    // pointer escapes
    {"~1 is / and ~0 is ~", R"({"a/b":1,"m~n":2,"~1":3})",
     R"([{"op":"test","path":"/a~1b","value":1},{"op":"remove","path":"/m~0n"},)"
     R"({"op":"replace","path":"/~01","value":4},{"op":"add","path":"/c~1d~0","value":5}])",
     R"({"a/b":1,"~1":4,"c/d~":5})"},
    {"keys with escapes and NUL", R"({"q\"\\":"\u0000é\n"})",
     R"([{"op":"copy","from":"/q\"\\","path":"/\u0000"}])",
     R"({"q\"\\":"\u0000é\n","\u0000":"\u0000é\n"})"},
    // number text and strings vs numbers
    {"untouched numbers keep their text", R"({"a" : 1.50, "b" : 1e3, "c" : -0.0, "d" : 1E-7, "e" : 12345678901234567890123})",
     R"([{"op":"remove","path":"/a"},{"op":"add","path":"/a","value":0}])",
     R"({"b":1e3,"c":-0.0,"d":1E-7,"e":12345678901234567890123,"a":0})"},
    {"added numbers keep their text", R"({"v":[]})",
     R"([{"op":"add","path":"/v/-","value":1.50},{"op":"add","path":"/v/-","value":1e3},)"
     R"({"op":"add","path":"/w","value":{"x":[2.500,-1E+2]}},{"op":"replace","path":"/v/0","value":100.00}])",
     R"({"v":[100.00,1e3],"w":{"x":[2.500,-1E+2]}})"},
    {"a string stays a string, a number a number", R"({})",
     R"([{"op":"add","path":"/s","value":"1"},{"op":"add","path":"/n","value":1},)"
     R"({"op":"add","path":"/d","value":"1.50"}])",
     R"({"s":"1","n":1,"d":"1.50"})"},
    {"an empty patch changes nothing but spacing", "{ \"a\" : [ 1 , 2.0 ] }", "[]",
     R"({"a":[1,2.0]})"},
    {"operations apply in order", R"({"a":[]})",
     R"([{"op":"add","path":"/a/-","value":1},{"op":"add","path":"/a/0","value":0},)"
     R"({"op":"test","path":"/a","value":[0,1]},{"op":"move","from":"/a","path":"/b"},)"
     R"({"op":"test","path":"","value":{"b":[0,1]}}])",
     R"({"b":[0,1]})"},
};
// clang-format on

TEST_CASE("ApplyJsonPatch applies RFC 6902 operations") {
  for (const PatchCase& c : kPatchCases) {
    CAPTURE(c.name);
    auto result = ApplyJsonPatch(c.document, c.patch);
    REQUIRE_MESSAGE(result.ok(), result.status().ToString());
    CHECK(*result == c.expected);
  }
}

struct ErrorCase {
  std::string_view name;
  std::string_view document;
  std::string_view patch;
  IssueType type;
  std::string_view expression;
  std::string_view diagnostics;  // a part of them
};

// clang-format off
const ErrorCase kErrorCases[] = {
    // malformed patch documents and operations
    {"patch is not JSON", "{}", "[", IssueType::kStructure, "Patch", "not valid JSON"},
    {"patch is not an array", "{}", R"({"op":"remove","path":"/a"})", IssueType::kStructure,
     "Patch", "must be an array"},
    {"operation is not an object", "{}", R"([1])", IssueType::kStructure, "Patch[0]",
     "must be an object"},
    {"op is missing", "{}", R"([{"path":"/a"}])", IssueType::kStructure, "Patch[0].op", "no \"op\""},
    {"op is not a string", "{}", R"([{"op":1,"path":"/a"}])", IssueType::kStructure,
     "Patch[0].op", "must be one of"},
    {"op is unknown", "{}", R"([{"op":"merge","path":"/a","value":1}])", IssueType::kStructure,
     "Patch[0].op", "must be one of"},
    {"op is case-sensitive", "{}", R"([{"op":"Add","path":"/a","value":1}])",
     IssueType::kStructure, "Patch[0].op", "must be one of"},
    {"op appears twice", R"({"a":1})",
     R"([{"op":"remove","path":"/a","op":"add","value":1}])", IssueType::kStructure,
     "Patch[0].op", "more than once"},
    {"path is missing", "{}", R"([{"op":"remove"}])", IssueType::kStructure, "Patch[0].path",
     "no \"path\""},
    {"path is not a string", "{}", R"([{"op":"remove","path":1}])", IssueType::kStructure,
     "Patch[0].path", "must be a string"},
    {"value is missing (add)", R"({"a":1})",
     R"([{"op":"test","path":"/a","value":1},{"op":"test","path":"/a","value":1},)"
     R"({"op":"add","path":"/b"}])",
     IssueType::kStructure, "Patch[2].value", "no \"value\""},
    {"value is missing (replace)", R"({"a":1})", R"([{"op":"replace","path":"/a"}])",
     IssueType::kStructure, "Patch[0].value", "no \"value\""},
    {"value is missing (test)", R"({"a":1})", R"([{"op":"test","path":"/a"}])",
     IssueType::kStructure, "Patch[0].value", "no \"value\""},
    {"from is missing (move)", R"({"a":1})", R"([{"op":"move","path":"/b"}])",
     IssueType::kStructure, "Patch[0].from", "no \"from\""},
    {"from is missing (copy)", R"({"a":1})", R"([{"op":"copy","path":"/b"}])",
     IssueType::kStructure, "Patch[0].from", "no \"from\""},
    {"path without a leading /", R"({"a":1})", R"([{"op":"remove","path":"a"}])",
     IssueType::kStructure, "Patch[0].path", "Malformed JSON Pointer"},
    {"path as a URI fragment", R"({"a":1})", R"([{"op":"remove","path":"#/a"}])",
     IssueType::kStructure, "Patch[0].path", "Malformed JSON Pointer"},
    {"path with ~2", R"({"a":1})", R"([{"op":"remove","path":"/a~2"}])", IssueType::kStructure,
     "Patch[0].path", "'~' must be followed"},
    {"path ending in ~", R"({"a":1})", R"([{"op":"remove","path":"/a~"}])",
     IssueType::kStructure, "Patch[0].path", "'~' must be followed"},
    {"malformed from", R"({"a":1})", R"([{"op":"copy","from":"/~x","path":"/b"}])",
     IssueType::kStructure, "Patch[0].from", "Malformed JSON Pointer"},
    {"move into its own child", R"({"a":{"b":1}})",
     R"([{"op":"move","from":"/a","path":"/a/b/c"}])", IssueType::kStructure, "Patch[0].path",
     "own child"},
    {"move the root into a child", R"({"a":{}})", R"([{"op":"move","from":"","path":"/a"}])",
     IssueType::kStructure, "Patch[0].path", "own child"},
    {"a malformed later operation wins over an earlier failing one", R"({})",
     R"([{"op":"remove","path":"/missing"},{"op":"bogus","path":"/a"}])", IssueType::kStructure,
     "Patch[1].op", "must be one of"},
    {"document is not JSON", R"({"a":)", "[]", IssueType::kStructure, "", "not valid JSON"},
    {"patch with a NUL byte", "{}", std::string_view("[]\0[", 4), IssueType::kStructure, "Patch",
     "NUL"},
    // operations that cannot be applied
    {"add with a missing parent", R"({"q":{"bar":2}})", R"([{"op":"add","path":"/a/b","value":1}])",
     IssueType::kProcessing, "Patch[0].path", "add at path \"/a/b\" failed: the parent \"/a\""},
    {"add below a scalar", R"({"a":1})", R"([{"op":"add","path":"/a/b","value":1}])",
     IssueType::kProcessing, "Patch[0].path", "neither an object nor an array"},
    {"add beyond the end of an array", R"({"a":[1]})", R"([{"op":"add","path":"/a/2","value":1}])",
     IssueType::kProcessing, "Patch[0].path", "beyond the end"},
    {"add at a name in an array", R"({"a":[1]})", R"([{"op":"add","path":"/a/x","value":1}])",
     IssueType::kProcessing, "Patch[0].path", "not an array index"},
    {"add at a leading-zero index", R"({"a":[1,2]})", R"([{"op":"add","path":"/a/01","value":1}])",
     IssueType::kProcessing, "Patch[0].path", "not an array index"},
    {"remove a missing member", R"({"a":1})", R"([{"op":"remove","path":"/b"}])",
     IssueType::kProcessing, "Patch[0].path", "remove at path \"/b\" failed"},
    {"remove beyond the end of an array", R"([1])", R"([{"op":"remove","path":"/1"}])",
     IssueType::kProcessing, "Patch[0].path", "remove at path \"/1\""},
    {"remove -", R"([1])", R"([{"op":"remove","path":"/-"}])", IssueType::kProcessing,
     "Patch[0].path", "no value there"},
    {"remove the root", R"({"a":1})", R"([{"op":"remove","path":""}])", IssueType::kProcessing,
     "Patch[0].path", "whole document"},
    {"replace a missing member", R"({"a":1})", R"([{"op":"replace","path":"/b","value":1}])",
     IssueType::kProcessing, "Patch[0].path", "replace at path \"/b\""},
    {"replace -", R"({"a":[1]})", R"([{"op":"replace","path":"/a/-","value":1}])",
     IssueType::kProcessing, "Patch[0].path", "no value there"},
    {"move from a missing member", R"({"a":1})", R"([{"op":"move","from":"/b","path":"/c"}])",
     IssueType::kProcessing, "Patch[0].from", "move at from \"/b\""},
    {"move to a missing parent", R"({"a":1})", R"([{"op":"move","from":"/a","path":"/b/c"}])",
     IssueType::kProcessing, "Patch[0].path", "does not exist"},
    {"copy from a missing member", R"({"a":1})", R"([{"op":"copy","from":"/b","path":"/c"}])",
     IssueType::kProcessing, "Patch[0].from", "copy at from \"/b\""},
    {"test a missing member", R"({"a":1})", R"([{"op":"test","path":"/b","value":1}])",
     IssueType::kProcessing, "Patch[0].path", "test at path \"/b\" failed: there is no value"},
    {"test a different string", R"({"baz":"qux"})",
     R"([{"op":"test","path":"/baz","value":"bar"}])", IssueType::kProcessing, "Patch[0].path",
     "test at path \"/baz\" failed: the value differs"},
    {"test a number against a string", R"({"a":1})", R"([{"op":"test","path":"/a","value":"1"}])",
     IssueType::kProcessing, "Patch[0].path", "differs"},
    {"test a string against a number", R"({"a":"1"})", R"([{"op":"test","path":"/a","value":1}])",
     IssueType::kProcessing, "Patch[0].path", "differs"},
    {"test different numbers", R"({"a":1.5})", R"([{"op":"test","path":"/a","value":1.05}])",
     IssueType::kProcessing, "Patch[0].path", "differs"},
    {"test numbers differing in exponent", R"({"a":1e3})", R"([{"op":"test","path":"/a","value":1e4}])",
     IssueType::kProcessing, "Patch[0].path", "differs"},
    {"test numbers differing in sign", R"({"a":1})", R"([{"op":"test","path":"/a","value":-1}])",
     IssueType::kProcessing, "Patch[0].path", "differs"},
    {"test an object with an extra member", R"({"a":{"x":1}})",
     R"([{"op":"test","path":"/a","value":{"x":1,"y":2}}])", IssueType::kProcessing,
     "Patch[0].path", "differs"},
    {"test an array in another order", R"({"a":[1,2]})",
     R"([{"op":"test","path":"/a","value":[2,1]}])", IssueType::kProcessing, "Patch[0].path",
     "differs"},
    {"test null against false", R"({"a":null})", R"([{"op":"test","path":"/a","value":false}])",
     IssueType::kProcessing, "Patch[0].path", "differs"},
    {"a later failure undoes nothing visible: all or nothing", R"({"a":1})",
     R"([{"op":"add","path":"/b","value":2},{"op":"test","path":"/b","value":3}])",
     IssueType::kProcessing, "Patch[1].path", "test at path \"/b\""},
};
// clang-format on

TEST_CASE("ApplyJsonPatch rejects malformed patches and failing operations") {
  for (const ErrorCase& c : kErrorCases) {
    CAPTURE(c.name);
    auto result = ApplyJsonPatch(c.document, c.patch);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().type() == c.type);
    CHECK(result.status().expression() == c.expression);
    CHECK_MESSAGE(result.status().diagnostics().find(c.diagnostics) != std::string::npos,
                  result.status().diagnostics());
  }
}

// `depth` nested arrays: [[[]]] for 3.
std::string Nested(int depth) {
  const auto n = static_cast<std::size_t>(depth);
  return std::string(n, '[') + std::string(n, ']');
}

TEST_CASE("ApplyJsonPatch keeps the result within JsonDocument::kMaxDepth") {
  constexpr int kMax = JsonDocument::kMaxDepth;
  static_assert(kMax > 50);
  // The innermost array of `document` is at kMax - 50 tokens; adding below it with "-" makes
  // the path kMax - 49 tokens long.
  const std::string document = Nested(kMax - 49);
  std::string path;
  for (int i = 0; i < kMax - 50; ++i) path += "/0";
  path += "/-";

  SUBCASE("exactly kMax is fine and re-parses") {
    auto result = ApplyJsonPatch(
        document, R"([{"op":"add","path":")" + path + R"(","value":)" + Nested(49) + "}]");
    REQUIRE_MESSAGE(result.ok(), result.status().ToString());
    JsonDocument reparsed;
    CHECK(reparsed.Parse(*result).ok());
  }
  SUBCASE("one more fails") {
    auto result = ApplyJsonPatch(
        document, R"([{"op":"add","path":")" + path + R"(","value":)" + Nested(50) + "}]");
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().type() == IssueType::kTooCostly);
    CHECK(result.status().expression() == "Patch[0].path");
  }
  SUBCASE("copies cannot nest the document ever deeper") {
    // Each copy of the root into itself adds a level.
    std::string patch = "[";
    for (int i = 0; i < kMax; ++i) patch += R"({"op":"copy","from":"","path":"/a"},)";
    patch.back() = ']';
    auto result = ApplyJsonPatch(R"({"a":1})", patch);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().type() == IssueType::kTooCostly);
  }
  SUBCASE("too deep inputs") {
    auto result = ApplyJsonPatch(Nested(kMax + 1), "[]");
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().type() == IssueType::kTooCostly);
    result = ApplyJsonPatch("{}", R"([{"op":"add","path":"/a","value":)" + Nested(kMax) + "}]");
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().type() == IssueType::kTooCostly);
    CHECK(result.status().expression() == "Patch");
  }
}

TEST_CASE("ApplyJsonPatch budgets copies") {
  // Copying the root into a new member of itself doubles the document: 2^40 bytes after 30.
  std::string patch = "[";
  for (int i = 0; i < 30; ++i) {
    patch += R"({"op":"copy","from":"","path":"/k)" + std::to_string(i) + R"("},)";
  }
  patch.back() = ']';
  auto result = ApplyJsonPatch(R"({"a":")" + std::string(1000, 'x') + R"("})", patch);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().type() == IssueType::kTooCostly);
  CHECK(result.status().diagnostics().find("copy operations") != std::string::npos);

  // A few copies of a big member are fine.
  const std::string big = R"({"a":")" + std::string(200000, 'x') + R"("})";
  result = ApplyJsonPatch(big, R"([{"op":"copy","from":"/a","path":"/b"},)"
                               R"({"op":"copy","from":"/a","path":"/c"}])");
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  CHECK(result->size() == 3 * 200000 + 22);
}

#ifdef FHIR_SHARED_DIR
// Writes `v` as compact JSON, numbers as their source text.
void WriteJson(const JsonValue& v, rapidjson::Writer<rapidjson::StringBuffer>& out) {
  switch (v.kind) {
    case JsonValue::Kind::kNull:
      out.Null();
      break;
    case JsonValue::Kind::kFalse:
      out.Bool(false);
      break;
    case JsonValue::Kind::kTrue:
      out.Bool(true);
      break;
    case JsonValue::Kind::kNumber:
      out.RawValue(v.text, v.size, rapidjson::kNumberType);
      break;
    case JsonValue::Kind::kString:
      out.String(v.text, v.size);
      break;
    case JsonValue::Kind::kArray:
      out.StartArray();
      for (const JsonValue& item : v.array()) WriteJson(item, out);
      out.EndArray();
      break;
    case JsonValue::Kind::kObject:
      out.StartObject();
      for (const JsonMember& m : v.object()) {
        out.Key(m.name.data(), static_cast<rapidjson::SizeType>(m.name.size()));
        WriteJson(m.value, out);
      }
      out.EndObject();
      break;
  }
}

std::string ToJson(const JsonValue& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  WriteJson(v, writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

TEST_CASE("ApplyJsonPatch passes the official FHIR JSON Patch tests") {
  const std::filesystem::path file =
      FHIR_SHARED_DIR "/fhir-test-cases/r4/patch/json-patch-tests.json";
  if (!std::filesystem::exists(file)) {
    MESSAGE("skipped: " << file.string() << " is absent");
    return;
  }
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  JsonDocument tests;
  REQUIRE_MESSAGE(tests.Parse(text.str()).ok(), file.string());
  REQUIRE(tests.root().is_array());

  int cases = 0;
  int expected_cases = 0;
  int error_cases = 0;
  int passed = 0;
  for (const JsonValue& test : tests.root().array()) {
    ++cases;
    const JsonValue* comment = test.Find("comment");
    const JsonValue* doc = test.Find("doc");
    const JsonValue* patch = test.Find("patch");
    const JsonValue* expected = test.Find("expected");
    const JsonValue* error = test.Find("error");
    std::string name = comment != nullptr ? std::string(comment->str()) : std::to_string(cases);
    CAPTURE(name);
    REQUIRE(doc != nullptr);
    REQUIRE(patch != nullptr);
    REQUIRE((expected != nullptr) != (error != nullptr));
    auto result = ApplyJsonPatch(ToJson(*doc), ToJson(*patch));
    if (expected != nullptr) {
      ++expected_cases;
      CHECK_MESSAGE(result.ok(), result.status().ToString());
      if (!result.ok()) continue;
      JsonDocument actual;
      REQUIRE(actual.Parse(*result).ok());
      std::string diff = testing::Diff(actual.root(), *expected);
      CHECK_MESSAGE(diff.empty(), diff);
      if (diff.empty()) ++passed;
    } else {
      ++error_cases;
      CHECK_MESSAGE(!result.ok(), "expected an error: " << error->str());
      if (!result.ok()) ++passed;
    }
  }
  MESSAGE(passed << " of " << cases << " official JSON Patch cases passed");
  CHECK(expected_cases == 12);
  CHECK(error_cases == 4);
  CHECK(passed == cases);
}
#else
TEST_CASE("ApplyJsonPatch passes the official FHIR JSON Patch tests") {
  MESSAGE("skipped: FHIR_SHARED_DIR is not defined");
}
#endif

}  // namespace
}  // namespace fhir::json
