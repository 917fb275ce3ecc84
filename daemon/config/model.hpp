// The configuration model (conf/hotline.yaml and its includes): plain data. The loader is
// config/loader.hpp.
// Every value keeps the mark where it was written, so later checks (plugins, cross
// references) can name file:line:column.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.hpp"
#include "core/mark.hpp"
#include "core/result.hpp"
#include "domain/people.hpp"
#include "rules/oncall.hpp"
#include "rules/route.hpp"

namespace hotline::config {

using namespace std::chrono_literals;
using core::duration;
using core::error;
using core::mark;
using core::result;
using domain::contact;
using domain::person;

// A named secret read from a file (`*_file:` key). The value never reaches a log.
struct secret {
    std::string value;
    std::string file;  // resolved path, for messages
    bool operator==(const secret&) const = default;
};

// A token bucket: `rate` reports per second on average, `burst` at once. rate 0: no limit.
struct rate_limit {
    double rate{0};
    std::size_t burst{0};
    [[nodiscard]] bool enabled() const noexcept { return rate > 0; }
};

// The limits every source gets unless its own `rate_limits:` says otherwise; far above
// what a real reporter or partner sends, so only a flood meets them.
struct rate_limits {
    rate_limit source{200.0, 400};       // all reports of one source
    rate_limit sender{20.0 / 60.0, 10};  // reports of one sender (phone, email) of a source
};

// How the pipeline shares the store's writer between sources (ingest/fair_queue.hpp).
struct ingest_limits {
    std::size_t max_in_flight{256};             // commits queued at the writer, all sources
    std::size_t max_in_flight_per_source{128};  // ... of one source
    std::size_t max_queued_per_source{1024};    // waiting in memory; past it 429
    std::size_t max_queued{8192};               // waiting in memory, all sources; past it 503
};

struct server_config {
    std::string listen_address{"127.0.0.1"};
    std::uint16_t port{8080};           // 0 = any free port (tests); the bound port is logged
    std::size_t body_limit{64 * 1024};  // bytes; larger bodies get 413
    duration read_timeout{10s};         // per request head+body
    duration idle_timeout{60s};         // keep-alive idle
    std::size_t max_connections{1024};  // past this, new connections are closed at once
    // How long a report's source waits for its commit before it is answered 503 (a stuck
    // store must not hang connections); the commit may still land after that.
    duration submit_timeout{5s};
    std::size_t max_connections_per_ip{64};
    // Of max_connections, slots only a connection that authenticated may hold (default: a
    // quarter); when the rest is full, the oldest idle unauthenticated connection goes.
    std::optional<std::size_t> reserved_connections;
    duration preauth_timeout{10s};  // a connection not authenticated by then is closed when idle
    // The /metrics listener; an empty address: none, /metrics is served on the main one.
    std::string metrics_address{"127.0.0.1"};
    std::uint16_t metrics_port{9464};
    secret metrics_token;  // when set, /metrics needs "Authorization: Bearer <token>"
    rate_limits limits;
    ingest_limits ingest;
    mark at;

