// libcurl's multi_socket API driven by Asio: curl tells us which sockets to watch
// (CURLMOPT_SOCKETFUNCTION) and when to wake it (CURLMOPT_TIMERFUNCTION); we watch with
// stream_descriptor::async_wait and a steady_timer and report back through
// curl_multi_socket_action. All of that happens on the transport's own thread ("curl",
// its own io_context): the `engine` below is single-threaded and never leaves it. The
// caller's thread only posts requests in and gets each reply posted back (issue 11: curl's
// work was a quarter of the io thread's time per notification).
#include "net/transport.hpp"

#include <curl/curl.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/c_handle.hpp"
#include "core/thread_name.hpp"

namespace hotline::net {

namespace {

constexpr std::size_t max_response_body = 64 * 1024;
constexpr std::size_t max_response_headers = 100;
// Idle connections kept for reuse, across all hosts: above the sum of the channels'
// default concurrency (16 each), small enough that idle sockets cost nothing.
constexpr long max_cached_connections = 256;
// Reset easy handles kept for the next transfers: about the transfers in flight at once.
constexpr std::size_t max_spare_handles = 64;

using easy_handle = core::c_handle<CURL, curl_easy_cleanup>;
using multi_handle = core::c_handle<CURLM, curl_multi_cleanup>;
using slist_handle = core::c_handle<curl_slist, curl_slist_free_all>;

// curl_global_init is thread-safe since 7.84 but still must run before any other call.
void global_init_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
        s.remove_suffix(1);
    }
    return s;
}

slist_handle append(slist_handle list, const std::string& item) {
    curl_slist* grown = curl_slist_append(list.get(), item.c_str());
    if (grown == nullptr) {
        return list;  // out of memory: the transfer goes without this entry
    }
    (void)list.release();
    return slist_handle(grown);
}

}  // namespace

// One transfer: the request and everything curl points into while it runs.
struct transfer {
    easy_handle easy;
    slist_handle headers;
    slist_handle rcpt;
    request req;  // owns the strings curl points into; wipes the password when it goes
    std::size_t upload_offset{0};
    reply answer;
    std::vector<std::string> smtp_replies;  // the last few server reply lines
    std::function<void(reply)> done;
    char error_buffer[CURL_ERROR_SIZE]{};
};

// One socket curl asked us to watch. Shared with pending waits, so a wait that completes
// after curl dropped the socket finds `removed` set instead of freed memory.
struct watched_socket {
    explicit watched_socket(asio::io_context& io, curl_socket_t fd) : descriptor(io), fd(fd) {
        descriptor.assign(fd);
    }
    asio::posix::stream_descriptor descriptor;
    curl_socket_t fd;
    int interest{CURL_POLL_NONE};
    bool read_pending{false};
    bool write_pending{false};
    bool removed{false};
};

