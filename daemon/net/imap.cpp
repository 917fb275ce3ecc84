// The IMAP session on libetpan. libetpan parses and builds the protocol; the bytes travel
// through our own mailstream_low driver (class link below), not libetpan's socket and SSL
// drivers, for three reasons found in libetpan 1.9.4 as Debian builds it (GnuTLS):
//  - its GnuTLS driver never verifies the server's certificate, and its
//    mailstream_ssl_set_server_certicate is "not implemented" there;
//  - its timeouts are whole seconds and cover one read, not one command;
//  - its cancel hook cannot wait on our interrupter's eventfd.
// The link polls the socket and the interrupter together, under one deadline per call, and
// remembers why a read or write failed, so a libetpan MAILIMAP_ERROR_STREAM can be told
// apart as "timeout", "interrupted", "closed" or "tls".
#include "net/imap.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <libetpan/libetpan.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>

#include "core/c_handle.hpp"
#include "net/imap_wire.hpp"

namespace hotline::net::imap {
namespace {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

using imap_handle = core::c_handle<mailimap, mailimap_free>;
using set_handle = core::c_handle<mailimap_set, mailimap_set_free>;
using fetch_type_handle = core::c_handle<mailimap_fetch_type, mailimap_fetch_type_free>;
using search_key_handle = core::c_handle<mailimap_search_key, mailimap_search_key_free>;
using store_handle = core::c_handle<mailimap_store_att_flags, mailimap_store_att_flags_free>;
using flag_list_handle = core::c_handle<mailimap_flag_list, mailimap_flag_list_free>;
using fetch_list_handle = core::c_handle<clist, mailimap_fetch_list_free>;
using search_list_handle = core::c_handle<clist, mailimap_search_result_free>;
using list_result_handle = core::c_handle<clist, mailimap_list_result_free>;
using mmap_handle = core::c_handle<MMAPString, mmap_string_free>;
using addrinfo_handle = core::c_handle<addrinfo, freeaddrinfo>;
using tls_session_handle = core::c_handle<gnutls_session_int, gnutls_deinit>;
using tls_credentials_handle =
    core::c_handle<gnutls_certificate_credentials_st, gnutls_certificate_free_credentials>;

class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) : fd_(fd) {}
    ~unique_fd() { reset(); }
    unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    [[nodiscard]] int get() const noexcept { return fd_; }
    void reset() noexcept {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

private:
    int fd_{-1};
};

// Why the link's last read, write or wait failed.
enum class failure { none, timeout, interrupted, closed, tls };

bool fd_readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
}

int poll_ms(steady::time_point until) {
    const auto left = std::chrono::ceil<milliseconds>(until - steady::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 24LL * 3600 * 1000));
}

// One TCP connection, plain or TLS, whose every wait is bounded by a deadline and wakes on
// the interrupter. libetpan reads and writes it through the driver table at the bottom.
class link {
public:
    explicit link(int stop_fd) : stop_fd_(stop_fd) {}
    ~link() { close(); }
    link(const link&) = delete;
    link& operator=(const link&) = delete;

    // A new deadline for the next call; with `progressive`, each read that brings bytes
    // moves it `bound` past that read (a long FETCH is bounded by silence, not by size).
    void arm(milliseconds bound, bool progressive = false) {
        bound_ = bound;
        progressive_ = progressive;
        deadline_ = steady::now() + bound;
        failure_ = failure::none;
    }
    [[nodiscard]] failure last_failure() const noexcept { return failure_; }
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    // TLS records already decrypted but not read yet: poll() on the socket would not see them.
    [[nodiscard]] bool pending() const {
        return tls_ != nullptr && gnutls_record_check_pending(tls_.get()) > 0;
    }

    [[nodiscard]] core::status connect(const std::string& host, std::uint16_t port);
    [[nodiscard]] core::status start_tls(const std::string& host, const std::string& ca_file);

    // Waits for the socket to become readable until `until` (not the call's deadline):
    // IDLE's wait. true: readable; false: see last_failure() (timeout when `until` passed).
    [[nodiscard]] bool wait_readable(steady::time_point until) { return wait(POLLIN, until); }

    ssize_t read(void* buf, std::size_t count);
    ssize_t write(const void* buf, std::size_t count);
    void close() noexcept;

private:
    [[nodiscard]] bool wait(short events) { return wait(events, deadline_); }
    [[nodiscard]] bool wait(short events, steady::time_point until);
    [[nodiscard]] bool check_interrupt() {
        if (fd_readable(stop_fd_)) {
            failure_ = failure::interrupted;
            return false;
        }
        return true;
    }
    [[nodiscard]] core::status resolve(const std::string& host, std::uint16_t port,
                                       addrinfo_handle& out);
    static ssize_t tls_pull(gnutls_transport_ptr_t self, void* buf, size_t count);
    static ssize_t tls_push(gnutls_transport_ptr_t self, const void* buf, size_t count);

    int stop_fd_;
    unique_fd fd_;
    tls_credentials_handle credentials_;
    tls_session_handle tls_;
    bool handshaken_{false};
    milliseconds bound_{30000};
    bool progressive_{false};
    steady::time_point deadline_{};
    failure failure_{failure::none};
};