    [[nodiscard]] std::size_t reserved() const noexcept {
        return reserved_connections.value_or(max_connections / 4);
    }
};

struct storage_config {
    std::string path{"var/hotline.db"};  // resolved against the main config file's folder
    std::size_t max_batch{512};          // group commit: most operations per transaction
    // The key that seals report contents and payloads at rest (32 random bytes, raw or as
    // 64 hex digits). Resolved against secrets_dir ($CREDENTIALS_DIRECTORY under systemd)
    // when relative; read and checked when the store opens, not by the loader.
    std::string key_file{"storage.key"};
    // Report contents older than this are purged (store::purge_contents); 0 = kept forever.
    duration retention{0};
    mark at;
};

struct logging_config {
    std::string format{"text"};  // text | json
    std::string level{"info"};   // trace debug info warn error
    mark at;
};

// kind: imap. One mailbox a source thread watches (ingest/imap_source).
struct imap_source {
    std::string host;
    std::uint16_t port{993};
    std::string tls{"tls"};  // tls | starttls | none (none: loopback hosts only)
    std::string ca_file;     // extra CA bundle for the server's certificate; empty: system
    std::string username;
    secret password;  // password_file
    std::string mailbox{"INBOX"};
    std::string move_to;          // after_store: {move: FOLDER}; empty: after_store: seen
    duration poll_interval{60s};  // how often to look without IDLE
    duration timeout{30s};        // per IMAP command; a dead connection is noticed by then
    std::size_t max_message_size{25 * 1024 * 1024};
    std::size_t max_attachment_size{10 * 1024 * 1024};  // bytes kept per attachment
    std::string default_language;                       // when the detector is unsure; empty: "und"
    bool operator==(const imap_source&) const = default;
};

// kind: sms, `receipt:`: the optional automatic reply to a reporter (off by default).
struct sms_receipt {
    bool enabled{false};
    std::string channel;                      // an SMS channel (channels:) it is sent through
    std::map<std::string, std::string> text;  // by language: "en", "ru" (both required)
    unsigned max_per_day{1};                  // per sender (keyed hash), 1..10
    bool operator==(const sms_receipt&) const = default;
};

// kind: sms. One SMS gateway's inbound webhook, mounted on the main HTTP server
// (ingest/sms_gateway, http/endpoints/sms).
struct sms_source {
    std::string gateway;         // twilio | vonage | kannel | smssync
    std::string path;            // default "/v1/sms/<source name>"
    std::string default_region;  // ISO 3166-1 alpha-2 for national numbers, e.g. "RU"
    std::string public_url;      // the URL the gateway calls (Twilio signs it); "" = as received
    secret auth_token;           // twilio: auth_token_file (X-Twilio-Signature key)
    secret signature_secret;     // vonage: signature_secret_file (`sig`)
    std::string signature_method{"md5hash"};  // vonage: md5hash | md5 | sha1 | sha256 | sha512
    secret token;          // vonage unsigned: token_file, in the path (…/<token>)
    secret shared_secret;  // kannel: secret_file (a query parameter); smssync: `secret`
    std::vector<std::string> allowed_addresses;  // CIDRs; empty = any (then a secret is required)
    duration parts_timeout{2min};  // a concatenated SMS is stored with what arrived by then
    std::string default_language;  // when the detector is unsure; empty: "und"
    sms_receipt receipt;
    bool operator==(const sms_source&) const = default;
};

struct source_config {
    std::string name;
    std::string kind{"webhook"};  // webhook | imap | sms
    std::vector<secret> tokens;   // bearer tokens (token_file or token_files)
    imap_source imap;             // kind: imap
    sms_source sms;               // kind: sms
    // `rate_limits:` of this source; what it leaves out comes from server.rate_limits.
    std::optional<rate_limit> source_limit;
    std::optional<rate_limit> sender_limit;
    mark at;
};

struct retry_policy {
    int max_attempts{8};
    duration initial_backoff{1s};
    duration max_backoff{5min};
    duration max_age{1h};  // give up on an address after this long
};

struct channel_option {
    std::string key;    // for `*_file` keys: the key without `_file`
    std::string value;  // for secrets: the file contents (trailing newline cut)
    bool is_secret{false};
    mark at;
};

struct channel_config {
    std::string name;                     // instance name used by contacts
    std::string type;                     // plugin type: webhook, smtp, ...
    std::vector<channel_option> options;  // everything not a host key, passed to the plugin
    std::size_t concurrency{16};          // transfers in flight on this channel
    // Jobs the dispatcher holds in memory for this channel (waiting, in flight, being
    // recorded); the rest of a backlog stays in the store and is paged in as room frees.
    std::size_t max_queued{1000};
    duration timeout{10s};  // per attempt
    retry_policy retry;
    // SMS channels only (a plugin with HOTLINE_CHANNEL_SMS; plugin_host::instantiate refuses
    // them elsewhere): the rendered text is shortened to max_segments (1..10), Cyrillic
    // turned into GSM-7 Latin first when transliterate is on.
    unsigned max_segments{3};
    bool transliterate{false};
    std::string sms_key;  // the first of the two keys set here ("" = neither), and where
    mark sms_key_at;
    mark at;
};

// `ack_links:` the signed acknowledgement link in every alert (dispatch/ack_link): how long
// one stays valid. No public_url: no link.
struct ack_links_config {
    duration ttl{std::chrono::hours(24 * 7)};
    mark at;
};

struct message_template {
    std::string subject;  // mustache
    std::string body;     // mustache
    mark at;
};

// An escalation policy (docs/escalation.md): its steps page their targets one after the
// other until someone acknowledges the case.
struct policy_step {
    std::vector<domain::target> targets;            // responder:, partner:, team:, schedule:
    duration ack_within{std::chrono::minutes(15)};  // before the next step fires
    mark at;
};

struct escalation_policy {
    std::string id;
    std::vector<policy_step> steps;
    unsigned repeat{0};  // how many more times the steps run after the last one
    // An acknowledged case nobody resolved within this opens again and escalation resumes
    // from step 1; zero: never.
    duration ack_timeout{0};
    bool notify_on_ack{false};      // notify_on: [ack]: tell those already paged
    bool notify_on_resolve{false};  // notify_on: [resolve]
    mark at;
};

// `teams:`: a named group of responders (target team:ID pages every member).
struct team {
    std::string id;
    std::string name;
    std::vector<std::string> members;
    mark at;
};

// `tests:` in rule files (docs/escalation.md, "Testing rules"): a report in and the
// decision expected out. `hotlinectl test-rules` runs them (ctl/test_rules); the daemon
// only checks their syntax when it loads the files.
struct rule_test_report {
    std::string source;       // "": the first configured source
    std::string source_kind;  // "": that source's kind
    std::string sender;
    std::string country;
    std::string subject;
    std::string text;
    std::optional<std::string> language;  // unset: guessed from the text, as a webhook does
    std::map<std::string, std::string> labels;
    mark source_at;
};

// What a test checks; an unset field is not checked.
struct rule_test_expect {
    std::optional<std::vector<std::vector<std::string>>> paths;  // `path:` (one) or `paths:`
    std::optional<std::string> severity;
    std::optional<std::string> policy;                           // "" : none
    std::optional<std::map<std::string, std::string>> labels;    // these labels, others ignored
    std::optional<std::vector<std::string>> targets;             // people paged at `at`
    std::optional<std::vector<std::vector<std::string>>> steps;  // each policy step's people
    std::optional<bool> muted;
    std::optional<std::vector<std::string>> muted_by;
    std::optional<std::vector<std::string>> group_by;
    std::optional<std::int64_t> group_window_ms;
};

struct rule_test {
    std::string name;
    rule_test_report report;
    std::optional<std::int64_t> at_ms;  // unset: the time of the run
    rule_test_expect expect;
    std::string path;  // "tests[2]", within its file
    mark at;
};

// `checkins:` a defender on a risky trip who must check in (`OK`, `OK 1234`) every
// `interval` (docs/escalation.md, "Check-ins and duress"). A check-in missed by `grace`
// opens a case through `policy`; the duress PIN, accepted like any check-in, opens a
// critical case through `duress_policy`. PINs come from files, never inline.
struct checkin_enrollment {
    std::string id;
    std::string name;
    std::string phone;  // E.164: the number check-ins come from
    std::string language{"en"};
    duration interval{std::chrono::hours(6)};  // when CHECKIN START names no period
    duration grace{std::chrono::minutes(30)};
    std::string policy;         // a missed check-in
    std::string duress_policy;  // the duress PIN
    std::string pin;            // "" none: a plain OK counts
    std::string duress_pin;     // "" none
    mark at;
};

struct config {
    std::string file;      // main file as given
    std::string base_dir;  // folder of the main file
    std::string secrets_dir;
    std::string plugin_dir;  // where channel modules are loaded from
    std::string public_url;  // base URL shown in messages (ack hints); may be empty
    // The case tag's prefix: outbound mail subjects carry "[<prefix> #<case>]" and an
    // inbound mail with that tag joins the case (docs/sources/email.md).
    std::string case_tag_prefix{"HOTLINE"};
    ack_links_config ack_links;
    server_config server;
    storage_config storage;
    logging_config logging;
    std::vector<source_config> sources;
    std::vector<channel_config> channels;
    std::vector<person> responders;
    std::vector<person> partners;
    std::vector<person> admins;
    std::vector<team> teams;
    std::vector<escalation_policy> policies;
    std::vector<rules::schedule> schedules;  // `schedules:`, the math in rules/oncall
    rules::route_node route;
    std::vector<rules::named_time_interval> time_intervals;
    // templates[channel type][language]; shipped defaults filled in for webhook, smtp
    // and any type without its own, in en and ru.
    std::map<std::string, std::map<std::string, message_template>> templates;
    // `tests:` of the rule files (ignored at run time; ctl/test_rules runs them).
    std::vector<rule_test> tests;
    std::vector<checkin_enrollment> checkins;  // `checkins:`

