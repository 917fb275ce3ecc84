// ingest::sms_intake over a real (sealed) SQLite store and the real pipeline: concatenated
// parts in every order, repeats, the timeout with a missing part (through the timer loop),
// exact joins; STOP/START keywords from responders and from anyone else; receipts and
// their limits.
#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/asio.hpp"
#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "core/metrics.hpp"
#include "ingest/pipeline.hpp"
#include "ingest/sms_intake.hpp"
#include "ingest/timer_loop.hpp"
#include "store/store.hpp"
#include "store_test_support.hpp"

using namespace hotline;
using namespace std::chrono_literals;
using ingest::sms_keyword;
using ingest::sms_keyword_of;

namespace {

using store::testing::temp_dir;

std::shared_ptr<const config::config> make_config(bool receipts = false, unsigned per_day = 1,
                                                  core::duration parts_timeout = 2min) {
    auto cfg = std::make_shared<config::config>();
    config::channel_config sms;
    sms.name = "sms-out";
    sms.type = "kannel";
    cfg->channels.push_back(sms);
    config::channel_config hook;
    hook.name = "hook";
    hook.type = "webhook";
    cfg->channels.push_back(hook);
    domain::person alice;
    alice.id = "alice";
    alice.contacts.push_back(domain::contact{"sms-out", "+79001112233", {}});
    alice.contacts.push_back(domain::contact{"hook", "http://127.0.0.1:1/a", {}});
    cfg->responders.push_back(alice);
    domain::person carol;  // her number is on a webhook channel only: not an SMS contact
    carol.id = "carol";
    carol.contacts.push_back(domain::contact{"hook", "+79005556677", {}});
    cfg->responders.push_back(carol);
    cfg->route.name = "root";
    cfg->route.severity = "normal";
    cfg->route.notify.push_back(domain::target{domain::target::kind::responder, "alice", {}});
    config::source_config src;
    src.name = "sms";
    src.kind = "sms";
    src.sms.gateway = "vonage";
    src.sms.parts_timeout = parts_timeout;
    src.sms.receipt.enabled = receipts;
    src.sms.receipt.channel = "sms-out";
    src.sms.receipt.text = {{"en", "Received. Stay safe."}, {"ru", "Получено. Берегите себя."}};
    src.sms.receipt.max_per_day = per_day;
    cfg->sources.push_back(src);
    return cfg;
}

ingest::sms_message whole(const std::string& id, const std::string& text,
                          const std::string& sender = "+79007654321") {
    ingest::sms_message m;
    m.source = "sms";
    m.gateway = "vonage";
    m.message_id = id;
    m.sender = sender;
    m.sender_valid = true;
    m.recipient = "+79990000000";
    m.country = "RU";
    m.text = text;
    m.received_at = 1'764'061'200'000;
    return m;
}

ingest::sms_message part(unsigned n, unsigned total, const std::string& text,
                         const std::string& ref = "a1",
                         const std::string& sender = "+79007654321") {
    auto m = whole("p" + ref + std::to_string(n), text, sender);
    m.part = {ref, total, n};
    m.received_at += n;
    return m;
}

struct fixture {
    explicit fixture(std::shared_ptr<const config::config> cfg = make_config()) {
        store::options opts;
        opts.path = (dir.path / "hotline.db").string();
        opts.keys = std::make_shared<core::crypto::keyring>(core::crypto::key::generate());
        auto opened = store::store::open(opts);
        REQUIRE(opened.ok());
        db = std::move(*opened);
        pipe.emplace(io.get_executor(), metrics, ingest::pipeline::commit_to(*db),
                     [this](std::vector<domain::notification> jobs) {
                         for (auto& j : jobs) {
                             enqueued.push_back(std::move(j));
                         }
                     });
        pipe->set_config(cfg);
        loop.emplace(io.get_executor(), *db, clock, "test-owner");
        intake.emplace(io.get_executor(), *pipe, *db, metrics);
        intake->set_config(cfg);
        intake->set_timers(*loop, clock);
        intake->set_opt_out_listener(
            [this](const std::string& number, bool out) { opt_events.emplace_back(number, out); });
    }
    ~fixture() {
        loop.reset();
        intake.reset();
        pipe.reset();
        db->close();
    }
    fixture(const fixture&) = delete;
    fixture& operator=(const fixture&) = delete;