bool link::wait(short events, steady::time_point until) {
    for (;;) {
        const int ms = poll_ms(until);
        pollfd fds[2] = {{fd_.get(), events, 0}, {stop_fd_, POLLIN, 0}};
        const int r = ::poll(fds, 2, ms);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            failure_ = failure::closed;
            return false;
        }
        if ((fds[1].revents & POLLIN) != 0) {
            failure_ = failure::interrupted;
            return false;
        }
        if (r > 0) {
            return true;  // ready, or POLLERR/POLLHUP: the next read or write tells which
        }
        if (ms == 0 || steady::now() >= until) {
            failure_ = failure::timeout;
            return false;
        }
    }
}

// getaddrinfo cannot be bounded or interrupted, so a name (not an address) is resolved on a
// thread of its own that this call stops waiting for at the deadline: the shared state
// outlives whichever side finishes last.
struct resolve_job {
    std::string host;
    std::string port;
    std::atomic<addrinfo*> result{nullptr};
    int rc{0};
    unique_fd done{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
    ~resolve_job() {
        if (addrinfo* r = result.exchange(nullptr)) {
            ::freeaddrinfo(r);
        }
    }
};

core::status link::resolve(const std::string& host, std::uint16_t port, addrinfo_handle& out) {
    const std::string port_text = std::to_string(port);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found) == 0) {
        out.reset(found);
        return core::ok();
    }
    auto job = std::make_shared<resolve_job>();
    if (job->done.get() < 0) {
        return core::make_error("connect", "cannot resolve the server's name (eventfd failed)");
    }
    job->host = host;
    job->port = port_text;
    std::thread([job] {
        addrinfo h{};
        h.ai_socktype = SOCK_STREAM;
        h.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
        addrinfo* r = nullptr;
        job->rc = ::getaddrinfo(job->host.c_str(), job->port.c_str(), &h, &r);
        job->result.store(r);
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto n = ::write(job->done.get(), &one, sizeof one);
    }).detach();
    for (;;) {
        pollfd fds[2] = {{job->done.get(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
        const int ms = poll_ms(deadline_);
        const int r = ::poll(fds, 2, ms);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if ((fds[1].revents & POLLIN) != 0) {
            failure_ = failure::interrupted;
            return core::make_error("interrupted", "interrupted while resolving the server's name");
        }
        if (r > 0) {
            break;
        }
        failure_ = failure::timeout;
        return core::make_error("timeout",
                                "resolving the server's name took longer than the timeout");
    }
    if (job->rc != 0) {
        return core::make_error("connect", std::string("cannot resolve the server's name (") +
                                               ::gai_strerror(job->rc) + ")");
    }
    out.reset(job->result.exchange(nullptr));
    return core::ok();
}

core::status link::connect(const std::string& host, std::uint16_t port) {
    addrinfo_handle addresses;
    if (auto st = resolve(host, port, addresses); !st) {
        return st;
    }
    int last_errno = ECONNREFUSED;
    for (const addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
        unique_fd s(
            ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
        if (s.get() < 0) {
            last_errno = errno;
            continue;
        }
        if (::connect(s.get(), a->ai_addr, a->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                last_errno = errno;
                continue;
            }
            fd_ = std::move(s);
            if (!wait(POLLOUT)) {
                fd_.reset();
                if (failure_ == failure::interrupted) {
                    return core::make_error("interrupted", "interrupted while connecting");
                }
                return core::make_error("timeout", "TCP connect took longer than the timeout");
            }
            s = std::move(fd_);
            int err = 0;
            socklen_t len = sizeof err;
            if (::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
                last_errno = err != 0 ? err : errno;
                continue;
            }
        }
        // Commands are small and answered one at a time: Nagle would only add latency.
        const int one = 1;
        ::setsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fd_ = std::move(s);
        return core::ok();
    }
    return core::make_error("connect",
                            std::string("TCP connect failed (") + std::strerror(last_errno) + ")");
}

ssize_t link::tls_pull(gnutls_transport_ptr_t self, void* buf, size_t count) {
    auto* l = static_cast<link*>(self);
    const ssize_t n = ::recv(l->fd_.get(), buf, count, 0);
    if (n < 0) {
        gnutls_transport_set_errno(l->tls_.get(), errno);
    }
    return n;
}

ssize_t link::tls_push(gnutls_transport_ptr_t self, const void* buf, size_t count) {
    auto* l = static_cast<link*>(self);
    // MSG_NOSIGNAL: a server that hung up must give an error, not SIGPIPE the daemon.
    const ssize_t n = ::send(l->fd_.get(), buf, count, MSG_NOSIGNAL);
    if (n < 0) {
        gnutls_transport_set_errno(l->tls_.get(), errno);
    }
    return n;
}

std::string describe_verify_status(unsigned status) {
    if ((status & GNUTLS_CERT_UNEXPECTED_OWNER) != 0) {
        return "the server's TLS certificate is not for this host name";
    }
    if ((status & GNUTLS_CERT_EXPIRED) != 0) {
        return "the server's TLS certificate has expired";
    }
    if ((status & GNUTLS_CERT_NOT_ACTIVATED) != 0) {
        return "the server's TLS certificate is not valid yet";
    }
    if ((status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA)) != 0) {
        return "the server's TLS certificate is not signed by a trusted CA (see ca_file)";
    }
    if ((status & GNUTLS_CERT_REVOKED) != 0) {
        return "the server's TLS certificate is revoked";
    }
    return "the server's TLS certificate did not verify";
}

core::status link::start_tls(const std::string& host, const std::string& ca_file) {
    gnutls_certificate_credentials_t creds = nullptr;
    if (gnutls_certificate_allocate_credentials(&creds) != GNUTLS_E_SUCCESS) {
        return core::make_error("tls", "cannot set up TLS (out of memory)");
    }
    credentials_.reset(creds);
    // The system's CAs and ca_file both: ca_file adds a private CA, it does not pin one.
    // A missing system store is not an error here; verification then fails without ca_file.
    (void)gnutls_certificate_set_x509_system_trust(creds);
    if (!ca_file.empty() &&
        gnutls_certificate_set_x509_trust_file(creds, ca_file.c_str(), GNUTLS_X509_FMT_PEM) <= 0) {
        return core::make_error("tls", "cannot read a CA certificate from ca_file");
    }
    gnutls_session_t s = nullptr;
    if (gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK) != GNUTLS_E_SUCCESS) {
        return core::make_error("tls", "cannot set up TLS (out of memory)");
    }
    tls_.reset(s);
    if (gnutls_set_default_priority(s) != GNUTLS_E_SUCCESS ||
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds) != GNUTLS_E_SUCCESS) {
        return core::make_error("tls", "cannot set up TLS");
    }
    in6_addr ip{};
    const bool literal = ::inet_pton(AF_INET, host.c_str(), &ip) == 1 ||
                         ::inet_pton(AF_INET6, host.c_str(), &ip) == 1;
    if (!literal) {  // SNI carries names only (RFC 6066)
        (void)gnutls_server_name_set(s, GNUTLS_NAME_DNS, host.data(), host.size());
    }
    // Chain and host name (or IP address SAN) checked during the handshake, which then
    // fails with GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR.
    gnutls_session_set_verify_cert(s, host.c_str(), 0);
    gnutls_transport_set_ptr(s, this);
    gnutls_transport_set_pull_function(s, &link::tls_pull);
    gnutls_transport_set_push_function(s, &link::tls_push);
    for (;;) {
        const int r = gnutls_handshake(s);
        if (r == GNUTLS_E_SUCCESS) {
            handshaken_ = true;
            return core::ok();
        }
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
            if (!wait(gnutls_record_get_direction(s) == 0 ? POLLIN : POLLOUT)) {
                if (failure_ == failure::interrupted) {
                    return core::make_error("interrupted", "interrupted during the TLS handshake");
                }
                return core::make_error("timeout",
                                        "the TLS handshake took longer than the timeout");
            }
            continue;
        }
        if (gnutls_error_is_fatal(r) == 0) {
            continue;  // a warning alert
        }
        failure_ = failure::tls;
        if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
            return core::make_error(
                "tls", describe_verify_status(gnutls_session_get_verify_cert_status(s)));
        }
        return core::make_error("tls",
                                std::string("TLS handshake failed (") + gnutls_strerror(r) + ")");
    }
}

