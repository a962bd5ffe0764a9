#ifndef FCSTORE_COPENBLAS_H
#define FCSTORE_COPENBLAS_H
/* Placeholder: the engine issue fills in the dlopen seam over OpenBLAS. */
int fcstore_blas_placeholder(void);
#endif
