#ifndef DXCP_CCURL_SHIM_H
#define DXCP_CCURL_SHIM_H
#include <curl/curl.h>
#endif
