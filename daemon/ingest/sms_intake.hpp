// What happens to an SMS a gateway delivered, between the gateway parser and the
// pipeline: a whole SMS becomes a report (ingest/sms_message's sms_report) submitted
// through the pipeline; a part of a concatenated SMS is held durably until all parts are
// in (or the source's parts_timeout), then joined into one report; STOP/START keywords
// from a responder's number are recorded; an enabled receipt is planned with the report.
// Everything runs on the io executor; what must be durable is committed before `done`.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "config/model.hpp"
#include "core/asio.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "domain/report.hpp"
#include "ingest/pipeline.hpp"
#include "ingest/sms_message.hpp"
#include "store/store.hpp"

namespace hotline::ingest {

// What the gateway is told, once the commit is done.
struct sms_accepted {
    bool duplicate{false};   // a message id already stored: nothing new was written
    bool part{false};        // a part was stored; its report comes when all are in
    domain::report_ids ids;  // of the report (zero for a part still waiting)
};

class sms_intake {
public:
    using completion = std::function<void(core::result<sms_accepted>)>;

    // `db` holds the parts and keyword records; both must outlive the intake.
    sms_intake(asio::any_io_executor io, pipeline& p, store::store& db, core::metrics& metrics);
    sms_intake(const sms_intake&) = delete;
    sms_intake& operator=(const sms_intake&) = delete;

    // The config in force for the next accept(). Call on the io executor.
    void set_config(std::shared_ptr<const config::config> cfg);

    // Takes one SMS (or part) of a configured `kind: sms` source. Call on the io executor;
    // `done` runs there once the report (or part) is durable, or with an error (the
    // gateway should retry: answer 5xx). A refusal (rate limit, full queue) comes back at
    // once and `done` is never called, as with pipeline::submit.
    [[nodiscard]] std::optional<pipeline::refusal> accept(sms_message m, completion done);

private:
    asio::any_io_executor io_;
    pipeline& pipeline_;
    store::store& db_;
    core::metrics& metrics_;
    std::shared_ptr<const config::config> cfg_;
};

}  // namespace hotline::ingest
