#include "store/sqlite/sqlite_store.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_set>

#include "core/clock.hpp"
#include "store/sqlite/audit.hpp"
#include "store/sqlite/cases.hpp"
#include "store/sqlite/checkins.hpp"
#include "store/sqlite/json_column.hpp"
#include "store/sqlite/outbox.hpp"
#include "store/sqlite/reports.hpp"
#include "store/sqlite/retention.hpp"
#include "store/sqlite/schema.hpp"
#include "store/sqlite/silences.hpp"
#include "store/sqlite/sms.hpp"
#include "store/sqlite/timers.hpp"

namespace hotline::store::sqlite {

namespace {

constexpr std::size_t max_error_length = 500;

std::string clip(std::string s) {
    if (s.size() > max_error_length) {
        s.resize(max_error_length);
        // Do not leave half a UTF-8 sequence at the cut.
        while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) {
            s.pop_back();
        }
        if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0x80) != 0) {
            s.pop_back();
        }
    }
    return s;
}

json id_list(const std::vector<notification>& stored) {
    json ids = json::array();
    for (const auto& n : stored) {
        ids.push_back(n.id);
    }
    return ids;
}

// Reports are sensitive: the database and its -wal/-shm files are private to the service
// user. SQLite creates -wal and -shm with the main file's mode, so creating that one 0600
// covers them; files left by an older run are tightened too.
// chmod by path, never open()+close(): closing any descriptor of a file drops every POSIX
// lock this process holds on it, SQLite's included. Without its lock on the database file
// another process's connection (a tool, `hotlinectl backup`) thinks it is the last one when
// it closes, checkpoints and deletes the -wal under the daemon, and every later commit goes
// to the unlinked file: acknowledged reports lost.
void tighten_sidecars(const std::string& path) {
    for (const char* suffix : {"-wal", "-shm"}) {
        (void)::chmod((path + suffix).c_str(), 0600);
    }
}

core::status make_private(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return core::make_error("readonly",
                                "cannot open database file: " + std::string(std::strerror(errno)));
    }
    (void)::fchmod(fd, 0600);
    ::close(fd);
    tighten_sidecars(path);
    return core::ok();
}

core::status configure(connection& db, bool writer, int busy_timeout_ms) {
    sqlite3_busy_timeout(db.get(), busy_timeout_ms);
    if (writer) {
        // The first statement that reads the file: a garbage file fails here.
        auto q = db.prepare("PRAGMA journal_mode = WAL");
        if (!q) {
            return q.err();
        }
        auto row = q->step();
        if (!row) {
            return row.err();
        }
        if (!*row || q->text(0) != "wal") {
            return core::make_error("storage", "cannot switch the database to WAL mode");
        }
    }
    // A page cache for the hot index pages of a busy outbox (SQLite's default: 2 MiB). Not
    // bigger: a connection's cache fills with every page it touches and never shrinks, so
    // 64 MiB grew the daemon by ~2 KiB per report stored (issue 11: 104 MiB after 41k
    // reports); a page the cache lacks is one pread from the kernel's page cache. 4 and
    // 8 MiB measured the same throughput (bench/peer); 4 keeps the peak near 35 MiB.
    if (auto s = db.exec("PRAGMA cache_size = -4096"); !s) {
        return s;
    }
    // Checkpoints run inside a commit on the writer thread; fewer, larger ones write each
    // hot page once instead of once per 1000 WAL frames. The WAL grows to ~40 MiB.
    if (auto s = db.exec("PRAGMA wal_autocheckpoint = 10000"); !s) {
        return s;
    }
    if (auto s = db.exec("PRAGMA synchronous = FULL"); !s) {
        return s;
    }
    return db.exec("PRAGMA foreign_keys = ON");
}

core::error with_path(core::error e, const std::string& path) {
    e.context = path;
    if (e.code == "corrupt") {
        e.message = "not a hotline database, or corrupt: " + e.message;
    }
    return e;
}

