/*
 * hotline channel plugin ABI, version 1.
 *
 * A channel module turns an alert into one transport request (HTTP or SMTP) and
 * classifies the transport's answer. The host (hotlined) owns all I/O, timers,
 * retries and storage; a module does no I/O of its own and keeps no global state.
 *
 * A module exports two symbols:
 *   uint32_t hotline_channel_abi(const uint32_t* offered, size_t n);
 *       The host lists the ABI versions it speaks; return the one chosen, or 0.
 *   const hotline_channel_v1* hotline_channel_entry_v1(void);
 *       The vtable for version 1 (only called when 1 was chosen).
 *
 * Revisions of version 1 (each only appends fields; check struct_size):
 *   1.0  the structs as first published.
 *   1.1  hotline_alert gains sms_encoding, sms_segments and status_url;
 *        hotline_channel_v1 gains flags and parse_status. A 1.0 module stays loadable:
 *        the host reads flags/parse_status only when the entry's struct_size covers them
 *        and treats a 1.0 module as flags = 0, no parse_status.
 *
 * Rules:
 *   - Pure C. Nothing may throw across this boundary.
 *   - Whoever allocates frees: strings the host passes stay valid for the call only;
 *     what a module puts into a hotline_request it frees in free_request.
 *   - Structs start with struct_size and only grow by appending; check struct_size
 *     before reading a field that a later minor revision added.
 *   - Strings are UTF-8 and NUL-terminated unless a length is given.
 */
#ifndef HOTLINE_CHANNEL_H
#define HOTLINE_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HOTLINE_EXPORT __attribute__((visibility("default")))
#else
#define HOTLINE_EXPORT
#endif

#define HOTLINE_CHANNEL_ABI_V1 1u

typedef struct hotline_channel hotline_channel; /* opaque, module-owned */

typedef struct {
    const char* key;
    const char* value;
} hotline_kv;

/* Filled by the module on failure. `key` names the offending option (or is empty),
 * so the host can point at its file:line:column. */
typedef struct {
    uint32_t struct_size;
    char key[64];
    char message[448];
} hotline_error;

/* One message to one address. All pointers are owned by the host. */
typedef struct {
    uint32_t struct_size;
    const char* notification_id; /* decimal */
    const char* idempotency_key; /* stable across retries of this notification */
    const char* address;         /* contact address: URL, email address, phone */
    const char* subject;         /* rendered template, UTF-8 */
    const char* body;            /* rendered template, UTF-8 */
    const char* payload_json;    /* alert as JSON, already redacted for this recipient */
    const char* severity;        /* critical | high | normal | low */
    const char* language;        /* en | ru */
    int64_t now_unix;            /* seconds, for signatures */
    uint32_t attempt;            /* 1 for the first attempt */
    void* reserved[8];
    /* 1.1: for a channel with HOTLINE_CHANNEL_SMS, set by the host after it shortened
     * (and maybe transliterated) `body` to the channel's max_segments. NULL/0 for other
     * channels or an older host (check struct_size). */
    const char* sms_encoding; /* "gsm7" (3GPP TS 23.038 default alphabet + extension
                                 table) or "ucs2" */
    uint32_t sms_segments;    /* how many SMS segments `body` takes in that encoding */
    /* 1.1: where the provider should report delivery status for this notification
     * (an absolute URL under the daemon's public_url that authenticates itself), or ""
     * when the host has no public_url or the channel has no parse_status. */
    const char* status_url;
} hotline_alert;

enum hotline_transport { HOTLINE_TRANSPORT_HTTP = 1, HOTLINE_TRANSPORT_SMTP = 2 };

/* What the module asks the host to send. Filled by build(); freed by free_request(). */
typedef struct {
    uint32_t struct_size;
    int transport;       /* enum hotline_transport */
    char* url;           /* http(s)://… or smtp(s)://host:port */
    char* method;        /* HTTP only: "POST", "PUT", "GET" (no body); NULL = POST */
    hotline_kv* headers; /* HTTP only: extra headers */
    size_t n_headers;
    char* mail_from; /* SMTP only: envelope sender */
    char** rcpt;     /* SMTP only: envelope recipients */
    size_t n_rcpt;
    char* body; /* HTTP body or the whole RFC 5322 message */
    size_t body_len;
    char* username; /* optional transport auth (HTTP basic, SMTP AUTH) */
    char* password;
    int use_tls;              /* SMTP: 0 none, 1 STARTTLS required, 2 implicit TLS (smtps) */
    int insecure_skip_verify; /* 1 = do not verify the peer certificate (tests only) */
    void* reserved[8];
} hotline_request;

