#include "http/ack_page.hpp"

#include <ctime>

#include "dispatch/templates.hpp"

namespace hotline::http {
namespace {

// One language's words. Every page is English or Russian; an unknown viewer gets both.
struct words {
    const char* lang;
    const char* case_no;  // "Case" / "Дело"
    const char* severity;
    const char* opened;
    const char* state;
    const char* report;
    const char* subject;
    const char* hidden;  // a partner whose sees: leaves out the text
    const char* purged;
    const char* ack_button;
    const char* resolve_button;
    const char* once;
    const char* resolved_note;
    const char* state_open;
    const char* state_acknowledged;
    const char* state_resolved;
    const char* by;
};

constexpr words en{"en",
                   "Case",
                   "Severity",
                   "Opened",
                   "State",
                   "Report",
                   "Subject",
                   "The report's text is not shown to you.",
                   "The report's text is no longer kept.",
                   "Acknowledge: I am on it",
                   "Resolve: it is handled",
                   "This link works once: pressing a button uses it.",
                   "This case is resolved; there is nothing left to do here.",
                   "open, nobody has acknowledged it",
                   "acknowledged",
                   "resolved",
                   "by"};

constexpr words ru{"ru",
                   "Дело",
                   "Срочность",
                   "Открыто",
                   "Состояние",
                   "Сообщение",
                   "Тема",
                   "Текст сообщения вам не показывается.",
                   "Текст сообщения больше не хранится.",
                   "Принять: я занимаюсь",
                   "Закрыть: вопрос решён",
                   "Ссылка одноразовая: после нажатия кнопки она больше не работает.",
                   "Дело закрыто, здесь больше нечего делать.",
                   "открыто, никто не принял",
                   "принято",
                   "закрыто",
                   "кто:"};

const words& words_for(const std::string& language) {
    return language == "ru" ? ru : en;
}

constexpr std::string_view style =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;"
    "margin:0 auto;max-width:36em;padding:1em;line-height:1.4;color:#1d1d1d;background:#fff}"
    "h1{font-size:1.4em;margin:.2em 0 .6em}"
    "dl{margin:0 0 1em}dt{font-weight:bold;margin-top:.4em}dd{margin:0}"
    "blockquote{margin:.4em 0 1em;padding:.6em;background:#f3f3f3;border-left:4px solid #999;"
    "white-space:pre-wrap;word-wrap:break-word;overflow-wrap:anywhere}"
    "button{display:block;width:100%;font-size:1.15em;padding:.8em;margin:.5em 0;border:0;"
    "border-radius:6px;color:#fff;cursor:pointer}"
    ".ack{background:#1a5fb4}.resolve{background:#26a269}"
    ".note{color:#555;font-size:.95em}.sev-critical,.sev-high{color:#a51d2d;font-weight:bold}"
    "hr{border:0;border-top:1px solid #ccc;margin:1.5em 0}";

std::string when(std::int64_t unix_ms) {
    const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    return buf;
}

std::string page(const std::string& lang, const std::string& title, const std::string& body) {
    std::string out;
    out.reserve(body.size() + 1024);
    out += "<!DOCTYPE html>\n<html lang=\"";
    out += lang;
    out +=
        "\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta name=\"referrer\" content=\"no-referrer\">"
        "<meta name=\"robots\" content=\"noindex, nofollow\"><title>";
    out += html_escape(title);
    out += "</title><style>";
    out += style;
    out += "</style></head><body>\n";
    out += body;
    out += "</body></html>\n";
    return out;
}

std::string severity_text(const words& w, const std::string& severity) {
    return w.lang == std::string_view{"ru"} ? dispatch::severity_ru(severity) : severity;
}

std::string state_text(const words& w, const std::string& state) {
    if (state == "acknowledged") {
        return w.state_acknowledged;
    }
    if (state == "resolved") {
        return w.state_resolved;
    }
    return w.state_open;
}

struct error_words {
    const char* title;
    const char* text;
};

error_words error_text(ack_page_kind kind, bool in_russian) {
    switch (kind) {
        case ack_page_kind::forged:
            return in_russian
                       ? error_words{"Ссылка недействительна",
                                     "Проверьте, что ссылка из уведомления открыта целиком. "
                                     "Ссылки, "
                                     "выданные до смены ключа горячей линии, не работают."}
                       : error_words{"This link is not valid",
                                     "Check that you opened the whole link from the alert. Links "
                                     "made before the hotline's key was changed no longer work."};
        case ack_page_kind::expired:
            return in_russian ? error_words{"Срок действия ссылки истёк",
                                            "Ответьте на уведомление (ACK и номер дела) или "
                                            "воспользуйтесь "
                                            "hotlinectl cases."}
                              : error_words{"This link has expired",
                                            "Reply to the alert (ACK and the case number) or use "
                                            "hotlinectl cases."};
        case ack_page_kind::used:
            return in_russian
                       ? error_words{"Ссылка уже использована",
                                     "Каждая ссылка работает один раз. Этот запрос ничего не "
                                     "изменил."}
                       : error_words{"This link was already used",
                                     "Each link works once. This request changed nothing."};
        case ack_page_kind::not_found:
            return in_russian
                       ? error_words{"Дело не найдено",
                                     "Дела или человека, для которого сделана ссылка, больше "
                                     "нет."}
                       : error_words{"No such case",
                                     "The case, or the person this link was made for, no "
                                     "longer exists."};
        case ack_page_kind::bad_action:
            return in_russian ? error_words{"Выберите действие",
                                            "Нажмите «Принять» или «Закрыть» на странице дела."}
                              : error_words{"Choose an action",
                                            "Press Acknowledge or Resolve on the case's page."};
        case ack_page_kind::busy:
            return in_russian
                       ? error_words{"Попробуйте ещё раз",
                                     "Сейчас не удалось сохранить действие. Ничего не "
                                     "изменено, ссылка ещё работает."}
                       : error_words{"Please try again",
                                     "The hotline could not record this just now. Nothing was "
                                     "changed; the link still works."};
    }
    return error_text(ack_page_kind::forged, in_russian);
}

}  // namespace

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + s.size() / 8);
    for (const char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out.push_back(c);
        }
    }
    return out;
}

