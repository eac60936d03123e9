/* CPrefetch is header-only (include/cprefetch.h); this file gives the target a source. */
#include "cprefetch.h"