ssize_t link::read(void* buf, std::size_t count) {
    if (fd_.get() < 0) {
        failure_ = failure::closed;
        return -1;
    }
    if (!check_interrupt()) {
        return -1;
    }
    for (;;) {
        ssize_t n = 0;
        if (tls_ != nullptr) {
            n = gnutls_record_recv(tls_.get(), buf, count);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                if (!wait(POLLIN)) {
                    return -1;
                }
                continue;
            }
            if (n < 0) {
                if (gnutls_error_is_fatal(static_cast<int>(n)) == 0) {
                    continue;  // a warning alert
                }
                failure_ = failure::closed;
                return -1;
            }
        } else {
            n = ::recv(fd_.get(), buf, count, 0);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    if (!wait(POLLIN)) {
                        return -1;
                    }
                    continue;
                }
                failure_ = failure::closed;
                return -1;
            }
        }
        if (n == 0) {
            failure_ = failure::closed;
            return -1;
        }
        if (progressive_) {
            deadline_ = steady::now() + bound_;
        }
        return n;
    }
}

ssize_t link::write(const void* buf, std::size_t count) {
    if (fd_.get() < 0) {
        failure_ = failure::closed;
        return -1;
    }
    if (!check_interrupt()) {
        return -1;
    }
    const auto* p = static_cast<const char*>(buf);
    std::size_t done = 0;
    while (done < count) {
        ssize_t n = 0;
        if (tls_ != nullptr) {
            // After GNUTLS_E_AGAIN GnuTLS wants the same arguments again.
            n = gnutls_record_send(tls_.get(), p + done, count - done);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                if (!wait(POLLOUT)) {
                    return -1;
                }
                continue;
            }
            if (n < 0) {
                failure_ = failure::closed;
                return -1;
            }
        } else {
            n = ::send(fd_.get(), p + done, count - done, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    if (!wait(POLLOUT)) {
                        return -1;
                    }
                    continue;
                }
                failure_ = failure::closed;
                return -1;
            }
        }
        done += static_cast<std::size_t>(n);
    }
    return static_cast<ssize_t>(count);
}

void link::close() noexcept {
    if (tls_ != nullptr && handshaken_ && fd_.get() >= 0) {
        (void)gnutls_bye(tls_.get(), GNUTLS_SHUT_WR);  // non-blocking: one try, best effort
    }
    tls_.reset();
    credentials_.reset();
    handshaken_ = false;
    fd_.reset();
}

// libetpan's side of the link. The link is owned by the session (it outlives libetpan's
// mailstream, which mailimap_free closes), so mailstream_free releases only the low struct.
ssize_t low_read(mailstream_low* s, void* buf, size_t count) {
    return static_cast<link*>(s->data)->read(buf, count);
}
ssize_t low_write(mailstream_low* s, const void* buf, size_t count) {
    return static_cast<link*>(s->data)->write(buf, count);
}
int low_close(mailstream_low* s) {
    static_cast<link*>(s->data)->close();
    return 0;
}
int low_get_fd(mailstream_low* s) {
    return static_cast<link*>(s->data)->fd();
}
void low_free(mailstream_low* s) {
    std::free(s);  // allocated by mailstream_low_new with malloc
}

