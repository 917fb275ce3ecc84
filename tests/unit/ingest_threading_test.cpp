// ingest/threading: which case an inbound mail names (our Message-IDs, the subject tag),
// against hostile input: huge numbers, nested tags, other prefixes, our format with junk.
#include <doctest/doctest.h>

#include <string>

#include "ingest/mime.hpp"
#include "ingest/threading.hpp"

using namespace hotline::ingest;

namespace {

parsed_mail mail(std::string subject, std::string in_reply_to = {},
                 std::vector<std::string> references = {}) {
    parsed_mail m;
    m.subject = std::move(subject);
    m.in_reply_to = std::move(in_reply_to);
    m.references = std::move(references);
    return m;
}

std::int64_t subject_case(const std::string& subject) {
    return case_of_subject(subject, "HOTLINE");
}

}  // namespace

TEST_CASE("threading: our Message-IDs, alert and case root, with or without brackets") {
    CHECK(case_of_message_id("hotline.c42.n1234.0a1b2c3d@example.org") == 42);
    CHECK(case_of_message_id("<hotline.c42.n1234.0a1b2c3d@example.org>") == 42);
    CHECK(case_of_message_id("hotline.c42@example.org") == 42);
    CHECK(case_of_message_id("<hotline.c7@ngo.example>") == 7);
    CHECK(case_of_message_id("  <hotline.c7@x>\r\n") == 7);
    CHECK(case_of_message_id("hotline.c9223372036854775807@example.org") == 9223372036854775807);
    CHECK(case_of_message_id("hotline.c1.n1.ffffffff@a") == 1);
}

TEST_CASE("threading: Message-IDs that are not ours, or ours with junk, name no case") {
    for (const char* id : {
             "",
             "<>",
             "@",
             "CAF=abc123@mail.gmail.com",
             "hotline-hl-00000000002aabcdef@example.org",  // send-test's form: no case
             "hotline.c@example.org",
             "hotline.c0@example.org",
             "hotline.c-5@example.org",
             "hotline.c+5@example.org",
             "hotline.c 5@example.org",
             "hotline.c42",      // no domain
             "hotline.c42@",     // empty domain
             "hotline.c42@a@b",  // two @
             "hotline.c42@exa mple.org",
             "hotline.c42x@example.org",
             "hotline.c42.@example.org",
             "hotline.c42.n@example.org",
             "hotline.c42.n5@example.org",  // no hash
             "hotline.c42.n5.@example.org",
             "hotline.c42.n5.0a1b2c3@example.org",    // 7 hex
             "hotline.c42.n5.0a1b2c3d4@example.org",  // 9 hex
             "hotline.c42.n5.0A1B2C3D@example.org",   // we write lower case
             "hotline.c42.n5.0a1b2c3g@example.org",
             "hotline.c42.n0.0a1b2c3d@example.org",
             "hotline.c42.nx.0a1b2c3d@example.org",
             "hotline.c42.m5.0a1b2c3d@example.org",
             "hotline.c42.n5.0a1b2c3d.extra@example.org",
             "Hotline.c42@example.org",
             "xhotline.c42@example.org",
             "re.hotline.c42@example.org",
             "hotline.c99999999999999999999@example.org",  // overflows int64
             "hotline.c9223372036854775808@example.org",   // INT64_MAX + 1
             "hotline.c42.n99999999999999999999.0a1b2c3d@example.org",
             "<hotline.c42@example.org",
             "hotline.c42@example.org>",
             "<<hotline.c42@example.org>>",
         }) {
        CAPTURE(id);
        CHECK(case_of_message_id(id) == 0);
    }
}

