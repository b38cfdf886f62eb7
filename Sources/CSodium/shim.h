#ifndef SWTORRENT_CSODIUM_SHIM_H
#define SWTORRENT_CSODIUM_SHIM_H
#include <sodium.h>
#endif
