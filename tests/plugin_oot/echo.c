/*
 * "echo": a minimal out-of-tree hotline channel module in plain C99.
 *
 * It POSTs "<prefix><subject>\n\n<body>" as text/plain to the contact's URL and counts
 * any 2xx as delivered. It shows the whole contract of hotline/channel.h: option
 * validation with the offending key, address checks, a request the module owns and
 * frees, and a classifier. Build: see CMakeLists.txt next to this file.
 */
#define _POSIX_C_SOURCE 200809L
#include <hotline/channel.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hotline_channel {
    char* prefix;
};

static void fail(hotline_error* err, const char* key, const char* message) {
    if (err != NULL) {
        snprintf(err->key, sizeof err->key, "%s", key);
        snprintf(err->message, sizeof err->message, "%s", message);
    }
}

static int has_control(const char* s) {
    for (; *s != '\0'; ++s) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 1;
        }
    }
    return 0;
}

static hotline_channel* echo_create(const hotline_kv* options, size_t n, hotline_error* err) {
    hotline_channel* ch = calloc(1, sizeof *ch);
    size_t i;
    if (ch == NULL) {
        fail(err, "", "out of memory");
        return NULL;
    }
    for (i = 0; i < n; ++i) {
        if (strcmp(options[i].key, "prefix") == 0) {
            free(ch->prefix);
            ch->prefix = strdup(options[i].value);
        } else {
            fail(err, options[i].key, "unknown option (known: prefix)");
            free(ch->prefix);
            free(ch);
            return NULL;
        }
    }
    if (ch->prefix == NULL) {
        ch->prefix = strdup("");
    }
    if (ch->prefix == NULL) {
        fail(err, "", "out of memory");
        free(ch);
        return NULL;
    }
    return ch;
}

static int echo_validate_address(hotline_channel* ch, const char* address, hotline_error* err) {
    (void)ch;
    if (strncmp(address, "http://", 7) != 0 || address[7] == '\0' || has_control(address) ||
        strchr(address, ' ') != NULL) {
        fail(err, "", "echo address must be an http:// URL");
        return 1;
    }
    return 0;
}

static int echo_build(hotline_channel* ch, const hotline_alert* alert, hotline_request* out,
                      hotline_error* err) {
    const char* subject = alert->subject != NULL ? alert->subject : "";
    const char* body = alert->body != NULL ? alert->body : "";
    size_t len;
    if (echo_validate_address(ch, alert->address, err) != 0) {
        return 1;
    }
    len = strlen(ch->prefix) + strlen(subject) + 2 + strlen(body);
    out->transport = HOTLINE_TRANSPORT_HTTP;
    out->url = strdup(alert->address);
    out->method = strdup("POST");
    out->body = malloc(len + 1);
    out->headers = calloc(2, sizeof(hotline_kv));
    if (out->url == NULL || out->method == NULL || out->body == NULL || out->headers == NULL) {
        fail(err, "", "out of memory");
        return 1; /* the host still calls free_request */
    }
    snprintf(out->body, len + 1, "%s%s\n\n%s", ch->prefix, subject, body);
    out->body_len = len;
    out->headers[0].key = "Content-Type"; /* static strings: free_request leaves them */
    out->headers[0].value = "text/plain; charset=utf-8";
    out->headers[1].key = "X-Echo-Key";
    out->headers[1].value = strdup(alert->idempotency_key != NULL ? alert->idempotency_key : "");
    out->n_headers = 2;
    if (out->headers[1].value == NULL) {
        fail(err, "", "out of memory");
        return 1;
    }
    return 0;
}

static void echo_free_request(hotline_channel* ch, hotline_request* req) {
    (void)ch;
    free(req->url);
    free(req->method);
    free(req->body);
    if (req->headers != NULL) {
        free((char*)req->headers[1].value);
        free(req->headers);
    }
    req->url = NULL;
    req->method = NULL;
    req->body = NULL;
    req->headers = NULL;
    req->n_headers = 0;
}

static void echo_classify(hotline_channel* ch, const hotline_reply* reply, hotline_outcome* out) {
    (void)ch;
    if (reply->transport_error == 0 && reply->status >= 200 && reply->status < 300) {
        out->kind = HOTLINE_DELIVERED;
    } else if (reply->transport_error == HOTLINE_TERR_URL_MALFORMAT ||
               (reply->status >= 400 && reply->status < 500)) {
        out->kind = HOTLINE_PERMANENT;
    } else {
        out->kind = HOTLINE_RETRY;
    }
    snprintf(out->detail, sizeof out->detail, "echo: status %ld, transport %d", reply->status,
             reply->transport_error);
}

static void echo_destroy(hotline_channel* ch) {
    if (ch != NULL) {
        free(ch->prefix);
        free(ch);
    }
}

/* Declares itself a 1.0 module (the table ends before 1.1's flags): the host must still
 * load it and read it as flags = 0, no parse_status. */
static const hotline_channel_v1 echo_entry = {
    offsetof(hotline_channel_v1, flags),
    "echo",
    echo_create,
    echo_validate_address,
    echo_build,
    echo_free_request,
    echo_classify,
    echo_destroy,
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    0,
    NULL,
};

HOTLINE_EXPORT uint32_t hotline_channel_abi(const uint32_t* offered, size_t n) {
    size_t i;
    for (i = 0; i < n; ++i) {
        if (offered[i] == HOTLINE_CHANNEL_ABI_V1) {
            return HOTLINE_CHANNEL_ABI_V1;
        }
    }
    return 0;
}

HOTLINE_EXPORT const hotline_channel_v1* hotline_channel_entry_v1(void) {
    return &echo_entry;
}
