/* Error table: cme_strerror() and cme_err_name() come from CME_ERRNO_MAP (common.h). */
#include "cmafeng/common.h"
#include "cmafeng_config.h"

const char *cme_strerror(int err)
{
    switch (err) {
    case CME_OK: return "success";
#define CME_ERR_MSG_(name, value, msg) \
    case CME_##name: return msg;
        CME_ERRNO_MAP(CME_ERR_MSG_)
#undef CME_ERR_MSG_
    }
    return "unknown error";
}

const char *cme_err_name(int err)
{
    switch (err) {
    case CME_OK: return "CME_OK";
#define CME_ERR_NAME_(name, value, msg) \
    case CME_##name: return "CME_" #name;
        CME_ERRNO_MAP(CME_ERR_NAME_)
#undef CME_ERR_NAME_
    }
    return "CME_EUNKNOWN";
}

const char *cme_version(void)
{
    return CME_VERSION_STRING;
}
