// An IMAP client session on libetpan (blocking: run it on a source's own thread, never on
// the io thread). One session is one connection, logged in, with one mailbox selected.
// Every call is bounded by endpoint::timeout; a call that fails leaves the session unusable
// (the caller drops it and reconnects). Errors name what failed, never the password or the
// user name (often an email address).
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
    std::string ca_file;  // extra CA bundle for the server's certificate; empty: the system's
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
    void interrupt();                  // sticky until reset()
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

    // SELECT (read-write).
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
    // +FLAGS.SILENT (\Deleted), UID EXPUNGE (UIDPLUS) or EXPUNGE.
    [[nodiscard]] core::status move(const std::vector<std::uint32_t>& uids,
                                    const std::string& folder);
    // CREATE folder; an existing folder is not an error.
    [[nodiscard]] core::status create(const std::string& folder);
    // NOOP, bounded by endpoint::timeout: a dead connection fails here.
    [[nodiscard]] core::status noop();

    enum class idle_outcome { changed, timeout };
    // IDLE until the server reports a change (EXISTS, EXPUNGE, FETCH...), `max` passes, or
    // interrupt(); then DONE. changed: run a search. timeout: nothing happened (re-issue
    // IDLE, which keeps the session under the server's 30-minute limit). Needs has_idle().
    [[nodiscard]] core::result<idle_outcome> idle(std::chrono::milliseconds max);

    // LOGOUT, best effort (bounded); the destructor closes the socket either way.
    void logout() noexcept;

private:
    struct impl;
    explicit session(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace hotline::net::imap