    template <class Pred>
    void run_until(Pred done, int rounds = 500) {
        io.restart();
        for (int i = 0; i < rounds && !done(); ++i) {
            io.run_one_for(10ms);
        }
    }

    core::result<ingest::sms_accepted> accept(ingest::sms_message m) {
        std::optional<core::result<ingest::sms_accepted>> out;
        const auto refused = intake->accept(
            std::move(m), [&](core::result<ingest::sms_accepted> r) { out.emplace(std::move(r)); });
        REQUIRE_FALSE(refused.has_value());
        run_until([&] { return out.has_value(); });
        REQUIRE(out.has_value());
        return std::move(*out);
    }

    std::vector<domain::report> reports() {
        std::vector<domain::report> out;
        for (std::int64_t id = 1; id < 100; ++id) {
            auto r = db->load_report(id);
            REQUIRE(r.ok());
            if (!r->has_value()) {
                break;
            }
            out.push_back(std::move(**r));
        }
        return out;
    }

    std::vector<store::sms_opt_out> opt_outs() {
        auto r = store::testing::wait_for<std::vector<store::sms_opt_out>>(
            [&](auto done) { db->list_sms_opt_outs(std::move(done)); });
        REQUIRE(r.ok());
        return *r;
    }

    temp_dir dir;
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
    core::system_clock clock;
    core::metrics metrics;
    std::unique_ptr<store::store> db;
    std::optional<ingest::pipeline> pipe;
    std::optional<ingest::timer_loop> loop;
    std::optional<ingest::sms_intake> intake;
    std::vector<domain::notification> enqueued;
    std::vector<std::pair<std::string, bool>> opt_events;
};

}  // namespace

TEST_CASE("sms keywords: EN and RU, any case, trimmed, the whole message only") {
    CHECK(sms_keyword_of("STOP") == sms_keyword::stop);
    CHECK(sms_keyword_of("stop") == sms_keyword::stop);
    CHECK(sms_keyword_of("  Stop\r\n") == sms_keyword::stop);
    for (const char* w : {"STOPALL", "unsubscribe", "Cancel", "END", "quit", "ОТПИСКА", "стоп",
                          "Стоп", "отмена", "ОтМеНа"}) {
        CHECK_MESSAGE(sms_keyword_of(w) == sms_keyword::stop, w);
    }
    for (const char* w : {"START", "unstop", "СТАРТ", "старт", "Подписка", " start "}) {
        CHECK_MESSAGE(sms_keyword_of(w) == sms_keyword::start, w);
    }
    for (const char* w : {"stop the car", "STOP!", "please stop", "стоп машина", "", "  ",
                          "S T O P", "stops", "starts", "ПОДПИСКА НА", "\xff\xfe"}) {
        CHECK_MESSAGE(sms_keyword_of(w) == sms_keyword::none, w);
    }
}

TEST_CASE("join_sms_parts: exact bytes at the joins, a gap marker where a part is missing") {
    std::vector<store::sms_part> parts{{1, 3, "Hello ", "a", 1, "{}"},
                                       {2, 3, " world", "b", 2, "{}"},
                                       {3, 3, "! \n", "c", 3, "{}"}};
    std::vector<unsigned> missing;
    CHECK(ingest::join_sms_parts(parts, 3, missing) == "Hello  world! \n");
    CHECK(missing.empty());
    parts.erase(parts.begin() + 1);
    CHECK(ingest::join_sms_parts(parts, 3, missing) == "Hello […]! \n");
    CHECK(missing == std::vector<unsigned>{2});
    missing.clear();
    CHECK(ingest::join_sms_parts({}, 2, missing) == "[…][…]");
    CHECK(missing == std::vector<unsigned>{1, 2});
}

