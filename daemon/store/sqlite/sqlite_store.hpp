// The SQLite backend of the store interface: a writer thread (writer.hpp) on one
// read-write connection, and a read-only connection for the synchronous reads.
#pragma once
#include <memory>
#include <mutex>

#include "store/sqlite/connection.hpp"
#include "store/sqlite/sealing.hpp"
#include "store/sqlite/writer.hpp"
#include "store/store.hpp"

namespace hotline::store::sqlite {

class sqlite_store final : public store {
public:
    // See store::open for what it does and its error codes.
    [[nodiscard]] static core::result<std::unique_ptr<store>> open(const options& opts);

    sqlite_store(const options& opts, db_lock lock, connection writer, connection reader,
                 core::crypto::key hash_key);
    sqlite_store(const sqlite_store&) = delete;
    sqlite_store& operator=(const sqlite_store&) = delete;
    ~sqlite_store() override;

    using store::ingest;
    void ingest(domain::report r, case_info c, std::vector<planned_notification> planned,
                std::vector<new_timer> timers,
                std::function<void(core::result<ingest_result>)> done) override;
    void record_attempt(std::int64_t notification_id, attempt_result outcome,
                        std::function<void(core::result<attempt_record>)> done) override;
    void due(std::int64_t now_ms, due_query q,
             std::function<void(core::result<std::vector<notification>>)> done) override;
    void next_due(std::function<void(core::result<std::optional<std::int64_t>>)> done) override;
    void get_stats(std::int64_t now_ms, std::function<void(core::result<stats>)> done) override;
    void outbox_stats(std::int64_t now_ms, std::function<void(core::result<stats>)> done) override;

    void case_targets(
        std::int64_t case_id,
        std::function<void(core::result<std::optional<std::vector<std::string>>>)> done) override;
    void get_case(std::int64_t case_id,
                  std::function<void(core::result<std::optional<case_view>>)> done) override;
    void list_cases(case_query q,
                    std::function<void(core::result<std::vector<case_record>>)> done) override;
    void act_on_case(case_action a,
                     std::function<void(core::result<case_action_result>)> done) override;
    void fire_timer(timer_firing f, std::function<void(core::result<firing_result>)> done) override;
    void find_group_case(
        std::string group_key, std::int64_t now_ms,
        std::function<void(core::result<std::optional<std::int64_t>>)> done) override;
    void load_cursor(std::string source,
                     std::function<void(core::result<std::optional<std::string>>)> done) override;
    void save_cursor(std::string source, std::string value,
                     std::function<void(core::status)> done) override;
    void known_dedup_keys(
        std::string source, std::vector<std::string> keys,
        std::function<void(core::result<std::vector<std::string>>)> done) override;

    void add_timers(std::vector<new_timer> timers,
                    std::function<void(core::result<std::vector<std::int64_t>>)> done) override;
    void claim_due_timers(std::int64_t now_ms, std::string owner, std::int64_t lease_ms,
                          std::size_t limit,
                          std::function<void(core::result<std::vector<timer>>)> done) override;
    void complete_timer(std::int64_t id, std::string owner,
                        std::function<void(core::result<timer_completion>)> done) override;
    void cancel_timers(std::string subject, std::string kind,
                       std::function<void(core::result<std::int64_t>)> done) override;
    void next_timer_due(
        std::function<void(core::result<std::optional<std::int64_t>>)> done) override;

    std::string sms_key(std::string_view purpose, std::string_view value) const override;
    void add_sms_part(new_sms_part p,
                      std::function<void(core::result<sms_part_added>)> done) override;
    void take_sms_parts(std::string source, std::string group_key,
                        std::function<void(core::result<std::vector<sms_part>>)> done) override;
    void delete_sms_parts(std::string source, std::string group_key,
                          std::function<void(core::result<std::int64_t>)> done) override;
    void set_sms_opt_out(std::string number, std::string responder,
                         std::function<void(core::result<bool>)> done) override;
    void clear_sms_opt_out(std::string number, std::string responder,
                           std::function<void(core::result<bool>)> done) override;
    void list_sms_opt_outs(
        std::function<void(core::result<std::vector<sms_opt_out>>)> done) override;
    void add_silence(new_silence s, std::function<void(core::result<silence>)> done) override;
    void list_silences(bool include_expired,
                       std::function<void(core::result<std::vector<silence>>)> done) override;
    void expire_silence(std::int64_t id, std::string by,
                        std::function<void(core::result<silence_expiry>)> done) override;
    void change_checkin(checkin_change c,
                        std::function<void(core::result<checkin_result>)> done) override;
    void list_checkins(std::function<void(core::result<std::vector<checkin_state>>)> done) override;

    void purge_contents(purge_batch batch,
                        std::function<void(core::result<purge_progress>)> done) override;

    core::result<std::vector<notification>> notifications_for_report(
        std::int64_t report_id) override;
    core::result<std::optional<domain::report>> load_report(std::int64_t report_id) override;
    core::result<std::vector<domain::attachment>> attachments_for_report(
        std::int64_t report_id) override;

    bool writable() const override { return writer_.writable(); }
    std::chrono::steady_clock::time_point writer_heartbeat() const override {
        return writer_.heartbeat();
    }
    void close() override { writer_.close(); }

    // Runs `body` on the writer's connection, in a batch like any operation. For tests that
    // check how the writer's connection is set up (PRAGMA synchronous, journal_mode).
    template <class T>
    void run_on_writer(std::function<core::result<T>(connection&)> body,
                       std::function<void(core::result<T>)> done) {
        enqueue<T>(std::move(body), std::move(done));
    }

private:
    template <class T, class Body>
    void enqueue(Body body, std::function<void(core::result<T>)> done) {
        writer_.submit(std::make_unique<typed_operation<T>>(std::move(body), std::move(done),
                                                            opts_.completions));
    }

    [[nodiscard]] std::int64_t now_ms() const;

    core::result<ingest_result> do_ingest(connection& db, const domain::report& r,
                                          const case_info& c,
                                          const std::vector<planned_notification>& planned,
                                          const std::vector<new_timer>& timers);
    core::result<attempt_record> do_record_attempt(connection& db, std::int64_t id,
                                                   const attempt_result& outcome);
    core::result<std::optional<case_view>> do_get_case(connection& db, std::int64_t id);
    core::result<case_action_result> do_act(connection& db, const case_action& a);
    core::result<firing_result> do_fire(connection& db, const timer_firing& f);
    static core::result<stats> do_stats(connection& db, std::int64_t now);
    static core::result<stats> do_outbox(connection& db, std::int64_t now);

    options opts_;

    db_lock lock_;  // held while open: keeps a rekey (or a second daemon) out

    sealer sealer_;
    core::crypto::key hash_key_;  // sms_key's (store/sqlite/sms.hpp)

    std::mutex read_mu_;
    connection reader_;  // read-only, for the synchronous reads

    writer writer_;  // last: its thread starts after everything it uses exists
};

}  // namespace hotline::store::sqlite