struct engine {
    explicit engine(asio::io_context& io) : io_(io), timer_(io) {
        global_init_once();
        multi_.reset(curl_multi_init());
        curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETFUNCTION, &engine::on_socket);
        curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETDATA, this);
        curl_multi_setopt(multi_.get(), CURLMOPT_TIMERFUNCTION, &engine::on_timer);
        curl_multi_setopt(multi_.get(), CURLMOPT_TIMERDATA, this);
        // Keep-alive: curl's default connection cache holds 4 x the handles currently
        // added, so it shrinks as transfers finish and closes connections the next burst
        // must open again (about one new connection per four webhooks, issue 11). A fixed
        // cache keeps every connection of a busy channel open for reuse; curl closes the
        // oldest idle one beyond it, and any idle one after its max age (118 s).
        curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, max_cached_connections);
    }

    ~engine() {
        for (auto& [easy, t] : transfers_) {
            curl_multi_remove_handle(multi_.get(), easy);
        }
        transfers_.clear();
        multi_.reset();  // may still call on_socket (cached connections): sockets_ must exist
        for (auto& [fd, s] : sockets_) {
            forget(*s);
        }
        sockets_.clear();
        timer_.cancel();
    }

    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    // ------------------------------------------------------------------ curl callbacks

    static int on_socket(CURL* /*easy*/, curl_socket_t fd, int what, void* userp,
                         void* /*socketp*/) {
        auto* self = static_cast<engine*>(userp);
        try {
            self->update_socket(fd, what);
        } catch (const std::exception& e) {
            // assign() can fail (e.g. epoll_ctl ENOMEM); curl's own timeout ends the transfer.
            spdlog::error("transport: cannot watch socket fd={}: {}", fd, e.what());
        }
        return 0;
    }

    static int on_timer(CURLM* /*multi*/, long timeout_ms, void* userp) {
        auto* self = static_cast<engine*>(userp);
        if (timeout_ms < 0) {
            self->timer_.cancel();
            return 0;
        }
        // Never call socket_action from inside a curl callback: let the loop do it. curl
        // asks for 0 ms after nearly every call (a transfer added, a socket done); re-arming
        // the timer for those would cancel and re-queue a wait each time, so one posted
        // action serves them all until it runs.
        if (timeout_ms == 0) {
            self->timer_.cancel();
            if (!self->kick_posted_) {
                self->kick_posted_ = true;
                asio::post(self->io_, [self, alive = std::weak_ptr<int>(self->alive_)] {
                    if (alive.expired()) {
                        return;
                    }
                    self->kick_posted_ = false;
                    self->action(CURL_SOCKET_TIMEOUT, 0);
                });
            }
            return 0;
        }
        self->timer_.expires_after(std::chrono::milliseconds(timeout_ms));
        self->timer_.async_wait(
            [self, alive = std::weak_ptr<int>(self->alive_)](const error_code& ec) {
                if (ec || alive.expired()) {
                    return;
                }
                self->action(CURL_SOCKET_TIMEOUT, 0);
            });
        return 0;
    }

    static size_t on_body(char* data, size_t size, size_t count, void* userp) {
        auto* t = static_cast<transfer*>(userp);
        const std::size_t n = size * count;
        const std::size_t room =
            max_response_body - std::min(max_response_body, t->answer.body.size());
        t->answer.body.append(data, std::min(n, room));
        return n;  // drop the excess instead of failing the transfer
    }

    static size_t on_header(char* data, size_t size, size_t count, void* userp) {
        auto* t = static_cast<transfer*>(userp);
        const std::size_t n = size * count;
        const std::string_view line = trim(std::string_view(data, n));
        if (line.substr(0, 5) == "HTTP/") {
            t->answer.headers.clear();  // a new response (after 100 Continue): start over
            return n;
        }
        const auto colon = line.find(':');
        if (colon != std::string_view::npos && t->answer.headers.size() < max_response_headers) {
            t->answer.headers.emplace_back(
                std::string(trim(line.substr(0, colon))),
                std::string(trim(line.substr(colon + 1)).substr(0, 1024)));
        }
        return n;
    }

    // libcurl 7.88 hands SMTP server replies only to the debug callback. The reply that
    // set the response code ("250 2.0.0 Ok: queued as X", "550 5.1.1 ...") is what a
    // classifier wants, not the "221 Bye" to our QUIT that follows it.
    static int on_debug(CURL* /*easy*/, curl_infotype type, char* data, size_t size, void* userp) {
        if (type != CURLINFO_HEADER_IN) {
            return 0;
        }
        auto* t = static_cast<transfer*>(userp);
        const std::string_view line = trim(std::string_view(data, size));
        if (!line.empty()) {
            if (t->smtp_replies.size() == 8) {
                t->smtp_replies.erase(t->smtp_replies.begin());
            }
            t->smtp_replies.emplace_back(line.substr(0, 512));
        }
        return 0;
    }

    static size_t on_read(char* buffer, size_t size, size_t count, void* userp) {
        auto* t = static_cast<transfer*>(userp);
        const std::string& body = t->req.body;
        const std::size_t n = std::min(size * count, body.size() - t->upload_offset);
        std::memcpy(buffer, body.data() + t->upload_offset, n);
        t->upload_offset += n;
        return n;
    }

    // ------------------------------------------------------------------ sockets

    void update_socket(curl_socket_t fd, int what) {
        if (what == CURL_POLL_REMOVE) {
            if (const auto it = sockets_.find(fd); it != sockets_.end()) {
                forget(*it->second);
                sockets_.erase(it);
            }
            return;
        }
        auto& slot = sockets_[fd];
        if (!slot) {
            slot = std::make_shared<watched_socket>(io_, fd);
        }
        slot->interest = what;
        arm(slot);
    }

    // Asio must never close curl's fd: cancel our waits, then hand the fd back.
    static void forget(watched_socket& s) {
        s.removed = true;
        error_code ignored;
        s.descriptor.cancel(ignored);
        (void)s.descriptor.release();
    }

    void arm(const std::shared_ptr<watched_socket>& s) {
        if ((s->interest & CURL_POLL_IN) != 0 && !s->read_pending) {
            wait(s, asio::posix::stream_descriptor::wait_read);
        }
        if ((s->interest & CURL_POLL_OUT) != 0 && !s->write_pending) {
            wait(s, asio::posix::stream_descriptor::wait_write);
        }
    }

    void wait(const std::shared_ptr<watched_socket>& s,
              asio::posix::stream_descriptor::wait_type type) {
        const bool reading = type == asio::posix::stream_descriptor::wait_read;
        (reading ? s->read_pending : s->write_pending) = true;
        auto handler = [this, s, reading,
                        alive = std::weak_ptr<int>(alive_)](const error_code& ec) {
            (reading ? s->read_pending : s->write_pending) = false;
            if (ec == asio::error::operation_aborted || s->removed || alive.expired()) {
                return;
            }
            const int wanted = reading ? CURL_POLL_IN : CURL_POLL_OUT;
            if ((s->interest & wanted) == 0) {
                return;  // curl lost interest while we waited
            }
            int flags = reading ? CURL_CSELECT_IN : CURL_CSELECT_OUT;
            if (ec) {
                flags |= CURL_CSELECT_ERR;
            }
            action(s->fd, flags);
            if (alive.expired()) {
                return;  // a completion handler destroyed the transport
            }
            // curl may have dropped this socket, or dropped it and reopened the same
            // number: only re-arm the object still registered for this fd.
            if (const auto it = sockets_.find(s->fd); it != sockets_.end() && it->second == s) {
                arm(s);
            }
        };
        // Asio's epoll reactor is edge-triggered and forgets readiness that arrived while
        // no wait was queued; poll first so a socket that is already ready is not missed.
        pollfd p{s->fd, static_cast<short>(reading ? POLLIN : POLLOUT), 0};
        if (::poll(&p, 1, 0) > 0) {
            asio::post(io_, [handler = std::move(handler)]() mutable { handler(error_code{}); });
            return;
        }
        s->descriptor.async_wait(type, std::move(handler));
    }

    // ------------------------------------------------------------------ driving curl

    void action(curl_socket_t fd, int flags) {
        int running = 0;
        curl_multi_socket_action(multi_.get(), fd, flags, &running);
        collect_finished();
    }

    void collect_finished() {
        std::vector<std::unique_ptr<transfer>> finished;
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &queued)) {
            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            CURL* easy = msg->easy_handle;
            const CURLcode code = msg->data.result;
            const auto it = transfers_.find(easy);
            if (it == transfers_.end()) {
                continue;
            }
            auto t = std::move(it->second);
            transfers_.erase(it);
            curl_multi_remove_handle(multi_.get(), easy);
            t->answer.curl_code = static_cast<int>(code);
            long status = 0;
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
            long opened = 0;
            curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &opened);
            auto& counts = t->answer.kind == protocol::smtp ? smtp_counts_ : http_counts_;
            counts.transfers.fetch_add(1, std::memory_order_relaxed);
            counts.connections_opened.fetch_add(static_cast<std::uint64_t>(std::max(0L, opened)),
                                                std::memory_order_relaxed);
            t->answer.status = status;
            if (t->answer.kind == protocol::smtp && status != 0) {
                const std::string code = std::to_string(status);
                const auto line =
                    std::find_if(t->smtp_replies.rbegin(), t->smtp_replies.rend(),
                                 [&](const std::string& l) { return l.rfind(code, 0) == 0; });
                if (line != t->smtp_replies.rend()) {
                    t->answer.body = *line;
                }
            }
            if (code != CURLE_OK) {
                // The generic text names no host; the buffer's detail does (debug only).
                t->answer.error_text = curl_easy_strerror(code);
                t->answer.error_detail = t->error_buffer;
            }
            recycle(std::move(t->easy));
            finished.push_back(std::move(t));
        }
        // Completions run after the loop: a `done` may start new transfers.
        for (auto& t : finished) {
            complete(*t);
        }
    }

    static void complete(transfer& t) {
        auto done = std::move(t.done);
        if (done) {
            try {
                done(std::move(t.answer));
            } catch (const std::exception& e) {
                spdlog::error("transport: completion handler failed: {}", e.what());
            }
        }
    }

    // ------------------------------------------------------------------ setup

    // Easy handles are reused (curl_easy_reset keeps their buffers, drops every option):
    // a fresh one per transfer was an allocation of several KiB and its setup each time.
    easy_handle take_easy() {
        if (spare_.empty()) {
            return easy_handle(curl_easy_init());
        }
        auto h = std::move(spare_.back());
        spare_.pop_back();
        return h;
    }

    void recycle(easy_handle h) {
        if (!h || spare_.size() >= max_spare_handles) {
            return;  // cleaned up here
        }
        curl_easy_reset(h.get());
        spare_.push_back(std::move(h));
    }

    std::unique_ptr<transfer> make_transfer(request req, core::duration timeout) {
        auto t = std::make_unique<transfer>();
        t->answer.kind = req.kind;
        if (req.method.empty()) {
            req.method = "POST";
        }
        t->req = std::move(req);
        const request& r = t->req;

        t->easy = take_easy();
        if (!t->easy) {
            return nullptr;
        }
        CURL* e = t->easy.get();
        curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
        curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        // The threaded resolver's getaddrinfo cannot be interrupted: without this, removing
        // a transfer that timed out mid-lookup joins the resolver thread and blocks the io
        // thread until the lookup returns (curl issues #2975, #4852). With it, libcurl
        // leaves the thread to finish on its own.
        curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                         static_cast<long>(std::max<std::int64_t>(1, timeout.count())));
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error_buffer);
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &engine::on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &engine::on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
        if (!r.username.empty()) {
            curl_easy_setopt(e, CURLOPT_USERNAME, r.username.c_str());
            curl_easy_setopt(e, CURLOPT_PASSWORD, r.password.c_str());
        }
        if (r.insecure_skip_verify) {
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        }

        if (r.kind == protocol::smtp) {
            curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
            curl_easy_setopt(e, CURLOPT_MAIL_FROM, r.mail_from.c_str());
            for (const std::string& to : r.rcpt) {
                t->rcpt = append(std::move(t->rcpt), to);
            }
            curl_easy_setopt(e, CURLOPT_MAIL_RCPT, t->rcpt.get());
            curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(e, CURLOPT_READFUNCTION, &engine::on_read);
            curl_easy_setopt(e, CURLOPT_READDATA, t.get());
            curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
            curl_easy_setopt(e, CURLOPT_USE_SSL,
                             r.use_tls != 0 ? static_cast<long>(CURLUSESSL_ALL)
                                            : static_cast<long>(CURLUSESSL_NONE));
            curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, &engine::on_debug);
            curl_easy_setopt(e, CURLOPT_DEBUGDATA, t.get());
            curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);  // feeds on_debug only, never stderr
            // One message per connection: an idle cached SMTP session would only time out.
            curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
        } else {
            curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
            for (const auto& [key, value] : r.headers) {
                t->headers = append(std::move(t->headers), key + ": " + value);
            }
            // Without this curl waits up to a second for "100 Continue" on larger bodies.
            t->headers = append(std::move(t->headers), "Expect:");
            curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers.get());
            if (r.method == "GET") {
                // A plain GET (Kannel's sendsms): no body, no Content-Type.
                curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
            } else {
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
                curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                                 static_cast<curl_off_t>(r.body.size()));
                if (r.method != "POST") {
                    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
                }
            }
            if (!r.username.empty()) {
                curl_easy_setopt(e, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
            }
        }
        return t;
    }

    void perform(request req, core::duration timeout, std::function<void(reply)> done) {
        const protocol kind = req.kind;
        auto t = make_transfer(std::move(req), timeout);
        if (!t) {
            reply answer;
            answer.kind = kind;
            answer.curl_code = CURLE_OUT_OF_MEMORY;
            answer.error_text = "cannot create a curl handle";
            asio::post(io_, [done = std::move(done), answer = std::move(answer)]() mutable {
                if (done) {
                    done(std::move(answer));
                }
            });
            return;
        }
        t->done = std::move(done);
        CURL* easy = t->easy.get();
        const CURLMcode rc = curl_multi_add_handle(multi_.get(), easy);
        if (rc != CURLM_OK) {
            t->answer.curl_code = CURLE_FAILED_INIT;
            t->answer.error_text = curl_multi_strerror(rc);
            std::shared_ptr<transfer> shared(std::move(t));
            asio::post(io_, [shared] { complete(*shared); });
            return;
        }
        transfers_.emplace(easy, std::move(t));
    }

    void cancel_all() {
        auto pending = std::move(transfers_);
        transfers_.clear();
        for (auto& [easy, t] : pending) {
            curl_multi_remove_handle(multi_.get(), easy);
            t->answer.curl_code = CURLE_ABORTED_BY_CALLBACK;
            t->answer.error_text = "cancelled: the transport is shutting down";
        }
        for (auto& [easy, t] : pending) {
            complete(*t);
        }
    }

    struct counts {
        std::atomic<std::uint64_t> transfers{0};
        std::atomic<std::uint64_t> connections_opened{0};

        [[nodiscard]] transport::protocol_stats load() const {
            return {transfers.load(std::memory_order_relaxed),
                    connections_opened.load(std::memory_order_relaxed)};
        }
    };

    asio::io_context& io_;
    asio::steady_timer timer_;
    bool kick_posted_{false};
    counts http_counts_;
    counts smtp_counts_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // handlers hold a weak_ptr
    std::map<curl_socket_t, std::shared_ptr<watched_socket>> sockets_;
    std::map<CURL*, std::unique_ptr<transfer>> transfers_;
    std::vector<easy_handle> spare_;  // reset, ready for the next transfer
    multi_handle multi_;              // last: cleaned up first, while the maps above still exist
};

