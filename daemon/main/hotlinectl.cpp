// hotlinectl: the admin's tool for hotline configs and channels.
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "app/validate.hpp"
#include "config/loader.hpp"
#include "core/log.hpp"
#include "ctl/backup.hpp"
#include "ctl/cases.hpp"
#include "ctl/checkin.hpp"
#include "ctl/commands.hpp"
#include "ctl/diff.hpp"
#include "ctl/ingest.hpp"
#include "ctl/oncall.hpp"
#include "ctl/rekey.hpp"
#include "ctl/silence.hpp"
#include "ctl/sms_preview.hpp"
#include "ctl/test_rules.hpp"

namespace po = boost::program_options;

namespace {

constexpr const char* usage =
    "Usage: hotlinectl COMMAND [options]\n\n"
    "Commands:\n"
    "  check     --config FILE [--diff]        validate the configuration (exit 0 = valid);\n"
    "                                          with --diff, also list the server.* and\n"
    "                                          storage.* settings the running hotlined has\n"
    "                                          not applied (they take effect on restart)\n"
    "  route     --config FILE [REPORT|-]      explain how a report (JSON, or a mail as .eml)\n"
    "                                          would be routed (JSON);\n"
    "                                          REPORT is JSON as posted to /v1/reports, plus\n"
    "                                          optional \"source\"; - or nothing reads stdin\n"
    "  send-test --config FILE --channel NAME --to ADDRESS [--language en|ru]\n"
    "                                          send one test message through one channel\n"
    "                                          and print the outcome (exit 0 = delivered)\n"
    "  rekey     --config FILE --new-key FILE  re-seal the stored reports and notifications\n"
    "                                          under a new key (the old one is the config's\n"
    "                                          storage.key_file); hotlined must be stopped.\n"
    "                                          Run it again if it was interrupted; afterwards\n"
    "                                          point storage.key_file at the new key\n"
    "  backup    --config FILE --to FILE       copy the store while hotlined runs (SQLite's\n"
    "                                          online backup: consistent, still sealed, mode\n"
    "                                          0600; FILE must not exist). The copy needs the\n"
    "                                          storage key to be read: back that up apart\n"
    "  ingest    --dry-run FILE.eml [--config FILE]\n"
    "  ingest    --dry-run --gateway SOURCE FILE.http [--peer ADDRESS] [--config FILE]\n"
    "                                          parse a mail and print the report the rules\n"
    "                                          would see (JSON); with --config, the route too\n"
    "  sms-preview [--max-segments N] [--transliterate] TEXT\n"
    "                                          print how an SMS channel would send TEXT:\n"
    "                                          encoding (GSM-7 or UCS-2), septets/units,\n"
    "                                          segments and each part exactly as sent; with\n"
    "                                          --max-segments (1-10), shortened to fit as a\n"
    "                                          channel's max_segments does; - reads stdin\n"
    "  cases list [--state S] [--limit N] [--before ID]\n"
    "  cases show|ack|resolve ID [--note TEXT]\n"
    "  cases note ID TEXT                      list, show, acknowledge, resolve or annotate\n"
    "                                          cases through the daemon's API, as the person\n"
    "                                          whose token --token-file (or\n"
    "                                          HOTLINE_TOKEN_FILE) holds; --url (or\n"
    "                                          HOTLINE_URL, else the --config's server);\n"
    "                                          --json prints the API's answer\n"
    "  silence add MATCHER... (--duration D | --until TIME) --comment TEXT\n"
    "  silence list [--all]\n"
    "  silence expire ID                       add, list or end silences (reports they match\n"
    "                                          are stored but page nobody) through the\n"
    "                                          daemon's API, as the person whose token\n"
    "                                          --token-file (or HOTLINE_TOKEN_FILE) holds;\n"
    "                                          --url (or HOTLINE_URL, else the --config's\n"
    "                                          server address and port); --json prints the\n"
    "                                          API's answer\n"
    "  checkin start ID [--interval D]\n"
    "  checkin stop ID\n"
    "  checkin list                            start or stop the check-ins of an enrolled\n"
    "                                          defender (config checkins:), or list them\n"
    "                                          with their last check-in and deadline,\n"
    "                                          through the daemon's API as the person whose\n"
    "                                          token --token-file (or HOTLINE_TOKEN_FILE)\n"
    "                                          holds; --url as for silence; --json\n"
    "  oncall    --config FILE [--schedule ID] [--at TIME] [--days N] [--json]\n"
    "                                          who is on call now (or at TIME, ISO 8601:\n"
    "                                          2026-12-05T18:00 is local in each schedule's\n"
    "                                          zone, or add +03:00 or Z) for every schedule\n"
    "                                          (or ID), and the shifts of the next N days\n"
    "                                          (default 7, at most 366); reads the\n"
    "                                          configuration only\n"
    "  test-rules --config FILE [--json]       run the `tests:` of every rule file: one\n"
    "                                          PASS/FAIL line per test, expected vs got\n"
    "                                          per field on a mismatch (exit 0 = all pass,\n"
    "                                          1 = one failed, 2 = usage or config error);\n"
    "                                          reads the configuration only\n\n"
    "Options";

int cmd_check(const std::string& config, bool diff) {
    const auto loaded = hotline::app::load_and_validate(config);
    if (!loaded.errors.empty()) {
        std::cerr << hotline::app::format_errors(loaded.errors);
        std::cerr << config << ": " << loaded.errors.size() << " error"
                  << (loaded.errors.size() == 1 ? "" : "s") << "\n";
        return 1;
    }
    std::cout << hotline::app::summary(*loaded.cfg) << "\n";
    if (diff) {
        std::cout << hotline::ctl::diff_running(loaded).text;
    }
    return 0;
}

int cmd_backup(const std::string& config, const std::string& to) {
    const auto loaded = hotline::app::load_and_validate(config);
    if (!loaded.errors.empty()) {
        std::cerr << hotline::app::format_errors(loaded.errors);
        return 1;
    }
    const auto out = hotline::ctl::backup(loaded, to);
    if (!out) {
        std::cerr << "hotlinectl backup: " << out.err().describe() << "\n";
        return 1;
    }
    std::cout << "backup: " << to << ": " << out->reports << " reports, " << out->notifications
              << " notifications, " << out->bytes << " bytes, integrity ok";
    if (!out->key_id.empty()) {
        std::cout << ", sealed under key id " << out->key_id
                  << ".\nKeep a copy of that key (storage.key_file) apart from the backup: "
                     "without it the backup cannot be read";
    }
    std::cout << ".\n";
    return 0;
}

int cmd_route(const std::string& config, const std::string& input) {
    const auto loaded = hotline::app::load_and_validate(config);
    if (!loaded.errors.empty()) {
        std::cerr << hotline::app::format_errors(loaded.errors);
        return 1;
    }
    std::string text;
    if (input.empty() || input == "-") {
        text.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
        std::ifstream in(input, std::ios::binary);
        if (!in) {
            std::cerr << "hotlinectl: cannot read " << input << "\n";
            return 1;
        }
        text.assign(std::istreambuf_iterator<char>(in), {});
    }
    const auto out = hotline::ctl::explain_route(loaded, text);
    if (!out) {
        std::cerr << "hotlinectl: " << out.err().code << ": " << out.err().message << "\n";
        return 1;
    }
    std::cout << out->dump(2) << "\n";
    return 0;
}

int cmd_send_test(const std::string& config, const std::string& channel, const std::string& to,
                  const std::string& language) {
    const auto loaded = hotline::app::load_and_validate(config);
    if (!loaded.errors.empty()) {
        std::cerr << hotline::app::format_errors(loaded.errors);
        return 1;
    }
    const auto out = hotline::ctl::send_test(loaded, channel, to, language);
    if (!out) {
        std::cerr << "hotlinectl: " << out.err().describe() << "\n";
        return 1;
    }
    (out->delivered ? std::cout : std::cerr) << channel << ": " << out->text << "\n";
    return out->delivered ? 0 : 1;
}

int cmd_rekey(const std::string& config, const std::string& new_key) {
    const auto loaded = hotline::app::load_and_validate(config);
    if (!loaded.errors.empty()) {
        std::cerr << hotline::app::format_errors(loaded.errors);
        return 1;
    }
    const auto out = hotline::ctl::rekey(loaded, new_key);
    if (!out) {
        std::cerr << "hotlinectl rekey: " << out.err().describe() << "\n";
        return 1;
    }
    std::cout << "rekey: " << out->resealed << " values re-sealed, " << out->already
              << " were under the new key already";
    if (out->unreadable > 0) {
        std::cout << ", " << out->unreadable << " unreadable left as they were";
    }
    std::cout << ".\nNow point storage.key_file at " << new_key
              << " (and back it up with the database) before starting hotlined.\n";
    return 0;
}

// --gateway: a raw HTTP request of a `kind: sms` source, through its gateway's parser.
int cmd_ingest_sms(const std::string& config, const std::string& source, const std::string& raw,
                   const std::string& peer) {
    const auto loaded = hotline::app::load_and_validate(config);
    if (!loaded.errors.empty()) {
        std::cerr << hotline::app::format_errors(loaded.errors);
        return 1;
    }
    const auto r = hotline::ctl::sms_dry_run(raw, loaded, source, peer);
    if (!r) {
        std::cerr << "hotlinectl ingest: " << r.err().message << "\n";
        return 1;
    }
    std::cout << r->out.dump(2) << "\n";
    return r->accepted ? 0 : 1;
}

int cmd_ingest(bool dry_run, const std::string& config, const std::vector<std::string>& args,
               const std::string& gateway, const std::string& peer) {
    if (!dry_run || args.size() != 1) {
        std::cerr << "hotlinectl ingest: usage: ingest --dry-run FILE.eml [--config FILE]\n"
                     "                          ingest --dry-run --gateway SOURCE FILE.http "
                     "[--peer ADDRESS] [--config FILE]\n";
        return 2;
    }
    std::ifstream in(args.front(), std::ios::binary);
    const std::string raw{std::istreambuf_iterator<char>(in), {}};
    if (!in && !in.eof()) {
        std::cerr << "hotlinectl: cannot read " << args.front() << "\n";
        return 1;
    }
    if (!gateway.empty()) {
        return cmd_ingest_sms(config, gateway, raw, peer);
    }
    hotline::app::loaded_config loaded;
    if (!config.empty()) {
        loaded = hotline::app::load_and_validate(config);
        if (!loaded.errors.empty()) {
            std::cerr << hotline::app::format_errors(loaded.errors);
            return 1;
        }
    }
    std::cout << hotline::ctl::ingest_dry_run(raw, config.empty() ? nullptr : &loaded).dump(2)
              << "\n";
    return 0;
}

int cmd_sms_preview(const po::variables_map& vm, const std::vector<std::string>& args) {
    if (args.size() != 1) {
        std::cerr << "hotlinectl sms-preview: usage: sms-preview [--max-segments N] "
                     "[--transliterate] TEXT (or - for stdin)\n";
        return 2;
    }
    hotline::ctl::sms_preview_options options;
    options.transliterate = vm.count("transliterate") != 0U;
    if (vm.count("max-segments") != 0U) {
        const unsigned n = vm["max-segments"].as<unsigned>();
        if (n < 1 || n > 10) {
            std::cerr << "hotlinectl sms-preview: --max-segments must be 1 to 10, got " << n
                      << "\n";
            return 2;
        }
        options.max_segments = n;
    }
    std::string text = args.front();
    if (text == "-") {
        text.assign(std::istreambuf_iterator<char>(std::cin), {});
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
            text.pop_back();
        }
    }
    std::cout << hotline::ctl::sms_preview(text, options);
    return 0;
}