mailstream_low_driver link_driver = {
    low_read, low_write, low_close, low_get_fd, low_free,
    nullptr,  // mailstream_cancel: the interrupter does that
    nullptr,  // mailstream_get_cancel
    nullptr,  // mailstream_get_certificate_chain
    nullptr,  // mailstream_setup_idle: idle() waits on the link itself
    nullptr,  // mailstream_unsetup_idle
    nullptr,  // mailstream_interrupt_idle
};

set_handle make_set(const std::vector<std::uint32_t>& uids) {
    set_handle set(mailimap_set_new_empty());
    if (set == nullptr) {
        return set;
    }
    for (const auto& [first, last] : wire::uid_ranges(uids)) {
        if (mailimap_set_add_interval(set.get(), first, last) != MAILIMAP_NO_ERROR) {
            return nullptr;
        }
    }
    return set;
}

template <class F>
void for_each_static(clist* messages, F&& f) {
    for (clistiter* m = clist_begin(messages); m != nullptr; m = clist_next(m)) {
        auto* att = static_cast<mailimap_msg_att*>(clist_content(m));
        std::uint32_t uid = 0;
        for (clistiter* i = clist_begin(att->att_list); i != nullptr; i = clist_next(i)) {
            auto* item = static_cast<mailimap_msg_att_item*>(clist_content(i));
            if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC &&
                item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_UID) {
                uid = item->att_data.att_static->att_data.att_uid;
            }
        }
        if (uid == 0) {
            continue;  // an unsolicited FETCH (a flag change) without a UID
        }
        for (clistiter* i = clist_begin(att->att_list); i != nullptr; i = clist_next(i)) {
            auto* item = static_cast<mailimap_msg_att_item*>(clist_content(i));
            if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC) {
                f(uid, *item->att_data.att_static);
            }
        }
    }
}

std::vector<std::uint32_t> search_uids(clist* found) {
    std::vector<std::uint32_t> uids;
    for (clistiter* i = clist_begin(found); i != nullptr; i = clist_next(i)) {
        uids.push_back(*static_cast<std::uint32_t*>(clist_content(i)));
    }
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    return uids;
}

core::error interrupted_error() {
    return core::make_error("interrupted", "interrupted (shutting down)");
}

}  // namespace

// ---------------------------------------------------------------------------------------

interrupter::interrupter() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) {
        throw std::system_error(errno, std::generic_category(), "eventfd");
    }
}

interrupter::~interrupter() {
    ::close(fd_);
}

void interrupter::interrupt() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(fd_, &one, sizeof one);  // EAGAIN: already set
}

void interrupter::reset() {
    std::uint64_t value = 0;
    [[maybe_unused]] const auto n = ::read(fd_, &value, sizeof value);  // EAGAIN: not set
}

bool interrupter::interrupted() const {
    return fd_readable(fd_);
}

// ---------------------------------------------------------------------------------------

struct session::impl {
    impl(const endpoint& ep, interrupter& stop)
        : timeout(std::max(ep.timeout, milliseconds(1))), stop(stop), wire(stop.fd()) {}

    milliseconds timeout;
    interrupter& stop;
    // Declared before imap: members are destroyed in reverse order, and mailimap_free
    // closes the mailstream, which calls back into this link.
    link wire;
    imap_handle imap;
    bool broken{false};
    bool can_idle{false};
    bool can_move{false};
    bool can_uidplus{false};

    // Starts a call: refuses at once when interrupted or after a connection failure, and
    // arms the link's deadline.
    [[nodiscard]] core::status begin(bool progressive = false) {
        if (stop.interrupted()) {
            return interrupted_error();
        }
        if (broken) {
            return core::make_error("closed", "the IMAP connection failed earlier");
        }
        wire.arm(timeout, progressive);
        return core::ok();
    }

    // Turns a libetpan failure into our error. The link's own failure comes first: libetpan
    // reports a timeout or hang-up as MAILIMAP_ERROR_STREAM, or as a parse error when it
    // happens in the middle of a response. `code` is for a command the server refused.
    [[nodiscard]] core::error fail(int r, std::string_view code, std::string_view what) {
        const std::string w(what);
        switch (wire.last_failure()) {
            case failure::timeout:
                broken = true;
                return core::make_error(
                    "timeout", w + ": no answer within " + std::to_string(timeout.count()) + " ms");
            case failure::interrupted: broken = true; return interrupted_error();
            case failure::closed:
            case failure::tls:
                broken = true;
                return core::make_error("closed", w + ": the server closed the connection");
            case failure::none: break;
        }
        switch (r) {
            case MAILIMAP_ERROR_STREAM:
            case MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION:
                broken = true;
                return core::make_error("closed", w + ": the server closed the connection");
            case MAILIMAP_ERROR_PARSE:
                broken = true;
                return core::make_error("protocol", w + ": the server's answer was not understood");
            case MAILIMAP_ERROR_MEMORY:
                broken = true;
                return core::make_error("protocol", w + ": out of memory");
            case MAILIMAP_ERROR_BAD_STATE:
                return core::make_error("protocol", w + ": not allowed in this session state");
            default:
                // The server's own text is not passed on: it may echo the user name.
                return core::make_error(std::string(code), w + " refused by the server");
        }
    }