TEST_CASE("sms parts: 3-part message in every order becomes one report, repeats are no-ops") {
    const std::vector<std::vector<unsigned>> orders{{1, 2, 3}, {3, 1, 2}, {2, 3, 1},
                                                    {3, 2, 1}, {1, 3, 2}, {2, 1, 3}};
    const std::array<std::string, 3> texts{"Задержали у метро ", " трёх человек,",
                                           " нужна помощь "};
    for (const auto& order : orders) {
        fixture f;
        for (std::size_t i = 0; i < order.size(); ++i) {
            const unsigned n = order[i];
            auto r = f.accept(part(n, 3, texts[n - 1]));
            REQUIRE(r.ok());
            if (i + 1 < order.size()) {
                CHECK(r->part);
                CHECK(r->ids.report_id == 0);
                CHECK(f.reports().empty());
                // A repeat of a held part: success, nothing new.
                auto again = f.accept(part(n, 3, "other"));
                REQUIRE(again.ok());
                CHECK(again->part);
                CHECK(again->duplicate);
            } else {
                CHECK_FALSE(r->part);
                CHECK(r->ids.report_id > 0);
            }
        }
        auto stored = f.reports();
        REQUIRE(stored.size() == 1);
        CHECK(stored[0].text == texts[0] + texts[1] + texts[2]);
        CHECK(stored[0].sender == "+79007654321");
        CHECK(stored[0].source_kind == "sms");
        CHECK(stored[0].details.value("parts_total", 0) == 3);
        CHECK_FALSE(stored[0].details.contains("missing_parts"));
        CHECK(stored[0].details["message_ids"].size() == 3);
        CHECK(f.enqueued.size() == 1);
        // A repeated last part after the join: success, no second report.
        auto late = f.accept(part(order.back(), 3, texts[order.back() - 1]));
        REQUIRE(late.ok());
        CHECK(f.reports().size() == 1);
    }
}

TEST_CASE("sms parts: groups are apart by sender, reference and total") {
    fixture f;
    REQUIRE(f.accept(part(1, 2, "a", "r1", "+79000000001")).ok());
    REQUIRE(f.accept(part(1, 2, "b", "r1", "+79000000002")).ok());
    REQUIRE(f.accept(part(1, 2, "c", "r2", "+79000000001")).ok());
    REQUIRE(f.accept(part(1, 3, "d", "r1", "+79000000001")).ok());
    CHECK(f.reports().empty());
    auto done = f.accept(part(2, 2, "B", "r1", "+79000000002"));
    REQUIRE(done.ok());
    auto stored = f.reports();
    REQUIRE(stored.size() == 1);
    CHECK(stored[0].text == "bB");
}

TEST_CASE("sms parts: after parts_timeout what arrived is stored once, with the gap noted") {
    fixture f(make_config(false, 1, 300ms));
    f.loop->start();
    REQUIRE(f.accept(part(3, 3, "three")).ok());
    REQUIRE(f.accept(part(1, 3, "one ")).ok());
    f.run_until([&] { return !f.reports().empty(); }, 300);
    auto stored = f.reports();
    REQUIRE(stored.size() == 1);
    CHECK(stored[0].text == "one […]three");
    CHECK(stored[0].details["missing_parts"] == nlohmann::json::array({2}));
    CHECK(stored[0].details.value("parts_total", 0) == 3);
    // The timer fired once and is done: nothing more fires.
    f.run_until([&] { return f.loop->running() == 0; }, 50);
    // The missing part arriving late joins the same group: the same report, a duplicate.
    REQUIRE(f.accept(part(2, 3, "two")).ok());
    f.run_until([] { return false; }, 60);  // past another timeout
    CHECK(f.reports().size() == 1);
}

TEST_CASE("sms parts: a timeout after all parts are in is a duplicate of the joined report") {
    fixture f;
    REQUIRE(f.accept(part(1, 2, "x")).ok());
    REQUIRE(f.accept(part(2, 2, "y")).ok());
    std::optional<core::result<ingest::sms_accepted>> out;
    const auto group = f.db->sms_key("parts", "+79007654321\na1\n2");
    f.intake->parts_timed_out("sms", group,
                              [&](core::result<ingest::sms_accepted> r) { out.emplace(r); });
    f.run_until([&] { return out.has_value(); });
    REQUIRE(out.has_value());
    REQUIRE(out->ok());
    CHECK((*out)->duplicate);
    CHECK(f.reports().size() == 1);
}

TEST_CASE("sms keywords: STOP/START from a responder's SMS number are recorded, not reports") {
    fixture f;
    auto stop = f.accept(whole("k1", " Stop ", "+79001112233"));
    REQUIRE(stop.ok());
    CHECK(stop->keyword);
    CHECK(f.reports().empty());
    auto outs = f.opt_outs();
    REQUIRE(outs.size() == 1);
    CHECK(outs[0].responder == "alice");
    CHECK(outs[0].number == "+79001112233");
    REQUIRE(f.opt_events.size() == 1);
    CHECK(f.opt_events[0] == std::pair<std::string, bool>{"+79001112233", true});
    auto start = f.accept(whole("k2", "СТАРТ", "+79001112233"));
    REQUIRE(start.ok());
    CHECK(start->keyword);
    CHECK(f.opt_outs().empty());
    REQUIRE(f.opt_events.size() == 2);
    CHECK_FALSE(f.opt_events[1].second);
}