int cmd_oncall(const std::string& config, const po::variables_map& vm) {
    // The configuration only: no plugins, no storage key, no daemon.
    const auto loaded = hotline::config::load_config(config);
    if (!loaded.errors.empty()) {
        std::cerr << hotline::app::format_errors(loaded.errors);
        return 1;
    }
    hotline::ctl::oncall_options options;
    if (vm.count("schedule") != 0U) {
        options.schedule = vm["schedule"].as<std::string>();
    }
    if (vm.count("at") != 0U) {
        options.at = vm["at"].as<std::string>();
    }
    options.days = vm["days"].as<unsigned>();
    options.json = vm.count("json") != 0U;
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto out = hotline::ctl::oncall(*loaded.cfg, options, now);
    std::cout << out.out;
    std::cerr << out.err;
    return out.exit_code;
}

int cmd_test_rules(const std::string& config, bool json) {
    // The configuration only, like oncall: no plugins, no storage key, no daemon.
    const auto loaded = hotline::config::load_config(config);
    if (!loaded.errors.empty()) {
        std::cerr << hotline::app::format_errors(loaded.errors);
        std::cerr << config << ": " << loaded.errors.size() << " error"
                  << (loaded.errors.size() == 1 ? "" : "s") << "\n";
        return 2;
    }
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto out = hotline::ctl::test_rules(*loaded.cfg, json, now);
    std::cout << out.out;
    return out.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
    po::options_description opts(usage);
    opts.add_options()("help,h", "show this help and exit")("version", "print the version")(
        "config,c", po::value<std::string>()->default_value("/etc/hotline/hotline.yaml"),
        "main configuration file")("channel", po::value<std::string>(),
                                   "send-test: channel instance name")(
        "to", po::value<std::string>(),
        "send-test: address (URL, email address, phone); backup: the copy to write")(
        "language", po::value<std::string>()->default_value("en"), "send-test: en or ru")(
        "new-key", po::value<std::string>(),
        "rekey: the new key file (32 random bytes or 64 hex digits, mode 0600)")(
        "dry-run", "ingest: parse only (no daemon is contacted)")(
        "gateway", po::value<std::string>(),
        "ingest: FILE is a raw HTTP request of this kind: sms source (its gateway's checks)")(
        "peer", po::value<std::string>()->default_value("127.0.0.1"),
        "ingest --gateway: the client address the request is taken to come from")(
        "diff", "check: compare with the settings the running hotlined started with")(
        "max-segments", po::value<unsigned>(), "sms-preview: shorten to at most N segments (1-10)")(
        "transliterate", "sms-preview: Cyrillic to GSM-7 Latin first, as transliterate: true")(
        "state", po::value<std::string>(), "cases list: open, acknowledged or resolved")(
        "limit", po::value<std::int64_t>(), "cases list: at most N cases (1-1000, default 50)")(
        "before", po::value<std::int64_t>(), "cases list: cases numbered below ID (paging)")(
        "note", po::value<std::string>(), "cases ack|resolve: a remark kept with the action")(
        "schedule", po::value<std::string>(), "oncall: this schedule only (its id)")(
        "at", po::value<std::string>(), "oncall: the time to ask about (ISO 8601; default now)")(
        "days", po::value<unsigned>()->default_value(7),
        "oncall: list the shifts of this many days (0-366)")(
        "json", "oncall, test-rules: print JSON; silence, cases: print the API's JSON answer")(
        "url", po::value<std::string>(),
        "silence, cases: the daemon's URL (default $HOTLINE_URL, else the config's server "
        "address and port)")("token-file", po::value<std::string>(),
                             "silence, cases: a file holding your API token (default "
                             "$HOTLINE_TOKEN_FILE)")("duration", po::value<std::string>(),
                                                     "silence add: how long, like 2h or 1h30m")(
        "until", po::value<std::string>(),
        "silence add: the end, like 2026-12-04T09:00:00Z or ...+03:00")(
        "comment", po::value<std::string>(), "silence add: why (kept in the audit trail)")(
        "all", "silence list: expired and ended silences too")(
        "interval", po::value<std::string>(),
        "checkin start: expect a check-in this often, like 6h (default: the enrollment's)");
    po::options_description hidden;
    hidden.add_options()("command", po::value<std::string>())(
        "args", po::value<std::vector<std::string>>()->default_value({}, ""));
    po::options_description all;
    all.add(opts).add(hidden);
    po::positional_options_description pos;
    pos.add("command", 1).add("args", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "hotlinectl: " << e.what() << "\n\n" << opts << "\n";
        return 2;
    }
    if (vm.count("help") != 0U || vm.count("command") == 0U) {
        (vm.count("help") != 0U ? std::cout : std::cerr) << opts << "\n";
        return vm.count("help") != 0U ? 0 : 2;
    }
    if (vm.count("version") != 0U) {
        std::cout << "hotlinectl " << HOTLINE_VERSION << "\n";
        return 0;
    }
    // Quiet by default: the commands print their own results.
    hotline::core::init_logging("text", "warn");
    const auto command = vm["command"].as<std::string>();
    const auto config = vm["config"].as<std::string>();
    const auto args = vm["args"].as<std::vector<std::string>>();
    if (command == "check") {
        return cmd_check(config, vm.count("diff") != 0U);
    }
    if (command == "backup") {
        if (vm.count("to") == 0U) {
            std::cerr << "hotlinectl backup: --to FILE is required\n";
            return 2;
        }
        return cmd_backup(config, vm["to"].as<std::string>());
    }
    if (command == "route") {
        return cmd_route(config, args.empty() ? "" : args.front());
    }
    if (command == "send-test") {
        if (vm.count("channel") == 0U || vm.count("to") == 0U) {
            std::cerr << "hotlinectl send-test: --channel and --to are required\n";
            return 2;
        }
        return cmd_send_test(config, vm["channel"].as<std::string>(), vm["to"].as<std::string>(),
                             vm["language"].as<std::string>());
    }
    if (command == "rekey") {
        if (vm.count("new-key") == 0U) {
            std::cerr << "hotlinectl rekey: --new-key is required\n";
            return 2;
        }
        return cmd_rekey(config, vm["new-key"].as<std::string>());
    }
    if (command == "ingest") {
        const bool sms = vm.count("gateway") != 0U;
        return cmd_ingest(
            vm.count("dry-run") != 0U, (vm["config"].defaulted() && !sms) ? "" : config, args,
            sms ? vm["gateway"].as<std::string>() : std::string{}, vm["peer"].as<std::string>());
    }
    if (command == "sms-preview") {
        return cmd_sms_preview(vm, args);
    }
    if (command == "cases") {
        hotline::ctl::cases_options options;
        const auto str = [&vm](const char* name) {
            return vm.count(name) != 0U ? vm[name].as<std::string>() : std::string{};
        };
        options.api.url = str("url");
        options.api.token_file = str("token-file");
        options.api.config = config;
        options.state = str("state");
        options.note = str("note");
        if (vm.count("limit") != 0U) {
            options.limit = vm["limit"].as<std::int64_t>();
        }
        if (vm.count("before") != 0U) {
            options.before = vm["before"].as<std::int64_t>();
        }
        options.json = vm.count("json") != 0U;
        return hotline::ctl::run_cases(args, options, std::cout, std::cerr);
    }
    if (command == "oncall") {
        if (!args.empty()) {
            std::cerr << "hotlinectl oncall: usage: oncall [--config FILE] [--schedule ID] "
                         "[--at TIME] [--days N] [--json]\n";
            return 2;
        }
        return cmd_oncall(config, vm);
    }
    if (command == "test-rules") {
        if (!args.empty()) {
            std::cerr << "hotlinectl test-rules: usage: test-rules --config FILE [--json]\n";
            return 2;
        }
        return cmd_test_rules(config, vm.count("json") != 0U);
    }
    if (command == "silence") {
        hotline::ctl::silence_options options;
        const auto str = [&vm](const char* name) {
            return vm.count(name) != 0U ? vm[name].as<std::string>() : std::string{};
        };
        options.api.url = str("url");
        options.api.token_file = str("token-file");
        options.api.config = config;
        options.duration = str("duration");
        options.until = str("until");
        options.comment = str("comment");
        options.all = vm.count("all") != 0U;
        options.json = vm.count("json") != 0U;
        return hotline::ctl::run_silence(args, options, std::cout, std::cerr);
    }
    if (command == "checkin") {
        hotline::ctl::checkin_options options;
        options.api.url = vm.count("url") != 0U ? vm["url"].as<std::string>() : std::string{};
        options.api.token_file =
            vm.count("token-file") != 0U ? vm["token-file"].as<std::string>() : std::string{};
        options.api.config = config;
        options.interval =
            vm.count("interval") != 0U ? vm["interval"].as<std::string>() : std::string{};
        options.json = vm.count("json") != 0U;
        return hotline::ctl::run_checkin(args, options, std::cout, std::cerr);
    }
    std::cerr << "hotlinectl: unknown command \"" << command << "\"\n\n" << opts << "\n";
    return 2;
}