    [[nodiscard]] core::status write_line(std::string_view line) {
        mailstream* s = imap->imap_stream;
        if (mailstream_write(s, line.data(), line.size()) < 0 || mailstream_flush(s) < 0) {
            return fail(MAILIMAP_ERROR_STREAM, "protocol", "IDLE");
        }
        return core::ok();
    }

    // One response line, without CRLF; the literals it announces are read and dropped
    // (only the first line is needed to classify what IDLE was told).
    [[nodiscard]] core::result<std::string> read_response_line() {
        mmap_handle buffer(mmap_string_new(""));
        if (buffer == nullptr) {
            return fail(MAILIMAP_ERROR_MEMORY, "protocol", "IDLE");
        }
        mailstream* s = imap->imap_stream;
        if (mailstream_read_line_remove_eol(s, buffer.get()) == nullptr) {
            return fail(MAILIMAP_ERROR_STREAM, "protocol", "IDLE");
        }
        std::string first(buffer->str, buffer->len);
        std::string piece = first;
        while (auto literal = wire::trailing_literal(piece)) {
            std::size_t left = *literal;
            char sink[4096];
            while (left > 0) {
                const ssize_t n = mailstream_read(s, sink, std::min(left, sizeof sink));
                if (n <= 0) {
                    return fail(MAILIMAP_ERROR_STREAM, "protocol", "IDLE");
                }
                left -= static_cast<std::size_t>(n);
            }
            if (mailstream_read_line_remove_eol(s, buffer.get()) == nullptr) {
                return fail(MAILIMAP_ERROR_STREAM, "protocol", "IDLE");
            }
            piece.assign(buffer->str, buffer->len);
        }
        return first;
    }

    [[nodiscard]] core::result<fetch_list_handle> uid_fetch(const std::vector<std::uint32_t>& uids,
                                                            mailimap_fetch_att* wanted);
    [[nodiscard]] core::status add_flag(const std::vector<std::uint32_t>& uids,
                                        mailimap_flag* (*make_flag)());

    [[nodiscard]] bool buffered() const {
        return imap->imap_stream->read_buffer_len > 0 || wire.pending();
    }
};

