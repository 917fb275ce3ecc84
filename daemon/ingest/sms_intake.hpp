// What happens to an SMS a gateway delivered, between the gateway parser and the
// pipeline: a whole SMS becomes a report (ingest/sms_message's sms_report) submitted
// through the pipeline; a part of a concatenated SMS is held durably until all parts are
// in (or the source's parts_timeout), then joined into one report; STOP/START keywords
// from a responder's number are recorded; an enabled receipt is planned with the report.
// Everything runs on the io executor; what must be durable is committed before `done`.
//
// Parts (store::add_sms_part): grouped by a keyed hash of sender, concatenation reference
// and total; the group's first part adds a timer (kind "sms_parts", due parts_timeout
// after it arrived) in the same transaction. The part that completes a group is answered
// once the joined report is committed. The joined text is the parts' texts in part order,
// byte for byte (nothing added or trimmed at a join); a part still missing at the timeout
// shows as `gap_marker` in the text, and details.missing_parts / parts_total say which.
// The joined report's external_id is "sms-parts:<group key>", so a join repeated after a
// crash (the timer, or a repeated last part) is a duplicate: one report, exactly once.
//
// Keywords (sms_keyword_of): the whole message, trimmed, case-insensitive. From a number
// that is a responder's contact on an SMS channel: STOP records an opt-out
// (store::set_sms_opt_out; the dispatcher then fails SMS to that number with "recipient
// opted out (STOP)" and falls through), START removes it; no report. From anyone else a
// keyword is an ordinary report.
//
// Receipts (config::sms_receipt, off by default): planned with the report in its
// transaction (target "reporter", the configured text in the report's language: ru when
// detected Russian, else en), only to a sender_valid number, never for a duplicate, at
// most max_per_day per sender (keyed hash) and UTC day: that counter is in memory (a
// restart forgets it).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.hpp"
#include "core/asio.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "domain/report.hpp"
#include "ingest/pipeline.hpp"
#include "ingest/sms_message.hpp"
#include "ingest/timer_loop.hpp"
#include "store/store.hpp"

namespace hotline::ingest {

class case_service;
class checkin_service;

// What the gateway is told, once the commit is done.
struct sms_accepted {
    bool duplicate{false};   // a message id already stored: nothing new was written
    bool part{false};        // a part was stored; its report comes when all are in
    bool keyword{false};     // a responder's STOP/START: recorded, no report
    domain::report_ids ids;  // of the report (zero for a part still waiting)
};

enum class sms_keyword { none, stop, start };

// STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, ОТПИСКА, СТОП, ОТМЕНА → stop; START,
// UNSTOP, СТАРТ, ПОДПИСКА → start; the whole text, trimmed of white space, in any case.
[[nodiscard]] sms_keyword sms_keyword_of(std::string_view text);

// Where a part missing at the timeout was, in the joined text.
inline constexpr std::string_view gap_marker = "[…]";

// The parts' texts in part order, exactly; `gap_marker` for each of 1..total not in `parts`
// (their numbers go to `missing`).
[[nodiscard]] std::string join_sms_parts(const std::vector<store::sms_part>& parts, unsigned total,
                                         std::vector<unsigned>& missing);

class sms_intake {
public:
    using completion = std::function<void(core::result<sms_accepted>)>;
    // A number's opt-out changed (the dispatcher's list). On the io executor.
    using opt_out_fn = std::function<void(const std::string& number, bool opted_out)>;

    // `db` holds the parts and keyword records; both must outlive the intake.
    sms_intake(asio::any_io_executor io, pipeline& p, store::store& db, core::metrics& metrics);
    sms_intake(const sms_intake&) = delete;
    sms_intake& operator=(const sms_intake&) = delete;

    // The config in force for the next accept(). Call on the io executor.
    void set_config(std::shared_ptr<const config::config> cfg);

    // Registers the "sms_parts" handler with `loop` (before loop.start()) and the time
    // parts_timeout and the receipts' day count from. Without it (tests) parts time out
    // only when something calls parts_timed_out(). Both must outlive the intake.
    void set_timers(timer_loop& loop, const core::clock& clock);
    void set_opt_out_listener(opt_out_fn fn) { opt_out_listener_ = std::move(fn); }
    // Replies of people who were paged (ACK 42, 42a, ПРИНЯЛ, RESOLVE 42, ...: rules/reply)
    // act on cases through `cases`; without it (tests) such a text is an ordinary report.
    // Must outlive the intake.
    void set_cases(case_service& cases) { cases_ = &cases; }
    // Check-ins of enrolled defenders (OK, OK 1234, CHECKIN START 6h, CHECKIN STOP from an
    // enrolled phone: ingest/checkins) go to `checkins`, never to a report; without it such
    // a text is an ordinary report. Must outlive the intake.
    void set_checkins(checkin_service& checkins) { checkins_ = &checkins; }

    // Takes one SMS (or part) of a configured `kind: sms` source. Call on the io executor;
    // `done` runs there once the report (or part) is durable, or with an error (the
    // gateway should retry: answer 5xx). A refusal (rate limit, full queue) comes back at
    // once and `done` is never called, as with pipeline::submit.
    [[nodiscard]] std::optional<pipeline::refusal> accept(sms_message m, completion done);

    // The group's timeout: stores what arrived (the timer handler; tests call it directly).
    void parts_timed_out(const std::string& source, const std::string& group_key, completion done);

private:
    void accept_part(sms_message m, const config::source_config& src, completion done);
    void join(const std::string& source, const std::string& group_key, bool timed_out,
              completion done);
    void keyword(sms_message m, sms_keyword k, const std::string& responder, completion done);
    // A person's (responder's or partner's) SMS contact with this number: target
    // ("responder:alice"), the contact, the language; nullopt for anyone else.
    struct person_contact {
        std::string target;
        domain::contact contact;
        std::string language;
    };
    [[nodiscard]] std::optional<person_contact> person_of(const std::string& number) const;
    [[nodiscard]] std::string responder_of(const std::string& number) const;
    // The person with an SMS contact of this number (config::find_contact_owner).
    [[nodiscard]] std::optional<config::config::contact_owner> sms_owner(
        const std::string& number) const;
    // The receipt to plan with a report from `sender`, if any; reserves one of the day's.
    [[nodiscard]] std::vector<domain::planned_notification> receipt_for(
        const config::sms_source& cfg, const std::string& sender, bool sender_valid,
        const std::string& language, std::string& reserved);
    void release_receipt(const std::string& reserved);
    [[nodiscard]] std::int64_t now_ms() const;

    asio::any_io_executor io_;
    pipeline& pipeline_;
    store::store& db_;
    core::metrics& metrics_;
    std::shared_ptr<const config::config> cfg_;
    timer_loop* timers_{nullptr};
    const core::clock* clock_{nullptr};
    opt_out_fn opt_out_listener_;
    case_service* cases_{nullptr};
    checkin_service* checkins_{nullptr};
    struct receipt_count {
        std::int64_t day{};
        unsigned sent{};
    };
    std::map<std::string, receipt_count> receipts_;  // by sms_key("receipt", number)
    std::shared_ptr<bool> alive_;
};

}  // namespace hotline::ingest
