// hotlinectl backup: an online, consistent copy of the configured store (store/backup.hpp
// does the work). Safe while hotlined runs and writes; the copy stays sealed under the
// storage key, which it does not contain (docs/operations.md, "Backup and restore").
#pragma once
#include <string>

#include "app/validate.hpp"
#include "core/result.hpp"
#include "store/backup.hpp"

namespace hotline::ctl {

[[nodiscard]] core::result<store::backup_report> backup(const app::loaded_config& loaded,
                                                        const std::string& to);

}  // namespace hotline::ctl