session::session(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
session::~session() = default;

core::result<std::unique_ptr<session>> session::connect(const endpoint& ep, interrupter& stop) {
    if (stop.interrupted()) {
        return interrupted_error();
    }
    auto p = std::make_unique<impl>(ep, stop);
    p->wire.arm(p->timeout);
    if (auto st = p->wire.connect(ep.host, ep.port); !st) {
        return st.err();
    }
    if (ep.tls == tls_mode::tls) {
        if (auto st = p->wire.start_tls(ep.host, ep.ca_file); !st) {
            return st.err();
        }
    }
    p->imap.reset(mailimap_new(0, nullptr));
    if (p->imap == nullptr) {
        return core::make_error("connect", "out of memory");
    }
    mailstream_low* low = mailstream_low_new(&p->wire, &link_driver);
    if (low == nullptr) {
        return core::make_error("connect", "out of memory");
    }
    mailstream* stream = mailstream_new(low, 8192);
    if (stream == nullptr) {
        mailstream_low_free(low);
        return core::make_error("connect", "out of memory");
    }
    int r = mailimap_connect(p->imap.get(), stream);  // owns the stream from here on
    if (r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED && r != MAILIMAP_NO_ERROR_AUTHENTICATED) {
        return p->fail(r, "connect", "IMAP greeting");
    }
    bool authenticated = r == MAILIMAP_NO_ERROR_AUTHENTICATED;
    if (ep.tls == tls_mode::starttls) {
        if (authenticated) {  // PREAUTH: STARTTLS is no longer allowed, and we asked for TLS
            return core::make_error("tls", "the server logged in before STARTTLS (PREAUTH)");
        }
        r = mailimap_starttls(p->imap.get());
        if (r != MAILIMAP_NO_ERROR) {
            auto e = p->fail(r, "tls", "STARTTLS");
            if (e.code == "protocol") {
                e.code = "tls";
            }
            return e;
        }
        // Bytes that arrived with the STARTTLS answer were sent before the handshake and
        // could be injected by anyone on the path (CVE-2020-15953 in libetpan's own driver).
        if (p->imap->imap_stream->read_buffer_len > 0) {
            return core::make_error("tls", "the server sent data after accepting STARTTLS");
        }
        if (auto st = p->wire.start_tls(ep.host, ep.ca_file); !st) {
            return st.err();
        }
    }
    if (!authenticated) {
        r = mailimap_login(p->imap.get(), ep.username.c_str(), ep.password.c_str());
        if (r != MAILIMAP_NO_ERROR) {
            auto e = p->fail(r, "auth", "LOGIN");
            if (e.code == "auth") {
                e.message = "LOGIN refused: wrong user name or password, or login not allowed";
            }
            return e;
        }
    }
    // Asked again after login (and after TLS): what a server offers before either may differ.
    mailimap_capability_data* caps = nullptr;
    r = mailimap_capability(p->imap.get(), &caps);
    if (r != MAILIMAP_NO_ERROR) {
        return p->fail(r, "protocol", "CAPABILITY");
    }
    mailimap_capability_data_free(caps);
    p->can_idle = mailimap_has_idle(p->imap.get()) != 0;
    p->can_move = mailimap_has_extension(p->imap.get(), "MOVE") != 0;
    p->can_uidplus = mailimap_has_extension(p->imap.get(), "UIDPLUS") != 0;
    return std::unique_ptr<session>(new session(std::move(p)));
}

bool session::has_idle() const noexcept {
    return impl_->can_idle;
}

bool session::has_move() const noexcept {
    return impl_->can_move;
}

core::result<mailbox_status> session::select(const std::string& mailbox) {
    const auto name = wire::encode_mailbox(mailbox);
    if (!name) {
        return core::make_error("mailbox", "the mailbox name is not valid UTF-8 text");
    }
    if (auto st = impl_->begin(); !st) {
        return st.err();
    }
    const int r = mailimap_select(impl_->imap.get(), name->c_str());
    if (r != MAILIMAP_NO_ERROR) {
        return impl_->fail(r, "mailbox", "SELECT");
    }
    const mailimap_selection_info* info = impl_->imap->imap_selection_info;
    if (info == nullptr || info->sel_uidvalidity == 0) {
        // Without UIDVALIDITY a stored UID cursor could silently point at other messages.
        return core::make_error("protocol", "SELECT: the server sent no UIDVALIDITY");
    }
    return mailbox_status{info->sel_uidvalidity, info->sel_uidnext, info->sel_exists};
}

core::result<std::vector<std::uint32_t>> session::uids_from(std::uint32_t first) {
    first = std::max<std::uint32_t>(first, 1);
    if (auto st = impl_->begin(); !st) {
        return st.err();
    }
    set_handle set(mailimap_set_new_interval(first, 0));  // 0: "*"
    if (set == nullptr) {
        return impl_->fail(MAILIMAP_ERROR_MEMORY, "protocol", "UID SEARCH");
    }
    search_key_handle key(mailimap_search_key_new_uid(set.get()));
    if (key == nullptr) {
        return impl_->fail(MAILIMAP_ERROR_MEMORY, "protocol", "UID SEARCH");
    }
    (void)set.release();  // the key owns it now
    clist* found = nullptr;
    const int r = mailimap_uid_search(impl_->imap.get(), nullptr, key.get(), &found);
    if (r != MAILIMAP_NO_ERROR) {
        return impl_->fail(r, "protocol", "UID SEARCH");
    }
    search_list_handle owned(found);
    auto uids = search_uids(found);
    // "first:*" matches the highest UID even when it is below first (RFC 3501 6.4.8).
    uids.erase(
        std::remove_if(uids.begin(), uids.end(), [first](std::uint32_t u) { return u < first; }),
        uids.end());
    return uids;
}

core::result<std::vector<std::uint32_t>> session::unseen() {
    if (auto st = impl_->begin(); !st) {
        return st.err();
    }
    search_key_handle key(mailimap_search_key_new(
        MAILIMAP_SEARCH_KEY_UNSEEN, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
        nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, nullptr, nullptr, nullptr,
        nullptr, nullptr, nullptr, 0, nullptr, nullptr, nullptr));
    if (key == nullptr) {
        return impl_->fail(MAILIMAP_ERROR_MEMORY, "protocol", "UID SEARCH");
    }
    clist* found = nullptr;
    const int r = mailimap_uid_search(impl_->imap.get(), nullptr, key.get(), &found);
    if (r != MAILIMAP_NO_ERROR) {
        return impl_->fail(r, "protocol", "UID SEARCH");
    }
    search_list_handle owned(found);
    return search_uids(found);
}

// UID FETCH of one attribute (besides UID) for `uids`: the message list, or an error.
core::result<fetch_list_handle> session::impl::uid_fetch(const std::vector<std::uint32_t>& uids,
                                                         mailimap_fetch_att* wanted) {
    impl& s = *this;
    fetch_type_handle type(mailimap_fetch_type_new_fetch_att_list_empty());
    if (type == nullptr || wanted == nullptr) {
        if (wanted != nullptr) {
            mailimap_fetch_att_free(wanted);
        }
        return s.fail(MAILIMAP_ERROR_MEMORY, "protocol", "UID FETCH");
    }
    if (mailimap_fetch_type_new_fetch_att_list_add(type.get(), wanted) != MAILIMAP_NO_ERROR) {
        mailimap_fetch_att_free(wanted);
        return s.fail(MAILIMAP_ERROR_MEMORY, "protocol", "UID FETCH");
    }
    mailimap_fetch_att* uid = mailimap_fetch_att_new_uid();
    if (uid == nullptr ||
        mailimap_fetch_type_new_fetch_att_list_add(type.get(), uid) != MAILIMAP_NO_ERROR) {
        if (uid != nullptr) {
            mailimap_fetch_att_free(uid);
        }
        return s.fail(MAILIMAP_ERROR_MEMORY, "protocol", "UID FETCH");
    }
    set_handle set = make_set(uids);
    if (set == nullptr) {
        return s.fail(MAILIMAP_ERROR_MEMORY, "protocol", "UID FETCH");
    }
    clist* result = nullptr;
    const int r = mailimap_uid_fetch(s.imap.get(), set.get(), type.get(), &result);
    if (r != MAILIMAP_NO_ERROR) {
        return s.fail(r, "protocol", "UID FETCH");
    }
    return fetch_list_handle(result);
}

namespace {

bool wanted_uid(const std::vector<std::uint32_t>& sorted, std::uint32_t uid) {
    return std::binary_search(sorted.begin(), sorted.end(), uid);
}

std::vector<std::uint32_t> sorted_unique(std::vector<std::uint32_t> uids) {
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    return uids;
}

}  // namespace

core::result<std::vector<message_size>> session::sizes(const std::vector<std::uint32_t>& uids) {
    const auto wanted = sorted_unique(uids);
    if (wanted.empty() || (wanted.size() == 1 && wanted.front() == 0)) {
        return std::vector<message_size>{};
    }
    if (auto st = impl_->begin(); !st) {
        return st.err();
    }
    auto list = impl_->uid_fetch(wanted, mailimap_fetch_att_new_rfc822_size());
    if (!list) {
        return list.err();
    }
    std::vector<message_size> out;
    for_each_static(list->get(), [&](std::uint32_t uid, const mailimap_msg_att_static& a) {
        if (a.att_type == MAILIMAP_MSG_ATT_RFC822_SIZE && wanted_uid(wanted, uid)) {
            out.push_back({uid, a.att_data.att_rfc822_size});
        }
    });
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.uid < b.uid; });
    out.erase(std::unique(out.begin(), out.end(),
                          [](const auto& a, const auto& b) { return a.uid == b.uid; }),
              out.end());
    return out;
}