TEST_CASE("sms keywords: from anyone else, or junk around them, they are ordinary reports") {
    fixture f;
    // An unknown number.
    auto a = f.accept(whole("u1", "STOP"));
    REQUIRE(a.ok());
    CHECK_FALSE(a->keyword);
    // Carol's number is a webhook contact, not an SMS one.
    auto b = f.accept(whole("u2", "STOP", "+79005556677"));
    REQUIRE(b.ok());
    CHECK_FALSE(b->keyword);
    // Alice's number, but not a keyword.
    auto c = f.accept(whole("u3", "stop the car", "+79001112233"));
    REQUIRE(c.ok());
    CHECK_FALSE(c->keyword);
    CHECK(f.reports().size() == 3);
    CHECK(f.opt_outs().empty());
}

namespace {

std::vector<domain::notification> receipts_of(fixture& f, std::int64_t report_id) {
    auto rows = f.db->notifications_for_report(report_id);
    REQUIRE(rows.ok());
    std::vector<domain::notification> out;
    for (auto& n : *rows) {
        if (n.target == "reporter") {
            out.push_back(std::move(n));
        }
    }
    return out;
}

}  // namespace

TEST_CASE("sms receipts: off by default") {
    fixture f;
    auto r = f.accept(whole("r1", "Help"));
    REQUIRE(r.ok());
    CHECK(receipts_of(f, r->ids.report_id).empty());
}

TEST_CASE("sms receipts: planned with the report in its language, no report text, per day") {
    fixture f(make_config(true, 2));
    auto ru = f.accept(whole("r1", "Нас задержали у метро, нужна помощь адвоката"));
    REQUIRE(ru.ok());
    auto first = receipts_of(f, ru->ids.report_id);
    REQUIRE(first.size() == 1);
    CHECK(first[0].channel == "sms-out");
    CHECK(first[0].address == "+79007654321");
    CHECK(first[0].language == "ru");
    CHECK(first[0].payload.value("kind", "") == "receipt");
    CHECK(first[0].payload.value("text", "") == "Получено. Берегите себя.");
    CHECK(first[0].payload.dump().find("задержали") == std::string::npos);
    // A duplicate gets none and does not count.
    auto dup = f.accept(whole("r1", "Нас задержали у метро, нужна помощь адвоката"));
    REQUIRE(dup.ok());
    CHECK(dup->duplicate);
    auto en = f.accept(whole("r2", "They took my phone at the border crossing today"));
    REQUIRE(en.ok());
    auto second = receipts_of(f, en->ids.report_id);
    REQUIRE(second.size() == 1);
    CHECK(second[0].language == "en");
    CHECK(second[0].payload.value("text", "") == "Received. Stay safe.");
    // max_per_day 2: the third report of the day from this sender gets none.
    auto third = f.accept(whole("r3", "Again"));
    REQUIRE(third.ok());
    CHECK(receipts_of(f, third->ids.report_id).empty());
    // Another sender has their own count.
    auto other = f.accept(whole("r4", "Hello", "+79001234000"));
    REQUIRE(other.ok());
    CHECK(receipts_of(f, other->ids.report_id).size() == 1);
}

TEST_CASE("sms receipts: never to a number that failed the check; a joined report gets one") {
    fixture f(make_config(true, 5));
    auto m = whole("r1", "Help");
    m.sender = "12345";
    m.sender_valid = false;
    auto bad = f.accept(m);
    REQUIRE(bad.ok());
    CHECK(receipts_of(f, bad->ids.report_id).empty());
    // Parts: none until the report exists, then one.
    auto p1 = f.accept(part(1, 2, "Help "));
    REQUIRE(p1.ok());
    CHECK(f.enqueued.size() == 1);  // only the first report's alert so far
    auto p2 = f.accept(part(2, 2, "us"));
    REQUIRE(p2.ok());
    CHECK(receipts_of(f, p2->ids.report_id).size() == 1);
}