TEST_CASE("threading: the subject tag, case-insensitive, anywhere, inside reply prefixes") {
    CHECK(subject_case("[HOTLINE #42] Case #42 (high): x") == 42);
    CHECK(subject_case("Re: [HOTLINE #42] Case #42") == 42);
    CHECK(subject_case("RE: Fwd: [hotline #42]") == 42);
    CHECK(subject_case("Отв: [HOTLINE #42] Дело #42") == 42);
    CHECK(subject_case("Fw: AW: Re: [Hotline #42]") == 42);
    CHECK(subject_case("Ответ: см. [HOTLINE #42] ниже") == 42);
    CHECK(subject_case("[HOTLINE  #42]") == 42);  // a doubled blank
    CHECK(subject_case("[HOTLINE\t#42]") == 42);
    CHECK(subject_case("[HOTLINE#42]") == 42);  // typed by hand
    CHECK(subject_case("[HOTLINE #0042]") == 42);
    CHECK(subject_case("x[HOTLINE #9223372036854775807]x") == 9223372036854775807);
    // The first valid tag wins; a broken one before it is skipped.
    CHECK(subject_case("Re: [HOTLINE #42] Fwd: [HOTLINE #7]") == 42);
    CHECK(subject_case("[HOTLINE #99999999999999999999] [HOTLINE #5]") == 5);
    CHECK(subject_case("[HOTLINE #x] [HOTLINE #5]") == 5);
    // Nested: the outer one is garbage, the inner one a tag.
    CHECK(subject_case("[HOTLINE #[HOTLINE #5]]") == 5);
    CHECK(subject_case("[[HOTLINE #5]]") == 5);
    // Another prefix.
    CHECK(case_of_subject("Re: [NGO-2 #17] Re: [HOTLINE #5]", "ngo-2") == 17);
    CHECK(case_of_subject("Re: [NGO-2 #17] Re: [HOTLINE #5]", "HOTLINE") == 5);
}

TEST_CASE("threading: subjects without a valid tag name no case") {
    for (const char* subject : {
             "",
             "Case #42",
             "[hotline] Case #42 (high)",  // the subject of before case tags
             "HOTLINE #42",
             "[HOTLINE 42]",
             "[HOTLINE # 42]",
             "[HOTLINE #42",
             "[HOTLINE #]",
             "[HOTLINE #0]",
             "[HOTLINE #-42]",
             "[HOTLINE #+42]",
             "[HOTLINE #4 2]",
             "[HOTLINE #42a]",
             "[HOTLINE #0x2a]",
             "[HOTLINE #4.2]",
             "[HOTLINE #99999999999999999999]",  // overflow
             "[HOTLINE #9223372036854775808]",   // INT64_MAX + 1
             "[HOTLINEX #42]",
             "[XHOTLINE #42]",
             "[HOT #42]",
             "[ HOTLINE #42]",
             "[OTHER #42]",
             "[HOTLINE-2 #42]",
             "［HOTLINE #42］",  // full-width brackets
             "[НОТLINE #42]",    // Cyrillic Н and О
             "[",
             "[[[[[[[[",
             "[HOTLINE",
             "[HOTLINE ",
             "[HOTLINE #",
         }) {
        CAPTURE(subject);
        CHECK(subject_case(subject) == 0);
    }
    CHECK(case_of_subject("[HOTLINE #42]", "") == 0);
    CHECK(case_of_subject("[ #42]", "") == 0);
    // A long hostile subject: many almost-tags, then a real one.
    std::string hostile;
    for (int i = 0; i < 20000; ++i) {
        hostile += "[HOTLINE #";
    }
    CHECK(subject_case(hostile) == 0);
    CHECK(subject_case(hostile + "[HOTLINE #3]") == 3);
    CHECK(subject_case(hostile + "]") == 0);
    std::string blanks;
    for (int i = 0; i < 2000; ++i) {
        blanks += "[HOTLINE" + std::string(100, ' ');
    }
    CHECK(subject_case(blanks + "x") == 0);
    CHECK(subject_case(blanks + "#7]") == 7);  // the last one, with its blanks
    CHECK(subject_case(blanks + "[HOTLINE #7]") == 7);
}

