// An IMAP client session on libetpan (blocking: run it on a source's own thread, never on
// the io thread). One session is one connection, logged in, with one mailbox selected.
// libetpan speaks the protocol; the bytes go through our own socket/GnuTLS link (imap.cpp
// says why), which polls the socket together with the interrupter.
// Every call is bounded by endpoint::timeout: connect() as a whole (DNS, TCP, TLS,
// greeting, STARTTLS, LOGIN, CAPABILITY), each other call from its start, except that
// fetch()'s bound restarts with every read that brings bytes (a big batch is bounded by
// silence, not by its size). A call that fails leaves the session unusable (the caller
// drops it and reconnects; later calls answer "closed"). Errors name what failed, never the
// password or the user name (often an email address), and never pass on the server's text
// (it may echo the login).
//
// Error codes: "connect" (TCP, DNS), "tls" (handshake, certificate, STARTTLS refused),
// "auth" (LOGIN refused), "mailbox" (SELECT or the target folder refused), "timeout"
// (no answer within the bound), "protocol" (a command refused or an answer not understood),
// "closed" (the server hung up, e.g. BYE at shutdown), "interrupted" (interrupt() was called).
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace hotline::net::imap {

enum class tls_mode { tls, starttls, none };

struct endpoint {
    std::string host;
    std::uint16_t port{993};
    tls_mode tls{tls_mode::tls};
    std::string username;
    std::string password;
    std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // per command
    std::string ca_file;  // a PEM CA bundle trusted besides the system's (a private CA)
};

struct mailbox_status {
    std::uint32_t uidvalidity{};
    std::uint32_t uidnext{};  // 0 when the server did not say
    std::uint32_t exists{};
};

struct message_size {
    std::uint32_t uid{};
    std::size_t size{};  // RFC822.SIZE
};

struct message {
    std::uint32_t uid{};
    std::string raw;  // BODY.PEEK[] (or BODY.PEEK[HEADER] when fetched headers only)
};

// Wakes a session blocked in a call from another thread (shutdown): the call returns
// "interrupted" at once. Shared by a source's sessions; safe from any thread.
class interrupter {
public:
    interrupter();
    ~interrupter();
    interrupter(const interrupter&) = delete;
    interrupter& operator=(const interrupter&) = delete;
    void interrupt();  // sticky until reset()
    void reset();
    [[nodiscard]] bool interrupted() const;
    [[nodiscard]] int fd() const noexcept { return fd_; }  // readable while interrupted

private:
    int fd_{-1};  // an eventfd
};

class session {
public:
    // Connects (TLS or STARTTLS as asked; certificates verified against the system's CAs
    // or ca_file, host name checked), logs in and reads the server's capabilities.
    [[nodiscard]] static core::result<std::unique_ptr<session>> connect(const endpoint& ep,
                                                                        interrupter& stop);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    [[nodiscard]] bool has_idle() const noexcept;
    [[nodiscard]] bool has_move() const noexcept;

    // SELECT (read-write). Mailbox and folder names here and below are UTF-8; they go on
    // the wire in modified UTF-7 (a name that is not valid UTF-8 is error "mailbox").
    // No UIDVALIDITY in the answer is error "protocol".
    [[nodiscard]] core::result<mailbox_status> select(const std::string& mailbox);
    // UID SEARCH UID first:* (ascending; an empty mailbox or none that high: empty; note
    // the server answers "first:*" with the highest UID even when it is below first: such
    // a UID is left out).
    [[nodiscard]] core::result<std::vector<std::uint32_t>> uids_from(std::uint32_t first);
    // UID SEARCH UNSEEN (ascending).
    [[nodiscard]] core::result<std::vector<std::uint32_t>> unseen();
    // UID FETCH uids (RFC822.SIZE); messages gone meanwhile are left out.
    [[nodiscard]] core::result<std::vector<message_size>> sizes(
        const std::vector<std::uint32_t>& uids);
    // UID FETCH uids (BODY.PEEK[]), or (BODY.PEEK[HEADER]) with headers_only; does not set
    // \Seen. Messages gone meanwhile are left out. The caller bounds the total size.
    [[nodiscard]] core::result<std::vector<message>> fetch(const std::vector<std::uint32_t>& uids,
                                                           bool headers_only = false);
    // UID STORE uids +FLAGS.SILENT (\Seen).
    [[nodiscard]] core::status mark_seen(const std::vector<std::uint32_t>& uids);
    // UID MOVE uids folder, or where the server has no MOVE: UID COPY, UID STORE
    // +FLAGS.SILENT (\Deleted), UID EXPUNGE (UIDPLUS) or EXPUNGE. A folder that does not
    // exist is error "mailbox" (create() it first).
    [[nodiscard]] core::status move(const std::vector<std::uint32_t>& uids,
                                    const std::string& folder);
    // CREATE folder; an existing folder is not an error.
    [[nodiscard]] core::status create(const std::string& folder);
    // NOOP, bounded by endpoint::timeout: a dead connection fails here.
    [[nodiscard]] core::status noop();

    enum class idle_outcome { changed, timeout };
    // IDLE until the server reports a change (EXISTS, EXPUNGE, FETCH...), `max` passes, or
    // interrupt(); then DONE. changed: run a search. timeout: nothing happened (re-issue
    // IDLE, which keeps the session under the server's 30-minute limit). Needs has_idle(),
    // else error "protocol". A change announced with IDLE's start counts; keep-alives
    // ("* OK Still here") do not. An interrupt returns at once, without DONE. The wait is
    // bounded by `max`; sending IDLE and DONE by endpoint::timeout.
    [[nodiscard]] core::result<idle_outcome> idle(std::chrono::milliseconds max);

    // LOGOUT, best effort (bounded); the destructor closes the socket either way.
    void logout() noexcept;

private:
    struct impl;
    explicit session(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace hotline::net::imap
