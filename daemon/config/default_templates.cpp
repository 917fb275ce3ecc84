// Shipped message templates, English and Russian. Plain text (no HTML escaping): the
// context is filled by dispatch/templates.cpp. Admins override any of them under
// `templates.<channel type>.<language>` (and `templates.dead_letter.<language>`).
#include "config/model.hpp"

namespace hotline::config {
namespace {

// The subject starts with the case tag ("[HOTLINE #42]", set by the dispatcher for every
// notification of a case), or "[hotline]" when there is none (hotlinectl send-test).
// `update` is true for a report that joined a case already notified (dispatch::plan_update).
#define HOTLINE_TAG "{{#case_tag}}{{case_tag}}{{/case_tag}}{{^case_tag}}[hotline]{{/case_tag}} "

const message_template alert_en{
    HOTLINE_TAG
    "{{#update}}New message in case{{/update}}{{^update}}Case{{/update}} #{{case_id}} "
    "({{severity}}){{#subject}}: {{subject}}{{/subject}}",
    "{{#update}}New message in case #{{case_id}}, severity {{severity}}.\n"
    "It joined a case you were alerted to; earlier alerts are in the same thread.\n{{/update}}"
    "{{^update}}New report for case #{{case_id}}, severity {{severity}}.\n{{/update}}"
    "{{#escalated}}ESCALATED (step {{escalation_step}} of {{escalation_steps}}): nobody has "
    "acknowledged this case yet.\n{{/escalated}}"
    "Route: {{route}}\n"
    "Source: {{source}}, received {{received_at}}\n"
    "{{#sender}}From: {{sender}}\n{{/sender}}"
    "{{#labels_text}}Labels: {{labels_text}}\n{{/labels_text}}"
    "{{#subject}}Subject: {{subject}}\n{{/subject}}"
    "\n{{text}}\n"
    "\nTo acknowledge, reply ACK {{case_id}}\n"
    "{{#public_url}}Hotline: {{public_url}}\n{{/public_url}}",
    {}};

const message_template alert_ru{
    HOTLINE_TAG
    "{{#update}}Новое сообщение по делу{{/update}}{{^update}}Дело{{/update}} #{{case_id}} "
    "({{severity_ru}}){{#subject}}: {{subject}}{{/subject}}",
    "{{#update}}Новое сообщение по уже открытому делу #{{case_id}}, срочность: "
    "{{severity_ru}}.\n"
    "Прежние уведомления по этому делу — в той же переписке.\n{{/update}}"
    "{{^update}}Новое сообщение по делу #{{case_id}}, срочность: {{severity_ru}}.\n{{/update}}"
    "{{#escalated}}ЭСКАЛАЦИЯ (шаг {{escalation_step}} из {{escalation_steps}}): дело ещё никто "
    "не принял.\n{{/escalated}}"
    "Маршрут: {{route}}\n"
    "Источник: {{source}}, получено {{received_at}}\n"
    "{{#sender}}Отправитель: {{sender}}\n{{/sender}}"
    "{{#labels_text}}Метки: {{labels_text}}\n{{/labels_text}}"
    "{{#subject}}Тема: {{subject}}\n{{/subject}}"
    "\n{{text}}\n"
    "\nЧтобы подтвердить, ответьте ACK {{case_id}}\n"
    "{{#public_url}}Hotline: {{public_url}}\n{{/public_url}}",
    {}};

// Short forms for channels that carry little text (SMS, chat) use the same context.
const message_template dead_letter_en{
    HOTLINE_TAG
    "DEAD LETTER: notification #{{failed_notification_id}} for case #{{case_id}} failed",
    "Every contact method failed for {{target}} (case #{{case_id}}, report #{{report_id}}, "
    "severity {{severity}}).\n"
    "Last channel: {{channel}}\n"
    "Last error: {{last_error}}\n\n"
    "Nobody on that path has been told about this case. Check the channel and the "
    "responder's contacts, then notify them by hand.\n",
    {}};

const message_template dead_letter_ru{
    HOTLINE_TAG "НЕ ДОСТАВЛЕНО: уведомление #{{failed_notification_id}} по делу #{{case_id}}",
    "Все способы связи не сработали для {{target}} (дело #{{case_id}}, сообщение "
    "#{{report_id}}, срочность: {{severity_ru}}).\n"
    "Последний канал: {{channel}}\n"
    "Последняя ошибка: {{last_error}}\n\n"
    "Этот адресат ничего не знает о деле. Проверьте канал и контакты, затем сообщите "
    "вручную.\n",
    {}};

// SMS (channels whose plugin says HOTLINE_CHANNEL_SMS, without templates.<type> of their
// own): one short line, the case number first and the ACK instruction last, so shortening
// {{text}} to max_segments (dispatch/sms_text) keeps both. No subject: an SMS has none.
const message_template sms_en{"",
                              "HOTLINE #{{case_id}} {{severity}}{{#update}} update{{/update}}"
                              "{{#escalated}} ESCALATED{{/escalated}}: "
                              "{{text}} Reply ACK {{case_id}}",
                              {}};

const message_template sms_ru{"",
                              "HOTLINE #{{case_id}} {{severity_ru}}{{#update}} "
                              "дополнение{{/update}}{{#escalated}} ЭСКАЛАЦИЯ{{/escalated}}: "
                              "{{text}} "
                              "Ответьте ACK {{case_id}}",
                              {}};

const message_template sms_dead_letter_en{
    "",
    "HOTLINE DEAD LETTER case #{{case_id}}: every contact failed for {{target}} (last: "
    "{{channel}}). Notify them by hand.",
    {}};

const message_template sms_dead_letter_ru{
    "",
    "HOTLINE НЕ ДОСТАВЛЕНО, дело #{{case_id}}: {{target}} ({{channel}}). Сообщите вручную.",
    {}};

// A responder's SMS number failed for good (invalid, unsubscribed): the admins fix the
// contact. Names the responder id, never the number.
const message_template bad_address_en{
    HOTLINE_TAG "BAD NUMBER: {{target}} on {{channel}} (case #{{case_id}})",
    "The provider refused {{target}}'s number on channel {{channel}} for good "
    "(notification #{{failed_notification_id}}, case #{{case_id}}).\n"
    "Reason: {{last_error}}\n\n"
    "Their next contact method is being tried. Check and fix this contact in the "
    "configuration.\n",
    {}};

const message_template bad_address_ru{
    HOTLINE_TAG "НЕВЕРНЫЙ НОМЕР: {{target}}, канал {{channel}} (дело #{{case_id}})",
    "Оператор окончательно отклонил номер {{target}} в канале {{channel}} (уведомление "
    "#{{failed_notification_id}}, дело #{{case_id}}).\n"
    "Причина: {{last_error}}\n\n"
    "Пробуем следующий способ связи. Проверьте и исправьте этот контакт в настройках.\n",
    {}};

const message_template sms_bad_address_en{
    "", "HOTLINE BAD NUMBER: {{target}} on {{channel}} (case #{{case_id}}): {{last_error}}", {}};

const message_template sms_bad_address_ru{
    "", "HOTLINE НЕВЕРНЫЙ НОМЕР: {{target}}, {{channel}} (дело #{{case_id}}): {{last_error}}", {}};

// A case changed state (policy notify_on): told to those already paged. `event` is
// acknowledged | resolved | reopened; `by` names who did it (a person's name, or "ack
// timeout"); no report contents.
const message_template case_notice_en{
    HOTLINE_TAG "Case #{{case_id}} {{event}}{{#by}} by {{by}}{{/by}}",
    "Case #{{case_id}} (severity {{severity}}) was {{event}}{{#by}} by {{by}}{{/by}}"
    "{{#via}} via {{via}}{{/via}} at {{at}}.\n"
    "{{#reopened}}Nobody resolved it in time: escalation starts again.\n{{/reopened}}",
    {}};

const message_template case_notice_ru{
    HOTLINE_TAG "Дело #{{case_id}}: {{event_ru}}{{#by}} ({{by}}){{/by}}",
    "Дело #{{case_id}} (срочность: {{severity_ru}}) — {{event_ru}}{{#by}}: {{by}}{{/by}}"
    "{{#via}}, через {{via}}{{/via}}, {{at}}.\n"
    "{{#reopened}}Дело не закрыли вовремя: оповещение начинается снова.\n{{/reopened}}",
    {}};

const message_template sms_case_notice_en{
    "", "HOTLINE #{{case_id}} {{event}}{{#by}} by {{by}}{{/by}}", {}};

const message_template sms_case_notice_ru{
    "", "HOTLINE #{{case_id}}: {{event_ru}}{{#by}} ({{by}}){{/by}}", {}};

// Every step of a policy ran (repeats included) and nobody acknowledged: the admins act.
const message_template escalation_exhausted_en{
    HOTLINE_TAG "NOBODY ACKNOWLEDGED case #{{case_id}} ({{severity}})",
    "Every step of policy {{policy}} paged its targets{{#rounds}} ({{rounds}} rounds){{/rounds}} "
    "and nobody acknowledged case #{{case_id}} (severity {{severity}}, opened {{opened_at}}).\n\n"
    "Reach the responders by other means, or acknowledge the case yourself.\n",
    {}};

const message_template escalation_exhausted_ru{
    HOTLINE_TAG "НИКТО НЕ ПРИНЯЛ дело #{{case_id}} ({{severity_ru}})",
    "Все шаги политики {{policy}} выполнены{{#rounds}} (кругов: {{rounds}}){{/rounds}}, но дело "
    "#{{case_id}} (срочность: {{severity_ru}}, открыто {{opened_at}}) никто не принял.\n\n"
    "Свяжитесь с дежурными другим способом или примите дело сами.\n",
    {}};

const message_template sms_escalation_exhausted_en{
    "", "HOTLINE NOBODY ACKNOWLEDGED case #{{case_id}} ({{severity}}). Act now.", {}};

const message_template sms_escalation_exhausted_ru{
    "", "HOTLINE НИКТО НЕ ПРИНЯЛ дело #{{case_id}} ({{severity_ru}}). Действуйте.", {}};

#undef HOTLINE_TAG

}  // namespace

const message_template& default_template(const std::string& channel_type,
                                         const std::string& language) {
    const bool ru = language == "ru";
    if (channel_type == "dead_letter") {
        return ru ? dead_letter_ru : dead_letter_en;
    }
    if (channel_type == "bad_address") {
        return ru ? bad_address_ru : bad_address_en;
    }
    if (channel_type == "sms_bad_address") {
        return ru ? sms_bad_address_ru : sms_bad_address_en;
    }
    if (channel_type == "sms") {
        return ru ? sms_ru : sms_en;
    }
    if (channel_type == "case_notice") {
        return ru ? case_notice_ru : case_notice_en;
    }
    if (channel_type == "sms_case_notice") {
        return ru ? sms_case_notice_ru : sms_case_notice_en;
    }
    if (channel_type == "escalation_exhausted") {
        return ru ? escalation_exhausted_ru : escalation_exhausted_en;
    }
    if (channel_type == "sms_escalation_exhausted") {
        return ru ? sms_escalation_exhausted_ru : sms_escalation_exhausted_en;
    }
    if (channel_type == "sms_dead_letter") {
        return ru ? sms_dead_letter_ru : sms_dead_letter_en;
    }
    return ru ? alert_ru : alert_en;
}

}  // namespace hotline::config