ack_viewer find_viewer(const config::config& cfg, const std::string& target) {
    ack_viewer v;
    v.target = target;
    const auto colon = target.find(':');
    if (colon == std::string::npos) {
        return v;
    }
    const std::string kind = target.substr(0, colon);
    const std::string id = target.substr(colon + 1);
    if (kind == "responder") {
        v.person = cfg.find_responder(id);
    } else if (kind == "partner") {
        v.person = cfg.find_partner(id);
        v.partner = true;
    } else if (kind == "admin") {
        for (const auto& a : cfg.admins) {
            if (a.id == id) {
                v.person = &a;
            }
        }
    }
    return v;
}

unsigned ack_page_status(ack_page_kind kind) {
    switch (kind) {
        case ack_page_kind::forged: return 404;
        case ack_page_kind::expired: return 410;
        case ack_page_kind::used: return 410;
        case ack_page_kind::not_found: return 404;
        case ack_page_kind::bad_action: return 400;
        case ack_page_kind::busy: return 503;
    }
    return 404;
}

std::string render_ack_error(ack_page_kind kind, const std::string& language) {
    const auto one = [&](bool in_russian) {
        const auto t = error_text(kind, in_russian);
        return "<h1>" + html_escape(t.title) + "</h1>\n<p>" + html_escape(t.text) + "</p>\n";
    };
    if (language == "ru") {
        return page("ru", error_text(kind, true).title, one(true));
    }
    if (language == "en") {
        return page("en", error_text(kind, false).title, one(false));
    }
    return page("en",
                std::string{error_text(kind, false).title} + " / " + error_text(kind, true).title,
                one(false) + "<hr>\n<div lang=\"ru\">\n" + one(true) + "</div>\n");
}

