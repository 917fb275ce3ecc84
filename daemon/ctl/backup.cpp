#include "ctl/backup.hpp"

namespace hotline::ctl {

core::result<store::backup_report> backup(const app::loaded_config& loaded, const std::string& to) {
    store::backup_options opts;
    opts.path = loaded.cfg->storage.path;
    opts.to = to;
    return store::backup(opts);
}

}  // namespace hotline::ctl
