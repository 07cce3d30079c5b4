// tiermem/jemalloc_private.cpp: the translation unit of libtiermem_jemalloc.so.
//
// That library is jemalloc's static archive wrapped as a shared object whose version script
// (jemalloc_private.map) exports only mallocx, dallocx and mallctl. Linked this way, jemalloc
// serves LockedBuffer's private arena (tiermem/locked_buffer.cpp) while the application's
// malloc, free and operator new, and libtiermem.so's own, stay those of the C library.
