// The one path every source's reports take: route (rules::evaluate) -> plan
// (dispatch::plan_report, case_for) -> commit in one transaction -> enqueue the stored
// notifications -> answer the source. Sources (the webhook today; IMAP, SMS gateways,
// acknowledgement replies and missed check-ins next) call submit() and nothing else, so
// each counts and logs the same way.
#pragma once
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "config/model.hpp"
#include "core/asio.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "domain/case.hpp"
#include "domain/notification.hpp"
#include "domain/report.hpp"
#include "store/store.hpp"

namespace hotline::ingest {

class pipeline {
public:
    // What runs when the commit is done, on the io executor. An error is a server-side
    // failure (the store could not commit): the source should ask for a retry.
    using completion = std::function<void(core::result<domain::report_ids>)>;
    // The transaction: store::store::ingest, or a stand-in in tests. `done` may run on any
    // thread; the pipeline posts back to the io executor.
    using commit_fn = std::function<void(
        domain::report, domain::case_info, std::vector<domain::planned_notification>,
        std::function<void(core::result<store::ingest_result>)> done)>;
    // Hands stored notifications to the dispatcher (dispatcher::enqueue). Called on the io
    // executor; kept a function so the pipeline does not depend on the dispatcher class.
    using enqueue_fn = std::function<void(std::vector<domain::notification>)>;

    // Describes the hotline_reports_* counters in `metrics`. `metrics` must outlive the
    // pipeline; the pipeline must outlive the work on `io` it started.
    pipeline(asio::any_io_executor io, core::metrics& metrics, commit_fn commit,
             enqueue_fn enqueue);
    pipeline(const pipeline&) = delete;
    pipeline& operator=(const pipeline&) = delete;

    // A commit_fn that calls db.ingest; `db` must outlive the pipeline.
    [[nodiscard]] static commit_fn commit_to(store::store& db);

    // The config in force for the next submit(); a submit in progress keeps the one it
    // started with. Called on the io executor (startup and reload).
    void set_config(std::shared_ptr<const config::config> cfg);

    // Routes, plans and commits `r`, enqueues its notifications, then calls `done` on the
    // io executor. Never blocks: routing and planning are in-memory, the commit runs on
    // the store's writer. Call on the io executor. Counts hotline_reports_received_total
    // or hotline_reports_duplicate_total by source; logs ids only. If the commit has not
    // completed within server.submit_timeout, `done` gets an error with code "timeout"
    // then; a commit that lands later still enqueues its notifications (and `done` is not
    // called again): the source's retry is then a duplicate.
    void submit(domain::report r, completion done);

    // A report a source refused before submit (bad token, bad JSON, too large): counts
    // hotline_reports_rejected_total by source ("" when unauthenticated) and reason (the
    // API error code). No text of the report reaches a label.
    void rejected(std::string_view source, std::string_view reason);

private:
    struct pending;
    void committed(core::result<store::ingest_result> res, const std::string& source,
                   const std::string& severity, pending& waiting);

    asio::any_io_executor io_;
    core::metrics& metrics_;
    commit_fn commit_;
    enqueue_fn enqueue_;
    std::shared_ptr<const config::config> cfg_;
};

}  // namespace hotline::ingest
