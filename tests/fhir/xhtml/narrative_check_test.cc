// The XHTML of narratives (fhir/xhtml/narrative_check.h): txt-1, txt-2 and well-formedness.

#include "fhir/xhtml/narrative_check.h"

#include <optional>
#include <string>

#include <doctest/doctest.h>

namespace fhir::xhtml {
namespace {

const std::string kOpen = R"(<div xmlns="http://www.w3.org/1999/xhtml">)";

// The problem with <div xmlns=XHTML>`inner`</div>, as "rule: text" or "malformed: text";
// "" when there is none.
std::string Problem(const std::string& inner) {
  std::optional<NarrativeProblem> problem = CheckNarrative(kOpen + inner + "</div>");
  if (!problem) return "";
  return (problem->rule ? "rule: " : "malformed: ") + problem->text;
}

TEST_CASE("narratives: what txt-1 and txt-2 allow") {
  CHECK(Problem("Hello") == "");
  CHECK(Problem(R"(<p xml:lang="en" style="color: red" class="c">a &amp; b &#160; &lt;</p>)") ==
        "");
  CHECK(Problem(R"(<table border="1"><caption>c</caption><tbody><tr><th scope="col">h</th>)"
                R"(<td colspan="2" rowspan="1">d</td></tr></tbody></table>)") == "");
  CHECK(Problem(R"(<ul><li><a href="http://example.org/x" title="t">link</a></li></ul>)") == "");
  CHECK(Problem(R"(<img src="data:image/png;base64,AAAA" alt=""/>)") == "");  // content: an image
  CHECK(Problem(R"(<a name="anchor">x</a><br/><hr/><pre>  code  </pre>)") == "");
}

TEST_CASE("narratives: what txt-1 and txt-2 refuse, and malformed XHTML") {
  CHECK(Problem("<script>alert(1)</script>") ==
        "rule: element <script> is not allowed in a narrative (txt-1)");
  CHECK(Problem("<form><input/></form>") ==
        "rule: element <form> is not allowed in a narrative (txt-1)");
  CHECK(Problem(R"~(<p onmouseover="x()">x</p>)~") ==
        "rule: attribute 'onmouseover' of <p> is not allowed in a narrative (txt-1)");
  CHECK(Problem("<a href=\"\tjava\nscript:x()\">x</a>") ==
        "rule: attribute 'href' of <a> must not be a script URL (txt-1)");
  CHECK(Problem(R"(<img src="VBScript:x" alt="x"/>)") ==
        "rule: attribute 'src' of <img> must not be a script URL (txt-1)");
  CHECK(Problem(R"(<m:math xmlns:m="http://www.w3.org/1998/Math/MathML"/>x)") ==
        "rule: element <math> is not in the XHTML namespace (txt-1)");
  CHECK(Problem("<?php echo 1; ?>x") == "rule: processing instructions are not allowed (txt-1)");
  CHECK(Problem(" \n\t<p> </p> ") ==
        "rule: the narrative has no content other than whitespace (txt-2)");

  CHECK(Problem("a&nbsp;b") ==
        "malformed: the narrative is not well-formed XHTML: undefined entity (line 1, column 44)");
  CHECK(Problem("<p>x") ==
        "malformed: the narrative is not well-formed XHTML: mismatched tag (line 1, column 49)");
  std::optional<NarrativeProblem> bare = CheckNarrative("<div>x</div>");
  REQUIRE(bare);
  CHECK_FALSE(bare->rule);
  CHECK(bare->text ==
        "the narrative must be a <div> in the XHTML namespace (http://www.w3.org/1999/xhtml)");
  std::optional<NarrativeProblem> entities = CheckNarrative(
      R"(<!DOCTYPE div [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>)" + kOpen +
      "&b;</div>");
  REQUIRE(entities);
  CHECK(entities->text == "a narrative must not have a DOCTYPE");
  std::optional<NarrativeProblem> two = CheckNarrative(kOpen + "x</div>" + kOpen + "y</div>");
  REQUIRE(two);
  CHECK(two->text ==
        "the narrative is not well-formed XHTML: junk after document element (line 1, column 50)");
  CHECK(CheckNarrative("")->text.find("not well-formed") != std::string::npos);
}

}  // namespace
}  // namespace fhir::xhtml