core::result<std::vector<message>> session::fetch(const std::vector<std::uint32_t>& uids,
                                                  bool headers_only) {
    const auto wanted = sorted_unique(uids);
    if (wanted.empty() || (wanted.size() == 1 && wanted.front() == 0)) {
        return std::vector<message>{};
    }
    if (auto st = impl_->begin(/*progressive=*/true); !st) {
        return st.err();
    }
    mailimap_section* section =
        headers_only ? mailimap_section_new_header() : mailimap_section_new(nullptr);
    mailimap_fetch_att* att =
        section == nullptr ? nullptr : mailimap_fetch_att_new_body_peek_section(section);
    if (section != nullptr && att == nullptr) {
        mailimap_section_free(section);
    }
    auto list = impl_->uid_fetch(wanted, att);
    if (!list) {
        return list.err();
    }
    std::vector<message> out;
    for_each_static(list->get(), [&](std::uint32_t uid, const mailimap_msg_att_static& a) {
        if (a.att_type != MAILIMAP_MSG_ATT_BODY_SECTION || !wanted_uid(wanted, uid)) {
            return;
        }
        const mailimap_msg_att_body_section* body = a.att_data.att_body_section;
        if (body == nullptr || body->sec_body_part == nullptr) {
            return;  // NIL: expunged meanwhile
        }
        out.push_back({uid, std::string(body->sec_body_part, body->sec_length)});
    });
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.uid < b.uid; });
    out.erase(std::unique(out.begin(), out.end(),
                          [](const auto& a, const auto& b) { return a.uid == b.uid; }),
              out.end());
    return out;
}

core::status session::impl::add_flag(const std::vector<std::uint32_t>& uids,
                                     mailimap_flag* (*make_flag)()) {
    impl& s = *this;
    flag_list_handle flags(mailimap_flag_list_new_empty());
    mailimap_flag* flag = make_flag();
    if (flags == nullptr || flag == nullptr) {
        if (flag != nullptr) {
            mailimap_flag_free(flag);
        }
        return s.fail(MAILIMAP_ERROR_MEMORY, "protocol", "UID STORE");
    }
    if (mailimap_flag_list_add(flags.get(), flag) != MAILIMAP_NO_ERROR) {
        mailimap_flag_free(flag);
        return s.fail(MAILIMAP_ERROR_MEMORY, "protocol", "UID STORE");
    }
    store_handle store(mailimap_store_att_flags_new_add_flags_silent(flags.get()));
    if (store == nullptr) {
        return s.fail(MAILIMAP_ERROR_MEMORY, "protocol", "UID STORE");
    }
    (void)flags.release();  // the store owns it now
    set_handle set = make_set(uids);
    if (set == nullptr) {
        return s.fail(MAILIMAP_ERROR_MEMORY, "protocol", "UID STORE");
    }
    const int r = mailimap_uid_store(s.imap.get(), set.get(), store.get());
    if (r != MAILIMAP_NO_ERROR) {
        return s.fail(r, "protocol", "UID STORE");
    }
    return core::ok();
}

namespace {

bool has_valid_uid(const std::vector<std::uint32_t>& uids) {
    return std::any_of(uids.begin(), uids.end(), [](std::uint32_t u) { return u != 0; });
}

}  // namespace

core::status session::mark_seen(const std::vector<std::uint32_t>& uids) {
    if (!has_valid_uid(uids)) {
        return core::ok();
    }
    if (auto st = impl_->begin(); !st) {
        return st;
    }
    return impl_->add_flag(uids, mailimap_flag_new_seen);
}

core::status session::move(const std::vector<std::uint32_t>& uids, const std::string& folder) {
    const auto name = wire::encode_mailbox(folder);
    if (!name) {
        return core::make_error("mailbox", "the folder name is not valid UTF-8 text");
    }
    if (!has_valid_uid(uids)) {
        return core::ok();
    }
    if (auto st = impl_->begin(); !st) {
        return st;
    }
    set_handle set = make_set(uids);
    if (set == nullptr) {
        return impl_->fail(MAILIMAP_ERROR_MEMORY, "protocol", "UID MOVE");
    }
    if (impl_->can_move) {
        const int r = mailimap_uid_move(impl_->imap.get(), set.get(), name->c_str());
        if (r != MAILIMAP_NO_ERROR) {
            return impl_->fail(r, "mailbox", "UID MOVE");
        }
        return core::ok();
    }
    int r = mailimap_uid_copy(impl_->imap.get(), set.get(), name->c_str());
    if (r != MAILIMAP_NO_ERROR) {
        return impl_->fail(r, "mailbox", "UID COPY");
    }
    if (auto st = impl_->add_flag(uids, mailimap_flag_new_deleted); !st) {
        return st;
    }
    // Without UIDPLUS, EXPUNGE also removes messages someone else marked \Deleted: that is
    // what deleting them in a mail client asked for anyway.
    r = impl_->can_uidplus ? mailimap_uid_expunge(impl_->imap.get(), set.get())
                           : mailimap_expunge(impl_->imap.get());
    if (r != MAILIMAP_NO_ERROR) {
        return impl_->fail(r, "protocol", impl_->can_uidplus ? "UID EXPUNGE" : "EXPUNGE");
    }
    return core::ok();
}

