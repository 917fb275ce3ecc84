#include "store/backup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "store/sqlite/connection.hpp"
#include "store/sqlite/sealing.hpp"

namespace hotline::store {
namespace {

namespace fs = std::filesystem;
using sqlite::connection;

using backup_handle = core::c_handle<sqlite3_backup, sqlite3_backup_finish>;

core::error os_error(const std::string& what, const std::string& path) {
    return core::make_error("storage", what + ": " + std::strerror(errno), path);
}

// The empty file SQLite then fills, created 0600 whatever the umask: it holds sealed
// reports and every address in clear text metadata (ids, times, channels).
core::status create_private(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return os_error("cannot create", path);
    }
    const bool ok = ::fchmod(fd, 0600) == 0;
    ::close(fd);
    return ok ? core::ok() : core::status(os_error("cannot set mode 0600", path));
}

core::status sync_path(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) {
        return os_error("cannot open", path);
    }
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok ? core::ok() : core::status(os_error("fsync failed", path));
}

core::status copy(connection& src, connection& dst) {
    const backup_handle b(sqlite3_backup_init(dst.get(), "main", src.get(), "main"));
    if (!b) {
        return sqlite::make_error(dst.get(), sqlite3_errcode(dst.get()), "backup init");
    }
    // -1: every page in one step, under one read transaction of the source, so a commit by
    // hotlined cannot restart the copy (as it would between smaller steps) and the copy is
    // the database as of one instant.
    for (;;) {
        const int rc = sqlite3_backup_step(b.get(), -1);
        if (rc == SQLITE_DONE) {
            break;
        }
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            ::usleep(10'000);  // the busy handler covers most waits; this is the rest
            continue;
        }
        return sqlite::make_error(dst.get(), rc, "backup step");
    }
    return core::ok();
}

core::result<backup_report> check_copy(connection& dst) {
    auto q = dst.prepare("PRAGMA quick_check");
    if (!q) {
        return q.err();
    }
    auto row = q->step();
    if (!row) {
        return row.err();
    }
    if (!*row || q->text(0) != "ok") {
        return core::make_error("storage", "the copy failed PRAGMA quick_check: " +
                                               (*row ? q->text(0) : std::string("no answer")));
    }
    backup_report out;
    for (auto [sql, field] :
         {std::pair{"PRAGMA page_count", &out.pages},
          std::pair{"SELECT count(*) FROM reports", &out.reports},
          std::pair{"SELECT count(*) FROM notifications", &out.notifications}}) {
        auto n = sqlite::scalar(dst, sql);
        if (!n) {
            return n.err();
        }
        *field = *n;
    }
    auto canary = sqlite::meta(dst, "canary");
    // The canary is version | key id (8 bytes) | nonce | ciphertext (sealing.hpp).
    if (canary && *canary && (*canary)->size() > 9) {
        static constexpr char digits[] = "0123456789abcdef";
        for (std::size_t i = 1; i < 9; ++i) {
            const auto c = static_cast<unsigned char>((**canary)[i]);
            out.key_id += digits[c >> 4U];
            out.key_id += digits[c & 15U];
        }
    }
    return out;
}

}  // namespace

core::result<backup_report> backup(const backup_options& opts) {
    std::error_code ec;
    if (!fs::is_regular_file(opts.path, ec)) {
        return core::make_error("not_found", "no database here", opts.path);
    }
    if (fs::exists(opts.to, ec) || fs::is_symlink(opts.to, ec)) {
        return core::make_error("exists", "the backup file exists already; choose a new name",
                                opts.to);
    }
    const std::string partial = opts.to + ".partial";
    fs::remove(partial, ec);  // left by an interrupted run
    // Read-write without CREATE: a read-only connection cannot always open a WAL database
    // (it needs the -shm), and without CREATE a wrong path is an error, not a new file.
    auto src = connection::open(opts.path, SQLITE_OPEN_READWRITE);
    if (!src) {
        return src.err();
    }
    sqlite3_busy_timeout(src->get(), opts.busy_timeout_ms);
    if (auto made = create_private(partial); !made) {
        return made.err();
    }
    auto result = [&]() -> core::result<backup_report> {
        auto dst = connection::open(partial, SQLITE_OPEN_READWRITE);
        if (!dst) {
            return dst.err();
        }
        if (auto copied = copy(*src, *dst); !copied) {
            return copied.err();
        }
        // One self-contained file: no -wal beside it to forget when it is moved.
        if (auto mode = dst->exec("PRAGMA journal_mode = DELETE"); !mode) {
            return mode.err();
        }
        auto checked = check_copy(*dst);
        if (checked) {
            checked->bytes = static_cast<std::int64_t>(fs::file_size(partial, ec));
        }
        return checked;
    }();
    if (result) {
        if (auto synced = sync_path(partial, O_RDONLY); !synced) {
            result = synced.err();
        }
    }
    if (result && ::rename(partial.c_str(), opts.to.c_str()) != 0) {
        result = os_error("cannot rename the copy into place", opts.to);
    }
    if (!result) {
        fs::remove(partial, ec);
        return result;
    }
    const auto dir = fs::absolute(opts.to, ec).parent_path().string();
    if (auto synced = sync_path(dir, O_RDONLY | O_DIRECTORY); !synced) {
        return synced.err();
    }
    return result;
}

}  // namespace hotline::store
