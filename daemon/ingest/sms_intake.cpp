#include "ingest/sms_intake.hpp"

#include <utility>

namespace hotline::ingest {

sms_intake::sms_intake(asio::any_io_executor io, pipeline& p, store::store& db,
                       core::metrics& metrics)
    : io_(std::move(io)), pipeline_(p), db_(db), metrics_(metrics) {}

void sms_intake::set_config(std::shared_ptr<const config::config> cfg) {
    cfg_ = std::move(cfg);
}

std::optional<pipeline::refusal> sms_intake::accept(sms_message m, completion done) {
    const config::source_config* src = cfg_ ? cfg_->find_source(m.source) : nullptr;
    if (src == nullptr || src->kind != "sms") {
        asio::post(io_, [done = std::move(done)] {
            done(core::make_error("unknown_source", "no sms source of that name"));
        });
        return std::nullopt;
    }
    // TODO(sms parts, keywords, receipts): parts are submitted as whole SMS for now.
    return pipeline_.submit(sms_report(m, src->sms),
                            [done = std::move(done)](core::result<domain::report_ids> res) {
                                if (!res.ok()) {
                                    done(res.err());
                                    return;
                                }
                                sms_accepted a;
                                a.duplicate = res->duplicate;
                                a.ids = *res;
                                done(a);
                            });
}

}  // namespace hotline::ingest