core::status session::create(const std::string& folder) {
    const auto name = wire::encode_mailbox(folder);
    if (!name) {
        return core::make_error("mailbox", "the folder name is not valid UTF-8 text");
    }
    if (auto st = impl_->begin(); !st) {
        return st;
    }
    const int r = mailimap_create(impl_->imap.get(), name->c_str());
    if (r == MAILIMAP_NO_ERROR) {
        return core::ok();
    }
    if (r != MAILIMAP_ERROR_CREATE) {
        return impl_->fail(r, "mailbox", "CREATE");
    }
    // Refused: fine when it exists already (servers word that differently: ask LIST).
    clist* found = nullptr;
    const int l = mailimap_list(impl_->imap.get(), "", name->c_str(), &found);
    if (l != MAILIMAP_NO_ERROR) {
        return impl_->fail(l, "mailbox", "LIST");
    }
    list_result_handle owned(found);
    if (found != nullptr && clist_count(found) > 0) {
        return core::ok();
    }
    return core::make_error("mailbox", "CREATE refused by the server");
}

core::status session::noop() {
    if (auto st = impl_->begin(); !st) {
        return st;
    }
    const int r = mailimap_noop(impl_->imap.get());
    if (r != MAILIMAP_NO_ERROR) {
        return impl_->fail(r, "protocol", "NOOP");
    }
    return core::ok();
}

core::result<session::idle_outcome> session::idle(std::chrono::milliseconds max) {
    impl& s = *impl_;
    if (!s.can_idle) {
        return core::make_error("protocol", "the server does not offer IDLE");
    }
    if (auto st = s.begin(); !st) {
        return st.err();
    }
    // By hand rather than mailimap_idle: that one drops the untagged responses it reads
    // before "+ idling", and a new message reported there would wait for the next IDLE.
    if (const int r = mailimap_send_current_tag(s.imap.get()); r != MAILIMAP_NO_ERROR) {
        return s.fail(r, "protocol", "IDLE");
    }
    const std::string tag = std::to_string(s.imap->imap_tag);
    if (auto st = s.write_line("IDLE\r\n"); !st) {
        return st.err();
    }
    bool changed = false;
    const auto handle = [&](const std::string& line, bool& done) -> core::status {
        switch (wire::classify_idle_line(line)) {
            case wire::idle_line::continuation: done = true; return core::ok();
            case wire::idle_line::keepalive: return core::ok();
            case wire::idle_line::change: changed = true; return core::ok();
            case wire::idle_line::bye:
                s.broken = true;
                return core::make_error("closed",
                                        "IDLE: the server is closing the connection (BYE)");
            case wire::idle_line::tagged: break;
        }
        s.broken = true;
        if (wire::tagged_status(line, tag).empty()) {
            return core::make_error("protocol", "IDLE: the server's answer was not understood");
        }
        return core::make_error("protocol", "IDLE refused by the server");
    };
    for (bool accepted = false; !accepted;) {
        auto line = s.read_response_line();
        if (!line) {
            return line.err();
        }
        if (auto st = handle(*line, accepted); !st) {
            return st.err();
        }
    }
    const auto until = steady::now() + max;
    while (!changed) {
        if (!s.buffered()) {
            if (!s.wire.wait_readable(until)) {
                if (s.wire.last_failure() == failure::timeout) {
                    break;  // nothing happened: DONE, then re-issue
                }
                return s.fail(MAILIMAP_ERROR_STREAM, "protocol", "IDLE");
            }
        }
        s.wire.arm(s.timeout);
        auto line = s.read_response_line();
        if (!line) {
            return line.err();
        }
        bool continuation = false;
        if (auto st = handle(*line, continuation); !st) {
            return st.err();
        }
    }
    s.wire.arm(s.timeout);
    if (auto st = s.write_line("DONE\r\n"); !st) {
        return st.err();
    }
    for (;;) {
        auto line = s.read_response_line();
        if (!line) {
            return line.err();
        }
        const std::string_view status = wire::tagged_status(*line, tag);
        if (!status.empty()) {
            if (status != "OK" && status != "ok") {
                s.broken = true;
                return core::make_error("protocol", "IDLE refused by the server");
            }
            break;
        }
        bool ignored = false;
        if (auto st = handle(*line, ignored); !st) {
            return st.err();
        }
    }
    return changed ? idle_outcome::changed : idle_outcome::timeout;
}

void session::logout() noexcept {
    impl& s = *impl_;
    if (s.broken || s.stop.interrupted() || s.imap == nullptr) {
        return;
    }
    s.wire.arm(std::min(s.timeout, milliseconds(5000)));
    (void)mailimap_logout(s.imap.get());
    s.broken = true;
}

}  // namespace hotline::net::imap