/* What the transport answered. Owned by the host. */
typedef struct {
    uint32_t struct_size;
    int transport;
    int transport_error;    /* 0, or the transport's error code (libcurl CURLcode) */
    const char* error_text; /* human-readable transport error, or "" */
    long status;            /* HTTP status, or the last SMTP reply code (0 = none) */
    /* HTTP: the response body (truncated at 64 KiB). SMTP: the server's last reply
     * line, e.g. "250 2.0.0 Ok: queued as 4XyZ" (or ""). */
    const char* body;
    size_t body_len;
    const hotline_kv* headers; /* HTTP response headers */
    size_t n_headers;
    void* reserved[8];
} hotline_reply;

/* transport_error values a classifier commonly needs. They are libcurl's CURLcode
 * numbers (stable across libcurl versions), named here so a module needs no curl.h. */
#define HOTLINE_TERR_UNSUPPORTED_PROTOCOL 1
#define HOTLINE_TERR_URL_MALFORMAT 3
#define HOTLINE_TERR_COULDNT_RESOLVE_HOST 6
#define HOTLINE_TERR_COULDNT_CONNECT 7
#define HOTLINE_TERR_OPERATION_TIMEDOUT 28
#define HOTLINE_TERR_ABORTED 42 /* cancelled by the host (shutdown) */
#define HOTLINE_TERR_LOGIN_DENIED 67

enum hotline_outcome_kind {
    HOTLINE_DELIVERED = 1, /* accepted; provider_id may name the provider's id */
    HOTLINE_RETRY = 2,     /* try again later (5xx, 429, timeout, connection refused) */
    HOTLINE_PERMANENT = 3  /* this address will never work (4xx, bad recipient) */
};

typedef struct {
    uint32_t struct_size;
    int kind; /* enum hotline_outcome_kind */
    char provider_id[128];
    char detail[256];       /* short reason, no message contents */
    int64_t retry_after_ms; /* a hint from the provider (Retry-After), 0 = none */
} hotline_outcome;

/* Channel flags (hotline_channel_v1.flags, 1.1). */
#define HOTLINE_CHANNEL_SMS 1u /* addresses are phone numbers, bodies are SMS texts: the
                                  host applies max_segments / transliterate and fills
                                  hotline_alert.sms_encoding and sms_segments */

/* A delivery-status callback (Twilio StatusCallback, Vonage DLR, Kannel dlr-url) as
 * parse_status reads it (1.1). */
enum hotline_status_state {
    HOTLINE_STATUS_IGNORE = 0,    /* not a final state (queued, sent, buffered) or unknown */
    HOTLINE_STATUS_DELIVERED = 1, /* the handset has it */
    HOTLINE_STATUS_FAILED = 2     /* will not be delivered; detail says why */
};

typedef struct {
    uint32_t struct_size;
    int state;              /* enum hotline_status_state */
    int permanent;          /* FAILED only: 1 = this address will never work (invalid,
                               unsubscribed), 0 = this message failed */
    char provider_id[128];  /* the provider's message id, if the callback names it */
    char detail[256];       /* short reason (provider error code and name), no contents */
} hotline_status;

typedef struct {
    uint32_t struct_size;
    const char* type; /* the channel type this module implements, e.g. "webhook" */
    /* Validates options and creates an instance; NULL and *err filled on bad options.
     * Unknown keys are errors. Secret options arrive with their file contents. */
    hotline_channel* (*create)(const hotline_kv* options, size_t n_options, hotline_error* err);
    /* Checks that an address is usable by this channel (URL, email, phone). 0 = ok. */
    int (*validate_address)(hotline_channel* ch, const char* address, hotline_error* err);
    /* Builds the transport request for one attempt. 0 = ok; nonzero = permanent failure
     * described in *err (the host does not retry). */
    int (*build)(hotline_channel* ch, const hotline_alert* alert, hotline_request* out,
                 hotline_error* err);
    /* Called once after every build(), also a failed one: it must accept a zeroed or
     * partly filled request (NULL pointers). */
    void (*free_request)(hotline_channel* ch, hotline_request* req);
    /* Classifies the transport's answer. Always fills *out. */
    void (*classify)(hotline_channel* ch, const hotline_reply* reply, hotline_outcome* out);
    void (*destroy)(hotline_channel* ch);
    void* reserved[8];
    /* 1.1 */
    uint32_t flags; /* HOTLINE_CHANNEL_* */
    /* Reads a delivery-status callback: `params` are the callback's query and form
     * parameters (both, query first), as the provider sent them, percent-decoded. The
     * host has already authenticated the callback (the status_url it handed out) and
     * knows the notification. Always fills *out. May be NULL (no status callbacks). */
    void (*parse_status)(hotline_channel* ch, const hotline_kv* params, size_t n_params,
                         hotline_status* out);
} hotline_channel_v1;

typedef uint32_t (*hotline_channel_abi_fn)(const uint32_t* offered, size_t n);
typedef const hotline_channel_v1* (*hotline_channel_entry_v1_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* HOTLINE_CHANNEL_H */
