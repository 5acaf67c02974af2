#ifndef DXCP_CLMDB_SHIM_H
#define DXCP_CLMDB_SHIM_H
#include <errno.h>
#include <lmdb.h>
#endif
