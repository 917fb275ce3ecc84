// rules/reply: ACK/RESOLVE/check-in commands in English and Russian, Latin/Cyrillic
// look-alikes, case numbers, junk; the first unquoted line of a mail reply.
#include <doctest/doctest.h>

#include <string>

#include "rules/reply.hpp"

using namespace hotline::rules;
using kind = reply_command::kind;

namespace {

reply_command command(const std::string& text) {
    auto c = parse_reply(text);
    INFO("text: " << text);
    REQUIRE(c.has_value());
    return *c;
}

void check_case(const std::string& text, kind action, std::optional<std::int64_t> id) {
    INFO("text: " << text);
    const auto c = command(text);
    CHECK(c.action == action);
    CHECK(c.case_id == id);
    CHECK(c.pin.empty());
    CHECK(c.duration.empty());
}

void check_none(const std::string& text) {
    INFO("text: " << text);
    CHECK_FALSE(parse_reply(text).has_value());
}

}  // namespace

TEST_CASE("parse_reply: ACK in English, with and without a case number") {
    check_case("ACK", kind::ack, std::nullopt);
    check_case("ack", kind::ack, std::nullopt);
    check_case("Ack 42", kind::ack, 42);
    check_case("ACK #42", kind::ack, 42);
    check_case("42 ack", kind::ack, 42);
    check_case("#42 ACK", kind::ack, 42);
    check_case("42a", kind::ack, 42);
    check_case("42A", kind::ack, 42);
    check_case("42 a", kind::ack, 42);
    check_case("#42a", kind::ack, 42);
    check_case("  ACK 42.  ", kind::ack, 42);
    check_case("ack 42!", kind::ack, 42);
    check_case("ACK,42", kind::ack, 42);
    check_case("ACK\n42\r\n", kind::ack, 42);
    check_case(
        "ACK\xC2\xA0"
        "42",
        kind::ack, 42);  // a no-break space
    check_case(
        "\xEF\xBB\xBF"
        "ACK 42",
        kind::ack, 42);  // a BOM in front
    check_case("ACK 042", kind::ack, 42);
}

TEST_CASE("parse_reply: Russian acknowledgements, before or after the number") {
    check_case("ПРИНЯЛ", kind::ack, std::nullopt);
    check_case("принял 42", kind::ack, 42);
    check_case("Приняла 42", kind::ack, 42);
    check_case("ПРИНЯТО #7", kind::ack, 7);
    check_case("42 ПРИНЯЛ", kind::ack, 42);
    check_case("42 принято!", kind::ack, 42);
    check_case("42а", kind::ack, 42);  // Cyrillic а
    check_case("42 А", kind::ack, 42);
}

TEST_CASE("parse_reply: resolve") {
    check_case("RESOLVE 42", kind::resolve, 42);
    check_case("resolve", kind::resolve, std::nullopt);
    check_case("42r", kind::resolve, 42);
    check_case("42 R", kind::resolve, 42);
    check_case("ЗАКРЫТЬ 42", kind::resolve, 42);
    check_case("закрыто 42", kind::resolve, 42);
    check_case("Решено 42.", kind::resolve, 42);
    check_case("42 решено", kind::resolve, 42);
    // Cyrillic р looks like Latin p, not r: "42р" is not a resolve.
    check_none("42р");
    check_none("42p");
}

TEST_CASE("parse_reply: Latin and Cyrillic look-alikes fold both ways") {
    check_case("АСК 42", kind::ack, 42);          // all three Cyrillic
    check_case("аск 42", kind::ack, 42);          // lower-case Cyrillic
    check_case("AСK 42", kind::ack, 42);          // Latin A, Cyrillic С, Latin K
    check_case("ПPИHЯЛ 42", kind::ack, 42);       // Latin P and H inside the Russian word
    check_case("ЗAKPЫTO 42", kind::resolve, 42);  // Latin A, K, P, T, O in ЗАКРЫТО
    check_case("РЕШЕНО 42", kind::resolve, 42);
    check_case("PEШEHO 42", kind::resolve, 42);     // Latin P, E, H, O
    check_case("ОК", kind::checkin, std::nullopt);  // Cyrillic О and К
    check_case("оk", kind::checkin, std::nullopt);  // Cyrillic о, Latin k
    // The digit 3 is not the letter З, nor 0 the letter О.
    check_none("3AKPЫTO 42");
    check_none("0K");
}

TEST_CASE("parse_reply: case numbers are 1 .. 10^12") {
    check_case("ACK 1", kind::ack, 1);
    check_case("ACK 1000000000000", kind::ack, 1'000'000'000'000);
    check_case("1000000000000a", kind::ack, 1'000'000'000'000);
    check_none("ACK 1000000000001");
    check_none("ACK 0");
    check_none("0a");
    check_none("ACK 00000000000042");  // 14 digits
    check_none("ACK 99999999999999999999999999");
    check_none("ack -1");
    check_none("ACK 4 2");
    check_none("ACK 42x");
    check_none("ACK #");
    check_none("ACK ##42");
}

TEST_CASE("parse_reply: check-ins, PINs") {
    auto c = command("OK");
    CHECK(c.action == kind::checkin);
    CHECK(c.pin.empty());
    CHECK_FALSE(c.case_id);
    CHECK(command("ok 1234").pin == "1234");
    CHECK(command("OK,1234").pin == "1234");
    CHECK(command("ОК 1234").pin == "1234");  // Cyrillic
    CHECK(command("Ok 123.").pin == "123");
    CHECK(command("OK 123456789012").pin == "123456789012");
    CHECK(command("OK 1234").action == kind::checkin);
    check_none("OK 12");  // too short for a PIN, and OK is not an acknowledgement
    check_none("OK 42");
    check_none("OK 1234567890123");
    check_none("OK 12a4");
    check_none("OK 1234 5678");
    check_none("OKAY");
    check_none("OK thanks");
}

