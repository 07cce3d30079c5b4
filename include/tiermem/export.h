/* tiermem/export.h: TIERMEM_API, the mark of every class and function of the public API.
 *
 * The library is compiled with -fvisibility=hidden, so that libtiermem.so exports only what
 * is marked here and its internals (tiermem::detail, io, policies, ...) stay private to it.
 * The same mark serves the static library: hidden symbols link within a program all the same.
 * C and C++ headers both include this one.
 */
#ifndef TIERMEM_EXPORT_H
#define TIERMEM_EXPORT_H

#define TIERMEM_API __attribute__((visibility("default")))
/* Members of an exported class that only the library calls (private helpers, constructors from
 * internal types): hidden, so that they are no part of its ABI. */
#define TIERMEM_INTERNAL __attribute__((visibility("hidden")))

#endif /* TIERMEM_EXPORT_H */