// Results are built on the writer thread and freed on the callers' threads, so each batch
// grows the writer's malloc arena and the frees shrink it again; glibc trims an arena as
// soon as 128 KiB are free at its top (madvise, then page faults to grow back, and TLB
// shootdowns across every CPU the daemon's threads ran on). Measured with 64 submitters:
// 1.5k -> 4.6k ingests/s. Process-wide, once; a daemon keeps up to 32 MiB per arena.
void keep_freed_memory() {
    static std::once_flag once;
    std::call_once(once, [] { (void)::mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024); });
}

}  // namespace

core::result<std::unique_ptr<store>> sqlite_store::open(const options& opts) {
    if (opts.path.empty() || opts.path == ":memory:" || opts.path.starts_with("file:")) {
        return core::make_error("config", "storage.path must name a database file");
    }
    if (!opts.keys && !opts.unsealed_for_tests) {
        return core::make_error("key", "no storage key: the store seals what it keeps", opts.path);
    }
    keep_freed_memory();
    const std::filesystem::path path(opts.path);
    if (path.has_parent_path()) {
        std::error_code ec;
        std::filesystem::create_directories(path.parent_path(), ec);
        if (ec) {
            return core::make_error("readonly", "cannot create directory: " + ec.message(),
                                    path.parent_path().string());
        }
    }
    if (auto p = make_private(opts.path); !p) {
        return with_path(p.err(), opts.path);
    }
    auto lock = db_lock::acquire(opts.path);
    if (!lock) {
        return lock.err();
    }
    auto writer = connection::open(
        opts.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
    if (!writer) {
        return with_path(writer.err(), opts.path);
    }
    if (auto c = configure(*writer, true, opts.busy_timeout_ms); !c) {
        return with_path(c.err(), opts.path);
    }
    const sealer check(opts.keys);
    // Before any migration writes: a key that does not open the existing rows changes nothing.
    // Closing the last connection would checkpoint the WAL into the file: not on a refusal.
    sqlite3_db_config(writer->get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    if (auto k = check_key(*writer, check); !k) {
        return with_path(k.err(), opts.path);
    }
    sqlite3_db_config(writer->get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, nullptr);
    if (auto m = migrate(*writer); !m) {
        return with_path(m.err(), opts.path);
    }
    if (auto s = seal_existing(*writer, check); !s) {
        return with_path(s.err(), opts.path);
    }
    auto hash_key = load_hash_key(*writer, check);
    if (!hash_key) {
        return with_path(hash_key.err(), opts.path);
    }
    tighten_sidecars(opts.path);  // -wal/-shm exist now; see tighten_sidecars for why no open
    auto reader = connection::open(opts.path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    if (!reader) {
        return with_path(reader.err(), opts.path);
    }
    if (auto c = configure(*reader, false, opts.busy_timeout_ms); !c) {
        return with_path(c.err(), opts.path);
    }
    return std::unique_ptr<store>(std::make_unique<sqlite_store>(
        opts, std::move(*lock), std::move(*writer), std::move(*reader), std::move(*hash_key)));
}

sqlite_store::sqlite_store(const options& opts, db_lock lock, connection writer, connection reader,
                           core::crypto::key hash_key)
    : opts_(opts),
      lock_(std::move(lock)),
      sealer_(opts.keys, opts.metrics),
      hash_key_(std::move(hash_key)),
      reader_(std::move(reader)),
      writer_(std::move(writer), opts.max_batch, opts.metrics) {
    sealer_.describe_metrics();
}

sqlite_store::~sqlite_store() {
    close();
}

std::int64_t sqlite_store::now_ms() const {
    if (opts_.clock != nullptr) {
        return opts_.clock->now_ms();
    }
    return core::system_clock{}.now_ms();
}

void sqlite_store::ingest(domain::report r, case_info c, std::vector<planned_notification> planned,
                          std::vector<new_timer> timers,
                          std::function<void(core::result<ingest_result>)> done) {
    enqueue<ingest_result>([this, r = std::move(r), c = std::move(c), planned = std::move(planned),
                            timers = std::move(timers)](
                               connection& db) { return do_ingest(db, r, c, planned, timers); },
                           std::move(done));
}

void sqlite_store::record_attempt(std::int64_t notification_id, attempt_result outcome,
                                  std::function<void(core::result<attempt_record>)> done) {
    enqueue<attempt_record>(
        [this, notification_id, outcome = std::move(outcome)](connection& db) {
            return do_record_attempt(db, notification_id, outcome);
        },
        std::move(done));
}

void sqlite_store::due(std::int64_t now_ms, due_query q,
                       std::function<void(core::result<std::vector<notification>>)> done) {
    due_selection sel;
    sel.channel = std::move(q.channel);
    sel.skip_channels.insert(q.skip_channels.begin(), q.skip_channels.end());
    sel.limit = q.limit;
    sel.exclude.insert(q.exclude.begin(), q.exclude.end());
    enqueue<std::vector<notification>>(
        [this, now_ms, sel = std::move(sel)](connection& db) {
            return select_due(db, sealer_, now_ms, sel);
        },
        std::move(done));
}

void sqlite_store::next_due(std::function<void(core::result<std::optional<std::int64_t>>)> done) {
    enqueue<std::optional<std::int64_t>>([](connection& db) { return sqlite::next_due(db); },
                                         std::move(done));
}

void sqlite_store::get_stats(std::int64_t now_ms, std::function<void(core::result<stats>)> done) {
    enqueue<stats>([now_ms](connection& db) { return do_stats(db, now_ms); }, std::move(done));
}

void sqlite_store::outbox_stats(std::int64_t now_ms,
                                std::function<void(core::result<stats>)> done) {
    enqueue<stats>([now_ms](connection& db) { return do_outbox(db, now_ms); }, std::move(done));
}

void sqlite_store::purge_contents(purge_batch batch,
                                  std::function<void(core::result<purge_progress>)> done) {
    enqueue<purge_progress>(
        [this, batch](connection& db) { return sqlite::purge_batch_of(db, batch, now_ms()); },
        std::move(done));
}

void sqlite_store::add_timers(std::vector<new_timer> timers,
                              std::function<void(core::result<std::vector<std::int64_t>>)> done) {
    enqueue<std::vector<std::int64_t>>(
        [this, timers = std::move(timers)](connection& db) {
            return insert_timers(db, timers, {}, now_ms());
        },
        std::move(done));
}

void sqlite_store::claim_due_timers(std::int64_t now_ms, std::string owner, std::int64_t lease_ms,
                                    std::size_t limit,
                                    std::function<void(core::result<std::vector<timer>>)> done) {
    enqueue<std::vector<timer>>(
        [now_ms, owner = std::move(owner), lease_ms, limit](connection& db) {
            return claim_timers(db, now_ms, owner, lease_ms, limit);
        },
        std::move(done));
}

void sqlite_store::complete_timer(std::int64_t id, std::string owner,
                                  std::function<void(core::result<timer_completion>)> done) {
    enqueue<timer_completion>(
        [this, id, owner = std::move(owner)](connection& db) {
            return sqlite::complete_timer(db, id, owner, now_ms());
        },
        std::move(done));
}

void sqlite_store::cancel_timers(std::string subject, std::string kind,
                                 std::function<void(core::result<std::int64_t>)> done) {
    enqueue<std::int64_t>(
        [this, subject = std::move(subject), kind = std::move(kind)](connection& db) {
            return sqlite::cancel_timers(db, subject, kind, now_ms());
        },
        std::move(done));
}

void sqlite_store::next_timer_due(
    std::function<void(core::result<std::optional<std::int64_t>>)> done) {
    enqueue<std::optional<std::int64_t>>([](connection& db) { return sqlite::next_timer_due(db); },
                                         std::move(done));
}

std::string sqlite_store::sms_key(std::string_view purpose, std::string_view value) const {
    return sms_hash(hash_key_, purpose, value);
}

void sqlite_store::add_sms_part(new_sms_part p,
                                std::function<void(core::result<sms_part_added>)> done) {
    enqueue<sms_part_added>(
        [this, p = std::move(p)](connection& db) {
            return insert_sms_part(db, sealer_, p, now_ms());
        },
        std::move(done));
}

void sqlite_store::take_sms_parts(std::string source, std::string group_key,
                                  std::function<void(core::result<std::vector<sms_part>>)> done) {
    enqueue<std::vector<sms_part>>(
        [this, source = std::move(source), group_key = std::move(group_key)](connection& db) {
            return select_sms_parts(db, sealer_, source, group_key);
        },
        std::move(done));
}

void sqlite_store::delete_sms_parts(std::string source, std::string group_key,
                                    std::function<void(core::result<std::int64_t>)> done) {
    enqueue<std::int64_t>(
        [this, source = std::move(source), group_key = std::move(group_key)](connection& db) {
            return remove_sms_parts(db, source, group_key, now_ms());
        },
        std::move(done));
}

void sqlite_store::set_sms_opt_out(std::string number, std::string responder,
                                   std::function<void(core::result<bool>)> done) {
    enqueue<bool>(
        [this, key = sms_key("optout", number), number = std::move(number),
         responder = std::move(responder)](connection& db) {
            return set_opt_out(db, sealer_, key, number, responder, now_ms());
        },
        std::move(done));
}

void sqlite_store::clear_sms_opt_out(std::string number, std::string responder,
                                     std::function<void(core::result<bool>)> done) {
    enqueue<bool>([this, key = sms_key("optout", number), responder = std::move(responder)](
                      connection& db) { return clear_opt_out(db, key, responder, now_ms()); },
                  std::move(done));
}

void sqlite_store::list_sms_opt_outs(
    std::function<void(core::result<std::vector<sms_opt_out>>)> done) {
    enqueue<std::vector<sms_opt_out>>(
        [this](connection& db) { return select_opt_outs(db, sealer_); }, std::move(done));
}

void sqlite_store::add_silence(new_silence s, std::function<void(core::result<silence>)> done) {
    enqueue<silence>([this, s = std::move(s)](
                         connection& db) { return insert_silence(db, sealer_, s, now_ms()); },
                     std::move(done));
}

void sqlite_store::change_checkin(checkin_change c,
                                  std::function<void(core::result<checkin_result>)> done) {
    enqueue<checkin_result>(
        [this, c = std::move(c)](connection& db) { return apply_checkin(db, c, now_ms()); },
        std::move(done));
}

void sqlite_store::list_checkins(
    std::function<void(core::result<std::vector<checkin_state>>)> done) {
    enqueue<std::vector<checkin_state>>([](connection& db) { return select_checkins(db); },
                                        std::move(done));
}

void sqlite_store::list_silences(bool include_expired,
                                 std::function<void(core::result<std::vector<silence>>)> done) {
    enqueue<std::vector<silence>>(
        [this, include_expired](connection& db) {
            return select_silences(db, sealer_, include_expired, now_ms());
        },
        std::move(done));
}

void sqlite_store::expire_silence(std::int64_t id, std::string by,
                                  std::function<void(core::result<silence_expiry>)> done) {
    enqueue<silence_expiry>(
        [this, id, by = std::move(by)](connection& db) {
            return update_silence_expired(db, sealer_, id, by, now_ms());
        },
        std::move(done));
}

void sqlite_store::get_case(std::int64_t case_id,
                            std::function<void(core::result<std::optional<case_view>>)> done) {
    enqueue<std::optional<case_view>>(
        [this, case_id](connection& db) { return do_get_case(db, case_id); }, std::move(done));
}

void sqlite_store::list_cases(case_query q,
                              std::function<void(core::result<std::vector<case_record>>)> done) {
    enqueue<std::vector<case_record>>(
        [q = std::move(q)](connection& db) { return sqlite::list_cases(db, q); }, std::move(done));
}

void sqlite_store::act_on_case(case_action a,
                               std::function<void(core::result<case_action_result>)> done) {
    enqueue<case_action_result>([this, a = std::move(a)](connection& db) { return do_act(db, a); },
                                std::move(done));
}

void sqlite_store::fire_timer(timer_firing f,
                              std::function<void(core::result<firing_result>)> done) {
    enqueue<firing_result>([this, f = std::move(f)](connection& db) { return do_fire(db, f); },
                           std::move(done));
}

void sqlite_store::find_group_case(
    std::string group_key, std::int64_t now_ms,
    std::function<void(core::result<std::optional<std::int64_t>>)> done) {
    enqueue<std::optional<std::int64_t>>(
        [group_key = std::move(group_key), now_ms](connection& db) {
            return sqlite::find_group_case(db, group_key, now_ms);
        },
        std::move(done));
}

void sqlite_store::case_targets(
    std::int64_t case_id,
    std::function<void(core::result<std::optional<std::vector<std::string>>>)> done) {
    enqueue<std::optional<std::vector<std::string>>>(
        [case_id](connection& db) { return sqlite::case_targets(db, case_id); }, std::move(done));
}

void sqlite_store::load_cursor(std::string source,
                               std::function<void(core::result<std::optional<std::string>>)> done) {
    enqueue<std::optional<std::string>>(
        [source = std::move(source)](connection& db) { return sqlite::load_cursor(db, source); },
        std::move(done));
}

void sqlite_store::save_cursor(std::string source, std::string value,
                               std::function<void(core::status)> done) {
    enqueue<core::ok_t>(
        [this, source = std::move(source), value = std::move(value)](connection& db) {
            return sqlite::save_cursor(db, source, value, now_ms());
        },
        std::move(done));
}

void sqlite_store::known_dedup_keys(
    std::string source, std::vector<std::string> keys,
    std::function<void(core::result<std::vector<std::string>>)> done) {
    enqueue<std::vector<std::string>>(
        [source = std::move(source), keys = std::move(keys)](connection& db) {
            return sqlite::known_dedup_keys(db, source, keys);
        },
        std::move(done));
}

core::result<std::vector<notification>> sqlite_store::notifications_for_report(
    std::int64_t report_id) {
    const std::lock_guard lock(read_mu_);
    return sqlite::notifications_for_report(reader_, sealer_, report_id);
}

core::result<std::optional<domain::report>> sqlite_store::load_report(std::int64_t report_id) {
    const std::lock_guard lock(read_mu_);
    return sqlite::load_report(reader_, sealer_, report_id);
}

core::result<std::vector<domain::attachment>> sqlite_store::attachments_for_report(
    std::int64_t report_id) {
    const std::lock_guard lock(read_mu_);
    return sqlite::load_attachments(reader_, sealer_, report_id);
}

core::result<ingest_result> sqlite_store::do_ingest(
    connection& db, const domain::report& r, const case_info& c,
    const std::vector<planned_notification>& planned, const std::vector<new_timer>& timers) {
    const auto now = now_ms();
    const auto received_at = r.received_at > 0 ? r.received_at : now;
    ingest_result out;
    // Only a report that names a case pays for the look-up.
    std::int64_t join_case = 0;
    if (r.case_id > 0) {
        auto exists = case_exists(db, r.case_id);
        if (!exists) {
            return exists.err();
        }
        join_case = *exists ? r.case_id : 0;
    } else if (!c.group_key.empty()) {
        // The pipeline looked for the group's case before planning; one opened since (a
        // report of the same group committed in between) takes this one too. Its planned
        // alerts still go out; its escalation does not start a second time.
        auto grouped = sqlite::find_group_case(db, c.group_key, received_at);
        if (!grouped) {
            return grouped.err();
        }
        join_case = grouped->value_or(0);
    }
    const bool late_join = join_case > 0 && r.case_id == 0;
    auto inserted = insert_report(db, sealer_, r, received_at, join_case);
    if (!inserted) {
        return inserted.err();
    }
    if (inserted->id == 0) {
        auto existing = find_duplicate(db, r);
        if (!existing) {
            return existing.err();
        }
        out.ids = *existing;
        return out;
    }
    out.ids.report_id = inserted->id;
    out.ids.case_id = inserted->case_id;
    out.ids.joined = join_case > 0;
    if (!out.ids.joined) {
        auto case_id = insert_case(db, inserted->case_id, out.ids.report_id, c, now);
        if (!case_id) {
            return case_id.err();
        }
    }
    if (auto files = insert_attachments(db, sealer_, out.ids.report_id, r.attachments); !files) {
        return files.err();
    }
    auto stored = insert_notifications(db, sealer_, out.ids.report_id, out.ids.case_id, planned,
                                       received_at, now);
    if (!stored) {
        return stored.err();
    }
    out.notifications = std::move(*stored);
    auto timer_ids = insert_timers(db, late_join ? std::vector<new_timer>{} : timers,
                                   "case:" + std::to_string(out.ids.case_id), now);
    if (!timer_ids) {
        return timer_ids.err();
    }
    out.timer_ids = std::move(*timer_ids);
    audit_event e;
    e.at = now;
    e.actor = "source:" + r.source;
    e.kind = out.ids.joined ? "report_joined" : "report_received";
    e.case_id = out.ids.case_id;
    e.report_id = out.ids.report_id;
    e.detail = {{"source", r.source},
                {"severity", c.severity},
                {"route", c.route},
                {"notification_ids", id_list(out.notifications)}};
    if (const auto it = c.labels.find("silenced_by"); it != c.labels.end()) {
        e.detail["silenced_by"] = *it;  // a silence kept it from paging anyone
    }
    if (auto a = insert_audit_event(db, e); !a) {
        return a.err();
    }
    return out;
}

core::result<std::optional<case_view>> sqlite_store::do_get_case(connection& db, std::int64_t id) {
    auto row = load_case(db, id);
    if (!row) {
        return row.err();
    }
    if (!*row) {
        return std::optional<case_view>{};
    }
    case_view v;
    v.record = (*row)->record;
    v.latest_report_id = (*row)->latest_report_id;
    auto first = sqlite::load_report(db, sealer_, (*row)->first_report_id);
    if (first) {
        v.first_report = std::move(*first);
    }  // unreadable: the case is still shown, without its report
    auto targets = sqlite::case_targets(db, id);
    if (!targets) {
        return targets.err();
    }
    v.targets = targets->value_or(std::vector<std::string>{});
    auto events = case_events(db, sealer_, id);
    if (!events) {
        return events.err();
    }
    v.events = std::move(*events);
    return std::optional<case_view>(std::move(v));
}

namespace {

const char* action_event(case_action::kind k) {
    switch (k) {
        case case_action::kind::acknowledge: return "case_acknowledged";
        case case_action::kind::resolve: return "case_resolved";
        case case_action::kind::reopen: return "case_reopened";
        case case_action::kind::note: return "case_note";
    }
    return "case_note";
}

// The state an action leads to from `from`, or nullopt when it changes nothing.
std::optional<case_state> transition(case_action::kind k, case_state from) {
    switch (k) {
        case case_action::kind::acknowledge:
            return from == case_state::open ? std::optional(case_state::acknowledged)
                                            : std::nullopt;
        case case_action::kind::resolve:
            return from != case_state::resolved ? std::optional(case_state::resolved)
                                                : std::nullopt;
        case case_action::kind::reopen:
            return from != case_state::open ? std::optional(case_state::open) : std::nullopt;
        case case_action::kind::note: return from;
    }
    return std::nullopt;
}

}  // namespace

core::result<case_action_result> sqlite_store::do_act(connection& db, const case_action& a) {
    const auto now = now_ms();
    auto row = load_case(db, a.case_id);
    if (!row) {
        return row.err();
    }
    if (!*row) {
        return core::make_error("not_found", "no case with id " + std::to_string(a.case_id));
    }
    if (!a.once_key.empty()) {
        auto fresh = use_action_key(db, a.once_key, a.case_id, now);
        if (!fresh) {
            return fresh.err();
        }
        if (!*fresh) {
            return core::make_error("used", "this link was used already");
        }
    }
    case_action_result out;
    out.before = (*row)->record.state;
    out.after = out.before;
    const auto to = transition(a.what, out.before);
    if (!to) {
        if (!a.notices_unchanged.empty()) {
            auto answers = insert_notifications(db, sealer_, (*row)->latest_report_id, a.case_id,
                                                a.notices_unchanged, now, now);
            if (!answers) {
                return answers.err();
            }
            out.notices = std::move(*answers);
        }
        return out;
    }
    out.changed = true;
    out.after = *to;
    const std::string subject = "case:" + std::to_string(a.case_id);
    audit_event e;
    e.at = now;
    e.actor = a.actor;
    e.kind = action_event(a.what);
    e.case_id = a.case_id;
    e.detail = {{"channel", a.channel},
                {"from", domain::to_string(out.before)},
                {"to", domain::to_string(out.after)}};
    if (a.what == case_action::kind::note) {
        auto note = insert_case_note(db, sealer_, a.case_id, a.actor, a.channel, a.note, now);
        if (!note) {
            return note.err();
        }
        e.detail["note_id"] = *note;
    } else {
        if (auto set = set_case_state(db, a.case_id, *to, a.actor, now); !set) {
            return set.err();
        }
        // What stops: an acknowledgement stops the escalation; a resolution every timer
        // of the case; a re-open the pending re-open.
        const std::string_view kind = a.what == case_action::kind::acknowledge ? "escalation_step"
                                      : a.what == case_action::kind::reopen    ? "ack_timeout"
                                                                               : "";
        auto cancelled = sqlite::cancel_timers(db, subject, kind, now);
        if (!cancelled) {
            return cancelled.err();
        }
        out.cancelled_timers = *cancelled;
        e.detail["cancelled_timers"] = *cancelled;
        if (!a.note.empty()) {  // a remark with the change ("on my way"), sealed like a note
            auto note = insert_case_note(db, sealer_, a.case_id, a.actor, a.channel, a.note, now);
            if (!note) {
                return note.err();
            }
            e.detail["note_id"] = *note;
        }
    }
    auto stored =
        insert_notifications(db, sealer_, (*row)->latest_report_id, a.case_id, a.notices, now, now);
    if (!stored) {
        return stored.err();
    }
    out.notices = std::move(*stored);
    auto timer_ids = insert_timers(db, a.timers, subject, now);
    if (!timer_ids) {
        return timer_ids.err();
    }
    out.timer_ids = std::move(*timer_ids);
    e.detail["notification_ids"] = id_list(out.notices);
    if (auto w = insert_audit_event(db, e); !w) {
        return w.err();
    }
    return out;
}

core::result<firing_result> sqlite_store::do_fire(connection& db, const timer_firing& f) {
    const auto now = now_ms();
    firing_result out;
    auto completion = sqlite::complete_timer(db, f.timer_id, f.owner, now);
    if (!completion) {
        return completion.err();
    }
    out.completion = *completion;
    if (*completion != timer_completion::fired) {
        return out;
    }
    std::int64_t report_id = 0;
    if (f.case_id > 0) {
        auto row = load_case(db, f.case_id);
        if (!row) {
            return row.err();
        }
        if (!*row || (f.only_if && (*row)->record.state != *f.only_if)) {
            return out;  // settled; the case moved on (or is gone): nothing to do
        }
        report_id = (*row)->latest_report_id;
        if (f.set_state) {
            if (auto set = set_case_state(db, f.case_id, *f.set_state, f.audit_actor, now); !set) {
                return set.err();
            }
        }
    }
    out.applied = true;
    if (!f.planned.empty()) {
        if (report_id == 0) {
            return core::make_error("invalid_argument", "notifications need a case");
        }
        auto stored = insert_notifications(db, sealer_, report_id, f.case_id, f.planned, now, now);
        if (!stored) {
            return stored.err();
        }
        out.notifications = std::move(*stored);
    }
    auto timer_ids =
        insert_timers(db, f.timers, f.case_id > 0 ? "case:" + std::to_string(f.case_id) : "", now);
    if (!timer_ids) {
        return timer_ids.err();
    }
    out.timer_ids = std::move(*timer_ids);
    if (!f.audit_kind.empty()) {
        audit_event e;
        e.at = now;
        e.actor = f.audit_actor;
        e.kind = f.audit_kind;
        e.case_id = f.case_id;
        e.detail = f.audit_detail.is_object() ? f.audit_detail : json::object();
        e.detail["timer_id"] = f.timer_id;
        e.detail["notification_ids"] = id_list(out.notifications);
        if (auto w = insert_audit_event(db, e); !w) {
            return w.err();
        }
    }
    return out;
}

core::result<attempt_record> sqlite_store::do_record_attempt(connection& db, std::int64_t id,
                                                             const attempt_result& outcome) {
    const auto now = now_ms();
    auto found = find_notification(db, id);
    if (!found) {
        return found.err();
    }
    if (!*found) {
        return core::make_error("not_found", "no notification with id " + std::to_string(id));
    }
    const outbox_row& row = **found;
    if (!row.pending) {
        // Already settled, e.g. the attempt is replayed after a restart.
        return attempt_record{};
    }
    const std::int64_t attempts = row.attempts + 1;
    const auto error_text = clip(outcome.detail);
    attempt_record record;
    audit_event e;
    e.at = now;
    e.actor = "dispatcher";
    e.case_id = row.case_id;
    e.report_id = row.report_id;
    e.notification_id = id;
    switch (outcome.outcome) {
        case attempt_result::kind::delivered: {
            if (auto done = mark_delivered(db, id, attempts, outcome.provider_id, now); !done) {
                return done.err();
            }
            e.kind = "notification_delivered";
            e.detail = {{"attempts", attempts}, {"provider_id", outcome.provider_id}};
            e.detail["fields"] = outcome.disclosed;
            break;
        }
        case attempt_result::kind::retry: {
            if (auto done = mark_retry(db, id, attempts, outcome.next_attempt_at, error_text, now);
                !done) {
                return done.err();
            }
            e.kind = "notification_retry";
            e.detail = {{"attempts", attempts},
                        {"next_attempt_at", outcome.next_attempt_at},
                        {"error", error_text}};
            break;
        }
        case attempt_result::kind::failed: {
            if (auto done = mark_failed(db, id, outcome.dead_letter, attempts, error_text, now);
                !done) {
                return done.err();
            }
            // Follow-ups are due at once; the failed job's due time keeps them ahead of
            // newer work and due even when the caller's clock lags ours (tests).
            auto stored =
                insert_notifications(db, sealer_, row.report_id, row.case_id, outcome.follow_ups,
                                     std::min(now, row.next_attempt_at), now);
            if (!stored) {
                return stored.err();
            }
            record.follow_ups = std::move(*stored);
            e.kind = outcome.dead_letter ? "notification_dead" : "notification_failed";
            e.detail = {{"attempts", attempts},
                        {"error", error_text},
                        {"follow_up_ids", id_list(record.follow_ups)}};
            break;
        }
    }
    if (!outcome.sms_encoding.empty()) {
        if (auto done = mark_sms(db, id, outcome.sms_encoding, outcome.sms_segments); !done) {
            return done.err();
        }
        e.detail["sms_encoding"] = outcome.sms_encoding;
        e.detail["sms_segments"] = outcome.sms_segments;
    }
    auto timer_ids = insert_timers(db, outcome.timers, "case:" + std::to_string(row.case_id), now);
    if (!timer_ids) {
        return timer_ids.err();
    }
    record.timer_ids = std::move(*timer_ids);
    if (auto a = insert_audit_event(db, e); !a) {
        return a.err();
    }
    return record;
}

core::result<stats> sqlite_store::do_stats(connection& db, std::int64_t now) {
    stats s;
    auto counts = count_by_status(db);
    if (!counts) {
        return counts.err();
    }
    s.pending = counts->pending;
    s.delivered = counts->delivered;
    s.failed = counts->failed;
    s.dead = counts->dead;
    auto reports = scalar(db, "SELECT COUNT(*) FROM reports");
    if (!reports) {
        return reports.err();
    }
    s.reports = *reports;
    auto cases = scalar(db, "SELECT COUNT(*) FROM cases");
    if (!cases) {
        return cases.err();
    }
    s.cases = *cases;
    auto gauges = read_outbox_gauges(db, now);
    if (!gauges) {
        return gauges.err();
    }
    s.oldest_due_at = gauges->oldest_due_at;
    return s;
}

core::result<stats> sqlite_store::do_outbox(connection& db, std::int64_t now) {
    auto gauges = read_outbox_gauges(db, now);
    if (!gauges) {
        return gauges.err();
    }
    stats s;
    s.pending = gauges->pending;
    s.oldest_due_at = gauges->oldest_due_at;
    return s;
}

}  // namespace hotline::store::sqlite