    [[nodiscard]] const channel_config* find_channel(const std::string& name) const;
    [[nodiscard]] const source_config* find_source(const std::string& name) const;
    // server.rate_limits with what the source's own `rate_limits:` overrides.
    [[nodiscard]] rate_limits limits_for(const std::string& source) const;
    [[nodiscard]] const person* find_responder(const std::string& id) const;
    [[nodiscard]] const person* find_partner(const std::string& id) const;
    [[nodiscard]] const escalation_policy* find_policy(const std::string& id) const;
    [[nodiscard]] const team* find_team(const std::string& id) const;
    [[nodiscard]] const rules::schedule* find_schedule(const std::string& id) const;

    // Whose contact an inbound reply comes from (an SMS or mail of a person paged).
    struct contact_owner {
        std::string target;  // "responder:<id>" or "partner:<id>"
        const person* who{nullptr};
        const domain::contact* contact{nullptr};
    };
    // The first responder, else partner, with a contact whose address is `address` (exactly,
    // or ignoring ASCII case for mail addresses) and that `accept` takes (every one when
    // empty).
    [[nodiscard]] std::optional<contact_owner> find_contact_owner(
        std::string_view address, bool ignore_case,
        const std::function<bool(const domain::contact&)>& accept = {}) const;
    [[nodiscard]] const checkin_enrollment* find_checkin(const std::string& id) const;
    // The enrolled defender whose phone is `e164`, if any.
    [[nodiscard]] const checkin_enrollment* find_checkin_by_phone(const std::string& e164) const;
};

// The built-in templates for a channel type and language ("en" when unknown).
[[nodiscard]] const message_template& default_template(const std::string& channel_type,
                                                       const std::string& language);

}  // namespace hotline::config
