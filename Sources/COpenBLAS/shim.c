#include "COpenBLAS.h"
int fcstore_blas_placeholder(void) { return 0; }
