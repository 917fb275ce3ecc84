/* A module that does not speak the host's ABI: it answers BAD_ABI_ANSWER (0 = none of
 * the offered versions, 2 = a version the host never offered). The host must refuse it
 * before calling anything else, so hotline_channel_entry_v1 is deliberately absent. */
#include <hotline/channel.h>

#ifndef BAD_ABI_ANSWER
#define BAD_ABI_ANSWER 0u
#endif

HOTLINE_EXPORT uint32_t hotline_channel_abi(const uint32_t* offered, size_t n) {
    (void)offered;
    (void)n;
    return BAD_ABI_ANSWER;
}