// The thread and its loop around the engine. The engine is created, used and destroyed on
// the "curl" thread only; `in_flight` and the counters are the only state both threads read.
struct transport::impl {
    explicit impl(asio::io_context& caller) : caller(caller), work(asio::make_work_guard(loop)) {
        thread = std::thread([this] {
            core::name_this_thread("curl");
            curl = std::make_unique<engine>(loop);
            started.set_value();
            loop.run();
        });
        started.get_future().wait();
    }

    ~impl() {
        // The engine goes on its own thread; pending transfers end without their `done`.
        asio::post(loop, [this] {
            curl.reset();
            work.reset();
        });
        thread.join();
    }

    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;

    asio::io_context& caller;
    asio::io_context loop;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::unique_ptr<engine> curl;
    std::shared_ptr<std::atomic<std::size_t>> in_flight =
        std::make_shared<std::atomic<std::size_t>>(0);
    std::promise<void> started;
    std::thread thread;  // last: starts once everything above exists
};

transport::transport(asio::io_context& io) : impl_(std::make_unique<impl>(io)) {}

transport::~transport() = default;

void transport::perform(request req, core::duration timeout, std::function<void(reply)> done) {
    impl_->in_flight->fetch_add(1, std::memory_order_relaxed);
    // The reply goes back to the caller's loop; the guard keeps that loop's run() from
    // returning while a transfer is out on the curl thread (hotlinectl runs until done).
    // The count is shared, not reached through impl_: a reply already posted may run on
    // the caller's loop after the transport is gone.
    auto back = [count = impl_->in_flight, guard = asio::make_work_guard(impl_->caller),
                 done = std::move(done)](reply answer) mutable {
        asio::post(guard.get_executor(),
                   [count, done = std::move(done), answer = std::move(answer)]() mutable {
                       count->fetch_sub(1, std::memory_order_relaxed);
                       if (done) {
                           done(std::move(answer));
                       }
                   });
        guard.reset();
    };
    asio::post(impl_->loop,
               [im = impl_.get(), req = std::move(req), timeout, back = std::move(back)]() mutable {
                   im->curl->perform(std::move(req), timeout, std::move(back));
               });
}

std::size_t transport::in_flight() const {
    return impl_->in_flight->load(std::memory_order_relaxed);
}

transport::stats transport::counters() const {
    const engine& e = *impl_->curl;
    return {e.http_counts_.load(), e.smtp_counts_.load()};
}

void transport::cancel_all() {
    // Each `done` gets its abort on the caller's loop, after this returns.
    asio::post(impl_->loop, [im = impl_.get()] { im->curl->cancel_all(); });
}

}  // namespace hotline::net