std::string render_ack_confirm(const ack_case& c, const ack_viewer& who) {
    const std::string language = who.person != nullptr ? who.person->language : "en";
    const words& w = words_for(language);
    const std::string title = std::string{w.case_no} + " #" + std::to_string(c.id);
    std::string b = "<h1>" + html_escape(title) + "</h1>\n<dl>\n";
    b += "<dt>" + std::string{w.severity} + "</dt><dd class=\"sev-" + html_escape(c.severity) +
         "\">" + html_escape(severity_text(w, c.severity)) + "</dd>\n";
    b += "<dt>" + std::string{w.opened} + "</dt><dd>" + when(c.created_at) + "</dd>\n";
    std::string state = state_text(w, c.state);
    const std::string& by = c.state == "resolved" ? c.resolved_by : c.acked_by;
    if (c.state != "open" && !by.empty()) {
        state += " (" + std::string{w.by} + " " + by + ")";
    }
    b += "<dt>" + std::string{w.state} + "</dt><dd id=\"state\">" + html_escape(state) +
         "</dd>\n</dl>\n";
    const auto sees = [&](const char* field) {
        return !who.partner || (who.person != nullptr && who.person->sees.count(field) > 0);
    };
    if (!c.first_report) {
        b += "<p class=\"note\">" + std::string{w.purged} + "</p>\n";
    } else {
        const auto& r = *c.first_report;
        if (sees("subject") && !r.subject.empty()) {
            b += "<p><b>" + std::string{w.subject} + ":</b> " + html_escape(r.subject) + "</p>\n";
        }
        if (sees("text")) {
            b += "<p><b>" + std::string{w.report} + ":</b></p>\n<blockquote>" +
                 html_escape(r.text) + "</blockquote>\n";
        } else {
            b += "<p class=\"note\">" + std::string{w.hidden} + "</p>\n";
        }
    }
    if (c.state == "resolved") {
        b += "<p>" + std::string{w.resolved_note} + "</p>\n";
    } else {
        // No action attribute: the form posts to this same URL (CSP form-action 'self').
        b += "<form method=\"post\">\n";
        if (c.state == "open") {
            b += "<button class=\"ack\" type=\"submit\" name=\"action\" value=\"ack\" "
                 "id=\"ack\">" +
                 std::string{w.ack_button} + "</button>\n";
        }
        b += "<button class=\"resolve\" type=\"submit\" name=\"action\" value=\"resolve\" "
             "id=\"resolve\">" +
             std::string{w.resolve_button} + "</button>\n</form>\n";
        b += "<p class=\"note\">" + std::string{w.once} + "</p>\n";
    }
    return page(w.lang, title, b);
}

std::string render_ack_result(std::int64_t case_id, const ack_done& done,
                              const std::string& language) {
    const bool in_russian = language == "ru";
    const std::string n = "#" + std::to_string(case_id);
    std::string title;
    std::string text;
    if (done.changed && done.action == "ack") {
        title = in_russian ? "Принято — спасибо" : "Acknowledged — thank you";
        text = in_russian ? "Дело " + n +
                                " за вами: эскалация остановлена. Закройте дело, когда вопрос "
                                "будет решён."
                          : "Case " + n +
                                " is yours: escalation has stopped. Resolve it once it is "
                                "handled.";
    } else if (done.changed) {
        title = in_russian ? "Закрыто — спасибо" : "Resolved — thank you";
        text = in_russian ? "Дело " + n + " закрыто." : "Case " + n + " is resolved.";
    } else {
        title = in_russian ? "Ничего не изменено" : "Nothing to change";
        const words& w = words_for(language);
        text = in_russian ? "Дело " + n + " уже в состоянии «" + state_text(w, done.after) + "»."
                          : "Case " + n + " was already " + state_text(w, done.after) + ".";
    }
    return page(
        in_russian ? "ru" : "en", title,
        "<h1 id=\"result\">" + html_escape(title) + "</h1>\n<p>" + html_escape(text) + "</p>\n");
}

std::vector<std::pair<std::string, std::string>> ack_page_headers() {
    return {
        {"Content-Security-Policy",
         "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
         "frame-ancestors 'none'; base-uri 'none'"},
        {"Referrer-Policy", "no-referrer"},
        {"X-Frame-Options", "DENY"},
        {"X-Content-Type-Options", "nosniff"},
    };
}

}  // namespace hotline::http
