/* libhotline_faults.so: an LD_PRELOAD shim that injects storage faults into a running
 * process, for the system tests of issue 7 (tests/faults/README.md says how to use it).
 *
 * It intercepts fsync, fdatasync, write, pwrite and pwrite64 on files whose path starts
 * with $HOTLINE_FAULTS_PREFIX and does what the control file $HOTLINE_FAULTS_CTL says. The
 * test rewrites that file while the process runs; the shim notices within a millisecond
 * (it stats the file at most once per millisecond, and compares mtime and size).
 *
 * Control file: whitespace-separated words, all optional ("none" or an empty file: no
 * faults):
 *   fsync=eio      fsync/fdatasync fail with EIO (nothing is synced)
 *   fsync=stall    fsync/fdatasync block until the word goes away, then sync
 *   write=eio      write/pwrite fail with EIO
 *   write=enospc   write/pwrite fail with ENOSPC
 *   powerloss      after each successful sync of a file under the prefix, copy the file to
 *                  $HOTLINE_FAULTS_SHADOW/<name>; after each sync of a directory, mark the
 *                  files then in it as linked ($HOTLINE_FAULTS_SHADOW/<name>.linked) and
 *                  forget those gone from it. What is in the shadow directory is what a
 *                  power cut would have left.
 *
 * Without $HOTLINE_FAULTS_CTL the shim does nothing but call through. It never reads or
 * prints file contents; it names the path of the first fault of each kind on stderr. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

enum sync_mode { sync_ok, sync_eio, sync_stall };
enum write_mode { write_ok, write_eio, write_enospc };

typedef int (*sync_fn)(int);
typedef ssize_t (*write_fn)(int, const void*, size_t);
typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);

static sync_fn real_fsync_;
static sync_fn real_fdatasync_;
static write_fn real_write_;
static pwrite_fn real_pwrite_;
static pwrite_fn real_pwrite64_;

static const char* ctl_path_;
static const char* prefix_;
static size_t prefix_len_;
static const char* shadow_;

static atomic_int sync_mode_ = sync_ok;
static atomic_int write_mode_ = write_ok;
static atomic_int powerloss_ = 0;
static atomic_llong next_check_ns_ = 0;
static atomic_int reported_[3];

static pthread_mutex_t ctl_mu_ = PTHREAD_MUTEX_INITIALIZER;
static struct timespec ctl_mtime_;
static off_t ctl_size_ = -1;

/* The copy into the shadow directory is one writer at a time: two threads syncing the
 * same file must not interleave their temporary files. */
static pthread_mutex_t shadow_mu_ = PTHREAD_MUTEX_INITIALIZER;

/* ISO C has no cast from an object pointer to a function pointer (-Wpedantic): copy the
 * bits, as POSIX guarantees they are the same. */
static void next_symbol(const char* name, void* fn, size_t size) {
    void* p = dlsym(RTLD_NEXT, name);
    memcpy(fn, &p, size);
}

static void resolve(void) {
    if (real_write_ == NULL) {
        next_symbol("fsync", &real_fsync_, sizeof real_fsync_);
        next_symbol("fdatasync", &real_fdatasync_, sizeof real_fdatasync_);
        next_symbol("pwrite", &real_pwrite_, sizeof real_pwrite_);
        next_symbol("pwrite64", &real_pwrite64_, sizeof real_pwrite64_);
        next_symbol("write", &real_write_, sizeof real_write_);
    }
}