TEST_CASE("parse_reply: starting and stopping check-ins") {
    for (const char* text : {"CHECKIN", "checkin", "START CHECKIN", "check-in", "CHECKIN START",
                             "ОТМЕТКИ", "Начать отметки"}) {
        INFO(text);
        const auto c = command(text);
        CHECK(c.action == kind::checkin_start);
        CHECK(c.duration.empty());
        CHECK(c.pin.empty());
    }
    CHECK(command("CHECKIN 6h").duration == "6h");
    CHECK(command("checkin 30m").duration == "30m");
    CHECK(command("START CHECKIN 1d").duration == "1d");
    CHECK(command("CHECKIN START 12H").duration == "12h");
    CHECK(command("checkin 6 h").duration == "6h");
    CHECK(command("ОТМЕТКИ 6ч").duration == "6h");
    CHECK(command("отметки 30м").duration == "30m");
    CHECK(command("НАЧАТЬ ОТМЕТКИ 2д").duration == "2d");
    CHECK(command("начать отметки 2 Д").duration == "2d");
    CHECK(command("отметки 6ч").action == kind::checkin_start);
    check_none("CHECKIN 0h");
    check_none("CHECKIN 00h");
    check_none("CHECKIN 12345h");
    check_none("CHECKIN 6");
    check_none("CHECKIN h");
    check_none("CHECKIN 6w");
    check_none("CHECKIN 6h 30m");
    check_none("CHECKIN -6h");

    for (const char* text :
         {"STOP CHECKIN", "stop check-in", "CHECKIN STOP", "ЗАВЕРШИТЬ ОТМЕТКИ", "отметки стоп"}) {
        INFO(text);
        CHECK(command(text).action == kind::checkin_stop);
    }
    // A bare STOP is the SMS opt-out (ingest/sms_intake), never a check-in command.
    check_none("STOP");
    check_none("СТОП");
    check_none("stop 42");
    check_none("CHECKIN STOP 6h");
}

TEST_CASE("parse_reply: only the whole text is a command") {
    check_none("ack 42 please come");
    check_none("I will ACK 42");
    check_none("принял, выезжаю");
    check_none("OK see you");
    check_none("ACK 42\n\nSent from my iPhone");
}

TEST_CASE("parse_reply: junk is not a command and never a crash") {
    check_none("");
    check_none("   ");
    check_none("...!!!");
    check_none("ACKACK");
    check_none("42ab");
    check_none("42");
    check_none("#42");
    check_none("a");
    check_none("\xF0\x9F\x91\x8D");  // thumbs up
    check_none("ACK \xF0\x9F\x91\x8D");
    check_none(
        "ACK\xFF"
        "42");                 // invalid UTF-8
    check_none("ACK 42\xC3");  // truncated sequence
    check_none(
        "\xC0\xAF"
        "ACK");  // overlong
    check_none(std::string("ACK\0 42", 7));
    check_none(std::string(10 * 1024, 'A'));
    check_none("ACK " + std::string(300, ' ') + "42");  // too long, even if mostly spaces
    check_none(std::string(201, '4') + "a");
}

TEST_CASE("first_unquoted_line: skips quotes and attributions") {
    CHECK(first_unquoted_line("ack\r\n\r\n> [HOTLINE #42] New report\r\n") == "ack");
    CHECK(first_unquoted_line("\n\n   принял  \n") == "принял");
    CHECK(first_unquoted_line("On Mon, 3 Dec 2026 at 10:00, Hotline <h@example.org> wrote:\n"
                              "> alert\n\nACK 42\n") == "ACK 42");
    CHECK(first_unquoted_line("On Mon, 3 Dec 2026 at 10:00, Hotline <\n"
                              "h@example.org> wrote:\n> alert\nresolve\n") == "resolve");
    CHECK(first_unquoted_line("3 дек. 2026 г., в 10:00, Hotline <h@example.org> написал(а):\n"
                              "> тревога\nзакрыть\n") == "закрыть");
    CHECK(first_unquoted_line("Понедельник, 3 декабря 2026, Hotline пишет:\n>> x\n>\nпринял\n") ==
          "принял");
    CHECK(first_unquoted_line("  > quoted with spaces first\nok\n") == "ok");
    CHECK(first_unquoted_line("\xC2\xA0 ack \xC2\xA0\n") == "ack");
    // A body that starts with the original message has no reply line.
    CHECK(first_unquoted_line("-----Original Message-----\nFrom: Hotline\nack\n").empty());
    CHECK(first_unquoted_line("-----Исходное сообщение-----\nОт: Hotline\n").empty());
    CHECK(first_unquoted_line("________________________________\nFrom: Hotline\n").empty());
    CHECK(first_unquoted_line("\n-- \nsignature\n").empty());
    CHECK(first_unquoted_line("").empty());
    CHECK(first_unquoted_line("> only\n> quotes\n").empty());
    // A line that merely starts with "On " is the reply when no attribution follows.
    CHECK(first_unquoted_line("On my way, ack 42\nthanks\n") == "On my way, ack 42");
    CHECK(first_unquoted_line("text before\n-----Original Message-----\n") == "text before");
    CHECK(first_unquoted_line(std::string(100'000, '>') + "\nack") == "ack");
    // What the parser makes of it: the command of an email reply.
    const auto c = parse_reply(first_unquoted_line("Принял 42\n\n> [HOTLINE #42]\n"));
    REQUIRE(c);
    CHECK(c->action == kind::ack);
    CHECK(c->case_id == 42);
}
