// hotlined: the hotline daemon.
#include <cstdio>
#include <iostream>
#include <string>

#include <boost/program_options.hpp>

#include "app/daemon.hpp"
#include "app/validate.hpp"
#include "core/log.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
    po::options_description opts(
        "Usage: hotlined [--config FILE] [--check]\n\n"
        "Takes threat reports (HTTP), stores them durably, routes them with the YAML rules and\n"
        "notifies responders through channel plugins until delivered.\n"
        "Signals: SIGHUP reloads the config atomically (an invalid file changes nothing),\n"
        "SIGTERM/SIGINT drain in-flight work and exit 0. Supports systemd Type=notify and\n"
        "WatchdogSec.\n\nOptions");
    opts.add_options()("help,h", "show this help and exit")("version",
                                                            "print the version and exit")(
        "config,c", po::value<std::string>()->default_value("/etc/hotline/hotline.yaml"),
        "main configuration file")("check", "validate the configuration and exit (0 = valid)");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, opts), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "hotlined: " << e.what() << "\n\n" << opts << "\n";
        return 2;
    }
    if (vm.count("help") != 0U) {
        std::cout << opts << "\n";
        return 0;
    }
    if (vm.count("version") != 0U) {
        std::cout << "hotlined " << HOTLINE_VERSION << "\n";
        return 0;
    }
    hotline::core::init_logging("text", "info");
    const auto path = vm["config"].as<std::string>();
    if (vm.count("check") != 0U) {
        const auto loaded = hotline::app::load_and_validate(path);
        if (!loaded.errors.empty()) {
            std::cerr << hotline::app::format_errors(loaded.errors);
            return 1;
        }
        std::cout << hotline::app::summary(*loaded.cfg) << "\n";
        return 0;
    }
    return hotline::app::run_daemon(path);
}