TEST_CASE("threading: In-Reply-To first, then References from the last, then the subject") {
    const std::string ours42 = "hotline.c42.n10.0a1b2c3d@example.org";
    const std::string ours7 = "hotline.c7.n3.deadbeef@example.org";
    const std::string root9 = "hotline.c9@example.org";
    const std::string theirs = "CAF=abc@mail.gmail.com";
    CHECK(case_reference(mail("[HOTLINE #1]", ours42, {ours7, root9}), "HOTLINE") == 42);
    CHECK(case_reference(mail("[HOTLINE #1]", theirs, {ours7, root9}), "HOTLINE") == 9);
    CHECK(case_reference(mail("[HOTLINE #1]", theirs, {root9, ours7, theirs}), "HOTLINE") == 7);
    CHECK(case_reference(mail("[HOTLINE #1]", "", {theirs, "hotline.c5.n1.zzzzzzzz@x"}),
                         "HOTLINE") == 1);
    CHECK(case_reference(mail("Re: [HOTLINE #1]", theirs, {theirs}), "HOTLINE") == 1);
    CHECK(case_reference(mail("Re: no tag", theirs, {theirs}), "HOTLINE") == 0);
    CHECK(case_reference(mail("Re: [HOTLINE #1]", theirs, {}), "NGO") == 0);
    CHECK(case_reference(mail("", "", {}), "HOTLINE") == 0);
    CHECK(case_reference(parsed_mail{}, "HOTLINE") == 0);
}

TEST_CASE("threading: through the parser, RFC 2047 subjects and real threading headers") {
    const auto parse = [](const std::string& headers) {
        return parse_mail("From: Defender <d@example.net>\r\n" + headers +
                          "Content-Type: text/plain; charset=utf-8\r\n\r\nтекст\r\n");
    };
    // "Отв: [HOTLINE #42] Дело" in KOI8-R.
    CHECK(case_reference(parse("Subject: =?koi8-r?B?79TXOiBbSE9UTElORSAjNDJdIOTFzM8=?=\r\n"),
                         "HOTLINE") == 42);
    // The tag split across two encoded words in two charsets and a fold.
    CHECK(case_reference(parse("Subject: =?utf-8?B?0J7RgtCyOiBbSE9U?=\r\n"
                               " =?windows-1251?B?TElORSAjNDJdIMTl6+4=?=\r\n"),
                         "HOTLINE") == 42);
    // A reply from a mail client: In-Reply-To the alert, References root then alert.
    CHECK(case_reference(parse("Subject: Re: something else\r\n"
                               "In-Reply-To: <hotline.c12.n40.0a1b2c3d@example.org>\r\n"
                               "References: <hotline.c12@example.org>\r\n"
                               " <hotline.c12.n40.0a1b2c3d@example.org>\r\n"),
                         "HOTLINE") == 12);
    // A reply to someone who replied to the alert: In-Reply-To theirs, our ids earlier on.
    CHECK(
        case_reference(parse("Subject: Re: Re: x\r\n"
                             "In-Reply-To: <CAF=abc@mail.gmail.com>\r\n"
                             "References: <hotline.c12@example.org> "
                             "<hotline.c12.n40.0a1b2c3d@example.org> <CAF=abc@mail.gmail.com>\r\n"),
                       "HOTLINE") == 12);
    CHECK(case_reference(parse("Subject: =?utf-8?B?0J/RgNC40LLQtdGC?=\r\n"), "HOTLINE") == 0);
}

TEST_CASE("threading: our own alert coming back is recognised by its Message-ID") {
    parsed_mail m = mail("[HOTLINE #12] Case #12 (high): x");
    CHECK_FALSE(is_own_alert(m));
    m.message_id = "CAF=abc@mail.gmail.com";
    CHECK_FALSE(is_own_alert(m));
    m.message_id = "hotline.c12.n40.0a1b2c3d@example.org";
    CHECK(is_own_alert(m));
    m.message_id = "hotline.c12.n40.0a1b2c3@example.org";  // not quite ours
    CHECK_FALSE(is_own_alert(m));
}
