// Cases and their escalation on the io thread (docs/escalation.md): acknowledging,
// resolving, re-opening and annotating a case from any channel (an SMS or email reply,
// the signed link, the API, the CLI), and firing the durable timers that drive a policy
// ("escalation_step": page the next step's targets; "ack_timeout": an acknowledged case
// that nobody resolved opens again and escalation resumes).
//
// Every change is one store transaction (store::act_on_case, store::fire_timer): the state,
// the audit event with its actor and channel, the notices to those already paged
// (policy notify_on), the cancelled and the new timers. The stored notices go to the
// dispatcher once committed. Nothing here blocks: each call is a chain of store operations
// whose completions run on the io executor.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "core/asio.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "domain/notification.hpp"
#include "domain/people.hpp"
#include "rules/route.hpp"
#include "store/store.hpp"

namespace hotline::ingest {

class timer_loop;

// Who acts, and through what.
struct case_actor {
    std::string target;   // "responder:alice", "partner:ngo"; "cli" for an operator's CLI
    std::string channel;  // sms | email | link | api | cli
};

class case_service {
public:
    using enqueue_fn = std::function<void(std::vector<domain::notification>)>;

    // `db`, `clock` and `metrics` must outlive the service. Counts
    // hotline_case_actions_total{action,channel} and hotline_escalation_steps_total.
    case_service(asio::any_io_executor io, store::store& db, const core::clock& clock,
                 core::metrics& metrics, enqueue_fn enqueue);
    ~case_service();
    case_service(const case_service&) = delete;
    case_service& operator=(const case_service&) = delete;

    // The config in force for the next action or firing (startup and reload; io executor).
    void set_config(std::shared_ptr<const config::config> cfg);

    // Registers the "escalation_step" and "ack_timeout" handlers; `timers` must outlive the
    // service. Call before timers.start().
    void attach(timer_loop& timers);

    // The timers and notifications a new case of `policy` starts with: step 1's targets are
    // paged with the report (planned here, in the ingest transaction) and step 2 (or the
    // repeat) is a timer due after step 1's ack_within. Empty when the policy is unknown.
    struct escalation_start {
        std::vector<domain::planned_notification> planned;  // step 1's
        std::vector<store::new_timer> timers;               // the next step's
    };
    [[nodiscard]] static escalation_start start_escalation(const config::config& cfg,
                                                           const std::string& policy,
                                                           const domain::report& r,
                                                           const rules::decision& d,
                                                           std::int64_t now_ms);

    // Acknowledges / resolves / re-opens / annotates case `case_id` as `who`. `once_key`:
    // see store::case_action (the link's token hash). `done` runs on the io executor with
    // the store's result ("not_found", "used", ...).
    void act(store::case_action::kind what, std::int64_t case_id, case_actor who, std::string note,
             std::string once_key,
             std::function<void(core::result<store::case_action_result>)> done);

    // What a reply command (an SMS or email reply of ACK/RESOLVE) came to.
    struct reply_outcome {
        enum class kind {
            acted,         // the case changed state
            unchanged,     // it already was in that state (acknowledged by someone else)
            no_case,       // no such case, or (no number given) no open case of this person
            ambiguous,     // no number given and this person has several open cases
            not_notified,  // the case exists but this person was never notified for it
            failed,        // the store failed
        };
        kind result{kind::failed};
        std::int64_t case_id{0};
    };
    // `what` (acknowledge or resolve) from the person `who.target` through `who.channel`,
    // for `case_id`, or without one for the one open case that person was notified for.
    // Accepted only for a case that person was notified for. When it changes the case and
    // `confirm` names a contact (the SMS number it came from), a short confirmation in
    // `language` is sent there in the same transaction (at most 10 per hour per contact).
    void reply(store::case_action::kind what, std::optional<std::int64_t> case_id, case_actor who,
               domain::contact confirm, std::string language,
               std::function<void(reply_outcome)> done);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace hotline::ingest
