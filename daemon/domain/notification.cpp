#include "domain/notification.hpp"

namespace hotline::domain {

const char* to_string(notification_status s) {
    switch (s) {
        case notification_status::pending: return "pending";
        case notification_status::delivered: return "delivered";
        case notification_status::failed: return "failed";
        case notification_status::dead: return "dead";
    }
    return "pending";
}

}  // namespace hotline::domain