static void say(const char* what, const char* path) {
    char line[PATH_MAX + 128];
    const int n = snprintf(line, sizeof line, "hotline-faults: %s on %s\n", what, path);
    if (n > 0 && real_write_ != NULL) {
        (void)!real_write_(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void parse_ctl(const char* text) {
    int sync = sync_ok;
    int wr = write_ok;
    int loss = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    char* save = NULL;
    for (char* w = strtok_r(buf, " \t\r\n", &save); w != NULL;
         w = strtok_r(NULL, " \t\r\n", &save)) {
        if (strcmp(w, "none") == 0) {
            continue;
        } else if (strcmp(w, "fsync=eio") == 0) {
            sync = sync_eio;
        } else if (strcmp(w, "fsync=stall") == 0) {
            sync = sync_stall;
        } else if (strcmp(w, "write=eio") == 0) {
            wr = write_eio;
        } else if (strcmp(w, "write=enospc") == 0) {
            wr = write_enospc;
        } else if (strcmp(w, "powerloss") == 0) {
            loss = 1;
        } else {
            say("unknown control word (ignored)", w);
        }
    }
    atomic_store(&sync_mode_, sync);
    atomic_store(&write_mode_, wr);
    atomic_store(&powerloss_, loss);
}

/* Re-reads the control file when it changed; cheap enough for every intercepted call
 * because it stats at most once per millisecond (force: now, for the stall loop). */
static void refresh(int force) {
    if (ctl_path_ == NULL) {
        return;
    }
    const long long now = now_ns();
    if (!force && now < atomic_load(&next_check_ns_)) {
        return;
    }
    atomic_store(&next_check_ns_, now + 1000000LL);
    pthread_mutex_lock(&ctl_mu_);
    struct stat st;
    if (stat(ctl_path_, &st) != 0) {
        if (ctl_size_ != -1) {
            parse_ctl("");
            ctl_size_ = -1;
        }
    } else if (st.st_size != ctl_size_ || st.st_mtim.tv_sec != ctl_mtime_.tv_sec ||
               st.st_mtim.tv_nsec != ctl_mtime_.tv_nsec) {
        char text[512] = {0};
        const int fd = open(ctl_path_, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            const ssize_t n = read(fd, text, sizeof text - 1);
            close(fd);
            text[n > 0 ? n : 0] = '\0';
            parse_ctl(text);
            ctl_size_ = st.st_size;
            ctl_mtime_ = st.st_mtim;
        }
    }
    pthread_mutex_unlock(&ctl_mu_);
}

__attribute__((constructor)) static void init(void) {
    resolve();
    ctl_path_ = getenv("HOTLINE_FAULTS_CTL");
    prefix_ = getenv("HOTLINE_FAULTS_PREFIX");
    shadow_ = getenv("HOTLINE_FAULTS_SHADOW");
    if (prefix_ == NULL || prefix_[0] == '\0') {
        ctl_path_ = NULL; /* no prefix: nothing is ours to break */
    } else {
        prefix_len_ = strlen(prefix_);
    }
    refresh(1);
}

/* The path of fd when it is under the prefix (written into out), else 0. */
static int fd_path_under_prefix(int fd, char* out, size_t size) {
    if (ctl_path_ == NULL) {
        return 0;
    }
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(link, out, size - 1);
    if (n <= 0) {
        return 0;
    }
    out[n] = '\0';
    /* The prefix may name the directory itself ("/x/var/" matches "/x/var"). */
    if (strncmp(out, prefix_, prefix_len_) == 0) {
        return 1;
    }
    const size_t len = (size_t)n;
    return prefix_len_ == len + 1 && prefix_[len] == '/' && strncmp(out, prefix_, len) == 0;
}

/* A path that does not fit is skipped, never cut short. */
static int fits(int n, size_t size) {
    return n >= 0 && (size_t)n < size;
}

static const char* base_name(const char* path) {
    const char* slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

static void copy_to_shadow(const char* path) {
    char target[PATH_MAX];
    char tmp[PATH_MAX];
    if (!fits(snprintf(target, sizeof target, "%s/%s", shadow_, base_name(path)), sizeof target) ||
        !fits(snprintf(tmp, sizeof tmp, "%s/.%s.tmp", shadow_, base_name(path)), sizeof tmp)) {
        return;
    }
    const int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        return;
    }
    const int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out >= 0) {
        struct stat st;
        off_t off = 0;
        int ok = fstat(in, &st) == 0;
        while (ok && off < st.st_size) {
            const ssize_t n = sendfile(out, in, &off, (size_t)(st.st_size - off));
            ok = n > 0;
        }
        close(out);
        /* Renamed into place: a process killed mid-copy leaves the previous synced state,
         * as the sync it was copying for had not returned. */
        if (ok) {
            rename(tmp, target);
        } else {
            unlink(tmp);
        }
    }
    close(in);
}

/* A synced directory is durable as it is now: the files in it are linked, and a file
 * that was linked before but is gone now (SQLite unlinks its rollback journal to commit)
 * is gone for good, its synced copy with it. */
static void sync_directory(const char* dir_path) {
    DIR* dir = opendir(dir_path);
    if (dir == NULL) {
        return;
    }
    for (struct dirent* e = readdir(dir); e != NULL; e = readdir(dir)) {
        char full[PATH_MAX];
        struct stat st;
        if (!fits(snprintf(full, sizeof full, "%s/%s", dir_path, e->d_name), sizeof full) ||
            strncmp(full, prefix_, prefix_len_) != 0 || stat(full, &st) != 0 ||
            !S_ISREG(st.st_mode)) {
            continue;
        }
        char marker[PATH_MAX];
        if (!fits(snprintf(marker, sizeof marker, "%s/%s.linked", shadow_, e->d_name),
                  sizeof marker)) {
            continue;
        }
        const int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
        }
    }
    closedir(dir);
    DIR* shadow = opendir(shadow_);
    if (shadow == NULL) {
        return;
    }
    static const char suffix[] = ".linked";
    const size_t suffix_len = sizeof suffix - 1;
    for (struct dirent* e = readdir(shadow); e != NULL; e = readdir(shadow)) {
        const size_t len = strlen(e->d_name);
        if (len <= suffix_len || strcmp(e->d_name + len - suffix_len, suffix) != 0) {
            continue;
        }
        char full[PATH_MAX];
        char marker[PATH_MAX];
        char copy[PATH_MAX];
        const int name_len = (int)(len - suffix_len);
        struct stat st;
        if (!fits(snprintf(full, sizeof full, "%s/%.*s", dir_path, name_len, e->d_name),
                  sizeof full) ||
            !fits(snprintf(marker, sizeof marker, "%s/%s", shadow_, e->d_name), sizeof marker) ||
            !fits(snprintf(copy, sizeof copy, "%s/%.*s", shadow_, name_len, e->d_name),
                  sizeof copy) ||
            stat(full, &st) == 0) {
            continue;
        }
        unlink(marker);
        unlink(copy);
    }
    closedir(shadow);
}

static void after_sync(int fd, const char* path) {
    if (!atomic_load(&powerloss_) || shadow_ == NULL) {
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return;
    }
    pthread_mutex_lock(&shadow_mu_);
    if (S_ISDIR(st.st_mode)) {
        sync_directory(path);
    } else if (S_ISREG(st.st_mode)) {
        copy_to_shadow(path);
    }
    pthread_mutex_unlock(&shadow_mu_);
}

static int faulty_sync(int fd, sync_fn real) {
    resolve();
    refresh(0);
    char path[PATH_MAX];
    if (!fd_path_under_prefix(fd, path, sizeof path)) {
        return real(fd);
    }
    if (atomic_load(&sync_mode_) == sync_stall) {
        if (!atomic_exchange(&reported_[0], 1)) {
            say("fsync=stall", path);
        }
        while (atomic_load(&sync_mode_) == sync_stall) {
            const struct timespec pause = {0, 5 * 1000 * 1000};
            nanosleep(&pause, NULL);
            refresh(1);
        }
    }
    if (atomic_load(&sync_mode_) == sync_eio) {
        if (!atomic_exchange(&reported_[1], 1)) {
            say("fsync=eio", path);
        }
        errno = EIO;
        return -1;
    }
    const int rc = real(fd);
    if (rc == 0) {
        after_sync(fd, path);
    }
    return rc;
}

/* 0: no fault for this fd now; otherwise the errno to fail with. */
static int write_fault(int fd) {
    refresh(0);
    const int mode = atomic_load(&write_mode_);
    if (mode == write_ok) {
        return 0;
    }
    char path[PATH_MAX];
    if (!fd_path_under_prefix(fd, path, sizeof path)) {
        return 0;
    }
    if (!atomic_exchange(&reported_[2], 1)) {
        say(mode == write_eio ? "write=eio" : "write=enospc", path);
    }
    return mode == write_eio ? EIO : ENOSPC;
}

EXPORT int fsync(int fd) {
    resolve();
    return faulty_sync(fd, real_fsync_);
}

EXPORT int fdatasync(int fd) {
    resolve();
    return faulty_sync(fd, real_fdatasync_);
}

EXPORT ssize_t write(int fd, const void* buf, size_t n) {
    resolve();
    const int err = fd > 2 ? write_fault(fd) : 0;
    if (err != 0) {
        errno = err;
        return -1;
    }
    return real_write_(fd, buf, n);
}

EXPORT ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
    resolve();
    const int err = write_fault(fd);
    if (err != 0) {
        errno = err;
        return -1;
    }
    return real_pwrite_(fd, buf, n, offset);
}

EXPORT ssize_t pwrite64(int fd, const void* buf, size_t n, off_t offset) {
    resolve();
    const int err = write_fault(fd);
    if (err != 0) {
        errno = err;
        return -1;
    }
    return real_pwrite64_(fd, buf, n, offset);
}
