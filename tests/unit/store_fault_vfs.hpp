// A fault-injecting SQLite VFS for the store's unit tests: it wraps the default VFS (unix)
// and, while a fault is set, fails every file's xSync (an fsync error) or xWrite (a full
// disk). install() makes it the default, so a store opened afterwards uses it. Process-wide:
// use it in a forked child. (The system tests inject the same faults from outside, with
// the LD_PRELOAD shim in tests/faults/.)
#pragma once
#include <sqlite3.h>

#include <atomic>

namespace hotline::store::testing {

// sync_io_error: every xSync fails; db_sync_io_error: only the database file's (a
// checkpoint's), the WAL's succeed.
enum class vfs_fault { none, sync_io_error, db_sync_io_error, write_full };

class fault_vfs {
public:
    static void install() {
        static const bool installed = [] {
            real_ = sqlite3_vfs_find(nullptr);
            vfs_ = *real_;
            vfs_.zName = "hotline-fault";
            vfs_.szOsFile = static_cast<int>(sizeof(wrapped)) + real_->szOsFile;
            vfs_.xOpen = open;
            return sqlite3_vfs_register(&vfs_, 1) == SQLITE_OK;
        }();
        (void)installed;
    }
    static void set(vfs_fault f) { fault_.store(f); }
    // How many xSync / xWrite calls the fault failed.
    static int injected() { return injected_.load(); }

private:
    struct wrapped {
        sqlite3_file base;
        sqlite3_file* real;
        bool main_db;
    };
    static sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<wrapped*>(f)->real; }

    static int open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags,
                    int* out_flags) {
        auto* w = reinterpret_cast<wrapped*>(file);
        w->real = reinterpret_cast<sqlite3_file*>(w + 1);
        w->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
        const int rc = real_->xOpen(real_, name, w->real, flags, out_flags);
        w->base.pMethods = w->real->pMethods != nullptr ? &methods_ : nullptr;
        return rc;
    }

    static int close(sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); }
    static int read(sqlite3_file* f, void* p, int n, sqlite3_int64 off) {
        return real(f)->pMethods->xRead(real(f), p, n, off);
    }
    static int write(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
        if (fault_.load() == vfs_fault::write_full) {
            injected_.fetch_add(1);
            return SQLITE_FULL;
        }
        return real(f)->pMethods->xWrite(real(f), p, n, off);
    }
    static int truncate(sqlite3_file* f, sqlite3_int64 size) {
        return real(f)->pMethods->xTruncate(real(f), size);
    }
    static int sync(sqlite3_file* f, int flags) {
        const auto fault = fault_.load();
        if (fault == vfs_fault::sync_io_error ||
            (fault == vfs_fault::db_sync_io_error && reinterpret_cast<wrapped*>(f)->main_db)) {
            injected_.fetch_add(1);
            return SQLITE_IOERR_FSYNC;
        }
        return real(f)->pMethods->xSync(real(f), flags);
    }
    static int file_size(sqlite3_file* f, sqlite3_int64* size) {
        return real(f)->pMethods->xFileSize(real(f), size);
    }
    static int lock(sqlite3_file* f, int level) { return real(f)->pMethods->xLock(real(f), level); }
    static int unlock(sqlite3_file* f, int level) {
        return real(f)->pMethods->xUnlock(real(f), level);
    }
    static int check_reserved(sqlite3_file* f, int* out) {
        return real(f)->pMethods->xCheckReservedLock(real(f), out);
    }
    static int file_control(sqlite3_file* f, int op, void* arg) {
        return real(f)->pMethods->xFileControl(real(f), op, arg);
    }
    static int sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
    static int device(sqlite3_file* f) {
        return real(f)->pMethods->xDeviceCharacteristics(real(f));
    }
    static int shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
        return real(f)->pMethods->xShmMap(real(f), page, size, extend, out);
    }
    static int shm_lock(sqlite3_file* f, int offset, int n, int flags) {
        return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
    }
    static void shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
    static int shm_unmap(sqlite3_file* f, int del) {
        return real(f)->pMethods->xShmUnmap(real(f), del);
    }
    static int fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
        return real(f)->pMethods->xFetch(real(f), off, n, out);
    }
    static int unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
        return real(f)->pMethods->xUnfetch(real(f), off, p);
    }

    static inline sqlite3_vfs* real_ = nullptr;
    static inline sqlite3_vfs vfs_{};
    static inline std::atomic<vfs_fault> fault_{vfs_fault::none};
    static inline std::atomic<int> injected_{0};
    static inline const sqlite3_io_methods methods_{
        3,        close,       read,           write,        truncate,    sync,   file_size,
        lock,     unlock,      check_reserved, file_control, sector_size, device, shm_map,
        shm_lock, shm_barrier, shm_unmap,      fetch,        unfetch};
};

}  // namespace hotline::store::testing
